-- Canvas assignments: one row per assignment of the courses Pathways pulls, with the learning
-- outcomes its rubric is aligned to (the evidence a competency result is built from).
--
-- Typed from the JSON Canvas sent (`raw.canvas_assignments._record`); the `_` columns say which
-- source and sync last changed it.
--
-- id: Canvas's id of the assignment
-- course_id: the Canvas course (see stg_canvas__courses)
-- sis_assignment_id: the SIS id of the assignment (e.g. a OneRoster lineItem sourcedId), if any
-- name: the assignment's title
-- points_possible: the most points a submission can score
-- grading_type: points, percent, letter_grade, gpa_scale, pass_fail or not_graded
-- due_at: when it is due, if set
-- unlock_at: when it opens, if set
-- lock_at: when it closes, if set
-- published: whether learners can see it
-- workflow_state: published, unpublished or deleted
-- has_rubric: whether a rubric is attached
-- rubric_outcome_alignments: JSON list, one object per rubric criterion aligned to an outcome: criterion_id, outcome_id, vendor_guid (e.g. a CASE id), points
-- created_at: when the assignment was made
-- updated_at: when the assignment last changed
-- _source: the Canvas source's name in pathways.yaml
-- _batch_id: the sync that last changed the row in raw
-- _loaded_at: when this record last changed in raw

SELECT
    CAST(_record->>'$.id' AS BIGINT) AS id,
    CAST(_record->>'$.course_id' AS BIGINT) AS course_id,
    _record->>'$.sis_assignment_id' AS sis_assignment_id,
    _record->>'$.name' AS name,
    TRY_CAST(_record->>'$.points_possible' AS DOUBLE) AS points_possible,
    _record->>'$.grading_type' AS grading_type,
    TRY_CAST(_record->>'$.due_at' AS TIMESTAMPTZ) AS due_at,
    TRY_CAST(_record->>'$.unlock_at' AS TIMESTAMPTZ) AS unlock_at,
    TRY_CAST(_record->>'$.lock_at' AS TIMESTAMPTZ) AS lock_at,
    TRY_CAST(_record->>'$.published' AS BOOLEAN) AS published,
    _record->>'$.workflow_state' AS workflow_state,
    coalesce(json_array_length(_record->'$.rubric'), 0) > 0 AS has_rubric,
    -- The assignment JSON names a criterion's outcome `outcome_id`; the rubrics API names it
    -- `learning_outcome_id`.
    coalesce(
        to_json([
            {
                'criterion_id': c->>'$.id',
                'outcome_id': CAST(coalesce(c->>'$.outcome_id', c->>'$.learning_outcome_id') AS BIGINT),
                'vendor_guid': c->>'$.vendor_guid',
                'points': TRY_CAST(c->>'$.points' AS DOUBLE)
            }
            FOR c IN CAST(_record->'$.rubric' AS JSON[])
            IF coalesce(c->>'$.outcome_id', c->>'$.learning_outcome_id') IS NOT NULL
        ]),
        '[]'
    )::JSON AS rubric_outcome_alignments,
    TRY_CAST(_record->>'$.created_at' AS TIMESTAMPTZ) AS created_at,
    TRY_CAST(_record->>'$.updated_at' AS TIMESTAMPTZ) AS updated_at,
    _source,
    _batch_id,
    _loaded_at
FROM raw.canvas_assignments
