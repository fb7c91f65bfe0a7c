-- The roles each person holds at each school or district org, whichever OneRoster version the
-- SIS exports: one row per live user x org x role. OneRoster 1.2 sends them in roles.csv; 1.1
-- puts one role on the user row (users.role) for every org in users.orgSourcedIds, and those
-- become primary roles here. Read by core.learners to decide who is a student and where; staff
-- and guardians are here too.
--
-- A user's own row wins: when it carries a 1.1 role, that role is used and any roles.csv rows
-- for the user (a stale 1.2 snapshot) are ignored. Role dates are kept, not applied, so a
-- rebuild of the same night gives the same table whatever day it runs.
--
-- role_sourced_id: the roles.csv sourcedId; NULL for a role derived from a 1.1 user row
-- role: the spec's role value (student, teacher, guardian, ...; 1.1 'administrator' is kept as is)
-- role_type: primary or secondary; every 1.1 role is primary
-- role_origin: 'roles' (OneRoster 1.2 roles.csv) or 'users_1p1' (OneRoster 1.1 users.role)

WITH roles_1p2 AS (
    SELECT
        r.user_sourced_id,
        r.org_sourced_id,
        r.role,
        r.role_type,
        r.begin_date,
        r.end_date,
        r.sourced_id AS role_sourced_id,
        'roles' AS role_origin
    FROM staging.stg_oneroster__roles AS r
    INNER JOIN staging.stg_oneroster__users AS u ON u.sourced_id = r.user_sourced_id
    WHERE u.role_1p1 IS NULL
),

roles_1p1 AS (
    SELECT DISTINCT
        u.sourced_id AS user_sourced_id,
        unnest(u.org_sourced_ids) AS org_sourced_id,
        u.role_1p1 AS role,
        'primary' AS role_type,
        CAST(NULL AS DATE) AS begin_date,
        CAST(NULL AS DATE) AS end_date,
        CAST(NULL AS VARCHAR) AS role_sourced_id,
        'users_1p1' AS role_origin
    FROM staging.stg_oneroster__users AS u
    WHERE u.role_1p1 IS NOT NULL
)

SELECT * FROM roles_1p2
UNION ALL
SELECT * FROM roles_1p1
