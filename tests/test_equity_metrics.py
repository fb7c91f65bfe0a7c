"""The equity lens, for real: a generated district's night builds marts.equity_metrics, and what
it publishes gives away no hidden number.

The attack reads only the published mart (every shown learners, learners_meeting, rate,
rate_range, gap_to_all and suppression_reason) and runs the linear and integer attackers of
tests/test_suppression.py (tests/suppression_attacks.py) over it: any suppressed number they can
pin fails the test. The truth they are checked against is counted here, learner by learner, from
core.learner_metrics.
"""

import csv
import shutil
from collections import defaultdict
from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
from rich.console import Console
from suppression_attacks import (
    IntegerAttack,
    Key,
    Layout,
    Publication,
    linear_leaks,
)
from test_credentials_nightly import without_exports

from models.config import PrivacySettings, load_config
from models.equity import ALL, EquityLensError, equity_lens
from models.suppression import DEFAULT_RATE_BANDS, Dimension, Reason, SuppressedCell
from pipelines.cli import run_nightly
from pipelines.equity import EQUITY_METRICS_KEY, build_equity_night
from pipelines.sql_models import discover_sql_models
from sample_district.generate import generate_district

LEARNERS = 300
MIN_GROUP_SIZE = 10
TINY_SCHOOL = "sch-tiny"
TINY_SCHOOL_LEARNERS = 6
# Every metric a generated district carries: its badge folder, gradebook, classes, SIS fields.
CARRIED = (
    "earned_micro_credential",
    "mastered_competency",
    "in_competency_based_class",
    "has_device",
    "has_home_internet",
    "had_career_advising",
    "in_work_based_learning",
)


def run_night(district):
    with dg.DagsterInstance.ephemeral() as instance:
        summary = run_nightly(district.config_path, Console(quiet=True), instance=instance)
        materialized = {
            e.dagster_event.asset_key
            for e in instance.all_logs(summary.run_id)
            if e.dagster_event and e.dagster_event.event_type_value == "ASSET_MATERIALIZATION"
        }
    return summary, materialized


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """A 300-learner district (three schools) after one nightly run."""
    district = generate_district(LEARNERS, tmp_path_factory.mktemp("district") / "d", seed=7)
    without_exports(district.config_path)
    summary, materialized = run_night(district)
    return district, summary, materialized


def move_to_a_tiny_school(oneroster, learners: int) -> None:
    """A new school in the export holding `learners` students moved from the first school."""
    orgs = read_csv(oneroster / "orgs.csv")
    district_org = next(r for r in orgs if r["type"] == "district")["sourcedId"]
    first_school = next(r for r in orgs if r["type"] == "school")["sourcedId"]
    orgs.append(
        {
            **dict.fromkeys(orgs[0], ""),
            "sourcedId": TINY_SCHOOL,
            "name": "Tiny Alternative School",
            "type": "school",
            "identifier": "9999",
            "parentSourcedId": district_org,
        }
    )
    write_csv(oneroster / "orgs.csv", orgs)
    roles = read_csv(oneroster / "roles.csv")
    moved = [
        r["userSourcedId"]
        for r in roles
        if r["role"] == "student" and r["orgSourcedId"] == first_school
    ][:learners]
    for row in roles:
        if row["userSourcedId"] in moved:
            row["orgSourcedId"] = TINY_SCHOOL
    write_csv(oneroster / "roles.csv", roles)
    users = read_csv(oneroster / "users.csv")
    for row in users:
        if row["sourcedId"] in moved:
            row["primaryOrgSourcedId"] = TINY_SCHOOL
    write_csv(oneroster / "users.csv", users)


def drop_column(path, column: str) -> None:
    rows = read_csv(path)
    for row in rows:
        del row[column]
    write_csv(path, rows)


