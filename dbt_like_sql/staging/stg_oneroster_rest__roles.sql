-- The roles each user holds at each org, as the OneRoster 1.2 REST service lists them inside the
-- user record: one row per live user x org x role, primary or secondary.
--
-- Read from raw.oneroster_rest_users, where each record is kept as JSON exactly as received.
-- Columns are named as in the CSV staging (stg_oneroster__roles) so the two can be unioned by name.
-- One row per role of a live user: a record the service marked `tobedeleted` stays in raw, with its
-- status, but is left out here, as the CSV staging leaves out tombstoned rows. A value that does
-- not parse as its type becomes NULL here; raw keeps it as sent. Roles carry no sourcedId of their
-- own in the REST binding, so there is no sourced_id.
--
-- user_sourced_id: the sourcedId of the user
-- date_last_modified: when the service last changed the user record the role is part of
-- role_type: primary or secondary; at most one primary role per user per org
-- role: student, teacher, guardian, administrator, aide or another OneRoster role
-- begin_date: the first day the user holds the role
-- end_date: exclusive, as the spec defines it
-- org_sourced_id: the sourcedId of the org of the role
-- user_profile_sourced_id: the profile (account in another system) the role uses
-- _source: the source's name in pathways.yaml
-- _batch_id: the sync that last changed the user record
-- _loaded_at: when the user record last changed
-- _oneroster_version: the OneRoster version of the service (always 1.2: the v1p2 endpoints)

SELECT
    u._record ->> '$.sourcedId' AS user_sourced_id,
    TRY_CAST(u._record ->> '$.dateLastModified' AS TIMESTAMPTZ) AS date_last_modified,
    r.role ->> '$.roleType' AS role_type,
    r.role ->> '$.role' AS role,
    TRY_CAST(r.role ->> '$.beginDate' AS DATE) AS begin_date,
    TRY_CAST(r.role ->> '$.endDate' AS DATE) AS end_date,
    r.role ->> '$.org.sourcedId' AS org_sourced_id,
    r.role ->> '$.userProfile' AS user_profile_sourced_id,
    u._source,
    u._batch_id,
    u._loaded_at,
    '1.2' AS _oneroster_version
FROM raw.oneroster_rest_users AS u,
    unnest(TRY_CAST(u._record -> '$.roles' AS JSON [])) AS r (role)
-- Live users only: the service marks a deleted user `tobedeleted` (raw keeps it).
WHERE coalesce(u._record ->> '$.status', 'active') = 'active'
