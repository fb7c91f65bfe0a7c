"""Sync safeguards district IT expect from a roster tool: blackout dates on which the nightly
sync does not run, and where a night's sync report and run summary are written.

The deletion-spike hold itself lives with the loader (`connectors/oneroster_csv.py`), the sync
report in `pipelines/sync_report.py`, the run summary in `pipelines/run_summary.py`.
"""

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from models.config import BlackoutWindow, PathwaysConfig

# Beside the learner-record nights in the exports folder, not inside them: a night folder there
# belongs to the learner-record exporter (written whole, renamed into place, `<date>.2` when it
# exists already, pruned after `keep_nights`), so the sync files keep a folder of their own.
SYNC_FOLDER = "sync"


def exports_dir(config: PathwaysConfig) -> Path:
    """The district's exports folder: `exports.out_dir`, or `exports/` beside the warehouse
    folder (the default `exports.out_dir` has) when the district exports no learner records."""
    if config.exports is not None and config.exports.out_dir is not None:
        return config.exports.out_dir
    return config.warehouse.path.parent.parent / "exports"


def night_of(instance: dg.DagsterInstance, run_id: str, timezone: str) -> date:
    """The night a run belongs to: the date, in the district's time zone, it was created."""
    record = instance.get_run_record_by_id(run_id)
    created = record.create_timestamp if record is not None else datetime.now(ZoneInfo("UTC"))
    return created.astimezone(ZoneInfo(timezone)).date()


def night_folder(config: PathwaysConfig, night: date) -> Path:
    """Where a night's sync report and run summary go: `<exports>/sync/<YYYY-MM-DD>/`."""
    return exports_dir(config) / SYNC_FOLDER / night.isoformat()


def blackout_today(config: PathwaysConfig, now: datetime | None = None) -> BlackoutWindow | None:
    """The blackout window `now` (default: this moment) falls in, in the district's time zone."""
    zone = ZoneInfo(config.district.timezone)
    day = (now or datetime.now(zone)).astimezone(zone).date()
    return config.schedule.blackout_on(day)


def blackout_skip_message(window: BlackoutWindow, day: date) -> str:
    """Why nothing runs tonight, as the schedule, the sensor and the CLI say it."""
    return (
        f"{day} is in the blackout window {window.describe()}: the nightly sync does not run "
        "(schedule.blackout in pathways.yaml)"
    )


def build_nightly_schedule(name: str, job, config: PathwaysConfig) -> dg.ScheduleDefinition:
    """The nightly schedule: the configured cron in the district's time zone, skipped with the
    window and its reason on blackout dates."""
    timezone = config.district.timezone

    @dg.schedule(
        name=name,
        job=job,
        cron_schedule=config.schedule.cron,
        execution_timezone=timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=f"Every night for {config.district.name}, in {timezone}"
        + (", except on blackout dates." if config.schedule.blackout else "."),
    )
    def _nightly(context: dg.ScheduleEvaluationContext):
        tick = context.scheduled_execution_time or datetime.now(ZoneInfo(timezone))
        day = tick.astimezone(ZoneInfo(timezone)).date()
        window = config.schedule.blackout_on(day)
        if window is not None:
            return dg.SkipReason(blackout_skip_message(window, day))
        return dg.RunRequest()

    return _nightly
