"""The warehouse SQL models (`dbt_like_sql/`), built on a small district's raw OneRoster tables.

The raw tables are created here the way the OneRoster connector's contract describes them (every
spec column as VARCHAR, `metadata` JSON, lineage columns), then every model file is run in
dependency order exactly as the asset factory runs it: `CREATE OR REPLACE TABLE layer.table AS`
followed by the file's text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from graphlib import TopologicalSorter
from pathlib import Path

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from models.oneroster_spec import known_files, snake_case, union_columns
from pipelines.api_sources import API_SOURCE_KINDS
from pipelines.credential_assets import BADGE_FILES_TABLE, CHECKS_TABLE, ensure_credential_tables

SQL_DIR = Path(__file__).resolve().parents[1] / "dbt_like_sql"
LAYERS = ("staging", "core", "marts")
COLUMN_DOC = re.compile(r"^([a-z_][a-z0-9_]*)\s*:\s*(.+)$")
LOADED_AT = datetime(2025, 1, 15, 2, 0, tzinfo=UTC)

# ---------------------------------------------------------------------------------------------
# The model files, read the way the asset factory reads them


@dataclass(frozen=True)
class Model:
    layer: str
    table: str
    text: str
    statement: exp.Expression

    @property
    def name(self) -> str:
        return f"{self.layer}.{self.table}"

    @property
    def sql(self) -> str:
        return self.text.strip().rstrip(";").strip()

    @property
    def upstream(self) -> set[str]:
        ctes = {cte.alias_or_name for cte in self.statement.find_all(exp.CTE)}
        return {
            f"{t.db}.{t.name}" if t.db else t.name
            for t in self.statement.find_all(exp.Table)
            if t.db or t.name not in ctes
        }

    @property
    def leading_comment(self) -> list[str]:
        lines = []
        for line in self.text.splitlines():
            if not line.strip().startswith("--"):
                break
            lines.append(line.strip().removeprefix("--").strip())
        return lines

    @property
    def description(self) -> str:
        """The first paragraph of the leading comment: what a row of the table means."""
        return " ".join(self.description_lines)

    @property
    def description_lines(self) -> list[str]:
        lines = self.leading_comment
        return lines[: lines.index("")] if "" in lines else lines

    @property
    def column_docs(self) -> dict[str, str]:
        docs = {}
        for line in self.leading_comment:
            match = COLUMN_DOC.match(line)
            if match:
                docs[match.group(1)] = match.group(2)
        return docs


def read_models() -> list[Model]:
    models = []
    for layer in LAYERS:
        for path in sorted((SQL_DIR / layer).glob("*.sql")):
            text = path.read_text(encoding="utf-8")
            statements = [
                s
                for s in sqlglot.parse(text.strip().rstrip(";"), dialect="duckdb")
                if s is not None
            ]
            assert len(statements) == 1, f"{path} holds {len(statements)} statements"
            models.append(Model(layer, path.stem, text, statements[0]))
    return models


MODELS = read_models()
MODEL_NAMES = {m.name for m in MODELS}
RAW_TABLES = (
    {f"raw.oneroster_{snake_case(f.removesuffix('.csv'))}" for f in known_files()}
    | {f"raw.{table}" for kind in API_SOURCE_KINDS for table in kind.tables}
    | {f"raw.{BADGE_FILES_TABLE}", CHECKS_TABLE}
)  # the last written by Python: verified credentials


def build_order() -> list[Model]:
    by_name = {m.name: m for m in MODELS}
    graph = {m.name: {u for u in m.upstream if u in by_name} for m in MODELS}
    return [by_name[name] for name in TopologicalSorter(graph).static_order()]


def build_models(con: duckdb.DuckDBPyConnection) -> None:
    """Materialize every model, upstream first, the way the asset factory wraps a file."""
    for layer in LAYERS:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {layer}")
    for model in build_order():
        con.execute(f"CREATE OR REPLACE TABLE {model.layer}.{model.table} AS\n{model.sql}")


# ---------------------------------------------------------------------------------------------
# The raw contract, and a small district written into it

LINEAGE_DDL = (
    "metadata JSON, _source VARCHAR, _file VARCHAR, _line BIGINT, _batch_id VARCHAR, "
    "_loaded_at TIMESTAMPTZ, _oneroster_version VARCHAR"
)


def create_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """One `raw.oneroster_<entity>` per OneRoster file: spec columns as VARCHAR, then lineage."""
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    for file in known_files():
        columns = ", ".join(f'"{c}" VARCHAR' for c in union_columns(file))
        con.execute(f"CREATE TABLE {raw_table(file)} ({columns}, {LINEAGE_DDL})")
    # The API sources' raw tables always exist, empty until a source is pulled.
    ensure_credential_tables(con)


def raw_table(file: str) -> str:
    return f"raw.oneroster_{snake_case(file.removesuffix('.csv'))}"


def insert_raw(
    con: duckdb.DuckDBPyConnection, file: str, rows: list[dict], version: str, batch_id: str
) -> None:
    if not rows:
        return
    columns = union_columns(file)
    for row in rows:
        unknown = set(row) - set(columns) - {"metadata"}
        assert not unknown, f"{file}: {unknown} are not OneRoster columns"
    placeholders = ", ".join("?" for _ in range(len(columns) + 7))
    con.executemany(
        f"INSERT INTO {raw_table(file)} VALUES ({placeholders})",
        [
            [row.get(c) for c in columns]
            + [
                json.dumps(row["metadata"]) if row.get("metadata") else None,
                "sis",
                f"/exports/riverbend/{file}",
                line,
                batch_id,
                LOADED_AT,
                version,
            ]
            for line, row in enumerate(rows, start=2)
        ],
    )


TOMBSTONE = {"status": "tobedeleted", "dateLastModified": "2025-01-14T22:00:00.000Z"}
LO_A = "urn:uuid:6b1a4b2e-0c1d-4d2e-9f00-00000000000a"
LO_B = "urn:uuid:6b1a4b2e-0c1d-4d2e-9f00-00000000000b"
LO_D = "urn:uuid:6b1a4b2e-0c1d-4d2e-9f00-00000000000d"


def table(header: tuple[str, ...], *values: tuple) -> list[dict]:
    """Rows written as a header and tuples; a trailing `TOMBSTONE` marks a deleted record."""
    rows = []
    for value in values:
        tombstoned = value[-1] is TOMBSTONE
        row = dict(zip(header, value[:-1] if tombstoned else value, strict=True))
        rows.append(row | TOMBSTONE if tombstoned else row)
    return rows


# sourcedId, users.csv primaryOrgSourcedId (1.2), grades, enabledUser, sex, race flags, and the
# district's metadata flags (ED, EL, disability, home internet, device); sex None = no
# demographics row, metadata None = no extension columns.
STUDENTS = [
    ("L01", "S-HS", "09", "true", "female", {"white", "hisp"}, (1, 1, 0, 0, 1)),
    ("L02", "S-HS", "09", "true", "male", {"black"}, (0, 0, 0, 1, 1)),
    ("L03", "S-HS", "09", "true", "female", {"asian"}, (0, 1, 0, 1, 1)),
    ("L04", "S-HS", "09", "true", "male", {"white"}, (1, 0, 1, 1, 0)),
    ("L05", None, "09", "true", "female", {"two", "black", "white"}, (0, 0, 0, 1, 1)),
    ("L06", "D1", "10", "true", "male", {"aian", "hisp"}, (1, 0, 0, 0, 0)),
    ("L07", "S-MS", "07", "true", "female", {"nhpi"}, (1, 1, 1, 1, 1)),
    ("L08", "S-MS", "07", "true", "male", {"white"}, (0, 0, 0, 1, 1)),
    ("L09", "S-MS", "07", "true", "female", {"black", "hisp"}, (1, 0, 0, 1, 1)),
    ("L10", "S-MS", "07", "true", "male", {"asian"}, None),
    ("L11", "S-MS", "07", "true", None, set(), None),
    ("L12", "S-MS", "07,08", "false", "female", {"white"}, (0, 0, 1, 1, 1)),
]
TOMBSTONED_STUDENT = ("L13", "S-HS", "09", "true", "male", {"white"}, (1, 0, 0, 1, 1))
# L05 has no primary org and L06's is the district: their school comes from their roles.
STUDENT_SCHOOL = {"L05": "S-HS", "L06": "S-HS"}
MIDDLE_SCHOOLERS = [s[0] for s in STUDENTS if s[1] == "S-MS"]
RACE_COLUMNS = {
    "aian": "americanIndianOrAlaskaNative",
    "asian": "asian",
    "black": "blackOrAfricanAmerican",
    "nhpi": "nativeHawaiianOrOtherPacificIslander",
    "white": "white",
    "two": "demographicRaceTwoOrMoreRaces",
    "hisp": "hispanicOrLatinoEthnicity",
}
METADATA_KEYS = (
    "economicallyDisadvantaged",
    "englishLearner",
    "disability",
    "homeInternetAccess",
    "deviceAccess",
)
# sourcedId, primary org (1.1: the only org), 1.1 role, 1.2 roles (role, roleType, org).
# T02 teaches at the middle school and takes a class at the high school: a student only
# secondarily, so not a learner.
STAFF = [
    ("T01", "S-HS", "teacher", [("teacher", "primary", "S-HS")]),
    ("T02", "S-MS", "teacher", [("teacher", "primary", "S-MS"), ("student", "secondary", "S-HS")]),
    ("G01", "S-HS", "guardian", [("guardian", "primary", "S-HS")]),
    ("A01", "D1", "administrator", [("districtAdministrator", "primary", "D1")]),
]


def person(sourced_id: str, n: int) -> dict:
    """The personal columns of a user: they must never reach core or marts."""
    return {
        "username": f"user{n:02d}",
        "givenName": f"Given{n:02d}",
        "familyName": f"Family{n:02d}",
        "email": f"user{n:02d}@riverbend.example.org",
        "phone": f"555-01{n:02d}",
        "identifier": f"SIS-{sourced_id}",
    }


def people(version: str) -> dict[str, list[dict]]:
    """users.csv, demographics.csv and roles.csv (1.2) or users.role/orgSourcedIds (1.1)."""
    users, demographics, roles = [], [], []
    for n, student in enumerate([*STUDENTS, TOMBSTONED_STUDENT], start=1):
        sid, org, grades, enabled, sex, races, flags = student
        school = STUDENT_SCHOOL.get(sid, org)
        user = {"sourcedId": sid, "enabledUser": enabled, "grades": grades, **person(sid, n)}
        if version == "1.2":
            user |= {"primaryOrgSourcedId": org, "userMasterIdentifier": f"STATE-{sid}"}
            roles.append(
                {
                    "sourcedId": f"R-{sid}",
                    "userSourcedId": sid,
                    "roleType": "primary",
                    "role": "student",
                    "orgSourcedId": school,
                }
            )
        else:
            orgs = [o for o in (org, school) if o]
            user |= {"role": "student", "orgSourcedIds": ", ".join(dict.fromkeys(orgs))}
        users.append(user | (TOMBSTONE if student is TOMBSTONED_STUDENT else {}))
        if sex:
            row = {"sourcedId": sid, "birthDate": f"2010-0{1 + n % 9}-1{n % 10}", "sex": sex}
            row |= {col: str(key in races).lower() for key, col in RACE_COLUMNS.items()}
            if flags:
                row["metadata"] = {
                    key: str(bool(flag)).lower()
                    for key, flag in zip(METADATA_KEYS, flags, strict=True)
                }
            demographics.append(row)

    for n, (sid, org, role_1p1, staff_roles) in enumerate(STAFF, start=50):
        user = {"sourcedId": sid, "enabledUser": "true", **person(sid, n)}
        if sid == "G01":
            user["agentSourcedIds"] = "L01, L02"
        if version == "1.2":
            user["primaryOrgSourcedId"] = org
            for i, (role, role_type, role_org) in enumerate(staff_roles):
                roles.append(
                    {
                        "sourcedId": f"R-{sid}-{i}",
                        "userSourcedId": sid,
                        "roleType": role_type,
                        "role": role,
                        "orgSourcedId": role_org,
                    }
                )
        else:
            user |= {"role": role_1p1, "orgSourcedIds": org}
        users.append(user)

    if version == "1.1":
        # A roles row left from an earlier 1.2 export: the 1.1 user row is newer and wins.
        roles.append(
            {
                "sourcedId": "R-T01-STALE",
                "userSourcedId": "T01",
                "roleType": "primary",
                "role": "student",
                "orgSourcedId": "S-HS",
            }
        )
    return {"users.csv": users, "demographics.csv": demographics, "roles.csv": roles}


def district(version: str) -> dict[str, list[dict]]:
    """Riverbend Unified: a high school and a middle school, as one OneRoster export."""
    rows: dict[str, list[dict]] = {f: [] for f in known_files()} | people(version)
    rows["orgs.csv"] = table(
        ("sourcedId", "name", "type", "parentSourcedId"),
        ("D1", "Riverbend Unified", "district", None),
        ("S-HS", "Riverbend High", "school", "D1"),
        ("S-MS", "Cedar Middle", "school", "D1"),
    )
    rows["academicSessions.csv"] = table(
        ("sourcedId", "title", "type", "startDate", "endDate", "parentSourcedId", "schoolYear"),
        ("SY25", "2024-25", "schoolYear", "2024-08-15", "2025-06-14", None, "2025"),
        ("FALL24", "Fall 2024", "semester", "2024-08-15", "2025-01-11", "SY25", "2025"),
        ("SPR25", "Spring 2025", "semester", "2025-01-13", "2025-06-14", "SY25", "2025"),
    )
    rows["courses.csv"] = table(
        ("sourcedId", "title", "courseCode", "grades", "orgSourcedId", "subjects"),
        ("CRS-ALG", "Algebra I", "ALG1", "09", "S-HS", "Mathematics"),
        ("CRS-BIO", "Biology", "BIO", "09,10", "S-HS", "Science"),
        ("CRS-ELA7", "English 7", "ELA7", "07", "S-MS", "English Language Arts"),
    )
    rows["classes.csv"] = [
        row | {"classType": "scheduled"}
        for row in table(
            (
                "sourcedId",
                "title",
                "grades",
                "courseSourcedId",
                "schoolSourcedId",
                "termSourcedIds",
                "subjects",
            ),
            ("CLS-ALG", "Algebra I - P1", "09", "CRS-ALG", "S-HS", "FALL24", "Mathematics"),
            ("CLS-BIO", "Biology - P3", "09, 10", "CRS-BIO", "S-HS", "FALL24, SPR25", None),
            ("CLS-ELA", "English 7 - P2", "07", "CRS-ELA7", "S-MS", "FALL24", None),
            ("CLS-OLD", "Algebra I - P6", None, "CRS-ALG", "S-HS", "FALL24", None, TOMBSTONE),
        )
    ]
    rows["enrollments.csv"] = table(
        ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role", "primary"),
        *[(f"E-{u}-ALG", "CLS-ALG", "S-HS", u, "student", None) for u in ("L01", "L02", "L03")],
        ("E-L04-ALG", "CLS-ALG", "S-HS", "L04", "student", None),
        ("E-L05-ALG", "CLS-ALG", "S-HS", "L05", "student", None),
        ("E-L13-ALG", "CLS-ALG", "S-HS", "L13", "student", None),  # user tombstoned
        ("E-T01-ALG", "CLS-ALG", "S-HS", "T01", "teacher", "true"),
        *[(f"E-{u}-BIO", "CLS-BIO", "S-HS", u, "student", None) for u in ("L01", "L02", "L06")],
        ("E-L04-BIO", "CLS-BIO", "S-HS", "L04", "student", None, TOMBSTONE),
        ("E-L03-BIO", "CLS-BIO", "S-HS", "L03", "aide", None),  # a student aide
        ("E-T02-BIO", "CLS-BIO", "S-HS", "T02", "student", None),  # a teacher taking it
        ("E-T01-BIO", "CLS-BIO", "S-HS", "T01", "teacher", "true"),
        *[(f"E-{u}-ELA", "CLS-ELA", "S-MS", u, "student", None) for u in MIDDLE_SCHOOLERS],
        ("E-T02-ELA", "CLS-ELA", "S-MS", "T02", "teacher", "true"),
        ("E-L03-OLD", "CLS-OLD", "S-HS", "L03", "student", None),  # class tombstoned
    )
    rows["categories.csv"] = table(("sourcedId", "title", "weight"), ("CAT", "Assessment", "60"))
    # 1.1 calls the grading period gradingPeriodSourcedId; 1.2 renamed it and added the school.
    school = {"CLS-ALG": "S-HS", "CLS-BIO": "S-HS", "CLS-ELA": "S-MS"}
    rows["lineItems.csv"] = [
        row
        | {"categorySourcedId": "CAT", "resultValueMin": "0"}
        | (
            {"academicSessionSourcedId": "FALL24", "schoolSourcedId": school[row["classSourcedId"]]}
            if version == "1.2"
            else {"gradingPeriodSourcedId": "FALL24"}
        )
        for row in table(
            ("sourcedId", "title", "assignDate", "dueDate", "classSourcedId", "resultValueMax"),
            ("LI-ALG-U1", "Unit 1 test", "2024-09-02", "2024-09-20", "CLS-ALG", "4"),
            ("LI-ALG-HW", "Homework 1", "2024-09-02", "2024-09-04", "CLS-ALG", "100"),
            ("LI-BIO-LAB", "Lab 1", "2024-09-09", "2024-09-13", "CLS-BIO", "10"),
            ("LI-ELA-ESSAY", "Essay 1", "2024-09-09", "2024-09-27", "CLS-ELA", "4"),
            ("LI-ELA-OLD", "Old rubric", "2024-09-09", "2024-09-27", "CLS-ELA", "4", TOMBSTONE),
        )
    ]
    rows["results.csv"] = [
        row | {"scoreDate": "2024-09-21"}
        for row in table(
            ("sourcedId", "lineItemSourcedId", "studentSourcedId", "scoreStatus", "score"),
            ("RES-L01-U1", "LI-ALG-U1", "L01", "fully graded", "3.5"),
            ("RES-L02-U1", "LI-ALG-U1", "L02", "fully graded", "3"),
            ("RES-L03-U1", "LI-ALG-U1", "L03", "fully graded", "2.9"),
            ("RES-L04-U1", "LI-ALG-U1", "L04", "partially graded", "3.8"),
            ("RES-L05-U1", "LI-ALG-U1", "L05", "fully graded", "4", TOMBSTONE),
            ("RES-L05-HW", "LI-ALG-HW", "L05", "fully graded", "95"),
            ("RES-L13-U1", "LI-ALG-U1", "L13", "fully graded", "4"),
            ("RES-L06-LAB", "LI-BIO-LAB", "L06", "fully graded", "9"),
            ("RES-T02-LAB", "LI-BIO-LAB", "T02", "fully graded", "10"),
            ("RES-L07-OLD", "LI-ELA-OLD", "L07", "fully graded", "4"),
        )
    ]
    if version == "1.2":  # learning objectives exist only in OneRoster 1.2
        rows["lineItemLearningObjectiveIds.csv"] = table(
            ("sourcedId", "lineItemSourcedId", "source", "learningObjectiveId"),
            ("LILO-1", "LI-ALG-U1", "case", LO_A),
            ("LILO-2", "LI-ALG-U1", "case", LO_B),
            ("LILO-3", "LI-BIO-LAB", "unknown", "HS-LS1-1"),
            ("LILO-4", "LI-ELA-OLD", "case", LO_D),
        )
        rows["resultLearningObjectiveIds.csv"] = table(
            ("sourcedId", "resultSourcedId", "source", "learningObjectiveId", "score", "textScore"),
            ("RLO-1", "RES-L01-U1", "case", LO_A, "4", None),
            ("RLO-2", "RES-L01-U1", "case", LO_B, "2", "Developing"),
            ("RLO-3", "RES-L04-U1", "case", LO_A, "3.8", None),
            ("RLO-4", "RES-L13-U1", "case", LO_A, "4", None),
            ("RLO-5", "RES-L05-U1", "case", LO_A, "4", None),
        )
    return rows


def build_warehouse(path: Path, version: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    create_raw_tables(con)
    for file, rows in district(version).items():
        insert_raw(con, file, rows, version, batch_id=f"batch-{version}")
    build_models(con)
    return con


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Iterator[duckdb.DuckDBPyConnection]:
    con = build_warehouse(tmp_path_factory.mktemp("wh12") / "warehouse.duckdb", "1.2")
    yield con
    con.close()


@pytest.fixture(scope="module")
def warehouse_1p1(tmp_path_factory) -> Iterator[duckdb.DuckDBPyConnection]:
    con = build_warehouse(tmp_path_factory.mktemp("wh11") / "warehouse.duckdb", "1.1")
    yield con
    con.close()


def query(con: duckdb.DuckDBPyConnection, sql: str, params=None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def records(con: duckdb.DuckDBPyConnection, table: str, where: str = "true") -> list[dict]:
    result = con.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY ALL")
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def column_types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    schema, name = table.split(".")
    return dict(
        query(
            con,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        )
    )


ACTIVE_STUDENTS = {s[0] for s in STUDENTS}

# ---------------------------------------------------------------------------------------------
# The files keep the conventions the asset factory relies on


def test_there_is_one_staging_model_per_oneroster_file():
    staging = {m.table for m in MODELS if m.layer == "staging"}
    assert staging >= {
        f"stg_oneroster__{snake_case(f.removesuffix('.csv'))}" for f in known_files()
    }


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_each_model_file_is_one_select_statement(model):
    assert isinstance(model.statement, exp.Query)
    assert not list(model.statement.find_all(exp.Create, exp.Insert, exp.Delete, exp.Update))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_each_model_reads_only_schema_qualified_tables_that_exist(model):
    assert model.upstream, f"{model.name} reads nothing"
    for ref in model.upstream:
        assert "." in ref, f"{model.name}: {ref} is not schema-qualified"
        assert ref in RAW_TABLES or ref in MODEL_NAMES, f"{model.name}: unknown table {ref}"
        assert ref != model.name


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_each_model_starts_with_a_comment_saying_what_a_row_is(model):
    assert model.text.startswith("--")
    assert "one row per" in model.description.lower()
    # A description line shaped like `word: text` would be read as a column doc instead.
    assert not [line for line in model.description_lines if COLUMN_DOC.match(line)]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_each_model_is_deterministic_in_what_it_calls(model):
    volatile = (exp.CurrentDate, exp.CurrentTimestamp, exp.CurrentTime, exp.Rand)
    assert not list(model.statement.find_all(*volatile))
    called = {f.name.lower() for f in model.statement.find_all(exp.Anonymous)}
    assert not called & {"now", "random", "uuid", "gen_random_uuid", "today", "get_current_time"}


def test_documented_columns_exist_in_the_built_tables(warehouse):
    for model in MODELS:
        missing = set(model.column_docs) - set(column_types(warehouse, model.name))
        assert not missing, f"{model.name} documents columns it does not have: {missing}"


# ---------------------------------------------------------------------------------------------
# Staging


@pytest.mark.parametrize("file", known_files())
def test_staging_keeps_exactly_the_live_rows_of_each_file(warehouse, file):
    staging = f"staging.stg_oneroster__{snake_case(file.removesuffix('.csv'))}"
    live = query(
        warehouse,
        f'SELECT "sourcedId" FROM {raw_table(file)} WHERE "status" IS DISTINCT FROM '
        "'tobedeleted' ORDER BY 1",
    )
    assert query(warehouse, f"SELECT sourced_id FROM {staging} ORDER BY 1") == live


def test_staging_of_every_file_keeps_metadata_and_its_batch(warehouse):
    for file in known_files():
        staging = f"staging.stg_oneroster__{snake_case(file.removesuffix('.csv'))}"
        types = column_types(warehouse, staging)
        assert types["metadata"] == "JSON", staging
        assert types["_batch_id"] == "VARCHAR", staging


def test_staging_types_lists_booleans_dates_and_numbers(warehouse):
    assert query(
        warehouse,
        "SELECT term_sourced_ids, grades FROM staging.stg_oneroster__classes "
        "WHERE sourced_id = 'CLS-BIO'",
    ) == [(["FALL24", "SPR25"], ["09", "10"])]
    assert query(
        warehouse,
        "SELECT start_date, school_year FROM staging.stg_oneroster__academic_sessions "
        "WHERE sourced_id = 'SPR25'",
    ) == [(date(2025, 1, 13), 2025)]
    assert query(
        warehouse,
        "SELECT is_primary FROM staging.stg_oneroster__enrollments "
        "WHERE sourced_id IN ('E-T01-ALG', 'E-L01-ALG') ORDER BY sourced_id",
    ) == [(None,), (True,)]
    assert query(
        warehouse,
        "SELECT result_value_max FROM staging.stg_oneroster__line_items "
        "WHERE sourced_id = 'LI-ALG-U1'",
    ) == [(4.0,)]


def test_staging_demographics_reads_the_district_flags_from_metadata(warehouse):
    flags = (
        "is_economically_disadvantaged, is_english_learner, has_disability, has_home_internet, "
        "has_device"
    )
    by_user = dict(
        (sid, rest)
        for sid, *rest in query(
            warehouse,
            f"SELECT sourced_id, {flags} FROM staging.stg_oneroster__demographics "
            "WHERE sourced_id IN ('L04', 'L10')",
        )
    )
    assert by_user == {"L04": [True, False, True, True, False], "L10": [None] * 5}


def test_staging_users_gives_1p1_users_a_primary_org_and_role(warehouse_1p1):
    assert query(
        warehouse_1p1,
        "SELECT primary_org_sourced_id, org_sourced_ids, role_1p1 "
        "FROM staging.stg_oneroster__users WHERE sourced_id = 'L06'",
    ) == [("D1", ["D1", "S-HS"], "student")]


def test_staging_users_carries_no_password(warehouse):
    assert "password" not in column_types(warehouse, "staging.stg_oneroster__users")
    assert "password" not in column_types(warehouse, "staging.stg_oneroster__user_profiles")


def test_1p1_roles_are_derived_from_the_user_row(warehouse_1p1):
    assert query(
        warehouse_1p1,
        "SELECT org_sourced_id, role, role_type, role_origin FROM core.user_roles "
        "WHERE user_sourced_id = 'L06' ORDER BY ALL",
    ) == [("D1", "student", "primary", "users_1p1"), ("S-HS", "student", "primary", "users_1p1")]


# ---------------------------------------------------------------------------------------------
# core.learners


def test_learners_are_the_live_students_including_disabled_accounts(warehouse):
    learners = dict(query(warehouse, "SELECT learner_sourced_id, is_enabled FROM core.learners"))
    # Not T02 (student only secondarily), not G01/T01/A01, not the tombstoned L13.
    assert set(learners) == ACTIVE_STUDENTS
    assert learners["L12"] is False
    assert query(
        warehouse, "SELECT count(DISTINCT learner_sourced_id) = count(*) FROM core.learners"
    )[0] == (True,)


def test_learners_carry_school_grade_and_group_flags(warehouse):
    by_id = {r["learner_sourced_id"]: r for r in records(warehouse, "core.learners")}
    assert by_id["L01"] == {
        "learner_sourced_id": "L01",
        "is_enabled": True,
        "school_sourced_id": "S-HS",
        "school_name": "Riverbend High",
        "grade": "09",
        "sex": "female",
        "is_economically_disadvantaged": True,
        "is_english_learner": True,
        "has_disability": False,
        "is_american_indian_or_alaska_native": False,
        "is_asian": False,
        "is_black_or_african_american": False,
        "is_native_hawaiian_or_other_pacific_islander": False,
        "is_white": True,
        "is_two_or_more_races": False,
        "is_hispanic_or_latino": True,
        "has_home_internet": False,
        "has_device": True,
        "has_demographics": True,
    }
    assert by_id["L05"]["is_two_or_more_races"] is True
    assert by_id["L06"]["is_american_indian_or_alaska_native"] is True
    assert by_id["L07"]["is_native_hawaiian_or_other_pacific_islander"] is True
    assert (by_id["L12"]["school_name"], by_id["L12"]["grade"]) == ("Cedar Middle", "07")


def test_learners_school_falls_back_to_the_student_role_when_primary_org_is_not_a_school(
    warehouse,
):
    assert query(
        warehouse,
        "SELECT learner_sourced_id, school_sourced_id FROM core.learners "
        "WHERE learner_sourced_id IN ('L05', 'L06') ORDER BY 1",
    ) == [("L05", "S-HS"), ("L06", "S-HS")]


def test_learners_without_demographics_have_unknown_flags_not_false(warehouse):
    (l11,) = records(warehouse, "core.learners", "learner_sourced_id = 'L11'")
    assert (l11["has_demographics"], l11["school_sourced_id"]) == (False, "S-MS")
    flags = {k: v for k, v in l11.items() if k.startswith(("is_", "has_"))}
    del flags["is_enabled"], flags["has_demographics"]
    assert len(flags) == 12
    assert set(flags.values()) == {None}


def test_learners_carry_no_name_email_username_or_birth_date(warehouse):
    columns = set(column_types(warehouse, "core.learners"))
    for word in ("given", "family", "email", "username", "birth", "phone", "identifier"):
        assert not [c for c in columns if word in c], word
    assert not [c for c in columns if c.endswith("name") and c != "school_name"]


def test_no_personal_value_reaches_core_or_marts(warehouse):
    personal = set()
    for user in district("1.2")["users.csv"]:
        personal |= {user[k] for k in ("username", "givenName", "familyName", "email", "phone")}
    personal |= {d["birthDate"] for d in district("1.2")["demographics.csv"]}
    tables = query(
        warehouse,
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_schema IN ('core', 'marts')",
    )
    assert len(tables) >= 5
    for (table,) in tables:
        text = str(query(warehouse, f"SELECT * FROM {table}"))
        leaked = {value for value in personal if value in text}
        assert not leaked, f"{table} shows {leaked}"


def test_a_1p1_export_gives_the_same_learners_as_1p2(warehouse, warehouse_1p1):
    assert records(warehouse_1p1, "core.learners") == records(warehouse, "core.learners")


# ---------------------------------------------------------------------------------------------
# core.enrollments and core.classes


def test_enrollments_drop_tombstoned_users_classes_and_enrollments(warehouse):
    kept = {r[0] for r in query(warehouse, "SELECT enrollment_sourced_id FROM core.enrollments")}
    assert kept.isdisjoint({"E-L13-ALG", "E-L03-OLD", "E-L04-BIO"})
    assert len(kept) == len(district("1.2")["enrollments.csv"]) - 3


def test_enrollments_name_the_primary_teacher(warehouse):
    assert query(
        warehouse,
        "SELECT user_sourced_id, role, course_sourced_id FROM core.enrollments "
        "WHERE is_primary AND class_sourced_id = 'CLS-ALG'",
    ) == [("T01", "teacher", "CRS-ALG")]
    assert query(warehouse, "SELECT count(*) FROM core.enrollments WHERE is_primary IS NULL") == [
        (0,)
    ]


def test_classes_are_competency_based_when_a_live_line_item_is_aligned(warehouse):
    assert query(
        warehouse,
        "SELECT class_sourced_id, is_competency_based, aligned_learning_objective_count "
        "FROM core.classes ORDER BY 1",
    ) == [("CLS-ALG", True, 2), ("CLS-BIO", True, 1), ("CLS-ELA", False, 0)]


def test_classes_count_their_live_learners_only(warehouse):
    assert dict(query(warehouse, "SELECT class_sourced_id, learner_count FROM core.classes")) == {
        "CLS-ALG": 5,  # not the tombstoned L13 nor teacher T01
        "CLS-BIO": 3,  # not T02 (not a learner), L03 (an aide here) or L04 (tombstoned)
        "CLS-ELA": 6,  # including L12, whose account is disabled
    }


def test_classes_carry_course_school_terms_and_school_year(warehouse):
    (bio,) = records(warehouse, "core.classes", "class_sourced_id = 'CLS-BIO'")
    assert {
        k: bio[k] for k in ("course_title", "course_code", "course_subjects", "school_name")
    } == {
        "course_title": "Biology",
        "course_code": "BIO",
        "course_subjects": ["Science"],
        "school_name": "Riverbend High",
    }
    assert (bio["term_sourced_ids"], bio["school_year"]) == (["FALL24", "SPR25"], 2025)


# ---------------------------------------------------------------------------------------------
# core.competency_results

EVIDENCE = (
    "SELECT learner_sourced_id, learning_objective_id, score, score_origin, is_mastered "
    "FROM core.competency_results ORDER BY ALL"
)


def test_competency_results_use_the_per_objective_score(warehouse):
    assert query(
        warehouse,
        "SELECT learning_objective_id, learning_objective_source, score, text_score, "
        "result_value_max, result_learning_objective_sourced_id, class_sourced_id "
        "FROM core.competency_results WHERE result_sourced_id = 'RES-L01-U1' ORDER BY 1",
    ) == [
        (LO_A, "case", 4.0, None, 4.0, "RLO-1", "CLS-ALG"),
        (LO_B, "case", 2.0, "Developing", 4.0, "RLO-2", "CLS-ALG"),
    ]


def test_competency_results_fall_back_to_the_result_score_for_each_aligned_objective(warehouse):
    assert query(
        warehouse,
        "SELECT result_sourced_id, learning_objective_id, score, score_origin, "
        "result_learning_objective_sourced_id FROM core.competency_results "
        "WHERE result_sourced_id IN ('RES-L02-U1', 'RES-L06-LAB') ORDER BY ALL",
    ) == [
        ("RES-L02-U1", LO_A, 3.0, "result", None),
        ("RES-L02-U1", LO_B, 3.0, "result", None),
        ("RES-L06-LAB", "HS-LS1-1", 9.0, "result", None),
    ]


def test_mastery_is_three_quarters_of_the_maximum_on_a_fully_graded_result(warehouse):
    assert query(warehouse, EVIDENCE) == [
        ("L01", LO_A, 4.0, "objective", True),
        ("L01", LO_B, 2.0, "objective", False),
        ("L02", LO_A, 3.0, "result", True),  # exactly 0.75
        ("L02", LO_B, 3.0, "result", True),
        ("L03", LO_A, 2.9, "result", False),  # just under
        ("L03", LO_B, 2.9, "result", False),
        ("L04", LO_A, 3.8, "objective", None),  # partially graded: not judged yet
        ("L06", "HS-LS1-1", 9.0, "result", True),
    ]


def test_competency_results_leave_out_non_learners_and_deleted_records(warehouse):
    # L13 (tombstoned user), T02 (not a learner), RES-L05-U1 (tombstoned result), RES-L07-OLD
    # (tombstoned line item) and RES-L05-HW (line item not aligned) give no evidence.
    results = {
        r[0] for r in query(warehouse, "SELECT result_sourced_id FROM core.competency_results")
    }
    assert results == {"RES-L01-U1", "RES-L02-U1", "RES-L03-U1", "RES-L04-U1", "RES-L06-LAB"}


# ---------------------------------------------------------------------------------------------
# marts and idempotence


def test_sis_load_summary_counts_live_and_tombstoned_rows_per_file(warehouse):
    summary = {r["file"]: r for r in records(warehouse, "marts.sis_load_summary")}
    assert set(summary) == set(known_files())
    users = summary["users.csv"]
    assert (users["live_rows"], users["tombstoned_rows"]) == (len(STUDENTS) + len(STAFF), 1)
    assert (users["latest_batch_id"], users["oneroster_version"]) == ("batch-1.2", "1.2")
    assert (
        summary["scoreScales.csv"]["live_rows"],
        summary["scoreScales.csv"]["latest_batch_id"],
    ) == (0, None)


def test_building_the_same_night_twice_gives_identical_tables(tmp_path):
    con = build_warehouse(tmp_path / "warehouse.duckdb", "1.2")
    try:
        first = {m.name: records(con, m.name) for m in MODELS}
        build_models(con)
        second = {m.name: records(con, m.name) for m in MODELS}
    finally:
        con.close()
    assert first == second
    assert first["core.learners"]
