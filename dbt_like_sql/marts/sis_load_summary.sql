-- How much of the district's SIS roster is in the warehouse tonight: one row per OneRoster file,
-- with the rows that are live in staging, the tombstones that deleted records, and the load
-- the newest rows came from. Read by district IT to see at a glance which files tonight's
-- export brought and how much of each is live; a file the export did not include shows zero
-- rows or the load it last came in.
--
-- file: the OneRoster file name, e.g. users.csv
-- live_rows: live records in the file's staging table (tombstones excluded)
-- tombstoned_rows: records a delta load marked tobedeleted, kept in raw for the audit trail
-- latest_loaded_at: when the newest row of the file was loaded
-- latest_batch_id: the load (batch) that newest row came from
-- oneroster_version: the OneRoster version (1.1 or 1.2) of that load

WITH raw_files AS (
    SELECT
        'academicSessions.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_academic_sessions
    UNION ALL
    SELECT
        'categories.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_categories
    UNION ALL
    SELECT
        'classResources.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_class_resources
    UNION ALL
    SELECT
        'classes.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_classes
    UNION ALL
    SELECT
        'courseResources.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_course_resources
    UNION ALL
    SELECT
        'courses.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_courses
    UNION ALL
    SELECT
        'demographics.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_demographics
    UNION ALL
    SELECT
        'enrollments.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_enrollments
    UNION ALL
    SELECT
        'lineItemLearningObjectiveIds.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_line_item_learning_objective_ids
    UNION ALL
    SELECT
        'lineItemScoreScales.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_line_item_score_scales
    UNION ALL
    SELECT
        'lineItems.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_line_items
    UNION ALL
    SELECT
        'orgs.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_orgs
    UNION ALL
    SELECT
        'resources.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_resources
    UNION ALL
    SELECT
        'resultLearningObjectiveIds.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_result_learning_objective_ids
    UNION ALL
    SELECT
        'resultScoreScales.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_result_score_scales
    UNION ALL
    SELECT
        'results.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_results
    UNION ALL
    SELECT
        'roles.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_roles
    UNION ALL
    SELECT
        'scoreScales.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_score_scales
    UNION ALL
    SELECT
        'userProfiles.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_user_profiles
    UNION ALL
    SELECT
        'userResources.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_user_resources
    UNION ALL
    SELECT
        'users.csv' AS file,
        count(*) FILTER (WHERE "status" = 'tobedeleted') AS tombstoned_rows,
        max(_loaded_at) AS latest_loaded_at,
        arg_max(_batch_id, _loaded_at) AS latest_batch_id,
        arg_max(_oneroster_version, _loaded_at) AS oneroster_version
    FROM raw.oneroster_users
),

live_files AS (
    SELECT 'academicSessions.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__academic_sessions
    UNION ALL
    SELECT 'categories.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__categories
    UNION ALL
    SELECT 'classResources.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__class_resources
    UNION ALL
    SELECT 'classes.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__classes
    UNION ALL
    SELECT 'courseResources.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__course_resources
    UNION ALL
    SELECT 'courses.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__courses
    UNION ALL
    SELECT 'demographics.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__demographics
    UNION ALL
    SELECT 'enrollments.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__enrollments
    UNION ALL
    SELECT 'lineItemLearningObjectiveIds.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__line_item_learning_objective_ids
    UNION ALL
    SELECT 'lineItemScoreScales.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__line_item_score_scales
    UNION ALL
    SELECT 'lineItems.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__line_items
    UNION ALL
    SELECT 'orgs.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__orgs
    UNION ALL
    SELECT 'resources.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__resources
    UNION ALL
    SELECT 'resultLearningObjectiveIds.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__result_learning_objective_ids
    UNION ALL
    SELECT 'resultScoreScales.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__result_score_scales
    UNION ALL
    SELECT 'results.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__results
    UNION ALL
    SELECT 'roles.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__roles
    UNION ALL
    SELECT 'scoreScales.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__score_scales
    UNION ALL
    SELECT 'userProfiles.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__user_profiles
    UNION ALL
    SELECT 'userResources.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__user_resources
    UNION ALL
    SELECT 'users.csv' AS file, count(*) AS live_rows
    FROM staging.stg_oneroster__users
)

SELECT
    r.file,
    l.live_rows,
    r.tombstoned_rows,
    r.latest_loaded_at,
    r.latest_batch_id,
    r.oneroster_version
FROM raw_files AS r
INNER JOIN live_files AS l ON l.file = r.file
