-- The digital resources (apps, content) the district assigns: one row per resource.
--
-- One row per live record; tombstoned rows of a delta load are gone. Columns are the spec's,
-- renamed to snake_case and typed (lists as VARCHAR[], booleans, dates); `metadata` keeps the
-- file's extension columns as JSON and the `_` columns say which file, line and load each row
-- came from.
--
-- roles: the roles the resource is meant for

SELECT
    "sourcedId" AS sourced_id,
    CAST("dateLastModified" AS TIMESTAMPTZ) AS date_last_modified,
    "vendorResourceId" AS vendor_resource_id,
    "title",
    [trim(x) FOR x IN string_split("roles", ',') IF trim(x) <> ''] AS roles,
    "importance",
    "vendorId" AS vendor_id,
    "applicationId" AS application_id,
    metadata,
    _source,
    _file,
    _line,
    _batch_id,
    _loaded_at,
    _oneroster_version
FROM raw.oneroster_resources
-- Live rows only: a delta load marks a deleted record `tobedeleted`; bulk rows have no status.
WHERE coalesce("status", 'active') = 'active'
