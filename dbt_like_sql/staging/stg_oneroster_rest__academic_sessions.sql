-- The district's calendar as its OneRoster 1.2 REST service sends it: one row per live school year,
-- semester, term or grading period, with its dates and the school year it belongs to.
--
-- Read from raw.oneroster_rest_academic_sessions, where each record is kept as JSON exactly as
-- received. Columns are named as in the CSV staging (stg_oneroster__academic_sessions) so the two
-- can be unioned by name. One row per live record: a record the service marked `tobedeleted` stays
-- in raw, with its status, but is left out here, as the CSV staging leaves out tombstoned rows. A
-- value that does not parse as its type becomes NULL here; raw keeps it as sent.
--
-- sourced_id: the session's sourcedId
-- date_last_modified: when the service last changed the record
-- title: the session's name, e.g. Fall 2026
-- type: schoolYear, semester, term or gradingPeriod
-- start_date: the first day of the session
-- end_date: exclusive, as the spec defines it
-- parent_sourced_id: the sourcedId of the session this one is part of
-- school_year: the year in which the school year ends (2025 for 2024-25)
-- metadata: the record's extension fields (`metadata`) as JSON
-- _source: the source's name in pathways.yaml
-- _batch_id: the sync that last changed the row
-- _loaded_at: when the row last changed
-- _oneroster_version: the OneRoster version of the service (always 1.2: the v1p2 endpoints)

SELECT
    _record ->> '$.sourcedId' AS sourced_id,
    TRY_CAST(_record ->> '$.dateLastModified' AS TIMESTAMPTZ) AS date_last_modified,
    _record ->> '$.title' AS title,
    _record ->> '$.type' AS type,
    TRY_CAST(_record ->> '$.startDate' AS DATE) AS start_date,
    TRY_CAST(_record ->> '$.endDate' AS DATE) AS end_date,
    _record ->> '$.parent.sourcedId' AS parent_sourced_id,
    TRY_CAST(_record ->> '$.schoolYear' AS INTEGER) AS school_year,
    _record -> '$.metadata' AS metadata,
    _source,
    _batch_id,
    _loaded_at,
    '1.2' AS _oneroster_version
FROM raw.oneroster_rest_academic_sessions
-- Live rows only: the service marks a deleted record `tobedeleted` (raw keeps it).
WHERE coalesce(_record ->> '$.status', 'active') = 'active'
