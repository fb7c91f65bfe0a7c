"""The sample district generator: a OneRoster 1.2 bulk export a real connector could load, shaped
like a US district, the same bytes for the same seed."""

from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import duckdb
import pytest

import sample_district.generate as generate
from models.config import load_config
from models.oneroster_spec import spec_columns
from sample_district.generate import (
    CAREER_SUPPORT_METADATA_COLUMNS,
    DEMOGRAPHIC_METADATA_COLUMNS,
    GRADES,
    USER_METADATA_COLUMNS,
    GeneratedDistrict,
    generate_district,
    sample_competencies,
)

LEARNERS = 2000
DATA_FILES = (
    "orgs.csv",
    "academicSessions.csv",
    "courses.csv",
    "categories.csv",
    "classes.csv",
    "users.csv",
    "roles.csv",
    "enrollments.csv",
    "demographics.csv",
    "lineItems.csv",
    "lineItemLearningObjectiveIds.csv",
    "results.csv",
    "resultLearningObjectiveIds.csv",
)
RACE_FLAGS = (
    "americanIndianOrAlaskaNative",
    "asian",
    "blackOrAfricanAmerican",
    "nativeHawaiianOrOtherPacificIslander",
    "white",
    "demographicRaceTwoOrMoreRaces",
    "hispanicOrLatinoEthnicity",
)


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDistrict:
    return generate_district(LEARNERS, tmp_path_factory.mktemp("district"))


@pytest.fixture(scope="module")
def db(district: GeneratedDistrict) -> duckdb.DuckDBPyConnection:
    """Every file of the export as a table of strings; blanks read as NULL."""
    con = duckdb.connect()
    for file in DATA_FILES:
        con.execute(
            f'CREATE TABLE "{file.removesuffix(".csv")}" AS SELECT * FROM read_csv($path, '
            "header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"')",
            {"path": str(district.oneroster_path / file)},
        )
    con.execute("CREATE MACRO is_true(value) AS (value = 'true')::INTEGER")
    return con


