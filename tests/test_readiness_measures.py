"""Measured readiness rules on small hand-built districts: the level at each boundary.

Each district is built directly as the upstream tables `marts.readiness_measures` reads (only the
columns it reads, typed as the core and staging models type them), in an in-memory DuckDB. The
mart's own SQL file builds the measures, and the readiness asset's code path
(`read_measures`, then `score_indicators` with the shipped rules) turns them into levels. So a
test fails when the SQL counts the wrong thing or a threshold moves.

Counts are chosen so the share lands exactly on a threshold (100 learners: 79 vs 80). Each
boundary district also holds rows the SQL must leave out (inactive credentials, learners with
the field not reported, grade 8 learners, a second section of the same course), placed so that
counting them would change the level.
"""

import json
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pytest

from models.readiness import Level, load_framework
from models.readiness_rules import load_readiness_rules
from pipelines.readiness import read_measures, score_indicators
from pipelines.sql_models import SQL_DIR, read_sql_model

FRAMEWORK = load_framework()
RULES = load_readiness_rules()
MODEL = read_sql_model(SQL_DIR / "marts" / "readiness_measures.sql", "marts")

COURSES = "competency_based_education.competency_based_learning_and_assessment"
BADGES = "competency_based_education.micro_credentials_and_digital_badging"
BROADBAND = "technology_access_and_adoption.broadband_and_device_access"
COUNSELING = "student_advising_and_career_support.personalized_career_counseling"
PLACEMENTS = "institutional_or_community_partnerships.internships_and_dual_enrollment"
MEASURED = (COURSES, BADGES, BROADBAND, COUNSELING, PLACEMENTS)

STARTING, PRACTICING, SUSTAINING = Level.STARTING, Level.PRACTICING, Level.SUSTAINING

# The upstream tables readiness_measures.sql reads, with the columns it reads, typed as the core
# and staging models produce them.
UPSTREAM = {
    ("core", "classes"): {"course_sourced_id": "VARCHAR", "is_competency_based": "BOOLEAN"},
    ("core", "credentials"): {"learner_sourced_id": "VARCHAR", "is_active": "BOOLEAN"},
    ("core", "achievements"): {"learners_awarded": "BIGINT"},
    ("core", "learners"): {
        "learner_sourced_id": "VARCHAR",
        "grade": "VARCHAR",
        "has_device": "BOOLEAN",
        "has_home_internet": "BOOLEAN",
    },
    ("staging", "stg_oneroster__users"): {"sourced_id": "VARCHAR", "metadata": "JSON"},
}

# The SIS users extension columns, as the CSV connector stores them (JSON strings; a blank cell is
# a JSON null). A SQL SIS column typed INTEGER or BOOLEAN arrives as a JSON number or boolean.
MEETINGS = "careerAdvisingMeetings"
WORK_BASED = "workBasedLearning"


@dataclass
class District:
    """A hand-built district: rows of the upstream tables, added a few at a time."""

    learners: list[tuple[str, str, bool | None, bool | None]] = field(default_factory=list)
    users: list[tuple[str, str | None]] = field(default_factory=list)
    classes: list[tuple[str, bool]] = field(default_factory=list)
    credentials: list[tuple[str | None, bool]] = field(default_factory=list)
    achievements: list[int] = field(default_factory=list)

    def add_learners(
        self,
        count: int,
        *,
        grade: str = "10",
        device: bool | None = True,
        internet: bool | None = True,
        metadata: dict[str, Any] | None = None,
    ) -> list[str]:
        """`count` learners alike (each with their SIS users row); their sourcedIds."""
        ids = [f"learner-{len(self.learners) + i + 1:04d}" for i in range(count)]
        for sourced_id in ids:
            self.learners.append((sourced_id, grade, device, internet))
            self.users.append((sourced_id, json.dumps(metadata) if metadata is not None else None))
        return ids

    def add_class(self, course: str, *, competency_based: bool) -> None:
        self.classes.append((course, competency_based))

    def add_credential(self, learner: str | None, *, active: bool = True) -> None:
        self.credentials.append((learner, active))


def build(district: District) -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse holding the district's upstream tables and the measures mart,
    built by the mart's SQL file as the asset factory builds it."""
    con = duckdb.connect()
    rows = {
        ("core", "classes"): district.classes,
        ("core", "credentials"): district.credentials,
        ("core", "achievements"): [(n,) for n in district.achievements],
        ("core", "learners"): district.learners,
        ("staging", "stg_oneroster__users"): district.users,
    }
    for (schema, table), columns in UPSTREAM.items():
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        body = ", ".join(f"{name} {kind}" for name, kind in columns.items())
        con.execute(f"CREATE TABLE {schema}.{table} ({body})")
        if rows[(schema, table)]:
            casts = ", ".join(f"?::{kind}" for kind in columns.values())
            con.executemany(f"INSERT INTO {schema}.{table} VALUES ({casts})", rows[(schema, table)])
    con.execute("CREATE SCHEMA marts")
    con.execute(f"CREATE TABLE marts.readiness_measures AS\n{MODEL.sql}")
    return con


