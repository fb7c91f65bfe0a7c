"""The whole night, for real: a generated district through every asset into a temporary DuckDB."""

import csv
import hashlib
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
import yaml
from oneroster_builders import district_1p1, district_1p2, write_package, zip_package
from rich.console import Console

from models.config import load_config
from pipelines.cli import main, run_nightly
from pipelines.nightly import NIGHTLY_JOB, NIGHTLY_SCHEDULE, build_definitions
from pipelines.sensors import SIS_DROP_SENSOR
from pipelines.sis_assets import SIS_ASSET_NAME
from sample_district.generate import generate_district

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """A 300-learner district after one nightly run (shared: the run is the expensive part)."""
    district = generate_district(300, tmp_path_factory.mktemp("district") / "d", seed=7)
    console = Console(record=True, width=120)
    # On a SQLite-backed instance, as `make ui` keeps its runs (tests/test_dagster_postgres.py
    # runs a night on PostgreSQL). The other nights of the suite run on Dagster's in-memory
    # instance, as `pathways run` does without DAGSTER_HOME: storing every event in SQLite
    # costs a small night half its time again.
    with dg.instance_for_test() as instance:
        summary = run_nightly(district.config_path, console, instance=instance)
        events = instance.all_logs(summary.run_id)
    return district, summary, console.export_text(), events


_RUN_TIMES = ("loaded_at", "checked_at", "last_seen", "last_success_at")


