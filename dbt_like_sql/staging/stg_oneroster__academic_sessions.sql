-- The district's calendar as the SIS sends it: one row per school year, semester, term or
-- grading period, with its dates and the school year it belongs to. Read by core models that
-- place classes and results in time.
--
-- One row per live record; tombstoned rows of a delta load are gone. Columns are the spec's,
-- renamed to snake_case and typed (lists as VARCHAR[], booleans, dates); `metadata` keeps the
-- file's extension columns as JSON and the `_` columns say which file, line and load each row
-- came from.
--
-- end_date: exclusive, as the spec defines it
-- school_year: the year in which the school year ends (2025 for 2024-25)

SELECT
    "sourcedId" AS sourced_id,
    CAST("dateLastModified" AS TIMESTAMPTZ) AS date_last_modified,
    "title",
    "type",
    CAST("startDate" AS DATE) AS start_date,
    CAST("endDate" AS DATE) AS end_date,
    "parentSourcedId" AS parent_sourced_id,
    CAST("schoolYear" AS INTEGER) AS school_year,
    metadata,
    _source,
    _file,
    _line,
    _batch_id,
    _loaded_at,
    _oneroster_version
FROM raw.oneroster_academic_sessions
-- Live rows only: a delta load marks a deleted record `tobedeleted`; bulk rows have no status.
WHERE coalesce("status", 'active') = 'active'
