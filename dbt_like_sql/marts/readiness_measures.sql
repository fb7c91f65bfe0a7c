-- The raw numbers behind the measured readiness indicators, tonight: one row per measure named in
-- models/readiness_rules.yaml. The readiness asset (pipelines/readiness.py) turns each number
-- into a Starting / Practicing / Sustaining level with the thresholds of that file (or the
-- district's overrides in pathways.yaml), and quotes the numbers as the level's evidence.
--
-- `value` is NULL when there is nothing to measure (no classes, no credential received, no
-- learner with the SIS field reported): the indicator is then "not measured", never guessed.
-- District-wide counts, not a group of learners, so nothing is suppressed here (the equity
-- marts disaggregate).
--
-- Career-support fields come from the SIS users extension columns metadata.careerAdvisingMeetings
-- (meetings this school year) and metadata.workBasedLearning (true / false), reported for
-- high-school learners (grades 09-12).
--
-- measure: the measure's name, as models/readiness_rules.yaml names it
-- value: the number the thresholds compare against (a count, or a share from 0 to 1); NULL when nothing could be measured
-- numerator: what was counted (courses, achievements or learners)
-- denominator: what it was counted out of (all courses, achievements or learners with the field reported)

WITH courses AS (
    SELECT
        count(DISTINCT course_sourced_id) AS offerings,
        count(DISTINCT course_sourced_id) FILTER (WHERE is_competency_based) AS competency_based
    FROM core.classes
),

received AS (
    SELECT count(*) AS credentials FROM core.credentials
),

achievements AS (
    SELECT
        count(*) AS defined,
        count(*) FILTER (WHERE learners_awarded > 0) AS awarded
    FROM core.achievements
),

holders AS (
    SELECT count(DISTINCT c.learner_sourced_id) AS learners
    FROM core.credentials AS c
    INNER JOIN core.learners AS l ON l.learner_sourced_id = c.learner_sourced_id
    WHERE c.is_active
),

learners AS (
    SELECT
        count(*) AS total,
        count(*) FILTER (WHERE has_device IS NOT NULL AND has_home_internet IS NOT NULL)
            AS access_reported,
        count(*) FILTER (WHERE has_device AND has_home_internet) AS device_and_internet
    FROM core.learners
),

high_school AS (
    SELECT
        TRY_CAST(u.metadata ->> '$.careerAdvisingMeetings' AS INTEGER) AS advising_meetings,
        TRY_CAST(u.metadata ->> '$.workBasedLearning' AS BOOLEAN) AS work_based_learning
    FROM core.learners AS l
    INNER JOIN staging.stg_oneroster__users AS u ON u.sourced_id = l.learner_sourced_id
    WHERE l.grade IN ('09', '10', '11', '12')
),

career AS (
    SELECT
        count(advising_meetings) AS advising_reported,
        count(*) FILTER (WHERE advising_meetings >= 1) AS advised,
        count(work_based_learning) AS work_based_reported,
        count(*) FILTER (WHERE work_based_learning) AS work_based
    FROM high_school
)

SELECT
    'competency_based_course_offerings' AS measure,
    CASE WHEN offerings > 0 THEN competency_based END::DOUBLE AS value,
    competency_based::BIGINT AS numerator,
    offerings::BIGINT AS denominator
FROM courses
UNION ALL
SELECT
    'micro_credential_achievements_defined',
    CASE WHEN received.credentials > 0 THEN defined END::DOUBLE,
    awarded::BIGINT,
    defined::BIGINT
FROM achievements, received
UNION ALL
SELECT
    'micro_credential_holder_share',
    CASE WHEN received.credentials > 0 AND learners.total > 0
        THEN holders.learners / learners.total END::DOUBLE,
    holders.learners::BIGINT,
    learners.total::BIGINT
FROM holders, learners, received
UNION ALL
SELECT
    'home_device_and_internet_share',
    CASE WHEN access_reported > 0 THEN device_and_internet / access_reported END::DOUBLE,
    device_and_internet::BIGINT,
    access_reported::BIGINT
FROM learners
UNION ALL
SELECT
    'career_advising_coverage',
    CASE WHEN advising_reported > 0 THEN advised / advising_reported END::DOUBLE,
    advised::BIGINT,
    advising_reported::BIGINT
FROM career
UNION ALL
SELECT
    'work_based_learning_share',
    CASE WHEN work_based_reported > 0 THEN work_based / work_based_reported END::DOUBLE,
    work_based::BIGINT,
    work_based_reported::BIGINT
FROM career
