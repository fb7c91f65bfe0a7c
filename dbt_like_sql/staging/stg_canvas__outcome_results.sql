-- Learners' scores on learning outcomes: one row per Canvas outcome result (a learner assessed
-- on one outcome by one alignment, usually a rubric criterion of an assignment).
--
-- Typed from the JSON Canvas sent (`raw.canvas_outcome_results._record`); the `_` columns say
-- which source and sync last changed it.
--
-- id: Canvas's id of the outcome result
-- user_id: the Canvas user assessed (see stg_canvas__users)
-- outcome_id: the outcome assessed (see stg_canvas__outcomes)
-- alignment_id: what assessed it, as Canvas names it, e.g. assignment_123
-- assignment_id: the assignment, when the alignment is one (see stg_canvas__assignments)
-- course_id: the course Pathways listed the result under (`_course_id`)
-- score: the score on the outcome's scale
-- possible: the top of the scale
-- percent: score as a share of possible (0-1)
-- mastery: whether the score reaches the outcome's mastery points
-- hidden: hidden from the learning mastery gradebook
-- submitted_or_assessed_at: when the work was submitted, or else assessed
-- _source: the Canvas source's name in pathways.yaml
-- _batch_id: the sync that last changed the row in raw
-- _loaded_at: when this record last changed in raw

SELECT
    CAST(_record->>'$.id' AS BIGINT) AS id,
    CAST(_record->>'$.links.user' AS BIGINT) AS user_id,
    CAST(_record->>'$.links.learning_outcome' AS BIGINT) AS outcome_id,
    _record->>'$.links.alignment' AS alignment_id,
    TRY_CAST(
        regexp_extract(_record->>'$.links.alignment', '^assignment_(\d+)$', 1) AS BIGINT
    ) AS assignment_id,
    CAST(_record->>'$._course_id' AS BIGINT) AS course_id,
    TRY_CAST(_record->>'$.score' AS DOUBLE) AS score,
    TRY_CAST(_record->>'$.possible' AS DOUBLE) AS possible,
    TRY_CAST(_record->>'$.percent' AS DOUBLE) AS percent,
    TRY_CAST(_record->>'$.mastery' AS BOOLEAN) AS mastery,
    TRY_CAST(_record->>'$.hidden' AS BOOLEAN) AS hidden,
    TRY_CAST(_record->>'$.submitted_or_assessed_at' AS TIMESTAMPTZ) AS submitted_or_assessed_at,
    _source,
    _batch_id,
    _loaded_at
FROM raw.canvas_outcome_results
