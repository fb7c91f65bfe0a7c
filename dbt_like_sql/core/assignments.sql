-- The assessed work of every LMS course: one row per Canvas assignment or OneRoster line item, with the learning objectives (outcomes, CASE items) each one is aligned to. This is
-- what says a course assesses competencies, and where a competency result came from.
--
-- system: canvas or oneroster_rest, the kind of LMS
-- source: the LMS source's name in pathways.yaml
-- assignment_id: the LMS's own id of the assignment or line item
-- lms_course_id: the LMS course (core.lms_courses)
-- class_sourced_id: the SIS class the course teaches, when known
-- sis_line_item_sourced_id: the SIS line item the assignment was synced from, when the LMS says
-- title: the assignment's name
-- points_possible: the highest score (Canvas points_possible; OneRoster resultValueMax)
-- due_at: when it is due
-- learning_objective_ids: the learning objectives it is aligned to (CASE ids where known, else the LMS's outcome ids)
-- is_competency_aligned: aligned to at least one learning objective

WITH canvas_alignments AS (
    SELECT
        a._source,
        a.id,
        list(DISTINCT coalesce(al->>'$.vendor_guid', o.vendor_guid, 'canvas-outcome:' || (al->>'$.outcome_id')))
            AS learning_objective_ids
    FROM staging.stg_canvas__assignments AS a,
        unnest(CAST(a.rubric_outcome_alignments AS JSON[])) AS t(al)
    LEFT JOIN staging.stg_canvas__outcomes AS o
        ON o._source = a._source AND o.id = CAST(al->>'$.outcome_id' AS BIGINT)
    GROUP BY a._source, a.id
),

oneroster_alignments AS (
    SELECT _source, line_item_sourced_id, list(DISTINCT learning_objective_id) AS learning_objective_ids
    FROM staging.stg_oneroster_rest__line_item_learning_objectives
    GROUP BY _source, line_item_sourced_id
),

assignments AS (
    SELECT
        'canvas' AS system,
        a._source AS source,
        CAST(a.id AS VARCHAR) AS assignment_id,
        CAST(a.course_id AS VARCHAR) AS lms_course_id,
        a.sis_assignment_id AS sis_line_item_sourced_id,
        a.name AS title,
        a.points_possible,
        a.due_at,
        coalesce(al.learning_objective_ids, []) AS learning_objective_ids
    FROM staging.stg_canvas__assignments AS a
    LEFT JOIN canvas_alignments AS al ON al._source = a._source AND al.id = a.id
    UNION ALL
    SELECT
        'oneroster_rest' AS system,
        li._source AS source,
        li.sourced_id AS assignment_id,
        li.class_sourced_id AS lms_course_id,
        li.sourced_id AS sis_line_item_sourced_id,
        li.title,
        li.result_value_max AS points_possible,
        CAST(li.due_date AS TIMESTAMPTZ) AS due_at,
        coalesce(al.learning_objective_ids, []) AS learning_objective_ids
    FROM staging.stg_oneroster_rest__line_items AS li
    LEFT JOIN oneroster_alignments AS al
        ON al._source = li._source AND al.line_item_sourced_id = li.sourced_id
)

SELECT
    a.system,
    a.source,
    a.assignment_id,
    a.lms_course_id,
    c.class_sourced_id,
    a.sis_line_item_sourced_id,
    a.title,
    a.points_possible,
    a.due_at,
    a.learning_objective_ids,
    len(a.learning_objective_ids) > 0 AS is_competency_aligned
FROM assignments AS a
LEFT JOIN core.lms_courses AS c
    ON c.system = a.system AND c.source = a.source AND c.lms_course_id = a.lms_course_id
