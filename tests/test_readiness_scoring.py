"""Readiness scoring: measured rules and their thresholds, the district's self-assessment, the
final and category levels, and the three readiness marts a real night writes."""

import csv
import hashlib
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest
import yaml
from rich.console import Console

from models.config import ConfigError, load_config
from models.readiness import Level, load_framework
from models.readiness_rules import (
    SELF_ASSESSMENT_ABOVE_MEASURED,
    SELF_ASSESSMENT_BELOW_MEASURED,
    MeasureValue,
    category_level,
    final_level,
    indicator_flags,
    load_readiness_rules,
    measured_level,
)
from pipelines.cli import run_nightly
from pipelines.readiness import (
    SELF_ASSESSMENT_SOURCE,
    build_readiness_asset,
    read_self_assessment,
)
from pipelines.warehouse import WarehouseResource
from sample_district.generate import CAREER_SUPPORT_METADATA_COLUMNS, generate_district

FRAMEWORK = load_framework()
RULES = load_readiness_rules()
BROADBAND = "technology_access_and_adoption.broadband_and_device_access"
COURSES = "competency_based_education.competency_based_learning_and_assessment"
BADGES = "competency_based_education.micro_credentials_and_digital_badging"
COUNSELING = "student_advising_and_career_support.personalized_career_counseling"
INTEROPERABLE = "data_security_privacy_and_infrastructure.interoperable_infrastructure"
TRANSPARENCY = "data_security_privacy_and_infrastructure.data_collection_transparency"
LEVELS = {level.value for level in Level}


def value(number: float | None, numerator: int = 1, denominator: int = 1) -> MeasureValue:
    return MeasureValue(number, numerator, denominator)


# --- measured rules -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("indicator_id", "values", "expected"),
    [
        (COURSES, {"competency_based_course_offerings": value(0)}, Level.STARTING),
        (COURSES, {"competency_based_course_offerings": value(1)}, Level.PRACTICING),
        (COURSES, {"competency_based_course_offerings": value(2)}, Level.SUSTAINING),
        (COURSES, {"competency_based_course_offerings": value(9)}, Level.SUSTAINING),
        (BROADBAND, {"home_device_and_internet_share": value(0.799)}, Level.STARTING),
        (BROADBAND, {"home_device_and_internet_share": value(0.80)}, Level.PRACTICING),
        (BROADBAND, {"home_device_and_internet_share": value(0.979)}, Level.PRACTICING),
        (BROADBAND, {"home_device_and_internet_share": value(0.98)}, Level.SUSTAINING),
        (COUNSELING, {"career_advising_coverage": value(0.49)}, Level.STARTING),
        (COUNSELING, {"career_advising_coverage": value(0.5)}, Level.PRACTICING),
        (COUNSELING, {"career_advising_coverage": value(0.9)}, Level.SUSTAINING),
        # Micro-credentials: none defined is Starting even if the share were high (levels are
        # cumulative); defined but not held is Practicing; held by 5% of learners is Sustaining.
        (
            BADGES,
            {
                "micro_credential_achievements_defined": value(0),
                "micro_credential_holder_share": value(0.5),
            },
            Level.STARTING,
        ),
        (
            BADGES,
            {
                "micro_credential_achievements_defined": value(3),
                "micro_credential_holder_share": value(0.0),
            },
            Level.PRACTICING,
        ),
        (
            BADGES,
            {
                "micro_credential_achievements_defined": value(3),
                "micro_credential_holder_share": value(0.049),
            },
            Level.PRACTICING,
        ),
        (
            BADGES,
            {
                "micro_credential_achievements_defined": value(3),
                "micro_credential_holder_share": value(0.05),
            },
            Level.SUSTAINING,
        ),
    ],
)
def test_a_measure_at_each_threshold_gives_the_declared_level(indicator_id, values, expected):
    measurement = measured_level(RULES.rules[indicator_id], values, RULES.measures)
    assert measurement is not None
    assert measurement.level is expected
    assert measurement.evidence_json["level"] == expected.value