def one(db: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    return db.execute(sql).fetchall()[0]


def file_digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def read_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


# --- the files and their format -------------------------------------------------------------


@pytest.mark.parametrize("file", DATA_FILES)
def test_every_file_has_the_spec_1_2_header_in_order(district: GeneratedDistrict, file: str):
    expected = [c.name for c in spec_columns("1.2")[file]]
    if file == "demographics.csv":
        expected += DEMOGRAPHIC_METADATA_COLUMNS
    if file == "users.csv":
        expected += USER_METADATA_COLUMNS + CAREER_SUPPORT_METADATA_COLUMNS
    assert read_rows(district.oneroster_path / file)[0] == expected


def test_demographics_carry_the_equity_metadata_columns_last(district: GeneratedDistrict):
    header = read_rows(district.oneroster_path / "demographics.csv")[0]
    assert header[-5:] == [
        "metadata.economicallyDisadvantaged",
        "metadata.englishLearner",
        "metadata.disability",
        "metadata.homeInternetAccess",
        "metadata.deviceAccess",
    ]


def test_manifest_marks_each_written_file_bulk_and_every_other_1_2_file_absent(
    district: GeneratedDistrict,
):
    rows = read_rows(district.oneroster_path / "manifest.csv")
    assert rows[0] == ["propertyName", "value"]
    properties = dict(rows[1:])
    assert properties["manifest.version"] == "1.0"
    assert properties["oneroster.version"] == "1.2"
    assert properties["source.systemName"]
    for file in spec_columns("1.2"):
        expected = "bulk" if file in DATA_FILES else "absent"
        assert properties[f"file.{file.removesuffix('.csv')}"] == expected, file
    written = {p.name for p in district.oneroster_path.iterdir()}
    assert written == {*DATA_FILES, "manifest.csv"}


def test_counts_are_the_rows_of_each_file(district: GeneratedDistrict):
    assert set(district.counts) == {*DATA_FILES, "manifest.csv"}
    for file, count in district.counts.items():
        assert len(read_rows(district.oneroster_path / file)) - 1 == count, file


@pytest.mark.parametrize("file", DATA_FILES)
def test_bulk_rows_leave_status_and_date_last_modified_blank(
    db: duckdb.DuckDBPyConnection, file: str
):
    table = file.removesuffix(".csv")
    filled = one(
        db,
        f'SELECT count(*) FROM "{table}" WHERE status IS NOT NULL OR dateLastModified IS NOT NULL',
    )
    assert filled == (0,)


@pytest.mark.parametrize("file", DATA_FILES)
def test_sourced_ids_are_unique(db: duckdb.DuckDBPyConnection, file: str):
    table = file.removesuffix(".csv")
    rows, distinct = one(db, f'SELECT count(*), count(DISTINCT sourcedId) FROM "{table}"')
    assert rows == distinct > 0


def test_files_are_utf8_with_lf_endings_and_blanks_not_null(district: GeneratedDistrict):
    for file in DATA_FILES:
        raw = (district.oneroster_path / file).read_bytes()
        text = raw.decode("utf-8")
        assert b"\r" not in raw, file
        assert "NULL" not in text, file
        assert ',"",' not in text, f"{file}: blanks must be empty, not quoted empty strings"
        assert text.endswith("\n"), file


def test_a_learner_with_two_guardians_has_a_quoted_list(district: GeneratedDistrict):
    lines = (district.oneroster_path / "users.csv").read_text(encoding="utf-8").splitlines()
    quoted = [line for line in lines if re.search(r',"grd-\d+-1,grd-\d+-2",', line)]
    assert quoted
    row = next(csv.reader([quoted[0]]))
    number = row[0].removeprefix("stu-")
    assert row[13].split(",") == [f"grd-{number}-1", f"grd-{number}-2"]


def test_names_include_non_ascii_letters_and_an_apostrophe(db: duckdb.DuckDBPyConnection):
    names = {
        n for (n,) in db.execute("SELECT givenName || ' ' || familyName FROM users").fetchall()
    }
    assert any(not name.isascii() for name in names)
    assert any("Nguyễn" in name or "Søren" in name or "Zoë" in name for name in names)
    assert any("'" in name for name in names)


def test_usernames_and_emails_are_unique_ascii_and_under_the_example_domain(
    db: duckdb.DuckDBPyConnection,
):
    users, usernames, emails = one(
        db, "SELECT count(*), count(DISTINCT username), count(DISTINCT email) FROM users"
    )
    assert users == usernames == emails
    for username, email in db.execute("SELECT username, email FROM users").fetchall():
        assert re.fullmatch(r"[a-z0-9.]+", username), username
        assert email == f"{username}@{email.split('@')[1]}"
        assert email.endswith(".sample-district.example") or email.endswith(
            "@sample-district.example"
        )


def test_booleans_are_literal_lowercase(db: duckdb.DuckDBPyConnection):
    columns = [f'"{c}"' for c in (*RACE_FLAGS, *DEMOGRAPHIC_METADATA_COLUMNS)]
    values = {
        v
        for (v,) in db.execute(
            f"SELECT DISTINCT unnest([{', '.join(columns)}]) FROM demographics"
        ).fetchall()
    }
    values |= {v for (v,) in db.execute("SELECT DISTINCT enabledUser FROM users").fetchall()}
    values |= {
        v
        for (v,) in db.execute(
            "SELECT DISTINCT \"primary\" FROM enrollments WHERE role = 'teacher'"
        ).fetchall()
    }
    assert values == {"true", "false"}


# --- references -----------------------------------------------------------------------------

REFERENCES = [
    ("orgs", "parentSourcedId", "orgs"),
    ("academicSessions", "parentSourcedId", "academicSessions"),
    ("courses", "schoolYearSourcedId", "academicSessions"),
    ("courses", "orgSourcedId", "orgs"),
    ("classes", "courseSourcedId", "courses"),
    ("classes", "schoolSourcedId", "orgs"),
    ("classes", "termSourcedIds", "academicSessions"),
    ("users", "agentSourcedIds", "users"),
    ("users", "primaryOrgSourcedId", "orgs"),
    ("roles", "userSourcedId", "users"),
    ("roles", "orgSourcedId", "orgs"),
    ("enrollments", "classSourcedId", "classes"),
    ("enrollments", "schoolSourcedId", "orgs"),
    ("enrollments", "userSourcedId", "users"),
    ("demographics", "sourcedId", "users"),
    ("lineItems", "classSourcedId", "classes"),
    ("lineItems", "categorySourcedId", "categories"),
    ("lineItems", "academicSessionSourcedId", "academicSessions"),
    ("lineItems", "schoolSourcedId", "orgs"),
    ("results", "lineItemSourcedId", "lineItems"),
    ("results", "studentSourcedId", "users"),
    ("results", "classSourcedId", "classes"),
    ("lineItemLearningObjectiveIds", "lineItemSourcedId", "lineItems"),
    ("resultLearningObjectiveIds", "resultSourcedId", "results"),
]


@pytest.mark.parametrize(("table", "column", "target"), REFERENCES)
def test_every_reference_resolves(
    db: duckdb.DuckDBPyConnection, table: str, column: str, target: str
):
    references, dangling = one(
        db,
        f"""SELECT count(*), count(*) FILTER (WHERE ref NOT IN (SELECT sourcedId FROM "{target}"))
        FROM (SELECT unnest(string_split("{column}", ',')) AS ref FROM "{table}"
              WHERE "{column}" IS NOT NULL)""",
    )
    assert references > 0
    assert dangling == 0


def test_enrollments_and_roles_sit_at_the_users_school(db: duckdb.DuckDBPyConnection):
    assert one(
        db,
        """SELECT count(*) FROM enrollments e JOIN users u ON u.sourcedId = e.userSourcedId
        JOIN classes c ON c.sourcedId = e.classSourcedId
        WHERE e.schoolSourcedId <> u.primaryOrgSourcedId
           OR e.schoolSourcedId <> c.schoolSourcedId""",
    ) == (0,)
    assert one(
        db,
        """SELECT count(*) FROM roles r JOIN users u ON u.sourcedId = r.userSourcedId
        WHERE r.orgSourcedId <> u.primaryOrgSourcedId""",
    ) == (0,)


def test_every_user_has_one_primary_role_matching_who_they_are(db: duckdb.DuckDBPyConnection):
    roles = dict(
        db.execute(
            """SELECT r.role, count(*) FROM users u JOIN roles r ON r.userSourcedId = u.sourcedId
            WHERE r.roleType = 'primary' GROUP BY 1"""
        ).fetchall()
    )
    users = one(db, "SELECT count(*) FROM users")[0]
    assert sum(roles.values()) == users == one(db, "SELECT count(*) FROM roles")[0]
    assert roles["student"] == LEARNERS
    assert set(roles) == {"student", "guardian", "teacher"}


# --- the district's shape -------------------------------------------------------------------


def test_one_district_and_schools_by_level_with_their_grades(db: duckdb.DuckDBPyConnection):
    assert one(db, "SELECT count(*) FROM orgs WHERE type = 'district'") == (1,)
    spans = db.execute(
        """SELECT o.name, min(u.grades), max(u.grades) FROM users u
        JOIN orgs o ON o.sourcedId = u.primaryOrgSourcedId
        WHERE u.sourcedId IN (SELECT sourcedId FROM demographics) GROUP BY 1"""
    ).fetchall()
    assert len(spans) == sum(generate.schools_per_level(LEARNERS)) == 4
    for name, low, high in spans:
        if name.endswith("Elementary School"):
            assert (low, high) == ("01", "KG")  # as strings, KG sorts after the numbers
        elif name.endswith("Middle School"):
            assert (low, high) == ("06", "08")
        else:
            assert (low, high) == ("09", "12")


def test_schools_are_sized_like_us_schools():
    elementary, middle, high = generate.schools_per_level(1_000_000)
    assert 1_000_000 * 6 / 13 / elementary == pytest.approx(450, rel=0.05)
    assert 1_000_000 * 3 / 13 / middle == pytest.approx(700, rel=0.05)
    assert 1_000_000 * 4 / 13 / high == pytest.approx(1200, rel=0.05)


def test_a_school_year_and_two_semesters_of_2026_2027(db: duckdb.DuckDBPyConnection):
    sessions = db.execute(
        "SELECT type, startDate, endDate, parentSourcedId IS NULL, schoolYear "
        "FROM academicSessions ORDER BY startDate, type DESC"
    ).fetchall()
    assert sessions == [
        ("semester", "2026-08-17", "2026-12-19", False, "2027"),
        ("schoolYear", "2026-08-17", "2027-06-04", True, "2027"),
        ("semester", "2027-01-05", "2027-06-04", False, "2027"),
    ]


def test_courses_cover_every_grade_and_subject_with_subject_codes(
    db: duckdb.DuckDBPyConnection,
):
    grades = {g for (g,) in db.execute("SELECT DISTINCT grades FROM courses").fetchall()}
    assert grades == set(GRADES)
    assert one(db, "SELECT count(*) FROM courses WHERE subjectCodes IS NULL") == (0,)
    assert one(db, "SELECT count(*), count(DISTINCT grades || subjects) FROM courses") == (78, 78)


def test_every_learner_takes_six_classes_of_their_own_grade(db: duckdb.DuckDBPyConnection):
    per_learner = db.execute(
        """SELECT count(*), count(DISTINCT c.courseSourcedId), bool_and(c.grades = u.grades)
        FROM enrollments e JOIN classes c ON c.sourcedId = e.classSourcedId
        JOIN users u ON u.sourcedId = e.userSourcedId
        WHERE e.role = 'student' GROUP BY e.userSourcedId"""
    ).fetchall()
    assert len(per_learner) == LEARNERS
    assert set(per_learner) == {(6, 6, True)}


def test_classes_hold_about_25_learners(db: duckdb.DuckDBPyConnection):
    mean, smallest, largest = one(
        db,
        """SELECT avg(n), min(n), max(n) FROM (SELECT count(*) AS n FROM enrollments
        WHERE role = 'student' GROUP BY classSourcedId)""",
    )
    assert 22 <= mean <= 28
    assert smallest >= 12 and largest <= 40


def test_elementary_learners_have_a_homeroom_and_secondary_six_distinct_periods(
    db: duckdb.DuckDBPyConnection,
):
    elementary = db.execute(
        """SELECT count(*) FILTER (WHERE c.classType = 'homeroom') FROM enrollments e
        JOIN classes c ON c.sourcedId = e.classSourcedId
        WHERE e.role = 'student' AND c.grades IN ('KG', '01', '02', '03', '04', '05')
        GROUP BY e.userSourcedId"""
    ).fetchall()
    secondary = db.execute(
        """SELECT count(DISTINCT c.periods), count(*) FILTER (WHERE c.classType = 'scheduled')
        FROM enrollments e JOIN classes c ON c.sourcedId = e.classSourcedId
        WHERE e.role = 'student' AND c.grades NOT IN ('KG', '01', '02', '03', '04', '05')
        GROUP BY e.userSourcedId"""
    ).fetchall()
    assert elementary and set(elementary) == {(1,)}
    assert secondary and set(secondary) == {(6, 6)}


def test_large_secondary_grades_mix_classmates_without_clashes_or_crowding(tmp_path: Path):
    # Enough learners for grades with more than six sections, where sections are shuffled
    # per subject within a timetable rotation.
    big = generate_district(6000, tmp_path)
    con = duckdb.connect()
    for table in ("classes", "enrollments"):
        con.execute(
            f"CREATE TABLE {table} AS SELECT * FROM read_csv($path, header = true, "
            "all_varchar = true)",
            {"path": str(big.oneroster_path / f"{table}.csv")},
        )
    schedules = con.execute(
        """SELECT count(c.sourcedId), count(DISTINCT c.periods),
            count(DISTINCT right(c.sourcedId, 2))
        FROM enrollments e LEFT JOIN classes c ON c.sourcedId = e.classSourcedId
        WHERE e.role = 'student' AND e.classSourcedId NOT SIMILAR TO '.*-(kg|0[1-5])-.*'
        GROUP BY e.userSourcedId"""
    ).fetchall()
    assert schedules
    assert {(found, periods) for found, periods, _ in schedules} == {(6, 6)}
    assert max(sections for *_, sections in schedules) > 1
    smallest, largest = con.execute(
        """SELECT min(n), max(n) FROM (SELECT count(*) AS n FROM enrollments
        WHERE role = 'student' GROUP BY classSourcedId)"""
    ).fetchall()[0]
    assert smallest >= 15 and largest <= 35


def test_every_class_has_one_primary_teacher_and_teachers_take_about_five(
    db: duckdb.DuckDBPyConnection,
):
    assert set(
        db.execute(
            """SELECT count(*) FILTER (WHERE e.role = 'teacher' AND e."primary" = 'true')
            FROM classes c LEFT JOIN enrollments e ON e.classSourcedId = c.sourcedId
            GROUP BY c.sourcedId"""
        ).fetchall()
    ) == {(1,)}
    mean, most = one(
        db,
        """SELECT avg(n), max(n) FROM (SELECT count(*) AS n FROM enrollments
        WHERE role = 'teacher' GROUP BY userSourcedId)""",
    )
    assert 4.5 <= mean <= 5 and most == 5


def test_guardians_are_about_1_3_per_learner_and_linked_both_ways(
    db: duckdb.DuckDBPyConnection,
):
    guardians = one(db, "SELECT count(*) FROM roles WHERE role = 'guardian'")[0]
    assert 1.2 <= guardians / LEARNERS <= 1.4
    unlinked = one(
        db,
        """SELECT count(*) FROM users g JOIN roles r ON r.userSourcedId = g.sourcedId
        JOIN users l ON l.sourcedId = g.agentSourcedIds
        WHERE r.role = 'guardian'
          AND NOT list_contains(string_split(l.agentSourcedIds, ','), g.sourcedId)""",
    )
    assert unlinked == (0,)


def test_every_race_and_ethnicity_flag_appears(db: duckdb.DuckDBPyConnection):
    counts = one(
        db, f"SELECT {', '.join(f'sum(is_true({f}))' for f in RACE_FLAGS)} FROM demographics"
    )
    assert all(count > 0 for count in counts), dict(zip(RACE_FLAGS, counts, strict=True))


def test_race_and_ethnicity_follow_us_enrollment_shares(db: duckdb.DuckDBPyConnection):
    hispanic, black, white_only = one(
        db,
        """SELECT avg(is_true(hispanicOrLatinoEthnicity)),
            avg(is_true(blackOrAfricanAmerican) * (1 - is_true(hispanicOrLatinoEthnicity))),
            avg(is_true(white) * (1 - is_true(hispanicOrLatinoEthnicity))
                * (1 - is_true(demographicRaceTwoOrMoreRaces)))
        FROM demographics""",
    )
    assert hispanic == pytest.approx(0.28, abs=0.04)
    assert black == pytest.approx(0.15, abs=0.03)
    assert white_only == pytest.approx(0.456, abs=0.04)


def test_groups_furthest_from_opportunity_are_at_realistic_rates(db: duckdb.DuckDBPyConnection):
    averages = ", ".join(f'avg(is_true("{c}"))' for c in DEMOGRAPHIC_METADATA_COLUMNS)
    rates = one(db, f"SELECT {averages} FROM demographics")
    disadvantaged, english, disability, internet, device = rates
    assert disadvantaged == pytest.approx(0.45, abs=0.04)
    assert english == pytest.approx(0.10, abs=0.03)
    assert disability == pytest.approx(0.15, abs=0.03)
    assert internet == pytest.approx(0.90, abs=0.03)
    assert device == pytest.approx(0.93, abs=0.03)
    male, female, other = one(
        db,
        """SELECT avg((sex = 'male')::INTEGER), avg((sex = 'female')::INTEGER),
                  avg((sex IN ('unspecified', 'other'))::INTEGER) FROM demographics""",
    )
    assert male == pytest.approx(0.49, abs=0.04) and female == pytest.approx(0.49, abs=0.04)
    assert 0 < other < 0.05


def test_home_internet_and_devices_are_scarcer_in_disadvantaged_homes(
    db: duckdb.DuckDBPyConnection,
):
    gaps = dict(
        (row[0], row[1:])
        for row in db.execute(
            """SELECT "metadata.economicallyDisadvantaged",
                avg(is_true("metadata.homeInternetAccess")), avg(is_true("metadata.deviceAccess"))
            FROM demographics GROUP BY 1"""
        ).fetchall()
    )
    assert gaps["true"][0] < gaps["false"][0] - 0.08
    assert gaps["true"][1] < gaps["false"][1] - 0.05


def test_birth_dates_fit_the_grade(db: duckdb.DuckDBPyConnection):
    ages = db.execute(
        """SELECT list_position(?, u.grades) - 1 AS grade,
            2026 - year(d.birthDate::DATE)
                - (strftime(d.birthDate::DATE, '%m-%d') > '09-01')::INTEGER AS age
        FROM demographics d JOIN users u USING (sourcedId)""",
        [list(GRADES)],
    ).fetchall()
    assert len(ages) == LEARNERS
    assert all(age - grade in (5, 6) for grade, age in ages)
    assert sum(age - grade == 5 for grade, age in ages) / LEARNERS > 0.9


# --- competency results ---------------------------------------------------------------------


def test_competency_based_classes_are_all_homerooms_and_a_third_of_secondary(
    db: duckdb.DuckDBPyConnection,
):
    rows = db.execute(
        """SELECT c.classType, c.grades IN ('KG', '01', '02', '03', '04', '05') AS elementary,
            count(*) AS classes, count(l.classSourcedId) AS competency_based,
            min(coalesce(l.items, 0)) FILTER (WHERE l.items > 0),
            max(coalesce(l.items, 0))
        FROM classes c
        LEFT JOIN (SELECT classSourcedId, count(*) AS items FROM lineItems GROUP BY 1) l
            ON l.classSourcedId = c.sourcedId
        GROUP BY 1, 2"""
    ).fetchall()
    by_kind = {(kind, elementary): rest for kind, elementary, *rest in rows}
    homerooms, homeroom_cb, *_ = by_kind[("homeroom", True)]
    assert homerooms == homeroom_cb
    assert by_kind[("scheduled", True)][1] == 0
    secondary, secondary_cb, fewest, most = by_kind[("scheduled", False)]
    assert secondary_cb / secondary == pytest.approx(1 / 3, abs=0.05)
    assert (fewest, most) == (2, 3)


def test_line_items_score_on_a_four_point_scale_in_the_fall(db: duckdb.DuckDBPyConnection):
    assert (
        one(
            db,
            """SELECT count(*) FILTER (WHERE resultValueMin::DOUBLE <> 0
                                  OR resultValueMax::DOUBLE <> 4
                                  OR academicSessionSourcedId <> 'ay-2027-s1'
                                  OR dueDate < assignDate OR dueDate >= '2026-12-19'),
                  count(*) FROM lineItems""",
        )[0]
        == 0
    )


def test_each_line_item_is_aligned_to_one_or_two_case_competencies(
    db: duckdb.DuckDBPyConnection,
):
    known = {c.id for c in sample_competencies()}
    counts = db.execute(
        """SELECT count(o.sourcedId), count(DISTINCT o.learningObjectiveId),
            bool_and(o.source = 'case')
        FROM lineItems l LEFT JOIN lineItemLearningObjectiveIds o
            ON o.lineItemSourcedId = l.sourcedId GROUP BY l.sourcedId"""
    ).fetchall()
    assert {(n, d) for n, d, _ in counts} == {(1, 1), (2, 2)}
    assert all(case for *_, case in counts)
    used = {
        v
        for (v,) in db.execute(
            "SELECT learningObjectiveId FROM lineItemLearningObjectiveIds"
        ).fetchall()
    }
    assert used <= known


def test_every_enrolled_learner_has_one_fully_graded_result_per_line_item(
    db: duckdb.DuckDBPyConnection,
):
    expected = """SELECT l.sourcedId, e.userSourcedId, l.classSourcedId FROM lineItems l
        JOIN enrollments e ON e.classSourcedId = l.classSourcedId AND e.role = 'student'"""
    actual = "SELECT lineItemSourcedId, studentSourcedId, classSourcedId FROM results"
    assert one(db, f"SELECT count(*) FROM ({expected} EXCEPT ALL {actual})") == (0,)
    assert one(db, f"SELECT count(*) FROM ({actual} EXCEPT ALL {expected})") == (0,)
    assert one(
        db,
        """SELECT count(*) FROM results r JOIN lineItems l ON l.sourcedId = r.lineItemSourcedId
        WHERE r.scoreStatus <> 'fully graded' OR r.score::DOUBLE NOT BETWEEN 0 AND 4
           OR r.scoreDate < l.dueDate OR r.scoreDate >= '2026-12-19'""",
    ) == (0,)


def test_result_objective_scores_match_the_line_item_and_average_to_the_result(
    db: duckdb.DuckDBPyConnection,
):
    assert one(
        db,
        """SELECT count(*) FROM (
            SELECT r.sourcedId, o.learningObjectiveId FROM results r
            JOIN lineItemLearningObjectiveIds o ON o.lineItemSourcedId = r.lineItemSourcedId
            EXCEPT ALL
            SELECT resultSourcedId, learningObjectiveId FROM resultLearningObjectiveIds)""",
    ) == (0,)
    assert one(
        db,
        """SELECT count(*) FROM results r JOIN (
            SELECT resultSourcedId, avg(score::DOUBLE) AS mean, min(score::DOUBLE) AS low,
                   max(score::DOUBLE) AS high, bool_and(source = 'case') AS case_source
            FROM resultLearningObjectiveIds GROUP BY 1) o ON o.resultSourcedId = r.sourcedId
        WHERE r.score::DOUBLE <> o.mean OR o.low < 1 OR o.high > 4 OR NOT o.case_source""",
    ) == (0,)
    levels = {
        s for (s,) in db.execute("SELECT DISTINCT score FROM resultLearningObjectiveIds").fetchall()
    }
    assert levels == {"1.0", "2.0", "3.0", "4.0"}


# --- config, determinism, edges -------------------------------------------------------------


def test_pathways_yaml_validates_and_points_at_the_export(district: GeneratedDistrict):
    config = load_config(district.config_path)
    assert config.district.id == "sample-district"
    assert config.district.name == "Sample District"
    assert config.district.timezone == "America/Chicago"
    assert config.schedule.cron == "0 2 * * *"
    assert config.privacy.min_group_size == 10
    assert config.sources.sis.kind == "oneroster_csv"
    assert config.sources.sis.path == district.oneroster_path.resolve()
    assert config.sources.sis.drop_folder == (district.out / "sis" / "drop").resolve()
    assert config.sources.sis.drop_folder.is_dir()
    assert config.warehouse.path == (district.out / "warehouse" / "warehouse.duckdb").resolve()
    assert (
        config.warehouse.published_path
        == (district.out / "published" / "warehouse.duckdb").resolve()
    )


def test_district_identity_flows_into_ids_names_and_email_domains(tmp_path: Path):
    custom = generate_district(40, tmp_path, district_id="lakeside-usd", district_name="Lakeside")
    assert load_config(custom.config_path).district.id == "lakeside-usd"
    orgs = read_rows(custom.oneroster_path / "orgs.csv")
    assert orgs[1][0] == "lakeside-usd" and orgs[1][3] == "Lakeside"
    users = (custom.oneroster_path / "users.csv").read_text(encoding="utf-8")
    assert "@students.lakeside-usd.example" in users
    assert "sample-district" not in users


def test_the_same_seed_gives_byte_identical_files(tmp_path: Path):
    first = generate_district(300, tmp_path / "first", seed=7)
    second = generate_district(300, tmp_path / "second", seed=7)
    assert file_digests(first.oneroster_path) == file_digests(second.oneroster_path)
    assert first.config_path.read_bytes() == second.config_path.read_bytes()


def test_a_different_seed_gives_a_different_district(tmp_path: Path):
    first = generate_district(300, tmp_path / "first", seed=7)
    other = generate_district(300, tmp_path / "other", seed=8)
    a, b = file_digests(first.oneroster_path), file_digests(other.oneroster_path)
    assert a["users.csv"] != b["users.csv"]
    assert a["demographics.csv"] != b["demographics.csv"]
    assert a["results.csv"] != b["results.csv"]


def test_learner_shards_written_in_parallel_give_the_same_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    whole = generate_district(300, tmp_path / "whole")
    monkeypatch.setattr(generate, "_learner_shards", lambda n: [(0, 97), (97, 200), (200, n)])
    sharded = generate_district(300, tmp_path / "sharded")
    assert file_digests(whole.oneroster_path) == file_digests(sharded.oneroster_path)


def test_regenerating_into_a_folder_replaces_files_the_export_no_longer_has(tmp_path: Path):
    stale = tmp_path / "sis" / "oneroster" / "resources.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("sourcedId\nold\n", encoding="utf-8")
    generate_district(20, tmp_path)
    assert not stale.exists()


def test_a_one_learner_district_is_still_a_complete_export(tmp_path: Path):
    tiny = generate_district(1, tmp_path)
    assert tiny.counts["demographics.csv"] == 1
    assert tiny.counts["enrollments.csv"] == 6 + tiny.counts["classes.csv"]


def test_a_district_needs_at_least_one_learner(tmp_path: Path):
    with pytest.raises(ValueError, match="at least one learner"):
        generate_district(0, tmp_path)


def test_the_competency_framework_is_fixed_and_has_sixty_per_subject_set():
    competencies = sample_competencies()
    assert competencies == sample_competencies()
    assert len({c.id for c in competencies}) == len(competencies) == 7 * 60
    assert all(re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", c.id) for c in competencies)
    # Pinned: results already issued against these ids must keep resolving.
    assert competencies[0].id == "urn:uuid:0aec43f2-e69a-577d-8d7c-0ee8b88a9a10"
    assert competencies[-1].id == "urn:uuid:f6b34b21-f3c9-5c9e-95ca-99c934b8a2d8"
