-- The district's score scales (rubrics, letter grades): one row per scale with its values.
--
-- One row per live record; tombstoned rows of a delta load are gone. Columns are the spec's,
-- renamed to snake_case and typed (lists as VARCHAR[], booleans, dates); `metadata` keeps the
-- file's extension columns as JSON and the `_` columns say which file, line and load each row
-- came from.
--
-- score_scale_value: the scale's {label:value} items

SELECT
    "sourcedId" AS sourced_id,
    CAST("dateLastModified" AS TIMESTAMPTZ) AS date_last_modified,
    "title",
    "type",
    "orgSourcedId" AS org_sourced_id,
    "courseSourcedId" AS course_sourced_id,
    "classSourcedId" AS class_sourced_id,
    [trim(x) FOR x IN string_split("scoreScaleValue", ',') IF trim(x) <> ''] AS score_scale_value,
    metadata,
    _source,
    _file,
    _line,
    _batch_id,
    _loaded_at,
    _oneroster_version
FROM raw.oneroster_score_scales
-- Live rows only: a delta load marks a deleted record `tobedeleted`; bulk rows have no status.
WHERE coalesce("status", 'active') = 'active'
