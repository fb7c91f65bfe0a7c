-- Which learning objectives (competencies) each gradebook line item assesses: one row per line
-- item x objective. A line item listed here makes its class competency-based.
--
-- One row per live record; tombstoned rows of a delta load are gone. Columns are the spec's,
-- renamed to snake_case and typed (lists as VARCHAR[], booleans, dates); `metadata` keeps the
-- file's extension columns as JSON and the `_` columns say which file, line and load each row
-- came from.
--
-- source: where the objective is defined: 'case' (a CASE item URN), 'unknown', or an ext: value
-- learning_objective_id: the objective's identifier in that source

SELECT
    "sourcedId" AS sourced_id,
    CAST("dateLastModified" AS TIMESTAMPTZ) AS date_last_modified,
    "lineItemSourcedId" AS line_item_sourced_id,
    "source",
    "learningObjectiveId" AS learning_objective_id,
    metadata,
    _source,
    _file,
    _line,
    _batch_id,
    _loaded_at,
    _oneroster_version
FROM raw.oneroster_line_item_learning_objective_ids
-- Live rows only: a delta load marks a deleted record `tobedeleted`; bulk rows have no status.
WHERE coalesce("status", 'active') = 'active'
