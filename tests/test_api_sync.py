"""Committing API pages, as a specification: what raw and the checkpoints hold after a page, a
failed page, a killed sync and a finished one, on a real DuckDB file."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from connectors.http import StreamPage, StreamState
from pipelines.api_sync import ApiSync, PageCounts

TONIGHT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
TOMORROW = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    return tmp_path / "warehouse.duckdb"


@pytest.fixture
def con(warehouse: Path):
    connection = duckdb.connect(str(warehouse))
    yield connection
    connection.close()


def courses(records: list[tuple[str, dict]], cursor: str | None) -> StreamPage:
    return StreamPage("canvas.courses", "", "canvas_courses", records, cursor)


def enrollments(course: str, records: list[tuple[str, dict]], cursor: str | None) -> StreamPage:
    return StreamPage("canvas.enrollments", course, "canvas_enrollments", records, cursor)


def raw_rows(con: duckdb.DuckDBPyConnection, table: str = "canvas_courses") -> dict[str, tuple]:
    """_key → (_record, _batch_id, _run_id, _loaded_at) of a raw table."""
    rows = con.execute(
        f"SELECT _key, _record, _batch_id, _run_id, _loaded_at FROM raw.{table} ORDER BY _key"
    ).fetchall()
    return {key: tuple(rest) for key, *rest in rows}


def test_a_sync_is_the_stream_state_connectors_ask(con: duckdb.DuckDBPyConnection):
    assert isinstance(ApiSync.begin(con, "canvas", "run-1", TONIGHT), StreamState)


def test_commit_counts_new_changed_and_unchanged_records(con: duckdb.DuckDBPyConnection):
    sync = ApiSync.begin(con, "canvas", "run-1", TONIGHT)

    first = sync.commit(courses([("1", {"id": 1, "name": "Algebra"}), ("2", {"id": 2})], "p2"))
    # Course 1 again with its keys in another order, course 2 changed, course 3 new.
    second = sync.commit(
        courses([("1", {"name": "Algebra", "id": 1}), ("2", {"id": 2, "x": 1}), ("3", {})], None)
    )

    assert first == PageCounts(inserted=2, updated=0, unchanged=0)
    assert second == PageCounts(inserted=1, updated=1, unchanged=1)
    assert json.loads(raw_rows(con)["2"][0]) == {"id": 2, "x": 1}
    assert sync.totals.as_dict() == {
        "canvas_courses": {"pages": 2, "inserted": 3, "updated": 1, "unchanged": 1}
    }


def test_an_unchanged_record_keeps_its_row_as_it_was(con: duckdb.DuckDBPyConnection):
    sync = ApiSync.begin(con, "canvas", "run-1", TONIGHT)
    sync.commit(courses([("1", {"id": 1}), ("2", {"id": 2})], None))
    sync.finish()
    before = raw_rows(con)

    tomorrow = ApiSync.begin(con, "canvas", "run-2", TOMORROW)
    counts = tomorrow.commit(courses([("1", {"id": 1}), ("2", {"id": 2, "name": "Biology"})], None))
    after = raw_rows(con)

    assert counts == PageCounts(inserted=0, updated=1, unchanged=1)
    assert after["1"] == before["1"]  # same _loaded_at, _batch_id and _run_id
    assert after["2"][1:3] == (tomorrow.sync_id, "run-2")
    assert after["2"][3] > before["2"][3]


def test_a_record_is_stored_as_received_and_hashed_canonically(con: duckdb.DuckDBPyConnection):
    sync = ApiSync.begin(con, "canvas", "run-1", TONIGHT)
    record = {"name": "Éducation physique", "id": 7, "tags": [2, 1]}

    sync.commit(courses([("7", record)], None))

    stored, content_hash = con.execute(
        "SELECT _record::VARCHAR, _content_hash FROM raw.canvas_courses WHERE _key = '7'"
    ).fetchall()[0]
    assert stored == '{"name":"Éducation physique","id":7,"tags":[2,1]}'
    canonical = '{"id":7,"name":"Éducation physique","tags":[2,1]}'
    assert content_hash == hashlib.sha256(canonical.encode()).hexdigest()


def test_a_key_twice_in_one_page_keeps_the_last_record(con: duckdb.DuckDBPyConnection):
    sync = ApiSync.begin(con, "canvas", "run-1", TONIGHT)

    counts = sync.commit(courses([("1", {"v": 1}), ("2", {"v": 2}), ("1", {"v": 3})], None))

    assert counts == PageCounts(inserted=2, updated=0, unchanged=0)
    assert json.loads(raw_rows(con)["1"][0]) == {"v": 3}


def test_records_of_two_sources_in_one_table_do_not_collide(con: duckdb.DuckDBPyConnection):
    ApiSync.begin(con, "canvas-east", "run-1", TONIGHT).commit(courses([("1", {"v": 1})], None))
    counts = ApiSync.begin(con, "canvas-west", "run-1", TONIGHT).commit(
        courses([("1", {"v": 2})], None)
    )

    assert counts == PageCounts(inserted=1, updated=0, unchanged=0)
    assert con.execute("SELECT count(*) FROM raw.canvas_courses").fetchall() == [(2,)]


def test_a_page_that_cannot_be_stored_moves_nothing(con: duckdb.DuckDBPyConnection):
    sync = ApiSync.begin(con, "canvas", "run-1", TONIGHT)
    sync.commit(enrollments("12", [("e1", {"id": 1})], "p2"))

    with pytest.raises(ValueError, match=r"'e3' of canvas\.enrollments"):
        sync.commit(enrollments("12", [("e2", {"id": 2}), ("e3", {"roles": {"student"}})], "p3"))

    assert sync.resume_cursor("canvas.enrollments", "12") == "p2"
    assert list(raw_rows(con, "canvas_enrollments")) == ["e1"]


def test_a_checkpoint_that_cannot_be_saved_takes_its_page_back_with_it(
    con: duckdb.DuckDBPyConnection,
):
    sync = ApiSync.begin(con, "canvas", "run-1", TONIGHT)
    sync.commit(enrollments("12", [("e1", {"id": 1})], "p2"))
    # The page's rows go in first; the checkpoint write after them then fails.
    con.execute("ALTER TABLE audit.api_checkpoints RENAME TO api_checkpoints_away").fetchall()

    with pytest.raises(duckdb.CatalogException):
        sync.commit(enrollments("12", [("e1", {"id": 1, "changed": True}), ("e2", {})], "p3"))

    con.execute("ALTER TABLE audit.api_checkpoints_away RENAME TO api_checkpoints").fetchall()
    assert raw_rows(con, "canvas_enrollments").keys() == {"e1"}
    assert json.loads(raw_rows(con, "canvas_enrollments")["e1"][0]) == {"id": 1}
    assert sync.resume_cursor("canvas.enrollments", "12") == "p2"
    # The connection is left usable: the same page commits once the fault is gone.
    assert sync.commit(enrollments("12", [("e2", {})], "p3")).inserted == 1


def test_a_killed_sync_resumes_where_it_stopped(warehouse: Path):
    con = duckdb.connect(str(warehouse))
    killed = ApiSync.begin(con, "canvas", "run-1", TONIGHT)
    killed.commit(courses([("12", {"id": 12}), ("13", {"id": 13})], None))
    killed.commit(enrollments("12", [("e1", {})], "page-2"))
    killed.commit(enrollments("12", [("e2", {})], "page-3"))
    con.close()  # killed before pages 3 and 4 and before finish()

    con = duckdb.connect(str(warehouse))
    resumed = ApiSync.begin(con, "canvas", "run-2", TOMORROW)

    assert resumed.resumed
    assert (resumed.sync_id, resumed.started_at) == (killed.sync_id, TONIGHT)
    assert resumed.is_done("canvas.courses")
    assert not resumed.is_done("canvas.enrollments", "12")
    assert resumed.resume_cursor("canvas.enrollments", "12") == "page-3"
    assert resumed.resume_cursor("canvas.enrollments", "13") is None
    assert resumed.resume_cursor("canvas.courses") is None

    resumed.commit(enrollments("12", [("e3", {})], "page-4"))
    resumed.commit(enrollments("12", [("e4", {})], None))

    assert resumed.is_done("canvas.enrollments", "12")
    assert resumed.watermark("canvas.enrollments", "12") == TONIGHT
    assert raw_rows(con, "canvas_enrollments")["e4"][2] == "run-2"
    con.close()


def test_after_finish_a_new_sync_starts_and_remembers_the_last_one_as_watermark(
    con: duckdb.DuckDBPyConnection,
):
    tonight = ApiSync.begin(con, "canvas", "run-1", TONIGHT)
    tonight.commit(courses([("12", {"id": 12})], None))
    tonight.commit(enrollments("12", [("e1", {})], "page-2"))  # left running
    tonight.finish()

    tomorrow = ApiSync.begin(con, "canvas", "run-2", TOMORROW)

    assert not tomorrow.resumed
    assert tomorrow.sync_id != tonight.sync_id
    assert tomorrow.started_at == TOMORROW
    assert not tomorrow.is_done("canvas.courses")
    assert tomorrow.resume_cursor("canvas.enrollments", "12") is None
    assert tomorrow.watermark("canvas.courses") == TONIGHT
    assert tomorrow.watermark("canvas.enrollments", "12") is None
    # While it runs again, a stream keeps the watermark of its last completion…
    tomorrow.commit(courses([("12", {"id": 12})], "page-2"))
    assert tomorrow.watermark("canvas.courses") == TONIGHT
    # …and completing it moves the watermark to this sync's start.
    tomorrow.commit(courses([], None))
    assert tomorrow.watermark("canvas.courses") == TOMORROW


def test_a_finished_sync_takes_no_more_pages(con: duckdb.DuckDBPyConnection):
    sync = ApiSync.begin(con, "canvas", "run-1", TONIGHT)
    sync.finish()

    with pytest.raises(RuntimeError, match="finished"):
        sync.commit(courses([("1", {})], None))


def test_a_sync_start_without_a_time_zone_is_refused(con: duckdb.DuckDBPyConnection):
    with pytest.raises(ValueError, match="time zone"):
        ApiSync.begin(con, "canvas", "run-1", datetime(2026, 3, 2, 2, 0))
