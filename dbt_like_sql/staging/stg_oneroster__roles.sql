-- The roles each user holds at each org (OneRoster 1.2): one row per user x org x role, primary
-- or secondary. A 1.1 export has no roles file; core.user_roles derives the same rows from
-- users.role and users.orgSourcedIds.
--
-- One row per live record; tombstoned rows of a delta load are gone. Columns are the spec's,
-- renamed to snake_case and typed (lists as VARCHAR[], booleans, dates); `metadata` keeps the
-- file's extension columns as JSON and the `_` columns say which file, line and load each row
-- came from.
--
-- role_type: primary or secondary; at most one primary role per user per org

SELECT
    "sourcedId" AS sourced_id,
    CAST("dateLastModified" AS TIMESTAMPTZ) AS date_last_modified,
    "userSourcedId" AS user_sourced_id,
    "roleType" AS role_type,
    "role",
    CAST("beginDate" AS DATE) AS begin_date,
    CAST("endDate" AS DATE) AS end_date,
    "orgSourcedId" AS org_sourced_id,
    "userProfileSourcedId" AS user_profile_sourced_id,
    metadata,
    _source,
    _file,
    _line,
    _batch_id,
    _loaded_at,
    _oneroster_version
FROM raw.oneroster_roles
-- Live rows only: a delta load marks a deleted record `tobedeleted`; bulk rows have no status.
WHERE coalesce("status", 'active') = 'active'
