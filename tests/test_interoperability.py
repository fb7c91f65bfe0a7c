"""Interoperability checks and the scorecard: the pure rules of `models.interoperability`, the
`interoperability` section of pathways.yaml, and the real night: a generated district's SIS
export and its sample LMS (Canvas and OneRoster 1.2 REST over HTTP on loopback) through every
asset into a temporary DuckDB, then the sample LMS or the export changed and the night run again.
"""

import os
import secrets
import shutil
import typing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from rich.console import Console

from models.config import (
    ConfigError,
    CredentialSource,
    InteroperabilitySettings,
    LmsSource,
    SisSource,
    load_config,
)
from models.interoperability import (
    INTEROPERABILITY_INDICATOR,
    SYSTEM_PROFILES,
    TRANSPARENCY_INDICATOR,
    InventoryState,
    Status,
    SystemMeasures,
    assess_system,
    interoperability_level,
    share_status,
    standard_name,
    transparency_level,
)
from models.readiness import Level, load_framework
from pipelines.cli import run_nightly
from pipelines.interoperability_assets import (
    DATA_INVENTORY_KEY,
    LEVELS_KEY,
    SCORECARD_KEY,
    build_interoperability_assets,
    check_name,
    night_of,
)
from pipelines.nightly import NIGHTLY_JOB, build_definitions
from pipelines.warehouse import WarehouseResource
from sample_district.faults import add_typical_faults
from sample_district.generate import generate_district
from sample_district.lms_server import (
    CANVAS_TOKEN_ENV,
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    SampleLms,
    point_config_at,
)

LEARNERS = 200
NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
SETTINGS = InteroperabilitySettings()


# --- the rules ----------------------------------------------------------------------------------


def measures(system: str = "canvas", **changes) -> SystemMeasures:
    """A healthy system, changed as a test needs."""
    values = dict(
        system=system,
        kind="canvas",
        standard="Canvas REST API",
        open_standard=True,
        is_sis=False,
        learners=1000,
        learners_linked=995,
        link_rate=0.995,
        referential_integrity=1.0,
        validation_pass_rate=None,
        last_success_at=NOW - timedelta(hours=6),
        fresh=True,
        sis_id_changes=None,
    )
    values.update(changes)
    return SystemMeasures(**values)


def sis(**changes) -> SystemMeasures:
    values = dict(
        kind="oneroster_csv",
        standard="OneRoster 1.2",
        is_sis=True,
        learners=900,
        learners_linked=900,
        link_rate=1.0,
        validation_pass_rate=0.999,
        sis_id_changes=0,
    )
    values.update(changes)
    return measures("sis", **values)


@pytest.mark.parametrize(
    ("share", "status"),
    [
        (1.0, Status.PASS),
        (0.98, Status.PASS),
        (0.9799, Status.WARN),
        (0.95, Status.WARN),
        (0.90, Status.WARN),
        (0.8999, Status.FAIL),
        (0.85, Status.FAIL),
        (None, Status.PASS),
    ],
)
def test_a_share_warns_below_98_percent_and_fails_below_90_percent(share, status):
    assert share_status(share, SETTINGS) is status


@pytest.mark.parametrize(
    ("change", "status", "said"),
    [
        ({}, Status.PASS, ""),
        ({"learners_linked": 950, "link_rate": 0.95}, Status.WARN, "95.0% of canvas's 1,000"),
        ({"learners_linked": 850, "link_rate": 0.85}, Status.FAIL, "below 90.0%"),
        ({"referential_integrity": 0.96}, Status.WARN, "reference only things it holds"),
        ({"fresh": False, "last_success_at": NOW - timedelta(hours=30)}, Status.FAIL, "30 hours"),
        ({"fresh": False, "last_success_at": None}, Status.FAIL, "never synced"),
    ],
)
def test_a_system_is_judged_by_its_worst_finding_with_a_sentence_to_act_on(change, status, said):
    assessment = assess_system(measures(**change), SETTINGS, NOW)
    assert assessment.status is status
    assert said in assessment.findings
    assert (assessment.findings == "") == (status is Status.PASS)


