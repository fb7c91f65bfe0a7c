"""The equity lens as a Dagster asset: `marts.equity_metrics`, every learner metric by school and
by each group furthest from opportunity, with small groups suppressed.

The metrics and groups are declared in `models/equity_metrics.yaml`; the per-learner facts are
`core.learner_metrics` (SQL). This asset aggregates them in SQL (one GROUPING SETS query: the
district and each school, each alone and split by each group), asks `models.suppression` what of
those numbers may be shown, and writes the night's rows. Suppression is Python because it is a
search, not a query; it sees aggregated counts only, never a learner.
"""

import inspect
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pandas as pd

from models.config import PathwaysConfig, PrivacySettings
from models.equity import ALL, UNKNOWN, EquityLens, EquityMetric, equity_lens
from models.suppression import Cell, Dimension, Reason, SuppressedCell, suppress
from pipelines.warehouse import (
    WAREHOUSE_POOL,
    WarehouseResource,
    comment_table,
    preview_markdown,
    quote_ident,
)

EQUITY_METRICS_KEY = dg.AssetKey(["marts", "equity_metrics"])
EQUITY_METRICS_TABLE = "marts.equity_metrics"
LEARNER_METRICS_KEY = dg.AssetKey(["core", "learner_metrics"])
LEARNER_METRICS_TABLE = "core.learner_metrics"
# The scope dimension: declared first, so a group's gap is to all learners of its school.
SCHOOL = "school"
# The search budget of each certificate `suppress` looks for. Its default (200) runs out in a
# district of 30-odd schools, and a search out of budget counts as a leak: each one hid one more
# number and started another round, until a 20,000-learner district's own total was hidden
# (244 s of CPU). At 2,000 the searches finish (50 s) and 20,000 gives the same table.
SEARCH_NODES = 2_000

# (column, DuckDB type, what it means) of marts.equity_metrics: the contract dashboards read.
EQUITY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("night", "DATE", "the night the numbers are of, in the district's time zone"),
    ("metric", "VARCHAR", "the metric's id (models/equity_metrics.yaml), e.g. has_device"),
    ("metric_label", "VARCHAR", "what the metric counts, in words"),
    ("school_id", "VARCHAR", "the school's SIS sourcedId; NULL for the whole district"),
    ("school_name", "VARCHAR", "the school's name; NULL for the whole district"),
    (
        "dimension",
        "VARCHAR",
        "how learners are grouped: 'all' (every learner of the scope), "
        "economically_disadvantaged, english_learner, disability, race_ethnicity or sex",
    ),
    (
        "group_value",
        "VARCHAR",
        "the group: 'all'; yes/no/unknown for the flags; a federal race/ethnicity category "
        "named by its OneRoster field (hispanicOrLatinoEthnicity, ..., "
        "demographicRaceTwoOrMoreRaces, unknown); female/male/unspecified/other/unknown",
    ),
    ("learners", "BIGINT", "learners in the group; NULL when suppressed"),
    (
        "learners_meeting",
        "BIGINT",
        "learners of the group who meet the metric; NULL when suppressed or top/bottom coded",
    ),
    ("rate", "DOUBLE", "learners_meeting / learners, 0 to 1; NULL when hidden"),
    (
        "rate_range",
        "VARCHAR",
        "the rate shown only as a range when it is near 0% or 100% (e.g. '<= 5%', '>= 95%'); "
        "NULL otherwise",
    ),
    (
        "gap_to_all",
        "DOUBLE",
        "rate minus the rate of all learners of the same scope (the school's, or the "
        "district's for a district group and for a school's 'all' row); NULL when either is "
        "hidden; 0 for the district's 'all' row",
    ),
    (
        "suppressed",
        "BOOLEAN",
        "true when the group's exact count and rate are not shown (too few learners, hidden "
        "to protect another group, or coded as a range)",
    ),
    (
        "suppression_reason",
        "VARCHAR",
        "why something of the row is hidden: primary (fewer learners than "
        "privacy.min_group_size), complementary (hidden so another hidden number cannot be "
        "recomputed), top_bottom_coded (rate near 0% or 100%, shown as rate_range), "
        "reference_suppressed (only gap_to_all hidden: its reference rate is); NULL when "
        "everything is shown",
    ),
)


@dataclass(frozen=True)
class EquityNight:
    """What one night's equity mart holds (counts only: no learner, no group's numbers)."""

    night: date
    learners: int
    metrics: tuple[str, ...]  # published tonight
    left_out: tuple[str, ...]  # declared but not carried by this district's data
    rows: int
    suppressed_rows: int
    suppression_seconds: float


