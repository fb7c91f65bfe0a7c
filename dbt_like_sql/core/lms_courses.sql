-- The courses of every connected LMS: one row per LMS course, each linked to the SIS class it teaches when the LMS says
-- which (Canvas sis_course_id; a OneRoster service's class sourcedId). A course with no SIS
-- class (a sandbox, a club, a course made by hand) is kept with no class_sourced_id.
--
-- system: canvas or oneroster_rest, the kind of LMS
-- source: the LMS source's name in pathways.yaml
-- lms_course_id: the LMS's own id of the course
-- class_sourced_id: the SIS class the course teaches; NULL when the SIS does not have it
-- title: the course's name in the LMS
-- term_id: the LMS's id of the term the course runs in
-- state: the course's state in the LMS (Canvas workflow_state; active for OneRoster)

SELECT
    'canvas' AS system,
    c._source AS source,
    CAST(c.id AS VARCHAR) AS lms_course_id,
    sis.sourced_id AS class_sourced_id,
    c.name AS title,
    CAST(c.term_id AS VARCHAR) AS term_id,
    c.workflow_state AS state
FROM staging.stg_canvas__courses AS c
LEFT JOIN staging.stg_oneroster__classes AS sis ON sis.sourced_id = c.sis_course_id
UNION ALL
SELECT
    'oneroster_rest' AS system,
    c._source AS source,
    c.sourced_id AS lms_course_id,
    sis.sourced_id AS class_sourced_id,
    c.title,
    c.term_sourced_ids[1] AS term_id,
    'active' AS state
FROM staging.stg_oneroster_rest__classes AS c
LEFT JOIN staging.stg_oneroster__classes AS sis ON sis.sourced_id = c.sourced_id
