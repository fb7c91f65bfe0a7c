-- The learner crosswalk between every connected LMS and the SIS: one row per LMS account, with
-- the SIS person it belongs to; every other LMS model joins through it. Accounts that cannot be linked (guest and test accounts, people the SIS has never heard of) are kept,
-- with no SIS sourcedId, and counted in marts.lms_link_summary; they are never dropped.
--
-- A link is made, in this order, by the SIS id the LMS carries (Canvas sis_user_id, a OneRoster
-- service's own sourcedId), then by the sign-in name against the SIS username, then by an email
-- address against the SIS email (both compared trimmed and case-insensitively). A username or
-- email that two SIS users share links nobody: a guess could attach one learner's work to
-- another's record.
--
-- system: canvas or oneroster_rest, the kind of LMS
-- source: the LMS source's name in pathways.yaml
-- lms_user_id: the LMS's own id of the account
-- sis_sourced_id: the SIS sourcedId of the person; NULL when the account could not be linked
-- link_method: sis_id, username or email: how the link was made; NULL when unlinked
-- is_learner: the linked person is a live learner in core.learners
-- is_linked: the account was linked to a SIS user
-- is_ambiguous: unlinked because its username or email belongs to more than one SIS user (flagged, never guessed)

WITH sis_users AS (
    SELECT
        sourced_id,
        nullif(lower(trim(username)), '') AS username_key,
        nullif(lower(trim(email)), '') AS email_key
    FROM staging.stg_oneroster__users
),

unique_usernames AS (
    SELECT username_key, min(sourced_id) AS sourced_id
    FROM sis_users
    WHERE username_key IS NOT NULL
    GROUP BY username_key
    HAVING count(*) = 1
),

unique_emails AS (
    SELECT email_key, min(sourced_id) AS sourced_id
    FROM sis_users
    WHERE email_key IS NOT NULL
    GROUP BY email_key
    HAVING count(*) = 1
),

accounts AS (
    SELECT
        'canvas' AS system,
        _source AS source,
        CAST(id AS VARCHAR) AS lms_user_id,
        nullif(trim(sis_user_id), '') AS sis_id,
        nullif(lower(trim(username)), '') AS username_key,
        -- Canvas often signs people in with their email address as login_id.
        CASE WHEN username LIKE '%@%' THEN lower(trim(username)) END AS email_key
    FROM staging.stg_canvas__users
    UNION ALL
    SELECT
        'oneroster_rest' AS system,
        _source AS source,
        sourced_id AS lms_user_id,
        sourced_id AS sis_id,
        nullif(lower(trim(username)), '') AS username_key,
        nullif(lower(trim(email)), '') AS email_key
    FROM staging.stg_oneroster_rest__users
),

shared_keys AS (
    SELECT username_key AS key FROM sis_users WHERE username_key IS NOT NULL
    GROUP BY username_key HAVING count(*) > 1
    UNION
    SELECT email_key AS key FROM sis_users WHERE email_key IS NOT NULL
    GROUP BY email_key HAVING count(*) > 1
),

linked AS (
    SELECT
        a.system,
        a.source,
        a.lms_user_id,
        a.username_key,
        a.email_key,
        coalesce(by_id.sourced_id, by_username.sourced_id, by_email.sourced_id) AS sis_sourced_id,
        CASE
            WHEN by_id.sourced_id IS NOT NULL THEN 'sis_id'
            WHEN by_username.sourced_id IS NOT NULL THEN 'username'
            WHEN by_email.sourced_id IS NOT NULL THEN 'email'
        END AS link_method
    FROM accounts AS a
    LEFT JOIN sis_users AS by_id ON by_id.sourced_id = a.sis_id
    LEFT JOIN unique_usernames AS by_username ON by_username.username_key = a.username_key
    LEFT JOIN unique_emails AS by_email ON by_email.email_key = a.email_key
)

SELECT
    linked.system,
    linked.source,
    linked.lms_user_id,
    linked.sis_sourced_id,
    linked.link_method,
    l.learner_sourced_id IS NOT NULL AS is_learner,
    linked.sis_sourced_id IS NOT NULL AS is_linked,
    linked.sis_sourced_id IS NULL AND coalesce(
        linked.username_key IN (SELECT key FROM shared_keys)
        OR linked.email_key IN (SELECT key FROM shared_keys),
        FALSE
    ) AS is_ambiguous
FROM linked
LEFT JOIN core.learners AS l ON l.learner_sourced_id = linked.sis_sourced_id
