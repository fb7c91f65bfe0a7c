"""What the credential-platform connector tests (Open Badges 3.0 API, Badgr, Credly) share: quick
HTTP settings, a warehouse holding a connector's raw tables, and a pull committed page by page as
`pipelines.api_sync` does it, or a night's pull of a configured source as the API asset does it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import duckdb

from connectors.http import ApiClient, HttpSettings, RequestStats, StreamPage
from pipelines.api_sources import API_SOURCE_KINDS, SourcePull, pull_api_source
from pipelines.api_sync import ApiSync, ensure_api_raw_table

# Retries stay real but tiny, so a test of a failing server runs in well under a second.
FAST = HttpSettings(
    connect_timeout=2.0,
    read_timeout=5.0,
    max_retries=4,
    backoff_factor=0.01,
    backoff_jitter=0.0,
    backoff_max=0.05,
    bad_json_retries=2,
)


def raw_warehouse(path: Path, tables: Iterable[str]) -> duckdb.DuckDBPyConnection:
    """A DuckDB file with a connector's raw tables, empty."""
    con = duckdb.connect(str(path))
    for table in tables:
        ensure_api_raw_table(con, table)
    return con


def sync_pages(
    con: duckdb.DuckDBPyConnection,
    settings: Any,
    client: Callable[[Any, RequestStats | None], ApiClient],
    pages: Callable[..., Iterable[StreamPage]],
    *,
    run_id: str = "run-1",
    stats: RequestStats | None = None,
) -> list[StreamPage]:
    """One sync of a source: every page its connector (`client`, `pages`) yields, read to the
    end, then each committed in order and the sync finished. Returns the pages."""
    sync = ApiSync.begin(con, settings.name, run_id)
    with client(settings, stats) as api:
        read = list(pages(api, settings, sync))
    for page in read:
        sync.commit(page)
    sync.finish()
    return read


def nightly_pull(con: duckdb.DuckDBPyConnection, source: Any, run_id: str) -> SourcePull:
    """A configured source (`sources.credentials` entry) pulled as the night's API asset pulls
    it, secrets from the environment."""
    kind = {k.kind: k for k in API_SOURCE_KINDS}[source.kind]
    return pull_api_source(con, kind, source, run_id=run_id)