def test_a_measured_level_carries_the_numbers_behind_it():
    measurement = measured_level(
        RULES.rules[BROADBAND],
        {"home_device_and_internet_share": value(0.8412, 841, 1000)},
        RULES.measures,
    )
    assert "841 of 1,000 learners" in measurement.evidence
    assert "84.1%" in measurement.evidence and "Practicing from 80%" in measurement.evidence
    measure = measurement.evidence_json["measures"]["home_device_and_internet_share"]
    assert measure == {"value": 0.8412, "numerator": 841, "denominator": 1000, "unit": "share"}
    assert measurement.evidence_json["thresholds"]["sustaining"]["at_least"] == 0.98


def test_nothing_to_measure_gives_no_measured_level_rather_than_starting():
    assert measured_level(RULES.rules[BROADBAND], {}, RULES.measures) is None
    assert (
        measured_level(
            RULES.rules[BROADBAND],
            {"home_device_and_internet_share": value(None, 0, 0)},
            RULES.measures,
        )
        is None
    )


def test_every_rule_names_a_framework_indicator_and_the_rest_are_self_assessed_only():
    ids = {indicator.id for indicator in FRAMEWORK.indicators}
    assert set(RULES.rules) <= ids
    assert {INTEROPERABLE, TRANSPARENCY, BROADBAND, COURSES, BADGES} <= set(RULES.rules)
    assert len(ids - set(RULES.rules)) == 14


def test_a_threshold_override_changes_the_level():
    values = {"home_device_and_internet_share": value(0.85)}
    stricter = RULES.with_thresholds({BROADBAND: {"practicing": 0.9}})
    assert measured_level(RULES.rules[BROADBAND], values, RULES.measures).level is Level.PRACTICING
    assert measured_level(stricter.rules[BROADBAND], values, RULES.measures).level is Level.STARTING


# --- final and category levels ------------------------------------------------------------------


def test_a_self_assessment_above_the_measured_level_is_flagged_and_data_wins():
    assert indicator_flags(Level.PRACTICING, Level.SUSTAINING) == [SELF_ASSESSMENT_ABOVE_MEASURED]
    assert final_level(Level.PRACTICING, Level.SUSTAINING) is Level.PRACTICING


def test_a_self_assessment_below_or_equal_to_the_measured_level():
    assert indicator_flags(Level.SUSTAINING, Level.STARTING) == [SELF_ASSESSMENT_BELOW_MEASURED]
    assert indicator_flags(Level.PRACTICING, Level.PRACTICING) == []


def test_an_indicator_with_neither_evidence_is_not_assessed():
    assert final_level(None, None) is None
    assert indicator_flags(None, None) == []
    assert final_level(None, Level.STARTING) is Level.STARTING


@pytest.mark.parametrize(
    ("levels", "expected"),
    [
        ([Level.SUSTAINING, Level.PRACTICING, Level.SUSTAINING], Level.PRACTICING),
        ([Level.SUSTAINING, None, Level.STARTING], Level.STARTING),
        ([Level.SUSTAINING, None, None, Level.SUSTAINING], Level.SUSTAINING),  # half assessed
        ([Level.SUSTAINING, None, None], None),  # fewer than half
        ([None, None], None),
    ],
)
def test_a_category_is_its_lowest_assessed_level_when_half_are_assessed(levels, expected):
    assert category_level(levels, RULES.min_assessed_share) == expected


# --- self-assessment file -----------------------------------------------------------------------


def write_self_assessment(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["indicator_id", "level", "evidence_note", "assessed_by", "assessed_on"])
        writer.writerows(rows)
    return path


