"""The OneRoster 1.2 REST connector, as a specification: what lands in raw and in the staging views
after a full pull, a delta, an expired token, a crash and a bad network, over real HTTP on
loopback against the sample LMS (and pytest-httpserver where a test needs exact answers)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot
from pytest_httpserver import HTTPServer
from sqlglot import exp
from werkzeug import Request, Response

from connectors.http import (
    AuthenticationError,
    BadResponseError,
    HttpSettings,
    NotFoundError,
    PermissionDeniedError,
    RequestStats,
    StreamPage,
    TransportError,
)
from connectors.oneroster_rest import (
    DEFAULT_SCOPES,
    ONEROSTER_REST_COLLECTIONS,
    ONEROSTER_REST_TABLES,
    OneRosterRestPull,
    OneRosterRestSettings,
    oneroster_rest_client,
    oneroster_rest_pages,
    oneroster_time,
)
from models.config import ConfigError, OneRosterRestSource
from pipelines.api_sync import ApiSync, ensure_api_raw_table
from pipelines.sql_models import MATERIALIZATION, SqlModel, discover_sql_models
from sample_district.generate import GeneratedDistrict, generate_district
from sample_district.lms_server import Faults, SampleLms

CLIENT_ID = "pathways-oneroster-client"
CLIENT_SECRET = "or-s3cret-9f2c41d7-never-shown"
ENV = {"ONEROSTER_CLIENT_ID": CLIENT_ID, "ONEROSTER_CLIENT_SECRET": CLIENT_SECRET}
LEARNERS = 300
# Retries stay real (urllib3 sleeps for them) but tiny, so the file runs in seconds.
FAST = HttpSettings(
    connect_timeout=2.0,
    read_timeout=2.0,
    max_retries=5,
    backoff_factor=0.01,
    backoff_jitter=0.0,
    backoff_max=0.05,
)
# raw table → the export's CSV file for the same entity (scoreScales: see the first test).
CSV_FILES = {
    "oneroster_rest_orgs": "orgs.csv",
    "oneroster_rest_academic_sessions": "academicSessions.csv",
    "oneroster_rest_courses": "courses.csv",
    "oneroster_rest_classes": "classes.csv",
    "oneroster_rest_users": "users.csv",
    "oneroster_rest_enrollments": "enrollments.csv",
    "oneroster_rest_demographics": "demographics.csv",
    "oneroster_rest_line_items": "lineItems.csv",
    "oneroster_rest_results": "results.csv",
    "oneroster_rest_categories": "categories.csv",
}
REST_MODELS = [m for m in discover_sql_models() if m.table.startswith("stg_oneroster_rest__")]


# ---------------------------------------------------------------------------------------------
# The sample LMS, a warehouse, and a pull as the API asset does it


class RecordingLms(SampleLms):
    """The sample LMS, noting on the server side what every OneRoster request asked for and the
    access tokens it was sent (to look for them where they must never be)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asked: list[tuple[str, dict[str, str]]] = []  # (collection, query)
        self.bearers: set[str] = set()

    def _route(self, request):
        if request.path.startswith("/ims/oneroster/"):
            self.asked.append((request.path.rsplit("/", 1)[-1], dict(request.query)))
            scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() == "bearer" and token:
                self.bearers.add(token.strip())
        return super()._route(request)

    def forget(self) -> None:
        self.asked.clear()


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDistrict:
    return generate_district(LEARNERS, tmp_path_factory.mktemp("district"), seed=7)


def start_lms(district: GeneratedDistrict, **options: Any) -> RecordingLms:
    server = RecordingLms(
        district.out,
        canvas_token="canvas-token-unused",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        **options,
    )
    return server.start()


@pytest.fixture
def lms(district: GeneratedDistrict) -> Iterator[RecordingLms]:
    """A server of the test's own, free to mutate or to fail."""
    server = start_lms(district)
    yield server
    server.stop()


def settings_for(lms: SampleLms, **changes: Any) -> OneRosterRestSettings:
    """Settings as pathways.yaml and the environment give them, with fast retries."""
    source = OneRosterRestSource(
        kind="oneroster_rest",
        base_url=lms.oneroster_url,
        token_url=lms.token_url,
        client_id_env="ONEROSTER_CLIENT_ID",
        client_secret_env="ONEROSTER_CLIENT_SECRET",
    )
    return replace(OneRosterRestSettings.from_config(source, ENV), **{"http": FAST, **changes})


def warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    for table in ONEROSTER_REST_TABLES:
        ensure_api_raw_table(con, table)
    return con


class Crash(Exception):
    """The process dies between two pages."""


@dataclass
class Pull:
    sync: ApiSync
    pages: OneRosterRestPull
    stats: RequestStats


