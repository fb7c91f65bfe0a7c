"""The whole night with credential platforms: a generated district's SIS export, its badge folder
and trust folder, and its sample badge platform (Open Badges 3.0 API, Badgr, Credly over HTTP on
loopback), through every asset into core.credentials, checked against the ground truth the
generator wrote."""

import csv
import json
import os
import secrets
import shutil

import dagster as dg
import duckdb
import pytest
import yaml
from rich.console import Console

from models.config import load_config
from pipelines.cli import run_nightly
from pipelines.credential_assets import VERIFIED_CHECK
from sample_district.badge_data import TRUST_FOLDER, expected_outcomes
from sample_district.badge_server import (
    BADGES_CLIENT_ID_ENV,
    BADGES_CLIENT_SECRET_ENV,
    BADGR_TOKEN_ENV,
    CREDLY_TOKEN_ENV,
    SampleBadgePlatform,
    point_config_at_badges,
)
from sample_district.generate import generate_district

LEARNERS = 300
SECRET_NAMES = (BADGES_CLIENT_ID_ENV, BADGES_CLIENT_SECRET_ENV, BADGR_TOKEN_ENV, CREDLY_TOKEN_ENV)


@pytest.fixture(scope="module")
def secrets_in_env():
    values = {name: secrets.token_urlsafe(18) for name in SECRET_NAMES}
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    yield values
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def badge_night(tmp_path_factory, secrets_in_env):
    """A 300-learner district and its sample badge platform after one nightly run."""
    district = generate_district(LEARNERS, tmp_path_factory.mktemp("district") / "d", seed=7)
    platform = SampleBadgePlatform(
        district.out,
        client_id=secrets_in_env[BADGES_CLIENT_ID_ENV],
        client_secret=secrets_in_env[BADGES_CLIENT_SECRET_ENV],
        badgr_token=secrets_in_env[BADGR_TOKEN_ENV],
        credly_token=secrets_in_env[CREDLY_TOKEN_ENV],
    ).start()
    point_config_at_badges(district.config_path, platform)
    without_exports(district.config_path)
    console = Console(record=True, width=120)
    with dg.DagsterInstance.ephemeral() as instance:
        summary = run_nightly(district.config_path, console, instance=instance)
        events = instance.all_logs(summary.run_id)
        yield district, platform, summary, events, instance, console.export_text()
    platform.stop()


def warehouse(district) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(load_config(district.config_path).warehouse.path), read_only=True)


def credential_rows(district) -> dict[tuple[str, str], dict]:
    """core.credentials by (platform, key the ground truth uses)."""
    with warehouse(district) as con:
        cursor = con.execute("SELECT * FROM core.credentials")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return {(r["source_platform"], r["record_key"]): r for r in rows}


def outcome_key(outcome: dict) -> tuple[str, str]:
    if outcome["platform"] == "badge_files":
        # The folder's records are keyed by their path inside the badge folder.
        return "badge_files", outcome["path"].split("/", 1)[1]
    return outcome["platform"], outcome["id"]


def test_the_night_succeeds_and_pulls_every_platform(badge_night):
    _, _, summary, _, _, _ = badge_night
    assert summary.success, summary.failures
    for table in ("raw.ob3_api_credentials", "raw.badgr_assertions", "raw.credly_badges"):
        assert summary.tables[table] > 0, table
    assert summary.tables["core.credentials"] > 0


def test_every_credential_gets_its_intended_status_learner_and_link_method(badge_night):
    district = badge_night[0]
    outcomes = expected_outcomes(district.out)
    rows = credential_rows(district)
    assert {o["platform"] for o in outcomes} == {"ob3_api", "badgr", "credly", "badge_files"}
    wrong = []
    for outcome in outcomes:
        row = rows.get(outcome_key(outcome))
        got = (
            None
            if row is None
            else (row["verification_status"], row["learner_sourced_id"], row["link_method"])
        )
        if got != (outcome["status"], outcome["learner"], outcome["match"]):
            wrong.append((outcome["platform"], outcome["case"], outcome["status"], got))
    assert not wrong, wrong[:10]
    # Every status the verifier knows is exercised by the sample platform, bar a few.
    statuses = {o["status"] for o in outcomes}
    assert {"verified", "failed_signature", "revoked", "expired", "unresolved_key"} <= statuses


def test_nothing_received_is_dropped(badge_night):
    district = badge_night[0]
    with warehouse(district) as con:
        received = con.execute(
            "SELECT (SELECT count(*) FROM raw.ob3_api_credentials) "
            "+ (SELECT count(*) FROM raw.badgr_assertions) "
            "+ (SELECT count(*) FROM raw.credly_badges) "
            "+ (SELECT count(*) FROM raw.badge_files)"
        ).fetchone()[0]
        kept = con.execute("SELECT count(*) FROM core.credentials").fetchone()[0]
        unreadable = con.execute(
            "SELECT count(*) FROM core.credentials WHERE verification_status = 'invalid' "
            "AND verification_reason IS NOT NULL"
        ).fetchone()[0]
    assert kept == received
    # The corrupt PNG and the picture that is no badge are kept, each with its reason.
    assert unreadable >= 2


def test_link_rates_per_source_count_the_ground_truth(badge_night):
    district = badge_night[0]
    outcomes = expected_outcomes(district.out)
    with warehouse(district) as con:
        rates = {
            row[0]: row[1:]
            for row in con.execute(
                "SELECT system, identities, linked, learners_linked, link_rate "
                "FROM marts.learner_link_rates"
            ).fetchall()
        }
        ambiguous_linked = con.execute(
            "SELECT count(*) FROM core.learner_crosswalk WHERE is_ambiguous AND is_linked"
        ).fetchone()[0]
    assert ambiguous_linked == 0
    for platform in ("ob3_api", "badgr", "credly", "badge_files"):
        learners = {o["learner"] for o in outcomes if o["platform"] == platform and o["learner"]}
        identities, linked, learners_linked, rate = rates[platform]
        assert learners_linked == len(learners), platform
        assert 0 < linked < identities, platform  # each platform has unmatched recipients
        assert float(rate) == pytest.approx(linked / identities, abs=1e-4)


