"""The SQL SIS source, as a specification, against the real PostgreSQL and MariaDB servers: a
district kept in a SIS-shaped database becomes the same warehouse as its OneRoster export, and
every way a database can fail is reported with what to check and never with the password."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import sqlalchemy as sa
import yaml
from rich.console import Console
from sis_database import SisDatabase, column_map, mariadb_sis, postgres_sis, sis_rows
from sqlalchemy.pool import NullPool

from connectors.oneroster_csv import OneRosterLoad
from connectors.sql_sis import (
    SqlSisSettings,
    SqlSourceError,
    load_sql_sis,
    sis_engine,
    url_from_env,
)
from models.config import SqlSource, load_config
from pipelines.cli import run_nightly
from pipelines.nightly import build_definitions
from pipelines.sensors import SIS_DROP_SENSOR
from pipelines.sis_assets import SIS_SQL_ASSET_NAME
from sample_district.generate import generate_district

TONIGHT = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
URL_ENV = "PATHWAYS_TEST_SIS_URL"


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    """A generated district whose only source is its SIS export: the comparison below is of one
    SIS read two ways, so the badge folder and the learner-record export the generator also
    configures are left out."""
    district = generate_district(300, tmp_path_factory.mktemp("district") / "d", seed=7)
    config = yaml.safe_load(district.config_path.read_text(encoding="utf-8"))
    config["sources"].pop("credentials", None)
    config.pop("verification", None)
    config.pop("exports", None)
    district.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return district


@pytest.fixture(scope="module")
def rows(district):
    return sis_rows(district.oneroster_path)


@pytest.fixture(scope="module")
def postgres(rows):
    with postgres_sis(rows) as database:
        yield database


@pytest.fixture(scope="module")
def mariadb(rows):
    with mariadb_sis(rows) as database:
        yield database


@pytest.fixture(params=["postgres", "mariadb"])
def sis(request) -> SisDatabase:
    """Each test that takes it runs once against each server."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def con(tmp_path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def source_config(sis: SisDatabase, **changes) -> dict:
    """`sources.sis` for the database; `entities` given here replace the map's, and `only`
    keeps the named entities of it."""
    config = {**column_map(sis.schema), "url_env": URL_ENV}
    entities = dict(config["entities"])
    only = changes.pop("only", None)
    if only is not None:
        entities = {name: entities[name] for name in only}
    entities.update(changes.pop("entities", {}))
    return {**config, **changes, "entities": entities}


def settings(sis: SisDatabase, url: sa.URL | None = None, **changes) -> SqlSisSettings:
    """Connector settings through the config schema, so every map here is a valid config."""
    source = SqlSource.model_validate(source_config(sis, **changes))
    url = url or sis.reader_url
    return SqlSisSettings.from_source(source, {URL_ENV: url.render_as_string(hide_password=False)})


def load(con, config: SqlSisSettings, run_id: str = "run-1", **kwargs) -> OneRosterLoad:
    return load_sql_sis(con, config, run_id, TONIGHT, **kwargs)


def raw_snapshot(con) -> dict[str, list[tuple]]:
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' ORDER BY 1"
        ).fetchall()
    ]
    return {t: sorted(con.execute(f"SELECT * FROM raw.{t}").fetchall(), key=repr) for t in tables}


def schema_of(con) -> list[tuple]:
    """Every table of the warehouse, temp ones too."""
    return con.execute(
        "SELECT database_name, schema_name, table_name FROM duckdb_tables() ORDER BY ALL"
    ).fetchall()


# --- the same district, two ways ------------------------------------------------------------


def write_config(folder: Path, sis_source: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "district": {
            "id": "sample-district",
            "name": "Sample District",
            "timezone": "America/Chicago",
        },
        "warehouse": {"path": "w/warehouse.duckdb", "published_path": "p/warehouse.duckdb"},
        "sources": {"sis": sis_source},
    }
    path = folder / "pathways.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def csv_warehouse(district):
    with dg.DagsterInstance.ephemeral() as instance:
        summary = run_nightly(district.config_path, Console(quiet=True), instance=instance)
    assert summary.success, summary.failures
    return load_config(district.config_path).warehouse.path


