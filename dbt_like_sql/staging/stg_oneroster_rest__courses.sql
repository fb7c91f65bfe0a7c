-- The district's course catalogue as its OneRoster 1.2 REST service sends it: one row per live
-- course, with its code, grades, subjects, school year and the org that offers it.
--
-- Read from raw.oneroster_rest_courses, where each record is kept as JSON exactly as received.
-- Columns are named as in the CSV staging (stg_oneroster__courses) so the two can be unioned by
-- name. One row per live record: a record the service marked `tobedeleted` stays in raw, with its
-- status, but is left out here, as the CSV staging leaves out tombstoned rows. A value that does
-- not parse as its type becomes NULL here; raw keeps it as sent.
--
-- sourced_id: the course's sourcedId
-- date_last_modified: when the service last changed the record
-- school_year_sourced_id: the sourcedId of the course's school year
-- title: the course's name
-- course_code: the district's code for the course
-- grades: the grade levels the course serves
-- org_sourced_id: the sourcedId of the org (district or school) offering it
-- subjects: the course's subjects, in words
-- subject_codes: the subjects' codes, in the order of subjects
-- metadata: the record's extension fields (`metadata`) as JSON
-- _source: the source's name in pathways.yaml
-- _batch_id: the sync that last changed the row
-- _loaded_at: when the row last changed
-- _oneroster_version: the OneRoster version of the service (always 1.2: the v1p2 endpoints)

SELECT
    _record ->> '$.sourcedId' AS sourced_id,
    TRY_CAST(_record ->> '$.dateLastModified' AS TIMESTAMPTZ) AS date_last_modified,
    _record ->> '$.schoolYear.sourcedId' AS school_year_sourced_id,
    _record ->> '$.title' AS title,
    _record ->> '$.courseCode' AS course_code,
    json_extract_string(_record, '$.grades[*]') AS grades,
    _record ->> '$.org.sourcedId' AS org_sourced_id,
    json_extract_string(_record, '$.subjects[*]') AS subjects,
    json_extract_string(_record, '$.subjectCodes[*]') AS subject_codes,
    _record -> '$.metadata' AS metadata,
    _source,
    _batch_id,
    _loaded_at,
    '1.2' AS _oneroster_version
FROM raw.oneroster_rest_courses
-- Live rows only: the service marks a deleted record `tobedeleted` (raw keeps it).
WHERE coalesce(_record ->> '$.status', 'active') = 'active'
