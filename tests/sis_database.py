"""A sample district as a SIS keeps it in its database, for the SQL source's tests.

The generated OneRoster package is turned back into the kind of schema a student information
system has (students, staff, guardians, schools, terms, sections, section enrollments,
assignments, scores …, with SIS column names and SQL types) and written into a throwaway
database on the local PostgreSQL or MariaDB server, with a role that may only SELECT.
`column_map()` is the `pathways.yaml` map that turns it into OneRoster again: the map does the
work, not the schema.

Servers: PostgreSQL at 127.0.0.1:5432 (user postgres) and MariaDB at 127.0.0.1:3306 (user root),
or the admin URLs in $PATHWAYS_TEST_POSTGRES_URL / $PATHWAYS_TEST_MARIADB_URL. Each test
session makes its own database and role, and drops them after.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

POSTGRES_ADMIN = os.environ.get(
    "PATHWAYS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
MARIADB_ADMIN = os.environ.get(
    "PATHWAYS_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test"
)

# Every SIS table: (name, columns as (name, type)); the DuckDB query that fills it from the
# OneRoster package follows in _FROM_ONEROSTER.
_ID, _TEXT = sa.String(64), sa.String(255)
SIS_TABLES: dict[str, list[tuple[str, sa.types.TypeEngine]]] = {
    "district": [("district_code", _ID), ("district_name", _TEXT)],
    "schools": [
        ("school_id", _ID),
        ("school_name", _TEXT),
        ("state_school_number", _ID),
        ("district_code", _ID),
        ("last_modified", sa.DateTime()),
    ],
    "terms": [
        ("term_id", _ID),
        ("term_name", _TEXT),
        ("term_kind", _ID),
        ("first_day", sa.Date()),
        ("last_day", sa.Date()),
        ("parent_term_id", _ID),
        ("school_year", sa.Integer()),
    ],
    "course_catalog": [
        ("course_id", _ID),
        ("school_year_id", _ID),
        ("course_title", _TEXT),
        ("course_number", _ID),
        ("grade_level", _ID),
        ("district_code", _ID),
        ("subject_name", _TEXT),
        ("sced_code", _ID),
    ],
    "gradebook_categories": [("category_id", _ID), ("category_name", _TEXT)],
    "sections": [
        ("section_id", _ID),
        ("section_title", _TEXT),
        ("grade_level", _ID),
        ("course_id", _ID),
        ("section_code", _ID),
        ("section_kind", _ID),
        ("school_id", _ID),
        ("term_id", _ID),
        ("subject_name", _TEXT),
        ("sced_code", _ID),
        ("period", _ID),
    ],
    "students": [
        ("student_id", _ID),
        ("login", _TEXT),
        ("first_name", _TEXT),
        ("last_name", _TEXT),
        ("student_number", _ID),
        ("email", _TEXT),
        ("grade_level", _ID),
        ("school_id", _ID),
        ("is_enabled", sa.Boolean()),
        ("withdrawn", sa.Boolean()),
        ("last_modified", sa.DateTime()),
        ("advising_meetings", sa.Integer()),
        ("work_based_learning", sa.Boolean()),
    ],
    "staff": [
        ("staff_id", _ID),
        ("login", _TEXT),
        ("first_name", _TEXT),
        ("last_name", _TEXT),
        ("employee_number", _ID),
        ("email", _TEXT),
        ("school_id", _ID),
        ("job_role", _ID),
        ("is_enabled", sa.Boolean()),
        ("last_modified", sa.DateTime()),
    ],
    "guardians": [
        ("guardian_id", _ID),
        ("login", _TEXT),
        ("first_name", _TEXT),
        ("last_name", _TEXT),
        ("email", _TEXT),
        ("school_id", _ID),
        ("is_enabled", sa.Boolean()),
        ("last_modified", sa.DateTime()),
    ],
    "student_guardians": [("student_id", _ID), ("guardian_id", _ID)],
    "student_demographics": [
        ("student_id", _ID),
        ("birth_date", sa.Date()),
        ("gender", _ID),
        ("american_indian", sa.Boolean()),
        ("asian", sa.Boolean()),
        ("black", sa.Boolean()),
        ("pacific_islander", sa.Boolean()),
        ("white", sa.Boolean()),
        ("two_or_more_races", sa.Boolean()),
        ("hispanic", sa.Boolean()),
        ("econ_disadvantaged", sa.Boolean()),
        ("english_learner", sa.Boolean()),
        ("has_iep", sa.Boolean()),
        ("home_internet", sa.Boolean()),
        ("has_device", sa.Boolean()),
    ],
    "section_enrollments": [
        ("enrollment_id", _ID),
        ("section_id", _ID),
        ("school_id", _ID),
        ("person_id", _ID),
        ("roster_role", _ID),
        ("is_primary", sa.Boolean()),
        ("entry_date", sa.Date()),
        ("exit_date", sa.Date()),
    ],
    "assignments": [
        ("assignment_id", _ID),
        ("assignment_title", _TEXT),
        ("assigned_on", sa.Date()),
        ("due_on", sa.Date()),
        ("section_id", _ID),
        ("category_id", _ID),
        ("term_id", _ID),
        ("min_points", sa.Float()),
        ("max_points", sa.Float()),
        ("school_id", _ID),
    ],
    "assignment_standards": [
        ("alignment_id", _ID),
        ("assignment_id", _ID),
        ("framework", _ID),
        ("standard_uri", _TEXT),
    ],
    "scores": [
        ("score_id", _ID),
        ("assignment_id", _ID),
        ("student_id", _ID),
        ("score_status", _ID),
        ("points", sa.Float()),
        ("scored_on", sa.Date()),
        ("section_id", _ID),
    ],
    "score_standards": [
        ("alignment_id", _ID),
        ("score_id", _ID),
        ("framework", _ID),
        ("standard_uri", _TEXT),
        ("points", sa.Float()),
    ],
}

# Each SIS table from the OneRoster package, as DuckDB reads it (views over the CSV files).
# Records were last modified a day apart, in the past, so a pull after an edit sees only it.
_MODIFIED = "TIMESTAMP '2024-01-01 08:00:00' + to_days(CAST(row_number() OVER () AS INTEGER))"
_FROM_ONEROSTER = {
    "district": "SELECT sourcedId, name FROM orgs WHERE type = 'district'",
    "schools": f"SELECT sourcedId, name, identifier, parentSourcedId, {_MODIFIED} "
    "FROM orgs WHERE type = 'school'",
    "terms": "SELECT sourcedId, title, type, CAST(startDate AS DATE), CAST(endDate AS DATE), "
    "parentSourcedId, CAST(schoolYear AS INTEGER) FROM academicSessions",
    "course_catalog": "SELECT sourcedId, schoolYearSourcedId, title, courseCode, grades, "
    "orgSourcedId, subjects, subjectCodes FROM courses",
    "gradebook_categories": "SELECT sourcedId, title FROM categories",
    "sections": "SELECT sourcedId, title, grades, courseSourcedId, classCode, classType, "
    "schoolSourcedId, termSourcedIds, subjects, subjectCodes, periods FROM classes",
    "students": "SELECT sourcedId, username, givenName, familyName, identifier, email, grades, "
    f"primaryOrgSourcedId, CAST(enabledUser AS BOOLEAN), false, {_MODIFIED}, "
    "CAST(nullif(\"metadata.careerAdvisingMeetings\", '') AS INTEGER), "
    "CAST(nullif(\"metadata.workBasedLearning\", '') AS BOOLEAN) "
    "FROM users WHERE sourcedId IN (SELECT userSourcedId FROM roles WHERE role = 'student')",
    "staff": "SELECT u.sourcedId, username, givenName, familyName, identifier, email, "
    f"primaryOrgSourcedId, r.role, CAST(enabledUser AS BOOLEAN), {_MODIFIED} "
    "FROM users AS u JOIN roles AS r ON r.userSourcedId = u.sourcedId "
    "WHERE r.role NOT IN ('student', 'guardian')",
    "guardians": "SELECT sourcedId, username, givenName, familyName, email, primaryOrgSourcedId, "
    f"CAST(enabledUser AS BOOLEAN), {_MODIFIED} "
    "FROM users WHERE sourcedId IN (SELECT userSourcedId FROM roles WHERE role = 'guardian')",
    "student_guardians": "SELECT sourcedId, trim(unnest(string_split(agentSourcedIds, ','))) "
    "FROM users WHERE sourcedId IN (SELECT userSourcedId FROM roles WHERE role = 'student') "
    "AND agentSourcedIds IS NOT NULL",
    "student_demographics": "SELECT sourcedId, CAST(birthDate AS DATE), sex, "
    "CAST(americanIndianOrAlaskaNative AS BOOLEAN), CAST(asian AS BOOLEAN), "
    "CAST(blackOrAfricanAmerican AS BOOLEAN), CAST(nativeHawaiianOrOtherPacificIslander AS "
    "BOOLEAN), CAST(white AS BOOLEAN), CAST(demographicRaceTwoOrMoreRaces AS BOOLEAN), "
    "CAST(hispanicOrLatinoEthnicity AS BOOLEAN), "
    'CAST("metadata.economicallyDisadvantaged" AS BOOLEAN), '
    'CAST("metadata.englishLearner" AS BOOLEAN), CAST("metadata.disability" AS BOOLEAN), '
    'CAST("metadata.homeInternetAccess" AS BOOLEAN), CAST("metadata.deviceAccess" AS BOOLEAN) '
    "FROM demographics",
    "section_enrollments": "SELECT sourcedId, classSourcedId, schoolSourcedId, userSourcedId, "
    'role, CAST("primary" AS BOOLEAN), CAST(beginDate AS DATE), CAST(endDate AS DATE) '
    "FROM enrollments",
    "assignments": "SELECT sourcedId, title, CAST(assignDate AS DATE), CAST(dueDate AS DATE), "
    "classSourcedId, categorySourcedId, academicSessionSourcedId, "
    "CAST(resultValueMin AS DOUBLE), CAST(resultValueMax AS DOUBLE), schoolSourcedId "
    "FROM lineItems",
    "assignment_standards": "SELECT sourcedId, lineItemSourcedId, source, learningObjectiveId "
    "FROM lineItemLearningObjectiveIds",
    "scores": "SELECT sourcedId, lineItemSourcedId, studentSourcedId, scoreStatus, "
    "CAST(score AS DOUBLE), CAST(scoreDate AS DATE), classSourcedId FROM results",
    "score_standards": "SELECT sourcedId, resultSourcedId, source, learningObjectiveId, "
    "CAST(score AS DOUBLE) FROM resultLearningObjectiveIds",
}

# Views a SIS would have for the comma lists OneRoster wants; only the aggregate differs.
_LIST_VIEWS = {
    "postgresql": (
        "CREATE VIEW {s}student_guardian_lists AS SELECT student_id, "
        "string_agg(guardian_id, ',' ORDER BY guardian_id) AS guardian_ids "
        "FROM {s}student_guardians GROUP BY student_id",
        "CREATE VIEW {s}guardian_student_lists AS SELECT guardian_id, "
        "string_agg(student_id, ',' ORDER BY student_id) AS student_ids "
        "FROM {s}student_guardians GROUP BY guardian_id",
    ),
    "mysql": (
        "CREATE VIEW {s}student_guardian_lists AS SELECT student_id, "
        "GROUP_CONCAT(guardian_id ORDER BY guardian_id SEPARATOR ',') AS guardian_ids "
        "FROM {s}student_guardians GROUP BY student_id",
        "CREATE VIEW {s}guardian_student_lists AS SELECT guardian_id, "
        "GROUP_CONCAT(student_id ORDER BY student_id SEPARATOR ',') AS student_ids "
        "FROM {s}student_guardians GROUP BY guardian_id",
    ),
}


def sis_rows(oneroster: Path) -> dict[str, list[tuple]]:
    """The SIS tables' rows, made from a OneRoster CSV package."""
    con = duckdb.connect()
    try:
        for csv_file in sorted(oneroster.glob("*.csv")):
            if csv_file.name == "manifest.csv":
                continue
            path = str(csv_file).replace("'", "''")
            con.execute(
                f'CREATE VIEW "{csv_file.stem}" AS '
                f"SELECT * FROM read_csv('{path}', all_varchar = true, header = true)"
            ).fetchall()
        return {table: con.execute(sql).fetchall() for table, sql in _FROM_ONEROSTER.items()}
    finally:
        con.close()


