-- What verifying the district's credentials found tonight: one row per credential source and
-- verification status, with how many credentials have it and how many of those are linked to a
-- learner. The check counts a district reports ("how many badges verify?"), and where to look
-- when some do not: a tampered credential is failed_signature, a missing DID document or status
-- list is unresolved_key or unchecked_status. Counts of credentials, not of a group of learners,
-- so nothing is suppressed.
--
-- source_platform: the kind of source (ob3_api, badgr, credly, badge_files)
-- source: the source's name in pathways.yaml
-- verification_status: the status (see core.credentials)
-- credentials: credentials with that status
-- linked_credentials: of those, the ones linked to a SIS learner
-- example_reason: one reason given for that status, to start looking from

SELECT
    source_platform,
    source,
    verification_status,
    count(*) AS credentials,
    count(learner_sourced_id) AS linked_credentials,
    min(verification_reason) AS example_reason
FROM core.credentials
GROUP BY ALL
ORDER BY ALL
