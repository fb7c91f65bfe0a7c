"""The Canvas connector, as a specification: what lands in raw and in the staging views after a
full pull, a killed and resumed pull, a second (incremental) night, a bad network and a throttled
token, over real HTTP on loopback against the sample LMS (and pytest-httpserver where a test needs
exact answers)."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import duckdb
import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Response

from connectors.canvas import (
    CANVAS_TABLES,
    ENROLLMENT_STATES,
    CanvasPull,
    CanvasSettings,
    SkippedStream,
    canvas_client,
    canvas_pages,
)
from connectors.http import (
    ApiError,
    HttpSettings,
    NotFoundError,
    PermissionDeniedError,
    RequestStats,
    StreamPage,
)
from models.config import CanvasSource, ConfigError
from pipelines.api_sync import ApiSync, ensure_api_raw_table
from pipelines.sql_models import MATERIALIZATION, discover_sql_models
from sample_district.generate import GeneratedDistrict, generate_district
from sample_district.lms_server import Faults, SampleLms, Throttle

TOKEN = "7~canvas-Pathways-t0ken-d9b1f3"
ENV = {"CANVAS_TOKEN": TOKEN}
LEARNERS = 300
# Retries stay real (urllib3 sleeps for them) but tiny, so the file runs in seconds.
FAST = HttpSettings(
    connect_timeout=2.0,
    read_timeout=5.0,
    max_retries=5,
    backoff_factor=0.01,
    backoff_jitter=0.005,
    backoff_max=0.05,
)
# A bucket nobody fills: only the throttle test is throttled.
ROOMY = Throttle(capacity=1_000_000.0)
CANVAS_MODELS = [m for m in discover_sql_models() if m.table.startswith("stg_canvas__")]


# ---------------------------------------------------------------------------------------------
# The sample LMS, a warehouse, and a pull as the API asset does it


class RecordingCanvas(SampleLms):
    """The sample LMS, noting on the server side every Canvas request's path and query."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asked: list[tuple[str, list[tuple[str, str]]]] = []

    def _route(self, request):
        if request.path.startswith("/api/v1/"):
            self.asked.append((request.path, list(request.query)))
        return super()._route(request)

    def forget(self) -> None:
        self.asked.clear()

    def queries(self, path_end: str) -> list[dict[str, str]]:
        """The single-valued query parameters of each request whose path ends so."""
        return [dict(query) for path, query in self.asked if path.endswith(path_end)]


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDistrict:
    return generate_district(LEARNERS, tmp_path_factory.mktemp("district"), seed=7)


def start_lms(district: GeneratedDistrict, **options: Any) -> RecordingCanvas:
    options = {"throttle": ROOMY, **options}
    server = RecordingCanvas(
        district.out,
        canvas_token=TOKEN,
        client_id="oneroster-unused",
        client_secret="oneroster-unused",
        **options,
    )
    return server.start()


@pytest.fixture(scope="module")
def lms(district: GeneratedDistrict) -> Iterator[RecordingCanvas]:
    """A server shared by the tests that never change its data."""
    server = start_lms(district)
    yield server
    server.stop()


def settings_for(lms: SampleLms, **changes: Any) -> CanvasSettings:
    """Settings as pathways.yaml and the environment give them, with fast retries."""
    source = CanvasSource(kind="canvas", base_url=lms.canvas_url, token_env="CANVAS_TOKEN")
    return replace(CanvasSettings.from_config(source, ENV), **{"http": FAST, **changes})


def smallest_school(lms: SampleLms) -> int:
    """The Canvas sub-account (school) with the fewest courses: a quick but whole pull."""
    return lms.data.rows(
        "SELECT account_id FROM cv_courses GROUP BY 1 ORDER BY count(*), 1 LIMIT 1"
    )[0][0]


def school_settings(lms: SampleLms, **changes: Any) -> CanvasSettings:
    return settings_for(lms, account_id=smallest_school(lms), **changes)


def warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    for table in CANVAS_TABLES:
        ensure_api_raw_table(con, table)
    return con


class Crash(Exception):
    """The process dies between two pages."""


@dataclass
class Pull:
    sync: ApiSync
    pull: CanvasPull
    pages: list[StreamPage]  # as committed, in order
    stats: RequestStats


def pull(
    con: duckdb.DuckDBPyConnection,
    settings: CanvasSettings,
    run_id: str = "run-1",
    *,
    crash_when: Callable[[list[StreamPage]], bool] | None = None,
    pages_done: list[StreamPage] | None = None,
) -> Pull:
    """One sync the way the API asset runs it: commit page by page, finish at the end. With
    `crash_when`, die right after the first committed page for which it holds (the pages
    committed so far are kept in `pages_done`)."""
    sync = ApiSync.begin(con, settings.name, run_id)
    stats = RequestStats()
    committed = pages_done if pages_done is not None else []
    with canvas_client(settings, stats) as client:
        pages = canvas_pages(client, settings, sync)
        for page in pages:
            sync.commit(page)
            committed.append(page)
            if crash_when is not None and crash_when(committed):
                raise Crash(page.stream)
    sync.finish()
    return Pull(sync, pages, committed, stats)