def tables_of(path: Path, schemas: tuple[str, ...]) -> dict[str, list[tuple]]:
    """Every row of every table, sorted, leaving out the timestamps that record when a step ran
    (a load, the inventory's check, a system's last sync) and so differ on a re-run."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = con.execute(
            "SELECT table_schema, table_name, list(column_name ORDER BY ordinal_position) "
            "FROM information_schema.columns WHERE list_contains(?, table_schema) "
            "GROUP BY ALL ORDER BY 1, 2",
            [list(schemas)],
        ).fetchall()
        tables = {}
        for schema, table, names in columns:
            kept = ", ".join(f'"{c}"' for c in names if not c.endswith(_RUN_TIMES))
            rows = con.execute(f'SELECT {kept} FROM "{schema}"."{table}"').fetchall()
            tables[f"{schema}.{table}"] = sorted(rows, key=repr)
        return tables
    finally:
        con.close()


def test_the_nightly_job_materializes_every_asset(night):
    district, summary, _, events = night
    assert summary.success, summary.failures
    materialized = {
        e.dagster_event.asset_key.to_user_string()
        for e in events
        if e.dagster_event and e.dagster_event.event_type_value == "ASSET_MATERIALIZATION"
    }
    defs = build_definitions(load_config(district.config_path))
    # Sources this district does not connect (its LMS) appear as external, unmaterializable keys.
    expected = {
        key.to_user_string() for key in defs.resolve_asset_graph().materializable_asset_keys
    }
    assert materialized == expected


def test_core_learners_holds_every_generated_student_once(night):
    district, summary, _, _ = night
    with (district.oneroster_path / "roles.csv").open(encoding="utf-8") as fh:
        students = {r["userSourcedId"] for r in csv.DictReader(fh) if r["role"] == "student"}
    config = load_config(district.config_path)
    con = duckdb.connect(str(config.warehouse.path), read_only=True)
    rows = con.execute("SELECT learner_sourced_id FROM core.learners").fetchall()
    con.close()
    assert len(rows) == len(students)
    assert {r[0] for r in rows} == students
    assert summary.tables["core.enrollments"] > len(students)
    assert summary.tables["core.competency_results"] > 0


def test_the_published_copy_has_only_dashboard_schemas_and_no_personal_columns(night):
    district, _, _, _ = night
    config = load_config(district.config_path)
    con = duckdb.connect(str(config.warehouse.published_path), read_only=True)
    columns = con.execute(
        "SELECT table_schema, column_name FROM information_schema.columns"
    ).fetchall()
    con.close()
    assert {s for s, _ in columns} <= {"core", "marts", "audit"}
    names = {c for _, c in columns}
    assert not names & {"given_name", "family_name", "email", "birth_date", "username"}
    assert ("core", "learner_sourced_id") in columns


def test_a_duckdb_1x_reader_opens_the_published_copy(night):
    district, summary, _, _ = night
    config = load_config(district.config_path)
    reader = REPO / ".venv" / "duckdb1"
    assert reader.is_dir(), "the DuckDB 1.x reader is installed by `make test`"
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import duckdb; "
        "assert duckdb.__version__.startswith('1.'), duckdb.__version__; "
        "con = duckdb.connect(sys.argv[2], read_only=True); "
        "print(con.execute('SELECT count(*) FROM core.learners').fetchone()[0])"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(reader), str(config.warehouse.published_path)],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        cwd="/",
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) == summary.tables["core.learners"]


def test_no_name_or_email_reaches_the_terminal_or_dagster_metadata(night):
    district, _, terminal, events = night
    with (district.oneroster_path / "users.csv").open(encoding="utf-8") as fh:
        users = list(csv.DictReader(fh))
    emails = {u["email"] for u in users if u["email"]}
    family_names = {u["familyName"] for u in users if len(u["familyName"]) > 3}
    metadata = repr(
        [e.dagster_event.event_specific_data for e in events if e.dagster_event is not None]
    )
    logs = "\n".join(e.user_message for e in events)
    for text in (terminal, metadata, logs):
        assert not any(email in text for email in emails)
        assert not any(name in text for name in family_names)


def test_a_rerun_of_the_same_night_gives_the_same_warehouse(tmp_path):
    district = generate_district(120, tmp_path / "d", seed=3)
    config = load_config(district.config_path)
    with dg.DagsterInstance.ephemeral() as instance:
        first = run_nightly(district.config_path, Console(quiet=True), instance=instance)
        before = tables_of(config.warehouse.path, ("raw", "staging", "core", "marts"))
        second = run_nightly(district.config_path, Console(quiet=True), instance=instance)
        after = tables_of(config.warehouse.path, ("raw", "staging", "core", "marts"))
    assert first.success and second.success
    assert before.keys() == after.keys()
    for name in before:
        assert before[name] == after[name], name


def test_a_held_export_fails_the_run_and_keeps_last_nights_published_copy(tmp_path):
    district = generate_district(120, tmp_path / "d", seed=5)
    config = load_config(district.config_path)
    with dg.DagsterInstance.ephemeral() as instance:
        assert run_nightly(district.config_path, Console(quiet=True), instance=instance).success
        published = hashlib.sha256(config.warehouse.published_path.read_bytes()).hexdigest()
        users = district.oneroster_path / "users.csv"
        header = users.read_text(encoding="utf-8").splitlines()[0]
        users.write_text(header + "\n", encoding="utf-8")
        summary = run_nightly(district.config_path, Console(quiet=True), instance=instance)
    assert not summary.success
    assert any("held" in f for f in summary.failures)
    assert hashlib.sha256(config.warehouse.published_path.read_bytes()).hexdigest() == published


def test_pathways_run_exits_non_zero_when_the_night_fails(tmp_path, capsys):
    district = generate_district(60, tmp_path / "d", seed=9)
    (district.oneroster_path / "manifest.csv").unlink()
    assert main(["run", "--config", str(district.config_path)]) == 1
    assert "manifest" in capsys.readouterr().out


def test_pathways_run_reports_a_config_error_with_exit_status_two(tmp_path, capsys):
    bad = tmp_path / "pathways.yaml"
    bad.write_text("district: {id: x, name: X}\n", encoding="utf-8")
    assert main(["run", "--config", str(bad)]) == 2
    assert "warehouse: required key is missing" in capsys.readouterr().out


def test_the_schedule_runs_the_nightly_job_at_the_configured_cron_in_the_district_timezone(
    tmp_path,
):
    district = generate_district(30, tmp_path / "d", seed=1)
    defs = build_definitions(load_config(district.config_path))
    schedule = defs.resolve_schedule_def(NIGHTLY_SCHEDULE)
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone == "America/Chicago"
    assert schedule.job_name == NIGHTLY_JOB
    tick = datetime(2026, 11, 26, 2, 0, tzinfo=ZoneInfo("America/Chicago"))
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        requests = schedule.evaluate_tick(context).run_requests
    assert len(requests) == 1


def _copy_export(src: Path, drop: Path, name: str) -> Path:
    target = drop / name
    shutil.copytree(src, target)
    return target


def test_the_drop_sensor_requests_one_run_per_new_export_and_keeps_a_cursor(tmp_path):
    district = generate_district(30, tmp_path / "d", seed=1)
    config = load_config(district.config_path)
    drop = config.sources.sis.drop_folder
    defs = build_definitions(config, drop_settle_seconds=0)
    sensor = defs.resolve_sensor_def(SIS_DROP_SENSOR)
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, cursor=None)
        assert isinstance(sensor(context), dg.SkipReason)

        first = _copy_export(district.oneroster_path, drop, "export-1")
        (drop / "notes.txt").write_text("not an export", encoding="utf-8")
        context = dg.build_sensor_context(instance=instance, cursor=context.cursor)
        requests = sensor(context)
        assert [r.run_config["ops"][SIS_ASSET_NAME]["config"]["path"] for r in requests] == [
            str(first)
        ]

        context = dg.build_sensor_context(instance=instance, cursor=context.cursor)
        assert isinstance(sensor(context), dg.SkipReason)

        second = _copy_export(district.oneroster_path, drop, "export-2")
        users = first / "users.csv"
        users.write_bytes(users.read_bytes())  # export-1 was re-sent in place
        context = dg.build_sensor_context(instance=instance, cursor=context.cursor)
        requests = sensor(context)
        paths = sorted(r.run_config["ops"][SIS_ASSET_NAME]["config"]["path"] for r in requests)
        assert paths == sorted([str(first), str(second)])
        assert len({r.run_key for r in requests}) == 2


def test_a_sensor_run_request_loads_the_dropped_export(tmp_path):
    district = generate_district(40, tmp_path / "d", seed=2)
    config = load_config(district.config_path)
    dropped = _copy_export(district.oneroster_path, config.sources.sis.drop_folder, "e1")
    shutil.rmtree(district.oneroster_path)  # only the dropped copy exists now
    job = build_definitions(config).resolve_job_def(NIGHTLY_JOB)
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(
            run_config={"ops": {SIS_ASSET_NAME: {"config": {"path": str(dropped)}}}},
            instance=instance,
        )
    assert result.success
    con = duckdb.connect(str(config.warehouse.path), read_only=True)
    files = {r[0] for r in con.execute("SELECT DISTINCT _file FROM raw.oneroster_users").fetchall()}
    con.close()
    assert files == {"users.csv"}


def test_dagster_definitions_validate_passes_for_the_workspace(tmp_path):
    district = generate_district(30, tmp_path / "d", seed=1)
    env = {**os.environ, "PATHWAYS_CONFIG": str(district.config_path)}
    dagster = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation successful" in done.stdout + done.stderr


def test_pathways_demo_builds_the_warehouse_and_reports_each_rejected_fault(tmp_path, capsys):
    out = tmp_path / "demo"
    # Any free ports: a developer may be running `make ui` (8765, 8766) beside the tests.
    argv = ["demo", "--students", "80", "--out", str(out), "--lms-port", "0", "--badge-port", "0"]
    assert main(argv) == 0
    printed = " ".join(capsys.readouterr().out.split())  # the terminal wraps long lines
    assert "Rejected rows this run: 5" in printed
    assert "classSourcedId 'cls-retired-0001' is not in classes.csv" in printed
    assert "'2026-09-31' is not a date" in printed
    assert "succeeded" in printed
    con = duckdb.connect(str(out / "published" / "warehouse.duckdb"), read_only=True)
    learners = con.execute("SELECT count(*) FROM core.learners").fetchone()[0]
    rejected = con.execute("SELECT count(*) FROM audit.rejected_rows").fetchone()[0]
    con.close()
    assert learners == 80
    assert rejected == 5


def test_every_asset_writing_the_warehouse_shares_one_pool_limited_to_one(tmp_path):
    district = generate_district(30, tmp_path / "d", seed=1)
    defs = build_definitions(load_config(district.config_path))
    pools = {node.pool for node in defs.resolve_implicit_global_asset_job_def().graph.node_defs}
    assert pools == {"warehouse"}
    nightly = defs.resolve_job_def(NIGHTLY_JOB)
    assert nightly.executor_def.name == "in_process"
    instance_config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    with dg.instance_for_test(overrides={"concurrency": instance_config["concurrency"]}) as inst:
        assert inst.get_concurrency_config().pool_config.default_pool_limit == 1


def _district_config(folder: Path, sis_path: Path) -> Path:
    config = folder / "pathways.yaml"
    config.write_text(
        "district: {id: riverside, name: Riverside USD, timezone: America/Denver}\n"
        "warehouse: {path: w/warehouse.duckdb, published_path: p/warehouse.duckdb}\n"
        f"sources:\n  sis: {{kind: oneroster_csv, path: {sis_path}}}\n",
        encoding="utf-8",
    )
    return config


def test_the_same_district_as_a_1p1_zip_and_a_1p2_folder_gives_the_same_core_tables(tmp_path):
    v12 = write_package(tmp_path / "v12" / "export", district_1p2(students=4))
    v11 = zip_package(
        write_package(tmp_path / "v11" / "export", district_1p1(students=4), version="1.1"),
        tmp_path / "v11" / "export.zip",
    )
    core = {}
    for name, sis in (("1.2", v12), ("1.1", v11)):
        config = _district_config(sis.parent, sis)
        with dg.DagsterInstance.ephemeral() as instance:
            summary = run_nightly(config, Console(quiet=True), instance=instance)
        assert summary.success, summary.failures
        assert summary.rejected_rows == 0
        published = load_config(config).warehouse.published_path
        core[name] = tables_of(published, ("core",))
    learners = core["1.2"]["core.learners"]
    assert len(learners) == 4
    for table in ("core.learners", "core.enrollments", "core.classes"):
        assert core["1.1"][table] == core["1.2"][table], table
