"""A SIS's relational database (a reporting replica of PowerSchool, Infinite Campus, Skyward …)
into `raw.oneroster_*`, through exactly the checks a OneRoster CSV export goes through.

`pathways.yaml` maps each OneRoster entity to a table, a view or a query of the SIS, column by
column. Each entity's rows stream from the database in batches (a server-side cursor), in
sourcedId order so a row's ordinal is stable, and are appended into the same next snapshot a CSV
file is read into, in the raw table's shape. From there the OneRoster CSV connector's own
machinery takes over (`_ExportLoad`: row checks, duplicates, references, rejects, the
deletion-spike hold, the swap), so one set of rules governs both sources. An entity with a
last-modified column is pulled in full once, then only as the rows changed since, applied as a
delta; its watermark is saved in the same transaction as the load.

Pathways never writes to the SIS: the session is opened read-only where the driver allows it
(PostgreSQL, MariaDB / MySQL), statements time out, and the role in the URL should only be able
to SELECT. A failure names the entity, the table and what to check, and shows the database URL
with its password masked; the driver's own exception is not chained, so nothing the driver said
can carry the password further. No Dagster here: the SIS asset calls `load_sql_sis`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import repeat
from typing import Any

import duckdb
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from connectors.oneroster_csv import (
    _INCOMING,
    FileLoad,
    OneRosterLoad,
    _closest,
    _ExportLoad,
    _FilePlan,
    _Header,
    _literal,
    _next_snapshot,
    _run,
    ensure_oneroster_tables,
    raw_table,
)
from models.config import SQL_ONEROSTER_VERSION, SqlConstant, SqlEntity, SqlSource
from models.oneroster_spec import SpecColumn, snake_case, spec_columns

# Called after each batch with the entity's label, the batch's rows and the entity's rows so far.
BatchCallback = Callable[[str, int, int], None]

_BATCH = "temp.sis_sql_batch"


class SqlSourceError(Exception):
    """The SIS database could not be read: unreachable, refused, too slow, or a table or column
    the map names is not there. The message names the entity and what to check, never the
    password."""


@dataclass(frozen=True)
class SqlSisSettings:
    """Which SIS database, which entities from where, and how patiently to read them."""

    # The SQLAlchemy URL with its password; a URL's repr masks the password, and the field is
    # left out of this object's repr all the same.
    url: sa.URL = field(repr=False)
    entities: Mapping[str, SqlEntity]  # OneRoster file stem → table or query and column map
    schema: str | None = None  # of tables named without one
    batch_size: int = 50_000
    connect_timeout: float = 10.0
    query_timeout: float = 1800.0
    overlap_minutes: int = 60
    max_deletion_share: float = 0.2  # a full pull that removes more of the learners is held
    # Per-entity shares and a person's approval of one held batch, as OneRosterCsvSettings.
    max_deletion_shares: Mapping[str, float] = field(default_factory=dict)
    approve_deletions_for_batch: str | None = None
    approved_by: str = ""
    source: str = "sis"  # source name recorded in _source / audit
    url_env: str = "SIS_DATABASE_URL"  # where the URL came from, named in messages

    @classmethod
    def from_source(
        cls, source: SqlSource, environ: Mapping[str, str] | None = None
    ) -> SqlSisSettings:
        """Settings for a `kind: sql` source, its URL read from the variable it names."""
        return cls(
            url=url_from_env(source.url_env, os.environ if environ is None else environ),
            entities=source.entity_map(),
            schema=source.db_schema,
            batch_size=source.batch_size,
            connect_timeout=source.connect_timeout,
            query_timeout=source.query_timeout,
            overlap_minutes=source.overlap_minutes,
            max_deletion_share=source.max_deletion_share,
            max_deletion_shares=dict(source.max_deletion_shares),
            url_env=source.url_env,
        )

    @property
    def shown_url(self) -> str:
        """The URL as messages show it: the password masked."""
        return self.url.render_as_string(hide_password=True)


def url_from_env(name: str, environ: Mapping[str, str]) -> sa.URL:
    """The SQLAlchemy URL held by an environment variable; its value is never echoed."""
    value = environ.get(name, "").strip()
    if not value:
        raise SqlSourceError(
            f"the environment variable {name} (sources.sis.url_env) is not set; set it to the "
            "SIS database's SQLAlchemy URL, e.g. "
            "postgresql://pathways_reader:<password>@sis-replica.example.org:5432/sis"
        )
    try:
        return sa.make_url(value)
    except (sa.exc.ArgumentError, ValueError):
        raise SqlSourceError(
            f"{name} does not hold a SQLAlchemy URL (dialect+driver://user:password@host:port/"
            "database); its value is not shown here"
        ) from None


def sis_engine(settings: SqlSisSettings) -> sa.Engine:
    """An engine whose sessions are read-only and time out, as far as the driver allows:
    PostgreSQL (psycopg, psycopg2) and MariaDB / MySQL. Other databases rely on the role in
    the URL being able to SELECT only."""
    url = settings.url
    backend, driver = url.get_backend_name(), url.get_driver_name()
    connect_args: dict[str, Any] = {}
    options: dict[str, Any] = {}
    if backend == "postgresql" and driver in ("psycopg", "psycopg2"):
        statement_ms = math.ceil(settings.query_timeout * 1000)
        connect_args = {
            "connect_timeout": max(1, math.ceil(settings.connect_timeout)),
            "application_name": "pathways",
            # Applied by the server when the session starts: every transaction is read-only.
            "options": (f"-c default_transaction_read_only=on -c statement_timeout={statement_ms}"),
            # Notice a network that died silently instead of waiting forever on a fetch.
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        }
        # One snapshot for the whole pull, so an enrollment never names a learner added after
        # the users were read.
        options["isolation_level"] = "REPEATABLE READ"
    elif backend in ("mysql", "mariadb") and driver in ("pymysql", "mysqldb"):
        connect_args = {
            "connect_timeout": max(1, math.ceil(settings.connect_timeout)),
            "read_timeout": math.ceil(settings.query_timeout),
            "write_timeout": math.ceil(settings.query_timeout),
        }
        options["isolation_level"] = "REPEATABLE READ"
    try:
        engine = sa.create_engine(url, poolclass=NullPool, connect_args=connect_args, **options)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise SqlSourceError(
            f"the database driver for {backend}+{driver} is not installed ({exc}); install it "
            "into Pathways' environment, or use postgresql:// (psycopg) or mysql+pymysql://"
        ) from None
    if backend in ("mysql", "mariadb") and driver in ("pymysql", "mysqldb"):
        sa.event.listen(engine, "connect", _mysql_session(settings.query_timeout))
    return engine


def _mysql_session(query_timeout: float) -> Callable[[Any, Any], None]:
    def read_only(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            # Session characteristics, not part of a transaction: nothing rolls them back.
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.execute("SELECT VERSION()")
            if "mariadb" in str(cursor.fetchone()[0]).lower():
                cursor.execute("SET SESSION max_statement_time = %s", (query_timeout,))
            else:  # MySQL: milliseconds, and only SELECTs, which is all Pathways sends
                cursor.execute(
                    "SET SESSION max_execution_time = %s", (math.ceil(query_timeout * 1000),)
                )
        finally:
            cursor.close()

    return read_only


def load_sql_sis(
    con: duckdb.DuckDBPyConnection,
    settings: SqlSisSettings,
    run_id: str,
    loaded_at: datetime,
    on_batch: BatchCallback | None = None,
) -> OneRosterLoad:
    """Pull every mapped entity, validate and load them like a OneRoster export. Applies
    everything in ONE transaction; a failed pull or a held load changes no raw table."""
    ensure_oneroster_tables(con)
    ensure_sql_tables(con)
    plans = _plan_entities(con, settings)
    engine = sis_engine(settings)
    try:
        with _connected(engine, settings) as sis:
            export = _SqlExportLoad(con, settings, sis, run_id, loaded_at, on_batch)
            return export.run(plans)
    finally:
        engine.dispose()


def ensure_sql_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create audit.sis_sql_watermarks if missing: per entity, the newest last-modified value
    a successful pull has seen (idempotent)."""
    _run(con, "CREATE SCHEMA IF NOT EXISTS audit")
    _run(
        con,
        """
        CREATE TABLE IF NOT EXISTS audit.sis_sql_watermarks (
            source VARCHAR,
            entity VARCHAR,
            definition VARCHAR,
            modified_column VARCHAR,
            watermark VARCHAR,
            watermark_type VARCHAR,
            batch_id VARCHAR,
            run_id VARCHAR,
            updated_at TIMESTAMPTZ
        )
        """,
    )


