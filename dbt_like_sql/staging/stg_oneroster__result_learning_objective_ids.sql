-- A learner's score on one learning objective within one gradebook result: one row per result x
-- objective. The most precise competency evidence the SIS sends.
--
-- One row per live record; tombstoned rows of a delta load are gone. Columns are the spec's,
-- renamed to snake_case and typed (lists as VARCHAR[], booleans, dates); `metadata` keeps the
-- file's extension columns as JSON and the `_` columns say which file, line and load each row
-- came from.
--
-- score: the score on this objective
-- text_score: a non-numeric score (e.g. 'Proficient')

SELECT
    "sourcedId" AS sourced_id,
    CAST("dateLastModified" AS TIMESTAMPTZ) AS date_last_modified,
    "resultSourcedId" AS result_sourced_id,
    "source",
    "learningObjectiveId" AS learning_objective_id,
    CAST("score" AS DOUBLE) AS score,
    "textScore" AS text_score,
    metadata,
    _source,
    _file,
    _line,
    _batch_id,
    _loaded_at,
    _oneroster_version
FROM raw.oneroster_result_learning_objective_ids
-- Live rows only: a delta load marks a deleted record `tobedeleted`; bulk rows have no status.
WHERE coalesce("status", 'active') = 'active'
