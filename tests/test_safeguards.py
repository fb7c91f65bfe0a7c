"""Sync safeguards district IT expect from a roster tool: per-entity deletion holds approved by
naming the held batch, blackout dates, the per-entity sync report and the nightly run summary.

The nights here are real: a small OneRoster district (tests/oneroster_builders.py) through the
whole nightly job into a temporary DuckDB, as tests/test_nightly.py runs it.
"""

import csv
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
from oneroster_builders import district_1p2, write_package

from connectors.oneroster_csv import (
    OneRosterCsvSettings,
    OneRosterLoad,
    load_oneroster_csv,
    raw_table,
)
from models.config import ConfigError, load_config
from pipelines.cli import main
from pipelines.nightly import NIGHTLY_JOB, NIGHTLY_SCHEDULE, build_definitions
from pipelines.run_summary import RUN_SUMMARY_KEY, SUMMARY_ON_FAILURE_SENSOR
from pipelines.sensors import SIS_DROP_SENSOR

TONIGHT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
DENVER = ZoneInfo("America/Denver")


def district_config(folder: Path, sis: Path, extra: str = "", sis_extra: str = "") -> Path:
    """A district with only a OneRoster export (no LMS, no badges, no learner records)."""
    config = folder / "pathways.yaml"
    config.write_text(
        "district: {id: riverside, name: Riverside USD, timezone: America/Denver}\n"
        "warehouse: {path: w/warehouse.duckdb, published_path: p/warehouse.duckdb}\n"
        f"sources:\n  sis: {{kind: oneroster_csv, path: {sis}{sis_extra}}}\n" + extra,
        encoding="utf-8",
    )
    return config


