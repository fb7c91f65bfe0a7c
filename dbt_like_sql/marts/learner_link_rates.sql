-- How well each connected system's identities link to SIS learners, tonight: one row per source
-- (LMS and credential platforms alike), from core.learner_crosswalk. The link rate is the
-- interoperability scorecard's "share of learners linked" measure; identities linked by SIS id
-- (or issuer_earner_id) show the systems speak the SIS's key, while email, username and hashed
-- email links work but are fragile. Ambiguous identities are counted apart: they fit more than
-- one SIS user and were left unlinked. Counts of identities, not of a group of learners, so
-- nothing is suppressed.
--
-- system: the kind of source (canvas, oneroster_rest, ob3_api, badgr, credly, badge_files)
-- source: the source's name in pathways.yaml
-- identities: distinct identities seen (LMS accounts, credential recipient identities)
-- linked: identities linked to a SIS user
-- linked_by_sis_id: linked by the SIS sourcedId or issuer_earner_id the system carries
-- linked_by_email: linked by a plain or hashed email address
-- linked_by_username: linked by username
-- ambiguous: identities that fit more than one SIS user (linked to none)
-- unlinked: identities no SIS user was found for (ambiguous ones included)
-- learners_linked: distinct live learners the source's identities link to
-- link_rate: linked / identities
-- sis_id_link_rate: linked_by_sis_id / identities

SELECT
    system,
    source,
    count(*) AS identities,
    count(*) FILTER (WHERE is_linked) AS linked,
    count(*) FILTER (
        WHERE link_method IN ('sis_id', 'issuer_earner_id', 'hashed_sis_id')
    ) AS linked_by_sis_id,
    count(*) FILTER (WHERE link_method IN ('email', 'hashed_email')) AS linked_by_email,
    count(*) FILTER (WHERE link_method IN ('username', 'hashed_username')) AS linked_by_username,
    count(*) FILTER (WHERE is_ambiguous) AS ambiguous,
    count(*) FILTER (WHERE NOT is_linked) AS unlinked,
    count(DISTINCT sis_sourced_id) FILTER (WHERE is_learner) AS learners_linked,
    round(count(*) FILTER (WHERE is_linked) / count(*), 4) AS link_rate,
    round(
        count(*) FILTER (WHERE link_method IN ('sis_id', 'issuer_earner_id', 'hashed_sis_id'))
        / count(*),
        4
    ) AS sis_id_link_rate
FROM core.learner_crosswalk
GROUP BY system, source
