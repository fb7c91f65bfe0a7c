-- How well each connected LMS's accounts link to the SIS, tonight: one row per LMS source. The
-- share of accounts linked by SIS id is how interoperable the two systems are; accounts linked
-- only by username or email work but are fragile; unlinked accounts (guests, test students,
-- people the SIS does not know) are kept in core.lms_users and counted here so someone can
-- look at them. Counts of accounts, not of any group of learners, so nothing is suppressed.
--
-- system: canvas or oneroster_rest, the kind of LMS
-- source: the LMS source's name in pathways.yaml
-- accounts: LMS accounts seen
-- linked_by_sis_id: accounts linked through the SIS id the LMS carries
-- linked_by_username: accounts linked by matching the SIS username
-- linked_by_email: accounts linked by matching the SIS email
-- unlinked: accounts no SIS user could be found for
-- learner_accounts: linked accounts that belong to a live learner
-- link_rate: linked accounts / accounts
-- sis_id_link_rate: accounts linked by SIS id / accounts

SELECT
    system,
    source,
    count(*) AS accounts,
    count(*) FILTER (WHERE link_method = 'sis_id') AS linked_by_sis_id,
    count(*) FILTER (WHERE link_method = 'username') AS linked_by_username,
    count(*) FILTER (WHERE link_method = 'email') AS linked_by_email,
    count(*) FILTER (WHERE NOT is_linked) AS unlinked,
    count(*) FILTER (WHERE is_learner) AS learner_accounts,
    round(count(*) FILTER (WHERE is_linked) / count(*), 4) AS link_rate,
    round(count(*) FILTER (WHERE link_method = 'sis_id') / count(*), 4) AS sis_id_link_rate
FROM core.lms_users
GROUP BY system, source
ORDER BY system, source
