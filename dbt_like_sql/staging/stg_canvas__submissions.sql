-- Learners' Canvas submissions: one row per learner x assignment of the courses Pathways pulls,
-- with its score, grade and timing. Submissions of deleted enrollments are not listed by Canvas.
--
-- Typed from the JSON Canvas sent (`raw.canvas_submissions._record`); the `_` columns say which
-- source and sync last changed it.
--
-- id: Canvas's id of the submission
-- assignment_id: the assignment (see stg_canvas__assignments)
-- user_id: the Canvas user who submitted (see stg_canvas__users)
-- course_id: the course, from the record or the course Pathways listed it under (`_course_id`)
-- score: the points scored, after any late penalty; NULL until graded
-- grade: the grade as the assignment's grading type shows it (points, letter, complete…)
-- entered_score: the score as the grader entered it, before any late penalty
-- attempt: the attempt number; NULL when nothing was submitted
-- submitted_at: when the learner last submitted; NULL when never
-- graded_at: when it was last graded; NULL when never
-- posted_at: when the grade was shown to the learner
-- workflow_state: submitted, unsubmitted, graded or pending_review
-- late: submitted after the due date
-- missing: past due and not submitted
-- excused: excused from the assignment (no score expected)
-- seconds_late: how late it was submitted
-- late_policy_status: a status a teacher set by hand: late, missing, extended or none
-- _source: the Canvas source's name in pathways.yaml
-- _batch_id: the sync that last changed the row in raw
-- _loaded_at: when this record last changed in raw

SELECT
    CAST(_record->>'$.id' AS BIGINT) AS id,
    CAST(_record->>'$.assignment_id' AS BIGINT) AS assignment_id,
    CAST(_record->>'$.user_id' AS BIGINT) AS user_id,
    CAST(
        coalesce(
            _record->>'$.course_id', _record->>'$.assignment.course_id', _record->>'$._course_id'
        ) AS BIGINT
    ) AS course_id,
    TRY_CAST(_record->>'$.score' AS DOUBLE) AS score,
    _record->>'$.grade' AS grade,
    TRY_CAST(_record->>'$.entered_score' AS DOUBLE) AS entered_score,
    TRY_CAST(_record->>'$.attempt' AS BIGINT) AS attempt,
    TRY_CAST(_record->>'$.submitted_at' AS TIMESTAMPTZ) AS submitted_at,
    TRY_CAST(_record->>'$.graded_at' AS TIMESTAMPTZ) AS graded_at,
    TRY_CAST(_record->>'$.posted_at' AS TIMESTAMPTZ) AS posted_at,
    _record->>'$.workflow_state' AS workflow_state,
    TRY_CAST(_record->>'$.late' AS BOOLEAN) AS late,
    TRY_CAST(_record->>'$.missing' AS BOOLEAN) AS missing,
    TRY_CAST(_record->>'$.excused' AS BOOLEAN) AS excused,
    TRY_CAST(_record->>'$.seconds_late' AS BIGINT) AS seconds_late,
    _record->>'$.late_policy_status' AS late_policy_status,
    _source,
    _batch_id,
    _loaded_at
FROM raw.canvas_submissions
