"""API sources (the LMSs and the credential platforms) as Dagster assets.

Each kind of API source is declared once, as data: the raw tables its connector writes and the
functions that build its settings, its client and its pages. One multi-asset per kind then
pulls every configured source of that kind into the shared `raw.<table>`s (rows carry the
source's name in `_source`), page by page through `ApiSync`, so a run that dies half-way
resumes where it stopped and a page is never recorded as done before its rows are committed.
"""

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import duckdb

from connectors.badgr import BADGR_TABLES, BadgrSettings, badgr_client, badgr_pages
from connectors.canvas import CANVAS_TABLES, CanvasSettings, canvas_client, canvas_pages
from connectors.credly import CREDLY_TABLES, CredlySettings, credly_client, credly_pages
from connectors.http import (
    ApiClient,
    ApiError,
    RequestStats,
    StreamPage,
    StreamState,
    WorkUnit,
)
from connectors.ob3_api import OB3_API_TABLES, Ob3ApiSettings, ob3_api_client, ob3_api_pages
from connectors.oneroster_csv import ensure_oneroster_tables
from connectors.oneroster_rest import (
    ONEROSTER_REST_TABLES,
    OneRosterRestSettings,
    oneroster_rest_client,
    oneroster_rest_pages,
)
from models.config import ApiSourceConfig
from pipelines.api_sync import ApiSync, ensure_api_raw_table, ensure_api_sync_tables
from pipelines.warehouse import WAREHOUSE_POOL, WarehouseResource, table_row_count

SOURCE_PULLED_CHECK = "pulled_completely"
# Pages that arrived together are committed in one transaction (one write to disk), up to this.
COMMIT_BATCH_PAGES = 64


@dataclass(frozen=True)
class ApiSourceKind:
    """What Pathways needs to know to pull one kind of API source."""

    kind: str  # the `kind` in pathways.yaml
    asset_name: str
    standard: str  # the open standard or API it speaks, for descriptions
    tables: tuple[str, ...]  # raw tables its connector writes
    settings: Callable[[Any], Any]  # config entry → connector settings (reads secrets from env)
    client: Callable[[Any, RequestStats], ApiClient]
    pages: Callable[[ApiClient, Any, StreamState], Iterator[StreamPage]]


API_SOURCE_KINDS: tuple[ApiSourceKind, ...] = (
    ApiSourceKind(
        kind="canvas",
        asset_name="lms_canvas",
        standard="the Canvas LMS REST API",
        tables=CANVAS_TABLES,
        settings=CanvasSettings.from_config,
        client=lambda settings, stats: canvas_client(settings, stats=stats),
        pages=canvas_pages,
    ),
    ApiSourceKind(
        kind="oneroster_rest",
        asset_name="lms_oneroster_rest",
        standard="the 1EdTech OneRoster 1.2 REST API",
        tables=ONEROSTER_REST_TABLES,
        settings=OneRosterRestSettings.from_config,
        client=lambda settings, stats: oneroster_rest_client(settings, stats=stats),
        pages=oneroster_rest_pages,
    ),
    ApiSourceKind(
        kind="ob3_api",
        asset_name="credentials_ob3_api",
        standard="the 1EdTech Open Badges 3.0 API",
        tables=OB3_API_TABLES,
        settings=Ob3ApiSettings.from_config,
        client=lambda settings, stats: ob3_api_client(settings, stats=stats),
        pages=ob3_api_pages,
    ),
    ApiSourceKind(
        kind="badgr",
        asset_name="credentials_badgr",
        standard="the Badgr / Canvas Credentials API v2",
        tables=BADGR_TABLES,
        settings=BadgrSettings.from_config,
        client=lambda settings, stats: badgr_client(settings, stats=stats),
        pages=badgr_pages,
    ),
    ApiSourceKind(
        kind="credly",
        asset_name="credentials_credly",
        standard="the Credly web service API",
        tables=CREDLY_TABLES,
        settings=CredlySettings.from_config,
        client=lambda settings, stats: credly_client(settings, stats=stats),
        pages=credly_pages,
    ),
)


def ensure_raw_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Every raw table of every kind of source (SIS files and APIs) exists."""
    ensure_oneroster_tables(con)
    ensure_api_tables(con)


def ensure_api_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Every API raw table exists, pulled or not, so the SQL models over them always build."""
    ensure_api_sync_tables(con)
    # Every warehouse step calls this: one look at the catalog spares it two statements for
    # each of the tables that are already there (nearly always all of them).
    existing = {
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = 'raw'"
        ).fetchall()
    }
    for kind in API_SOURCE_KINDS:
        for table in kind.tables:
            if table not in existing:
                ensure_api_raw_table(con, table)