def test_an_sis_id_change_for_the_same_person_warns_on_the_sis_row():
    assessment = assess_system(sis(sis_id_changes=2), SETTINGS, NOW)
    assert assessment.status is Status.WARN
    assert "2 learner(s) got a new SIS sourcedId" in assessment.findings


def test_the_sis_links_to_itself_so_its_link_rate_never_warns():
    assert assess_system(sis(link_rate=1.0), SETTINGS, NOW).status is Status.PASS


@pytest.mark.parametrize(
    ("systems", "level"),
    [
        ([sis(), measures("canvas"), measures("oneroster_rest")], Level.SUSTAINING),
        (
            [sis(), measures("canvas", learners_linked=850, link_rate=0.85), measures("oneroster")],
            Level.PRACTICING,
        ),
        ([sis(), measures("canvas", fresh=False)], Level.PRACTICING),
        ([sis(), measures("credly", standard="Credly API", open_standard=False)], Level.STARTING),
        (
            [sis(), measures("canvas"), measures("credly", open_standard=False)],
            Level.PRACTICING,
        ),
        ([sis(open_standard=False), measures("canvas")], Level.PRACTICING),
        ([sis()], Level.STARTING),
        ([sis(), measures("canvas", learners_linked=0, link_rate=0.0)], Level.STARTING),
    ],
)
def test_the_interoperability_level_follows_the_framework(systems, level):
    result = interoperability_level(systems, SETTINGS, inventoried=None)
    assert result.indicator_id == INTEROPERABILITY_INDICATOR
    assert result.level is level
    assert result.evidence.endswith(".")


@pytest.mark.parametrize(
    ("state", "level"),
    [
        (InventoryState(inventory_rows=None), Level.STARTING),
        (InventoryState(inventory_rows=0), Level.STARTING),
        (InventoryState(inventory_rows=40, collected_undeclared=3), Level.STARTING),
        (
            InventoryState(inventory_rows=40, declared_incomplete=2, notices_published=1),
            Level.PRACTICING,
        ),
        (
            InventoryState(inventory_rows=40, notices_published=3, notice_recent=True),
            Level.SUSTAINING,
        ),
        # Complete tonight: the notice blocked on completeness publishes tonight.
        (InventoryState(inventory_rows=40), Level.SUSTAINING),
    ],
)
def test_the_transparency_level_follows_the_framework(state, level):
    result = transparency_level(state)
    assert result.indicator_id == TRANSPARENCY_INDICATOR
    assert result.level is level


def test_both_indicators_are_indicators_of_the_readiness_framework():
    framework = load_framework()
    assert framework.indicator(INTEROPERABILITY_INDICATOR)
    assert framework.indicator(TRANSPARENCY_INDICATOR)


def test_every_kind_of_source_pathways_yaml_accepts_has_a_declared_standard():
    kinds = set()
    for union in (SisSource, LmsSource, CredentialSource):
        for source in typing.get_args(typing.get_args(union)[0]):
            kinds.update(typing.get_args(source.model_fields["kind"].annotation))
    assert kinds == set(SYSTEM_PROFILES)


@pytest.mark.parametrize(
    ("kind", "versions", "standard"),
    [
        ("oneroster_csv", ["1.1"], "OneRoster 1.1"),
        ("badge_files", ["3.0", "2.0"], "Open Badges 2.0 / 3.0"),
        ("badge_files", [], "Open Badges (version unknown)"),
        ("credly", [], "Credly API"),
    ],
)
def test_the_standard_is_named_from_the_declaration_and_what_the_data_says(
    kind, versions, standard
):
    assert standard_name(kind, versions) == standard


# --- the interoperability section of pathways.yaml ----------------------------------------------