def read_csv(path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def write_csv(path, rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def tiny_school_night(tmp_path_factory):
    """A district with a six-learner school whose SIS sends no device-access field."""
    district = generate_district(LEARNERS, tmp_path_factory.mktemp("tiny") / "d", seed=11)
    without_exports(district.config_path)
    move_to_a_tiny_school(district.oneroster_path, TINY_SCHOOL_LEARNERS)
    drop_column(district.oneroster_path / "demographics.csv", "metadata.deviceAccess")
    summary, materialized = run_night(district)
    return district, summary, materialized


# Reading the warehouse ----------------------------------------------------------------------------


def connect(district) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(load_config(district.config_path).warehouse.path), read_only=True)


def mart_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    cursor = con.execute("SELECT * FROM marts.equity_metrics")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def group_of(row: dict) -> dict[str, str]:
    group = {} if row["school_id"] is None else {"school": row["school_id"]}
    if row["dimension"] != ALL:
        group[row["dimension"]] = row["group_value"]
    return group


def rate_range(text: str | None) -> tuple[float, float] | None:
    """'<= 5%' as (0.0, 0.05), '>= 95%' as (0.95, 1.0), as `suppress` gave them."""
    if text is None:
        return None
    percent = float(text[3:].rstrip("%")) / 100
    return (0.0, percent) if text.startswith("<=") else (percent, 1.0)


def published(rows: list[dict]) -> tuple[Layout, list[SuppressedCell]]:
    """The mart read back as a reader sees it: its groups, and each row's shown numbers."""
    schools = tuple(sorted({r["school_id"] for r in rows if r["school_id"] is not None}))
    values: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        if row["dimension"] != ALL and row["group_value"] not in values[row["dimension"]]:
            values[row["dimension"]].append(row["group_value"])
    dimensions = (
        Dimension("school", schools),
        *(Dimension(d.id, tuple(values[d.id])) for d in equity_lens().dimensions),
    )
    cells = [
        SuppressedCell(
            group_of(r),
            r["metric"],
            r["learners"],
            r["learners_meeting"],
            r["rate"],
            r["gap_to_all"],
            rate_range(r["rate_range"]),
            None if r["suppression_reason"] is None else Reason(r["suppression_reason"]),
        )
        for r in rows
    ]
    layout = Layout(dimensions, ())
    groups = tuple(dict.fromkeys(layout.key(cell.group) for cell in cells))
    return Layout(dimensions, groups), cells


def truth(
    con: duckdb.DuckDBPyConnection, layout: Layout, metrics: list[str]
) -> dict[Key, tuple[int, dict[str, int]]]:
    """Every published group's true size and counts, counted learner by learner."""
    columns = [d.name for d in layout.dimensions[1:]]
    cursor = con.execute(
        f"SELECT school_id, {', '.join(columns)}, {', '.join(metrics)} FROM core.learner_metrics"
    )
    found = {key: [0, dict.fromkeys(metrics, 0)] for key in layout.groups}
    for row in cursor.fetchall():
        attributes = dict(zip(["school", *columns], row[: 1 + len(columns)], strict=True))
        met = dict(zip(metrics, row[1 + len(columns) :], strict=True))
        for key in layout.groups:
            if all(attributes[name] == value for name, value in key):
                found[key][0] += 1
                for metric in metrics:
                    found[key][1][metric] += bool(met[metric])
    return {key: (size, counts) for key, (size, counts) in found.items()}


def tonight(district) -> tuple[list[dict], Layout, list[SuppressedCell], dict]:
    with connect(district) as con:
        rows = mart_rows(con)
        layout, cells = published(rows)
        metrics = sorted({r["metric"] for r in rows})
        return rows, layout, cells, truth(con, layout, metrics)


def leaks(layout: Layout, cells: list[SuppressedCell], true) -> list[str]:
    publication = Publication.of(layout, cells)
    found = linear_leaks(publication)
    attack = IntegerAttack(
        publication, true, min_group_size=MIN_GROUP_SIZE, bands=DEFAULT_RATE_BANDS
    )
    return found + attack.leaks()


# The night's mart ---------------------------------------------------------------------------------


def test_the_night_builds_every_metric_for_the_district_and_each_school_by_every_group(night):
    district, summary, materialized = night
    assert EQUITY_METRICS_KEY in materialized, summary.failures
    rows, layout, _, _ = tonight(district)
    metrics = {r["metric"] for r in rows}
    assert metrics == set(CARRIED) == {m.id for m in equity_lens().metrics}
    with connect(district) as con:
        schools = {
            s for (s,) in con.execute("SELECT school_sourced_id FROM core.learners").fetchall()
        }
    assert {r["school_id"] for r in rows} == {None, *schools}
    timezone = ZoneInfo(load_config(district.config_path).district.timezone)
    assert {r["night"] for r in rows} == {datetime.now(timezone).date()}
    # Every metric x (district and each school) x (all learners and every group's value).
    groups = 1 + sum(len(d.values) for d in layout.dimensions[1:])
    assert len(rows) == len(metrics) * (1 + len(schools)) * groups
    assert {r["dimension"] for r in rows} == {ALL, *(d.id for d in equity_lens().dimensions)}
    labels = {m.id: m.label for m in equity_lens().metrics}
    assert all(r["metric_label"] == labels[r["metric"]] for r in rows)


def test_every_group_smaller_than_the_minimum_is_suppressed_and_every_shown_number_is_true(night):
    rows, layout, cells, true = tonight(night[0])
    small = 0
    for row, cell in zip(rows, cells, strict=True):
        size, counts = true[layout.key(cell.group)]
        if size < MIN_GROUP_SIZE:
            small += 1
            assert row["learners"] is None and row["suppression_reason"] == "primary", row
            assert row["suppressed"]
            assert (row["learners_meeting"], row["rate"], row["gap_to_all"]) == (None,) * 3
        if row["learners"] is not None:
            assert row["learners"] == size
        if row["learners_meeting"] is not None:
            assert row["learners_meeting"] == counts[row["metric"]]
            assert row["rate"] == pytest.approx(counts[row["metric"]] / size)
            assert not row["suppressed"]
        else:
            assert row["suppressed"] and row["suppression_reason"] is not None
    assert small > 0  # a 300-learner district has groups under the minimum to hide


def test_the_gap_is_the_rate_minus_the_rate_of_all_learners_of_the_same_scope(night):
    rows = tonight(night[0])[0]
    by_group = {(r["metric"], r["school_id"], r["dimension"], r["group_value"]): r for r in rows}
    shown = 0
    for row in rows:
        if row["gap_to_all"] is None:
            continue
        shown += 1
        if row["dimension"] == ALL:  # a school against the district
            reference = by_group[row["metric"], None, ALL, ALL]
        else:
            reference = by_group[row["metric"], row["school_id"], ALL, ALL]
        assert row["gap_to_all"] == pytest.approx(row["rate"] - reference["rate"])
    assert shown > 0
    district_rows = [r for r in rows if r["school_id"] is None and r["dimension"] == ALL]
    assert all(r["gap_to_all"] == 0 for r in district_rows if r["rate"] is not None)


def test_no_suppressed_number_of_the_published_mart_can_be_recomputed(night):
    _, layout, cells, true = tonight(night[0])
    assert any(cell.reason is Reason.COMPLEMENTARY for cell in cells)
    assert leaks(layout, cells, true) == []


def test_the_attack_recomputes_a_hidden_group_when_its_complement_is_shown(night):
    # The attack is not vacuous on the mart: show one complementary group as it truly is, and
    # the primary group it protects is recomputed.
    _, layout, cells, true = tonight(night[0])
    complement = next(c for c in cells if c.reason is Reason.COMPLEMENTARY and c.size is None)
    size, counts = true[layout.key(complement.group)]
    careless = [
        SuppressedCell(c.group, c.metric, size, counts[c.metric], None, None, None, None)
        if c.group == complement.group
        else c
        for c in cells
    ]
    assert linear_leaks(Publication.of(layout, careless))


def test_a_rerun_of_the_same_night_replaces_its_rows_and_other_nights_are_kept(night, tmp_path):
    district = night[0]
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(load_config(district.config_path).warehouse.path, copy)
    with duckdb.connect(str(copy)) as con:
        before = sorted(map(repr, mart_rows(con)))
        tonight_ = con.execute("SELECT any_value(night) FROM marts.equity_metrics").fetchall()[0][0]
        build_equity_night(con, PrivacySettings(), tonight_)
        assert sorted(map(repr, mart_rows(con))) == before
        build_equity_night(con, PrivacySettings(), date(2020, 1, 1))
        nights = dict(
            con.execute(
                "SELECT night, count(*) FROM marts.equity_metrics GROUP BY night"
            ).fetchall()
        )
    assert nights == {tonight_: len(before), date(2020, 1, 1): len(before)}


def test_the_configured_minimum_group_size_is_the_one_applied(night, tmp_path):
    district = night[0]
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(load_config(district.config_path).warehouse.path, copy)
    with duckdb.connect(str(copy)) as con:
        build_equity_night(con, PrivacySettings(min_group_size=40), date(2020, 1, 1))
        sizes = [
            n
            for (n,) in con.execute(
                "SELECT learners FROM marts.equity_metrics WHERE night = DATE '2020-01-01'"
            ).fetchall()
        ]
    assert min(n for n in sizes if n is not None) >= 40
    assert any(n is None for n in sizes)


def test_rate_bands_that_would_show_no_one_are_refused_by_the_config():
    with pytest.raises(ValueError, match="no one"):
        PrivacySettings(rate_bands=[{"min_size": 10, "percent": 5}])


def test_the_mart_and_its_columns_are_documented_in_the_catalog(night):
    with connect(night[0]) as con:
        table = con.execute(
            "SELECT comment FROM duckdb_tables() "
            "WHERE schema_name = 'marts' AND table_name = 'equity_metrics'"
        ).fetchall()[0][0]
        undocumented = con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'marts' "
            "AND table_name = 'equity_metrics' AND coalesce(comment, '') = ''"
        ).fetchall()
        learner_facts = con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'core' "
            "AND table_name = 'learner_metrics' AND coalesce(comment, '') = ''"
        ).fetchall()
    assert "suppressed" in table
    assert undocumented == []
    assert learner_facts == []


