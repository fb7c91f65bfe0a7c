-- Every external identity any connector has seen, and the SIS learner it belongs to: one row
-- per LMS account (from core.lms_users) and per distinct credential recipient identity of each
-- credential source. The SIS sourcedId is the master key; this is how every other system's
-- records reach it.
--
-- A credential recipient links, by what it states: a SIS sourcedId (Open Badges 3.0
-- IdentityObject `sisSourcedId`) or a Credly `issuer_earner_id` directly to the SIS user with
-- that sourcedId; an email address or username to the one SIS user who has it (trimmed,
-- case-insensitive); a hashed identity (Open Badges `sha256$` + hex of identity + salt, or
-- `md5$`) to the SIS user whose email address (or sourcedId, for a hashed sisSourcedId) hashes to
-- it with the same salt, computed as stated and lower-cased. An identity that fits more than one
-- SIS user is flagged ambiguous and links nobody: a guess could put one learner's credential in
-- another's record. DIDs and URLs name no SIS user and stay unlinked.
--
-- Matching a salted hash means hashing every SIS email with each salt the credentials use: the
-- cost is SIS users × distinct salts (a platform that salts each badge on its own costs the most).
--
-- system: canvas, oneroster_rest (LMS) or ob3_api, badgr, credly, badge_files (credential sources)
-- source: the source's name in pathways.yaml
-- identity_type: lms_user for an LMS account, else the identity type the credential states
-- external_key: the LMS's user id, or the recipient identity (email addresses and usernames as the SHA-256 of their normalized form, hashes as stated): never contact details
-- hashed: the credential states a salted hash, not the identity itself
-- sis_sourced_id: the SIS sourcedId it links to; NULL when unlinked or ambiguous
-- link_method: sis_id, issuer_earner_id, username, email, hashed_email or hashed_sis_id; NULL when unlinked
-- is_linked: linked to exactly one SIS user
-- is_ambiguous: fits more than one SIS user, so linked to none (flagged, never guessed)
-- is_learner: linked to a live learner in core.learners
-- credentials: credential records that name this identity (NULL for LMS accounts)

WITH sis_users AS (
    SELECT
        sourced_id,
        nullif(trim(sourced_id), '') AS id_key,
        nullif(lower(trim(username)), '') AS username_key,
        nullif(trim(email), '') AS email_as_stated,
        nullif(lower(trim(email)), '') AS email_key
    FROM staging.stg_oneroster__users
),

identities AS (
    SELECT
        system,
        source,
        identity_type,
        identity_class,
        identity,
        hashed,
        salt,
        any_value(external_key) AS external_key,
        count(DISTINCT record_key) AS credentials
    FROM staging.stg_credential_recipients
    GROUP BY ALL
),

salts AS (
    SELECT DISTINCT identity_class, salt FROM identities WHERE hashed
),

-- Every SIS value a hashed identity could have been made from, hashed with each salt in use.
hash_candidates AS (
    SELECT DISTINCT s.identity_class, s.salt, u.sourced_id, v.value
    FROM salts AS s
    JOIN sis_users AS u ON TRUE
    CROSS JOIN LATERAL (
        SELECT unnest(CASE
            WHEN s.identity_class = 'email' THEN [u.email_as_stated, u.email_key]
            WHEN s.identity_class = 'sis_id' THEN [u.id_key]
            WHEN s.identity_class = 'username' THEN [u.username_key]
            ELSE []
        END) AS value
    ) AS v
    WHERE v.value IS NOT NULL
),

hashes AS (
    SELECT identity_class, salt, sourced_id, 'sha256$' || sha256(value || salt) AS hash
    FROM hash_candidates
    UNION ALL
    SELECT identity_class, salt, sourced_id, 'md5$' || md5(value || salt) AS hash
    FROM hash_candidates
),

candidates AS (
    SELECT i.system, i.source, i.identity_type, i.identity, i.hashed, i.salt, u.sourced_id
    FROM identities AS i
    JOIN sis_users AS u
      ON NOT i.hashed AND (
          (i.identity_class IN ('sis_id', 'issuer_earner_id') AND u.id_key = i.identity)
          OR (i.identity_class = 'email' AND u.email_key = lower(i.identity))
          OR (i.identity_class = 'username' AND u.username_key = lower(i.identity))
      )
    UNION
    SELECT i.system, i.source, i.identity_type, i.identity, i.hashed, i.salt, h.sourced_id
    FROM identities AS i
    JOIN hashes AS h
      ON i.hashed AND h.identity_class = i.identity_class AND h.salt = i.salt
     AND h.hash = i.identity
),

matched AS (
    SELECT system, source, identity_type, identity, hashed, salt,
           count(DISTINCT sourced_id) AS matches,
           min(sourced_id) AS sourced_id
    FROM candidates
    GROUP BY ALL
),

credential_links AS (
    SELECT
        i.system,
        i.source,
        i.identity_type,
        i.external_key,
        i.hashed,
        CASE WHEN m.matches = 1 THEN m.sourced_id END AS sis_sourced_id,
        CASE
            WHEN m.matches IS DISTINCT FROM 1 THEN NULL
            WHEN i.hashed AND i.identity_class = 'email' THEN 'hashed_email'
            WHEN i.hashed AND i.identity_class = 'sis_id' THEN 'hashed_sis_id'
            WHEN i.hashed THEN 'hashed_' || i.identity_class
            ELSE i.identity_class
        END AS link_method,
        coalesce(m.matches > 1, FALSE) AS is_ambiguous,
        i.credentials
    FROM identities AS i
    LEFT JOIN matched AS m
      ON m.system = i.system AND m.source = i.source AND m.identity_type = i.identity_type
     AND m.identity = i.identity AND m.hashed = i.hashed AND m.salt = i.salt
),

all_links AS (
    SELECT
        system,
        source,
        'lms_user' AS identity_type,
        lms_user_id AS external_key,
        FALSE AS hashed,
        sis_sourced_id,
        link_method,
        is_ambiguous,
        CAST(NULL AS BIGINT) AS credentials
    FROM core.lms_users
    UNION ALL
    SELECT
        system, source, identity_type, external_key, hashed, sis_sourced_id, link_method,
        is_ambiguous, credentials
    FROM credential_links
)

SELECT
    a.system,
    a.source,
    a.identity_type,
    a.external_key,
    a.hashed,
    a.sis_sourced_id,
    a.link_method,
    a.sis_sourced_id IS NOT NULL AS is_linked,
    a.is_ambiguous,
    l.learner_sourced_id IS NOT NULL AS is_learner,
    a.credentials
FROM all_links AS a
LEFT JOIN core.learners AS l ON l.learner_sourced_id = a.sis_sourced_id