CONFIG = """\
district: {id: sample-district, name: Sample District}
warehouse: {path: data/warehouse.duckdb, published_path: data/published/warehouse.duckdb}
sources:
  sis: {kind: oneroster_csv, path: data/sis/oneroster}
"""


def test_the_interoperability_thresholds_default_to_98_90_and_26_hours(tmp_path):
    path = tmp_path / "pathways.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    settings = load_config(path).interoperability
    assert (settings.link_warn_below, settings.link_fail_below, settings.freshness_hours) == (
        0.98,
        0.90,
        26,
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "{link_warn_below: 0.9, link_fail_below: 0.95}",
            r"line 5, interoperability: link_fail_below \(0.95\) is above",
        ),
        ("{link_warn_below: 98}", r"interoperability\.link_warn_below: .*less than or equal to 1"),
        ("{freshness_hours: 0}", r"interoperability\.freshness_hours: .*greater than 0"),
        ("{link_warn_belw: 0.9}", "did you mean 'link_warn_below'"),
    ],
)
def test_wrong_interoperability_thresholds_stop_with_a_clear_message(tmp_path, section, message):
    path = tmp_path / "pathways.yaml"
    path.write_text(CONFIG + f"interoperability: {section}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


# --- the real night -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lms_secrets():
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
def district(tmp_path_factory, lms_secrets):
    """A 200-learner district connected to its SIS export and its sample LMS (Canvas and
    OneRoster REST) after one night, with the LMS still up. The generated badge folder holds
    tampered credentials on purpose, and learner records are tested elsewhere, so both are left
    out: every system here is healthy."""
    generated = generate_district(LEARNERS, tmp_path_factory.mktemp("district") / "d", seed=11)
    lms = SampleLms(
        generated.out,
        canvas_token=lms_secrets[CANVAS_TOKEN_ENV],
        client_id=lms_secrets[CLIENT_ID_ENV],
        client_secret=lms_secrets[CLIENT_SECRET_ENV],
    ).start()
    point_config_at(generated.config_path, lms)
    config = yaml.safe_load(generated.config_path.read_text(encoding="utf-8"))
    config.pop("exports", None)
    config["sources"].pop("credentials", None)
    generated.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    with dg.DagsterInstance.ephemeral() as instance:
        first = run_nightly(generated.config_path, Console(quiet=True), instance=instance)
        assert_scorecard_built(instance, first.run_id, first.failures)
        yield generated, lms, instance, first.run_id
    lms.stop()


def assert_scorecard_built(instance: dg.DagsterInstance, run_id: str, failures: list) -> None:
    """The night built the scorecard and judged every system. The night as a whole may still
    fail on a check the scorecard does not wait for (the data inventory's blocking
    `every_collected_field_declared`, while the inventory does not declare every LMS field)."""
    assert not [f for f in failures if "interoperability" in f or "raw" in f], failures
    assert {check_name(s) for s in ("sis", "canvas", "oneroster_rest")} <= set(
        checks(instance, run_id)
    ), failures


def warehouse_of(generated) -> Path:
    return load_config(generated.config_path).warehouse.path


def query(generated, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(warehouse_of(generated)), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def scorecard(generated, run_night) -> dict[str, dict]:
    """The scorecard rows of one night, by system."""
    con = duckdb.connect(str(warehouse_of(generated)), read_only=True)
    try:
        cursor = con.execute(
            "SELECT * FROM marts.interoperability_scorecard WHERE night = ?", [run_night]
        )
        names = [d[0] for d in cursor.description]
        return {row[1]: dict(zip(names, row, strict=True)) for row in cursor.fetchall()}
    finally:
        con.close()


def levels(generated, run_night) -> dict[str, str]:
    return dict(
        query(
            generated,
            "SELECT indicator_id, level FROM marts.data_infrastructure_levels WHERE night = ?",
            [run_night],
        )
    )


def checks(instance: dg.DagsterInstance, run_id: str) -> dict[str, object]:
    """The interoperability check evaluations of a run, by check name."""
    return {
        e.dagster_event.event_specific_data.check_name: e.dagster_event.event_specific_data
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        if e.dagster_event.event_specific_data.asset_key == SCORECARD_KEY
    }


def tonight(generated) -> date:
    """The night a run started now belongs to, in the district's time zone."""
    return night_of(datetime.now(UTC), load_config(generated.config_path).district.timezone)


def make_canvas_accounts_unlinkable(lms: SampleLms, count: int) -> list[tuple]:
    """Give `count` of the sample Canvas's SIS-known accounts no SIS id and a login and email the
    SIS has never heard of, as accounts made by hand in Canvas are; returns what to restore.
    The sample LMS renders each record's JSON once, so the changed rows are rendered again."""
    data = lms.data
    with data._lock:
        con = data._con
        con.execute(
            "CREATE OR REPLACE TEMP TABLE unlinkable AS SELECT id, sis_user_id, login_id, email "
            "FROM cv_users WHERE sourced_id IS NOT NULL ORDER BY md5(id::VARCHAR) LIMIT ?",
            [count],
        )
        saved = con.execute("SELECT * FROM unlinkable").fetchall()
        con.execute(
            "UPDATE cv_users SET sis_user_id = NULL, login_id = 'byhand.' || id, "
            "email = 'byhand.' || id || '@elsewhere.example' "
            "WHERE id IN (SELECT id FROM unlinkable)"
        )
        rerender_accounts(data)
    return saved


def rerender_accounts(data) -> None:
    """Canvas embeds the user in each enrollment, where Pathways reads it: render both again."""
    data._render_rows("cv_users", "{a}.id IN (SELECT id FROM unlinkable)")
    data._render_rows("cv_enrollments", "{a}.user_id IN (SELECT id FROM unlinkable)")


def restore_canvas_accounts(lms: SampleLms, saved: list[tuple]) -> None:
    data = lms.data
    with data._lock:
        con = data._con
        for user_id, sis_user_id, login_id, email in saved:
            con.execute(
                "UPDATE cv_users SET sis_user_id = ?, login_id = ?, email = ? WHERE id = ?",
                [sis_user_id, login_id, email, user_id],
            )
        rerender_accounts(data)


def canvas_accounts_to_unlink(instance, first_run_id: str, target_rate: float) -> int:
    """How many more Canvas accounts to unlink for Canvas's link rate to be `target_rate`, from
    the healthy first night's counts (its check's metadata)."""
    metadata = checks(instance, first_run_id)[check_name("canvas")].metadata
    identities, linked = metadata["learners"].value, metadata["learners_linked"].value
    return linked - round(target_rate * identities)


def test_every_connected_system_gets_one_row_and_one_passing_check_a_night(district):
    generated, _, instance, run_id = district
    rows = scorecard(generated, tonight(generated))
    assert {s: r["standard"] for s, r in rows.items()} == {
        "sis": "OneRoster 1.2",
        "canvas": "Canvas REST API",
        "oneroster_rest": "OneRoster 1.2 REST",
    }
    assert {r["status"] for r in rows.values()} == {"pass"}
    assert all(r["fresh"] and r["findings"] == "" for r in rows.values())
    assert rows["sis"]["learners"] == rows["sis"]["learners_linked"] == LEARNERS
    assert rows["sis"]["sis_id_changes"] == 0
    # Validation: the rows of tonight's export that were not rejected.
    assert rows["sis"]["validation_pass_rate"] == pytest.approx(
        query(
            generated,
            "SELECT 1 - sum(rows_rejected) / sum(rows_read) FROM audit.sis_loads "
            "WHERE loaded_at = (SELECT max(loaded_at) FROM audit.sis_loads)",
        )[0][0]
    )
    assert rows["sis"]["referential_integrity"] >= rows["sis"]["validation_pass_rate"]
    # The sample Canvas has 1% guest accounts the SIS never heard of.
    assert 0.98 <= rows["canvas"]["link_rate"] < 1
    evaluations = checks(instance, run_id)
    assert set(evaluations) == {check_name(s) for s in rows}
    assert all(e.passed for e in evaluations.values())


def test_when_every_system_is_healthy_the_district_is_sustaining(district):
    generated, _, _, _ = district
    assert levels(generated, tonight(generated))[INTEROPERABILITY_INDICATOR] == "Sustaining"


def test_a_system_with_85_percent_linkage_fails_its_check_and_the_district_is_practicing(
    district,
):
    generated, lms, instance, first_run_id = district
    saved = make_canvas_accounts_unlinkable(
        lms, canvas_accounts_to_unlink(instance, first_run_id, 0.85)
    )
    try:
        night = run_nightly(generated.config_path, Console(quiet=True), instance=instance)
    finally:
        restore_canvas_accounts(lms, saved)
    assert_scorecard_built(instance, night.run_id, night.failures)
    rows = scorecard(generated, tonight(generated))
    assert rows["canvas"]["link_rate"] == pytest.approx(0.85, abs=0.005)
    assert rows["canvas"]["status"] == "fail"
    assert "below 90.0%" in rows["canvas"]["findings"]
    assert rows["oneroster_rest"]["status"] == rows["sis"]["status"] == "pass"
    evaluation = checks(instance, night.run_id)[check_name("canvas")]
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["link_rate"].value == pytest.approx(0.85, abs=0.005)
    assert levels(generated, tonight(generated))[INTEROPERABILITY_INDICATOR] == "Practicing"


def test_a_system_with_95_percent_linkage_warns(district):
    generated, lms, instance, first_run_id = district
    saved = make_canvas_accounts_unlinkable(
        lms, canvas_accounts_to_unlink(instance, first_run_id, 0.95)
    )
    try:
        night = run_nightly(generated.config_path, Console(quiet=True), instance=instance)
    finally:
        restore_canvas_accounts(lms, saved)
    assert_scorecard_built(instance, night.run_id, night.failures)
    rows = scorecard(generated, tonight(generated))
    assert rows["canvas"]["link_rate"] == pytest.approx(0.95, abs=0.005)
    assert rows["canvas"]["status"] == "warn"
    evaluation = checks(instance, night.run_id)[check_name("canvas")]
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    # Below the threshold Sustaining asks for, even though it only warns.
    assert levels(generated, tonight(generated))[INTEROPERABILITY_INDICATOR] == "Practicing"


def test_a_collected_field_the_inventory_does_not_declare_keeps_transparency_below_sustaining(
    district,
):
    generated, _, instance, _ = district
    materialize_scorecard(generated, instance, datetime.now(UTC))
    before = levels(generated, tonight(generated))[TRANSPARENCY_INDICATOR]
    path = warehouse_of(generated)
    con = duckdb.connect(str(path))
    try:
        # One column tonight's inventory found collected and nobody declared.
        con.execute(
            "INSERT INTO marts.data_inventory (system, raw_table, column_name, declared, "
            "complete, collected, checked_at) SELECT 'canvas', 'canvas_users', 'nickname', "
            "FALSE, FALSE, TRUE, max(checked_at) FROM marts.data_inventory"
        ).fetchall()
    finally:
        con.close()
    try:
        materialize_scorecard(generated, instance, datetime.now(UTC))
        level = levels(generated, tonight(generated))[TRANSPARENCY_INDICATOR]
        evidence = query(
            generated,
            "SELECT evidence_json->>'collected_undeclared' FROM marts.data_infrastructure_levels "
            "WHERE night = ? AND indicator_id = ?",
            [tonight(generated), TRANSPARENCY_INDICATOR],
        )
    finally:
        con = duckdb.connect(str(path))
        try:
            con.execute(
                "DELETE FROM marts.data_inventory WHERE column_name = 'nickname'"
            ).fetchall()
        finally:
            con.close()
    # The sample district's inventory declares everything it collects.
    assert before == "Sustaining"
    assert level in ("Starting", "Practicing")
    assert evidence == [("1",)]


def test_the_sis_row_counts_rejected_rows_against_validation_and_references_against_integrity(
    district, tmp_path
):
    generated, _, instance, _ = district
    config = load_config(generated.config_path)
    export = config.sources.sis.path
    kept = tmp_path / "export"
    shutil.copytree(export, kept)
    # The demo's faults: an enrollment in a class the SIS no longer exports (a reference), a
    # role in the wrong case, a date that does not exist, a learner's demographics sent twice.
    add_typical_faults(export)
    try:
        # Tonight's SIS load, then (a run of its own, as nothing orders the two within one
        # selection that leaves out the models between them) the scorecard over it.
        assets = list(build_definitions(config).assets)
        sis_load = next(
            a
            for a in assets
            if isinstance(a, dg.AssetsDefinition)
            and dg.AssetKey(["raw", "oneroster_users"]) in a.keys
        )
        result = dg.materialize(
            assets,
            selection=dg.AssetSelection.assets(*sis_load.keys),
            resources={"warehouse": WarehouseResource(database=str(config.warehouse.path))},
            instance=instance,
        )
        materialize_scorecard(generated, instance, datetime.now(UTC))
    finally:
        shutil.rmtree(export)
        shutil.copytree(kept, export)
    assert result.success
    ((read, rejected),) = query(
        generated,
        "SELECT sum(rows_read), sum(rows_rejected) FROM audit.sis_loads "
        "WHERE loaded_at = (SELECT max(loaded_at) FROM audit.sis_loads)",
    )
    assert rejected == 4
    row = scorecard(generated, tonight(generated))["sis"]
    assert row["validation_pass_rate"] == pytest.approx(1 - 4 / read)
    # Only the retired class is a reference that does not resolve.
    assert row["referential_integrity"] == pytest.approx(1 - 1 / read)
    assert row["status"] == "pass"


def materialize_scorecard(generated, instance, now: datetime) -> dg.ExecuteInProcessResult:
    """The scorecard alone, judged at `now` (its run config), over the warehouse as it stands."""
    config = load_config(generated.config_path)
    result = dg.materialize(
        [build_interoperability_assets(config, with_inventory=False)],
        resources={"warehouse": WarehouseResource(database=str(config.warehouse.path))},
        run_config={"ops": {"interoperability_scorecard": {"config": {"now": now.isoformat()}}}},
        instance=instance,
    )
    assert result.success
    return result


def test_a_source_whose_last_sync_is_older_than_26_hours_is_stale_and_fails(district):
    generated, _, instance, _ = district
    # The clock is the run's `now`; the sync history is moved back instead, as a OneRoster REST
    # pull that has not finished for 30 hours would leave it.
    path = warehouse_of(generated)
    con = duckdb.connect(str(path))
    try:
        con.execute(
            "UPDATE audit.api_syncs SET started_at = started_at - INTERVAL 30 HOUR, "
            "finished_at = finished_at - INTERVAL 30 HOUR WHERE source = 'oneroster_rest'"
        ).fetchall()
    finally:
        con.close()
    try:
        result = materialize_scorecard(generated, instance, datetime.now(UTC))
        rows = scorecard(generated, tonight(generated))
    finally:
        con = duckdb.connect(str(path))
        try:
            con.execute(
                "UPDATE audit.api_syncs SET started_at = started_at + INTERVAL 30 HOUR, "
                "finished_at = finished_at + INTERVAL 30 HOUR WHERE source = 'oneroster_rest'"
            ).fetchall()
        finally:
            con.close()
    assert rows["oneroster_rest"]["fresh"] is False
    assert rows["oneroster_rest"]["status"] == "fail"
    assert "30 hours ago" in rows["oneroster_rest"]["findings"]
    assert rows["canvas"]["fresh"] is True
    assert rows["sis"]["fresh"] is True
    evaluation = next(
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == check_name("oneroster_rest")
    )
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR


def test_a_rerun_of_the_same_night_replaces_its_rows(district):
    generated, _, instance, _ = district
    other_nights = query(
        generated,
        "SELECT count(*) FROM marts.interoperability_scorecard WHERE night <> ?",
        [tonight(generated)],
    )[0][0]
    now = datetime.now(UTC)
    materialize_scorecard(generated, instance, now)
    first = scorecard(generated, tonight(generated))
    materialize_scorecard(generated, instance, now)
    second = scorecard(generated, tonight(generated))
    assert first == second
    assert (
        query(
            generated,
            "SELECT night, count(*) FROM marts.interoperability_scorecard GROUP BY night "
            "HAVING count(*) <> 3",
        )
        == []
    )
    assert query(
        generated,
        "SELECT count(*) FROM marts.data_infrastructure_levels WHERE night = ?",
        [tonight(generated)],
    ) == [(2,)]
    assert (
        query(
            generated,
            "SELECT count(*) FROM marts.interoperability_scorecard WHERE night <> ?",
            [tonight(generated)],
        )[0][0]
        == other_nights
    )


def change_sourced_id(export: Path, old: str, new: str) -> None:
    """The SIS gives one learner a new sourcedId, everywhere the export names it."""
    for path in export.glob("*.csv"):
        text = path.read_text(encoding="utf-8")
        if old in text:
            path.write_text(text.replace(old, new), encoding="utf-8")


def test_an_sis_id_that_changed_for_the_same_person_is_counted_the_next_night(district, tmp_path):
    generated, _, instance, _ = district
    export = load_config(generated.config_path).sources.sis.path
    kept = tmp_path / "export"
    shutil.copytree(export, kept)
    first_night = tonight(generated)
    change_sourced_id(export, "stu-0000007", "stu-9000007")
    try:
        # The next night: the whole night runs, the scorecard judged a day later.
        job = build_definitions(load_config(generated.config_path)).resolve_job_def(NIGHTLY_JOB)
        tomorrow = datetime.now(UTC) + timedelta(days=1)
        result = job.execute_in_process(
            run_config={
                "ops": {"interoperability_scorecard": {"config": {"now": tomorrow.isoformat()}}}
            },
            instance=instance,
            raise_on_error=False,
        )
    finally:
        shutil.rmtree(export)
        shutil.copytree(kept, export)
    failures = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert_scorecard_built(instance, result.run_id, failures)
    assert scorecard(generated, first_night)["sis"]["sis_id_changes"] == 0
    row = scorecard(generated, first_night + timedelta(days=1))["sis"]
    assert row["sis_id_changes"] == 1
    assert row["status"] == "warn"
    assert "1 learner(s) got a new SIS sourcedId" in row["findings"]
    # Only hashes are kept.
    assert query(
        generated,
        "SELECT count(*) FROM audit.learner_identities WHERE identity_key LIKE '%@%' "
        "OR length(identity_key) <> 64",
    ) == [(0,)]


def test_the_scorecard_waits_for_the_data_inventory_only_when_the_night_builds_it(district):
    generated, _, _, _ = district
    config = load_config(generated.config_path)
    graph = build_definitions(config).resolve_asset_graph()
    parents = graph.get(SCORECARD_KEY).parent_keys
    assert (DATA_INVENTORY_KEY in parents) == graph.has(DATA_INVENTORY_KEY)
    assert dg.AssetKey(["marts", "learner_link_rates"]) in parents
    assert dg.AssetKey(["marts", "transparency_findings"]) not in parents
    assert graph.has(LEVELS_KEY)