def raw_api_key(table: str) -> dg.AssetKey:
    """`canvas_courses` → `raw/canvas_courses`, the key the SQL models' dependencies parse to."""
    return dg.AssetKey(["raw", table])


@dataclass
class SourcePull:
    """What pulling one configured source did tonight (no secrets, no personal data)."""

    name: str
    sync_id: str
    resumed: bool
    pages: int
    inserted: int
    updated: int
    unchanged: int
    requests: dict[str, int]
    by_table: dict[str, dict[str, int]]
    # Optional streams the source refused (e.g. outcomes switched off in a course), with the fix.
    skipped: list[str]


def pull_api_source(
    con: duckdb.DuckDBPyConnection,
    kind: ApiSourceKind,
    source: ApiSourceConfig,
    run_id: str,
    log: Callable[[str], None] = lambda message: None,
) -> SourcePull:
    """Pull one configured source into raw.*, committing page by page; finish the sync only
    when every stream completed, so a failure leaves it to be resumed by the next run."""
    settings = kind.settings(source)
    stats: list[RequestStats] = [RequestStats()]
    ensure_api_tables(con)
    sync = ApiSync.begin(con, source.name, run_id, datetime.now(UTC))
    if sync.resumed:
        log(f"{source.name}: resuming the unfinished sync {sync.sync_id}")

    def commit(pages: list[StreamPage]) -> None:
        before = sync.totals.pages
        sync.commit_many(pages, run_id)
        if sync.totals.pages // 500 > before // 500:
            requests = sum(s.requests for s in stats)
            log(f"{source.name}: {sync.totals.pages:,} pages, {requests:,} requests")

    def new_client() -> ApiClient:
        stats.append(RequestStats())
        return kind.client(settings, stats[-1])

    with kind.client(settings, stats[0]) as client:
        pages = kind.pages(client, settings, sync)
        if source.concurrency > 1:
            _pull_in_parallel(pages.work(), commit, new_client, source.concurrency)
        else:
            for page in pages:
                # One page at a time: the stream asks for its next page only once this one
                # and its checkpoint are committed.
                commit([page])
    sync.finish()
    requests = {f.name: sum(getattr(s, f.name) for s in stats) for f in fields(RequestStats)}
    return SourcePull(
        name=source.name,
        sync_id=sync.sync_id,
        resumed=sync.resumed,
        pages=sync.totals.pages,
        inserted=sync.totals.inserted,
        updated=sync.totals.updated,
        unchanged=sync.totals.unchanged,
        requests=requests,
        by_table=sync.totals.as_dict(),
        skipped=[str(w) for w in pages.warnings],
    )


class _UnitFinished:
    """A worker finished a unit (cleanly, or with `error`)."""

    def __init__(self, label: str, error: BaseException | None = None) -> None:
        self.label, self.error = label, error


def _pull_in_parallel(
    work: Iterator[StreamPage | WorkUnit],
    commit: Callable[[list[StreamPage]], None],
    new_client: Callable[[], ApiClient],
    workers: int,
) -> None:
    """Pull independent units in `workers` threads, each with a client of its own, while this
    thread commits every page as it arrives: DuckDB has one writer, and a page is committed
    (with its checkpoint) before the stream it belongs to asks for the next one, so a failure
    anywhere leaves every stream resumable at its last committed page."""
    arrived: queue.Queue[StreamPage | _UnitFinished] = queue.Queue(maxsize=workers * 4)
    stop = threading.Event()
    idle: queue.SimpleQueue[ApiClient] = queue.SimpleQueue()
    clients: list[ApiClient] = []

    def run(unit: WorkUnit) -> None:
        try:
            client = idle.get_nowait()
        except queue.Empty:
            client = new_client()
            clients.append(client)
        error = None
        try:
            for page in unit.pages(client):
                arrived.put(page)
                if stop.is_set():
                    break
        except BaseException as exc:  # handed to the committing thread, which raises it
            error = exc
        finally:
            idle.put(client)
            arrived.put(_UnitFinished(unit.label, error))

    errors: list[BaseException] = []

    def take_some() -> int:
        """Commit what has arrived (waiting for at least one item), in one transaction; the
        number of units that finished."""
        items = [arrived.get()]
        while len(items) < COMMIT_BATCH_PAGES:
            try:
                items.append(arrived.get_nowait())
            except queue.Empty:
                break
        pages = [item for item in items if isinstance(item, StreamPage)]
        if pages:
            commit(pages)
        finished = [item for item in items if isinstance(item, _UnitFinished)]
        for item in finished:
            if item.error is not None:
                errors.append(item.error)
                stop.set()
        return len(finished)

    outstanding = 0
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="api-pull") as pool:
            for item in work:
                if errors:
                    break
                if isinstance(item, StreamPage):
                    commit([item])
                    continue
                # A few units queued per worker keep them busy without listing every course.
                while outstanding >= workers * 2:
                    outstanding -= take_some()
                pool.submit(run, item)
                outstanding += 1
            while outstanding:
                outstanding -= take_some()
    finally:
        stop.set()
        for client in clients:
            client.close()
    if errors:
        raise errors[0]


