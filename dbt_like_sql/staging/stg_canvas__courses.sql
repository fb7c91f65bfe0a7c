-- Canvas courses: one row per course of each Canvas source, in the terms Pathways pulls. A
-- Canvas course is usually one SIS class (section); the SIS course id links the two.
--
-- Typed from the JSON Canvas sent (`raw.canvas_courses._record`); the `_` columns say which
-- source and sync last changed it.
--
-- id: Canvas's id of the course
-- sis_course_id: the SIS class sourcedId the course was created from; NULL for hand-made courses
-- name: the course's name as Canvas shows it
-- course_code: the short code Canvas shows beside the name
-- term_id: the Canvas enrollment term the course belongs to (see stg_canvas__terms)
-- account_id: the Canvas (sub-)account holding the course, usually one per school
-- workflow_state: unpublished, available, completed or deleted
-- start_at: when the course starts, if set
-- end_at: when the course ends, if set
-- _source: the Canvas source's name in pathways.yaml
-- _batch_id: the sync that last changed the row in raw
-- _loaded_at: when this record last changed in raw

SELECT
    CAST(_record->>'$.id' AS BIGINT) AS id,
    _record->>'$.sis_course_id' AS sis_course_id,
    _record->>'$.name' AS name,
    _record->>'$.course_code' AS course_code,
    CAST(_record->>'$.enrollment_term_id' AS BIGINT) AS term_id,
    CAST(_record->>'$.account_id' AS BIGINT) AS account_id,
    _record->>'$.workflow_state' AS workflow_state,
    TRY_CAST(_record->>'$.start_at' AS TIMESTAMPTZ) AS start_at,
    TRY_CAST(_record->>'$.end_at' AS TIMESTAMPTZ) AS end_at,
    _source,
    _batch_id,
    _loaded_at
FROM raw.canvas_courses