def core_differences(left: Path, right: Path) -> dict[str, tuple[int, int]]:
    """Per core table: rows only in left, rows only in right (EXCEPT ALL, both ways)."""
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{left}' AS l (READ_ONLY)").fetchall()
        con.execute(f"ATTACH '{right}' AS r (READ_ONLY)").fetchall()
        tables = [
            t
            for (t,) in con.execute(
                "SELECT table_name FROM duckdb_tables() "
                "WHERE database_name = 'l' AND schema_name = 'core' ORDER BY 1"
            ).fetchall()
        ]
        assert tables, "the CSV night built no core tables"
        return {
            t: (
                con.execute(
                    f"SELECT count(*) FROM (FROM l.core.{t} EXCEPT ALL FROM r.core.{t})"
                ).fetchall()[0][0],
                con.execute(
                    f"SELECT count(*) FROM (FROM r.core.{t} EXCEPT ALL FROM l.core.{t})"
                ).fetchall()[0][0],
            )
            for t in tables
        }
    finally:
        con.close()


def test_the_same_district_through_csv_and_through_sql_gives_identical_core_tables(
    sis, csv_warehouse, tmp_path, monkeypatch
):
    monkeypatch.setenv(URL_ENV, sis.reader_url.render_as_string(hide_password=False))
    config = write_config(tmp_path, source_config(sis))
    with dg.DagsterInstance.ephemeral() as instance:
        summary = run_nightly(config, Console(quiet=True), instance=instance)
        events = instance.all_logs(summary.run_id)

    assert summary.success, summary.failures
    assert summary.rejected_rows == 0 and not summary.file_problems
    assert summary.tables["core.learners"] == 300
    differences = core_differences(csv_warehouse, load_config(config).warehouse.path)
    assert {t: d for t, d in differences.items() if d != (0, 0)} == {}
    logged = repr([(e.user_message, e.dagster_event) for e in events])
    assert sis.password not in logged


# --- streaming --------------------------------------------------------------------------------


def test_rows_arrive_in_batches_no_larger_than_batch_size(sis, con):
    batches: list[tuple[str, int, int]] = []

    result = load(
        con,
        settings(sis, batch_size=100),
        on_batch=lambda entity, size, so_far: batches.append((entity, size, so_far)),
    )

    enrollments = [b for b in batches if b[0].startswith("enrollments")]
    assert result.file("enrollments.csv").rows_loaded == 1878
    assert len(enrollments) == 19  # 1,878 rows: 18 full batches and one of 78
    assert all(size <= 100 for _, size, _ in enrollments)
    assert enrollments[-1][2] == 1878


def test_rows_land_in_raw_with_where_they_came_from_in_sourced_id_order(sis, con):
    result = load(con, settings(sis))

    assert not result.held and result.rows_rejected == 0, result.message
    rows = con.execute(
        'SELECT "sourcedId", _file, _line, _batch_id, _oneroster_version, _source '
        "FROM raw.oneroster_classes ORDER BY _line"
    ).fetchall()
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    assert [r[2] for r in rows] == list(range(1, 79))
    table = f"{sis.schema}.sections" if sis.schema else "sections"
    assert {r[1] for r in rows} == {f"classes (sql: {table})"}
    assert {r[3:] for r in rows} == {(result.batch_id, "1.2", "sis")}
    # Values arrive as a OneRoster file writes them, whatever the database's types.
    user = con.execute(
        'SELECT "enabledUser", "dateLastModified", grades FROM raw.oneroster_users '
        "WHERE \"sourcedId\" = 'stu-0000001'"
    ).fetchall()[0]
    assert user == ("true", "2024-01-02T08:00:00", "KG")
    assert con.execute(
        'SELECT "startDate", "schoolYear" FROM raw.oneroster_academic_sessions '
        "WHERE \"sourcedId\" = 'ay-2027'"
    ).fetchall() == [("2026-08-17", "2027")]


def test_pulling_the_same_database_twice_gives_the_same_batch(sis, con):
    first = load(con, settings(sis, only=["orgs", "academicSessions"]))
    second = load(con, settings(sis, only=["orgs", "academicSessions"]), run_id="run-2")

    assert first.batch_id == second.batch_id


# --- the column map ---------------------------------------------------------------------------


