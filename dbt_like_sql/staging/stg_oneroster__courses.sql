-- The district's course catalogue: one row per course, with its code, grades, subjects and the
-- org that offers it.
--
-- One row per live record; tombstoned rows of a delta load are gone. Columns are the spec's,
-- renamed to snake_case and typed (lists as VARCHAR[], booleans, dates); `metadata` keeps the
-- file's extension columns as JSON and the `_` columns say which file, line and load each row
-- came from.

SELECT
    "sourcedId" AS sourced_id,
    CAST("dateLastModified" AS TIMESTAMPTZ) AS date_last_modified,
    "schoolYearSourcedId" AS school_year_sourced_id,
    "title",
    "courseCode" AS course_code,
    [trim(x) FOR x IN string_split("grades", ',') IF trim(x) <> ''] AS grades,
    "orgSourcedId" AS org_sourced_id,
    [trim(x) FOR x IN string_split("subjects", ',') IF trim(x) <> ''] AS subjects,
    [trim(x) FOR x IN string_split("subjectCodes", ',') IF trim(x) <> ''] AS subject_codes,
    metadata,
    _source,
    _file,
    _line,
    _batch_id,
    _loaded_at,
    _oneroster_version
FROM raw.oneroster_courses
-- Live rows only: a delta load marks a deleted record `tobedeleted`; bulk rows have no status.
WHERE coalesce("status", 'active') = 'active'
