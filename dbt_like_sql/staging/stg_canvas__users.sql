-- The people enrolled in the Canvas courses Pathways pulls: one row per Canvas user of each
-- Canvas source, taken from the user object Canvas embeds in every enrollment (from the most
-- recently changed of their enrollments). Holds names and sign-in names, so it stays in
-- staging; core models carry only the ids. Canvas does not embed emails here, so there are none.
--
-- Typed from the JSON Canvas sent (`raw.canvas_enrollments._record.user`); the `_` columns say
-- which source and sync last changed it.
--
-- id: Canvas's id of the user
-- sis_user_id: the SIS sourcedId of the user (from the enrollment when the user object lacks it); NULL for guests and hand-made accounts
-- username: Canvas login_id, the sign-in name (often the SIS username); personal
-- name: the user's full name; personal
-- sortable_name: the name as "Last, First"; personal
-- short_name: the name Canvas shows in short lists; personal
-- _source: the Canvas source's name in pathways.yaml
-- _batch_id: the sync that last changed the row in raw
-- _loaded_at: when the enrollment this row comes from last changed in raw

SELECT
    CAST(_record->>'$.user.id' AS BIGINT) AS id,
    coalesce(_record->>'$.user.sis_user_id', _record->>'$.sis_user_id') AS sis_user_id,
    _record->>'$.user.login_id' AS username,
    _record->>'$.user.name' AS name,
    _record->>'$.user.sortable_name' AS sortable_name,
    _record->>'$.user.short_name' AS short_name,
    _source,
    _batch_id,
    _loaded_at
FROM raw.canvas_enrollments
WHERE _record->>'$.user.id' IS NOT NULL
-- One row per user: the user object of their most recently changed enrollment.
QUALIFY row_number() OVER (
    PARTITION BY _source, CAST(_record->>'$.user.id' AS BIGINT)
    ORDER BY TRY_CAST(_record->>'$.updated_at' AS TIMESTAMPTZ) DESC NULLS LAST,
        CAST(_record->>'$.id' AS BIGINT) DESC
) = 1