def test_a_bad_column_map_names_the_entity_the_missing_column_and_a_close_match(sis, con):
    load(con, settings(sis))
    users_before = raw_snapshot(con)["oneroster_users"]
    entities = column_map(sis.schema)["entities"]
    users = {**entities["users"], "columns": {**entities["users"]["columns"]}}
    users["columns"]["givenName"] = "frist_name"
    classes = {**entities["classes"], "columns": {**entities["classes"]["columns"]}}
    classes["columns"]["title"] = "section_titel"

    result = load(con, settings(sis, entities={"users": users, "classes": classes}), run_id="run-2")

    message = result.file("users.csv").message
    assert result.file("users.csv").status == "failed"
    assert "users (sql: query)" in message
    assert "column 'frist_name' (mapped to givenName)" in message
    assert "did you mean 'first_name'?" in message
    assert "its last snapshot was kept" in message
    table = f"{sis.schema}.sections" if sis.schema else "sections"
    assert result.file("classes.csv").status == "failed"
    assert (
        f"column 'section_titel' (mapped to title) is not in the result of classes (sql: {table})"
        in result.file("classes.csv").message
    )
    assert "did you mean 'section_title'?" in result.file("classes.csv").message
    assert raw_snapshot(con)["oneroster_users"] == users_before
    assert result.file("orgs.csv").status == "loaded"


def test_a_missing_table_stops_the_pull_naming_the_entity_and_what_to_check(sis, con):
    classes = {**column_map(sis.schema)["entities"]["classes"], "table": "section"}

    with pytest.raises(SqlSourceError) as error:
        load(con, settings(sis, entities={"classes": classes}))

    message = str(error.value)
    table = f"{sis.schema}.section" if sis.schema else "section"
    assert message.startswith(f"reading classes (sql: {table}): ")
    assert "does not exist in the SIS database" in message
    assert "Check the table name and sources.sis.schema" in message
    assert sis.password not in message


def test_a_query_param_is_bound_and_one_without_a_value_is_named(sis, con):
    roles = dict(column_map(sis.schema)["entities"]["roles"])
    roles["params"] = {"student": "student"}

    with pytest.raises(SqlSourceError, match="Give every :name in the query a value") as error:
        load(con, settings(sis, only=["orgs", "users"], entities={"roles": roles}))
    assert "reading roles (sql: query)" in str(error.value)


# --- read-only, and what a failure says -------------------------------------------------------


def test_the_select_only_role_cannot_write_and_the_load_works_with_it(sis, con):
    insert = sa.text(
        f"INSERT INTO {sis.table('schools')} (school_id, school_name) VALUES ('x', 'X')"
    )
    plain = sa.create_engine(sis.reader_url, poolclass=NullPool)
    denied = r"(?i)permission denied|command denied"
    with pytest.raises(sa.exc.DBAPIError, match=denied), plain.begin() as conn:
        conn.execute(insert)
    plain.dispose()

    assert load(con, settings(sis)).rows_loaded > 0


def test_pathways_sessions_are_read_only_even_for_a_role_that_may_write(sis):
    engine = sis_engine(settings(sis, url=sis.admin_url))
    insert = sa.text(
        f"INSERT INTO {sis.table('schools')} (school_id, school_name) VALUES ('x', 'X')"
    )
    with pytest.raises(sa.exc.DBAPIError, match=r"(?i)read.only"), engine.begin() as conn:
        conn.execute(insert)
    engine.dispose()


def test_an_unreachable_database_is_named_with_the_password_masked(sis, con, caplog):
    caplog.set_level(logging.DEBUG)
    url = sis.reader_url.set(port=1)

    with pytest.raises(SqlSourceError) as error:
        load(con, settings(sis, url=url, connect_timeout=3))

    message = str(error.value)
    assert message.startswith("connecting to the SIS database: ")
    assert "could not be reached" in message
    assert f"Check the host and port in ${URL_ENV}" in message
    assert f"{sis.reader}:***@127.0.0.1:1/" in message
    assert sis.password not in message
    assert sis.password not in caplog.text


def test_a_wrong_host_name_says_so(postgres, con):
    url = postgres.reader_url.set(host="sis-replica.invalid")

    with pytest.raises(SqlSourceError, match="host name could not be resolved") as error:
        load(con, settings(postgres, url=url, connect_timeout=3))
    assert postgres.password not in str(error.value)


def test_a_missing_or_malformed_url_variable_is_explained_without_its_value():
    with pytest.raises(SqlSourceError, match=f"{URL_ENV} .* is not set"):
        url_from_env(URL_ENV, {})
    with pytest.raises(SqlSourceError, match="does not hold a SQLAlchemy URL") as error:
        url_from_env(URL_ENV, {URL_ENV: "not a url pw-hunter2"})
    assert "hunter2" not in str(error.value)


