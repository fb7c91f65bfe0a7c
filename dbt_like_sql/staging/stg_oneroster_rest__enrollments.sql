-- Who is in which class in which role, as the district's OneRoster 1.2 REST service sends it: one
-- row per live enrollment (students, teachers, aides, proctors, administrators). A dropped
-- enrollment arrives marked tobedeleted and is left out.
--
-- Read from raw.oneroster_rest_enrollments, where each record is kept as JSON exactly as received.
-- Columns are named as in the CSV staging (stg_oneroster__enrollments) so the two can be unioned by
-- name. One row per live record: a record the service marked `tobedeleted` stays in raw, with its
-- status, but is left out here, as the CSV staging leaves out tombstoned rows. A value that does
-- not parse as its type becomes NULL here; raw keeps it as sent.
--
-- sourced_id: the enrollment's sourcedId
-- date_last_modified: when the service last changed the record
-- class_sourced_id: the sourcedId of the class
-- school_sourced_id: the sourcedId of the class's school
-- user_sourced_id: the sourcedId of the person enrolled
-- role: student, teacher, aide, proctor, administrator or an ext: value
-- is_primary: the spec's `primary`: the class's primary teacher (set for teachers only)
-- begin_date: the first day of the enrollment
-- end_date: exclusive, as the spec defines it
-- metadata: the record's extension fields (`metadata`) as JSON
-- _source: the source's name in pathways.yaml
-- _batch_id: the sync that last changed the row
-- _loaded_at: when the row last changed
-- _oneroster_version: the OneRoster version of the service (always 1.2: the v1p2 endpoints)

SELECT
    _record ->> '$.sourcedId' AS sourced_id,
    TRY_CAST(_record ->> '$.dateLastModified' AS TIMESTAMPTZ) AS date_last_modified,
    _record ->> '$.class.sourcedId' AS class_sourced_id,
    _record ->> '$.school.sourcedId' AS school_sourced_id,
    _record ->> '$.user.sourcedId' AS user_sourced_id,
    _record ->> '$.role' AS role,
    TRY_CAST(_record ->> '$.primary' AS BOOLEAN) AS is_primary,
    TRY_CAST(_record ->> '$.beginDate' AS DATE) AS begin_date,
    TRY_CAST(_record ->> '$.endDate' AS DATE) AS end_date,
    _record -> '$.metadata' AS metadata,
    _source,
    _batch_id,
    _loaded_at,
    '1.2' AS _oneroster_version
FROM raw.oneroster_rest_enrollments
-- Live rows only: the service marks a deleted record `tobedeleted` (raw keeps it).
WHERE coalesce(_record ->> '$.status', 'active') = 'active'