def test_bad_self_assessment_rows_are_reported_with_file_line_and_field_and_the_rest_kept(
    tmp_path,
):
    path = write_self_assessment(
        tmp_path / "readiness_self_assessment.csv",
        [
            [BROADBAND, "Sustaining", "Hotspots for all", "Director of Technology", "2026-10-01"],
            [BROADBAND.replace("access", "acess", 1), "Starting", "", "CIO", "2026-10-01"],
            [COURSES, "Expert", "", "Chief Academic Officer", "2026-10-01"],
            [COUNSELING, "practicing", "", "someone@district.example", "2026-10-01"],
            [TRANSPARENCY, "Starting", "", "Data Privacy Officer", "01/10/2026"],
            [BROADBAND, "Starting", "second row", "Superintendent", "2026-10-02"],
            [INTEROPERABLE, "Practicing", "APIs in place", "Director of Technology", "2026-10-03"],
        ],
    )
    kept, rejected = read_self_assessment(path, FRAMEWORK, date(2026, 11, 1))

    assert set(kept) == {BROADBAND, INTEROPERABLE}
    assert kept[BROADBAND].level is Level.SUSTAINING and kept[BROADBAND].line == 2
    assert kept[INTEROPERABLE].assessed_on == date(2026, 10, 3)
    where = [(r.file, r.line, r.field) for r in rejected]
    assert where == [
        (str(path), 3, "indicator_id"),
        (str(path), 4, "level"),
        (str(path), 5, "assessed_by"),
        (str(path), 6, "assessed_on"),
        (str(path), 7, "indicator_id"),
    ]
    reasons = [r.reason for r in rejected]
    assert f"did you mean {BROADBAND!r}" in reasons[0]
    assert "Starting, Practicing or Sustaining" in reasons[1]
    assert "YYYY-MM-DD" in reasons[3]
    assert "already assessed on line 2" in reasons[4]
    # An email address where a role belongs is never copied into the audit table.
    assert rejected[2].value == "(masked)"


def test_a_self_assessment_file_without_the_header_is_one_reported_problem(tmp_path):
    path = tmp_path / "readiness_self_assessment.csv"
    path.write_text(f"indicator,level\n{BROADBAND},Starting\n", encoding="utf-8")
    kept, rejected = read_self_assessment(path, FRAMEWORK, date(2026, 11, 1))
    assert kept == {}
    assert [(r.line, r.field) for r in rejected] == [(1, "indicator_id")]
    assert "indicator_id,level,evidence_note,assessed_by,assessed_on" in rejected[0].reason


def test_a_threshold_for_an_unknown_indicator_stops_the_config_with_a_suggestion(tmp_path):
    config = yaml.safe_load(Path(generate_config(tmp_path)).read_text(encoding="utf-8"))
    config["readiness"] = {"thresholds": {BROADBAND.replace("access", "acess", 1): {"x": 1}}}
    path = tmp_path / "pathways.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(ConfigError, match=f"did you mean {BROADBAND!r}"):
        load_config(path)


def generate_config(folder: Path) -> Path:
    config = {
        "district": {"id": "d", "name": "D", "timezone": "America/Chicago"},
        "warehouse": {"path": "w/warehouse.duckdb", "published_path": "p/warehouse.duckdb"},
        "sources": {"sis": {"kind": "oneroster_csv", "path": "sis"}},
    }
    path = folder / "pathways.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def test_the_self_assessment_file_defaults_to_beside_pathways_yaml(tmp_path):
    config = load_config(generate_config(tmp_path))
    assert config.readiness.self_assessment_path == tmp_path / "readiness_self_assessment.csv"


# --- the real night -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """A 300-learner sample district (with its sample self-assessment) after one nightly run."""
    district = generate_district(300, tmp_path_factory.mktemp("district") / "d", seed=7)
    with dg.DagsterInstance.ephemeral() as instance:
        summary = run_nightly(district.config_path, Console(quiet=True), instance=instance)
    # Only the readiness steps and what they read must succeed here; tests/test_nightly.py
    # holds the whole night to succeeding.
    assert not [f for f in summary.failures if "readiness" in f or "infrastructure" in f], (
        summary.failures
    )
    config = load_config(district.config_path)
    tonight = datetime.now(ZoneInfo(config.district.timezone)).date()
    return district, config, tonight


def rows(config, sql: str, params: list | None = None) -> list[dict]:
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        cursor = con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def score(config, night: date, infrastructure_in_graph: bool = False) -> None:
    """Materialize the readiness marts alone, for one night, on the night's warehouse."""
    result = dg.materialize(
        [build_readiness_asset(config, infrastructure_in_graph)],
        resources={"warehouse": WarehouseResource(database=str(config.warehouse.path))},
        run_config={"ops": {"readiness_scoring": {"config": {"night": night.isoformat()}}}},
    )
    assert result.success