def equity_cells(
    con: duckdb.DuckDBPyConnection, lens: EquityLens, metrics: Sequence[EquityMetric]
) -> tuple[list[Cell], dict[str, str | None]]:
    """The district and every school, each alone and split by each dimension, with its size
    and its count in every metric; and the school names by id."""
    dimension_columns = [quote_ident(d.column) for d in lens.dimensions]
    sets = ["()", "(school_id)"]
    for column in dimension_columns:
        sets += [f"({column})", f"(school_id, {column})"]
    counts = ", ".join(f"count_if({quote_ident(m.column)})" for m in metrics)
    # Names come from our own lens file (checked snake_case), never from the district's data.
    sql = (
        f"SELECT school_id, {', '.join(dimension_columns)}, count(*)"
        f"{', ' + counts if counts else ''} FROM {LEARNER_METRICS_TABLE} "
        f"GROUP BY GROUPING SETS ({', '.join(sets)})"
    )
    cells = []
    width = 1 + len(dimension_columns)
    for row in con.execute(sql).fetchall():
        group = {SCHOOL: row[0]}
        group |= {d.id: value for d, value in zip(lens.dimensions, row[1:width], strict=True)}
        counts_by_metric = {m.id: int(n) for m, n in zip(metrics, row[width + 1 :], strict=True)}
        cells.append(Cell(group, int(row[width]), counts_by_metric))
    names = dict(
        con.execute(
            f"SELECT school_id, any_value(school_name) FROM {LEARNER_METRICS_TABLE} GROUP BY ALL"
        ).fetchall()
    )
    return cells, names


def carried_metrics(
    con: duckdb.DuckDBPyConnection, lens: EquityLens
) -> tuple[tuple[EquityMetric, ...], tuple[str, ...]]:
    """The metrics the district's data carries (a value for some learner), and the ids of those
    it does not (their column is NULL for everyone)."""
    if not lens.metrics:
        return (), ()
    known = ", ".join(f"count({quote_ident(m.column)}) > 0" for m in lens.metrics)
    flags = con.execute(f"SELECT {known} FROM {LEARNER_METRICS_TABLE}").fetchall()[0]
    carried = tuple(m for m, flag in zip(lens.metrics, flags, strict=True) if flag)
    left_out = tuple(m.id for m, flag in zip(lens.metrics, flags, strict=True) if not flag)
    return carried, left_out


def rate_range_text(rate_range: tuple[float, float] | None) -> str | None:
    """A coded rate as a dashboard shows it: (0, 0.05) is '<= 5%', (0.95, 1) is '>= 95%'."""
    if rate_range is None:
        return None
    low, high = rate_range
    if low == 0:
        return f"<= {round(high * 100, 4):g}%"
    return f">= {round(low * 100, 4):g}%"


def equity_rows(
    suppressed: Sequence[SuppressedCell],
    night: date,
    metrics: Sequence[EquityMetric],
    school_names: dict[str, str | None],
) -> list[tuple]:
    """The mart's rows, in EQUITY_COLUMNS order, from what suppression lets be shown."""
    labels = {m.id: m.label for m in metrics}
    rows = []
    for cell in suppressed:
        school = cell.group.get(SCHOOL)
        dimension, value = next(
            ((name, v) for name, v in cell.group.items() if name != SCHOOL), (ALL, ALL)
        )
        hidden = cell.count is None
        rows.append(
            (
                night,
                cell.metric,
                labels[cell.metric],
                school,
                school_names.get(school) if school is not None else None,
                dimension,
                value,
                cell.size,
                cell.count,
                cell.rate,
                rate_range_text(cell.rate_range),
                cell.gap,
                hidden,
                None if cell.reason is None else Reason(cell.reason).value,
            )
        )
    return rows


