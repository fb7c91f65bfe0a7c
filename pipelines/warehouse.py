"""Shared warehouse plumbing for the Dagster assets: the one-writer pool, previews, publishing."""

import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from models.personal_data import is_personal_column

# DuckDB allows one read-write process at a time: every asset that writes the warehouse takes a
# slot in this pool, whose limit is 1 (dagster.yaml), and the nightly job runs in-process.
WAREHOUSE_POOL = "warehouse"

# Schemas a downstream dashboard may read; raw and staging still carry names and emails.
PUBLISHED_SCHEMAS = ("core", "marts", "audit")


class WarehouseLockedError(RuntimeError):
    """Another process holds the live warehouse file."""


class WarehouseResource(DuckDBResource):
    """The district's live DuckDB warehouse: opened read-write by one step at a time.

    Within a run, the steps Dagster executes in one process share one connection, opened by
    the first step that asks and closed when Dagster tears the run's resources down: opening
    the warehouse (its catalog of a few hundred tables) and closing it (a checkpoint) cost more
    than many of the steps themselves. `pathways run` executes in process, so a night opens the
    file once; under the multiprocess executor each step process still opens and closes its
    own. Between steps the shared connection is left as a fresh one would be: no open
    transaction, no temporary tables or views. Used outside a run (a sensor, a script), every
    `get_connection` opens and closes the file."""

    lock_wait_seconds: float = 30.0
    _in_run: bool = PrivateAttr(default=False)
    _shared: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._in_run = True

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self._in_run = False
        shared, self._shared = self._shared, None
        if shared is not None:
            shared.close()

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection to the warehouse; one opened for this call is always closed, even when
        the step fails, so the next step (or the end-of-run summary) can open the file again."""
        if not self._in_run:
            con = self._open()
            try:
                yield con
            finally:
                con.close()
            return
        if self._shared is None:
            self._shared = self._open()
        try:
            yield self._shared
        finally:
            self._release_shared()

    def _open(self) -> duckdb.DuckDBPyConnection:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_wait_seconds
        delay = 0.2
        while True:
            try:
                return duckdb.connect(self.database, config=dict(self.connection_config))
            except duckdb.IOException as exc:
                if time.monotonic() >= deadline:
                    raise WarehouseLockedError(
                        f"{self.database} is locked by another process ({exc}). Only Pathways "
                        "should open the live warehouse; dashboards read the published copy."
                    ) from exc
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _release_shared(self) -> None:
        """Leave the shared connection as a new one would be for the next step: a transaction a
        failed step left open is rolled back, its temporary tables and views dropped. A
        connection DuckDB can no longer use is closed, and the next step opens the file anew."""
        con = self._shared
        if con is None:
            return
        try:
            with suppress(duckdb.TransactionException):
                con.execute("ROLLBACK")
            temporary = con.execute(
                "SELECT 'TABLE', table_name FROM duckdb_tables() WHERE temporary "
                "UNION ALL "
                "SELECT 'VIEW', view_name FROM duckdb_views() WHERE temporary AND NOT internal"
            ).fetchall()
            for kind, name in temporary:
                con.execute(f"DROP {kind} IF EXISTS temp.{quote_ident(name)}")
        except duckdb.Error:
            self._shared = None
            with suppress(duckdb.Error):
                con.close()


def quote_ident(name: str) -> str:
    """A DuckDB identifier, quoted (names here come from our own files, never from input)."""
    return '"' + name.replace('"', '""') + '"'


def table_row_count(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> int:
    """Rows in `schema.table`."""
    return con.execute(
        f"SELECT count(*) FROM {quote_ident(schema)}.{quote_ident(table)}"
    ).fetchone()[0]


def preview_markdown(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, limit: int = 5
) -> str:
    """A few rows of a table as Markdown, with every personal column left out."""
    columns = [
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, table],
        ).fetchall()
    ]
    shown = [c for c in columns if not is_personal_column(c)]
    hidden = len(columns) - len(shown)
    if not shown:
        return f"_{hidden} columns, all personal; no preview._"
    select = ", ".join(quote_ident(c) for c in shown)
    frame = con.execute(
        f"SELECT {select} FROM {quote_ident(schema)}.{quote_ident(table)} LIMIT {int(limit)}"
    ).df()
    note = f"\n\n_{hidden} personal column(s) not shown._" if hidden else ""
    return frame.to_markdown(index=False) + note


def publish_copy(
    con: duckdb.DuckDBPyConnection,
    published_path: Path,
    storage_version: str,
    schemas: tuple[str, ...] = PUBLISHED_SCHEMAS,
) -> dict[str, int]:
    """Write a read-only copy of the published schemas and swap it in atomically.

    The copy is written beside its final path and renamed over it, so a dashboard reading the
    published file sees last night's or tonight's warehouse, never half of one, and never holds
    a lock the pipeline needs. Returns rows per published table.
    """
    published_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{published_path.name}.", suffix=".tmp", dir=published_path.parent
    )
    os.close(fd)
    os.unlink(tmp_name)  # DuckDB must create the file itself
    tables = con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_type = 'BASE TABLE' "
        "AND list_contains(?, table_schema) ORDER BY 1, 2",
        [list(schemas)],
    ).fetchall()
    counts: dict[str, int] = {}
    con.execute(
        f"ATTACH ? AS published_copy (STORAGE_VERSION {quote_literal(storage_version)})",
        [tmp_name],
    )
    try:
        try:
            for schema in sorted({s for s, _ in tables}):
                con.execute(f"CREATE SCHEMA IF NOT EXISTS published_copy.{quote_ident(schema)}")
            for schema, table in tables:
                name = f"{quote_ident(schema)}.{quote_ident(table)}"
                con.execute(f"CREATE TABLE published_copy.{name} AS SELECT * FROM {name}")
                # The copy keeps what each table and column means, for the dashboards' builders.
                description, columns = table_comments(con, schema, table)
                comment_table(con, schema, table, description, columns, catalog="published_copy")
                counts[f"{schema}.{table}"] = table_row_count(con, schema, table)
        finally:
            con.execute("DETACH published_copy")
        os.replace(tmp_name, published_path)
    except BaseException:
        # Yesterday's published copy stays; only the half-written one goes.
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return counts


def quote_literal(value: str) -> str:
    """A SQL string literal for an option that cannot take a bound parameter."""
    return "'" + value.replace("'", "''") + "'"


def comment_table(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    description: str | None,
    columns: Mapping[str, str],
    catalog: str | None = None,
) -> None:
    """Write what a table and each of its columns mean into DuckDB's catalog (COMMENT ON), so
    the data dictionary and any SQL client show them; a Python-built mart calls this right after
    it (re)creates its table."""
    target = f"{quote_ident(schema)}.{quote_ident(table)}"
    if catalog is not None:
        target = f"{quote_ident(catalog)}.{target}"
    # COMMENT takes no bound parameters; the text comes from our own code.
    if description:
        con.execute(f"COMMENT ON TABLE {target} IS {quote_literal(description)}")
    for column, doc in columns.items():
        con.execute(f"COMMENT ON COLUMN {target}.{quote_ident(column)} IS {quote_literal(doc)}")


def table_comments(
    con: duckdb.DuckDBPyConnection, schema: str, table: str
) -> tuple[str | None, dict[str, str]]:
    """What a table of the live warehouse and each of its documented columns mean."""
    found = con.execute(
        "SELECT comment FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ?",
        [schema, table],
    ).fetchall()
    columns = con.execute(
        "SELECT column_name, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = ? AND table_name = ? "
        "AND comment IS NOT NULL AND comment <> ''",
        [schema, table],
    ).fetchall()
    return (found[0][0] if found else None), dict(columns)