def score(district: District) -> dict[str, dict[str, Any]]:
    """Tonight's indicator rows for the district, by indicator id, as the readiness asset scores
    them: measures read from the mart, the shipped rules, no infrastructure levels and no
    self-assessment."""
    con = build(district)
    try:
        values = read_measures(con)
    finally:
        con.close()
    rows = score_indicators(FRAMEWORK, RULES, values, {}, {})
    return {row["indicator_id"]: row for row in rows}


def measured(district: District, indicator_id: str) -> tuple[Level | None, dict[str, Any]]:
    """The indicator's measured level (None when not measured) and its measures' numbers."""
    row = score(district)[indicator_id]
    if row["measured_level"] is None:
        return None, {}
    evidence = json.loads(row["measured_evidence_json"])
    assert evidence["level"] == row["measured_level"]
    assert row["final_level"] == row["measured_level"]  # no self-assessment: data decides
    numbers = {
        name: (m["value"], m["numerator"], m["denominator"])
        for name, m in evidence["measures"].items()
    }
    return Level(row["measured_level"]), numbers


def test_the_hand_built_tables_are_exactly_the_ones_the_measures_read():
    assert set(MODEL.upstream) == set(UPSTREAM)


# --- competency-based learning and assessment ---------------------------------------------------


def courses_district(competency_based_courses: int) -> District:
    """Three course offerings, `competency_based_courses` of them assessed against competencies.

    The first competency-based course has two competency-based sections (one offering, not two);
    the second has one competency-based section and one that is not (still one offering)."""
    district = District()
    district.add_learners(10)
    courses = ["course-algebra", "course-biology", "course-history"]
    for i, course in enumerate(courses):
        competency_based = i < competency_based_courses
        district.add_class(course, competency_based=competency_based)
        district.add_class(course, competency_based=competency_based and i == 0)
    return district


def test_no_course_offering_assessed_against_competencies_is_starting():
    level, numbers = measured(courses_district(0), COURSES)
    assert level is STARTING
    assert numbers == {"competency_based_course_offerings": (0.0, 0, 3)}


def test_one_competency_based_course_offering_is_practicing():
    level, numbers = measured(courses_district(1), COURSES)
    assert level is PRACTICING
    assert numbers == {"competency_based_course_offerings": (1.0, 1, 3)}


def test_two_competency_based_course_offerings_are_sustaining():
    level, numbers = measured(courses_district(2), COURSES)
    assert level is SUSTAINING
    assert numbers == {"competency_based_course_offerings": (2.0, 2, 3)}


def test_two_competency_based_sections_of_one_course_are_one_offering_and_practicing():
    district = District()
    district.add_class("course-algebra", competency_based=True)
    district.add_class("course-algebra", competency_based=True)
    district.add_class("course-biology", competency_based=False)
    level, numbers = measured(district, COURSES)
    assert level is PRACTICING
    assert numbers == {"competency_based_course_offerings": (1.0, 1, 2)}


# --- micro-credentials and digital badging ------------------------------------------------------


def badges_district(holders: int) -> District:
    """100 learners, `holders` of them holding an active credential, two achievements defined.

    Around them, credentials that hold no learner a badge tonight: a second badge of the same
    holder, a revoked credential of another learner, an active one linked to no learner, and an
    active one of a teacher (not a learner)."""
    district = District()
    ids = district.add_learners(100)
    district.users.append(("teacher-0001", None))
    for learner in ids[:holders]:
        district.add_credential(learner)
    if holders:
        district.add_credential(ids[0])
    district.add_credential(ids[holders], active=False)
    district.add_credential(None)
    district.add_credential("teacher-0001")
    district.achievements = [holders, 0]
    return district


def test_no_credential_received_leaves_micro_credentials_unmeasured():
    district = District()
    district.add_learners(100)
    assert measured(district, BADGES) == (None, {})


def test_credentials_received_with_no_achievement_defined_are_starting():
    district = District()
    ids = district.add_learners(100)
    district.add_credential(ids[0])  # names no achievement, so core.achievements has no row
    level, numbers = measured(district, BADGES)
    assert level is STARTING
    assert numbers["micro_credential_achievements_defined"] == (0.0, 0, 0)


