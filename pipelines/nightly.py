"""Everything Dagster runs for one district: its assets, the nightly job, schedule and sensor.

`pipelines/definitions.py` builds these for the code location; the CLI builds them for any
config it is given.
"""

import dagster as dg

from models.config import BadgeFilesSource, OneRosterCsvSource, PathwaysConfig
from pipelines.api_sources import build_api_source_assets
from pipelines.credential_assets import build_badge_files_asset, build_credential_checks_asset
from pipelines.exports import LEARNER_RECORDS_KEY, build_learner_records_asset
from pipelines.publish import build_publish_asset
from pipelines.sensors import build_sis_drop_sensor
from pipelines.sis_assets import build_sis_assets
from pipelines.sql_models import build_sql_assets
from pipelines.warehouse import WarehouseResource

NIGHTLY_JOB = "nightly"
NIGHTLY_SCHEDULE = "nightly_schedule"


def build_definitions(config: PathwaysConfig, drop_settle_seconds: float = 60.0) -> dg.Definitions:
    """Everything Dagster runs for one district."""
    sis_assets = build_sis_assets(config.sources.sis)
    badge_folders = tuple(s for s in config.sources.credentials if isinstance(s, BadgeFilesSource))
    api_assets = build_api_source_assets(config.sources.api_sources)
    # Always there, so core.credentials builds (empty) for a district with no badge platform.
    credential_assets = [build_credential_checks_asset(config.verification)]
    if badge_folders:
        credential_assets.append(build_badge_files_asset(badge_folders))
    sql_assets = build_sql_assets()
    # Always there, so marts.learner_records builds (empty) for a district that exports nothing.
    learner_records = build_learner_records_asset(config)
    publish = build_publish_asset(
        config.warehouse,
        [*(key for asset in sql_assets for key in asset.keys), LEARNER_RECORDS_KEY],
    )
    # In-process: one process holds the warehouse for the whole night, so DuckDB's single
    # writer is never contended; the pool covers runs started side by side (sensor + schedule).
    nightly = dg.define_asset_job(
        NIGHTLY_JOB,
        selection=dg.AssetSelection.all(),
        executor_def=dg.in_process_executor,
        description="The whole night: SIS export, LMS and credential platforms → raw → "
        "verified credentials → staging → core → marts → signed learner records → published copy.",
    )
    schedule = dg.ScheduleDefinition(
        name=NIGHTLY_SCHEDULE,
        job=nightly,
        cron_schedule=config.schedule.cron,
        execution_timezone=config.district.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Every night for {config.district.name}, in {config.district.timezone}.",
    )
    sensors = []
    sis = config.sources.sis
    # Only an export is dropped in a folder; a SIS database is read on the schedule.
    if isinstance(sis, OneRosterCsvSource) and sis.drop_folder is not None:
        sensors.append(build_sis_drop_sensor(sis.drop_folder, nightly, drop_settle_seconds))
    return dg.Definitions(
        assets=[
            sis_assets,
            *api_assets,
            *credential_assets,
            *sql_assets,
            learner_records,
            publish,
        ],
        jobs=[nightly],
        schedules=[schedule],
        sensors=sensors,
        resources={
            "warehouse": WarehouseResource(
                database=str(config.warehouse.path),
                connection_config={"memory_limit": config.warehouse.memory_limit},
            )
        },
    )
