-- The district's classes (sections) as its OneRoster 1.2 REST service sends them: one row per live
-- class, with its course, school, terms, grades and subjects.
--
-- Read from raw.oneroster_rest_classes, where each record is kept as JSON exactly as received.
-- Columns are named as in the CSV staging (stg_oneroster__classes) so the two can be unioned by
-- name. One row per live record: a record the service marked `tobedeleted` stays in raw, with its
-- status, but is left out here, as the CSV staging leaves out tombstoned rows. A value that does
-- not parse as its type becomes NULL here; raw keeps it as sent.
--
-- sourced_id: the class's sourcedId
-- date_last_modified: when the service last changed the record
-- title: the class's name
-- grades: the grade levels the class serves
-- course_sourced_id: the sourcedId of the class's course
-- class_code: the district's code for the class
-- class_type: homeroom, scheduled or an ext: value
-- location: where the class meets
-- school_sourced_id: the sourcedId of the school that runs the class
-- term_sourced_ids: the academic sessions the class runs in
-- subjects: the class's subjects, in words
-- subject_codes: the subjects' codes, in the order of subjects
-- periods: the periods of the day in which the class meets
-- metadata: the record's extension fields (`metadata`) as JSON
-- _source: the source's name in pathways.yaml
-- _batch_id: the sync that last changed the row
-- _loaded_at: when the row last changed
-- _oneroster_version: the OneRoster version of the service (always 1.2: the v1p2 endpoints)

SELECT
    _record ->> '$.sourcedId' AS sourced_id,
    TRY_CAST(_record ->> '$.dateLastModified' AS TIMESTAMPTZ) AS date_last_modified,
    _record ->> '$.title' AS title,
    json_extract_string(_record, '$.grades[*]') AS grades,
    _record ->> '$.course.sourcedId' AS course_sourced_id,
    _record ->> '$.classCode' AS class_code,
    _record ->> '$.classType' AS class_type,
    _record ->> '$.location' AS location,
    _record ->> '$.school.sourcedId' AS school_sourced_id,
    json_extract_string(_record, '$.terms[*].sourcedId') AS term_sourced_ids,
    json_extract_string(_record, '$.subjects[*]') AS subjects,
    json_extract_string(_record, '$.subjectCodes[*]') AS subject_codes,
    json_extract_string(_record, '$.periods[*]') AS periods,
    _record -> '$.metadata' AS metadata,
    _source,
    _batch_id,
    _loaded_at,
    '1.2' AS _oneroster_version
FROM raw.oneroster_rest_classes
-- Live rows only: the service marks a deleted record `tobedeleted` (raw keeps it).
WHERE coalesce(_record ->> '$.status', 'active') = 'active'