def pull(
    con: duckdb.DuckDBPyConnection,
    settings: OneRosterRestSettings,
    run_id: str = "run-1",
    *,
    crash_after: tuple[str, int] | None = None,
    now: datetime | None = None,
) -> Pull:
    """One sync the way the API asset runs it: commit page by page, finish at the end. With
    `crash_after=(stream, n)`, die right after the n-th committed page of that stream."""
    sync = ApiSync.begin(con, settings.name, run_id, now)
    stats = RequestStats()
    committed: dict[str, int] = {}
    with oneroster_rest_client(settings, stats) as client:
        pages = oneroster_rest_pages(client, settings, sync)
        for page in pages:
            sync.commit(page)
            committed[page.stream] = committed.get(page.stream, 0) + 1
            if crash_after is not None and committed.get(crash_after[0]) == crash_after[1]:
                raise Crash(page.cursor)
    sync.finish()
    return Pull(sync, pages, stats)


def raw_state(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """raw table → {key: content hash}: what a pull left, to compare two pulls."""
    return {
        table: dict(con.execute(f"SELECT _key, _content_hash FROM raw.{table}").fetchall())
        for table in ONEROSTER_REST_TABLES
    }


def build_staging(con: duckdb.DuckDBPyConnection) -> None:
    """The REST staging models, upstream first, created as the asset factory creates them."""
    by_name = {("staging", m.table): m for m in REST_MODELS}
    graph = {name: {u for u in m.upstream if u in by_name} for name, m in by_name.items()}
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    for name in TopologicalSorter(graph).static_order():
        model = by_name[name]
        kind = MATERIALIZATION[model.layer]
        con.execute(f"CREATE OR REPLACE {kind} staging.{model.table} AS\n{model.sql}")


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def csv_rows(con: duckdb.DuckDBPyConnection, path: Path, columns: str) -> set[tuple]:
    return set(
        rows(
            con,
            f"SELECT {columns} FROM read_csv(?, header = true, all_varchar = true)",
            [str(path)],
        )
    )


def column_types(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    return dict(
        rows(
            con,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'staging' AND table_name = ?",
            [view],
        )
    )


# ---------------------------------------------------------------------------------------------
# A full pull


@dataclass
class FullPull:
    con: duckdb.DuckDBPyConnection
    lms: RecordingLms
    result: Pull
    district: GeneratedDistrict


@pytest.fixture(scope="module")
def full(
    district: GeneratedDistrict, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FullPull]:
    """One full pull of the sample district into a warehouse, with the staging views on it."""
    server = start_lms(district)
    con = warehouse(tmp_path_factory.mktemp("full") / "warehouse.duckdb")
    result = pull(con, settings_for(server, page_size=100))
    build_staging(con)
    yield FullPull(con, server, result, district)
    con.close()
    server.stop()


def test_a_full_pull_lands_every_collection_with_the_records_of_the_csv_export(full: FullPull):
    for table, file in CSV_FILES.items():
        exported = csv_rows(full.con, full.district.oneroster_path / file, '"sourcedId"')
        pulled = set(rows(full.con, f"SELECT _key FROM raw.{table}"))
        assert pulled == exported, table
        assert len(pulled) == len(exported) > 0, table
    # The export has no scoreScales.csv; the sample LMS serves the one scale its 1-4 mastery
    # scores are given on.
    assert rows(full.con, "SELECT _key FROM raw.oneroster_rest_score_scales") == [
        ("scale-mastery-1-4",)
    ]
    assert full.result.pages.warnings == []


def test_every_stream_completes_with_a_last_page_without_cursor(full: FullPull):
    checkpoints = rows(
        full.con, "SELECT stream, scope, state, cursor FROM audit.api_checkpoints ORDER BY 1"
    )
    assert checkpoints == sorted((c.stream, "", "done", None) for c in ONEROSTER_REST_COLLECTIONS)


def test_listings_are_sorted_by_sourced_id_and_paged_by_limit_and_offset(full: FullPull):
    asked: dict[str, list[dict[str, str]]] = {}
    for collection, query in full.lms.asked:
        asked.setdefault(collection, []).append(query)
    assert set(asked) == {c.name for c in ONEROSTER_REST_COLLECTIONS}
    for collection, queries in asked.items():
        offsets = [q["offset"] for q in queries]
        assert offsets == [str(100 * n) for n in range(len(queries))], collection
        assert all(q["limit"] == "100" and q["sort"] == "sourcedId" for q in queries)
        assert not any("filter" in q for q in queries), "a first pull is a full pull"
    # 1878 enrollments: 18 full pages and a short one; 300 demographics: 3 full pages and an
    # empty one, which is what says the collection ended.
    assert len(asked["enrollments"]) == 19 and len(asked["demographics"]) == 4


def test_results_carry_their_learning_objective_scores(full: FullPull):
    export = full.district.oneroster_path
    expected = {
        (result, objective, float(score))
        for result, objective, score in csv_rows(
            full.con,
            export / "resultLearningObjectiveIds.csv",
            '"resultSourcedId", "learningObjectiveId", "score"',
        )
    }
    staged = rows(
        full.con,
        "SELECT result_sourced_id, learning_objective_id, score "
        "FROM staging.stg_oneroster_rest__result_learning_objectives",
    )
    assert set(staged) == expected and len(staged) == len(expected)
    assert {
        s
        for (s,) in rows(
            full.con,
            "SELECT DISTINCT source FROM staging.stg_oneroster_rest__result_learning_objectives",
        )
    } == {"case"}
    aligned = csv_rows(
        full.con,
        export / "lineItemLearningObjectiveIds.csv",
        '"lineItemSourcedId", "source", "learningObjectiveId"',
    )
    staged_alignments = rows(
        full.con,
        "SELECT line_item_sourced_id, source, learning_objective_id "
        "FROM staging.stg_oneroster_rest__line_item_learning_objectives",
    )
    assert set(staged_alignments) == aligned and len(staged_alignments) == len(aligned)


def test_users_roles_come_out_one_row_per_role(full: FullPull):
    export = full.district.oneroster_path / "roles.csv"
    expected = csv_rows(full.con, export, '"userSourcedId", "roleType", "role", "orgSourcedId"')
    staged = rows(
        full.con,
        "SELECT user_sourced_id, role_type, role, org_sourced_id "
        "FROM staging.stg_oneroster_rest__roles",
    )
    assert set(staged) == expected and len(staged) == len(expected)


def test_staging_views_return_typed_rows(full: FullPull):
    expected_types = {
        "stg_oneroster_rest__academic_sessions": {
            "date_last_modified": "TIMESTAMP WITH TIME ZONE",
            "start_date": "DATE",
            "school_year": "INTEGER",
        },
        "stg_oneroster_rest__classes": {"term_sourced_ids": "VARCHAR[]", "grades": "VARCHAR[]"},
        "stg_oneroster_rest__users": {"enabled_user": "BOOLEAN", "agent_sourced_ids": "VARCHAR[]"},
        "stg_oneroster_rest__enrollments": {"is_primary": "BOOLEAN", "begin_date": "DATE"},
        "stg_oneroster_rest__demographics": {"birth_date": "DATE", "white": "BOOLEAN"},
        "stg_oneroster_rest__line_items": {"due_date": "DATE", "result_value_max": "DOUBLE"},
        "stg_oneroster_rest__results": {"score": "DOUBLE", "score_date": "DATE"},
        "stg_oneroster_rest__categories": {"weight": "DOUBLE"},
        "stg_oneroster_rest__score_scales": {"score_scale_value": "VARCHAR[]"},
    }
    for view, types in expected_types.items():
        actual = column_types(full.con, view)
        assert {c: actual[c] for c in types} == types, view
    views = {name for (name,) in rows(full.con, "SELECT view_name FROM duckdb_views()")}
    assert views >= {m.table for m in REST_MODELS}

    # Values, not just types: a class's terms, a session's year, a demographics flag.
    ((terms, school_year, flags),) = rows(
        full.con,
        """
        SELECT
            (SELECT term_sourced_ids FROM staging.stg_oneroster_rest__classes
             WHERE sourced_id = 'cls-0001-kg-hr-01'),
            (SELECT school_year FROM staging.stg_oneroster_rest__academic_sessions
             WHERE sourced_id = 'ay-2027'),
            (SELECT count(*) FROM staging.stg_oneroster_rest__demographics
             WHERE is_economically_disadvantaged IS NOT NULL)
        """,
    )
    assert (terms, school_year, flags) == (["ay-2027"], 2027, LEARNERS)
    ((due, score_date),) = rows(
        full.con,
        "SELECT (SELECT due_date FROM staging.stg_oneroster_rest__line_items "
        "        WHERE sourced_id = 'cls-0001-kg-hr-01-li1'), "
        "       (SELECT score_date FROM staging.stg_oneroster_rest__results "
        "        WHERE sourced_id = 'res-0000001-1-1')",
    )
    assert (due.isoformat(), score_date.isoformat()) == ("2026-09-28", "2026-10-02")


def test_staging_views_build_on_empty_raw_tables_with_every_column_documented(tmp_path: Path):
    con = warehouse(tmp_path / "empty.duckdb")
    build_staging(con)
    for model in REST_MODELS:
        assert rows(con, f"SELECT count(*) FROM staging.{model.table}") == [(0,)]
        assert set(column_types(con, model.table)) == set(model.column_docs), model.table
    con.close()


def test_a_value_of_the_wrong_shape_is_null_in_staging_and_kept_in_raw(tmp_path: Path):
    con = warehouse(tmp_path / "w.duckdb")
    odd = {
        "sourcedId": "u1",
        "status": "active",
        "dateLastModified": "last Tuesday",
        "enabledUser": "maybe",
        "userIds": {"type": "LDAP", "identifier": "u1"},  # an object, not a list
        "roles": "teacher",  # a string, not a list of roles
    }
    sync = ApiSync.begin(con, "oneroster_rest", "run-1")
    sync.commit(StreamPage("oneroster_rest.users", "", "oneroster_rest_users", [("u1", odd)], None))
    build_staging(con)
    assert rows(
        con,
        "SELECT sourced_id, date_last_modified, enabled_user, user_ids "
        "FROM staging.stg_oneroster_rest__users",
    ) == [("u1", None, None, [])]
    assert rows(con, "SELECT count(*) FROM staging.stg_oneroster_rest__roles") == [(0,)]
    assert json.loads(rows(con, "SELECT _record FROM raw.oneroster_rest_users")[0][0]) == odd
    con.close()


# The REST models keep the CSV staging's names; these are the only differences, and why.
CSV_ONLY = {
    "_file",  # a REST record has no file and line
    "_line",
    "org_sourced_ids",  # 1.1 only
    "role_1p1",  # 1.1 only
}
# Nested items (a user's roles, a result's objective scores) have no sourcedId or metadata of
# their own in REST.
NESTED_CSV_ONLY = {"sourced_id", "metadata"}
REST_ONLY = {"score_scale_sourced_id"}  # REST refers to the scale; CSV has a link file for it
CSV_MODEL = {
    "stg_oneroster_rest__line_item_learning_objectives": (
        "stg_oneroster__line_item_learning_objective_ids"
    ),
    "stg_oneroster_rest__result_learning_objectives": (
        "stg_oneroster__result_learning_objective_ids"
    ),
}


def named_selects(model: SqlModel) -> list[str]:
    statement = sqlglot.parse_one(model.sql, dialect="duckdb")
    assert isinstance(statement, exp.Select)
    return statement.named_selects


@pytest.mark.parametrize("model", REST_MODELS, ids=lambda m: m.table)
def test_staging_columns_are_named_as_in_the_csv_staging(model: SqlModel):
    csv_name = CSV_MODEL.get(model.table, model.table.replace("oneroster_rest__", "oneroster__"))
    (csv_model,) = [m for m in discover_sql_models() if m.table == csv_name]
    rest, csv = set(named_selects(model)), set(named_selects(csv_model))
    assert rest - csv <= REST_ONLY, model.table
    assert csv - rest <= CSV_ONLY | NESTED_CSV_ONLY, model.table
    if (csv - rest) & NESTED_CSV_ONLY:
        assert model.table in CSV_MODEL or model.table.endswith("__roles")


# ---------------------------------------------------------------------------------------------
# OAuth 2


def test_an_access_token_that_expires_mid_pull_is_renewed_and_the_pull_completes(
    district: GeneratedDistrict, tmp_path: Path
):
    # Tokens live 0.3 s on the server, while the server tells the client 1 s: the client keeps
    # using a token the server no longer honours and must recover from the 401.
    server = start_lms(district, token_ttl=0.3)
    try:
        con = warehouse(tmp_path / "w.duckdb")
        result = pull(con, settings_for(server, page_size=50))
        counts = {t: len(keys) for t, keys in raw_state(con).items()}
        assert server.stats.unauthorized >= 1
        assert len(server.bearers) >= 2
    finally:
        server.stop()
    assert counts["oneroster_rest_users"] == 711 and counts["oneroster_rest_results"] == 1152
    assert result.stats.retries >= 1
    assert rows(con, "SELECT count(*) FROM audit.api_checkpoints WHERE state = 'done'") == [
        (len(ONEROSTER_REST_COLLECTIONS),)
    ]
    con.close()


def test_a_wrong_client_secret_fails_naming_the_variable_not_the_secret(
    lms: RecordingLms, tmp_path: Path
):
    wrong = "wrong-s3cret-4b1e"
    settings = settings_for(lms, client_secret=wrong)
    con = warehouse(tmp_path / "w.duckdb")
    with pytest.raises(AuthenticationError) as caught:
        pull(con, settings)
    message = str(caught.value)
    assert "$ONEROSTER_CLIENT_ID / $ONEROSTER_CLIENT_SECRET" in message
    assert wrong not in message and CLIENT_SECRET not in message
    assert wrong not in repr(settings) and wrong not in repr(oneroster_rest_client(settings))
    assert rows(con, "SELECT count(*) FROM raw.oneroster_rest_orgs") == [(0,)]
    con.close()


@pytest.mark.parametrize("missing", ["ONEROSTER_CLIENT_ID", "ONEROSTER_CLIENT_SECRET"])
def test_a_missing_credential_variable_is_named_and_no_value_shown(missing: str):
    source = OneRosterRestSource(
        kind="oneroster_rest",
        base_url="https://sis.example.edu/ims/oneroster",
        token_url="https://sis.example.edu/oauth/token",
        client_id_env="ONEROSTER_CLIENT_ID",
        client_secret_env="ONEROSTER_CLIENT_SECRET",
    )
    environ = {name: value for name, value in ENV.items() if name != missing}
    with pytest.raises(ConfigError, match=missing) as caught:
        OneRosterRestSettings.from_config(source, environ)
    assert CLIENT_ID not in str(caught.value) and CLIENT_SECRET not in str(caught.value)


def test_settings_from_config_read_the_environment_and_the_options():
    source = OneRosterRestSource.model_validate(
        {
            "kind": "oneroster_rest",
            "name": "district_sis",
            "base_url": "https://sis.example.edu/ims/oneroster",
            "token_url": "https://sis.example.edu/oauth/token",
            "client_id_env": "ONEROSTER_CLIENT_ID",
            "client_secret_env": "ONEROSTER_CLIENT_SECRET",
            "page_size": 500,
            "overlap_minutes": 15,
            "http": {"read_timeout": 90, "max_retries": 2},
        }
    )
    settings = OneRosterRestSettings.from_config(source, ENV)
    assert (settings.name, settings.client_id, settings.client_secret) == (
        "district_sis",
        CLIENT_ID,
        CLIENT_SECRET,
    )
    assert (settings.page_size, settings.overlap) == (500, timedelta(minutes=15))
    assert (settings.http.read_timeout, settings.http.max_retries) == (90, 2)
    assert settings.secret_from == "$ONEROSTER_CLIENT_ID / $ONEROSTER_CLIENT_SECRET"
    assert CLIENT_SECRET not in repr(settings)


# ---------------------------------------------------------------------------------------------
# Deltas


@dataclass
class Delta:
    con: duckdb.DuckDBPyConnection
    lms: RecordingLms
    first: Pull
    second: Pull
    regraded: int
    dropped: list[str]
    second_asked: list[tuple[str, dict[str, str]]]


@pytest.fixture(scope="module")
def delta(district: GeneratedDistrict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Delta]:
    """A full pull, then 5% of results regraded and 2% of enrollments dropped, then a delta."""
    # The district's data is as of two days ago, so nothing but the changes falls in the window.
    server = start_lms(district, as_of=datetime.now(UTC) - timedelta(days=2))
    con = warehouse(tmp_path_factory.mktemp("delta") / "warehouse.duckdb")
    settings = settings_for(server)
    first = pull(con, settings, "run-1")
    before = {
        k
        for (k,) in server.data.rows(
            "SELECT sourcedId FROM or_enrollments WHERE status = 'tobedeleted'"
        )
    }
    regraded = server.regrade(0.05)
    server.drop_enrollments(0.02)
    dropped = sorted(
        k
        for (k,) in server.data.rows(
            "SELECT sourcedId FROM or_enrollments WHERE status = 'tobedeleted'"
        )
        if k not in before
    )
    server.forget()
    second = pull(con, settings, "run-2")
    build_staging(con)
    yield Delta(con, server, first, second, regraded, dropped, list(server.asked))
    con.close()
    server.stop()


def test_a_second_sync_asks_only_for_what_changed_since_the_first_less_the_overlap(delta: Delta):
    since = oneroster_time(delta.first.sync.started_at - timedelta(minutes=60))
    assert delta.second_asked, "the second sync asked nothing"
    for collection, query in delta.second_asked:
        assert query.get("filter") == f"dateLastModified>'{since}'", collection
        assert query["sort"] == "sourcedId"
    assert {c for c, _ in delta.second_asked} == {c.name for c in ONEROSTER_REST_COLLECTIONS}


def test_a_delta_updates_only_the_changed_records(delta: Delta):
    totals = delta.second.sync.totals.as_dict()
    assert delta.regraded > 0 and delta.dropped
    assert totals["oneroster_rest_results"]["updated"] == delta.regraded
    assert totals["oneroster_rest_enrollments"]["updated"] == len(delta.dropped)
    assert sum(t["inserted"] for t in totals.values()) == 0
    unchanged_tables = set(ONEROSTER_REST_TABLES) - {
        "oneroster_rest_results",
        "oneroster_rest_enrollments",
    }
    assert all(totals[t]["updated"] == 0 for t in unchanged_tables)
    # What changed is what was asked for: the delta does not re-send the district.
    assert totals["oneroster_rest_results"]["unchanged"] < delta.regraded


def test_dropped_enrollments_are_kept_as_tobedeleted_in_raw_and_leave_the_live_rows(
    delta: Delta,
):
    tombstoned = rows(
        delta.con,
        "SELECT _key FROM raw.oneroster_rest_enrollments "
        "WHERE _record ->> '$.status' = 'tobedeleted' ORDER BY 1",
    )
    assert [k for (k,) in tombstoned] == delta.dropped
    live = {
        k
        for (k,) in rows(
            delta.con, "SELECT sourced_id FROM staging.stg_oneroster_rest__enrollments"
        )
    }
    assert not live & set(delta.dropped)
    assert len(live) == 1878 - len(delta.dropped)


def test_regraded_results_show_their_new_objective_scores(delta: Delta):
    served = {
        (r, o, s)
        for r, objectives in delta.lms.data.rows("SELECT sourcedId, objectives FROM or_results")
        for o, s in ((x["learningObjectiveId"], x["score"]) for x in objectives)
    }
    staged = set(
        rows(
            delta.con,
            "SELECT result_sourced_id, learning_objective_id, score "
            "FROM staging.stg_oneroster_rest__result_learning_objectives",
        )
    )
    assert staged == served


def test_a_watermark_in_the_future_is_bounded_by_now(tmp_path: Path, oneroster: FakeOneRoster):
    con = warehouse(tmp_path / "w.duckdb")
    settings = oneroster.settings(overlap=timedelta(minutes=30))
    # The first night ran on a clock a day fast.
    pull(con, settings, "run-1", now=datetime(2026, 3, 3, 2, 0, tzinfo=UTC))
    sync = ApiSync.begin(con, settings.name, "run-2", datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    with oneroster_rest_client(settings) as client:
        pages = oneroster_rest_pages(
            client, settings, sync, now=datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
        )
        assert pages.delta_filter(ONEROSTER_REST_COLLECTIONS[0]) == (
            "dateLastModified>'2026-03-02T01:30:00.000Z'"
        )
    con.close()


# ---------------------------------------------------------------------------------------------
# Resuming


def test_a_pull_killed_mid_stream_resumes_at_its_offset_without_duplicate_or_gap(
    lms: RecordingLms, tmp_path: Path
):
    settings = settings_for(lms, page_size=100)
    con = warehouse(tmp_path / "killed.duckdb")
    with pytest.raises(Crash):
        pull(con, settings, "run-1", crash_after=("oneroster_rest.users", 3))
    con.close()  # the process is gone
    lms.forget()

    con = warehouse(tmp_path / "killed.duckdb")
    resumed = pull(con, settings, "run-2")
    assert resumed.sync.resumed
    first_collection, first_query = lms.asked[0]
    assert (first_collection, first_query["offset"]) == ("users", "300")
    assert not {"orgs", "academicSessions", "courses", "classes"} & {c for c, _ in lms.asked}

    clean = warehouse(tmp_path / "clean.duckdb")
    pull(clean, settings, "run-clean")
    assert raw_state(con) == raw_state(clean)
    con.close()
    clean.close()


def test_a_resumed_delta_asks_with_the_filter_it_started_with(lms: RecordingLms, tmp_path: Path):
    settings = settings_for(lms, page_size=100)
    con = warehouse(tmp_path / "w.duckdb")
    first = pull(con, settings, "run-1")
    lms.regrade(0.3)
    lms.forget()
    with pytest.raises(Crash):
        pull(con, settings, "run-2", crash_after=("oneroster_rest.results", 2))
    before_crash = [q for c, q in lms.asked if c == "results"]
    lms.forget()
    pull(con, settings, "run-3")
    after_crash = [q for c, q in lms.asked if c == "results"]

    since = oneroster_time(first.sync.started_at - settings.overlap)
    assert {q["filter"] for q in before_crash + after_crash} == {f"dateLastModified>'{since}'"}
    assert [q["offset"] for q in before_crash] == ["0", "100"]
    assert after_crash[0]["offset"] == "200" and len(after_crash) >= 2

    clean = warehouse(tmp_path / "clean.duckdb")
    pull(clean, settings, "run-clean")
    assert raw_state(con) == raw_state(clean)
    con.close()
    clean.close()


# ---------------------------------------------------------------------------------------------
# A bad network


def test_500s_timeouts_and_cut_bodies_are_retried_and_the_pull_equals_a_clean_one(
    lms: RecordingLms, tmp_path: Path
):
    settings = settings_for(lms, http=replace(FAST, read_timeout=0.25))
    lms.set_faults(
        Faults(error_rate=0.1, timeout_rate=0.1, truncate_rate=0.1, slow_seconds=0.5, seed=5)
    )
    faulty = warehouse(tmp_path / "faulty.duckdb")
    result = pull(faulty, settings, "run-1")
    injected = lms.stats
    assert injected.errors and injected.timeouts and injected.truncated
    assert result.stats.server_errors and result.stats.timeouts and result.stats.bad_json

    lms.set_faults(Faults())
    clean = warehouse(tmp_path / "clean.duckdb")
    pull(clean, settings, "run-clean")
    assert raw_state(faulty) == raw_state(clean)
    assert sum(len(keys) for keys in raw_state(clean).values()) > 4000
    faulty.close()
    clean.close()


# ---------------------------------------------------------------------------------------------
# Optional collections, refusals, exact paging: a OneRoster service under the test's control


class FakeOneRoster:
    """A OneRoster 1.2 service on pytest-httpserver: each collection serves its `records`
    sorted by sourcedId, paged by limit/offset, or answers the status in `refuse`."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.records: dict[str, list[dict]] = {c.name: [] for c in ONEROSTER_REST_COLLECTIONS}
        self.refuse: dict[str, int] = {}
        self.total_count: dict[str, int] = {}  # X-Total-Count to send (lying, if need be)
        self.asked: list[tuple[str, dict[str, str]]] = []
        server.expect_request("/oauth/token", method="POST").respond_with_json(
            {"access_token": "fake-access-token-1f0a", "token_type": "bearer", "expires_in": 3600}
        )
        for collection in ONEROSTER_REST_COLLECTIONS:
            server.expect_request(
                f"/ims/oneroster/{collection.path}", method="GET"
            ).respond_with_handler(self._handler(collection.name))

    def _handler(self, name: str) -> Callable[[Request], Response]:
        def handle(request: Request) -> Response:
            query = dict(request.args)
            self.asked.append((name, query))
            if name in self.refuse:
                return Response(json.dumps({"imsx_codeMajor": "failure"}), self.refuse[name])
            limit, offset = int(query.get("limit", 100)), int(query.get("offset", 0))
            records = sorted(self.records[name], key=lambda r: str(r.get("sourcedId")))
            page = records[offset : offset + limit]
            total = self.total_count.get(name, len(records))
            return Response(
                json.dumps({name: page}),
                200,
                {"Content-Type": "application/json", "X-Total-Count": str(total)},
            )

        return handle

    def settings(self, **changes: Any) -> OneRosterRestSettings:
        return OneRosterRestSettings(
            name="oneroster_rest",
            base_url=self.server.url_for("/ims/oneroster"),
            token_url=self.server.url_for("/oauth/token"),
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            secret_from="$ONEROSTER_CLIENT_ID / $ONEROSTER_CLIENT_SECRET",
            http=FAST,
            **changes,
        )


@pytest.fixture
def oneroster(httpserver: HTTPServer) -> Iterator[FakeOneRoster]:
    fake = FakeOneRoster(httpserver)
    fake.records["orgs"] = [{"sourcedId": "district", "status": "active", "type": "district"}]
    yield fake
    httpserver.check_handler_errors()


def test_a_short_page_ends_a_listing_whatever_the_total_count_says(
    oneroster: FakeOneRoster, tmp_path: Path
):
    oneroster.records["users"] = [{"sourcedId": f"u{n}", "status": "active"} for n in range(5)]
    oneroster.total_count["users"] = 99
    oneroster.records["results"] = [{"sourcedId": f"r{n}", "status": "active"} for n in range(4)]
    con = warehouse(tmp_path / "w.duckdb")
    sync = ApiSync.begin(con, "oneroster_rest", "run-1")
    settings = oneroster.settings(page_size=2)
    with oneroster_rest_client(settings) as client:
        pages = list(oneroster_rest_pages(client, settings, sync))
    by_stream: dict[str, list[tuple[list[str], str | None]]] = {}
    for page in pages:
        by_stream.setdefault(page.stream, []).append(([k for k, _ in page.records], page.cursor))
    assert by_stream["oneroster_rest.users"] == [
        (["u0", "u1"], "2"),
        (["u2", "u3"], "4"),
        (["u4"], None),
    ]
    # A full last page is followed by an empty one, which carries the end.
    assert by_stream["oneroster_rest.results"] == [
        (["r0", "r1"], "2"),
        (["r2", "r3"], "4"),
        ([], None),
    ]
    assert by_stream["oneroster_rest.courses"] == [([], None)]
    assert all(page.scope == "" for page in pages)
    assert {page.table for page in pages} == set(ONEROSTER_REST_TABLES)
    con.close()


def test_a_delta_filter_is_the_watermark_less_the_overlap_in_utc_with_milliseconds(
    oneroster: FakeOneRoster, tmp_path: Path
):
    con = warehouse(tmp_path / "w.duckdb")
    settings = oneroster.settings(overlap=timedelta(minutes=60))
    pull(
        con,
        settings,
        "run-1",
        now=datetime(2026, 3, 1, 20, 0, tzinfo=timezone(-timedelta(hours=6))),
    )
    oneroster.asked.clear()
    pull(con, settings, "run-2")
    filters = {query.get("filter") for _, query in oneroster.asked}
    # 20:00 at UTC-6 is 02:00 UTC the next day; less an hour.
    assert filters == {"dateLastModified>'2026-03-02T01:00:00.000Z'"}
    con.close()


def test_a_refused_or_missing_optional_collection_is_a_warning_and_asked_again_next_time(
    oneroster: FakeOneRoster, tmp_path: Path
):
    oneroster.refuse = {"demographics": 403, "categories": 404}
    oneroster.records["scoreScales"] = [{"sourcedId": "scale-1", "status": "active"}]
    con = warehouse(tmp_path / "w.duckdb")
    settings = oneroster.settings()
    first = pull(con, settings, "run-1")
    assert [(w.stream, w.status) for w in first.pages.warnings] == [
        ("oneroster_rest.demographics", 403),
        ("oneroster_rest.categories", 404),
    ]
    assert "refused" in str(first.pages.warnings[0]) and "404" in str(first.pages.warnings[1])
    done = {
        s for (s,) in rows(con, "SELECT stream FROM audit.api_checkpoints WHERE state = 'done'")
    }
    assert done == {c.stream for c in ONEROSTER_REST_COLLECTIONS} - {
        "oneroster_rest.demographics",
        "oneroster_rest.categories",
    }
    assert rows(con, "SELECT _key FROM raw.oneroster_rest_score_scales") == [("scale-1",)]

    # Granted the next day: the collection is read in full, not as a delta.
    oneroster.refuse = {}
    oneroster.records["demographics"] = [{"sourcedId": "stu-1", "status": "active"}]
    oneroster.asked.clear()
    second = pull(con, settings, "run-2")
    assert second.pages.warnings == []
    asked = dict(oneroster.asked)
    assert "filter" not in asked["demographics"] and "filter" in asked["users"]
    assert rows(con, "SELECT _key FROM raw.oneroster_rest_demographics") == [("stu-1",)]
    con.close()


def test_the_sample_lms_refusing_demographics_to_a_narrower_scope_is_a_warning(
    lms: RecordingLms, tmp_path: Path
):
    roster_and_gradebook = " ".join(s for s in DEFAULT_SCOPES if "demographics" not in s)
    con = warehouse(tmp_path / "w.duckdb")
    result = pull(con, settings_for(lms, scope=roster_and_gradebook))
    assert [(w.stream, w.status) for w in result.pages.warnings] == [
        ("oneroster_rest.demographics", 403)
    ]
    counts = {t: len(keys) for t, keys in raw_state(con).items()}
    assert counts["oneroster_rest_demographics"] == 0 and counts["oneroster_rest_results"] == 1152
    con.close()


@pytest.mark.parametrize("status", [403, 404])
def test_a_refused_required_collection_fails_the_pull_and_leaves_the_sync_to_resume(
    oneroster: FakeOneRoster, tmp_path: Path, status: int
):
    oneroster.refuse = {"users": status}
    con = warehouse(tmp_path / "w.duckdb")
    with pytest.raises({403: PermissionDeniedError, 404: NotFoundError}[status]) as caught:
        pull(con, oneroster.settings(), "run-1")
    assert caught.value.status == status
    assert "/ims/oneroster/rostering/v1p2/users" in str(caught.value)
    (unfinished,) = rows(con, "SELECT count(*) FROM audit.api_syncs WHERE finished_at IS NULL")
    assert unfinished == (1,)
    con.close()


def test_a_record_without_sourced_id_fails_naming_the_endpoint_not_the_record(
    oneroster: FakeOneRoster, tmp_path: Path
):
    oneroster.records["users"] = [{"givenName": "Ximena", "email": "ximena@example.edu"}]
    con = warehouse(tmp_path / "w.duckdb")
    with pytest.raises(BadResponseError) as caught:
        pull(con, oneroster.settings(), "run-1")
    message = str(caught.value)
    assert "/ims/oneroster/rostering/v1p2/users" in message and "sourcedId" in message
    assert "Ximena" not in message and "ximena@" not in message
    con.close()


# ---------------------------------------------------------------------------------------------
# Secrets and personal data


def test_the_secret_and_tokens_never_reach_raw_checkpoints_errors_or_logs(
    district: GeneratedDistrict, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)  # urllib3 logs every URL it requests at DEBUG
    stale_secret = CLIENT_SECRET + "-last-year"
    server = start_lms(district, token_ttl=0.3)  # several tokens over one pull
    errors: list[str] = []
    try:
        con = warehouse(tmp_path / "w.duckdb")
        settings = settings_for(server, page_size=50)
        pull(con, settings, "run-1")

        # An API call failing for good after a token was bought, mid-pull.
        fragile = replace(settings, http=replace(FAST, max_retries=1))
        failing = ApiSync.begin(con, settings.name, "run-2")
        with pytest.raises(TransportError) as broken, oneroster_rest_client(fragile) as client:
            for page in oneroster_rest_pages(client, fragile, failing):
                failing.commit(page)
                server.set_faults(Faults(error_rate=1.0))
        server.set_faults(Faults())
        # The token endpoint refusing a stale secret.
        with pytest.raises(AuthenticationError) as refused:
            pull(
                warehouse(tmp_path / "other.duckdb"), replace(settings, client_secret=stale_secret)
            )
        errors = [f"{e.value!s} {e.value!r}" for e in (broken, refused)]
        tokens = set(server.bearers)
    finally:
        server.stop()

    stored = [
        json.dumps(rows(con, f"SELECT * FROM {schema}.{table}"), default=str)
        for schema, table in rows(
            con,
            "SELECT schema_name, table_name FROM duckdb_tables() "
            "WHERE schema_name IN ('raw', 'audit')",
        )
    ]
    con.close()
    assert len(tokens) >= 2 and len(stored) == len(ONEROSTER_REST_TABLES) + 2
    secrets = {CLIENT_SECRET, stale_secret, *tokens}
    for where, text in (
        ("raw and audit", "\n".join(stored)),
        ("errors", "\n".join(errors)),
        ("logs", caplog.text),
    ):
        assert text and not [s for s in secrets if s in text], where

    # Nor does a learner's username or email reach a log line.
    people = csv_rows(duckdb.connect(), district.oneroster_path / "users.csv", "username, email")
    assert not [p for person in people for p in person if p and p in caplog.text]
