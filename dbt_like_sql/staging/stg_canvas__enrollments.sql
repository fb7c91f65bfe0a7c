-- Who is in which Canvas course in which role: one row per Canvas enrollment, in every state, so
-- that a learner who dropped (deleted, inactive, completed) is seen as such, not as missing.
--
-- Typed from the JSON Canvas sent (`raw.canvas_enrollments._record`); the `_` columns say which
-- source and sync last changed it.
--
-- id: Canvas's id of the enrollment
-- course_id: the Canvas course (see stg_canvas__courses)
-- course_section_id: the Canvas section within the course
-- user_id: the Canvas user enrolled (see stg_canvas__users)
-- sis_user_id: the SIS sourcedId of the user; NULL when Canvas has none (guests, hand-made accounts)
-- sis_course_id: the SIS class sourcedId of the course
-- sis_section_id: the SIS id of the section
-- type: StudentEnrollment, TeacherEnrollment, TaEnrollment, DesignerEnrollment or ObserverEnrollment
-- role: the enrollment's role name (a custom role, or the type for the built-in ones)
-- enrollment_state: active, invited, creation_pending, completed, inactive, deleted or rejected
-- created_at: when the enrollment was made
-- updated_at: when the enrollment last changed (e.g. the moment of a drop)
-- _source: the Canvas source's name in pathways.yaml
-- _batch_id: the sync that last changed the row in raw
-- _loaded_at: when this record last changed in raw

SELECT
    CAST(_record->>'$.id' AS BIGINT) AS id,
    CAST(_record->>'$.course_id' AS BIGINT) AS course_id,
    CAST(_record->>'$.course_section_id' AS BIGINT) AS course_section_id,
    CAST(_record->>'$.user_id' AS BIGINT) AS user_id,
    _record->>'$.sis_user_id' AS sis_user_id,
    _record->>'$.sis_course_id' AS sis_course_id,
    _record->>'$.sis_section_id' AS sis_section_id,
    _record->>'$.type' AS type,
    _record->>'$.role' AS role,
    _record->>'$.enrollment_state' AS enrollment_state,
    TRY_CAST(_record->>'$.created_at' AS TIMESTAMPTZ) AS created_at,
    TRY_CAST(_record->>'$.updated_at' AS TIMESTAMPTZ) AS updated_at,
    _source,
    _batch_id,
    _loaded_at
FROM raw.canvas_enrollments