def sis_metadata(schema: str | None) -> sa.MetaData:
    """The SIS tables as SQLAlchemy declares them, in `schema`."""
    metadata = sa.MetaData(schema=schema)
    for name, columns in SIS_TABLES.items():
        sa.Table(name, metadata, *(sa.Column(c, t) for c, t in columns))
    return metadata


@dataclass(frozen=True)
class SisDatabase:
    """A throwaway SIS database on a local server, and the SELECT-only role that reads it."""

    backend: str  # "postgresql" or "mysql"
    admin_url: sa.URL  # a superuser, connected to the SIS database
    reader_url: sa.URL  # the SELECT-only role, password included
    reader: str
    password: str
    database: str
    schema: str | None  # where the tables are, for pathways.yaml (None: the database's own)

    def admin(self) -> sa.Engine:
        """An engine that may write (to change the SIS in a test)."""
        return sa.create_engine(self.admin_url, poolclass=NullPool)

    def table(self, name: str) -> str:
        """A SIS table's name as SQL written by a test refers to it."""
        return f"{self.schema}.{name}" if self.schema else name


def _reachable(url: str) -> sa.Engine:
    engine = sa.create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
    try:
        engine.connect().close()
    except sa.exc.OperationalError as exc:
        # A missing server fails, never skips: a skipped test would hide that the SQL source
        # went untested. Point PATHWAYS_TEST_POSTGRES_URL / _MARIADB_URL at one.
        pytest.fail(f"no database server at {engine.url.render_as_string()}: {exc.orig}")
    return engine


