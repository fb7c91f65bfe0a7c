"""Dagster in production keeps its runs, events and schedules in PostgreSQL: the documented
`deploy/dagster.production.yaml` is a valid instance, and a night run against it is stored there."""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from rich.console import Console
from sis_database import POSTGRES_ADMIN
from sqlalchemy.pool import NullPool

from models.oneroster_spec import known_files
from pipelines.cli import run_nightly
from pipelines.sis_assets import raw_oneroster_key
from sample_district.generate import generate_district

REPO = Path(__file__).resolve().parents[1]
PRODUCTION_YAML = REPO / "deploy" / "dagster.production.yaml"


@pytest.fixture
def dagster_database():
    """A fresh PostgreSQL database for Dagster's storage, dropped after the test."""
    server = sa.create_engine(POSTGRES_ADMIN, poolclass=NullPool)
    try:
        server.connect().close()
    except sa.exc.OperationalError as exc:
        # Fails rather than skips, so Dagster's Postgres storage never goes untested unnoticed.
        pytest.fail(f"no PostgreSQL at {server.url.render_as_string()}: {exc.orig}")
    name = f"pathways_dagster_{secrets.token_hex(4)}"
    with server.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield server.url.set(database=name)
    finally:
        with server.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        server.dispose()


@pytest.fixture
def production_instance(dagster_database, tmp_path, monkeypatch):
    """A DagsterInstance from the production yaml, its secrets in the environment as there."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PRODUCTION_YAML, home / "dagster.yaml")
    url = dagster_database
    monkeypatch.setenv("DAGSTER_PG_HOST", url.host or "127.0.0.1")
    monkeypatch.setenv("DAGSTER_PG_PORT", str(url.port or 5432))
    monkeypatch.setenv("DAGSTER_PG_DB", url.database)
    monkeypatch.setenv("DAGSTER_PG_USER", url.username or "postgres")
    # The local server trusts loopback; a production password goes in the same variable.
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", url.password or "not-checked-on-loopback")
    monkeypatch.setenv("DAGSTER_COMPUTE_LOGS_DIR", str(tmp_path / "compute_logs"))
    instance = dg.DagsterInstance.from_config(str(home))
    try:
        yield instance, url
    finally:
        instance.dispose()


def test_the_production_instance_queues_runs_retries_once_and_gives_the_warehouse_one_slot(
    production_instance,
):
    instance, _ = production_instance

    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
    pools = instance.get_concurrency_config().pool_config
    assert (pools.default_pool_limit, pools.pool_granularity.value) == (1, "run")
    assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 4
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
    assert not instance.telemetry_enabled


def test_a_nightly_run_against_the_production_instance_is_stored_in_postgres(
    production_instance, tmp_path
):
    instance, url = production_instance
    district = generate_district(60, tmp_path / "d", seed=9)

    summary = run_nightly(district.config_path, Console(quiet=True), instance=instance)

    assert summary.success, summary.failures
    storage = sa.create_engine(url, poolclass=NullPool)
    with storage.connect() as conn:
        runs = conn.execute(sa.text("SELECT run_id, status FROM runs")).fetchall()
        events = dict(
            conn.execute(
                sa.text(
                    "SELECT dagster_event_type, count(*) FROM event_logs WHERE run_id = :run "
                    "GROUP BY dagster_event_type"
                ),
                {"run": summary.run_id},
            ).fetchall()
        )
        materialized = conn.execute(
            sa.text(
                "SELECT DISTINCT asset_key FROM event_logs WHERE run_id = :run "
                "AND dagster_event_type = 'ASSET_MATERIALIZATION'"
            ),
            {"run": summary.run_id},
        ).fetchall()
    storage.dispose()
    assert runs == [(summary.run_id, "SUCCESS")]
    assert events["PIPELINE_SUCCESS"] == 1  # the stored name of RUN_SUCCESS
    assert events["ASSET_CHECK_EVALUATION"] >= len(known_files())
    stored = {dg.AssetKey.from_db_string(key) for (key,) in materialized}
    assert {raw_oneroster_key(f) for f in known_files()} | {
        dg.AssetKey(["core", "learners"]),
        dg.AssetKey(["marts", "sis_load_summary"]),
    } <= stored
