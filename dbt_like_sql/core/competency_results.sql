-- The competency evidence of each learner, from every system that holds it: one row per
-- learner x learning objective x result. The SIS gradebook (OneRoster results and their
-- learning-objective scores), a OneRoster 1.2 REST service's results, and Canvas outcome
-- results all land here in one shape, each row saying which system it came from. This is what
-- a learner's record of competencies and micro-credentials is built from, and what the
-- readiness marts count.
--
-- SIS rows: only live learners (core.learners), live results and live line items. The score is
-- the result's per-objective score (resultLearningObjectiveIds); when a result has no
-- per-objective row at all but its line item is aligned to objectives, the result's own score
-- stands for each objective the line item is aligned to (score_origin = 'result'). Mastery
-- means a fully graded result whose score reaches 75% of the line item's resultValueMax. It is
-- NULL, not false, when there is no numeric score, the line item has no positive maximum, or
-- the result is not fully graded yet (submitted, partially graded, exempt, not submitted).
-- OneRoster REST rows follow the same rules. Canvas rows are outcome results: mastery is
-- Canvas's own judgement against the outcome's mastery points.
--
-- LMS evidence of accounts the SIS does not know is kept, with no learner_sourced_id (see
-- core.lms_users); readers that build learner records filter on learner_sourced_id.
--
-- learner_sourced_id: the SIS learner; NULL for an LMS account that could not be linked
-- lms_user_id: the LMS account the evidence belongs to; NULL for SIS rows
-- source_system: sis, oneroster_rest or canvas: the kind of system the evidence came from
-- source: sis, or the LMS source's name in pathways.yaml
-- result_learning_objective_sourced_id: the per-objective row; NULL for a fallback score and for LMS rows
-- learning_objective_id: the objective: a CASE item id where the source gives one, else the LMS's outcome id (canvas-outcome:<id>)
-- learning_objective_source: 'case' (a CASE item URN), 'unknown', an ext: value, or 'canvas' for a Canvas outcome without a CASE id
-- learning_objective_title: the objective's title, where any connected LMS names it
-- score_origin: 'objective' (per-objective score), 'result' (the result's score, as a fallback) or 'outcome' (a Canvas outcome result)
-- assessed_at: when the evidence was assessed (scoreDate; Canvas submitted_or_assessed_at)
-- result_value_min: the lowest possible score
-- result_value_max: the highest possible score
-- mastery_threshold: the score that shows mastery (75% of resultValueMax; a Canvas outcome's mastery points)
-- is_mastered: the evidence shows mastery; NULL when that cannot be judged

WITH results AS (
    SELECT
        r.sourced_id AS result_sourced_id,
        r.student_sourced_id AS learner_sourced_id,
        coalesce(r.class_sourced_id, li.class_sourced_id) AS class_sourced_id,
        r.line_item_sourced_id,
        r.score,
        r.text_score,
        r.score_status,
        r.score_date,
        li.result_value_min,
        li.result_value_max
    FROM staging.stg_oneroster__results AS r
    INNER JOIN core.learners AS l ON l.learner_sourced_id = r.student_sourced_id
    INNER JOIN staging.stg_oneroster__line_items AS li ON li.sourced_id = r.line_item_sourced_id
),

objective_scores AS (
    SELECT
        r.*,
        o.sourced_id AS result_learning_objective_sourced_id,
        o.learning_objective_id,
        o.source AS learning_objective_source,
        o.score AS objective_score,
        o.text_score AS objective_text_score,
        'objective' AS score_origin
    FROM results AS r
    INNER JOIN staging.stg_oneroster__result_learning_objective_ids AS o
        ON o.result_sourced_id = r.result_sourced_id
),

result_scores AS (
    SELECT
        r.*,
        CAST(NULL AS VARCHAR) AS result_learning_objective_sourced_id,
        a.learning_objective_id,
        a.source AS learning_objective_source,
        r.score AS objective_score,
        r.text_score AS objective_text_score,
        'result' AS score_origin
    FROM results AS r
    INNER JOIN staging.stg_oneroster__line_item_learning_objective_ids AS a
        ON a.line_item_sourced_id = r.line_item_sourced_id
    WHERE r.result_sourced_id NOT IN (SELECT result_sourced_id FROM objective_scores)
),

evidence AS (
    SELECT * FROM objective_scores
    UNION ALL
    SELECT * FROM result_scores
),

sis AS (
    SELECT
        learner_sourced_id,
        CAST(NULL AS VARCHAR) AS lms_user_id,
        'sis' AS source_system,
        'sis' AS source,
        class_sourced_id,
        line_item_sourced_id,
        result_sourced_id,
        result_learning_objective_sourced_id,
        learning_objective_id,
        learning_objective_source,
        objective_score AS score,
        objective_text_score AS text_score,
        score_origin,
        score_status,
        score_date,
        CAST(score_date AS TIMESTAMPTZ) AS assessed_at,
        result_value_min,
        result_value_max,
        0.75 * result_value_max AS mastery_threshold,
        CASE
            WHEN score_status = 'fully graded' AND objective_score IS NOT NULL AND result_value_max > 0
                THEN objective_score / result_value_max >= 0.75
        END AS is_mastered
    FROM evidence
),

rest_results AS (
    SELECT
        r._source AS source,
        r.sourced_id AS result_sourced_id,
        r.student_sourced_id AS lms_user_id,
        coalesce(r.class_sourced_id, li.class_sourced_id) AS class_sourced_id,
        r.line_item_sourced_id,
        r.score,
        r.text_score,
        r.score_status,
        r.score_date,
        li.result_value_min,
        li.result_value_max
    FROM staging.stg_oneroster_rest__results AS r
    INNER JOIN staging.stg_oneroster_rest__line_items AS li
        ON li._source = r._source AND li.sourced_id = r.line_item_sourced_id
),

rest_evidence AS (
    SELECT
        r.*,
        o.learning_objective_id,
        o.source AS learning_objective_source,
        o.score AS objective_score,
        o.text_score AS objective_text_score,
        'objective' AS score_origin
    FROM rest_results AS r
    INNER JOIN staging.stg_oneroster_rest__result_learning_objectives AS o
        ON o._source = r.source AND o.result_sourced_id = r.result_sourced_id
    UNION ALL
    SELECT
        r.*,
        a.learning_objective_id,
        a.source AS learning_objective_source,
        r.score AS objective_score,
        r.text_score AS objective_text_score,
        'result' AS score_origin
    FROM rest_results AS r
    INNER JOIN staging.stg_oneroster_rest__line_item_learning_objectives AS a
        ON a._source = r.source AND a.line_item_sourced_id = r.line_item_sourced_id
    WHERE NOT EXISTS (
        SELECT 1 FROM staging.stg_oneroster_rest__result_learning_objectives AS o
        WHERE o._source = r.source AND o.result_sourced_id = r.result_sourced_id
    )
),

rest AS (
    SELECT
        CASE WHEN u.is_learner THEN u.sis_sourced_id END AS learner_sourced_id,
        e.lms_user_id,
        'oneroster_rest' AS source_system,
        e.source,
        e.class_sourced_id,
        e.line_item_sourced_id,
        e.result_sourced_id,
        CAST(NULL AS VARCHAR) AS result_learning_objective_sourced_id,
        e.learning_objective_id,
        e.learning_objective_source,
        e.objective_score AS score,
        e.objective_text_score AS text_score,
        e.score_origin,
        e.score_status,
        e.score_date,
        CAST(e.score_date AS TIMESTAMPTZ) AS assessed_at,
        e.result_value_min,
        e.result_value_max,
        0.75 * e.result_value_max AS mastery_threshold,
        CASE
            WHEN e.score_status = 'fully graded' AND e.objective_score IS NOT NULL
                AND e.result_value_max > 0
                THEN e.objective_score / e.result_value_max >= 0.75
        END AS is_mastered
    FROM rest_evidence AS e
    LEFT JOIN core.lms_users AS u
        ON u.system = 'oneroster_rest' AND u.source = e.source AND u.lms_user_id = e.lms_user_id
),

canvas AS (
    SELECT
        CASE WHEN u.is_learner THEN u.sis_sourced_id END AS learner_sourced_id,
        CAST(r.user_id AS VARCHAR) AS lms_user_id,
        'canvas' AS source_system,
        r._source AS source,
        c.class_sourced_id,
        a.sis_assignment_id AS line_item_sourced_id,
        CAST(r.id AS VARCHAR) AS result_sourced_id,
        CAST(NULL AS VARCHAR) AS result_learning_objective_sourced_id,
        coalesce(o.vendor_guid, 'canvas-outcome:' || r.outcome_id) AS learning_objective_id,
        CASE WHEN o.vendor_guid IS NOT NULL THEN 'case' ELSE 'canvas' END
            AS learning_objective_source,
        r.score,
        CAST(NULL AS VARCHAR) AS text_score,
        'outcome' AS score_origin,
        'fully graded' AS score_status,
        CAST(r.submitted_or_assessed_at AS DATE) AS score_date,
        r.submitted_or_assessed_at AS assessed_at,
        CAST(0 AS DOUBLE) AS result_value_min,
        coalesce(r.possible, o.points_possible) AS result_value_max,
        o.mastery_points AS mastery_threshold,
        coalesce(r.mastery, r.score >= o.mastery_points) AS is_mastered
    FROM staging.stg_canvas__outcome_results AS r
    LEFT JOIN staging.stg_canvas__outcomes AS o ON o._source = r._source AND o.id = r.outcome_id
    LEFT JOIN core.lms_users AS u
        ON u.system = 'canvas' AND u.source = r._source
        AND u.lms_user_id = CAST(r.user_id AS VARCHAR)
    LEFT JOIN core.lms_courses AS c
        ON c.system = 'canvas' AND c.source = r._source
        AND c.lms_course_id = CAST(r.course_id AS VARCHAR)
    LEFT JOIN staging.stg_canvas__assignments AS a
        ON a._source = r._source AND a.id = r.assignment_id
),

objective_titles AS (
    SELECT vendor_guid AS learning_objective_id, min(title) AS learning_objective_title
    FROM staging.stg_canvas__outcomes
    WHERE vendor_guid IS NOT NULL
    GROUP BY vendor_guid
),

all_evidence AS (
    SELECT * FROM sis
    UNION ALL BY NAME
    SELECT * FROM rest
    UNION ALL BY NAME
    SELECT * FROM canvas
)

SELECT
    e.learner_sourced_id,
    e.lms_user_id,
    e.source_system,
    e.source,
    e.class_sourced_id,
    e.line_item_sourced_id,
    e.result_sourced_id,
    e.result_learning_objective_sourced_id,
    e.learning_objective_id,
    e.learning_objective_source,
    coalesce(
        t.learning_objective_title,
        CASE WHEN e.source_system = 'canvas' THEN o.title END
    ) AS learning_objective_title,
    e.score,
    e.text_score,
    e.score_origin,
    e.score_status,
    e.score_date,
    e.assessed_at,
    e.result_value_min,
    e.result_value_max,
    e.mastery_threshold,
    e.is_mastered
FROM all_evidence AS e
LEFT JOIN objective_titles AS t ON t.learning_objective_id = e.learning_objective_id
LEFT JOIN staging.stg_canvas__outcomes AS o
    ON e.source_system = 'canvas' AND o._source = e.source
    AND 'canvas-outcome:' || o.id = e.learning_objective_id