# --- entities: where each comes from and how it is pulled tonight ---------------------------


@dataclass(frozen=True)
class _Watermark:
    """The newest last-modified value seen, as the database gave it."""

    value: date | datetime | int | Decimal | float | str

    @property
    def kind(self) -> str:
        return type(self.value).__name__

    def text(self) -> str:
        return self.value.isoformat() if isinstance(self.value, date) else str(self.value)

    @classmethod
    def parse(cls, kind: str, text: str) -> _Watermark | None:
        readers: dict[str, Callable[[str], Any]] = {
            "datetime": datetime.fromisoformat,
            "date": date.fromisoformat,
            "int": int,
            "Decimal": Decimal,
            "float": float,
            "str": str,
        }
        return cls(readers[kind](text)) if kind in readers else None

    def since(self, overlap: timedelta) -> Any:
        """Rows modified after this are pulled: the watermark less the overlap for times, a
        whole day less for dates, the watermark itself for counters and text."""
        if isinstance(self.value, datetime):
            return self.value - overlap
        if isinstance(self.value, date):
            return self.value - timedelta(days=math.ceil(overlap / timedelta(days=1)))
        return self.value

    def later(self, other: _Watermark | None) -> _Watermark:
        if other is None or type(other.value) is not type(self.value):
            return self
        return self if self.value >= other.value else other


