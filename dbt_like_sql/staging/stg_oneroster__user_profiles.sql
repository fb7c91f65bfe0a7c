-- Users' accounts in other systems (OneRoster 1.2): one row per profile, with its vendor and
-- username. The password column is not carried into the warehouse.
--
-- One row per live record; tombstoned rows of a delta load are gone. Columns are the spec's,
-- renamed to snake_case and typed (lists as VARCHAR[], booleans, dates); `metadata` keeps the
-- file's extension columns as JSON and the `_` columns say which file, line and load each row
-- came from.

SELECT
    "sourcedId" AS sourced_id,
    CAST("dateLastModified" AS TIMESTAMPTZ) AS date_last_modified,
    "userSourcedId" AS user_sourced_id,
    "profileType" AS profile_type,
    "vendorId" AS vendor_id,
    "applicationId" AS application_id,
    "description",
    "credentialType" AS credential_type,
    "username",
    metadata,
    _source,
    _file,
    _line,
    _batch_id,
    _loaded_at,
    _oneroster_version
FROM raw.oneroster_user_profiles
-- Live rows only: a delta load marks a deleted record `tobedeleted`; bulk rows have no status.
WHERE coalesce("status", 'active') = 'active'
