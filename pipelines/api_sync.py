"""The one way API pages reach the warehouse: each page and its checkpoint in one transaction.

A connector (Canvas, OneRoster REST) yields `StreamPage`s; the asset that runs it hands each page
to `ApiSync.commit` before pulling the next. Records are upserted into `raw.<table>` by
(_source, _key): a new key is inserted, a record whose content changed replaces the old one, and
an unchanged record is left alone (its _loaded_at and _batch_id stay, so unchanged rows cost
nothing downstream). The same transaction moves the stream's checkpoint in
`audit.api_checkpoints`, so raw and the checkpoint always agree: after a crash the sync resumes
at the first page not committed, never skipping one.

A sync is one pass over one source (`audit.api_syncs`). If the source's last sync never
finished, `begin` resumes it (same sync id, same start time): finished streams are skipped and
interrupted ones continue from their cursor. A sync's start time becomes the watermark of every
stream it completes, which an incremental connector asks for next time ("changed since").

Plain DuckDB, no Dagster: the API assets call it, and tests call it on a DuckDB file.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from connectors.http import StreamPage
from pipelines.warehouse import quote_ident

# Every raw table of an API stream: one row per record the source has sent, keyed (_source, _key).
API_RAW_COLUMNS: tuple[tuple[str, str], ...] = (
    ("_source", "VARCHAR"),  # the source's name in pathways.yaml, e.g. "canvas"
    ("_key", "VARCHAR"),  # the record's stable key within the source (e.g. its id)
    ("_record", "JSON"),  # the record exactly as received
    ("_content_hash", "VARCHAR"),  # sha256 of the record's canonical JSON
    ("_batch_id", "VARCHAR"),  # the sync (sync_id) that last changed the row
    ("_run_id", "VARCHAR"),  # the run that last changed the row
    ("_loaded_at", "TIMESTAMPTZ"),  # when the row last changed
)


@dataclass(frozen=True)
class PageCounts:
    """What committing one page did to its raw table."""

    inserted: int  # keys new to the table
    updated: int  # keys whose record changed
    unchanged: int  # keys whose record was already there, as is


@dataclass
class TableTotals:
    """What a sync committed to one raw table so far."""

    pages: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class SyncTotals:
    """What this process committed in a sync, per raw table (a resumed sync counts from where it
    resumed), for Dagster metadata and the run summary."""

    tables: dict[str, TableTotals] = field(default_factory=dict)

    def add(self, table: str, counts: PageCounts) -> None:
        """Count one committed page of `table`."""
        totals = self.tables.setdefault(table, TableTotals())
        totals.pages += 1
        totals.inserted += counts.inserted
        totals.updated += counts.updated
        totals.unchanged += counts.unchanged

    @property
    def pages(self) -> int:
        """Pages committed, all tables together."""
        return sum(t.pages for t in self.tables.values())

    @property
    def inserted(self) -> int:
        """Records new to raw, all tables together."""
        return sum(t.inserted for t in self.tables.values())

    @property
    def updated(self) -> int:
        """Records that changed, all tables together."""
        return sum(t.updated for t in self.tables.values())

    @property
    def unchanged(self) -> int:
        """Records received again as they were, all tables together."""
        return sum(t.unchanged for t in self.tables.values())

    def as_dict(self) -> dict[str, dict[str, int]]:
        """Counts by table, e.g. {"canvas_courses": {"pages": 3, "inserted": 250, …}}."""
        return {table: asdict(totals) for table, totals in sorted(self.tables.items())}


def ensure_api_raw_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Create `raw.<table>` for an API stream if missing (idempotent)."""
    if not table:
        raise ValueError("an API stream needs a raw table name")
    columns = ", ".join(f"{quote_ident(name)} {sql_type}" for name, sql_type in API_RAW_COLUMNS)
    _run(con, "CREATE SCHEMA IF NOT EXISTS raw")
    _run(
        con,
        f"CREATE TABLE IF NOT EXISTS raw.{quote_ident(table)} "
        f"({columns}, PRIMARY KEY (_source, _key))",
    )