@dataclass(frozen=True)
class _EntityPlan(_FilePlan):
    """An entity mapped to the SIS: a OneRoster file whose rows come from a table or query."""

    entity: SqlEntity | None = None
    label: str = ""  # e.g. "users (sql: sis.students)", in _file, reasons and messages
    since: Any = None  # a delta pulls rows modified after this
    watermark: _Watermark | None = None  # the last successful pull's

    @property
    def loadable(self) -> bool:
        return self.mode in ("bulk", "delta") and self.entity is not None and not self.fault


def _definition(entity: SqlEntity, settings: SqlSisSettings) -> str:
    """Fingerprint of where an entity's rows come from: a watermark only holds for the same."""
    shape = {
        "table": entity.table,
        "query": entity.query,
        "params": entity.params,
        "schema": settings.schema,
        "modified_column": entity.modified_column,
    }
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:16]


def _table_parts(entity: SqlEntity, settings: SqlSisSettings) -> tuple[str | None, str]:
    assert entity.table is not None
    schema, _, name = entity.table.rpartition(".")
    return (schema or settings.schema), name


def _label(stem: str, entity: SqlEntity, settings: SqlSisSettings) -> str:
    if entity.table is None:
        return f"{stem} (sql: query)"
    schema, name = _table_parts(entity, settings)
    return f"{stem} (sql: {schema + '.' if schema else ''}{name})"


def _plan_entities(con: duckdb.DuckDBPyConnection, settings: SqlSisSettings) -> list[_FilePlan]:
    """Every OneRoster file: mapped entities bulk, or delta when an incremental entity has a
    watermark from a successful pull of the same definition; the rest absent (kept)."""
    marks = {
        entity: (definition, _Watermark.parse(kind, text))
        for entity, definition, kind, text in _run(
            con,
            "SELECT entity, definition, watermark_type, watermark FROM audit.sis_sql_watermarks "
            "WHERE source = $source",
            {"source": settings.source},
        )
    }
    overlap = timedelta(minutes=settings.overlap_minutes)
    plans: list[_FilePlan] = []
    for file in spec_columns(SQL_ONEROSTER_VERSION):
        stem = file.removesuffix(".csv")
        entity = settings.entities.get(stem)
        if entity is None:
            plans.append(_FilePlan(file, "absent", None))
            continue
        label = _label(stem, entity, settings)
        definition, watermark = marks.get(stem, ("", None))
        if entity.modified_column and watermark and definition == _definition(entity, settings):
            plans.append(
                _EntityPlan(
                    file,
                    "delta",
                    None,
                    entity=entity,
                    label=label,
                    since=watermark.since(overlap),
                    watermark=watermark,
                )
            )
        else:
            plans.append(_EntityPlan(file, "bulk", None, entity=entity, label=label))
    return plans


