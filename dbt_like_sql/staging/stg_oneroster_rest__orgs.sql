-- The district's organisations as its OneRoster 1.2 REST service sends them: one row per live
-- district, school, department or other org, with its type and parent.
--
-- Read from raw.oneroster_rest_orgs, where each record is kept as JSON exactly as received. Columns
-- are named as in the CSV staging (stg_oneroster__orgs) so the two can be unioned by name. One row
-- per live record: a record the service marked `tobedeleted` stays in raw, with its status, but is
-- left out here, as the CSV staging leaves out tombstoned rows. A value that does not parse as its
-- type becomes NULL here; raw keeps it as sent.
--
-- sourced_id: the org's sourcedId
-- date_last_modified: when the service last changed the record
-- name: the org's name
-- type: district, school, department, local, state, national or an ext: value
-- identifier: the org's human-readable identifier (e.g. a state school number)
-- parent_sourced_id: the sourcedId of the org above this one
-- metadata: the record's extension fields (`metadata`) as JSON
-- _source: the source's name in pathways.yaml
-- _batch_id: the sync that last changed the row
-- _loaded_at: when the row last changed
-- _oneroster_version: the OneRoster version of the service (always 1.2: the v1p2 endpoints)

SELECT
    _record ->> '$.sourcedId' AS sourced_id,
    TRY_CAST(_record ->> '$.dateLastModified' AS TIMESTAMPTZ) AS date_last_modified,
    _record ->> '$.name' AS name,
    _record ->> '$.type' AS type,
    _record ->> '$.identifier' AS identifier,
    _record ->> '$.parent.sourcedId' AS parent_sourced_id,
    _record -> '$.metadata' AS metadata,
    _source,
    _batch_id,
    _loaded_at,
    '1.2' AS _oneroster_version
FROM raw.oneroster_rest_orgs
-- Live rows only: the service marks a deleted record `tobedeleted` (raw keeps it).
WHERE coalesce(_record ->> '$.status', 'active') = 'active'