def test_a_statement_slower_than_query_timeout_is_reported_as_such(sis, con):
    sleep = "pg_sleep(3) IS NOT NULL" if sis.backend == "postgresql" else "SLEEP(3) = 0"
    slow = {
        **column_map(sis.schema)["entities"]["orgs"],
        "query": "SELECT school_id AS org_id, school_name AS org_name, 'school' AS org_type, "
        f"NULL AS org_number, NULL AS parent_id FROM schools WHERE {sleep}",
    }

    with pytest.raises(SqlSourceError) as error:
        load(con, settings(sis, entities={"orgs": slow}, only=[], query_timeout=1))

    assert "reading orgs (sql: query) took longer than sources.sis.query_timeout (1 s)" in str(
        error.value
    )


def test_a_table_the_role_may_not_read_is_named_with_the_grant_it_needs(sis, con):
    private = "pg_catalog.pg_authid" if sis.backend == "postgresql" else "mysql.user"
    orgs = {
        "table": private,
        "columns": {"sourcedId": "oid", "name": "rolname", "type": {"const": "school"}},
    }

    with pytest.raises(SqlSourceError) as error:
        load(con, settings(sis, entities={"orgs": orgs}, only=[]))

    message = str(error.value)
    assert f"the role in ${URL_ENV} may not read orgs (sql: {private})" in message
    assert "Grant it SELECT on that table or view" in message


def test_the_password_never_reaches_dagster_events_when_the_database_fails(
    sis, tmp_path, monkeypatch
):
    monkeypatch.setenv(URL_ENV, sis.reader_url.set(port=1).render_as_string(hide_password=False))
    config = load_config(write_config(tmp_path, source_config(sis, connect_timeout=3)))
    defs = build_definitions(config)
    sis_asset = defs.resolve_assets_def(dg.AssetKey(["raw", "oneroster_users"]))
    with dg.instance_for_test() as instance:
        result = dg.materialize([sis_asset], instance=instance, raise_on_error=False)
        events = instance.all_logs(result.run_id)

    assert not result.success
    (failure,) = result.get_step_failure_events()
    description = failure.step_failure_data.user_failure_data.description
    assert description.startswith(
        "The SIS database could not be read: connecting to the SIS database: "
    )
    assert f"{sis.reader}:***@" in description
    everything = repr([(e.user_message, e.dagster_event) for e in events])
    assert sis.password not in everything


# --- a connection lost mid-pull ---------------------------------------------------------------


def big_orgs(sis: SisDatabase, rows: int) -> dict:
    """A table of `rows` schools made on the server, and the orgs entity reading it. Its rows
    are wide enough that the server cannot have sent them all before the connection drops."""
    table = sis.table("big_schools")
    with sis.admin().begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        if sis.backend == "postgresql":
            conn.execute(
                sa.text(
                    f"CREATE TABLE {table} AS SELECT 'sch-big-' || lpad(n::text, 7, '0') AS "
                    "school_id, 'School number ' || n || repeat('.', 200) AS school_name "
                    f"FROM generate_series(1, {rows}) AS n"
                )
            )
            conn.execute(sa.text(f"GRANT SELECT ON {table} TO {sis.reader}"))
        else:
            conn.execute(
                sa.text(
                    f"CREATE TABLE {table} AS SELECT CONCAT('sch-big-', LPAD(seq, 7, '0')) AS "
                    "school_id, CONCAT('School number ', seq, REPEAT('.', 200)) AS school_name "
                    f"FROM seq_1_to_{rows}"
                )
            )
    return {
        "table": "big_schools",
        "columns": {
            "sourcedId": "school_id",
            "name": "school_name",
            "type": {"const": "school"},
        },
    }


def drop_the_connection(sis: SisDatabase) -> None:
    """End the reader's session from the server side, as a restart or a network cut would."""
    with sis.admin().connect() as conn:
        if sis.backend == "postgresql":
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :db AND usename = :reader"
                ),
                {"db": sis.database, "reader": sis.reader},
            )
        else:
            ids = conn.execute(
                sa.text(
                    "SELECT id FROM information_schema.processlist "
                    "WHERE user = :reader AND db = :db"
                ),
                {"db": sis.database, "reader": sis.reader},
            ).fetchall()
            for (connection_id,) in ids:
                conn.execute(sa.text(f"KILL {int(connection_id)}"))


