"""Sensors: start the nightly job when the SIS drops a new export."""

import json
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from models.config import PathwaysConfig
from pipelines.safeguards import blackout_skip_message, blackout_today
from pipelines.sis_assets import SIS_ASSET_NAME

SIS_DROP_SENSOR = "sis_export_drop_sensor"


def export_fingerprint(path: Path) -> tuple[str, float]:
    """Identifies one version of an export by size and modification time (file or folder);
    returns the fingerprint and the export's last modification, in seconds."""
    if path.is_dir():
        stats = [p.stat() for p in sorted(path.rglob("*")) if p.is_file()]
        size = sum(s.st_size for s in stats)
        mtime = max((s.st_mtime_ns for s in stats), default=path.stat().st_mtime_ns)
    else:
        stat = path.stat()
        size, mtime = stat.st_size, stat.st_mtime_ns
    return f"{size}:{mtime}", mtime / 1e9


def _is_export(path: Path) -> bool:
    if path.name.startswith("."):
        return False
    return (path.is_file() and path.suffix.lower() == ".zip") or (
        path.is_dir() and (path / "manifest.csv").is_file()
    )


def build_sis_drop_sensor(
    drop_folder: Path, job, settle_seconds: float = 60.0, config: PathwaysConfig | None = None
) -> dg.SensorDefinition:
    """One run per new or changed export in `drop_folder`; the cursor remembers what was seen.

    An export is only picked up once it has not changed for `settle_seconds`, so a zip still
    being copied by the SIS is not read half-written. On the blackout dates of the district's
    `config` it starts nothing, and the cursor stays put: what was dropped meanwhile is picked
    up when the window ends.
    """

    @dg.sensor(
        name=SIS_DROP_SENSOR,
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Starts the nightly job for each new OneRoster export in {drop_folder}.",
    )
    def sis_export_drop_sensor(context: dg.SensorEvaluationContext):
        window = blackout_today(config) if config is not None else None
        if window is not None:
            today = datetime.now(ZoneInfo(config.district.timezone)).date()
            return dg.SkipReason(blackout_skip_message(window, today))
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        if not drop_folder.is_dir():
            return dg.SkipReason(f"drop folder {drop_folder} does not exist yet")
        now = time.time()
        requests = []
        for path in sorted(drop_folder.iterdir()):
            if not _is_export(path):
                continue
            fingerprint, modified = export_fingerprint(path)
            if seen.get(path.name) == fingerprint or now - modified < settle_seconds:
                continue
            seen[path.name] = fingerprint
            requests.append(
                dg.RunRequest(
                    run_key=f"{path.name}:{fingerprint}",
                    run_config={"ops": {SIS_ASSET_NAME: {"config": {"path": str(path)}}}},
                    tags={"pathways/sis_export": path.name},
                )
            )
        context.update_cursor(json.dumps(seen, sort_keys=True))
        if not requests:
            return dg.SkipReason("no new SIS export in the drop folder")
        return requests

    return sis_export_drop_sensor
