-- Who is enrolled in which LMS course, in every state the LMS reports: one row per LMS
-- enrollment. Canvas reports dropped (deleted), finished (completed) and paused (inactive)
-- enrollments too, so a drop is seen rather than a row vanishing; a OneRoster service's
-- tobedeleted enrollments are gone from its live rows. People the SIS does not know keep their
-- rows with no SIS sourcedId (see core.lms_users).
--
-- system: canvas or oneroster_rest, the kind of LMS
-- source: the LMS source's name in pathways.yaml
-- lms_enrollment_id: the LMS's own id of the enrollment
-- lms_course_id: the LMS course (core.lms_courses)
-- lms_user_id: the LMS account (core.lms_users)
-- sis_sourced_id: the SIS person, when the account is linked
-- learner_sourced_id: the SIS learner, when the account is linked to a live learner
-- class_sourced_id: the SIS class the course teaches, when known
-- role: student, teacher, aide or another role, in OneRoster's words
-- state: active, invited, completed, inactive or deleted (Canvas); active (OneRoster)
-- is_active: the enrollment counts today (active or invited)
-- updated_at: when the LMS last changed the enrollment

WITH canvas AS (
    SELECT
        'canvas' AS system,
        _source AS source,
        CAST(id AS VARCHAR) AS lms_enrollment_id,
        CAST(course_id AS VARCHAR) AS lms_course_id,
        CAST(user_id AS VARCHAR) AS lms_user_id,
        CASE type
            WHEN 'StudentEnrollment' THEN 'student'
            WHEN 'TeacherEnrollment' THEN 'teacher'
            WHEN 'TaEnrollment' THEN 'aide'
            WHEN 'ObserverEnrollment' THEN 'guardian'
            WHEN 'DesignerEnrollment' THEN 'designer'
            ELSE lower(type)
        END AS role,
        enrollment_state AS state,
        updated_at
    FROM staging.stg_canvas__enrollments
),

oneroster AS (
    SELECT
        'oneroster_rest' AS system,
        _source AS source,
        sourced_id AS lms_enrollment_id,
        class_sourced_id AS lms_course_id,
        user_sourced_id AS lms_user_id,
        role,
        'active' AS state,
        date_last_modified AS updated_at
    FROM staging.stg_oneroster_rest__enrollments
),

enrollments AS (
    SELECT * FROM canvas
    UNION ALL
    SELECT * FROM oneroster
)

SELECT
    e.system,
    e.source,
    e.lms_enrollment_id,
    e.lms_course_id,
    e.lms_user_id,
    u.sis_sourced_id,
    CASE WHEN u.is_learner THEN u.sis_sourced_id END AS learner_sourced_id,
    c.class_sourced_id,
    e.role,
    e.state,
    e.state IN ('active', 'invited') AS is_active,
    e.updated_at
FROM enrollments AS e
LEFT JOIN core.lms_users AS u
    ON u.system = e.system AND u.source = e.source AND u.lms_user_id = e.lms_user_id
LEFT JOIN core.lms_courses AS c
    ON c.system = e.system AND c.source = e.source AND c.lms_course_id = e.lms_course_id