def ensure_equity_table(con: duckdb.DuckDBPyConnection) -> None:
    """`marts.equity_metrics` exists, with its meaning and every column's in the catalog."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type, _ in EQUITY_COLUMNS)
    con.execute(f"CREATE TABLE IF NOT EXISTS {EQUITY_METRICS_TABLE} ({columns})")
    comment_table(
        con,
        "marts",
        "equity_metrics",
        inspect.cleandoc(build_equity_metrics_asset.__doc__ or ""),
        {name: doc for name, _, doc in EQUITY_COLUMNS},
    )


def write_equity_night(con: duckdb.DuckDBPyConnection, night: date, rows: list[tuple]) -> None:
    """Replace the night's rows with `rows`, in one transaction."""
    names = [name for name, _, _ in EQUITY_COLUMNS]
    frame = pd.DataFrame(rows, columns=names, dtype=object)
    casts = ", ".join(f"CAST(frame.{name} AS {sql_type})" for name, sql_type, _ in EQUITY_COLUMNS)
    con.execute("BEGIN TRANSACTION")
    try:
        # Delete then insert, so a re-run of the same night replaces rather than duplicates.
        con.execute(f"DELETE FROM {EQUITY_METRICS_TABLE} WHERE night = ?", [night])
        if rows:
            con.register("frame", frame)
            con.execute(f"INSERT INTO {EQUITY_METRICS_TABLE} SELECT {casts} FROM frame")
            con.unregister("frame")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def build_equity_night(
    con: duckdb.DuckDBPyConnection,
    privacy: PrivacySettings,
    night: date,
    lens: EquityLens | None = None,
) -> EquityNight:
    """Aggregate core.learner_metrics, suppress small groups, and write the night's rows."""
    lens = lens or equity_lens()
    ensure_equity_table(con)
    metrics, left_out = carried_metrics(con, lens)
    learners = con.execute(f"SELECT count(*) FROM {LEARNER_METRICS_TABLE}").fetchall()[0][0]
    rows: list[tuple] = []
    seconds = 0.0
    if metrics:
        cells, names = equity_cells(con, lens, metrics)
        schools = tuple(sorted(name for name in names if name is not None))
        present = {(name, value) for cell in cells for name, value in cell.group.items()}
        dimensions = [Dimension(SCHOOL, schools)]
        for d in lens.dimensions:
            values = tuple(v for v in d.values if v != UNKNOWN or (d.id, UNKNOWN) in present)
            dimensions.append(Dimension(d.id, values))
        started = time.perf_counter()
        suppressed = suppress(
            cells,
            dimensions,
            min_group_size=privacy.min_group_size,
            rate_bands=privacy.suppression_rate_bands(),
            max_search_nodes=SEARCH_NODES,
        )
        seconds = time.perf_counter() - started
        rows = equity_rows(suppressed, night, metrics, names)
    write_equity_night(con, night, rows)
    return EquityNight(
        night=night,
        learners=learners,
        metrics=tuple(m.id for m in metrics),
        left_out=left_out,
        rows=len(rows),
        suppressed_rows=sum(1 for row in rows if row[12]),
        suppression_seconds=seconds,
    )


def build_equity_metrics_asset(config: PathwaysConfig) -> dg.AssetsDefinition:
    """Every learner metric, for the district and each school, for all learners and for each
    group furthest from opportunity (economically disadvantaged, English learners, learners
    with disabilities, each race/ethnicity, sex), with the gap to all learners of the same
    scope. Groups smaller than privacy.min_group_size are suppressed, with complementary
    suppression so no hidden number can be recomputed; rates near 0% or 100% are shown as a
    range. One set of rows per night (a re-run replaces that night's); a metric the district's
    data does not carry is left out."""
    timezone = ZoneInfo(config.district.timezone)
    privacy = config.privacy

    @dg.asset(
        key=EQUITY_METRICS_KEY,
        deps=[LEARNER_METRICS_KEY],
        description=build_equity_metrics_asset.__doc__,
        group_name="marts",
        kinds={"duckdb", "python"},
        pool=WAREHOUSE_POOL,
    )
    def equity_metrics(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        night = datetime.now(UTC).astimezone(timezone).date()
        with warehouse.get_connection() as con:
            result = build_equity_night(con, privacy, night)
            preview = preview_markdown(con, "marts", "equity_metrics")
        context.log.info(
            f"marts.equity_metrics: {result.rows:,} rows for {result.night} "
            f"({result.suppressed_rows:,} suppressed; suppression took "
            f"{result.suppression_seconds:.1f} s)"
        )
        if result.left_out:
            context.log.info(
                "Left out, not carried by this district's data: " + ", ".join(result.left_out)
            )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": result.rows,
                "night": result.night.isoformat(),
                "learners": result.learners,
                "metrics": ", ".join(result.metrics) or "none",
                "metrics_left_out": ", ".join(result.left_out) or "none",
                "suppressed_rows": result.suppressed_rows,
                "suppression_seconds": round(result.suppression_seconds, 2),
                "preview": dg.MetadataValue.md(preview),
            }
        )

    return equity_metrics
