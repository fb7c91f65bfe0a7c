"""Everything Dagster runs for one district: its assets, the nightly job, schedule and sensor.

`pipelines/definitions.py` builds these for the code location; the CLI builds them for any
config it is given.
"""

import dagster as dg

from models.config import BadgeFilesSource, OneRosterCsvSource, PathwaysConfig
from pipelines.api_sources import build_api_source_assets
from pipelines.credential_assets import build_badge_files_asset, build_credential_checks_asset
from pipelines.dashboard import with_dashboard
from pipelines.equity import EQUITY_METRICS_KEY, build_equity_metrics_asset
from pipelines.exports import LEARNER_RECORDS_KEY, build_learner_records_asset
from pipelines.interoperability_assets import DATA_INVENTORY_KEY, build_interoperability_assets
from pipelines.publish import build_publish_asset
from pipelines.readiness import READINESS_KEYS, build_readiness_asset
from pipelines.run_summary import build_run_summary_sensors
from pipelines.safeguards import build_nightly_schedule
from pipelines.sensors import build_sis_drop_sensor
from pipelines.sis_assets import build_sis_assets
from pipelines.sql_models import build_sql_assets
from pipelines.sync_report import build_sync_report_asset
from pipelines.transparency import build_public_notice_asset, build_transparency_assets
from pipelines.warehouse import WarehouseResource

NIGHTLY_JOB = "nightly"
NIGHTLY_SCHEDULE = "nightly_schedule"


def build_definitions(config: PathwaysConfig, drop_settle_seconds: float = 60.0) -> dg.Definitions:
    """Everything Dagster runs for one district."""
    sis_assets = build_sis_assets(config.sources.sis, config)
    badge_folders = tuple(s for s in config.sources.credentials if isinstance(s, BadgeFilesSource))
    api_assets = build_api_source_assets(config.sources.api_sources)
    # Always there, so core.credentials builds (empty) for a district with no badge platform.
    credential_assets = [build_credential_checks_asset(config.verification)]
    if badge_folders:
        credential_assets.append(build_badge_files_asset(badge_folders))
    sql_assets = build_sql_assets()
    # Always there, so marts.learner_records builds (empty) for a district that exports nothing.
    learner_records = build_learner_records_asset(config)
    # The inventory waits for every raw table, so it sees all that was collected tonight.
    data_inventory, transparency_findings = build_transparency_assets(
        config,
        [
            key
            for asset in (sis_assets, *api_assets, *credential_assets)
            for key in asset.keys
            if key.path[0] == "raw"
        ],
    )
    # The scorecard waits for the inventory (not for its blocking check), and the readiness
    # scoring for the scorecard's two data indicators.
    interoperability = build_interoperability_assets(config, with_inventory=True)
    readiness = build_readiness_asset(config, infrastructure_levels_in_graph=True)
    publish = build_publish_asset(
        config.warehouse,
        [
            *(key for asset in sql_assets for key in asset.keys),
            LEARNER_RECORDS_KEY,
            DATA_INVENTORY_KEY,
            EQUITY_METRICS_KEY,
            *interoperability.keys,
            *READINESS_KEYS,
        ],
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
    # Skips blackout dates (schedule.blackout) with the window and its reason.
    schedule = build_nightly_schedule(NIGHTLY_SCHEDULE, nightly, config)
    # The run summary is written after every nightly run, failed ones too.
    sensors = build_run_summary_sensors(nightly, config)
    sis = config.sources.sis
    # Only an export is dropped in a folder; a SIS database is read on the schedule.
    if isinstance(sis, OneRosterCsvSource) and sis.drop_folder is not None:
        sensors.append(build_sis_drop_sensor(sis.drop_folder, nightly, drop_settle_seconds, config))
    night = with_dashboard(
        config,
        [
            sis_assets,
            build_sync_report_asset(config),
            *api_assets,
            *credential_assets,
            *sql_assets,
            learner_records,
            build_equity_metrics_asset(config),
            interoperability,
            readiness,
            publish,
            data_inventory,
        ],
    )
    # After the dashboard's list: a failing transparency check holds the public notice, never
    # the dashboard. The notice's data dictionary documents every marts table of the night.
    night += [
        transparency_findings,
        build_public_notice_asset(
            config, [key for asset in night for key in asset.keys if key.path[0] == "marts"]
        ),
    ]
    return dg.Definitions(
        assets=night,
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
