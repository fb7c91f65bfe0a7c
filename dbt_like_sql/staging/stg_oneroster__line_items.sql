-- The gradebook's assignments and assessments: one row per line item, with its class, category,
-- grading period and score range.
--
-- One row per live record; tombstoned rows of a delta load are gone. Columns are the spec's,
-- renamed to snake_case and typed (lists as VARCHAR[], booleans, dates); `metadata` keeps the
-- file's extension columns as JSON and the `_` columns say which file, line and load each row
-- came from.
--
-- academic_session_sourced_id: academicSessionSourcedId (1.2) or gradingPeriodSourcedId (1.1)
-- result_value_max: the highest score a result can take; used to judge mastery

SELECT
    "sourcedId" AS sourced_id,
    CAST("dateLastModified" AS TIMESTAMPTZ) AS date_last_modified,
    "title",
    "description",
    CAST("assignDate" AS DATE) AS assign_date,
    CAST("dueDate" AS DATE) AS due_date,
    "classSourcedId" AS class_sourced_id,
    "categorySourcedId" AS category_sourced_id,
    -- 1.2 renamed the 1.1 gradingPeriodSourcedId; either version lands in one column.
    coalesce(
        "academicSessionSourcedId", "gradingPeriodSourcedId"
    ) AS academic_session_sourced_id,
    CAST("resultValueMin" AS DOUBLE) AS result_value_min,
    CAST("resultValueMax" AS DOUBLE) AS result_value_max,
    "schoolSourcedId" AS school_sourced_id,
    metadata,
    _source,
    _file,
    _line,
    _batch_id,
    _loaded_at,
    _oneroster_version
FROM raw.oneroster_line_items
-- Live rows only: a delta load marks a deleted record `tobedeleted`; bulk rows have no status.
WHERE coalesce("status", 'active') = 'active'