def _seed(engine: sa.Engine, schema: str | None, rows: dict[str, list[tuple]]) -> None:
    metadata = sis_metadata(schema)
    with engine.begin() as conn:
        if schema:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        metadata.create_all(conn)
        for table in metadata.sorted_tables:
            name = table.name
            if rows[name]:
                keys = [c for c, _ in SIS_TABLES[name]]
                conn.execute(table.insert(), [dict(zip(keys, r, strict=True)) for r in rows[name]])
        prefix = f"{schema}." if schema else ""
        for view in _LIST_VIEWS[engine.dialect.name]:
            conn.execute(sa.text(view.format(s=prefix)))


@contextmanager
def postgres_sis(rows: dict[str, list[tuple]]) -> Iterator[SisDatabase]:
    """The SIS in a new PostgreSQL database (schema `sis`), read by a SELECT-only role."""
    server = _reachable(POSTGRES_ADMIN)
    tag = secrets.token_hex(4)
    database, reader, password = f"pathways_sis_{tag}", f"pathways_reader_{tag}", _password()
    with server.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"CREATE DATABASE {database}"))
        conn.execute(sa.text(f"CREATE ROLE {reader} LOGIN PASSWORD '{password}'"))
    admin_url = server.url.set(database=database)
    try:
        admin = sa.create_engine(admin_url, poolclass=NullPool)
        _seed(admin, "sis", rows)
        with admin.begin() as conn:
            for grant in (
                f"GRANT CONNECT ON DATABASE {database} TO {reader}",
                f"GRANT USAGE ON SCHEMA sis TO {reader}",
                f"GRANT SELECT ON ALL TABLES IN SCHEMA sis TO {reader}",
                # Its queries name SIS tables the way the SIS's own reports do: unqualified.
                f"ALTER ROLE {reader} IN DATABASE {database} SET search_path = sis",
            ):
                conn.execute(sa.text(grant))
        admin.dispose()
        yield SisDatabase(
            backend="postgresql",
            admin_url=admin_url,
            reader_url=admin_url.set(username=reader, password=password),
            reader=reader,
            password=password,
            database=database,
            schema="sis",
        )
    finally:
        with server.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            conn.execute(sa.text(f"DROP ROLE IF EXISTS {reader}"))
        server.dispose()


