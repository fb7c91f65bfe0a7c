-- Learners' gradebook results: one row per learner x line item, with score, status and date.
-- Read by core.competency_results.
--
-- One row per live record; tombstoned rows of a delta load are gone. Columns are the spec's,
-- renamed to snake_case and typed (lists as VARCHAR[], booleans, dates); `metadata` keeps the
-- file's extension columns as JSON and the `_` columns say which file, line and load each row
-- came from.
--
-- score_status: exempt, fully graded, not submitted, partially graded, submitted or an ext: value

SELECT
    "sourcedId" AS sourced_id,
    CAST("dateLastModified" AS TIMESTAMPTZ) AS date_last_modified,
    "lineItemSourcedId" AS line_item_sourced_id,
    "studentSourcedId" AS student_sourced_id,
    "scoreStatus" AS score_status,
    CAST("score" AS DOUBLE) AS score,
    CAST("scoreDate" AS DATE) AS score_date,
    "comment",
    "textScore" AS text_score,
    "classSourcedId" AS class_sourced_id,
    CAST("inProgress" AS BOOLEAN) AS in_progress,
    CAST("incomplete" AS BOOLEAN) AS incomplete,
    CAST("late" AS BOOLEAN) AS late,
    CAST("missing" AS BOOLEAN) AS missing,
    metadata,
    _source,
    _file,
    _line,
    _batch_id,
    _loaded_at,
    _oneroster_version
FROM raw.oneroster_results
-- Live rows only: a delta load marks a deleted record `tobedeleted`; bulk rows have no status.
WHERE coalesce("status", 'active') = 'active'
