-- Every achievement (badge class, badge template, Open Badges 3.0 Achievement) any credential in
-- core.credentials is for: one row per distinct definition, with how often it was awarded. An
-- achievement with no id of its own is keyed by its issuer and name. Where two credentials
-- describe the same achievement differently, the most recently checked wording is kept.
--
-- achievement_key: the achievement's id, else a key made from its issuer and name
-- achievement_id: its own id, where it has one
-- name: its name
-- achievement_type: MicroCredential, Badge, Competency, Certificate, … (Open Badges 3.0 achievementType)
-- description: what it is
-- criteria: what earning it takes
-- alignments: the frameworks it is aligned to (JSON list; CASE items have target_type CFItem)
-- case_item_urls: the URLs of the CASE CFItems it is aligned to
-- issuer_id: its issuer's id
-- issuer_name: its issuer's name
-- source_platforms: the kinds of source its credentials came from
-- credentials: credential records for it
-- active_credentials: of those, the ones not revoked and valid now
-- learners_awarded: distinct SIS learners holding an active, linked credential for it
-- first_awarded_at: the earliest award
-- last_awarded_at: the latest award

SELECT
    achievement_key,
    arg_max(achievement_id, checked_at) AS achievement_id,
    arg_max(achievement_name, checked_at) AS name,
    arg_max(achievement_type, checked_at) AS achievement_type,
    arg_max(achievement_description, checked_at) AS description,
    arg_max(criteria, checked_at) AS criteria,
    arg_max(alignments, checked_at) AS alignments,
    arg_max(case_item_urls, checked_at) AS case_item_urls,
    arg_max(issuer_id, checked_at) AS issuer_id,
    arg_max(issuer_name, checked_at) AS issuer_name,
    list_sort(list_distinct(list(source_platform))) AS source_platforms,
    count(*) AS credentials,
    count(*) FILTER (WHERE is_active) AS active_credentials,
    count(DISTINCT learner_sourced_id) FILTER (WHERE is_active) AS learners_awarded,
    min(awarded_at) AS first_awarded_at,
    max(awarded_at) AS last_awarded_at
FROM core.credentials
WHERE achievement_key IS NOT NULL
GROUP BY achievement_key