def ensure_api_sync_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create `audit.api_syncs` and `audit.api_checkpoints` if missing (idempotent)."""
    _run(con, "CREATE SCHEMA IF NOT EXISTS audit")
    _run(
        con,
        """
        CREATE TABLE IF NOT EXISTS audit.api_syncs (
            source VARCHAR NOT NULL,
            sync_id VARCHAR PRIMARY KEY,
            started_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ,  -- NULL while the sync is unfinished (resumable)
            run_id VARCHAR  -- the run that started it
        )
        """,
    )
    _run(
        con,
        """
        CREATE TABLE IF NOT EXISTS audit.api_checkpoints (
            source VARCHAR,
            stream VARCHAR,
            scope VARCHAR,  -- '' for a top-level stream, else the parent's id
            sync_id VARCHAR NOT NULL,  -- the sync that last committed a page of it
            state VARCHAR NOT NULL CHECK (state IN ('running', 'done')),
            cursor VARCHAR,  -- where the next page starts, while running
            completed_started_at TIMESTAMPTZ,  -- start of the sync that last completed it
            updated_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (source, stream, scope)
        )
        """,
    )


def content_hash(record: Any) -> str:
    """sha256 of a record's canonical JSON (sorted keys, no spaces, UTF-8): a record sent again
    with its keys in another order hashes the same."""
    canonical = json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ApiSync:
    """One resumable pass over one API source; what connectors ask about their checkpoints
    (it implements `connectors.http.StreamState`) and where their pages are committed."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        source: str,
        sync_id: str,
        started_at: datetime,
        run_id: str,
        *,
        resumed: bool,
    ) -> None:
        self.con = con
        self.source = source
        self.sync_id = sync_id
        self.started_at = started_at  # UTC; the watermark of every stream this sync completes
        self.run_id = run_id  # recorded in _run_id unless commit() is given another
        self.resumed = resumed  # True when this continues a sync an earlier run left unfinished
        self.totals = SyncTotals()
        self._finished = False
        # The source's checkpoints, read once and kept in step with every commit: connectors
        # ask about each stream of each course, and may ask from worker threads, which must
        # not touch the connection.
        self._checkpoints: dict[tuple[str, str], tuple] = {
            (stream, scope): (sync, state, cursor, completed)
            for stream, scope, sync, state, cursor, completed in _run(
                con,
                "SELECT stream, scope, sync_id, state, cursor, completed_started_at "
                "FROM audit.api_checkpoints WHERE source = $source",
                {"source": source},
            )
        }
        self._tables: set[str] = set()

    def __repr__(self) -> str:
        return (
            f"ApiSync(source={self.source!r}, sync_id={self.sync_id!r}, "
            f"started_at={self.started_at.isoformat()}, resumed={self.resumed})"
        )

    @classmethod
    def begin(
        cls,
        con: duckdb.DuckDBPyConnection,
        source: str,
        run_id: str,
        now: datetime | None = None,
    ) -> ApiSync:
        """The source's unfinished sync, resumed (same sync_id and started_at), or else a new
        sync started at `now` (tz-aware; default the current time)."""
        started_at = _utc(now) if now is not None else datetime.now(UTC)
        ensure_api_sync_tables(con)
        unfinished = _run(
            con,
            "SELECT sync_id, started_at FROM audit.api_syncs "
            "WHERE source = $source AND finished_at IS NULL ORDER BY started_at DESC LIMIT 1",
            {"source": source},
        )
        if unfinished:
            sync_id, resumed_from = unfinished[0]
            return cls(con, source, sync_id, _utc(resumed_from), run_id, resumed=True)
        sync_id = f"{source}-{started_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        _run(
            con,
            "INSERT INTO audit.api_syncs (source, sync_id, started_at, finished_at, run_id) "
            "VALUES ($source, $sync_id, $started_at, NULL, $run_id)",
            {"source": source, "sync_id": sync_id, "started_at": started_at, "run_id": run_id},
        )
        return cls(con, source, sync_id, started_at, run_id, resumed=False)

    def is_done(self, stream: str, scope: str = "") -> bool:
        """Completed earlier in this (resumed) sync: skip it."""
        row = self._checkpoint(stream, scope)
        return row is not None and row[0] == self.sync_id and row[1] == "done"

    def resume_cursor(self, stream: str, scope: str = "") -> str | None:
        """An interrupted stream's saved cursor in this sync, else None (start from the top)."""
        row = self._checkpoint(stream, scope)
        if row is not None and row[0] == self.sync_id and row[1] == "running":
            return row[2]
        return None

    def watermark(self, stream: str, scope: str = "") -> datetime | None:
        """Start time (UTC) of the sync in which this stream+scope last completed; None if it
        never has. Kept across syncs: incremental connectors fetch what changed since."""
        row = self._checkpoint(stream, scope)
        return _utc(row[3]) if row is not None and row[3] is not None else None

    def commit(self, page: StreamPage, run_id: str | None = None) -> PageCounts:
        """Write one page into `raw.<page.table>` and move its stream's checkpoint, in one
        transaction: both happen or neither does (a failed write leaves the checkpoint where it
        was). Duplicate keys within a page: the last one wins."""
        return self.commit_many([page], run_id)[0]

    def commit_many(self, pages: list[StreamPage], run_id: str | None = None) -> list[PageCounts]:
        """Commit several pages (of any streams) in one transaction, each with its checkpoint:
        one write to disk and a few statements per table instead of three per page, all or
        nothing. The counts are what committing the pages one by one would have said."""
        if self._finished:
            raise RuntimeError(f"sync {self.sync_id} is finished; begin a new one to commit")
        for table in {page.table for page in pages} - self._tables:
            ensure_api_raw_table(self.con, table)
            self._tables.add(table)
        rows = [_page_rows(page) for page in pages]
        now = datetime.now(UTC)
        counted: list[PageCounts] = [PageCounts(0, 0, 0)] * len(pages)
        self.con.begin()
        try:
            for table in dict.fromkeys(page.table for page in pages):
                indexes = [i for i, page in enumerate(pages) if page.table == table]
                for i, counts in self._write_table(table, indexes, rows, now, run_id).items():
                    counted[i] = counts
            self._write_checkpoints(pages, now)
            self.con.commit()
        except BaseException:
            # The connection may already be gone (that may be the failure): keep the first error.
            with suppress(duckdb.Error):
                self.con.rollback()
            raise
        for page, counts in zip(pages, counted, strict=True):
            done = page.cursor is None
            previous = self._checkpoints.get((page.stream, page.scope))
            self._checkpoints[(page.stream, page.scope)] = (
                self.sync_id,
                "done" if done else "running",
                page.cursor,
                self.started_at if done else (previous[3] if previous else None),
            )
            self.totals.add(page.table, counts)
        return counted

    def _write_table(
        self,
        table: str,
        indexes: list[int],
        rows: list[tuple[list[str], list[str], list[str]]],
        now: datetime,
        run_id: str | None,
    ) -> dict[int, PageCounts]:
        """Upsert the rows of the pages at `indexes` (all of `table`), inside the caller's
        transaction; their counts, page by page, as if committed in order."""
        target = f"raw.{quote_ident(table)}"
        keys = list({key for i in indexes for key in rows[i][0]})
        stored = dict(
            _run(
                self.con,
                f"SELECT _key, _content_hash FROM {target} "
                "WHERE _source = $source AND _key IN (SELECT unnest($keys::VARCHAR[]))",
                {"source": self.source, "keys": keys},
            )
        )
        counts: dict[int, PageCounts] = {}
        final: dict[str, tuple[str, str]] = {}  # key → (record, hash), the last page's
        for i in indexes:
            inserted = updated = unchanged = 0
            for key, record, digest in zip(*rows[i], strict=True):
                before = stored.get(key)
                if before is None:
                    inserted += 1
                elif before != digest:
                    updated += 1
                else:
                    unchanged += 1
                stored[key] = digest
                final[key] = (record, digest)
            counts[i] = PageCounts(inserted=inserted, updated=updated, unchanged=unchanged)
        if final:
            _run(
                self.con,
                f"""
                INSERT INTO {target}
                    (_source, _key, _record, _content_hash, _batch_id, _run_id, _loaded_at)
                SELECT $source, key, record::JSON, hash, $batch_id, $run_id, $loaded_at
                FROM (
                    SELECT unnest($keys::VARCHAR[]) AS key,
                           unnest($records::VARCHAR[]) AS record,
                           unnest($hashes::VARCHAR[]) AS hash
                )
                ON CONFLICT (_source, _key) DO UPDATE SET
                    _record = excluded._record,
                    _content_hash = excluded._content_hash,
                    _batch_id = excluded._batch_id,
                    _run_id = excluded._run_id,
                    _loaded_at = excluded._loaded_at
                -- an unchanged record keeps its row as it was: nothing downstream sees it move
                WHERE _content_hash <> excluded._content_hash
                """,
                {
                    "source": self.source,
                    "keys": list(final),
                    "records": [record for record, _ in final.values()],
                    "hashes": [digest for _, digest in final.values()],
                    "batch_id": self.sync_id,
                    "run_id": run_id or self.run_id,
                    "loaded_at": now,
                },
            )
        return counts

    def _write_checkpoints(self, pages: list[StreamPage], now: datetime) -> None:
        """Every page's stream moves to where that page leaves it (the last page of a stream
        in the batch wins), inside the caller's transaction."""
        last = {(page.stream, page.scope): page for page in pages}
        _run(
            self.con,
            """
            INSERT INTO audit.api_checkpoints
                (source, stream, scope, sync_id, state, cursor, completed_started_at,
                 updated_at)
            SELECT $source, stream, scope, $sync_id, state, cursor, completed, $now
            FROM (
                SELECT unnest($streams::VARCHAR[]) AS stream,
                       unnest($scopes::VARCHAR[]) AS scope,
                       unnest($states::VARCHAR[]) AS state,
                       unnest($cursors::VARCHAR[]) AS cursor,
                       unnest($completed::TIMESTAMPTZ[]) AS completed
            )
            ON CONFLICT (source, stream, scope) DO UPDATE SET
                sync_id = excluded.sync_id,
                state = excluded.state,
                cursor = excluded.cursor,
                -- a stream still running keeps the watermark of its last completion
                completed_started_at =
                    COALESCE(excluded.completed_started_at, completed_started_at),
                updated_at = excluded.updated_at
            """,
            {
                "source": self.source,
                "sync_id": self.sync_id,
                "now": now,
                "streams": [stream for stream, _ in last],
                "scopes": [scope for _, scope in last],
                "states": ["done" if p.cursor is None else "running" for p in last.values()],
                "cursors": [p.cursor for p in last.values()],
                "completed": [self.started_at if p.cursor is None else None for p in last.values()],
            },
        )

    def finish(self) -> None:
        """Mark the sync finished: the next `begin` for this source starts a new sync."""
        _run(
            self.con,
            "UPDATE audit.api_syncs SET finished_at = $now WHERE sync_id = $sync_id",
            {"now": datetime.now(UTC), "sync_id": self.sync_id},
        )
        self._finished = True

    def _checkpoint(self, stream: str, scope: str) -> tuple | None:
        return self._checkpoints.get((stream, scope))


def _page_rows(page: StreamPage) -> tuple[list[str], list[str], list[str]]:
    """Keys, record texts and content hashes of a page, one per key (the last one wins)."""
    last: dict[str, Any] = {}
    for key, record in page.records:
        last[str(key)] = record
    keys, texts, hashes = [], [], []
    for key, record in last.items():
        try:
            # Keys stay in the order the source sent them: this is the record as received.
            text = json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            digest = content_hash(record)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"record {key!r} of {page.stream} (scope {page.scope!r}) cannot be stored as "
                f"JSON: {exc}. The connector must yield records as parsed from the API."
            ) from None
        keys.append(key)
        texts.append(text)
        hashes.append(digest)
    return keys, texts, hashes


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no time zone; pass a tz-aware datetime (UTC)")
    return moment.astimezone(UTC)


def _run(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> list[tuple]:
    # DuckDB 2.0 results stream and hold the connection until fully fetched.
    return con.execute(sql, params or {}).fetchall()