def raw_state(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """raw table → {key: content hash}: what a pull left, to compare two pulls."""
    return {
        table: dict(con.execute(f"SELECT _key, _content_hash FROM raw.{table}").fetchall())
        for table in CANVAS_TABLES
    }


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def build_staging(con: duckdb.DuckDBPyConnection) -> None:
    """The Canvas staging models, in the factory's order, created as the factory creates them."""
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    for model in CANVAS_MODELS:
        kind = MATERIALIZATION[model.layer]
        con.execute(f"CREATE OR REPLACE {kind} staging.{model.table} AS\n{model.sql}")


def column_types(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    return dict(
        rows(
            con,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'staging' AND table_name = ?",
            [view],
        )
    )


class LogRecords(logging.Handler):
    """Every log line of the process while attached, as it would be printed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


# ---------------------------------------------------------------------------------------------
# A full pull of the whole district


@dataclass
class FullPull:
    con: duckdb.DuckDBPyConnection
    lms: RecordingCanvas
    result: Pull
    logs: list[str]
    asked: list[tuple[str, list[tuple[str, str]]]]  # the requests of the pull, server side

    def queries(self, path_end: str) -> list[dict[str, str]]:
        """The single-valued query parameters of each request whose path ends so."""
        return [dict(query) for path, query in self.asked if path.endswith(path_end)]


@pytest.fixture(scope="module")
def full(lms: RecordingCanvas, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FullPull]:
    """One pull of every course of the district, 40 records a page (so courses, enrollments and
    submissions come in several bookmark pages), with every log line of the process kept."""
    con = warehouse(tmp_path_factory.mktemp("full") / "warehouse.duckdb")
    logs = LogRecords()
    root = logging.getLogger()
    level = root.level
    root.addHandler(logs)
    root.setLevel(logging.DEBUG)
    lms.forget()
    try:
        result = pull(con, settings_for(lms, per_page=40))
    finally:
        root.removeHandler(logs)
        root.setLevel(level)
    asked = list(lms.asked)
    build_staging(con)
    yield FullPull(con, lms, result, logs.lines, asked)
    con.close()


def served(lms: SampleLms) -> dict[str, set[str]]:
    """raw table → the keys of every record the sample LMS holds and Canvas would list: all
    enrollments in every state; submissions, outcome results and rollups of students whose
    enrollment is not deleted (Canvas hides those)."""
    listed = """EXISTS (SELECT 1 FROM cv_enrollments e WHERE e.course_id = x.course_id
        AND e.user_id = x.user_id AND e.type = 'StudentEnrollment'
        AND e.enrollment_state NOT IN ('deleted', 'rejected'))"""

    def keys(sql: str) -> set[str]:
        return {str(r[0]) for r in lms.data.rows(sql)}

    return {
        "canvas_terms": keys("SELECT id FROM cv_terms"),
        "canvas_courses": keys("SELECT id FROM cv_courses"),
        "canvas_enrollments": keys("SELECT id FROM cv_enrollments"),
        "canvas_assignments": keys("SELECT id FROM cv_assignments"),
        "canvas_submissions": keys(f"SELECT id FROM cv_submissions x WHERE {listed}"),
        "canvas_outcomes": keys(
            "SELECT DISTINCT unnest(list_transform(rubric, lambda r: r.outcome_id)) "
            "FROM cv_assignments"
        ),
        "canvas_outcome_results": keys(f"SELECT id FROM cv_outcome_results x WHERE {listed}"),
        "canvas_outcome_rollups": keys(
            "SELECT DISTINCT x.course_id || ':' || x.user_id FROM cv_enrollments x "
            f"WHERE x.type = 'StudentEnrollment' AND {listed}"
        ),
    }


def test_a_full_pull_lands_every_record_the_lms_lists_exactly_once(full: FullPull):
    pulled = {table: set(keys) for table, keys in raw_state(full.con).items()}
    expected = served(full.lms)

    assert pulled == expected
    totals = full.result.sync.totals.as_dict()
    # Each record was received once (a second delivery would count as unchanged), except an
    # outcome, which every course linking it lists again.
    for table, keys in expected.items():
        counts = totals[table]
        assert (counts["inserted"], counts["updated"]) == (len(keys), 0), table
        assert counts["unchanged"] == 0 or table == "canvas_outcomes", table
    assert totals["canvas_outcomes"]["unchanged"] > 0


def test_dropped_and_paused_enrollments_are_pulled_with_their_state(full: FullPull):
    served_states = dict(
        full.lms.data.rows("SELECT enrollment_state, count(*) FROM cv_enrollments GROUP BY 1")
    )
    pulled_states = dict(
        rows(
            full.con,
            "SELECT _record->>'$.enrollment_state', count(*) FROM raw.canvas_enrollments "
            "GROUP BY 1",
        )
    )
    assert pulled_states == served_states
    assert {"deleted", "inactive", "completed"} <= set(pulled_states)
    assert full.queries("/enrollments")
    for path, query in full.asked:
        if path.endswith("/enrollments") and not any(k == "page" for k, _ in query):
            assert sorted(v for k, v in query if k == "state[]") == sorted(ENROLLMENT_STATES)


def test_listings_come_in_several_bookmark_pages_each_asked_once(full: FullPull):
    pages_per_stream: dict[tuple[str, str], int] = {}
    for page in full.result.pages:
        key = (page.stream, page.scope)
        pages_per_stream[key] = pages_per_stream.get(key, 0) + 1
    bookmarked = [q for _, q in full.asked if any(v.startswith("bookmark:") for _, v in q)]

    assert max(n for (s, _), n in pages_per_stream.items() if s == "canvas.courses") >= 2
    assert max(n for (s, _), n in pages_per_stream.items() if s == "canvas.submissions") >= 2
    assert len(bookmarked) >= 10
    asked = [(path, tuple(query)) for path, query in full.asked]
    assert len(asked) == len(set(asked))
    assert all(query.get("per_page") == "40" for query in full.queries("/enrollments"))


def test_every_stream_ends_with_a_page_without_cursor(full: FullPull):
    last: dict[tuple[str, str], StreamPage] = {}
    for page in full.result.pages:
        last[(page.stream, page.scope)] = page
    courses = {str(r[0]) for r in full.lms.data.rows("SELECT id FROM cv_courses")}
    per_course = {
        "canvas.enrollments",
        "canvas.assignments",
        "canvas.submissions",
        "canvas.submissions_submitted",
        "canvas.outcomes",
        "canvas.outcome_results",
        "canvas.outcome_rollups",
    }

    assert all(page.cursor is None for page in last.values())
    assert {scope for stream, scope in last if stream == "canvas.enrollments"} == courses
    assert {(s, c) for s, c in last if s in per_course} == {
        (s, c) for s in per_course for c in courses
    }
    assert not full.result.pull.warnings


def test_records_are_stored_as_received_with_only_underscore_additions(full: FullPull):
    course = full.lms.data.rows("SELECT min(course_id) FROM cv_submissions")[0][0]
    answer = requests.get(
        f"{full.lms.canvas_url}/api/v1/courses/{course}/students/submissions",
        params={"student_ids[]": "all", "per_page": 1},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    ).json()[0]
    stored = json.loads(
        rows(
            full.con,
            "SELECT _record FROM raw.canvas_submissions WHERE _key = ?",
            [str(answer["id"])],
        )[0][0]
    )
    misfiled_rollups = rows(
        full.con,
        "SELECT count(*) FROM raw.canvas_outcome_rollups "
        "WHERE _key <> (_record->>'$._course_id') || ':' || (_record->>'$.links.user')",
    )[0][0]

    assert list(stored.items())[:-1] == list(answer.items())  # as sent, in the order sent
    assert list(stored)[-1] == "_course_id" and stored["_course_id"] == course
    assert misfiled_rollups == 0


def test_staging_views_return_typed_rows_one_per_entity(full: FullPull):
    counts = {
        m.table: rows(full.con, f"SELECT count(*) FROM staging.{m.table}")[0][0]
        for m in CANVAS_MODELS
    }
    raw_counts = {t: len(keys) for t, keys in raw_state(full.con).items()}
    scores = rows(
        full.con,
        "SELECT sum(json_array_length(_record->'$.scores')) FROM raw.canvas_outcome_rollups",
    )[0][0]
    enrolled_users = full.lms.data.rows("SELECT count(DISTINCT user_id) FROM cv_enrollments")[0][0]

    for table in CANVAS_TABLES:
        if table != "canvas_outcome_rollups":
            assert counts[f"stg_{table.replace('canvas_', 'canvas__')}"] == raw_counts[table]
    assert counts["stg_canvas__outcome_rollups"] == scores > 0
    assert counts["stg_canvas__users"] == enrolled_users
    expected_types = {
        "stg_canvas__terms": {"id": "BIGINT", "start_at": "TIMESTAMP WITH TIME ZONE"},
        "stg_canvas__courses": {"id": "BIGINT", "term_id": "BIGINT"},
        "stg_canvas__enrollments": {"user_id": "BIGINT", "updated_at": "TIMESTAMP WITH TIME ZONE"},
        "stg_canvas__assignments": {
            "points_possible": "DOUBLE",
            "published": "BOOLEAN",
            "has_rubric": "BOOLEAN",
            "rubric_outcome_alignments": "JSON",
        },
        "stg_canvas__submissions": {
            "score": "DOUBLE",
            "graded_at": "TIMESTAMP WITH TIME ZONE",
            "late": "BOOLEAN",
        },
        "stg_canvas__outcomes": {"mastery_points": "DOUBLE", "calculation_int": "BIGINT"},
        "stg_canvas__outcome_results": {"score": "DOUBLE", "mastery": "BOOLEAN"},
        "stg_canvas__outcome_rollups": {"outcome_id": "BIGINT", "score": "DOUBLE"},
    }
    for view, types in expected_types.items():
        actual = column_types(full.con, view)
        assert {c: actual.get(c) for c in types} == types, view


def test_staged_values_are_the_lms_values_typed(full: FullPull):
    served_submissions = set(
        full.lms.data.rows(
            "SELECT id, assignment_id, user_id, course_id, score, epoch(submitted_at)::BIGINT, "
            "epoch(graded_at)::BIGINT FROM cv_submissions"
        )
    )
    staged_submissions = set(
        rows(
            full.con,
            "SELECT id, assignment_id, user_id, course_id, score, epoch(submitted_at)::BIGINT, "
            "epoch(graded_at)::BIGINT FROM staging.stg_canvas__submissions",
        )
    )
    served_results = set(
        full.lms.data.rows(
            "SELECT id, user_id, outcome_id, assignment_id, course_id, score "
            "FROM cv_outcome_results"
        )
    )
    staged_results = set(
        rows(
            full.con,
            "SELECT id, user_id, outcome_id, assignment_id, course_id, score "
            "FROM staging.stg_canvas__outcome_results",
        )
    )

    assert staged_submissions and staged_submissions <= served_submissions
    assert staged_results and staged_results <= served_results


def test_sis_ids_survive_into_staging(full: FullPull):
    served_enrollments = set(
        full.lms.data.rows(
            """SELECT e.id, u.sis_user_id, c.sis_course_id FROM cv_enrollments e
            JOIN cv_users u ON u.id = e.user_id JOIN cv_courses c ON c.id = e.course_id"""
        )
    )
    served_users = set(
        full.lms.data.rows(
            "SELECT id, sis_user_id FROM cv_users WHERE id IN (SELECT user_id FROM cv_enrollments)"
        )
    )
    served_terms = set(full.lms.data.rows("SELECT id, sis_term_id FROM cv_terms"))
    served_courses = set(full.lms.data.rows("SELECT id, sis_course_id FROM cv_courses"))

    def staged(sql: str) -> set[tuple]:
        return set(rows(full.con, sql))

    assert (
        staged("SELECT id, sis_user_id, sis_course_id FROM staging.stg_canvas__enrollments")
        == served_enrollments
    )
    assert staged("SELECT id, sis_user_id FROM staging.stg_canvas__users") == served_users
    assert staged("SELECT id, sis_term_id FROM staging.stg_canvas__terms") == served_terms
    assert staged("SELECT id, sis_course_id FROM staging.stg_canvas__courses") == served_courses
    assert any(sis is None for _, sis in served_users)  # guests: no SIS id, still kept


def test_staged_courses_and_alignments_match_what_canvas_holds(full: FullPull):
    mismatched_courses = rows(
        full.con,
        """SELECT count(*) FROM staging.stg_canvas__submissions s
        JOIN staging.stg_canvas__assignments a ON a.id = s.assignment_id
        WHERE s.course_id IS DISTINCT FROM a.course_id""",
    )[0][0]
    served_alignments = {
        (a, o, g)
        for a, rubric in full.lms.data.rows("SELECT id, rubric FROM cv_assignments")
        for o, g in ((c["outcome_id"], c["vendor_guid"]) for c in rubric or [])
    }
    staged_alignments = {
        (a, al["outcome_id"], al["vendor_guid"])
        for a, alignments in rows(
            full.con, "SELECT id, rubric_outcome_alignments FROM staging.stg_canvas__assignments"
        )
        for al in json.loads(alignments)
    }
    results_without_course = rows(
        full.con,
        "SELECT count(*) FROM staging.stg_canvas__outcome_results "
        "WHERE course_id IS NULL OR assignment_id IS NULL OR outcome_id IS NULL",
    )[0][0]

    assert mismatched_courses == 0
    assert staged_alignments == served_alignments and served_alignments
    assert results_without_course == 0


def test_staging_views_build_on_empty_raw_tables_with_every_column_documented(tmp_path: Path):
    con = warehouse(tmp_path / "empty.duckdb")
    build_staging(con)

    for model in CANVAS_MODELS:
        assert rows(con, f"SELECT count(*) FROM staging.{model.table}") == [(0,)]
        assert {t for schema, t in model.upstream if schema == "raw"} <= set(CANVAS_TABLES)
        assert set(column_types(con, model.table)) == set(model.column_docs), model.table
    con.close()


def test_no_name_login_or_email_reaches_a_log_line(full: FullPull):
    personal = {
        value
        for row in full.lms.data.rows("SELECT name, sortable_name, login_id, email FROM cv_users")
        for value in row
        if value
    }
    assert full.logs and personal
    assert not [line for line in full.logs if any(value in line for value in personal)]


# ---------------------------------------------------------------------------------------------
# Settings


def test_settings_from_config_read_the_token_from_the_named_variable():
    source = CanvasSource(
        kind="canvas",
        name="canvas_hs",
        base_url="https://district.instructure.com/",
        account_id=12,
        token_env="HS_CANVAS_TOKEN",
        terms=("2026-S1",),
        overlap_minutes=15,
        http={"read_timeout": 9, "max_retries": 2},
    )
    settings = CanvasSettings.from_config(source, {"HS_CANVAS_TOKEN": TOKEN})

    assert (settings.name, settings.account_id, settings.terms) == ("canvas_hs", 12, ("2026-S1",))
    assert settings.token == TOKEN and settings.token_from == "$HS_CANVAS_TOKEN"
    assert settings.overlap == timedelta(minutes=15) and settings.per_page == 100
    assert (settings.http.read_timeout, settings.http.max_retries) == (9, 2)
    assert settings.api_url == "https://district.instructure.com/api/v1"
    assert TOKEN not in repr(settings)


@pytest.mark.parametrize("environ", [{}, {"CANVAS_TOKEN": ""}, {"CANVAS_TOKEN": "  "}])
def test_a_missing_token_variable_is_named_and_no_value_shown(environ: dict[str, str]):
    source = CanvasSource(kind="canvas", base_url="https://d.example", token_env="CANVAS_TOKEN")
    with pytest.raises(ConfigError, match=r"CANVAS_TOKEN is not set or is empty") as error:
        CanvasSettings.from_config(source, environ | {"OTHER": TOKEN})
    assert TOKEN not in str(error.value)


def test_per_page_is_capped_at_canvas_maximum():
    with pytest.raises(ValueError, match="per_page"):
        CanvasSettings("c", "https://d.example", 1, TOKEN, "$T", per_page=101)


# ---------------------------------------------------------------------------------------------
# Terms, and refusals: a Canvas answering exactly what a test needs


class FakeCanvas:
    """A Canvas of one account with the given terms and one course per term; every course
    endpoint answers an empty list unless `answers` says otherwise (path → Response)."""

    def __init__(self, server: HTTPServer, terms: list[dict], answers: dict[str, Response]):
        self.server = server
        server.expect_request("/api/v1/accounts/1/terms").respond_with_json(
            {"enrollment_terms": terms}
        )
        server.expect_request("/api/v1/accounts/1/courses").respond_with_handler(
            lambda request: Response(
                json.dumps([{"id": 100 + int(request.args["enrollment_term_id"]), "name": "C"}]),
                content_type="application/json",
            )
        )
        for path, response in answers.items():
            server.expect_request(path).respond_with_response(response)
        for term in terms:
            course = 100 + term["id"]
            for endpoint in ("enrollments", "assignments", "students/submissions"):
                server.expect_request(f"/api/v1/courses/{course}/{endpoint}").respond_with_json([])
            server.expect_request(
                f"/api/v1/courses/{course}/outcome_group_links"
            ).respond_with_json([])
            server.expect_request(f"/api/v1/courses/{course}/outcome_results").respond_with_json(
                {"outcome_results": []}
            )
            server.expect_request(f"/api/v1/courses/{course}/outcome_rollups").respond_with_json(
                {"rollups": []}
            )

    def settings(self, **changes: Any) -> CanvasSettings:
        base = self.server.url_for("/").rstrip("/")
        return CanvasSettings("canvas", base, 1, TOKEN, "$CANVAS_TOKEN", http=FAST, **changes)

    def term_ids_asked(self) -> list[str]:
        return [
            request.args["enrollment_term_id"]
            for request, _ in self.server.log
            if request.path == "/api/v1/accounts/1/courses"
        ]


TERMS = [
    {
        "id": 1,
        "sis_term_id": "2025",
        "start_at": "2025-08-15T06:00:00Z",
        "end_at": "2026-06-01T06:00:00Z",
    },
    {
        "id": 2,
        "sis_term_id": "2026",
        "start_at": "2026-08-15T06:00:00Z",
        "end_at": "2027-06-01T06:00:00Z",
    },
    {"id": 3, "sis_term_id": "2027", "start_at": "2027-08-15T06:00:00Z", "end_at": None},
    {"id": 4, "sis_term_id": None, "name": "Default Term", "start_at": None, "end_at": None},
]


@pytest.fixture(scope="module")
def canvas_http() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def canvas_server(canvas_http: HTTPServer) -> Iterator[HTTPServer]:
    canvas_http.clear()
    yield canvas_http
    canvas_http.check_handler_errors()


def pull_in_memory(
    settings: CanvasSettings, now: datetime | None = None
) -> tuple[ApiSync, CanvasPull]:
    con = duckdb.connect()
    sync = ApiSync.begin(con, settings.name, "run-1")
    with canvas_client(settings) as client:
        pages = canvas_pages(client, settings, sync, now=now)
        for page in pages:
            sync.commit(page)
    return sync, pages


@pytest.mark.parametrize(
    ("now", "terms_asked"),
    [
        (datetime(2026, 11, 25, tzinfo=UTC), ["2", "4"]),
        (datetime(2026, 6, 1, 6, 0, tzinfo=UTC), ["4"]),  # end_at is exclusive
        (datetime(2027, 9, 1, tzinfo=UTC), ["3", "4"]),  # no end: open
    ],
)
def test_without_configured_terms_the_terms_running_now_are_pulled(
    canvas_server: HTTPServer, now: datetime, terms_asked: list[str]
):
    fake = FakeCanvas(canvas_server, TERMS, {})
    pull_in_memory(fake.settings(), now=now)
    assert fake.term_ids_asked() == terms_asked


def test_configured_terms_are_pulled_by_sis_term_id_whatever_their_dates(canvas_server: HTTPServer):
    fake = FakeCanvas(canvas_server, TERMS, {})
    pull_in_memory(fake.settings(terms=("2025", "2027")), now=datetime(2026, 11, 25, tzinfo=UTC))
    assert fake.term_ids_asked() == ["1", "3"]


def test_a_configured_term_canvas_does_not_have_is_a_config_error_naming_it(
    canvas_server: HTTPServer,
):
    fake = FakeCanvas(canvas_server, TERMS, {})
    with pytest.raises(ConfigError, match=r"2024.*2025, 2026, 2027"):
        pull_in_memory(fake.settings(terms=("2026", "2024")))
    assert fake.term_ids_asked() == []


def night(
    con: duckdb.DuckDBPyConnection, settings: CanvasSettings, started: datetime
) -> CanvasPull:
    """One finished sync started at `started`, on a clock that reads `started` throughout."""
    sync = ApiSync.begin(con, settings.name, f"run-{started:%d}", started)
    with canvas_client(settings) as client:
        pages = canvas_pages(client, settings, sync, now=started)
        for page in pages:
            sync.commit(page)
    sync.finish()
    return pages


@pytest.mark.parametrize(
    ("first_night", "since"),
    [
        (datetime(2026, 3, 1, 2, 0, tzinfo=UTC), "2026-03-01T01:30:00Z"),
        # The first night ran on a clock a day fast: the watermark is bounded by now.
        (datetime(2026, 3, 3, 2, 0, tzinfo=UTC), "2026-03-02T01:30:00Z"),
    ],
)
def test_submissions_are_asked_since_the_last_night_less_the_overlap_never_after_now(
    canvas_server: HTTPServer, first_night: datetime, since: str
):
    fake = FakeCanvas(canvas_server, [TERMS[3]], {})
    settings = fake.settings(overlap=timedelta(minutes=30))
    con = duckdb.connect()
    night(con, settings, first_night)
    night(con, settings, datetime(2026, 3, 2, 2, 0, tzinfo=UTC))

    asked = [
        {k: v for k, v in request.args.items() if k.endswith("_since")}
        for request, _ in canvas_server.log
        if request.path.endswith("/students/submissions")
    ]
    assert asked == [{}, {"graded_since": since}, {"submitted_since": since}]


def refusal(status: int) -> Response:
    body = {
        "status": "unauthorized",
        "errors": [{"message": "user not authorized to perform that action"}],
    }
    return Response(json.dumps(body), status, content_type="application/json")


def test_refused_outcome_endpoints_are_warnings_naming_the_endpoint_and_stay_unfinished(
    canvas_server: HTTPServer, caplog: pytest.LogCaptureFixture
):
    course = 100 + 4
    fake = FakeCanvas(
        canvas_server,
        [TERMS[3]],
        {
            f"/api/v1/courses/{course}/outcome_group_links": refusal(403),
            # Older Canvas answers a missing permission with 401 "user not authorized".
            f"/api/v1/courses/{course}/outcome_results": refusal(401),
        },
    )
    sync, pages = pull_in_memory(fake.settings())

    assert [(w.stream, w.scope, w.endpoint, w.status) for w in pages.warnings] == [
        ("canvas.outcomes", "104", "/api/v1/courses/104/outcome_group_links", 403),
        ("canvas.outcome_results", "104", "/api/v1/courses/104/outcome_results", 401),
    ]
    assert "/api/v1/courses/104/outcome_group_links" in str(pages.warnings[0])
    assert "/api/v1/courses/104/outcome_results" in caplog.text  # logged as a warning too
    assert all(isinstance(w, SkippedStream) for w in pages.warnings)
    assert not sync.is_done("canvas.outcomes", "104")
    assert not sync.is_done("canvas.outcome_results", "104")
    assert sync.is_done("canvas.outcome_rollups", "104")
    assert sync.is_done("canvas.enrollments", "104")


def test_a_refused_enrollment_listing_fails_the_pull_naming_the_endpoint(
    canvas_server: HTTPServer,
):
    fake = FakeCanvas(canvas_server, [TERMS[3]], {"/api/v1/courses/104/enrollments": refusal(403)})
    with pytest.raises(PermissionDeniedError, match="/api/v1/courses/104/enrollments") as error:
        pull_in_memory(fake.settings())
    assert error.value.endpoint == "/api/v1/courses/104/enrollments"
    assert "$CANVAS_TOKEN" in str(error.value) and TOKEN not in str(error.value)


# ---------------------------------------------------------------------------------------------
# One school, pulled clean: what the other pulls of the same server are compared with


@pytest.fixture(scope="module")
def school_clean(
    lms: RecordingCanvas, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, str]]:
    con = warehouse(tmp_path_factory.mktemp("school") / "clean.duckdb")
    pull(con, school_settings(lms))
    state = raw_state(con)
    con.close()
    return state


def test_a_pull_killed_mid_stream_resumes_at_its_next_page_without_duplicate_or_gap(
    lms: RecordingCanvas, school_clean: dict[str, dict[str, str]], tmp_path: Path
):
    settings = school_settings(lms, per_page=10)
    con = warehouse(tmp_path / "killed.duckdb")
    before: list[StreamPage] = []

    def mid_enrollments(pages: list[StreamPage]) -> bool:
        # Dies in the middle of the third course's enrollments.
        page = pages[-1]
        scopes = {p.scope for p in pages if p.stream == "canvas.enrollments"}
        return page.stream == "canvas.enrollments" and len(scopes) == 3 and page.cursor is not None

    with pytest.raises(Crash):
        pull(con, settings, "run-1", crash_when=mid_enrollments, pages_done=before)
    con.close()  # the process is gone
    lms.forget()

    con = warehouse(tmp_path / "killed.duckdb")
    resumed = pull(con, settings, "run-2")

    killed = (before[-1].stream, before[-1].scope)
    finished = {
        (p.stream, p.scope)
        for p in before
        if p.cursor is None and p.stream not in ("canvas.terms", "canvas.courses")
    }
    asked_again = {(p.stream, p.scope) for p in resumed.pages}
    first_again = next(p for p in resumed.pages if (p.stream, p.scope) == killed)
    keys_before = {k for p in before if (p.stream, p.scope) == killed for k, _ in p.records}
    keys_after = {k for p in resumed.pages if (p.stream, p.scope) == killed for k, _ in p.records}
    enrollment_asks = [q for path, q in lms.asked if path.endswith(f"/{killed[1]}/enrollments")]

    saved_page = dict(parse_qsl(urlsplit(before[-1].cursor).query))["page"]

    assert resumed.sync.resumed and len(finished) >= 2
    assert not finished & asked_again  # nothing finished before the crash was asked again
    assert keys_before and keys_after and not keys_before & keys_after
    assert first_again.records and dict(enrollment_asks[0])["page"] == saved_page
    assert raw_state(con) == school_clean
    con.close()


def test_500s_timeouts_and_cut_bodies_are_retried_and_the_pull_equals_a_clean_one(
    lms: RecordingCanvas, school_clean: dict[str, dict[str, str]], tmp_path: Path
):
    settings = school_settings(
        lms, http=replace(FAST, read_timeout=0.3, max_retries=8, bad_json_retries=6)
    )
    injected_before = lms.stats
    lms.set_faults(
        Faults(error_rate=0.1, timeout_rate=0.05, truncate_rate=0.05, slow_seconds=0.6, seed=5)
    )
    try:
        con = warehouse(tmp_path / "faulty.duckdb")
        result = pull(con, settings)
    finally:
        lms.set_faults(Faults())
    injected = lms.stats

    assert injected.errors > injected_before.errors
    assert injected.timeouts > injected_before.timeouts
    assert injected.truncated > injected_before.truncated
    assert result.stats.server_errors and result.stats.timeouts and result.stats.bad_json
    assert raw_state(con) == school_clean
    con.close()


class Neighbour(threading.Thread):
    """Another integration calling Canvas with the same token, a request every 20 ms, while
    the pull runs: Canvas's bucket is per token, and a request in flight holds its pre-flight
    units, so requests of the two that overlap are throttled."""

    def __init__(self, lms: SampleLms) -> None:
        super().__init__(daemon=True)
        self.url = f"{lms.canvas_url}/api/v1/accounts/1/terms?per_page=1"
        self.stopping = threading.Event()

    def run(self) -> None:
        with requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {TOKEN}"
            while not self.stopping.wait(0.02):
                session.get(self.url, timeout=5)

    def __enter__(self) -> Neighbour:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.join()


def test_a_token_throttled_by_a_small_leaky_bucket_still_completes_its_pull(
    district: GeneratedDistrict, school_clean: dict[str, dict[str, str]], tmp_path: Path
):
    # Room for one request in flight at a time (60 units, 50 held by each while it runs).
    throttled = start_lms(
        district,
        throttle=Throttle(capacity=60, request_cost=1, preflight_cost=50, leak_rate=1000),
    )
    try:
        # rate_limit_floor=0: no slowing down before the bucket is empty (test_http covers
        # that), so the throttle itself bites.
        http = replace(FAST, throttle_retries=12, rate_limit_floor=0)
        settings = school_settings(throttled, http=http)
        con = warehouse(tmp_path / "throttled.duckdb")
        with Neighbour(throttled):
            result = pull(con, settings)
        refused = throttled.stats.throttled
    finally:
        throttled.stop()

    assert 0 < result.stats.throttled <= refused
    assert result.stats.retries >= result.stats.throttled
    # Another server, so other URLs inside the records: the same records, by key.
    assert {t: set(k) for t, k in raw_state(con).items()} == {
        t: set(k) for t, k in school_clean.items()
    }
    con.close()


# ---------------------------------------------------------------------------------------------
# The second night


@dataclass
class SecondNight:
    con: duckdb.DuckDBPyConnection
    lms: RecordingCanvas
    first: Pull
    second: Pull
    school: int  # the Canvas sub-account pulled
    regraded: set[str]  # submission ids Canvas lists that were regraded
    regraded_results: set[str]  # outcome result ids of those submissions


@pytest.fixture(scope="module")
def second_night(
    district: GeneratedDistrict, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SecondNight]:
    """A school pulled, 5% of the district's submissions regraded, and the school pulled again.
    The data is as of yesterday, so only the regrade falls within the overlap window."""
    yesterday = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    server = start_lms(district, as_of=yesterday - timedelta(days=1))
    con = warehouse(tmp_path_factory.mktemp("night") / "warehouse.duckdb")
    settings = school_settings(server)
    school = settings.account_id
    first = pull(con, settings, "night-1")
    regraded_at = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)
    assert server.regrade(0.05) > 0
    server.forget()
    second = pull(con, settings, "night-2")
    listed = """AND EXISTS (SELECT 1 FROM cv_enrollments e WHERE e.course_id = s.course_id
        AND e.user_id = s.user_id AND e.enrollment_state NOT IN ('deleted', 'rejected'))"""
    regraded = {
        str(r[0])
        for r in server.data.rows(
            "SELECT s.id FROM cv_submissions s JOIN cv_courses c ON c.id = s.course_id "
            f"WHERE c.account_id = ? AND s.graded_at >= ? {listed}",
            [school, regraded_at],
        )
    }
    regraded_results = {
        str(r[0])
        for r in server.data.rows(
            "SELECT r.id FROM cv_outcome_results r JOIN cv_submissions s "
            f"ON s.id = r.submission_id WHERE list_contains(?, s.id::VARCHAR) {listed}",
            [sorted(regraded)],
        )
    }
    yield SecondNight(con, server, first, second, school, regraded, regraded_results)
    con.close()
    server.stop()


def test_a_second_night_asks_only_for_submissions_graded_or_submitted_since_the_first(
    second_night: SecondNight,
):
    night = second_night
    since = (night.first.sync.started_at - timedelta(minutes=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    asked = night.lms.queries("/students/submissions")
    courses = night.lms.data.rows(
        "SELECT count(*) FROM cv_courses WHERE account_id = ?", [night.school]
    )[0][0]
    received = {
        key
        for page in night.second.pages
        if page.stream in ("canvas.submissions", "canvas.submissions_submitted")
        for key, _ in page.records
    }

    assert night.regraded
    assert asked and all(q.get("student_ids[]") == "all" for q in asked)
    assert {q.get("graded_since") for q in asked} == {since, None}
    assert {q.get("submitted_since") for q in asked} == {since, None}
    assert all(("graded_since" in q) != ("submitted_since" in q) for q in asked)
    assert len(asked) == 2 * courses  # one page each: only what changed comes back
    assert received == night.regraded


def test_a_second_night_updates_only_what_was_regraded(second_night: SecondNight):
    night = second_night
    totals = night.second.sync.totals.tables
    changed = {
        table: {
            k
            for (k,) in rows(
                night.con,
                f"SELECT _key FROM raw.{table} WHERE _batch_id = ?",
                [night.second.sync.sync_id],
            )
        }
        for table in CANVAS_TABLES
    }

    assert totals["canvas_submissions"].updated == len(night.regraded)
    assert changed["canvas_submissions"] == night.regraded
    assert totals["canvas_outcome_results"].updated == len(night.regraded_results) > 0
    assert changed["canvas_outcome_results"] == night.regraded_results
    assert sum(t.inserted for t in totals.values()) == 0
    unchanged = ("canvas_terms", "canvas_courses", "canvas_enrollments", "canvas_assignments")
    for table in (*unchanged, "canvas_outcomes"):
        assert totals[table].updated == 0 and not changed[table], table
    assert totals["canvas_outcome_results"].unchanged > 0  # re-pulled in full, unchanged


# ---------------------------------------------------------------------------------------------
# Secrets


def test_the_token_never_reaches_raw_checkpoints_errors_or_logs(
    full: FullPull, lms: RecordingCanvas, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    con = warehouse(tmp_path / "w.duckdb")
    with pytest.raises(Crash):
        # Dies mid-listing, so a checkpoint holds a next-page URL.
        pull(
            con,
            school_settings(lms, per_page=5),
            crash_when=lambda pages: len(pages) > 8 and pages[-1].cursor is not None,
        )
    cursors = [c for (c,) in rows(con, "SELECT cursor FROM audit.api_checkpoints") if c]
    errors: list[Exception] = []
    for changes in ({"account_id": 999}, {"terms": ("no-such-term",)}):
        with pytest.raises((ApiError, ConfigError)) as error:
            pull(duckdb.connect(), settings_for(lms, **changes))
        errors.append(error.value)
    stored = [
        text
        for table in CANVAS_TABLES
        for (text,) in rows(full.con, f"SELECT _key || _record::VARCHAR FROM raw.{table}")
    ]

    assert cursors and all(TOKEN not in c for c in cursors)
    assert isinstance(errors[0], NotFoundError)
    assert all(TOKEN not in f"{e} {e!r}" for e in errors)
    assert stored and all(TOKEN not in text for text in stored)
    assert all(TOKEN not in line for line in full.logs)
    assert caplog.records and all(TOKEN not in r.getMessage() for r in caplog.records)
    con.close()
