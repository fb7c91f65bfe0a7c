"""The whole night with an LMS: a generated district's SIS export plus its Canvas and OneRoster
REST service (the sample LMS, over HTTP on loopback), through every asset into DuckDB."""

import os
import secrets
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from rich.console import Console

from models.config import load_config
from pipelines.api_sources import SOURCE_PULLED_CHECK
from pipelines.cli import run_nightly
from pipelines.nightly import build_definitions
from sample_district.generate import generate_district
from sample_district.lms_server import (
    CANVAS_TOKEN_ENV,
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    SampleLms,
    point_config_at,
)

LEARNERS = 300


@pytest.fixture(scope="module")
def credentials():
    """Sample credentials in the environment, as a district's secrets would be."""
    values = {name: secrets.token_urlsafe(18) for name in (CANVAS_TOKEN_ENV, CLIENT_ID_ENV)}
    values[CLIENT_SECRET_ENV] = secrets.token_urlsafe(18)
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    yield values
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def lms_night(tmp_path_factory, credentials):
    """A 300-learner district and its sample LMS after one nightly run, and the LMS still up."""
    district = generate_district(LEARNERS, tmp_path_factory.mktemp("district") / "d", seed=7)
    lms = SampleLms(
        district.out,
        canvas_token=credentials[CANVAS_TOKEN_ENV],
        client_id=credentials[CLIENT_ID_ENV],
        client_secret=credentials[CLIENT_SECRET_ENV],
    ).start()
    point_config_at(district.config_path, lms)
    without_exports(district.config_path)
    console = Console(record=True, width=120)
    with dg.DagsterInstance.ephemeral() as instance:
        summary = run_nightly(district.config_path, console, instance=instance)
        events = instance.all_logs(summary.run_id)
        yield district, lms, summary, events, instance
    lms.stop()


def warehouse(district) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(load_config(district.config_path).warehouse.path), read_only=True)


def materializations(events) -> dict[str, dict]:
    return {
        e.dagster_event.asset_key.to_user_string(): e.dagster_event.materialization.metadata
        for e in events
        if e.dagster_event and e.dagster_event.event_type_value == "ASSET_MATERIALIZATION"
    }