def test_a_connection_lost_mid_pull_fails_cleanly_and_a_rerun_completes(sis, con):
    load(con, settings(sis))
    before, tables = raw_snapshot(con), schema_of(con)
    orgs = big_orgs(sis, 50_000)
    # The 50,000 made-up orgs replace the district's own: a removal the orgs share must allow.
    config = settings(
        sis,
        entities={"orgs": orgs},
        only=["users"],
        batch_size=1_000,
        max_deletion_shares={"orgs": 1.0},
    )

    def cut_after_three(entity: str, size: int, so_far: int) -> None:
        if entity.startswith("orgs") and so_far == 3_000:
            drop_the_connection(sis)

    with pytest.raises(SqlSourceError) as error:
        load(con, config, run_id="run-2", on_batch=cut_after_three)

    message = str(error.value)
    assert "the connection to the SIS database was lost while reading orgs" in message
    assert "Nothing was applied and the last snapshot was kept" in message
    assert (raw_snapshot(con), schema_of(con)) == (before, tables)
    assert not con.execute("SELECT * FROM audit.sis_loads WHERE run_id = 'run-2'").fetchall()

    batches: list[int] = []
    rerun = load(con, config, run_id="run-3", on_batch=lambda e, size, _: batches.append(size))

    assert rerun.file("orgs.csv").rows_loaded == 50_000
    assert len(batches) >= 50 and max(batches) <= 1_000
    assert schema_of(con) == tables


# --- incremental pulls ------------------------------------------------------------------------


def test_an_incremental_pull_applies_only_the_rows_changed_since_the_last(sis, con):
    table = sis.table("students_incremental")
    with sis.admin().begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        conn.execute(sa.text(f"CREATE TABLE {table} AS SELECT * FROM {sis.table('students')}"))
        if sis.backend == "postgresql":
            conn.execute(sa.text(f"GRANT SELECT ON {table} TO {sis.reader}"))
    students = {
        "query": "SELECT s.*, CASE WHEN withdrawn THEN 'tobedeleted' ELSE 'active' END AS "
        "record_status FROM students_incremental AS s",
        "columns": {
            "sourcedId": "student_id",
            "status": "record_status",
            "enabledUser": "is_enabled",
            "username": "login",
            "givenName": "first_name",
            "familyName": "last_name",
            "primaryOrgSourcedId": "school_id",
        },
        "modified_column": "last_modified",
    }
    config = settings(sis, only=["orgs"], entities={"users": students}, overlap_minutes=0)
    first = load(con, config)
    assert first.file("users.csv").mode == "bulk"

    with sis.admin().begin() as conn:
        conn.execute(
            sa.text(
                f"UPDATE {table} SET first_name = 'Renamed', last_modified = :now "
                "WHERE student_id IN ('stu-0000001', 'stu-0000002', 'stu-0000003')"
            ),
            {"now": datetime(2026, 3, 1, 12, 0)},
        )
        conn.execute(
            sa.text(
                f"UPDATE {table} SET withdrawn = true, last_modified = :now "
                "WHERE student_id = 'stu-0000004'"
            ),
            {"now": datetime(2026, 3, 1, 12, 30)},
        )
    second = load(con, config, run_id="run-2")

    users = second.file("users.csv")
    assert (users.mode, users.status, users.rows_read, users.rows_loaded) == (
        "delta",
        "loaded",
        4,
        4,
    )
    assert second.file("orgs.csv").mode == "bulk"
    changed = con.execute(
        'SELECT "sourcedId", "givenName", status, _batch_id FROM raw.oneroster_users '
        "WHERE _batch_id = $b ORDER BY 1",
        {"b": second.batch_id},
    ).fetchall()
    assert [(r[0], r[2]) for r in changed] == [
        ("stu-0000001", "active"),
        ("stu-0000002", "active"),
        ("stu-0000003", "active"),
        ("stu-0000004", "tobedeleted"),
    ]
    assert {r[1] for r in changed[:3]} == {"Renamed"}
    assert con.execute("SELECT count(*) FROM raw.oneroster_users").fetchall() == [(300,)]
    assert con.execute(
        "SELECT watermark FROM audit.sis_sql_watermarks WHERE entity = 'users'"
    ).fetchall() == [("2026-03-01T12:30:00",)]

    third = load(con, config, run_id="run-3")
    assert (third.file("users.csv").mode, third.file("users.csv").rows_read) == ("delta", 0)
    with sis.admin().begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {table}"))