def test_the_night_scores_every_indicator_and_category(night):
    _, config, tonight = night
    indicators = rows(config, "SELECT * FROM marts.readiness_indicators WHERE night = ?", [tonight])
    categories = rows(config, "SELECT * FROM marts.readiness_categories WHERE night = ?", [tonight])

    assert len(indicators) == 21 and len(categories) == 7
    assert {r["night"] for r in indicators + categories} == {tonight}
    assert [r["indicator_id"] for r in indicators] == [i.id for i in FRAMEWORK.indicators]
    for row in indicators:
        assert row["final_level"] in LEVELS | {None}
        assert row["status"] == ("assessed" if row["final_level"] else "not assessed")
        if row["final_level"]:
            statement = FRAMEWORK.indicator(row["indicator_id"]).statement(
                Level(row["final_level"])
            )
            assert row["final_statement"] == statement
    by_id = {r["indicator_id"]: r for r in indicators}
    # Measured from the sample SIS, with the numbers behind it.
    counseling = by_id[COUNSELING]
    assert counseling["measured_level"] in LEVELS
    evidence = json.loads(counseling["measured_evidence_json"])
    assert evidence["measures"]["career_advising_coverage"]["denominator"] > 0
    assert "high-school learners" in counseling["measured_evidence"]
    # The sample self-assessment rates broadband above what the SIS data shows.
    broadband = by_id[BROADBAND]
    assert (broadband["measured_level"], broadband["self_assessed_level"]) == (
        "Practicing",
        "Sustaining",
    )
    assert broadband["final_level"] == "Practicing"
    assert broadband["flags"] == [SELF_ASSESSMENT_ABOVE_MEASURED]
    assert broadband["self_assessed_by"] == "Director of Technology"
    # Nothing measures or self-assesses job placement support in the sample.
    job = by_id["student_advising_and_career_support.job_placement_support"]
    assert (job["final_level"], job["status"]) == (None, "not assessed")
    # The two data indicators are measured by marts.data_infrastructure_levels tonight.
    infrastructure = {
        r["indicator_id"]: r["level"]
        for r in rows(
            config,
            "SELECT indicator_id, level FROM marts.data_infrastructure_levels WHERE night = ?",
            [tonight],
        )
    }
    assert set(infrastructure) == {INTEROPERABLE, TRANSPARENCY}
    for indicator_id, level in infrastructure.items():
        assert by_id[indicator_id]["measured_level"] == level
    category = {r["category_id"]: r for r in categories}
    assert category["technology_access_and_adoption"]["indicators_assessed"] == 2
    assert category["readiness_for_change"]["level"] == "Starting"


def test_every_readiness_column_is_documented(night):
    _, config, _ = night
    undocumented = rows(
        config,
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = 'marts' "
        "AND table_name LIKE 'readiness%' AND (comment IS NULL OR comment = '')",
    )
    assert undocumented == []


def test_a_second_night_adds_history_and_a_rerun_replaces_its_night(night):
    _, config, tonight = night
    tomorrow = tonight + timedelta(days=1)
    score(config, tomorrow)
    score(config, tomorrow)

    for table, per_night in (
        ("readiness_history", 21),
        ("readiness_indicators", 21),
        ("readiness_categories", 7),
    ):
        counts = rows(
            config,
            f"SELECT night, count(*) AS n, count(DISTINCT category_id) AS categories "
            f"FROM marts.{table} WHERE night IN (?, ?) GROUP BY night ORDER BY night",
            [tonight, tomorrow],
        )
        assert counts == [
            {"night": tonight, "n": per_night, "categories": 7},
            {"night": tomorrow, "n": per_night, "categories": 7},
        ], table


def test_a_threshold_override_in_pathways_yaml_changes_the_measured_level(night, tmp_path):
    district, _, tonight = night
    document = yaml.safe_load(district.config_path.read_text(encoding="utf-8"))
    document["readiness"] = {"thresholds": {BROADBAND: {"practicing": 0.99, "sustaining": 1.0}}}
    overridden = district.config_path.with_name("pathways-stricter.yaml")
    overridden.write_text(yaml.safe_dump(document), encoding="utf-8")
    config = load_config(overridden)
    a_night = tonight + timedelta(days=10)

    score(config, a_night)

    row = rows(
        config,
        "SELECT measured_level, measured_evidence_json FROM marts.readiness_indicators "
        "WHERE indicator_id = ? AND night = ?",
        [BROADBAND, a_night],
    )[0]
    assert row["measured_level"] == "Starting"
    thresholds = json.loads(row["measured_evidence_json"])["thresholds"]
    assert thresholds["practicing"]["at_least"] == 0.99


