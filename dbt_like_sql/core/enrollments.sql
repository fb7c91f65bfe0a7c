-- Who is in which class, in which role: one row per live enrollment whose person and class are
-- both live in the SIS (an enrollment of a deleted user or class is dropped, even if the SIS
-- has not yet sent its own tombstone). Read by core.classes for class sizes, and by the marts
-- that measure participation per class, course and school.
--
-- enrollment_sourced_id: the enrollments.csv sourcedId
-- user_sourced_id: the SIS sourcedId of the person enrolled
-- role: student, teacher, aide, proctor, administrator or an ext: value
-- is_primary: true for the class's primary teacher; false when the SIS left it blank
-- end_date: exclusive, as the spec defines it

SELECT
    e.sourced_id AS enrollment_sourced_id,
    e.class_sourced_id,
    c.course_sourced_id,
    e.school_sourced_id,
    e.user_sourced_id,
    e.role,
    coalesce(e.is_primary, false) AS is_primary,
    e.begin_date,
    e.end_date
FROM staging.stg_oneroster__enrollments AS e
INNER JOIN staging.stg_oneroster__users AS u ON u.sourced_id = e.user_sourced_id
INNER JOIN staging.stg_oneroster__classes AS c ON c.sourced_id = e.class_sourced_id
