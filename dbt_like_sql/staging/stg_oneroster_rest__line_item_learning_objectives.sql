-- Which learning objectives (competencies) each gradebook line item assesses, from the
-- learningObjectiveSet of the line items of the district's OneRoster 1.2 REST service: one row per
-- live line item x objective. A line item listed here makes its class competency-based.
--
-- Read from raw.oneroster_rest_line_items, where each record is kept as JSON exactly as received.
-- Columns are named as in the CSV staging (stg_oneroster__line_item_learning_objective_ids) so the
-- two can be unioned by name. One row per objective of a live line item: a record the service
-- marked `tobedeleted` stays in raw, with its status, but is left out here, as the CSV staging
-- leaves out tombstoned rows. A value that does not parse as its type becomes NULL here; raw keeps
-- it as sent. The REST binding nests the objectives in the line item, without sourcedIds of their
-- own, so there is no sourced_id.
--
-- line_item_sourced_id: the sourcedId of the line item
-- date_last_modified: when the service last changed the line item
-- source: where the objective is defined: 'case' (a CASE item URN), 'unknown', or an ext: value
-- learning_objective_id: the objective's identifier in that source
-- _source: the source's name in pathways.yaml
-- _batch_id: the sync that last changed the line item
-- _loaded_at: when the line item last changed
-- _oneroster_version: the OneRoster version of the service (always 1.2: the v1p2 endpoints)

SELECT
    li._record ->> '$.sourcedId' AS line_item_sourced_id,
    TRY_CAST(li._record ->> '$.dateLastModified' AS TIMESTAMPTZ) AS date_last_modified,
    s.objective_set ->> '$.source' AS source,
    o.learning_objective_id,
    li._source,
    li._batch_id,
    li._loaded_at,
    '1.2' AS _oneroster_version
FROM raw.oneroster_rest_line_items AS li,
    unnest(TRY_CAST(li._record -> '$.learningObjectiveSet' AS JSON [])) AS s (objective_set),
    unnest(TRY_CAST(s.objective_set -> '$.learningObjectiveIds' AS VARCHAR []))
        AS o (learning_objective_id)
-- Live line items only: the service marks a deleted one `tobedeleted` (raw keeps it).
WHERE coalesce(li._record ->> '$.status', 'active') = 'active'