def build_api_source_assets(
    sources: tuple[ApiSourceConfig, ...],
) -> list[dg.AssetsDefinition]:
    """One multi-asset per configured kind of API source, covering its raw tables."""
    return [
        _build_kind_asset(kind, tuple(s for s in sources if s.kind == kind.kind))
        for kind in API_SOURCE_KINDS
        if any(s.kind == kind.kind for s in sources)
    ]


def _build_kind_asset(
    kind: ApiSourceKind, sources: tuple[ApiSourceConfig, ...]
) -> dg.AssetsDefinition:
    names = ", ".join(s.name for s in sources)
    specs = [
        dg.AssetSpec(
            raw_api_key(table),
            description=f"{table} as {kind.standard} returns it ({names}): one row per record, "
            "the JSON as received in `_record`, rewritten only when its content changed.",
            group_name="raw",
            kinds={"duckdb", "api"},
        )
        for table in kind.tables
    ]

    @dg.multi_asset(
        name=kind.asset_name,
        specs=specs,
        check_specs=[
            dg.AssetCheckSpec(
                SOURCE_PULLED_CHECK,
                asset=specs[0].key,
                description="Every configured source of this kind was pulled to the end.",
            )
        ],
        pool=WAREHOUSE_POOL,
        can_subset=False,
        description=f"Pull {kind.standard} for {names}, incrementally and resumably.",
    )
    def _pull(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        pulls: list[SourcePull] = []
        failures: list[str] = []
        with warehouse.get_connection() as con:
            for source in sources:
                try:
                    pulls.append(
                        pull_api_source(con, kind, source, context.run.run_id, context.log.info)
                    )
                except (ApiError, ValueError) as exc:
                    # The checkpoint still points at the page that failed: the next run
                    # resumes there. Other sources of this kind are still pulled tonight.
                    failures.append(f"{source.name}: {exc}")
                    context.log.error(f"{source.name} was not pulled completely: {exc}")
            counts = {table: table_row_count(con, "raw", table) for table in kind.tables}
        for pull in pulls:
            for skipped in pull.skipped:
                context.log.warning(f"{pull.name}: {skipped}")
            context.log.info(
                f"{pull.name}: {pull.pages:,} pages, {pull.inserted:,} new, {pull.updated:,} "
                f"changed, {pull.unchanged:,} unchanged records; "
                f"{pull.requests['requests']:,} requests, {pull.requests['retries']:,} retries"
            )
        for table in kind.tables:
            metadata: dict[str, Any] = {"dagster/row_count": counts[table]}
            for pull in pulls:
                for measure, value in pull.by_table.get(table, {}).items():
                    metadata[f"{pull.name}/{measure}"] = value
            yield dg.MaterializeResult(asset_key=raw_api_key(table), metadata=metadata)
        yield dg.AssetCheckResult(
            asset_key=specs[0].key,
            check_name=SOURCE_PULLED_CHECK,
            passed=not failures,
            metadata={
                "failures": dg.MetadataValue.md("\n".join(f"- {f}" for f in failures) or "none"),
                "skipped_streams": sum(len(pull.skipped) for pull in pulls),
                **{
                    f"{pull.name}/{measure}": value
                    for pull in pulls
                    for measure, value in pull.requests.items()
                },
            },
        )
        if failures:
            raise dg.Failure(
                description="Not every API source was pulled completely; the next run resumes "
                "each from its last committed page: " + "; ".join(failures)
            )

    return _pull
