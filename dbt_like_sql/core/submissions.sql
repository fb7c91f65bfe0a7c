-- The work learners handed in and how it was graded: one row per Canvas submission or OneRoster
-- result. Submissions of accounts the SIS does not know are kept, with no learner.
--
-- system: canvas or oneroster_rest, the kind of LMS
-- source: the LMS source's name in pathways.yaml
-- submission_id: the LMS's own id of the submission or result
-- assignment_id: the assignment or line item (core.assignments)
-- lms_user_id: the LMS account that submitted (core.lms_users)
-- learner_sourced_id: the SIS learner, when the account is linked to a live learner
-- score: the score given
-- submitted_at: when the work was handed in (Canvas); NULL for OneRoster
-- graded_at: when it was graded (Canvas graded_at; OneRoster scoreDate)
-- state: Canvas workflow_state (graded, submitted, unsubmitted, pending_review) or OneRoster scoreStatus
-- is_late: handed in after the due date
-- is_missing: not handed in by the due date

WITH submissions AS (
    SELECT
        'canvas' AS system,
        _source AS source,
        CAST(id AS VARCHAR) AS submission_id,
        CAST(assignment_id AS VARCHAR) AS assignment_id,
        CAST(user_id AS VARCHAR) AS lms_user_id,
        score,
        submitted_at,
        graded_at,
        workflow_state AS state,
        late AS is_late,
        missing AS is_missing
    FROM staging.stg_canvas__submissions
    UNION ALL
    SELECT
        'oneroster_rest' AS system,
        _source AS source,
        sourced_id AS submission_id,
        line_item_sourced_id AS assignment_id,
        student_sourced_id AS lms_user_id,
        score,
        CAST(NULL AS TIMESTAMPTZ) AS submitted_at,
        CAST(score_date AS TIMESTAMPTZ) AS graded_at,
        score_status AS state,
        late AS is_late,
        missing AS is_missing
    FROM staging.stg_oneroster_rest__results
)

SELECT
    s.system,
    s.source,
    s.submission_id,
    s.assignment_id,
    s.lms_user_id,
    CASE WHEN u.is_learner THEN u.sis_sourced_id END AS learner_sourced_id,
    s.score,
    s.submitted_at,
    s.graded_at,
    s.state,
    s.is_late,
    s.is_missing
FROM submissions AS s
LEFT JOIN core.lms_users AS u
    ON u.system = s.system AND u.source = s.source AND u.lms_user_id = s.lms_user_id
