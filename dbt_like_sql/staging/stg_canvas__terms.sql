-- Canvas enrollment terms: one row per term of each Canvas source, as the account lists them.
-- The SIS term id links a Canvas term to the SIS academic session it was created from.
--
-- Typed from the JSON Canvas sent (`raw.canvas_terms._record`); the `_` columns say which
-- source and sync last changed it.
--
-- id: Canvas's id of the term
-- sis_term_id: the SIS academic session's sourcedId; NULL for terms made in Canvas by hand
-- name: the term's name as Canvas shows it
-- start_at: when the term starts; NULL means open at the start
-- end_at: when the term ends (exclusive); NULL means open at the end
-- workflow_state: active or deleted
-- _source: the Canvas source's name in pathways.yaml
-- _batch_id: the sync that last changed the row in raw
-- _loaded_at: when this record last changed in raw

SELECT
    CAST(_record->>'$.id' AS BIGINT) AS id,
    _record->>'$.sis_term_id' AS sis_term_id,
    _record->>'$.name' AS name,
    TRY_CAST(_record->>'$.start_at' AS TIMESTAMPTZ) AS start_at,
    TRY_CAST(_record->>'$.end_at' AS TIMESTAMPTZ) AS end_at,
    _record->>'$.workflow_state' AS workflow_state,
    _source,
    _batch_id,
    _loaded_at
FROM raw.canvas_terms
