-- Where each learner stands on each outcome of a Canvas course: one row per learner x course x
-- outcome that has a score, rolled up by Canvas with the outcome's calculation method.
--
-- Typed from the JSON Canvas sent (`raw.canvas_outcome_rollups._record`, one record per learner
-- and course, its `scores` unnested); the `_` columns say which source and sync last changed
-- the learner's rollup.
--
-- course_id: the course (`_course_id`, the course Pathways listed the rollup under)
-- section_id: the learner's section in the course
-- user_id: the Canvas user (see stg_canvas__users)
-- outcome_id: the outcome (see stg_canvas__outcomes)
-- score: the rolled-up score on the outcome's scale
-- title: the outcome's title
-- result_count: how many results the score rolls up
-- submitted_at: the latest of those results' times
-- _source: the Canvas source's name in pathways.yaml
-- _batch_id: the sync that last changed the row in raw
-- _loaded_at: when this learner's rollup last changed in raw

SELECT
    CAST(r._record->>'$._course_id' AS BIGINT) AS course_id,
    CAST(r._record->>'$.links.section' AS BIGINT) AS section_id,
    CAST(r._record->>'$.links.user' AS BIGINT) AS user_id,
    CAST(s.score->>'$.links.outcome' AS BIGINT) AS outcome_id,
    TRY_CAST(s.score->>'$.score' AS DOUBLE) AS score,
    s.score->>'$.title' AS title,
    TRY_CAST(s.score->>'$.count' AS BIGINT) AS result_count,
    TRY_CAST(s.score->>'$.submitted_at' AS TIMESTAMPTZ) AS submitted_at,
    r._source,
    r._batch_id,
    r._loaded_at
FROM raw.canvas_outcome_rollups AS r,
    unnest(CAST(r._record->'$.scores' AS JSON[])) AS s(score)
