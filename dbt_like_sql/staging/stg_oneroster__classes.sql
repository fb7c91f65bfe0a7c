-- The district's classes (sections) as the SIS sends them: one row per class with its course,
-- school, terms, grades and subjects. Read by core.classes.
--
-- One row per live record; tombstoned rows of a delta load are gone. Columns are the spec's,
-- renamed to snake_case and typed (lists as VARCHAR[], booleans, dates); `metadata` keeps the
-- file's extension columns as JSON and the `_` columns say which file, line and load each row
-- came from.
--
-- term_sourced_ids: the academic sessions the class runs in
-- grades: the grade levels the class serves

SELECT
    "sourcedId" AS sourced_id,
    CAST("dateLastModified" AS TIMESTAMPTZ) AS date_last_modified,
    "title",
    [trim(x) FOR x IN string_split("grades", ',') IF trim(x) <> ''] AS grades,
    "courseSourcedId" AS course_sourced_id,
    "classCode" AS class_code,
    "classType" AS class_type,
    "location",
    "schoolSourcedId" AS school_sourced_id,
    [trim(x) FOR x IN string_split("termSourcedIds", ',') IF trim(x) <> ''] AS term_sourced_ids,
    [trim(x) FOR x IN string_split("subjects", ',') IF trim(x) <> ''] AS subjects,
    [trim(x) FOR x IN string_split("subjectCodes", ',') IF trim(x) <> ''] AS subject_codes,
    [trim(x) FOR x IN string_split("periods", ',') IF trim(x) <> ''] AS periods,
    metadata,
    _source,
    _file,
    _line,
    _batch_id,
    _loaded_at,
    _oneroster_version
FROM raw.oneroster_classes
-- Live rows only: a delta load marks a deleted record `tobedeleted`; bulk rows have no status.
WHERE coalesce("status", 'active') = 'active'