def test_a_pull_that_would_remove_too_many_learners_is_held_like_an_export(sis, con):
    load(con, settings(sis))
    before = raw_snapshot(con)
    marks = con.execute("SELECT * FROM audit.sis_sql_watermarks").fetchall()
    users = dict(column_map(sis.schema)["entities"]["users"])
    # A query changed in pathways.yaml is a new definition: pulled in full, not as a delta.
    users["query"] = f"SELECT * FROM ({users['query']}) AS u WHERE u.person_id NOT LIKE :gone"
    users["params"] = {"gone": "stu-00001%"}

    result = load(con, settings(sis, entities={"users": users}), run_id="run-2")

    assert result.held and result.file("users.csv").mode == "bulk"
    assert "would remove 33% of active learners (100 of 300)" in result.message
    assert raw_snapshot(con) == before
    assert con.execute("SELECT * FROM audit.sis_sql_watermarks").fetchall() == marks
    assert con.execute(
        "SELECT DISTINCT status FROM audit.sis_loads WHERE run_id = 'run-2' AND mode = 'bulk'"
    ).fetchall() == [("held",)]


def test_an_approval_naming_the_held_pull_applies_its_deletions_once(sis, con):
    load(con, settings(sis))
    users = dict(column_map(sis.schema)["entities"]["users"])
    users["query"] = f"SELECT * FROM ({users['query']}) AS u WHERE u.person_id NOT LIKE :gone"
    users["params"] = {"gone": "stu-00001%"}
    spike = settings(sis, entities={"users": users})
    held = load(con, spike, run_id="run-2")

    approved = load(
        con,
        replace(spike, approve_deletions_for_batch=held.batch_id, approved_by="data office"),
        run_id="run-3",
    )

    assert held.held and approved.approved and not approved.held
    assert con.execute(
        "SELECT count(*) FROM raw.oneroster_users WHERE \"sourcedId\" LIKE 'stu-00001%'"
    ).fetchall() == [(0,)]
    assert con.execute(
        "SELECT approved_by FROM audit.sis_deletion_checks "
        "WHERE run_id = 'run-3' AND entity = 'learners'"
    ).fetchall() == [("data office",)]


# --- rejected rows ----------------------------------------------------------------------------


def test_rejected_rows_from_sql_carry_the_entity_the_ordinal_the_sourced_id_and_a_reason(sis, con):
    enrollments = dict(column_map(sis.schema)["entities"]["enrollments"])
    enrollments.pop("table")
    enrollments["query"] = (
        "SELECT * FROM section_enrollments "
        "UNION ALL SELECT 'enr-zz-bad-1', 'cls-retired', 'sch-0001', 'stu-0000001', 'student', "
        "NULL, NULL, NULL "
        "UNION ALL SELECT 'enr-zz-bad-2', 'cls-0001-kg-hr-01', 'sch-0001', 'stu-0000001', "
        "'Student', NULL, NULL, NULL"
    )

    result = load(con, settings(sis, entities={"enrollments": enrollments}))

    assert result.file("enrollments.csv").rows_rejected == 2
    rejected = con.execute(
        "SELECT file, line, sourced_id, column_name, value, reason FROM audit.rejected_rows "
        "ORDER BY line"
    ).fetchall()
    sections = f"{sis.schema}.sections" if sis.schema else "sections"
    assert rejected == [
        (
            "enrollments (sql: query)",
            1879,
            "enr-zz-bad-1",
            "classSourcedId",
            "cls-retired",
            f"classSourcedId 'cls-retired' is not in classes (sql: {sections}) (or the "
            "warehouse); load the class or fix the reference",
        ),
        (
            "enrollments (sql: query)",
            1880,
            "enr-zz-bad-2",
            "role",
            "S***",  # the binding marks role as personal, so only its first letter is shown
            "'S***' is not a OneRoster 1.2 enrollmentRole value (administrator, proctor, "
            "student, teacher, or ext:…)",
        ),
    ]


# --- the Dagster definitions ------------------------------------------------------------------


def test_a_sql_district_has_the_same_raw_assets_and_no_drop_sensor(sis, district, tmp_path):
    csv = build_definitions(load_config(district.config_path))
    sql = build_definitions(load_config(write_config(tmp_path, source_config(sis))))

    assert set(sql.resolve_all_asset_keys()) == set(csv.resolve_all_asset_keys())
    assert SIS_DROP_SENSOR not in {sensor.name for sensor in sql.sensors or []}
    assert sql.resolve_assets_def(dg.AssetKey(["raw", "oneroster_users"])).node_def.name == (
        SIS_SQL_ASSET_NAME
    )