def test_achievements_are_one_row_per_definition_with_case_alignments(badge_night):
    district = badge_night[0]
    with warehouse(district) as con:
        duplicates = con.execute(
            "SELECT count(*) - count(DISTINCT achievement_key) FROM core.achievements"
        ).fetchone()[0]
        competencies = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE len(case_item_urls) > 0) "
            "FROM core.achievements WHERE achievement_type = 'Competency'"
        ).fetchone()
        awarded = con.execute("SELECT sum(learners_awarded) FROM core.achievements").fetchone()[0]
    assert duplicates == 0
    assert competencies[0] > 0 and competencies[1] == competencies[0]
    assert awarded > 0


def test_verification_is_reported_in_dagster(badge_night):
    district, _, _, events, _, _ = badge_night
    checks = [
        e.dagster_event.event_specific_data
        for e in events
        if e.dagster_event is not None
        and e.dagster_event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and e.dagster_event.event_specific_data.check_name == VERIFIED_CHECK
    ]
    assert len(checks) == 1
    # The sample platform holds a tampered credential: the check warns, the night goes on.
    assert not checks[0].passed
    assert checks[0].severity == dg.AssetCheckSeverity.WARN
    statuses = checks[0].metadata["statuses"].value
    with warehouse(district) as con:
        in_warehouse = dict(
            con.execute(
                "SELECT verification_status, count(*) FROM core.credentials GROUP BY ALL"
            ).fetchall()
        )
    assert {s: n for s, n in statuses.items() if n} == in_warehouse


def test_no_email_or_name_reaches_the_terminal_logs_or_metadata(badge_night):
    district, _, _, events, _, terminal = badge_night
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


def test_the_published_crosswalk_and_credentials_hold_no_contact_details(badge_night):
    district = badge_night[0]
    config = load_config(district.config_path)
    with duckdb.connect(str(config.warehouse.published_path), read_only=True) as con:
        text = json.dumps(
            con.execute(
                "SELECT list(x) FROM (SELECT external_key AS x FROM core.learner_crosswalk "
                "UNION ALL SELECT credential_id FROM core.credentials)"
            ).fetchone()[0]
        )
        columns = {
            row[0]
            for row in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'core' "
                "AND table_name IN ('credentials', 'learner_crosswalk', 'achievements')"
            ).fetchall()
        }
    assert "@" not in text
    assert not {"recipients", "identity"} & columns


def test_a_second_night_verifies_only_what_changed(badge_night, tmp_path):
    district, _, _, _, instance, _ = badge_night
    console = Console(record=True, width=120)
    again = run_nightly(district.config_path, console, instance=instance)
    assert again.success, again.failures
    assert _checked_tonight(instance, again.run_id) == 0
    before = credential_rows(district)

    # The district drops the partner issuer's cached DID document: its credentials can no
    # longer be checked offline, and the next night says so (it is not a failed signature).
    trust = district.out / TRUST_FOLDER
    did_documents = [p for p in trust.glob("did-web-*.json")]
    assert did_documents
    moved = tmp_path / "moved"
    moved.mkdir()
    for path in did_documents:
        shutil.move(path, moved / path.name)
    try:
        third = run_nightly(district.config_path, console, instance=instance)
        assert third.success, third.failures
        assert _checked_tonight(instance, third.run_id) == len(before)
        after = credential_rows(district)
        changed = {k for k in before if before[k]["verification_status"] == "verified"} - {
            k for k in after if after[k]["verification_status"] == "verified"
        }
        assert changed
        assert {after[k]["verification_status"] for k in changed} == {"unresolved_key"}
    finally:
        for path in moved.iterdir():
            shutil.move(path, trust / path.name)


def test_a_file_taken_out_of_the_badge_folder_leaves_and_an_emptied_folder_is_held(
    badge_night, tmp_path
):
    district, _, _, _, instance, _ = badge_night
    folder = district.out / "badges"
    console = Console(record=True, width=120)
    taken = sorted(folder.glob("*.json"))[0]
    shutil.move(taken, tmp_path / taken.name)
    try:
        night = run_nightly(district.config_path, console, instance=instance)
        assert night.success, night.failures
        assert ("badge_files", taken.name) not in credential_rows(district)

        hidden = tmp_path / "all"
        shutil.move(folder, hidden)
        folder.mkdir()
        try:
            held = run_nightly(district.config_path, console, instance=instance)
            assert not held.success
            assert "is empty" in " ".join(held.failures)
            assert any(key[0] == "badge_files" for key in credential_rows(district))
        finally:
            folder.rmdir()
            shutil.move(hidden, folder)
    finally:
        shutil.move(tmp_path / taken.name, folder / taken.name)


def _checked_tonight(instance: dg.DagsterInstance, run_id: str) -> int:
    for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        materialization = event.dagster_event.event_specific_data.materialization
        if materialization.asset_key == dg.AssetKey(["staging", "credential_checks"]):
            return materialization.metadata["checked_tonight"].value
    raise AssertionError("staging/credential_checks was not materialized")


def without_exports(config_path) -> None:
    """Leave the learner-record export out of a generated district's night: this file tests
    other things, and tests/test_learner_records.py signs records."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config.pop("exports", None)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
