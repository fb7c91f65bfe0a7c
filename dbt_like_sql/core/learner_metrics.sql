-- What the equity lens counts, learner by learner: one row per learner in core.learners, with
-- the school and the groups furthest from opportunity they belong to, and whether they meet each
-- learner metric. marts.equity_metrics aggregates it by school and group, with small groups
-- suppressed; this table itself is personal (one learner per row) and is not a dashboard table.
-- The metrics the mart publishes, with their labels, are declared in models/equity_metrics.yaml.
--
-- Groups are never NULL: a flag the SIS did not report is 'unknown', so every way of grouping
-- adds up to all learners. Race and ethnicity is the federal reporting category (EDFacts, the
-- ESSA report card), one per learner: Hispanic or Latino of any race; else two or more races
-- (the SIS's flag, or two race flags); else the one race flag; else unknown.
--
-- A metric is NULL for every learner when the district's data does not carry it at all (no
-- credential record, no competency evidence, no class, no SIS field for it), so the mart leaves
-- it out rather than report that no one meets it. A learner the field is blank for counts as not
-- meeting it.
--
-- learner_sourced_id: the SIS sourcedId of the learner
-- school_id: the learner's school (core.learners.school_sourced_id); 'unknown' when the SIS places them in none
-- school_name: the school's name; NULL when unknown
-- economically_disadvantaged: yes, no or unknown (demographics metadata.economicallyDisadvantaged)
-- english_learner: yes, no or unknown (demographics metadata.englishLearner)
-- disability: yes, no or unknown (demographics metadata.disability)
-- race_ethnicity: the federal category, named by its OneRoster demographics field: hispanicOrLatinoEthnicity, demographicRaceTwoOrMoreRaces, americanIndianOrAlaskaNative, asian, blackOrAfricanAmerican, nativeHawaiianOrOtherPacificIslander, white, or unknown
-- sex: female, male, unspecified, other (also any ext: value) or unknown (no demographics row or a blank)
-- earned_micro_credential: holds at least one credential (any achievement type) that verified offline and is linked to them (core.credentials); NULL when the district has no credential record at all
-- mastered_competency: has mastery evidence for at least one learning objective (core.competency_results); NULL when the district has no competency evidence at all
-- in_competency_based_class: enrolled as a student in at least one competency-based class (a class with a line item aligned to a learning objective, core.classes); NULL when the district has no class at all
-- has_device: the SIS reports a device for learning (metadata.deviceAccess); NULL for everyone when the district's SIS does not send the field
-- has_home_internet: the SIS reports home internet access (metadata.homeInternetAccess); NULL for everyone when not sent
-- had_career_advising: at least one career-advising meeting this school year (users or demographics metadata.careerAdvisingMeetings, a number or true/false; SISs send it for high-school learners, so others count as not advised); NULL for everyone when not sent
-- in_work_based_learning: in an internship, apprenticeship or dual-enrollment placement this school year (users or demographics metadata.workBasedLearning; high-school learners); NULL for everyone when not sent

WITH credential_holders AS (
    SELECT DISTINCT learner_sourced_id
    FROM core.credentials
    WHERE learner_sourced_id IS NOT NULL AND NOT link_ambiguous AND is_verified AND is_active
),

competency_masters AS (
    SELECT DISTINCT learner_sourced_id
    FROM core.competency_results
    WHERE learner_sourced_id IS NOT NULL AND is_mastered
),

competency_based_learners AS (
    SELECT DISTINCT e.user_sourced_id AS learner_sourced_id
    FROM core.enrollments AS e
    INNER JOIN core.classes AS c ON c.class_sourced_id = e.class_sourced_id
    WHERE e.role = 'student' AND c.is_competency_based
),

-- Whether the district's data holds anything a metric could be computed from.
carried AS (
    SELECT
        EXISTS (SELECT 1 FROM core.credentials) AS credentials,
        EXISTS (SELECT 1 FROM core.competency_results) AS competencies,
        EXISTS (SELECT 1 FROM core.classes) AS classes
),