# --- reading the SIS ----------------------------------------------------------------------------


def _attempt(
    action: Callable[[], Any],
    settings: SqlSisSettings,
    what: str,
    rows: Callable[[], int] = lambda: 0,
) -> Any:
    """Run a call to the SIS; its failure becomes a SqlSourceError raised outside the except
    block, so the driver's exception (whose message may hold anything) is not even kept as
    its context, and the cursors it held are let go at once."""
    failure = None
    try:
        return action()
    except sa.exc.SQLAlchemyError as exc:
        failure = _sis_error(exc, settings, what, rows=rows())
    raise failure


@contextmanager
def _connected(engine: sa.Engine, settings: SqlSisSettings) -> Iterator[sa.Connection]:
    connection = _attempt(engine.connect, settings, "connecting to the SIS database")
    try:
        yield connection
    finally:
        _let_go(connection)


def _let_go(connection: sa.Connection) -> None:
    """Close the SIS connection (its read-only transaction ends with it), even a dead one."""
    try:
        connection.close()
    except sa.exc.SQLAlchemyError:
        # A connection the server already dropped has nothing left to close.
        connection.invalidate()


@dataclass(frozen=True)
class _Pull:
    """How one entity's rows are read and turned into raw rows."""

    statement: sa.Select
    # Per raw column (in header.read_as order): the result column it comes from, or a constant.
    sources: tuple[int | str | None, ...]
    converters: tuple[Callable[[Any], str | None], ...]
    modified: int | None  # result column of the last-modified value


