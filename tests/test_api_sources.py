"""Pulling an API source into the warehouse: in parallel it gives what one page at a time gives,
and a pull that fails half-way resumes with no duplicate and no gap."""

import os
import secrets

import duckdb
import pytest

from connectors.http import TransportError
from models.config import CanvasSource, HttpOptions, OneRosterRestSource
from pipelines.api_sources import API_SOURCE_KINDS, pull_api_source
from sample_district.generate import generate_district
from sample_district.lms_server import Faults, SampleLms

KINDS = {kind.kind: kind for kind in API_SOURCE_KINDS}
TOKEN, CLIENT_ID, CLIENT_SECRET = "TEST_CANVAS_TOKEN", "TEST_OR_ID", "TEST_OR_SECRET"


@pytest.fixture(scope="module")
def lms(tmp_path_factory):
    district = generate_district(200, tmp_path_factory.mktemp("district") / "d", seed=11)
    values = {name: secrets.token_urlsafe(16) for name in (TOKEN, CLIENT_ID, CLIENT_SECRET)}
    os.environ.update(values)
    server = SampleLms(
        district.out,
        canvas_token=values[TOKEN],
        client_id=values[CLIENT_ID],
        client_secret=values[CLIENT_SECRET],
    ).start()
    yield server
    server.stop()
    for name in values:
        os.environ.pop(name, None)


def canvas(lms, concurrency: int, **http) -> CanvasSource:
    return CanvasSource(
        kind="canvas",
        base_url=lms.canvas_url,
        token_env=TOKEN,
        concurrency=concurrency,
        http=HttpOptions(read_timeout=5.0, backoff_factor=0.0, **http),
    )


def oneroster(lms, concurrency: int) -> OneRosterRestSource:
    return OneRosterRestSource(
        kind="oneroster_rest",
        base_url=lms.oneroster_url,
        token_url=lms.token_url,
        client_id_env=CLIENT_ID,
        client_secret_env=CLIENT_SECRET,
        concurrency=concurrency,
        http=HttpOptions(read_timeout=5.0, backoff_factor=0.0),
    )


def raw_rows(con, tables) -> dict[str, set[tuple[str, str]]]:
    return {
        table: set(con.execute(f"SELECT _key, _content_hash FROM raw.{table}").fetchall())
        for table in tables
    }


def pull(tmp_path, name, source):
    con = duckdb.connect(str(tmp_path / f"{name}.duckdb"))
    result = pull_api_source(con, KINDS[source.kind], source, run_id=name)
    return con, result


@pytest.mark.parametrize("make_source", [canvas, oneroster], ids=["canvas", "oneroster_rest"])
def test_a_parallel_pull_stores_exactly_what_a_one_page_at_a_time_pull_stores(
    lms, tmp_path, make_source
):
    one_con, one = pull(tmp_path, "one", make_source(lms, 1))
    many_con, many = pull(tmp_path, "many", make_source(lms, 4))
    tables = KINDS[make_source(lms, 1).kind].tables
    assert raw_rows(many_con, tables) == raw_rows(one_con, tables)
    assert many.inserted == one.inserted > 0
    assert many.pages == one.pages
    # Every stream of every course or collection completed in both.
    checkpoints = "SELECT stream, scope, state FROM audit.api_checkpoints ORDER BY ALL"
    assert many_con.execute(checkpoints).fetchall() == one_con.execute(checkpoints).fetchall()


def test_a_parallel_pull_that_fails_half_way_resumes_without_duplicates_or_gaps(lms, tmp_path):
    clean_con, _ = pull(tmp_path, "clean", canvas(lms, 1))
    con = duckdb.connect(str(tmp_path / "broken.duckdb"))
    source = canvas(lms, 4, max_retries=0)
    lms.set_faults(Faults(error_rate=0.02, seed=5))
    try:
        with pytest.raises(TransportError):
            pull_api_source(con, KINDS["canvas"], source, run_id="night-1")
    finally:
        lms.set_faults(Faults())
    unfinished = con.execute(
        "SELECT count(*) FROM audit.api_syncs WHERE finished_at IS NULL"
    ).fetchall()[0][0]
    assert unfinished == 1
    resumed = pull_api_source(con, KINDS["canvas"], source, run_id="night-2")
    assert resumed.resumed
    assert raw_rows(con, KINDS["canvas"].tables) == raw_rows(clean_con, KINDS["canvas"].tables)
    # What the first run committed was not fetched again as new rows.
    first_run = con.execute(
        "SELECT count(*) FROM raw.canvas_enrollments WHERE _run_id = 'night-1'"
    ).fetchall()[0][0]
    assert first_run > 0