# A tiny school, and a SIS field the district does not send ---------------------------------------


def test_a_tiny_school_is_suppressed_with_complementary_cells(tiny_school_night):
    district, summary, materialized = tiny_school_night
    assert EQUITY_METRICS_KEY in materialized, summary.failures
    rows, layout, cells, true = tonight(district)
    tiny = [r for r in rows if r["school_id"] == TINY_SCHOOL]
    assert tiny and all(r["learners"] is None and r["suppressed"] for r in tiny)
    assert {r["suppression_reason"] for r in tiny if r["dimension"] == ALL} == {"primary"}
    # The district is the sum of its schools: another school's total is hidden beside it.
    schools = [
        r for r in rows if r["school_id"] not in (None, TINY_SCHOOL) and r["dimension"] == ALL
    ]
    assert any(
        r["suppression_reason"] == "complementary" and r["learners"] is None for r in schools
    )
    assert leaks(layout, cells, true) == []


def test_a_metric_whose_sis_field_is_missing_is_left_out_and_the_night_builds(tiny_school_night):
    district, summary, materialized = tiny_school_night
    assert EQUITY_METRICS_KEY in materialized, summary.failures
    metrics = {r["metric"] for r in tonight(district)[0]}
    assert metrics == set(CARRIED) - {"has_device"}


# The lens as data ---------------------------------------------------------------------------------


def test_every_declared_metric_and_group_is_a_documented_column_of_the_learner_facts():
    model = next(m for m in discover_sql_models() if m.table == "learner_metrics")
    lens = equity_lens()
    columns = [m.column for m in lens.metrics] + [d.column for d in lens.dimensions]
    assert set(columns) <= set(model.column_docs)


def test_a_lens_file_with_unquoted_yes_and_no_is_refused(tmp_path):
    # YAML 1.1 reads a bare yes/no as a boolean: the group values would not be the mart's.
    lens = tmp_path / "lens.yaml"
    lens.write_text(
        "metrics: [{id: has_device, label: Device, column: has_device}]\n"
        "dimensions: [{id: english_learner, label: EL, column: english_learner, "
        "values: [yes, no]}]\n",
        encoding="utf-8",
    )
    with pytest.raises(EquityLensError, match="quote yes/no"):
        equity_lens(lens)
