-- The learning outcomes (competencies) linked in the Canvas courses Pathways pulls: one row per
-- outcome of each Canvas source however many courses link it, with its mastery scale and how
-- its scores roll up.
--
-- Typed from the JSON Canvas sent (`raw.canvas_outcomes._record`); the `_` columns say which
-- source and sync last changed it.
--
-- id: Canvas's id of the outcome
-- title: the outcome's title
-- display_name: a friendlier name, if set
-- vendor_guid: the outcome's id in the framework it was imported from (e.g. a CASE item id)
-- mastery_points: the score at or above which a learner has mastered the outcome
-- points_possible: the top of the outcome's scale
-- calculation_method: how scores roll up: decaying_average, standard_decaying_average, n_mastery, latest, highest or average
-- calculation_int: the method's parameter (the weight of the latest score in %, or n for n_mastery)
-- ratings: JSON list of the scale's levels (description, points)
-- context_type: where the outcome is defined: Account or Course
-- context_id: the id of that account or course
-- _source: the Canvas source's name in pathways.yaml
-- _batch_id: the sync that last changed the row in raw
-- _loaded_at: when this record last changed in raw

SELECT
    CAST(_record->>'$.id' AS BIGINT) AS id,
    _record->>'$.title' AS title,
    _record->>'$.display_name' AS display_name,
    _record->>'$.vendor_guid' AS vendor_guid,
    TRY_CAST(_record->>'$.mastery_points' AS DOUBLE) AS mastery_points,
    TRY_CAST(_record->>'$.points_possible' AS DOUBLE) AS points_possible,
    _record->>'$.calculation_method' AS calculation_method,
    TRY_CAST(_record->>'$.calculation_int' AS BIGINT) AS calculation_int,
    _record->'$.ratings' AS ratings,
    _record->>'$.context_type' AS context_type,
    CAST(_record->>'$.context_id' AS BIGINT) AS context_id,
    _source,
    _batch_id,
    _loaded_at
FROM raw.canvas_outcomes
