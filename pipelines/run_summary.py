"""The structured summary of each nightly run that district IT read (as earthmover writes one):
`<exports>/sync/<night>/run-summary.json`, beside the sync report.

Per asset: rows in (read from the source), rows out (in its table after the run), rows loaded,
rejected, held (read but not applied because the load was held), deleted, and its status; per
source the same figures summed; and the run's id, start, end and success. It is read from the
run's own Dagster events (the metadata every asset already reports), so it is written for a
failed night too, which is when IT read it: by `pathways run` after its run, and by a run status
sensor after every scheduled or sensor-started run. The same figures are reported as the
metadata of the asset `outputs/run_summary`.
"""

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from connectors.oneroster_csv import raw_table
from models.config import PathwaysConfig
from pipelines.safeguards import night_folder, night_of

RUN_SUMMARY_KEY = dg.AssetKey(["outputs", "run_summary"])
RUN_SUMMARY_FILE = "run-summary.json"
SUMMARY_ON_SUCCESS_SENSOR = "nightly_run_summary_on_success"
SUMMARY_ON_FAILURE_SENSOR = "nightly_run_summary_on_failure"
NOT_RUN = "not run (an upstream step failed)"

# Figures an asset's metadata may carry, and their names in the summary.
_FIGURES = {
    "rows_read": "rows_in",
    "dagster/row_count": "rows_out",
    "rows_loaded": "rows_loaded",
    "rows_rejected": "rejected",
    "rows_deleted": "deleted",
}
_TOTALS = ("rows_in", "rows_loaded", "rejected", "held", "deleted")
_EVENTS = {
    dg.DagsterEventType.ASSET_MATERIALIZATION,
    dg.DagsterEventType.ASSET_CHECK_EVALUATION,
    dg.DagsterEventType.STEP_SUCCESS,
    dg.DagsterEventType.STEP_FAILURE,
    dg.DagsterEventType.STEP_SKIPPED,
}
# The SIS raw tables: their rows come from the district's SIS, whichever kind it is.
_SIS_PREFIX = "raw/oneroster_"


def run_summary(instance: dg.DagsterInstance, run_id: str) -> dict[str, Any]:
    """What one run did, from its event log: per asset, per source, per step, and in total."""
    record = instance.get_run_record_by_id(run_id)
    if record is None:
        raise ValueError(f"no run {run_id} in this Dagster instance")
    assets: dict[str, dict[str, Any]] = {}
    sources: dict[str, dict[str, int]] = {}
    steps: dict[str, str] = {}
    failures: list[dict[str, str]] = []
    for entry in instance.all_logs(run_id, of_type=_EVENTS):
        event = entry.dagster_event
        kind = event.event_type
        if kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = event.step_materialization_data.materialization
            metadata = {k: v.value for k, v in materialization.metadata.items()}
            asset = _asset(assets, materialization.asset_key.to_user_string())
            asset["status"] = str(metadata.get("status", "materialized"))
            for name, figure in _FIGURES.items():
                if isinstance(metadata.get(name), int):
                    asset[figure] = metadata[name]
            for name, value in metadata.items():
                source, _, measure = name.partition("/")
                if measure and source != "dagster" and isinstance(value, int):
                    figures = sources.setdefault(source, {})
                    figures[measure] = figures.get(measure, 0) + value
        elif kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            if not evaluation.passed:
                asset = _asset(assets, evaluation.asset_key.to_user_string())
                asset["checks_failed"].append(evaluation.check_name)
        elif kind == dg.DagsterEventType.STEP_FAILURE:
            steps[event.step_key] = "failed"
            failures.append({"step": event.step_key, "reason": failure_reason(event)})
            _held_files(assets, event)
        elif kind == dg.DagsterEventType.STEP_SUCCESS:
            steps[event.step_key] = "succeeded"
        elif kind == dg.DagsterEventType.STEP_SKIPPED:
            steps[event.step_key] = NOT_RUN
    sis = {name: 0 for name in _TOTALS}
    for key, asset in assets.items():
        if key.startswith(_SIS_PREFIX):
            for name in _TOTALS:
                sis[name] += asset.get(name) or 0
    if any(k.startswith(_SIS_PREFIX) for k in assets):
        sources = {"sis": sis, **sources}
    run = record.dagster_run
    # A step downstream of a failure never starts, so it has no event of its own: the run's
    # plan says it was meant to run.
    if run.execution_plan_snapshot_id:
        plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        for step in plan.steps:
            steps.setdefault(step.key, NOT_RUN)
    return {
        "run_id": run_id,
        "job": run.job_name,
        "status": run.status.value,
        "success": run.status == dg.DagsterRunStatus.SUCCESS,
        "started": _iso(record.start_time),
        "finished": _iso(record.end_time),
        "totals": {name: sum(a.get(name) or 0 for a in assets.values()) for name in _TOTALS},
        "sources": sources,
        "assets": dict(sorted(assets.items())),
        "steps": dict(sorted(steps.items())),
        "failures": failures,
    }