def test_a_bad_self_assessment_row_goes_to_rejected_rows_and_the_others_are_used(night, tmp_path):
    district, _, tonight = night
    path = write_self_assessment(
        tmp_path / "self.csv",
        [
            [
                BROADBAND,
                "Starting",
                "Hotspot program paused",
                "Director of Technology",
                "2026-10-1",
            ],
            [
                COUNSELING,
                "Sustaining",
                "Counselor in every school",
                "Counseling Lead",
                "2026-10-01",
            ],
        ],
    )
    document = yaml.safe_load(district.config_path.read_text(encoding="utf-8"))
    document["readiness"] = {"self_assessment_path": str(path)}
    other = district.config_path.with_name("pathways-self.yaml")
    other.write_text(yaml.safe_dump(document), encoding="utf-8")
    config = load_config(other)
    a_night = tonight + timedelta(days=20)

    score(config, a_night)

    rejected = rows(
        config,
        "SELECT file, line, column_name, reason FROM audit.rejected_rows WHERE source = ?",
        [SELF_ASSESSMENT_SOURCE],
    )
    assert [(r["file"], r["line"], r["column_name"]) for r in rejected] == [
        (str(path), 2, "assessed_on")
    ]
    by_id = {
        r["indicator_id"]: r
        for r in rows(config, "SELECT * FROM marts.readiness_indicators WHERE night = ?", [a_night])
    }
    assert by_id[BROADBAND]["self_assessed_level"] is None
    assert by_id[COUNSELING]["self_assessed_level"] == "Sustaining"
    assert by_id[COUNSELING]["self_assessed_by"] == "Counseling Lead"


def test_the_data_indicators_take_their_level_from_data_infrastructure_levels(night):
    _, config, tonight = night
    a_night = tonight + timedelta(days=30)
    with duckdb.connect(str(config.warehouse.path)) as con:
        con.execute(
            "CREATE TABLE IF NOT EXISTS marts.data_infrastructure_levels (night DATE, "
            "indicator_id VARCHAR, level VARCHAR, evidence VARCHAR, evidence_json JSON)"
        )
        con.execute(
            "INSERT INTO marts.data_infrastructure_levels VALUES "
            "(?, ?, 'Sustaining', 'All systems link by SIS id', '{\"link_rate\": 1.0}'), "
            "(?, ?, 'Practicing', 'Notice published', '{\"fields_declared\": 0.9}')",
            [a_night, INTEROPERABLE, a_night, TRANSPARENCY],
        )
    try:
        score(config, a_night, infrastructure_in_graph=True)
        by_id = {
            r["indicator_id"]: r
            for r in rows(
                config, "SELECT * FROM marts.readiness_indicators WHERE night = ?", [a_night]
            )
        }
    finally:
        with duckdb.connect(str(config.warehouse.path)) as con:
            con.execute("DELETE FROM marts.data_infrastructure_levels WHERE night = ?", [a_night])

    assert by_id[INTEROPERABLE]["measured_level"] == "Sustaining"
    assert by_id[INTEROPERABLE]["measured_evidence"] == "All systems link by SIS id"
    evidence = json.loads(by_id[INTEROPERABLE]["measured_evidence_json"])
    assert evidence["evidence"] == {"link_rate": 1.0}
    assert by_id[TRANSPARENCY]["final_level"] == "Practicing"


# --- the sample district's SIS fields -----------------------------------------------------------

