-- The district's learners: one row per live student in the SIS, keyed by the SIS sourcedId (the
-- master key every other system links to), with their school, grade and the flags of the groups
-- furthest from opportunity that every learner metric is disaggregated by. Read by the equity
-- and readiness marts and the learner-record exports. It carries no name, email, username,
-- birth date or phone: those stay in staging.
--
-- A student is a user whose primary role is 'student' at some org (roles.csv in 1.2, users.role
-- in 1.1; see core.user_roles). A disabled account (enabledUser false) is still a learner, since
-- the SIS still lists them; is_enabled says so. Only a tombstone removes a learner.
-- Group flags are NULL when the SIS did not report them (no demographics row, or a blank
-- value): unknown is not the same as no.
--
-- learner_sourced_id: the SIS sourcedId of the student
-- is_enabled: false when the student's SIS account is disabled
-- school_sourced_id: the user's primary org when it is a school, else the school of a student role
-- school_name: the name of that school
-- grade: the first grade the SIS lists for the student
-- sex: demographics.sex (male, female, unspecified, other or an ext: value)
-- is_two_or_more_races: demographics.demographicRaceTwoOrMoreRaces
-- is_hispanic_or_latino: demographics.hispanicOrLatinoEthnicity
-- has_demographics: whether the SIS sent a demographics row for the student

WITH students AS (
    SELECT DISTINCT user_sourced_id
    FROM core.user_roles
    WHERE role = 'student' AND role_type = 'primary'
),

schools AS (
    SELECT sourced_id, name
    FROM staging.stg_oneroster__orgs
    WHERE type = 'school'
),

-- When the primary org is not a school (a 1.1 list that starts with the district), the school
-- comes from the student's roles; the lowest sourcedId keeps the choice stable night to night.
role_schools AS (
    SELECT r.user_sourced_id, min(r.org_sourced_id) AS school_sourced_id
    FROM core.user_roles AS r
    INNER JOIN schools AS s ON s.sourced_id = r.org_sourced_id
    WHERE r.role = 'student'
    GROUP BY r.user_sourced_id
)

SELECT
    u.sourced_id AS learner_sourced_id,
    u.enabled_user AS is_enabled,
    coalesce(primary_school.sourced_id, role_schools.school_sourced_id) AS school_sourced_id,
    coalesce(primary_school.name, role_school.name) AS school_name,
    u.grades[1] AS grade,
    d.sex,
    d.is_economically_disadvantaged,
    d.is_english_learner,
    d.has_disability,
    d.american_indian_or_alaska_native AS is_american_indian_or_alaska_native,
    d.asian AS is_asian,
    d.black_or_african_american AS is_black_or_african_american,
    d.native_hawaiian_or_other_pacific_islander AS is_native_hawaiian_or_other_pacific_islander,
    d.white AS is_white,
    d.demographic_race_two_or_more_races AS is_two_or_more_races,
    d.hispanic_or_latino_ethnicity AS is_hispanic_or_latino,
    d.has_home_internet,
    d.has_device,
    d.sourced_id IS NOT NULL AS has_demographics
FROM staging.stg_oneroster__users AS u
INNER JOIN students ON students.user_sourced_id = u.sourced_id
LEFT JOIN schools AS primary_school ON primary_school.sourced_id = u.primary_org_sourced_id
LEFT JOIN role_schools ON role_schools.user_sourced_id = u.sourced_id
LEFT JOIN schools AS role_school ON role_school.sourced_id = role_schools.school_sourced_id
LEFT JOIN staging.stg_oneroster__demographics AS d ON d.sourced_id = u.sourced_id
