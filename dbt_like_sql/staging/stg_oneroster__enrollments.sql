-- Who is in which class in which role: one row per enrollment as the SIS sends it (students,
-- teachers, aides, proctors, administrators). Read by core.enrollments.
--
-- One row per live record; tombstoned rows of a delta load are gone. Columns are the spec's,
-- renamed to snake_case and typed (lists as VARCHAR[], booleans, dates); `metadata` keeps the
-- file's extension columns as JSON and the `_` columns say which file, line and load each row
-- came from.
--
-- is_primary: the spec's `primary`: the class's primary teacher (set for teachers only)
-- end_date: exclusive, as the spec defines it

SELECT
    "sourcedId" AS sourced_id,
    CAST("dateLastModified" AS TIMESTAMPTZ) AS date_last_modified,
    "classSourcedId" AS class_sourced_id,
    "schoolSourcedId" AS school_sourced_id,
    "userSourcedId" AS user_sourced_id,
    "role",
    CAST("primary" AS BOOLEAN) AS is_primary,
    CAST("beginDate" AS DATE) AS begin_date,
    CAST("endDate" AS DATE) AS end_date,
    metadata,
    _source,
    _file,
    _line,
    _batch_id,
    _loaded_at,
    _oneroster_version
FROM raw.oneroster_enrollments
-- Live rows only: a delta load marks a deleted record `tobedeleted`; bulk rows have no status.
WHERE coalesce("status", 'active') = 'active'
