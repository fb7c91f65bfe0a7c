-- Who each received credential says it was issued to: one row per credential record × recipient
-- identity it states (an Open Badges 3.0 IdentityObject or subject id, an Open Badges 2.0 /
-- Badgr recipient, a Credly issuer_earner_id or recipient email). Holds plain email addresses
-- and usernames, so it stays in staging; `external_key` is the form the published crosswalk
-- keeps (contact details and usernames replaced by their SHA-256).
--
-- system: the kind of credential source (ob3_api, badgr, credly, badge_files)
-- source: the source's name in pathways.yaml
-- raw_table: the raw table the credential record is in
-- record_key: the record's key in that raw table
-- identity_type: the identity's type as the credential states it (sisSourcedId, emailAddress, email, issuerEarnerId, username, did, url, …)
-- identity_class: what Pathways can match it against: sis_id, issuer_earner_id, email, username, or other (DIDs, URLs: not linkable to the SIS)
-- identity: the identity as stated (for a hashed identity, the "sha256$…" / "md5$…" hash, lower-cased); personal
-- hashed: the identity is a salted hash (Open Badges `hashed`)
-- salt: the salt of a hashed identity ('' when none was used)
-- external_key: the identity as core.learner_crosswalk keeps it: ids and hashes as stated, email addresses and usernames as "sha256:" and the SHA-256 of their trimmed lower-case form

WITH recipients AS (
    SELECT
        c.source_kind AS system,
        c.source,
        c.raw_table,
        c.record_key,
        unnest(from_json(
            c.recipients,
            '[{"identity_type": "VARCHAR", "identity": "VARCHAR", "hashed": "BOOLEAN", "salt": "VARCHAR"}]'
        )) AS r
    FROM staging.credential_checks AS c
    WHERE c.recipients IS NOT NULL
),

classified AS (
    SELECT
        system,
        source,
        raw_table,
        record_key,
        r.identity_type,
        CASE
            WHEN lower(r.identity_type) IN ('sissourcedid', 'sourcedid', 'studentid') THEN 'sis_id'
            WHEN lower(r.identity_type) = 'issuerearnerid' THEN 'issuer_earner_id'
            WHEN lower(r.identity_type) IN ('emailaddress', 'email') THEN 'email'
            WHEN lower(r.identity_type) = 'username' THEN 'username'
            ELSE 'other'
        END AS identity_class,
        CASE WHEN coalesce(r.hashed, FALSE) THEN lower(trim(r.identity)) ELSE trim(r.identity) END
            AS identity,
        coalesce(r.hashed, FALSE) AS hashed,
        coalesce(r.salt, '') AS salt
    FROM recipients
    WHERE nullif(trim(r.identity), '') IS NOT NULL
)

SELECT
    system,
    source,
    raw_table,
    record_key,
    identity_type,
    identity_class,
    identity,
    hashed,
    salt,
    CASE
        WHEN NOT hashed AND identity_class IN ('email', 'username')
            THEN 'sha256:' || sha256(lower(identity))
        ELSE identity
    END AS external_key
FROM classified