class _SqlExportLoad(_ExportLoad):
    """The CSV connector's load, fed from the SIS: the column map stands where the header
    check stands, and every entity is pulled before the load's transaction opens."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        settings: SqlSisSettings,
        sis: sa.Connection,
        run_id: str,
        loaded_at: datetime,
        on_batch: BatchCallback | None,
    ) -> None:
        # The batch id follows the rows pulled, so it is only known once they all are.
        super().__init__(con, settings, SQL_ONEROSTER_VERSION, "", run_id, loaded_at)  # type: ignore[arg-type]
        self.sql_settings = settings
        self.sis = sis
        self.on_batch = on_batch
        self.labels: dict[str, str] = {}
        self.pulls: dict[str, _Pull] = {}
        self.marks: dict[str, _Watermark | None] = {}  # newest last-modified value pulled

    def run(self, plans: list[_FilePlan]) -> OneRosterLoad:
        self.labels = {p.file: p.label for p in plans if isinstance(p, _EntityPlan)}
        return super().run(plans)

    def _display(self, file: str) -> str:
        return self.labels.get(file, file.removesuffix(".csv"))

    def _rejected_file(self) -> str:
        cases = " ".join(
            f"WHEN {_literal(file)} THEN {_literal(label)}" for file, label in self.labels.items()
        )
        return f"CASE file {cases} ELSE file END" if cases else "file"

    # -- the column map stands where the header check stands ---------------------------------

    def _checked_header(self, plan: _FilePlan) -> tuple[_Header | None, str]:
        """Every SIS column the map names must be in the table's or query's result (asked for
        with a query that returns no rows); a missing one fails the entity, like a bad header
        fails a file."""
        assert isinstance(plan, _EntityPlan) and plan.entity is not None
        entity = plan.entity
        probe = sa.select(sa.text("*")).select_from(self._origin(plan)).where(sa.false())

        def result_columns() -> list[str]:
            with self.sis.execute(probe) as result:
                return list(result.keys())

        found = _attempt(result_columns, self.sql_settings, f"reading {plan.label}")
        spec = {c.name: c for c in spec_columns(self.version)[plan.file]}
        column_map = entity.column_map
        faults: list[str] = []

        def resolve(wanted: str, role: str) -> str | None:
            if wanted in found:
                return wanted
            by_lower = [c for c in found if c.lower() == wanted.lower()]
            if len(by_lower) == 1:
                return by_lower[0]
            close = _closest(wanted, found)
            fault = f"column '{wanted}' ({role}) is not in the result of {plan.label}"
            fault += f"; did you mean '{close}'?" if close else "."
            if not close:
                fault += f" It has: {', '.join(found[:12])}{' …' if len(found) > 12 else ''}."
            faults.append(fault)
            return None

        names = [c for c in spec if c in column_map]
        read_as, keys, chosen = list(names), [], []
        for name in names:
            given = column_map[name]
            chosen.append(
                given if isinstance(given, SqlConstant) else resolve(given, f"mapped to {name}")
            )
        for key, column in entity.metadata.items():
            read_as.append(f"_m{len(keys)}")
            keys.append(key)
            chosen.append(resolve(column, f"mapped to metadata.{key}"))
        modified = None
        if entity.modified_column:
            modified = resolve(entity.modified_column, "modified_column")
        if plan.mode == "delta":
            for name in ("status", "dateLastModified"):
                if name not in column_map:
                    faults.append(f"a delta needs {name} mapped.")
        if faults:
            return None, (
                f"{plan.label}: "
                + " ".join(faults)
                + " Fix the column map in pathways.yaml (sources.sis.entities."
                + plan.file.removesuffix(".csv")
                + "). The entity was not loaded; its last snapshot was kept."
            )
        formats = [spec[n] for n in names] + [None] * len(keys)
        self.pulls[plan.file] = self._planned_pull(plan, names, chosen, formats, modified)
        header_names = names + [f"metadata.{k}" for k in keys]
        return _Header(tuple(header_names), tuple(read_as), tuple(keys)), ""

    def _planned_pull(
        self,
        plan: _EntityPlan,
        names: list[str],
        chosen: list[str | SqlConstant],
        formats: list[SpecColumn | None],
        modified: str | None,
    ) -> _Pull:
        """The SELECT of the SIS columns the map chose, in sourcedId order, only the rows
        changed since the watermark for a delta; and how each becomes a raw column."""
        selected = sorted({c for c in chosen if isinstance(c, str)} | ({modified} - {None}))
        index = {c: i for i, c in enumerate(selected)}
        origin = self._origin(plan, selected)
        statement = sa.select(*(origin.c[c] for c in selected))
        sourced_id = chosen[names.index("sourcedId")]
        if isinstance(sourced_id, str):
            # Sorted by sourcedId, a row's ordinal (its `line`) stays put from night to night.
            statement = statement.order_by(origin.c[sourced_id])
        if plan.mode == "delta" and modified is not None:
            # Untyped, so the driver sends the watermark as the type the database gave it.
            since = sa.bindparam("pathways_since", plan.since, type_=sa.types.NullType())
            statement = statement.where(origin.c[modified] > since)
        return _Pull(
            statement=statement,
            sources=tuple(c.const if isinstance(c, SqlConstant) else index[c] for c in chosen),
            converters=tuple(_converter(f) for f in formats),
            modified=None if modified is None else index[modified],
        )

    def _origin(
        self, plan: _EntityPlan, columns: list[str] | tuple[str, ...] = ()
    ) -> sa.TableClause | sa.Subquery:
        """The entity's table, or its query as a subquery, with the given result columns."""
        entity = plan.entity
        assert entity is not None
        named = [sa.column(c) for c in columns]
        if entity.table is not None:
            schema, name = _table_parts(entity, self.sql_settings)
            return sa.table(name, *named, schema=schema)
        # The district's own SELECT, wrapped so its columns can be picked, filtered and sorted;
        # its :placeholders are bound, never pasted in.
        query = entity.query.strip().rstrip(";")  # type: ignore[union-attr]
        try:
            text = sa.text(query).bindparams(**entity.params)
        except sa.exc.ArgumentError as exc:
            raise SqlSourceError(
                f"{plan.label}: {exc}; every key of params must appear in the query as :name"
            ) from None
        return text.columns(*named).subquery("pathways_entity")

    # -- every entity is pulled before the load's transaction --------------------------------

    def _stage_bulk(self, plans: list[_FilePlan]) -> None:
        """Pull each entity: a full pull straight into its next snapshot (in the raw table's
        shape), an incremental one into a temp table the delta is applied from. The SIS is let
        go before any row is checked; then the batch id, which follows the rows, is stamped on
        the snapshots in a transaction of their own (as the CSV load numbers its lines)."""
        digest = hashlib.sha256()
        try:
            for plan in plans:
                assert isinstance(plan, _EntityPlan)
                digest.update(f"{plan.file}\n{plan.mode}\n".encode())
                self._pull(plan, self.headers[plan.file], digest)
        finally:
            _let_go(self.sis)
        self.batch_id = digest.hexdigest()[:16]
        snapshots = [_next_snapshot(p.file) for p in plans if p.mode == "bulk"]
        if not snapshots:
            return
        _run(self.con, "BEGIN TRANSACTION")
        try:
            for snapshot in snapshots:
                _run(self.con, f"UPDATE {snapshot} SET _batch_id = $b", {"b": self.batch_id})
            _run(self.con, "COMMIT")
        except BaseException:
            _run(self.con, "ROLLBACK")
            raise

    def _pull(self, plan: _EntityPlan, header: _Header, digest: Any) -> None:
        """Stream one entity into DuckDB a batch at a time: a full pull through a batch table
        into its next snapshot, an incremental one into its delta stage."""
        pull = self.pulls[plan.file]
        columns = ", ".join(f'"{c}" VARCHAR' for c in header.read_as)
        snapshot = _next_snapshot(plan.file)
        # Rows land in the batch table as read, then join the snapshot in the raw table's shape.
        select, params = self._raw_row(plan, header, "_line")
        if plan.mode == "bulk":
            self.next_snapshots.append(snapshot)
            _run(
                self.con,
                f"CREATE OR REPLACE TABLE {snapshot} AS SELECT * FROM {raw_table(plan.file)} "
                "LIMIT 0",
            )
            target = _BATCH
        else:
            target = _delta_stage(plan.file)
            self.next_snapshots.append(target)
        _run(
            self.con,
            f"CREATE OR REPLACE TEMP TABLE {target.removeprefix('temp.')} "
            f"({columns}, _line BIGINT)",
        )
        pulled = {"rows": 0, "newest": None}
        plan_of = list(zip(pull.sources, pull.converters, strict=True))

        def stream() -> None:
            options = {"yield_per": self.sql_settings.batch_size}
            with (
                self.sis.execution_options(**options).execute(pull.statement) as result,
                self.con.appender(target.removeprefix("temp.")) as appender,
            ):
                for partition in result.partitions(self.sql_settings.batch_size):
                    # Column by column: one converter over a column's values, then rows again.
                    read = list(zip(*partition, strict=True))
                    first = pulled["rows"] + 1
                    pulled["rows"] += len(partition)
                    batch = list(
                        zip(
                            *(
                                map(convert, read[s]) if isinstance(s, int) else repeat(s)
                                for s, convert in plan_of
                            ),
                            range(first, pulled["rows"] + 1),
                            strict=False,  # a constant's column repeats without end
                        )
                    )
                    if pull.modified is not None:
                        seen = [v for v in read[pull.modified] if v is not None]
                        if seen:
                            pulled["newest"] = _Watermark(max(seen)).later(pulled["newest"])
                    digest.update(repr(batch).encode())
                    appender.append_rows(batch)
                    appender.flush()
                    if plan.mode == "bulk":
                        _run(
                            self.con,
                            f"INSERT INTO {snapshot} BY NAME SELECT {select} FROM {_BATCH}",
                            params,
                        )
                        _run(self.con, f"DELETE FROM {_BATCH}")
                    if self.on_batch is not None:
                        self.on_batch(plan.label, len(batch), pulled["rows"])

        try:
            _attempt(stream, self.sql_settings, f"reading {plan.label}", lambda: pulled["rows"])
        finally:
            if plan.mode == "bulk":
                _run(self.con, f"DROP TABLE IF EXISTS {_BATCH}")
        self.marks[plan.file] = pulled["newest"]

    def _stage_delta(self, plan: _FilePlan, header: _Header) -> None:
        """The pulled changes become the staged rows the delta is checked and applied from."""
        self.incoming = _INCOMING
        staged = _delta_stage(plan.file)
        _run(
            self.con,
            f"CREATE OR REPLACE TEMP TABLE {_INCOMING.removeprefix('temp.')} AS "
            f"SELECT * FROM {staged}",
        )
        _run(self.con, f"DROP TABLE {staged}")

    def _record_structural_rejects(self, plan: _FilePlan, header: _Header) -> None:
        """A database row always has its columns: there is no malformed row to record."""

    # -- the watermark moves with the load, in its transaction -------------------------------

    def _record(self, plans: list[_FilePlan], loads: dict[str, FileLoad]) -> None:
        super()._record(plans, loads)
        for plan in plans:
            if not isinstance(plan, _EntityPlan) or plan.entity is None:
                continue
            newest = self.marks.get(plan.file)
            if not plan.entity.modified_column or newest is None:
                continue
            if loads[plan.file].status != "loaded":
                continue  # a held or failed pull must be pulled again, in full or from before
            mark = newest.later(plan.watermark)
            stem = plan.file.removesuffix(".csv")
            key = {"source": self.settings.source, "entity": stem}
            _run(
                self.con,
                "DELETE FROM audit.sis_sql_watermarks WHERE source = $source AND entity = $entity",
                key,
            )
            _run(
                self.con,
                """
                INSERT INTO audit.sis_sql_watermarks VALUES (
                    $source, $entity, $definition, $modified_column, $watermark, $kind,
                    $batch_id, $run_id, $updated_at
                )
                """,
                {
                    **key,
                    "definition": _definition(plan.entity, self.sql_settings),
                    "modified_column": plan.entity.modified_column,
                    "watermark": mark.text(),
                    "kind": mark.kind,
                    "batch_id": self.batch_id,
                    "run_id": self.run_id,
                    "updated_at": self.loaded_at,
                },
            )