@contextmanager
def mariadb_sis(rows: dict[str, list[tuple]]) -> Iterator[SisDatabase]:
    """The SIS in a new MariaDB database, read by a user granted SELECT only."""
    server = _reachable(MARIADB_ADMIN)
    tag = secrets.token_hex(4)
    database, reader, password = f"pathways_sis_{tag}", f"pathways_reader_{tag}", _password()
    hosts = ("localhost", "127.0.0.1", "%")
    with server.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {database} CHARACTER SET utf8mb4"))
        for host in hosts:
            conn.execute(sa.text(f"CREATE USER '{reader}'@'{host}' IDENTIFIED BY '{password}'"))
            conn.execute(sa.text(f"GRANT SELECT ON {database}.* TO '{reader}'@'{host}'"))
    admin_url = server.url.set(database=database)
    try:
        admin = sa.create_engine(admin_url, poolclass=NullPool)
        _seed(admin, None, rows)
        admin.dispose()
        yield SisDatabase(
            backend="mysql",
            admin_url=admin_url,
            reader_url=admin_url.set(username=reader, password=password),
            reader=reader,
            password=password,
            database=database,
            schema=None,
        )
    finally:
        with server.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {database}"))
            for host in hosts:
                conn.execute(sa.text(f"DROP USER IF EXISTS '{reader}'@'{host}'"))
        server.dispose()