-- Extension fields: the users file's metadata first, then the demographics file's. A field is
-- read as a boolean ('true', 'yes', '1') or, for a count of meetings, as a number above zero.
extensions AS (
    SELECT
        u.sourced_id,
        coalesce(
            u.metadata ->> '$.careerAdvisingMeetings', d.metadata ->> '$.careerAdvisingMeetings'
        ) AS career_advising,
        coalesce(
            u.metadata ->> '$.workBasedLearning', d.metadata ->> '$.workBasedLearning'
        ) AS work_based_learning
    FROM staging.stg_oneroster__users AS u
    LEFT JOIN staging.stg_oneroster__demographics AS d ON d.sourced_id = u.sourced_id
)

SELECT
    l.learner_sourced_id,
    coalesce(l.school_sourced_id, 'unknown') AS school_id,
    l.school_name,
    CASE l.is_economically_disadvantaged WHEN true THEN 'yes' WHEN false THEN 'no' ELSE 'unknown' END
        AS economically_disadvantaged,
    CASE l.is_english_learner WHEN true THEN 'yes' WHEN false THEN 'no' ELSE 'unknown' END
        AS english_learner,
    CASE l.has_disability WHEN true THEN 'yes' WHEN false THEN 'no' ELSE 'unknown' END
        AS disability,
    CASE
        WHEN l.is_hispanic_or_latino THEN 'hispanicOrLatinoEthnicity'
        WHEN
            l.is_two_or_more_races
            OR coalesce(l.is_american_indian_or_alaska_native, false)::INTEGER
            + coalesce(l.is_asian, false)::INTEGER
            + coalesce(l.is_black_or_african_american, false)::INTEGER
            + coalesce(l.is_native_hawaiian_or_other_pacific_islander, false)::INTEGER
            + coalesce(l.is_white, false)::INTEGER >= 2
            THEN 'demographicRaceTwoOrMoreRaces'
        WHEN l.is_american_indian_or_alaska_native THEN 'americanIndianOrAlaskaNative'
        WHEN l.is_asian THEN 'asian'
        WHEN l.is_black_or_african_american THEN 'blackOrAfricanAmerican'
        WHEN l.is_native_hawaiian_or_other_pacific_islander THEN 'nativeHawaiianOrOtherPacificIslander'
        WHEN l.is_white THEN 'white'
        ELSE 'unknown'
    END AS race_ethnicity,
    CASE
        WHEN nullif(trim(l.sex), '') IS NULL THEN 'unknown'
        WHEN lower(trim(l.sex)) IN ('female', 'male', 'unspecified') THEN lower(trim(l.sex))
        ELSE 'other'
    END AS sex,
    CASE WHEN carried.credentials THEN h.learner_sourced_id IS NOT NULL END
        AS earned_micro_credential,
    CASE WHEN carried.competencies THEN m.learner_sourced_id IS NOT NULL END
        AS mastered_competency,
    CASE WHEN carried.classes THEN cb.learner_sourced_id IS NOT NULL END
        AS in_competency_based_class,
    -- A blank counts as not meeting, but only in a district whose SIS sends the field at all.
    CASE WHEN count(l.has_device) OVER () > 0 THEN coalesce(l.has_device, false) END
        AS has_device,
    CASE WHEN count(l.has_home_internet) OVER () > 0 THEN coalesce(l.has_home_internet, false) END
        AS has_home_internet,
    CASE
        WHEN count(x.career_advising) OVER () > 0
            THEN coalesce(
                TRY_CAST(x.career_advising AS BOOLEAN), TRY_CAST(x.career_advising AS DOUBLE) > 0, false
            )
    END AS had_career_advising,
    CASE
        WHEN count(x.work_based_learning) OVER () > 0
            THEN coalesce(TRY_CAST(x.work_based_learning AS BOOLEAN), false)
    END AS in_work_based_learning
FROM core.learners AS l
CROSS JOIN carried
LEFT JOIN credential_holders AS h ON h.learner_sourced_id = l.learner_sourced_id
LEFT JOIN competency_masters AS m ON m.learner_sourced_id = l.learner_sourced_id
LEFT JOIN competency_based_learners AS cb ON cb.learner_sourced_id = l.learner_sourced_id
LEFT JOIN extensions AS x ON x.sourced_id = l.learner_sourced_id