def _asset(assets: dict[str, dict[str, Any]], key: str) -> dict[str, Any]:
    return assets.setdefault(
        key,
        {
            "status": "not materialized",
            "rows_in": None,
            "rows_out": None,
            "rows_loaded": None,
            "rejected": 0,
            "held": 0,
            "deleted": 0,
            "checks_failed": [],
        },
    )


def _held_files(assets: dict[str, dict[str, Any]], event: dg.DagsterEvent) -> None:
    """A held SIS load fails its step with each file's figures: the rows read were held back."""
    failure = event.step_failure_data.user_failure_data
    if failure is None or "files" not in failure.metadata:
        return
    for file, figures in failure.metadata["files"].value.items():
        key = raw_table(file).replace(".", "/")
        asset = _asset(assets, key)
        asset["status"] = figures["status"]
        asset["rows_in"] = figures["rows_read"]
        asset["rows_loaded"] = 0
        asset["rejected"] = figures["rows_rejected"]
        if figures["status"] == "held":
            asset["held"] = figures["rows_read"] - figures["rows_rejected"]


def failure_reason(event: dg.DagsterEvent) -> str:
    """The sentence a person can act on: a Failure's description, else the root cause."""
    data = event.step_failure_data
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description
    error = data.error
    while error is not None and error.cause is not None:
        error = error.cause
    return error.message.strip() if error is not None else "unknown error"


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC).isoformat()


def write_run_summary(instance: dg.DagsterInstance, run_id: str, config: PathwaysConfig) -> Path:
    """Write the run's summary beside its night's sync report (replacing it whole) and report
    its figures as the metadata of `outputs/run_summary`; returns the file written."""
    summary = run_summary(instance, run_id)
    night = night_of(instance, run_id, config.district.timezone)
    summary = {"district": config.district.id, "night": night.isoformat(), **summary}
    folder = night_folder(config, night)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RUN_SUMMARY_FILE
    fd, tmp = tempfile.mkstemp(prefix=f".{RUN_SUMMARY_FILE}.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(summary, fh, indent=2, sort_keys=False)
            fh.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    totals = summary["totals"]
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=RUN_SUMMARY_KEY,
            description=f"Summary of run {run_id} ({summary['status']})",
            metadata={
                "run_id": run_id,
                "night": summary["night"],
                "success": summary["success"],
                "path": dg.MetadataValue.path(str(path)),
                **{name: int(value) for name, value in totals.items()},
                "sources": dg.MetadataValue.json(summary["sources"]),
                "assets": dg.MetadataValue.json(summary["assets"]),
            },
        )
    )
    return path


def build_run_summary_sensors(job, config: PathwaysConfig) -> list[dg.SensorDefinition]:
    """After every nightly run, successful or not, write its summary (scheduled and sensor
    runs; `pathways run` writes its own)."""

    def summarize(context: dg.RunStatusSensorContext):
        path = write_run_summary(context.instance, context.dagster_run.run_id, config)
        context.log.info(f"run summary of {context.dagster_run.run_id} written to {path}")

    return [
        dg.run_status_sensor(
            run_status=status,
            name=name,
            monitored_jobs=[job],
            default_status=dg.DefaultSensorStatus.RUNNING,
            description=f"Writes the run summary JSON after each {word} nightly run.",
        )(summarize)
        for status, name, word in (
            (dg.DagsterRunStatus.SUCCESS, SUMMARY_ON_SUCCESS_SENSOR, "successful"),
            (dg.DagsterRunStatus.FAILURE, SUMMARY_ON_FAILURE_SENSOR, "failed"),
        )
    ]
