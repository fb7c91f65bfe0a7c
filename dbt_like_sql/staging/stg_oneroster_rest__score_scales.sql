-- The score scales (rubrics, mastery levels, letter grades) the district's OneRoster 1.2 REST
-- service grades with: one row per live scale, with its values.
--
-- Read from raw.oneroster_rest_score_scales, where each record is kept as JSON exactly as received.
-- Columns are named as in the CSV staging (stg_oneroster__score_scales) so the two can be unioned
-- by name. One row per live record: a record the service marked `tobedeleted` stays in raw, with
-- its status, but is left out here, as the CSV staging leaves out tombstoned rows. A value that
-- does not parse as its type becomes NULL here; raw keeps it as sent.
--
-- sourced_id: the scale's sourcedId
-- date_last_modified: when the service last changed the record
-- title: the scale's name
-- type: the kind of scale, e.g. competency or letter grade
-- org_sourced_id: the sourcedId of the org the scale belongs to, if sent
-- course_sourced_id: the sourcedId of the course the scale is for, if any
-- class_sourced_id: the sourcedId of the class the scale is for, if any
-- score_scale_value: the scale's values as {score:label} items, as in the CSV binding
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
    _record ->> '$.org.sourcedId' AS org_sourced_id,
    _record ->> '$.course.sourcedId' AS course_sourced_id,
    _record ->> '$.class.sourcedId' AS class_sourced_id,
    [
        '{' || (v ->> '$.itemValueLHS') || ':' || (v ->> '$.itemValueRHS') || '}'
        FOR v IN coalesce(TRY_CAST(_record -> '$.scoreScaleValue' AS JSON []), [])
    ]
        AS score_scale_value,
    _record -> '$.metadata' AS metadata,
    _source,
    _batch_id,
    _loaded_at,
    '1.2' AS _oneroster_version
FROM raw.oneroster_rest_score_scales
-- Live rows only: the service marks a deleted record `tobedeleted` (raw keeps it).
WHERE coalesce(_record ->> '$.status', 'active') = 'active'
