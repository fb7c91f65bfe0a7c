-- Learners' gradebook results as the district's OneRoster 1.2 REST service sends them: one row per
-- live result (learner x line item), with score, status and date. The per-objective scores are in
-- stg_oneroster_rest__result_learning_objectives.
--
-- Read from raw.oneroster_rest_results, where each record is kept as JSON exactly as received.
-- Columns are named as in the CSV staging (stg_oneroster__results) so the two can be unioned by
-- name. One row per live record: a record the service marked `tobedeleted` stays in raw, with its
-- status, but is left out here, as the CSV staging leaves out tombstoned rows. A value that does
-- not parse as its type becomes NULL here; raw keeps it as sent.
--
-- sourced_id: the result's sourcedId
-- date_last_modified: when the service last changed the record
-- line_item_sourced_id: the sourcedId of the line item
-- student_sourced_id: the sourcedId of the learner
-- score_status: exempt, fully graded, not submitted, partially graded, submitted or an ext: value
-- score: the score on the line item
-- score_date: the day the score was given (the date part as sent)
-- comment: the grader's comment
-- text_score: a non-numeric score (e.g. 'Proficient')
-- class_sourced_id: the sourcedId of the class
-- in_progress: the learner is still working on it
-- incomplete: the work is incomplete
-- late: the work came in late
-- missing: the work is missing
-- score_scale_sourced_id: the sourcedId of its score scale (CSV: in resultScoreScales)
-- metadata: the record's extension fields (`metadata`) as JSON
-- _source: the source's name in pathways.yaml
-- _batch_id: the sync that last changed the row
-- _loaded_at: when the row last changed
-- _oneroster_version: the OneRoster version of the service (always 1.2: the v1p2 endpoints)

SELECT
    _record ->> '$.sourcedId' AS sourced_id,
    TRY_CAST(_record ->> '$.dateLastModified' AS TIMESTAMPTZ) AS date_last_modified,
    _record ->> '$.lineItem.sourcedId' AS line_item_sourced_id,
    _record ->> '$.student.sourcedId' AS student_sourced_id,
    _record ->> '$.scoreStatus' AS score_status,
    TRY_CAST(_record ->> '$.score' AS DOUBLE) AS score,
    TRY_CAST(left(_record ->> '$.scoreDate', 10) AS DATE) AS score_date,
    _record ->> '$.comment' AS comment,
    _record ->> '$.textScore' AS text_score,
    _record ->> '$.class.sourcedId' AS class_sourced_id,
    TRY_CAST(_record ->> '$.inProgress' AS BOOLEAN) AS in_progress,
    TRY_CAST(_record ->> '$.incomplete' AS BOOLEAN) AS incomplete,
    TRY_CAST(_record ->> '$.late' AS BOOLEAN) AS late,
    TRY_CAST(_record ->> '$.missing' AS BOOLEAN) AS missing,
    _record ->> '$.scoreScale.sourcedId' AS score_scale_sourced_id,
    _record -> '$.metadata' AS metadata,
    _source,
    _batch_id,
    _loaded_at,
    '1.2' AS _oneroster_version
FROM raw.oneroster_rest_results
-- Live rows only: the service marks a deleted record `tobedeleted` (raw keeps it).
WHERE coalesce(_record ->> '$.status', 'active') = 'active'