def _delta_stage(file: str) -> str:
    return f"temp.sis_sql_delta_{snake_case(file.removesuffix('.csv'))}"


# --- values: as OneRoster CSV text, so the same checks read them ------------------------------


def _converter(column: SpecColumn | None) -> Callable[[Any], str | None]:
    """How a database value becomes the text a OneRoster file would carry in this column."""
    if column is not None and (column.enumeration == "boolean" or column.format == "Boolean"):
        return _boolean
    if column is not None and column.format == "Date":
        return _date
    if column is not None and column.format == "DateTime":
        return _datetime
    return _text


def _text(value: Any) -> str | None:
    if value is None or type(value) is str:
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (list, tuple)):
        # A PostgreSQL array (e.g. array_agg of guardian ids) is a OneRoster comma list.
        return ",".join(str(_text(v)) for v in value if v is not None)
    return str(value)


def _boolean(value: Any) -> str | None:
    # MariaDB and MySQL have no boolean type: BOOLEAN is TINYINT(1) and arrives as 0 / 1.
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return "true" if value else "false"
    return _text(value)


def _date(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.date().isoformat()
    return _text(value)


def _datetime(value: Any) -> str | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return f"{value.isoformat()}T00:00:00"
    return _text(value)


# --- errors: what happened, and what to check ---------------------------------------------------


@dataclass(frozen=True)
class _Fault:
    """A kind of failure: how to recognise it, what happened, and what to check."""

    codes: tuple[str, ...]  # SQLSTATEs (PostgreSQL) or error numbers (MariaDB / MySQL)
    phrases: tuple[str, ...]  # in the driver's message, for drivers that give no code
    happened: str  # {what}, {timeout}, {after} and {env} are filled in
    check: str


_UNREACHABLE = (
    "the SIS database could not be reached",
    "check the host and port in {env}, that the database server is running and that this "
    "machine may connect to it (firewall, pg_hba.conf, bind-address)",
)
_TIMEOUT = _Fault(
    ("57014", "1969", "3024"),
    ("statement timeout", "max_statement_time", "maximum statement execution time"),
    "reading {what} took longer than sources.sis.query_timeout ({timeout:g} s)",
    "raise query_timeout, or ask the SIS team for an index on the columns the map sorts "
    "and filters by (sourcedId, modified_column)",
)
_FAULTS = (
    _Fault(
        ("28P01", "28000", "1045", "1698"),
        ("password authentication failed", "access denied for user"),
        "the SIS database refused the login",
        "check the user and password in {env}, and that the role may log in from here",
    ),
    _Fault(
        ("3D000", "1049", "1044"),
        ("does not exist", "unknown database"),
        "the database named in {env} does not exist, or the role may not use it",
        "check the database name at the end of {env}",
    ),
    _Fault(
        ("42501", "1142", "1143"),
        ("permission denied", "command denied"),
        "the role in {env} may not read {what}",
        "grant it SELECT on that table or view (GRANT SELECT ON … TO …); Pathways needs "
        "nothing more",
    ),
    _Fault(
        ("42P01", "3F000", "1146"),
        ("doesn't exist",),
        "{what} does not exist in the SIS database",
        "check the table name and sources.sis.schema in pathways.yaml against the SIS, and that "
        "the role in {env} can see it",
    ),
    _Fault(
        ("42703", "1054"),
        ("unknown column",),
        "the query of {what} names a column the SIS does not have",
        "check the query in pathways.yaml against the SIS tables",
    ),
    _Fault(
        ("42601", "1064"),
        ("syntax error",),
        "the query of {what} is not valid SQL for this database",
        "check the query in pathways.yaml; the SIS's own SQL client shows where it goes wrong",
    ),
    _TIMEOUT,
    _Fault(
        ("57P01", "57P02", "57P03", "08006", "08003", "2006", "2013", "1927", "1053"),
        ("server closed the connection", "terminating connection", "consuming input failed"),
        "the connection to the SIS database was lost while reading {what}{after}",
        "nothing was applied and the last snapshot was kept; run again, and if it keeps "
        "happening look at the database server's log and the network between the machines",
    ),
    _Fault(
        ("25006", "1792"),
        ("read-only transaction", "read only transaction"),
        "the SIS database refused a write while reading {what}",
        "Pathways only reads; make the entity's query a plain SELECT",
    ),
    _Fault(("2002", "2003", "08001"), ("connection refused", "timeout expired"), *_UNREACHABLE),
    _Fault(
        ("2005",),
        ("could not translate host name", "name or service not known", "unknown mysql server"),
        "the SIS database's host name could not be resolved",
        "check the host in {env} and this machine's DNS",
    ),
)


def _sis_error(
    exc: Exception, settings: SqlSisSettings, what: str, rows: int | None = None
) -> SqlSourceError:
    """A message a district's IT person can act on, with the password masked everywhere."""
    original = getattr(exc, "orig", None) or exc
    codes = {
        str(c)
        for c in (
            getattr(original, "sqlstate", None),
            getattr(original, "pgcode", None),
            original.args[0] if original.args and isinstance(original.args[0], int) else None,
        )
        if c
    }
    lines = str(original).strip().splitlines()
    said = _scrub(lines[0] if lines else type(original).__name__, settings)
    said = re.sub(r"\s*\(Background on this error at: [^)]*\)", "", said)
    subject = what.removeprefix("reading ")
    if isinstance(exc, sa.exc.StatementError) and not isinstance(exc, sa.exc.DBAPIError):
        # SQLAlchemy refused before sending: a :placeholder without a value in params.
        happened = f"the query of {subject} could not be run"
        check = "give every :name in the query a value under params in pathways.yaml"
    else:
        fault = next((f for f in _FAULTS if codes & set(f.codes)), None)
        if fault is None or ("2013" in codes and "timed out" in said):
            # PyMySQL reports its read timeout as a lost connection that "timed out".
            fault = next(
                (f for f in _FAULTS if any(p in said.lower() for p in f.phrases)),
                _TIMEOUT if "timed out" in said else None,
            )
        if fault is None:
            happened, check = f"the SIS database refused {what}", "check the message above"
        else:
            fill = {
                "what": subject,
                "timeout": settings.query_timeout,
                "after": f" (after {rows:,} rows)" if rows else "",
                "env": f"${settings.url_env}",
            }
            happened, check = fault.happened.format(**fill), fault.check.format(**fill)
    return SqlSourceError(
        f"{what}: {happened} ({said}). {check[0].upper()}{check[1:]}. "
        f"SIS database: {settings.shown_url}"
    )


def _scrub(text: str, settings: SqlSisSettings) -> str:
    """A driver's message with the password taken out, should the driver have repeated it."""
    password = settings.url.password
    if password:
        text = text.replace(str(password), "***")
    # A URL with credentials inside a message, whoever wrote it.
    return re.sub(r"(://[^:/@\s]+:)[^@\s]+@", r"\1***@", text)