def test_micro_credentials_defined_but_held_by_no_learner_are_practicing():
    level, numbers = measured(badges_district(0), BADGES)
    assert level is PRACTICING
    assert numbers == {
        "micro_credential_holder_share": (0.0, 0, 100),
        "micro_credential_achievements_defined": (2.0, 0, 2),
    }


def test_micro_credentials_held_by_just_under_5_percent_of_learners_are_practicing():
    level, numbers = measured(badges_district(4), BADGES)
    assert level is PRACTICING
    assert numbers == {
        "micro_credential_holder_share": (0.04, 4, 100),
        "micro_credential_achievements_defined": (2.0, 1, 2),
    }


def test_micro_credentials_held_by_5_percent_of_learners_are_sustaining():
    level, numbers = measured(badges_district(5), BADGES)
    assert level is SUSTAINING
    assert numbers == {
        "micro_credential_holder_share": (0.05, 5, 100),
        "micro_credential_achievements_defined": (2.0, 1, 2),
    }


# --- broadband and device access ----------------------------------------------------------------


def access_district(both: int) -> District:
    """100 learners with home access reported, `both` of them with a device and internet; the
    rest lack one or the other or both. Five more learners have access not (fully) reported and
    are out of the share."""
    district = District()
    district.add_learners(both, device=True, internet=True)
    rest = 100 - both
    district.add_learners(rest // 3, device=True, internet=False)
    district.add_learners(rest // 3, device=False, internet=True)
    district.add_learners(rest - 2 * (rest // 3), device=False, internet=False)
    district.add_learners(2, device=None, internet=None)
    district.add_learners(2, device=True, internet=None)
    district.add_learners(1, device=None, internet=True)
    return district


@pytest.mark.parametrize(
    ("both", "expected"),
    [
        pytest.param(79, STARTING, id="79-of-100-starting"),
        pytest.param(80, PRACTICING, id="80-of-100-practicing"),
        pytest.param(97, PRACTICING, id="97-of-100-practicing"),
        pytest.param(98, SUSTAINING, id="98-of-100-sustaining"),
    ],
)
def test_home_device_and_internet_share_at_80_and_98_percent(both, expected):
    level, numbers = measured(access_district(both), BROADBAND)
    assert level is expected
    assert numbers == {"home_device_and_internet_share": (both / 100, both, 100)}


def test_learners_with_both_is_a_share_of_learners_with_access_reported():
    # 4 of 5 reported (80%): Practicing, though 4 of all 10 learners would be Starting.
    district = District()
    district.add_learners(4, device=True, internet=True)
    district.add_learners(1, device=True, internet=False)
    district.add_learners(5, device=None, internet=None)
    level, numbers = measured(district, BROADBAND)
    assert level is PRACTICING
    assert numbers == {"home_device_and_internet_share": (0.8, 4, 5)}


# --- personalized career counseling -------------------------------------------------------------


def counseling_district(advised: int) -> District:
    """100 high-school learners with career-advising meetings reported, `advised` of them with at
    least one (spread over grades 09-12, some sent as JSON numbers); the rest with 0. Around them:
    grade 8 learners with meetings, and high-school learners with the field blank or absent."""
    district = District()
    grades = ("09", "10", "11", "12")
    for i in range(advised):
        meetings: Any = str(1 + i % 3) if i % 2 else 1 + i % 3
        district.add_learners(1, grade=grades[i % 4], metadata={MEETINGS: meetings})
    district.add_learners(100 - advised - 10, grade="11", metadata={MEETINGS: "0"})
    district.add_learners(10, grade="12", metadata={MEETINGS: 0})
    district.add_learners(20, grade="08", metadata={MEETINGS: "2"})
    district.add_learners(3, grade="10", metadata={MEETINGS: None})
    district.add_learners(3, grade="09", metadata={WORK_BASED: "true"})
    district.add_learners(3, grade="12", metadata=None)
    return district


@pytest.mark.parametrize(
    ("advised", "expected"),
    [
        pytest.param(49, STARTING, id="49-of-100-starting"),
        pytest.param(50, PRACTICING, id="50-of-100-practicing"),
        pytest.param(89, PRACTICING, id="89-of-100-practicing"),
        pytest.param(90, SUSTAINING, id="90-of-100-sustaining"),
    ],
)
def test_career_advising_coverage_at_50_and_90_percent_of_high_school_learners(advised, expected):
    level, numbers = measured(counseling_district(advised), COUNSELING)
    assert level is expected
    assert numbers == {"career_advising_coverage": (advised / 100, advised, 100)}


# --- internships and dual enrollment ------------------------------------------------------------


def placements_district(placed: int) -> District:
    """100 high-school learners with work-based learning reported, `placed` of them true (some
    sent as JSON booleans), the rest false. Around them: grade 8 learners marked true, and
    high-school learners with the field blank or absent."""
    district = District()
    grades = ("09", "10", "11", "12")
    for i in range(placed):
        flag: Any = "true" if i % 2 else True
        district.add_learners(1, grade=grades[i % 4], metadata={WORK_BASED: flag})
    district.add_learners(100 - placed - 10, grade="10", metadata={WORK_BASED: "false"})
    district.add_learners(10, grade="09", metadata={WORK_BASED: False})
    district.add_learners(20, grade="08", metadata={WORK_BASED: "true"})
    district.add_learners(3, grade="11", metadata={WORK_BASED: None})
    district.add_learners(3, grade="12", metadata={MEETINGS: "2"})
    district.add_learners(3, grade="09", metadata=None)
    return district


@pytest.mark.parametrize(
    ("placed", "expected"),
    [
        pytest.param(0, STARTING, id="0-of-100-starting"),
        pytest.param(1, PRACTICING, id="1-of-100-practicing"),
        pytest.param(24, PRACTICING, id="24-of-100-practicing"),
        pytest.param(25, SUSTAINING, id="25-of-100-sustaining"),
    ],
)
def test_work_based_learning_share_at_1_and_25_percent_of_high_school_learners(placed, expected):
    level, numbers = measured(placements_district(placed), PLACEMENTS)
    assert level is expected
    assert numbers == {"work_based_learning_share": (placed / 100, placed, 100)}


# --- a field the district does not send ---------------------------------------------------------


def full_district() -> District:
    """A district that sends everything every measured rule reads, all of it Sustaining."""
    district = District()
    ids = district.add_learners(20, grade="10", metadata={MEETINGS: "2", WORK_BASED: "true"})
    district.add_class("course-algebra", competency_based=True)
    district.add_class("course-biology", competency_based=True)
    for learner in ids:
        district.add_credential(learner)
    district.achievements = [20]
    return district


def without(field_: str) -> District:
    """The full district, less one field (or source) the SIS or the platforms did not send."""
    district = full_district()
    if field_ == "classes":
        district.classes = []
    elif field_ == "credentials":
        district.credentials, district.achievements = [], []
    elif field_ in ("device", "internet", "device and internet"):
        district.learners = [
            (
                sourced_id,
                grade,
                None if "device" in field_ else device,
                None if "internet" in field_ else internet,
            )
            for sourced_id, grade, device, internet in district.learners
        ]
    else:
        district.users = [
            (sourced_id, json.dumps({k: v for k, v in json.loads(meta).items() if k != field_}))
            for sourced_id, meta in district.users
        ]
    return district


def test_the_full_district_is_measured_sustaining_on_every_measured_indicator():
    rows = score(full_district())
    assert {i: rows[i]["measured_level"] for i in MEASURED} == dict.fromkeys(
        MEASURED, SUSTAINING.value
    )


@pytest.mark.parametrize(
    ("missing", "unmeasured"),
    [
        pytest.param("classes", COURSES, id="no-classes"),
        pytest.param("credentials", BADGES, id="no-credentials"),
        pytest.param("device and internet", BROADBAND, id="no-device-or-internet"),
        pytest.param("internet", BROADBAND, id="device-but-no-internet"),
        pytest.param("device", BROADBAND, id="internet-but-no-device"),
        pytest.param(MEETINGS, COUNSELING, id="no-career-advising-meetings"),
        pytest.param(WORK_BASED, PLACEMENTS, id="no-work-based-learning"),
    ],
)
def test_a_field_the_district_does_not_send_gives_no_measured_level_not_starting(
    missing, unmeasured
):
    rows = score(without(missing))
    row = rows[unmeasured]
    assert row["measured_level"] is None
    assert row["measured_evidence_json"] is None
    assert row["final_level"] is None and row["status"] == "not assessed"
    assert row["measured_evidence"].startswith("Nothing to measure tonight")
    # Only that indicator: the others are still measured from what the district sends.
    others = {i: rows[i]["measured_level"] for i in MEASURED if i != unmeasured}
    assert others == {i: SUSTAINING.value for i in others}


def test_a_district_sending_none_of_it_has_every_measure_null_and_nothing_measured():
    district = District()
    district.add_learners(10, grade="11", device=None, internet=None)
    con = build(district)
    try:
        values = read_measures(con)
    finally:
        con.close()
    assert set(values) == set(RULES.measures)
    assert all(v.value is None for v in values.values())
    rows = score(district)
    assert all(rows[i]["measured_level"] is None for i in MEASURED)