def query(config_path: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(load_config(config_path).warehouse.path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def sync_folder(config_path: Path) -> Path:
    """The only night folder of sync files the district has."""
    nights = sorted((config_path.parent / "exports" / "sync").iterdir())
    assert len(nights) == 1, nights
    return nights[0]


def report_rows(config_path: Path, entity: str) -> list[dict[str, str]]:
    path = sync_folder(config_path) / "sync-report" / f"{entity}.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def without_learners(students: int, gone: set[str]) -> dict:
    """The district with some learners left out of every file that names them."""
    district = district_1p2(students=students)
    for file, rows in district.items():
        district[file] = [
            r
            for r in rows
            if not gone & {r.get("sourcedId"), r.get("userSourcedId"), r.get("studentSourcedId")}
        ]
    return district


# --- deletion holds ------------------------------------------------------------------------------


def test_a_deletion_spike_is_held_and_an_explicit_approval_of_its_batch_applies_it(
    tmp_path, capsys
):
    sis = write_package(tmp_path / "sis", district_1p2(students=10))
    config = district_config(tmp_path, sis)
    assert main(["run", "--config", str(config)]) == 0
    capsys.readouterr()
    gone = {"stu-7", "stu-8", "stu-9", "stu-10"}
    write_package(sis, without_learners(10, gone))

    assert main(["run", "--config", str(config)]) == 1
    held_output = " ".join(capsys.readouterr().out.split())
    (batch,) = {
        b
        for (b,) in query(
            config, "SELECT DISTINCT batch_id FROM audit.sis_loads WHERE status = 'held'"
        )
    }
    assert f"pathways run --approve-deletions {batch}" in held_output
    assert "40% of active learners (4 of 10)" in held_output
    assert len(query(config, f"SELECT * FROM {raw_table('users.csv')}")) == 12  # nothing applied
    (held,) = report_rows(config, "users")
    assert (held["status"], held["sourced_id"], held["field"]) == ("held", "", "")
    assert (
        "would remove 33% of the active records (4 of 12), above the 20% limit" in (held["message"])
    )
    summary = json.loads((sync_folder(config) / "run-summary.json").read_text())
    assert summary["success"] is False
    assert summary["assets"]["raw/oneroster_users"]["status"] == "held"
    assert summary["assets"]["raw/oneroster_users"]["held"] == 8
    assert summary["sources"]["sis"]["held"] > 0

    assert main(["run", "--config", str(config), "--approve-deletions", "0123456789abcdef"]) == 1
    wrong = " ".join(capsys.readouterr().out.split())
    assert f"tonight's batch is '{batch}': the approval does nothing" in wrong
    assert len(query(config, f"SELECT * FROM {raw_table('users.csv')}")) == 12

    assert main(["run", "--config", str(config), "--approve-deletions", batch]) == 0
    users = {u for (u,) in query(config, 'SELECT "sourcedId" FROM raw.oneroster_users')}
    assert users.isdisjoint(gone) and len(users) == 8
    approvals = query(
        config,
        "SELECT entity, removed, active_before, approved_by FROM audit.sis_deletion_checks "
        "WHERE outcome = 'approved' AND batch_id = ? ORDER BY entity",
        [batch],
    )
    assert ("learners", 4, 10) in [a[:3] for a in approvals]
    assert ("users", 4, 12) in [a[:3] for a in approvals]
    assert all("pathways run --approve-deletions" in a[3] for a in approvals)
    deleted = [r for r in report_rows(config, "users") if r["status"] == "deleted"]
    assert sorted(r["sourced_id"] for r in deleted) == sorted(gone)
    assert all(r["field"] == "" and "not in tonight's bulk file" in r["message"] for r in deleted)


def load(con, path: Path, run_id: str, **settings) -> OneRosterLoad:
    return load_oneroster_csv(con, OneRosterCsvSettings(path=path, **settings), run_id, TONIGHT)


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def test_approving_a_batch_other_than_tonights_changes_nothing(tmp_path, con):
    load(con, write_package(tmp_path / "n1", district_1p2(students=10)), "run-1")
    spike = write_package(tmp_path / "n2", without_learners(10, {"stu-8", "stu-9", "stu-10"}))

    result = load(con, spike, "run-2", approve_deletions_for_batch="0123456789abcdef")

    assert result.held and not result.approved
    assert len(con.execute("SELECT * FROM raw.oneroster_users").fetchall()) == 12
    assert con.execute(
        "SELECT DISTINCT outcome FROM audit.sis_deletion_checks WHERE run_id = 'run-2' "
        "AND entity = 'users'"
    ).fetchall() == [("held",)]


def test_a_file_removing_more_than_its_own_share_holds_the_export(tmp_path, con):
    district = district_1p2(students=6)
    load(con, write_package(tmp_path / "n1", district), "run-1")
    # One of the two academic sessions ends (50%): above a 30% share, within the default.
    district["academicSessions.csv"] = district["academicSessions.csv"][:1]
    district["classes.csv"] = [{**c, "termSourcedIds": "as-2025"} for c in district["classes.csv"]]
    district["lineItems.csv"] = [
        {**i, "academicSessionSourcedId": "as-2025"} for i in district["lineItems.csv"]
    ]
    nightly = write_package(tmp_path / "n2", district)

    held = load(con, nightly, "run-2", max_deletion_shares={"academicSessions": 0.3})
    applied = load(con, nightly, "run-3", max_deletion_shares={"academicSessions": 0.6})

    assert held.held
    assert "50% of active academicSessions (1 of 2), above the 30% limit" in held.message
    assert "learners" not in held.message
    assert not applied.held
    assert [c.entity for c in applied.deletions if c.removed] == ["academicSessions"]
    assert con.execute(
        "SELECT sourced_id, how FROM audit.sis_deleted_records WHERE run_id = 'run-3'"
    ).fetchall() == [("as-fall", "absent")]


def test_a_record_marked_tobedeleted_counts_as_removed(tmp_path, con):
    district = district_1p2(students=4)
    load(con, write_package(tmp_path / "n1", district), "run-1")
    district["orgs.csv"] = [
        {**o, "status": "tobedeleted"} if o["sourcedId"] == "org-ms" else o
        for o in district["orgs.csv"]
    ]

    result = load(
        con, write_package(tmp_path / "n2", district), "run-2", max_deletion_shares={"orgs": 0.5}
    )

    assert not result.held, result.message
    orgs = next(c for c in result.deletions if c.entity == "orgs")
    assert (orgs.removed, orgs.active_before) == (1, 3)
    assert con.execute(
        "SELECT file, sourced_id, how FROM audit.sis_deleted_records WHERE run_id = 'run-2'"
    ).fetchall() == [("orgs.csv", "org-ms", "tobedeleted")]


def test_the_first_night_makes_no_deletion_check(tmp_path, con):
    result = load(con, write_package(tmp_path / "n1", district_1p2(students=3)), "run-1")

    assert not result.held and result.deletions == []


def test_a_per_entity_share_for_an_unknown_entity_is_a_config_error_with_a_suggestion(tmp_path):
    config = district_config(tmp_path, tmp_path, sis_extra=", max_deletion_shares: {user: 0.3}")

    with pytest.raises(
        ConfigError, match=r"'user' is not a OneRoster entity; did you mean 'users'"
    ):
        load_config(config)


# --- blackout dates ------------------------------------------------------------------------------

SUMMER = (
    "schedule:\n  blackout:\n    - {start: 2027-06-20, end: 2027-08-10, reason: summer rollover}\n"
)


def test_a_blackout_date_skips_the_scheduled_run_with_the_window_and_its_reason(tmp_path):
    config = load_config(district_config(tmp_path, tmp_path, extra=SUMMER))
    schedule = build_definitions(config).resolve_schedule_def(NIGHTLY_SCHEDULE)
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "America/Denver"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING

    def tick(day: date):
        at = datetime(day.year, day.month, day.day, 2, 0, tzinfo=DENVER)
        # The contexts are closed with the instance, so no later test meets a disposed one.
        with (
            dg.instance_for_test() as instance,
            dg.build_schedule_context(instance=instance, scheduled_execution_time=at) as context,
        ):
            return schedule.evaluate_tick(context)

    for day in (date(2027, 6, 20), date(2027, 7, 4), date(2027, 8, 10)):
        skipped = tick(day)
        assert skipped.run_requests == []
        assert skipped.skip_message == (
            f"{day} is in the blackout window 2027-06-20 to 2027-08-10 (summer rollover): the "
            "nightly sync does not run (schedule.blackout in pathways.yaml)"
        )
    for day in (date(2027, 6, 19), date(2027, 8, 11)):
        assert len(tick(day).run_requests) == 1


def test_a_blackout_window_ending_before_it_starts_is_a_config_error(tmp_path):
    backwards = "schedule:\n  blackout: [{start: 2027-08-10, end: 2027-06-20}]\n"

    with pytest.raises(ConfigError, match=r"start 2027-08-10 is after end 2027-06-20"):
        load_config(district_config(tmp_path, tmp_path, extra=backwards))


def today_blackout() -> str:
    today = datetime.now(DENVER).date()
    return (
        "schedule:\n  blackout:\n"
        f"    - {{start: {today - timedelta(days=1)}, end: {today + timedelta(days=1)}, "
        "reason: state testing}\n"
    )


def test_the_drop_sensor_skips_during_a_blackout(tmp_path):
    sis = write_package(tmp_path / "drop" / "export-1", district_1p2())
    config = load_config(
        district_config(tmp_path, sis, extra=today_blackout(), sis_extra=", drop_folder: drop")
    )
    with dg.instance_for_test() as instance:
        defs = build_definitions(config, drop_settle_seconds=0)
        sensor = defs.resolve_sensor_def(SIS_DROP_SENSOR)
        with dg.build_sensor_context(instance=instance, cursor=None) as context:
            result = sensor(context)

    assert isinstance(result, dg.SkipReason)
    assert "is in the blackout window" in result.skip_message
    assert "(state testing)" in result.skip_message


def test_pathways_run_on_a_blackout_date_does_not_run_unless_told_to(tmp_path, capsys):
    sis = write_package(tmp_path / "sis", district_1p2())
    config = district_config(tmp_path, sis, extra=today_blackout())

    assert main(["run", "--config", str(config)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "Not run:" in printed and "(state testing)" in printed
    assert "--ignore-blackout" in printed
    assert not load_config(config).warehouse.path.exists()

    assert main(["run", "--config", str(config), "--ignore-blackout"]) == 0
    assert query(config, "SELECT count(*) FROM raw.oneroster_users") == [(5,)]


# --- the sync report and the run summary ---------------------------------------------------------


def test_the_run_summary_and_the_sync_report_match_the_warehouse(tmp_path, capsys):
    district = district_1p2(students=5)
    district["enrollments.csv"][0]["classSourcedId"] = "cls-retired"
    district["results.csv"][0]["scoreDate"] = "2024-09-31"
    config = district_config(tmp_path, write_package(tmp_path / "sis", district))

    assert main(["run", "--config", str(config)]) == 0
    capsys.readouterr()

    summary = json.loads((sync_folder(config) / "run-summary.json").read_text())
    (run_id,) = {r for (r,) in query(config, "SELECT DISTINCT run_id FROM audit.sis_loads")}
    assert summary["run_id"] == run_id and summary["success"] is True
    assert summary["night"] == sync_folder(config).name
    assert summary["started"] <= summary["finished"]
    for file in ("users.csv", "enrollments.csv", "results.csv"):
        key = raw_table(file).replace(".", "/")
        ((rows,),) = query(config, f"SELECT count(*) FROM {raw_table(file)}")
        ((read, loaded, rejected),) = query(
            config,
            "SELECT rows_read, rows_loaded, rows_rejected FROM audit.sis_loads WHERE file = ?",
            [file],
        )
        figures = summary["assets"][key]
        assert (figures["rows_out"], figures["rows_in"]) == (rows, read)
        assert (figures["rows_loaded"], figures["rejected"]) == (loaded, rejected)
    ((rejected_rows,),) = query(
        config, "SELECT count(DISTINCT (file, line)) FROM audit.rejected_rows"
    )
    assert summary["sources"]["sis"]["rejected"] == summary["totals"]["rejected"] == rejected_rows
    assert summary["assets"]["raw/oneroster_enrollments"]["checks_failed"] == [
        "export_file_loaded_cleanly"
    ]
    assert summary["steps"]["outputs__sis_sync_report"] == "succeeded"

    (enrollment,) = report_rows(config, "enrollments")
    assert enrollment == {
        "sourced_id": district["enrollments.csv"][0]["sourcedId"],
        "entity": "enrollments",
        "field": "classSourcedId",
        "status": "rejected",
        "message": enrollment["message"],
    }
    assert "cls-retired" not in enrollment["message"]
    (result,) = report_rows(config, "results")
    assert (result["sourced_id"], result["field"], result["status"]) == (
        district["results.csv"][0]["sourcedId"],
        "scoreDate",
        "rejected",
    )
    assert "2024-09-31" not in result["message"] and "is not a date" in result["message"]
    assert report_rows(config, "classes") == []  # loaded cleanly: the header alone


def test_the_run_summary_sensor_writes_a_failed_nights_summary_and_its_dagster_metadata(tmp_path):
    sis = write_package(tmp_path / "sis", district_1p2())
    config = load_config(district_config(tmp_path, sis))
    (sis / "manifest.csv").unlink()  # the night fails: the export cannot be read
    defs = build_definitions(config)
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def(NIGHTLY_JOB).execute_in_process(
            instance=instance, raise_on_error=False
        )
        assert not result.success
        run = instance.get_run_by_id(result.run_id)
        (failure,) = instance.all_logs(result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        sensor = defs.resolve_sensor_def(SUMMARY_ON_FAILURE_SENSOR)
        context = dg.build_run_status_sensor_context(
            sensor_name=SUMMARY_ON_FAILURE_SENSOR,
            dagster_event=failure.dagster_event,
            dagster_instance=instance,
            dagster_run=run,
        )
        sensor(context)
        event = instance.get_latest_materialization_event(RUN_SUMMARY_KEY)
    summary = json.loads((sync_folder(tmp_path / "pathways.yaml") / "run-summary.json").read_text())
    assert summary["run_id"] == result.run_id and summary["success"] is False
    assert summary["status"] == "FAILURE"
    (failed,) = summary["failures"]
    assert failed["step"] == "sis_oneroster_csv" and "manifest" in failed["reason"]
    assert summary["steps"]["sis_oneroster_csv"] == "failed"
    assert summary["steps"]["outputs__sis_sync_report"] == "not run (an upstream step failed)"
    assert summary["steps"]["published__warehouse"] == "not run (an upstream step failed)"
    metadata = event.asset_materialization.metadata
    assert metadata["run_id"].value == result.run_id
    assert metadata["success"].value is False
    assert metadata["rejected"].value == summary["totals"]["rejected"]