# What the generator wrote for 60 learners, seed 11, before the career-support columns existed:
# sha256 of each file, and of users.csv's parsed rows (JSON) without the two new columns.
BEFORE_CAREER_SUPPORT = {
    "academicSessions.csv": "6bb1712cd2d0ebe1d19ccb7dfa6a03d81d0dc65910612c8d1b250ce1e329d85e",
    "categories.csv": "1f651f288870dc76d261ac74e70653e5109644231236b67f8283429f14dcc1af",
    "classes.csv": "51acdc4dd2f68ef781068715d5c167e482fb9aecd0fe79eb2556a8e67c13dc8d",
    "courses.csv": "eb47f0d2c9bd67b0cf9c8e6960392a38b9a38791805e9dd4bba6ee156c4f62e7",
    "demographics.csv": "950c4a402688948a1a51b645a7dc444886c674f159ee3bdbfd6eb41dc6fedcf9",
    "enrollments.csv": "cfe76c33bcadcf8b3a9e28a987ffa69500b7a31c83038b7be9dc1f7939777735",
    "lineItemLearningObjectiveIds.csv": (
        "5d47541b4eb3f389f5fb7a10a8289e9cb80b36db163be30bec2645a74bdca366"
    ),
    "lineItems.csv": "e285808a0105487c9ff8ea0605601981d2822a2db3d0f38a9acce90f80f7aa64",
    "manifest.csv": "2b4618ea2c3298a36c4b8321dc76b7764cb17fc7bcdf20e00974aa3a8c13b10d",
    "orgs.csv": "f1a99ce3d4771298d08724be30dabcfd401b1115b8bb447ec03597157bc37bfe",
    "resultLearningObjectiveIds.csv": (
        "12a68d936cf19d174432dc43d86935ade1b17ea819c11f1f9e23fbc9a208e90e"
    ),
    "results.csv": "dcf280622b769d8440fcea72b36cd19da2e504f584adf2e005b09b80339470b9",
    "roles.csv": "8ae676e319b3cd6e5533477eaa59edcf43f393036be9a726f1ca627bc2ee8ca0",
}
USERS_ROWS_BEFORE = "5809b32e07757989cfbd1136087794096ee2023c2448b0617b2f6bc248813e58"


def test_the_career_support_columns_leave_every_other_generated_value_unchanged(tmp_path):
    district = generate_district(60, tmp_path / "d", seed=11)
    oneroster = district.oneroster_path
    hashes = {
        file: hashlib.sha256((oneroster / file).read_bytes()).hexdigest()
        for file in BEFORE_CAREER_SUPPORT
    }
    assert hashes == BEFORE_CAREER_SUPPORT
    with (oneroster / "users.csv").open(encoding="utf-8", newline="") as fh:
        users = list(csv.reader(fh))
    assert tuple(users[0][-2:]) == CAREER_SUPPORT_METADATA_COLUMNS
    without = [row[:-2] for row in users]
    assert hashlib.sha256(json.dumps(without).encode()).hexdigest() == USERS_ROWS_BEFORE


def test_career_support_is_reported_for_high_school_learners_and_rarer_when_disadvantaged(
    tmp_path,
):
    district = generate_district(3000, tmp_path / "d", seed=5)
    con = duckdb.connect()
    options = "header = true, all_varchar = true"
    users = str(district.oneroster_path / "users.csv")
    demographics = str(district.oneroster_path / "demographics.csv")
    (wrong_grade,) = con.execute(
        f"""SELECT count(*) FROM read_csv(?, {options})
        WHERE ("metadata.careerAdvisingMeetings" IS NOT NULL
               OR "metadata.workBasedLearning" IS NOT NULL)
          AND grades NOT IN ('09', '10', '11', '12')""",
        [users],
    ).fetchall()[0]
    assert wrong_grade == 0
    by_group = dict(
        con.execute(
            f"""SELECT d."metadata.economicallyDisadvantaged",
                   [avg((u."metadata.careerAdvisingMeetings"::INTEGER >= 1)::INTEGER),
                    avg((u."metadata.workBasedLearning" = 'true')::INTEGER)]
            FROM read_csv(?, {options}) AS u JOIN read_csv(?, {options}) AS d USING (sourcedId)
            WHERE u.grades IN ('09', '10', '11', '12') GROUP BY ALL""",
            [users, demographics],
        ).fetchall()
    )
    advised, placed = by_group["false"]
    advised_ed, placed_ed = by_group["true"]
    assert advised == pytest.approx(0.82, abs=0.05) and advised_ed == pytest.approx(0.68, abs=0.05)
    assert placed_ed < placed and 0.05 < placed < 0.30