def _password() -> str:
    # Distinctive, so a test can tell it never appears where it must not.
    return f"pw-{secrets.token_hex(8)}"


def column_map(schema: str | None) -> dict:
    """`sources.sis` of pathways.yaml for this SIS (without url_env): tables, views, queries
    with bound parameters, constants and metadata, every entity of the sample district."""
    return {
        "kind": "sql",
        **({"schema": schema} if schema else {}),
        "entities": {
            "orgs": {
                "query": "SELECT district_code AS org_id, district_name AS org_name, "
                "'district' AS org_type, NULL AS org_number, NULL AS parent_id FROM district "
                "UNION ALL SELECT school_id, school_name, 'school', state_school_number, "
                "district_code FROM schools",
                "columns": {
                    "sourcedId": "org_id",
                    "name": "org_name",
                    "type": "org_type",
                    "identifier": "org_number",
                    "parentSourcedId": "parent_id",
                },
            },
            "academicSessions": {
                "table": "terms",
                "columns": {
                    "sourcedId": "term_id",
                    "title": "term_name",
                    "type": "term_kind",
                    "startDate": "first_day",
                    "endDate": "last_day",
                    "parentSourcedId": "parent_term_id",
                    "schoolYear": "school_year",
                },
            },
            "courses": {
                "table": "course_catalog",
                "columns": {
                    "sourcedId": "course_id",
                    "schoolYearSourcedId": "school_year_id",
                    "title": "course_title",
                    "courseCode": "course_number",
                    "grades": "grade_level",
                    "orgSourcedId": "district_code",
                    "subjects": "subject_name",
                    "subjectCodes": "sced_code",
                },
            },
            "categories": {
                "table": "gradebook_categories",
                "columns": {"sourcedId": "category_id", "title": "category_name"},
            },
            "classes": {
                "table": "sections",
                "columns": {
                    "sourcedId": "section_id",
                    "title": "section_title",
                    "grades": "grade_level",
                    "courseSourcedId": "course_id",
                    "classCode": "section_code",
                    "classType": "section_kind",
                    "schoolSourcedId": "school_id",
                    "termSourcedIds": "term_id",
                    "subjects": "subject_name",
                    "subjectCodes": "sced_code",
                    "periods": "period",
                },
            },
            "users": {
                "query": USERS_QUERY,
                "columns": {
                    "sourcedId": "person_id",
                    "status": "record_status",
                    "enabledUser": "is_enabled",
                    "username": "login",
                    "givenName": "first_name",
                    "familyName": "last_name",
                    "identifier": "local_number",
                    "email": "email",
                    "agentSourcedIds": "related_ids",
                    "grades": "grade_level",
                    "primaryOrgSourcedId": "school_id",
                },
                "metadata": {
                    "careerAdvisingMeetings": "advising_meetings",
                    "workBasedLearning": "work_based_learning",
                },
                "modified_column": "last_modified",
            },
            "roles": {
                "query": ROLES_QUERY,
                "params": {"student": "student", "guardian": "guardian"},
                "columns": {
                    "sourcedId": "role_id",
                    "userSourcedId": "person_id",
                    "roleType": {"const": "primary"},
                    "role": "role_name",
                    "orgSourcedId": "school_id",
                },
            },
            "demographics": {
                "table": "student_demographics",
                "columns": {
                    "sourcedId": "student_id",
                    "birthDate": "birth_date",
                    "sex": "gender",
                    "americanIndianOrAlaskaNative": "american_indian",
                    "asian": "asian",
                    "blackOrAfricanAmerican": "black",
                    "nativeHawaiianOrOtherPacificIslander": "pacific_islander",
                    "white": "white",
                    "demographicRaceTwoOrMoreRaces": "two_or_more_races",
                    "hispanicOrLatinoEthnicity": "hispanic",
                },
                "metadata": {
                    "economicallyDisadvantaged": "econ_disadvantaged",
                    "englishLearner": "english_learner",
                    "disability": "has_iep",
                    "homeInternetAccess": "home_internet",
                    "deviceAccess": "has_device",
                },
            },
            "enrollments": {
                "table": "section_enrollments",
                "columns": {
                    "sourcedId": "enrollment_id",
                    "classSourcedId": "section_id",
                    "schoolSourcedId": "school_id",
                    "userSourcedId": "person_id",
                    "role": "roster_role",
                    "primary": "is_primary",
                    "beginDate": "entry_date",
                    "endDate": "exit_date",
                },
            },
            "lineItems": {
                "table": "assignments",
                "columns": {
                    "sourcedId": "assignment_id",
                    "title": "assignment_title",
                    "assignDate": "assigned_on",
                    "dueDate": "due_on",
                    "classSourcedId": "section_id",
                    "categorySourcedId": "category_id",
                    "academicSessionSourcedId": "term_id",
                    "resultValueMin": "min_points",
                    "resultValueMax": "max_points",
                    "schoolSourcedId": "school_id",
                },
            },
            "lineItemLearningObjectiveIds": {
                "table": "assignment_standards",
                "columns": {
                    "sourcedId": "alignment_id",
                    "lineItemSourcedId": "assignment_id",
                    "source": "framework",
                    "learningObjectiveId": "standard_uri",
                },
            },
            "results": {
                "table": "scores",
                "columns": {
                    "sourcedId": "score_id",
                    "lineItemSourcedId": "assignment_id",
                    "studentSourcedId": "student_id",
                    "scoreStatus": "score_status",
                    "score": "points",
                    "scoreDate": "scored_on",
                    "classSourcedId": "section_id",
                },
            },
            "resultLearningObjectiveIds": {
                "table": "score_standards",
                "columns": {
                    "sourcedId": "alignment_id",
                    "resultSourcedId": "score_id",
                    "source": "framework",
                    "learningObjectiveId": "standard_uri",
                    "score": "points",
                },
            },
        },
    }


