-- Every credential a learner holds, from every credential platform the district connects (Open
-- Badges 3.0 API, Badgr / Canvas Credentials, Credly, the badge folder): one row per credential
-- record received, in one normalized shape, linked to the SIS learner through
-- core.learner_crosswalk, with what verifying it offline found. Nothing is dropped for failing
-- verification or for matching no learner: such rows are kept, with their status and a NULL
-- learner, so someone can look at them.
--
-- A credential links to a learner when the identities it names link to exactly one SIS user;
-- identities that point at two different people leave it unlinked and flagged ambiguous.
--
-- credential_key: Pathways' key of the row: source, raw table and record key, hashed
-- source_platform: the kind of source it came from: ob3_api, badgr, credly or badge_files
-- source: the source's name in pathways.yaml
-- record_key: the record's key in its raw table (credential id, Badgr entityId, Credly id, file path)
-- credential_id: the credential's own id as issued (URL, urn:uuid or the platform's id)
-- learner_sourced_id: the SIS sourcedId of the learner it was issued to; NULL when no learner could be linked
-- link_method: how the learner was linked: sis_id, issuer_earner_id, email, username, hashed_email or hashed_sis_id
-- link_ambiguous: its recipient identities fit more than one SIS user, so it is linked to none
-- achievement_key: the key of its achievement in core.achievements
-- achievement_id: the achievement's (badge class's, badge template's) own id
-- achievement_name: the achievement's name
-- achievement_type: the Open Badges 3.0 achievementType (MicroCredential, Badge, Competency, Certificate, …); Badge for platforms that do not say
-- achievement_description: what the achievement is
-- criteria: what earning it takes (the criteria narrative, else its URL)
-- alignments: the frameworks it is aligned to, a JSON list of {target_url, target_name, target_type, target_framework, target_code, target_description}; CASE items have target_type CFItem
-- case_item_urls: the URLs of the CASE CFItems it is aligned to
-- issuer_id: the issuer's id (URL or DID)
-- issuer_name: the issuer's name
-- awarded_at: when it was awarded (awardedDate, issuedOn, issued_at)
-- valid_from: when it becomes valid (validFrom, issuanceDate)
-- valid_until: when it expires (validUntil, expirationDate, expires); NULL when it does not
-- revoked: revoked, by its status list or by the platform's own record
-- revocation_reason: why, where the issuer said
-- evidence: evidence links, a JSON list
-- spec_version: 3.0 or 2.0 (Open Badges), or platform for a Badgr / Credly record with no Open Badges document
-- format: json-ld, jws, ob2-json, badgr or credly
-- verification_status: verified, or the first thing that failed: invalid, unknown_context, undefined_terms, failed_signature, revoked, suspended, expired, not_yet_valid, schema_invalid, unresolved_key, unchecked_status, unsigned, not_verifiable_offline
-- verification_reason: why, in a sentence, with what to do where there is something to do
-- is_verified: verification_status is verified
-- is_active: counts as held: not revoked or suspended, within its validity dates as of checked_at, and neither tampered with nor unreadable (invalid, unknown_context, undefined_terms, failed_signature)
-- checked_at: when it was last verified

WITH links AS (
    SELECT
        r.system,
        r.source,
        r.raw_table,
        r.record_key,
        count(DISTINCT x.sis_sourced_id) AS learners,
        min(x.sis_sourced_id) AS sis_sourced_id,
        bool_or(x.is_ambiguous) AS any_ambiguous,
        -- The most direct way any of its identities was linked.
        arg_min(x.link_method, CASE x.link_method
            WHEN 'sis_id' THEN 1 WHEN 'issuer_earner_id' THEN 2 WHEN 'hashed_sis_id' THEN 3
            WHEN 'email' THEN 4 WHEN 'username' THEN 5 WHEN 'hashed_email' THEN 6 ELSE 7 END)
            AS link_method
    FROM staging.stg_credential_recipients AS r
    JOIN core.learner_crosswalk AS x
      ON x.system = r.system AND x.source = r.source AND x.identity_type = r.identity_type
     AND x.external_key = r.external_key AND x.hashed = r.hashed
    GROUP BY ALL
)

SELECT
    md5(concat_ws('|', c.source, c.raw_table, c.record_key)) AS credential_key,
    c.source_kind AS source_platform,
    c.source,
    c.record_key,
    c.credential_id,
    CASE WHEN l.learners = 1 THEN l.sis_sourced_id END AS learner_sourced_id,
    CASE WHEN l.learners = 1 THEN l.link_method END AS link_method,
    coalesce(l.learners > 1 OR (l.learners = 0 AND l.any_ambiguous), FALSE) AS link_ambiguous,
    CASE
        WHEN c.achievement_id IS NOT NULL THEN c.achievement_id
        WHEN c.achievement_name IS NOT NULL
            THEN 'urn:pathways:achievement:'
                || md5(concat_ws('|', c.issuer_id, c.issuer_name, c.achievement_name))
    END AS achievement_key,
    c.achievement_id,
    c.achievement_name,
    c.achievement_type,
    c.achievement_description,
    c.criteria,
    c.alignments,
    list_transform(
        list_filter(
            from_json(c.alignments, '[{"target_url": "VARCHAR", "target_type": "VARCHAR"}]'),
            lambda a: a.target_type = 'CFItem'
        ),
        lambda a: a.target_url
    ) AS case_item_urls,
    c.issuer_id,
    c.issuer_name,
    c.awarded_at,
    c.valid_from,
    c.valid_until,
    coalesce(c.revoked, FALSE) OR c.verification_status = 'revoked' AS revoked,
    coalesce(
        c.revocation_reason,
        CASE WHEN c.verification_status = 'revoked' THEN c.verification_reason END
    ) AS revocation_reason,
    c.evidence,
    c.spec_version,
    c.format,
    c.verification_status,
    c.verification_reason,
    c.verification_status = 'verified' AS is_verified,
    NOT coalesce(c.revoked, FALSE)
        AND c.verification_status NOT IN (
            'revoked', 'suspended', 'invalid', 'unknown_context', 'undefined_terms',
            'failed_signature'
        )
        AND coalesce(c.valid_until > c.checked_at, TRUE)
        AND coalesce(c.valid_from <= c.checked_at, TRUE) AS is_active,
    c.checked_at
FROM staging.credential_checks AS c
LEFT JOIN links AS l
  ON l.system = c.source_kind AND l.source = c.source AND l.raw_table = c.raw_table
 AND l.record_key = c.record_key
