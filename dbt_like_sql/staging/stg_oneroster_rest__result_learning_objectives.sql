-- A learner's score on one learning objective within one gradebook result, from the
-- learningObjectiveSet of the results of the district's OneRoster 1.2 REST service: one row per
-- live result x objective. The most precise competency evidence the service sends.
--
-- Read from raw.oneroster_rest_results, where each record is kept as JSON exactly as received.
-- Columns are named as in the CSV staging (stg_oneroster__result_learning_objective_ids) so the two
-- can be unioned by name. One row per objective of a live result: a record the service marked
-- `tobedeleted` stays in raw, with its status, but is left out here, as the CSV staging leaves out
-- tombstoned rows. A value that does not parse as its type becomes NULL here; raw keeps it as sent.
-- The REST binding nests the scores in the result, without sourcedIds of their own, so there is no
-- sourced_id.
--
-- result_sourced_id: the sourcedId of the result
-- date_last_modified: when the service last changed the result
-- source: where the objective is defined: 'case' (a CASE item URN), 'unknown', or an ext: value
-- learning_objective_id: the objective's identifier in that source
-- score: the score on this objective
-- text_score: a non-numeric score (e.g. 'Proficient')
-- _source: the source's name in pathways.yaml
-- _batch_id: the sync that last changed the result
-- _loaded_at: when the result last changed
-- _oneroster_version: the OneRoster version of the service (always 1.2: the v1p2 endpoints)

SELECT
    r._record ->> '$.sourcedId' AS result_sourced_id,
    TRY_CAST(r._record ->> '$.dateLastModified' AS TIMESTAMPTZ) AS date_last_modified,
    s.objective_set ->> '$.source' AS source,
    o.objective ->> '$.learningObjectiveId' AS learning_objective_id,
    TRY_CAST(o.objective ->> '$.score' AS DOUBLE) AS score,
    o.objective ->> '$.textScore' AS text_score,
    r._source,
    r._batch_id,
    r._loaded_at,
    '1.2' AS _oneroster_version
FROM raw.oneroster_rest_results AS r,
    unnest(TRY_CAST(r._record -> '$.learningObjectiveSet' AS JSON [])) AS s (objective_set),
    unnest(TRY_CAST(s.objective_set -> '$.learningObjectiveResults' AS JSON [])) AS o (objective)
-- Live results only: the service marks a deleted result `tobedeleted` (raw keeps it).
WHERE coalesce(r._record ->> '$.status', 'active') = 'active'
