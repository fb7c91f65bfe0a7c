-- The gradebook's assignments and assessments, as the OneRoster 1.2 REST service of the district
-- sends them: one row per live line item, with its class, category, grading period, score scale and
-- score range. The objectives a line item assesses are in
-- stg_oneroster_rest__line_item_learning_objectives.
--
-- Read from raw.oneroster_rest_line_items, where each record is kept as JSON exactly as received.
-- Columns are named as in the CSV staging (stg_oneroster__line_items) so the two can be unioned by
-- name. One row per live record: a record the service marked `tobedeleted` stays in raw, with its
-- status, but is left out here, as the CSV staging leaves out tombstoned rows. A value that does
-- not parse as its type becomes NULL here; raw keeps it as sent.
--
-- sourced_id: the line item's sourcedId
-- date_last_modified: when the service last changed the record
-- title: the line item's name
-- description: what the line item is
-- assign_date: the day it was assigned (the date part as sent)
-- due_date: the day it is due (the date part as sent)
-- class_sourced_id: the sourcedId of the class
-- category_sourced_id: the sourcedId of the line item's category
-- academic_session_sourced_id: its session: academicSession (1.2) or gradingPeriod (1.1)
-- result_value_min: the lowest score a result can take
-- result_value_max: the highest score a result can take; used to judge mastery
-- school_sourced_id: the sourcedId of the school
-- score_scale_sourced_id: the sourcedId of its score scale (CSV: in lineItemScoreScales)
-- metadata: the record's extension fields (`metadata`) as JSON
-- _source: the source's name in pathways.yaml
-- _batch_id: the sync that last changed the row
-- _loaded_at: when the row last changed
-- _oneroster_version: the OneRoster version of the service (always 1.2: the v1p2 endpoints)

SELECT
    _record ->> '$.sourcedId' AS sourced_id,
    TRY_CAST(_record ->> '$.dateLastModified' AS TIMESTAMPTZ) AS date_last_modified,
    _record ->> '$.title' AS title,
    _record ->> '$.description' AS description,
    -- 1.2 REST sends assignDate and dueDate as DateTimes; the CSV binding as dates.
    TRY_CAST(left(_record ->> '$.assignDate', 10) AS DATE) AS assign_date,
    TRY_CAST(left(_record ->> '$.dueDate', 10) AS DATE) AS due_date,
    _record ->> '$.class.sourcedId' AS class_sourced_id,
    _record ->> '$.category.sourcedId' AS category_sourced_id,
    coalesce(_record ->> '$.academicSession.sourcedId', _record ->> '$.gradingPeriod.sourcedId')
        AS academic_session_sourced_id,
    TRY_CAST(_record ->> '$.resultValueMin' AS DOUBLE) AS result_value_min,
    TRY_CAST(_record ->> '$.resultValueMax' AS DOUBLE) AS result_value_max,
    _record ->> '$.school.sourcedId' AS school_sourced_id,
    _record ->> '$.scoreScale.sourcedId' AS score_scale_sourced_id,
    _record -> '$.metadata' AS metadata,
    _source,
    _batch_id,
    _loaded_at,
    '1.2' AS _oneroster_version
FROM raw.oneroster_rest_line_items
-- Live rows only: the service marks a deleted record `tobedeleted` (raw keeps it).
WHERE coalesce(_record ->> '$.status', 'active') = 'active'
