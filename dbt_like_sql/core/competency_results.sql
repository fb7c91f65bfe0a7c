-- The competency evidence of each learner: one row per learner x learning objective x gradebook
-- result, with the score, the score range and whether the result shows mastery. This is what a
-- learner's record of competencies and micro-credentials is built from, and what the readiness
-- marts count. Only live learners (core.learners), live results and live line items appear.
--
-- The score is the result's per-objective score (resultLearningObjectiveIds). When a result has
-- no per-objective row at all but its line item is aligned to objectives, the result's own
-- score stands for each objective the line item is aligned to (score_origin = 'result').
-- Mastery means a fully graded result whose score reaches 75% of the line item's
-- resultValueMax (score / result_value_max >= 0.75). It is NULL, not false, when there is no
-- numeric score, the line item has no positive maximum, or the result is not fully graded yet
-- (submitted, partially graded, exempt, not submitted): none of those judges mastery.
--
-- result_learning_objective_sourced_id: the per-objective row; NULL for a fallback score
-- learning_objective_source: 'case' (a CASE item URN), 'unknown' or an ext: value
-- score_origin: 'objective' (per-objective score) or 'result' (the result's score, as a fallback)
-- result_value_min: the line item's lowest possible score
-- result_value_max: the line item's highest possible score
-- is_mastered: fully graded and score / result_value_max >= 0.75; NULL when that cannot be judged

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
)

SELECT
    learner_sourced_id,
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
    result_value_min,
    result_value_max,
    CASE
        WHEN score_status = 'fully graded' AND objective_score IS NOT NULL AND result_value_max > 0
            THEN objective_score / result_value_max >= 0.75
    END AS is_mastered
FROM evidence