def test_the_night_pulls_both_lms_apis_and_materializes_every_asset(lms_night):
    district, _, summary, events, _ = lms_night
    assert summary.success, summary.failures
    defs = build_definitions(load_config(district.config_path))
    expected = {k.to_user_string() for k in defs.resolve_asset_graph().materializable_asset_keys}
    assert set(materializations(events)) == expected
    assert {"raw/canvas_submissions", "raw/oneroster_rest_results"} <= expected
    checks = [
        e.dagster_event.event_specific_data
        for e in events
        if e.dagster_event and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    pulled = [c for c in checks if c.check_name == SOURCE_PULLED_CHECK]
    assert len(pulled) == 2 and all(c.passed for c in pulled)


def test_every_lms_account_is_kept_and_the_unlinked_ones_are_counted(lms_night):
    district, _, _, _, _ = lms_night
    con = warehouse(district)
    try:
        summary = con.execute(
            "SELECT accounts, linked_by_sis_id, linked_by_username + linked_by_email, unlinked "
            "FROM marts.lms_link_summary WHERE system = 'canvas'"
        ).fetchall()
        accounts_seen = con.execute("SELECT count(*) FROM staging.stg_canvas__users").fetchall()[0][
            0
        ]
        unlinked_with_work = con.execute(
            "SELECT count(DISTINCT s.lms_user_id) FROM core.submissions AS s "
            "JOIN core.lms_users AS u USING (system, source, lms_user_id) "
            "WHERE s.system = 'canvas' AND NOT u.is_linked AND s.learner_sourced_id IS NULL"
        ).fetchall()[0][0]
    finally:
        con.close()
    ((accounts, by_id, by_name, unlinked),) = summary
    assert accounts == accounts_seen
    assert accounts == by_id + by_name + unlinked
    # The sample LMS has round(1% of learners) guest accounts the SIS never heard of, and ~3%
    # of learners without a SIS id in Canvas who link by username or email.
    assert unlinked == round(LEARNERS * 0.01)
    assert 0 < by_name < LEARNERS * 0.1
    # Guests did work; it is kept, with no learner.
    assert unlinked_with_work == unlinked


def test_competency_evidence_from_the_sis_canvas_and_oneroster_rest_lands_in_one_table(lms_night):
    district, _, _, _, _ = lms_night
    con = warehouse(district)
    try:
        by_system = dict(
            con.execute(
                "SELECT source_system, count(*) FROM core.competency_results GROUP BY ALL"
            ).fetchall()
        )
        # Canvas outcomes carry the CASE ids the SIS gradebook is aligned to.
        foreign = con.execute(
            "SELECT count(*) FROM core.competency_results AS c "
            "WHERE c.source_system = 'canvas' AND c.learning_objective_id NOT IN "
            "(SELECT learning_objective_id FROM core.competency_results "
            " WHERE source_system = 'sis')"
        ).fetchall()[0][0]
        linked_share = con.execute(
            "SELECT avg((learner_sourced_id IS NOT NULL)::INT) FROM core.competency_results "
            "WHERE source_system = 'canvas'"
        ).fetchall()[0][0]
        thresholds = con.execute(
            "SELECT DISTINCT mastery_threshold FROM core.competency_results "
            "WHERE source_system = 'canvas'"
        ).fetchall()
    finally:
        con.close()
    assert set(by_system) == {"sis", "canvas", "oneroster_rest"}
    assert all(count > 0 for count in by_system.values())
    assert foreign == 0
    assert 0.95 < linked_share < 1.0
    assert thresholds == [(3.0,)]


def test_canvas_enrollment_drops_are_seen_not_vanished(lms_night):
    district, _, _, _, _ = lms_night
    con = warehouse(district)
    try:
        states = dict(
            con.execute(
                "SELECT state, count(*) FROM core.lms_enrollments WHERE system = 'canvas' "
                "GROUP BY ALL"
            ).fetchall()
        )
    finally:
        con.close()
    assert {"active", "deleted", "inactive", "completed"} <= set(states)


def test_no_token_or_secret_reaches_the_event_log_or_the_warehouse(lms_night, credentials):
    district, _, _, events, _ = lms_night
    logged = "\n".join(str(e) for e in events)
    con = warehouse(district)
    try:
        cursors = " ".join(
            str(row[0])
            for row in con.execute("SELECT cursor FROM audit.api_checkpoints").fetchall()
        )
    finally:
        con.close()
    for secret in credentials.values():
        assert secret not in logged
        assert secret not in cursors


def test_a_second_night_pulls_only_what_changed_in_canvas(lms_night):
    district, lms, _, _, instance = lms_night
    regraded = lms.regrade(0.05, seed=3)
    summary = run_nightly(district.config_path, Console(record=True), instance=instance)
    assert summary.success, summary.failures
    metadata = materializations(instance.all_logs(summary.run_id))
    submissions = metadata["raw/canvas_submissions"]
    # Every regraded submission arrives changed, except those of deleted enrollments, which
    # Canvas no longer lists (about 1% of enrollments in the sample LMS); nothing else moves.
    assert regraded * 0.9 <= submissions["canvas/updated"].value <= regraded
    assert submissions["canvas/inserted"].value == 0
    enrollments = metadata["raw/canvas_enrollments"]
    assert enrollments["canvas/updated"].value == 0
    assert enrollments["canvas/unchanged"].value > 0


def test_an_lms_that_cannot_be_reached_fails_the_night_naming_it(tmp_path, credentials):
    district = generate_district(60, tmp_path / "d", seed=3)
    point_config_at(district.config_path, "http://127.0.0.1:9")  # nothing listens on port 9
    config = yaml.safe_load(Path(district.config_path).read_text())
    for source in config["sources"]["lms"]:
        source["http"] = {"max_retries": 1, "backoff_factor": 0.0, "connect_timeout": 1.0}
    district.config_path.write_text(yaml.safe_dump(config))
    with dg.DagsterInstance.ephemeral() as instance:
        summary = run_nightly(district.config_path, Console(record=True), instance=instance)
    assert not summary.success
    failures = " ".join(summary.failures)
    assert "canvas" in failures and "oneroster_rest" in failures
    assert "127.0.0.1" in failures


def without_exports(config_path) -> None:
    """Leave the learner-record export out of a generated district's night: this file tests
    other things, and tests/test_learner_records.py signs records."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config.pop("exports", None)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