# Students, staff and guardians are three tables in a SIS and one users file in OneRoster.
USERS_QUERY = """
SELECT s.student_id AS person_id, s.login, s.first_name, s.last_name,
       s.student_number AS local_number, s.email, s.is_enabled, g.guardian_ids AS related_ids,
       s.grade_level, s.school_id,
       CASE WHEN s.withdrawn THEN 'tobedeleted' ELSE 'active' END AS record_status,
       s.last_modified, s.advising_meetings, s.work_based_learning
FROM students AS s
LEFT JOIN student_guardian_lists AS g ON g.student_id = s.student_id
UNION ALL
SELECT t.staff_id, t.login, t.first_name, t.last_name, t.employee_number, t.email, t.is_enabled,
       NULL, NULL, t.school_id, 'active', t.last_modified, NULL, NULL
FROM staff AS t
UNION ALL
SELECT p.guardian_id, p.login, p.first_name, p.last_name, NULL, p.email, p.is_enabled,
       l.student_ids, NULL, p.school_id, 'active', p.last_modified, NULL, NULL
FROM guardians AS p
LEFT JOIN guardian_student_lists AS l ON l.guardian_id = p.guardian_id
"""

ROLES_QUERY = """
SELECT CONCAT('rol-', student_id) AS role_id, student_id AS person_id,
       :student AS role_name, school_id
FROM students
UNION ALL
SELECT CONCAT('rol-', staff_id), staff_id, job_role, school_id FROM staff
UNION ALL
SELECT CONCAT('rol-', guardian_id), guardian_id, :guardian, school_id FROM guardians
"""
