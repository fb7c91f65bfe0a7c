-- The district's classes (sections): one row per live class, with its course, school, terms,
-- grades and subjects, how many learners it enrolls, and whether it is competency-based. Read
-- by the readiness marts (how much of the district's teaching is assessed against
-- competencies) and by dashboards of classes per school.
--
-- A class is competency-based when at least one of its live gradebook line items is aligned to
-- a learning objective (lineItemLearningObjectiveIds).
--
-- class_sourced_id: the classes.csv sourcedId
-- class_type: homeroom, scheduled or an ext: value
-- subjects: the class's own subjects (course_subjects holds the course's)
-- grades: the grade levels the class serves
-- term_sourced_ids: the academic sessions the class runs in
-- school_year: the latest school year (ending year) among the class's live terms
-- is_competency_based: at least one live line item of the class is aligned to a learning objective
-- aligned_learning_objective_count: distinct learning objectives its line items are aligned to
-- learner_count: distinct learners (core.learners) with a live student enrollment in the class

WITH class_term_ids AS (
    SELECT sourced_id AS class_sourced_id, unnest(term_sourced_ids) AS term_sourced_id
    FROM staging.stg_oneroster__classes
),

class_terms AS (
    SELECT ct.class_sourced_id, max(t.school_year) AS school_year
    FROM class_term_ids AS ct
    INNER JOIN staging.stg_oneroster__academic_sessions AS t ON t.sourced_id = ct.term_sourced_id
    GROUP BY ct.class_sourced_id
),

aligned AS (
    SELECT
        li.class_sourced_id,
        count(DISTINCT (lo.source, lo.learning_objective_id)) AS aligned_learning_objective_count
    FROM staging.stg_oneroster__line_items AS li
    INNER JOIN staging.stg_oneroster__line_item_learning_objective_ids AS lo
        ON lo.line_item_sourced_id = li.sourced_id
    GROUP BY li.class_sourced_id
),

learner_counts AS (
    SELECT e.class_sourced_id, count(DISTINCT e.user_sourced_id) AS learner_count
    FROM core.enrollments AS e
    INNER JOIN core.learners AS l ON l.learner_sourced_id = e.user_sourced_id
    WHERE e.role = 'student'
    GROUP BY e.class_sourced_id
)

SELECT
    c.sourced_id AS class_sourced_id,
    c.title AS class_title,
    c.class_code,
    c.class_type,
    c.location,
    c.school_sourced_id,
    school.name AS school_name,
    c.course_sourced_id,
    course.title AS course_title,
    course.course_code,
    course.subjects AS course_subjects,
    c.subjects,
    c.subject_codes,
    c.grades,
    c.periods,
    c.term_sourced_ids,
    class_terms.school_year,
    coalesce(aligned.aligned_learning_objective_count, 0) > 0 AS is_competency_based,
    coalesce(aligned.aligned_learning_objective_count, 0) AS aligned_learning_objective_count,
    coalesce(learner_counts.learner_count, 0) AS learner_count
FROM staging.stg_oneroster__classes AS c
LEFT JOIN staging.stg_oneroster__orgs AS school ON school.sourced_id = c.school_sourced_id
LEFT JOIN staging.stg_oneroster__courses AS course ON course.sourced_id = c.course_sourced_id
LEFT JOIN class_terms ON class_terms.class_sourced_id = c.sourced_id
LEFT JOIN aligned ON aligned.class_sourced_id = c.sourced_id
LEFT JOIN learner_counts ON learner_counts.class_sourced_id = c.sourced_id
