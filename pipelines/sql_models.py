"""The asset factory that turns every `dbt_like_sql/<layer>/<table>.sql` file into a Dagster asset.

A model file is one plain SELECT that runs as-is in the DuckDB CLI. Its asset key is
`[layer, table]`, its upstream assets are the schema-qualified tables it reads (parsed with
sqlglot, never declared by hand), and its description is the file's leading comment.
"""

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import sqlglot
from sqlglot import exp

from pipelines.api_sources import ensure_raw_tables
from pipelines.credential_assets import ensure_credential_tables
from pipelines.warehouse import (
    WAREHOUSE_POOL,
    WarehouseResource,
    preview_markdown,
    quote_ident,
    quote_literal,
    table_row_count,
)

SQL_DIR = Path(__file__).resolve().parents[1] / "dbt_like_sql"
LAYERS = ("staging", "core", "marts")
# dbt's convention: staging only renames and types one source entity, so it is a view over raw
# (the district's data is written once, not twice); core and marts, which join and aggregate,
# are tables that dashboards and the published copy read.
MATERIALIZATION = {"staging": "VIEW", "core": "TABLE", "marts": "TABLE"}
_COLUMN_DOC = re.compile(r"^--\s*([a-z_][a-z0-9_]*)\s*:\s*(.+)$")


class SqlModelError(ValueError):
    """A model file breaks the conventions the factory relies on."""


@dataclass(frozen=True)
class SqlModel:
    """One SQL model file and what the factory read from it."""

    layer: str
    table: str
    path: Path
    sql: str
    description: str
    column_docs: dict[str, str]
    upstream: tuple[tuple[str, str], ...]

    @property
    def key(self) -> dg.AssetKey:
        return dg.AssetKey([self.layer, self.table])


def discover_sql_models(root: Path = SQL_DIR) -> list[SqlModel]:
    """Every model file under `root`, in layer then name order."""
    models = []
    for layer in LAYERS:
        for path in sorted((root / layer).glob("*.sql")):
            models.append(read_sql_model(path, layer))
    return models


def read_sql_model(path: Path, layer: str) -> SqlModel:
    """Parse one model file: its SELECT, description, column docs and upstream tables."""
    text = path.read_text(encoding="utf-8")
    sql = text.strip().rstrip(";").strip()
    description, column_docs = _leading_comment(text)
    try:
        upstream = _upstream(sql)
    except SqlModelError as exc:
        raise SqlModelError(f"{path}: {exc}") from None
    if not description:
        raise SqlModelError(
            f"{path}: start the file with a `--` comment saying what the table means"
        )
    return SqlModel(
        layer=layer,
        table=path.stem,
        path=path,
        sql=sql,
        description=description,
        column_docs=column_docs,
        upstream=upstream,
    )


@functools.lru_cache(maxsize=512)
def _upstream(sql: str) -> tuple[tuple[str, str], ...]:
    """The tables a model's SQL reads, sorted. Parsed once per distinct text: definitions are
    built for every run, and sqlglot takes most of that time."""
    try:
        statements = [s for s in sqlglot.parse(sql, dialect="duckdb") if s is not None]
    except sqlglot.errors.ParseError as exc:
        raise SqlModelError(f"not valid DuckDB SQL: {exc}") from None
    if len(statements) != 1 or not isinstance(statements[0], exp.Query):
        raise SqlModelError("a model file must hold exactly one SELECT statement")
    return tuple(sorted(table_references(statements[0])))


def table_references(statement: exp.Expression) -> set[tuple[str, str]]:
    """The `(schema, table)` pairs a statement reads, CTE names excluded."""
    cte_names = {cte.alias_or_name for cte in statement.find_all(exp.CTE)}
    refs = set()
    for table in statement.find_all(exp.Table):
        if not table.db:
            if table.name and table.name not in cte_names and not isinstance(table.this, exp.Func):
                raise SqlModelError(
                    f"table {table.name!r} is not schema-qualified; write e.g. staging.{table.name}"
                )
            continue
        refs.add((table.db, table.name))
    return refs


def _leading_comment(text: str) -> tuple[str, dict[str, str]]:
    paragraphs: list[list[str]] = [[]]
    column_docs: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped.startswith("--"):
            break
        match = _COLUMN_DOC.match(stripped)
        if match:
            column_docs[match.group(1)] = match.group(2).strip()
            continue
        body = stripped.removeprefix("--").strip()
        if body:
            paragraphs[-1].append(body)
        elif paragraphs[-1]:
            paragraphs.append([])
    description = "\n\n".join(" ".join(p) for p in paragraphs if p)
    return description, column_docs


def build_sql_asset(model: SqlModel) -> dg.AssetsDefinition:
    """One asset that (re)builds `layer.table` from its SQL file, atomically."""

    reads_raw = any(schema == "raw" for schema, _ in model.upstream)
    # Verified credentials are written by Python (pipelines.credential_assets), not SQL.
    reads_checks = ("staging", "credential_checks") in model.upstream

    @dg.asset(
        key=model.key,
        deps=[dg.AssetKey(list(ref)) for ref in model.upstream],
        description=model.description,
        group_name=model.layer,
        kinds={"duckdb", "sql"},
        pool=WAREHOUSE_POOL,
        metadata={"sql_file": _display_path(model.path)},
        code_version=_code_version(model.sql),
    )
    def _sql_asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        target = f"{quote_ident(model.layer)}.{quote_ident(model.table)}"
        with warehouse.get_connection() as con:
            # One transaction: a model that fails leaves yesterday's table in place.
            if reads_raw:
                # Every source's raw tables exist, pulled or not, so a model over a source
                # this district does not connect builds, empty.
                ensure_raw_tables(con)
            if reads_checks:
                ensure_credential_tables(con)
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(model.layer)}")
                kind = MATERIALIZATION[model.layer]
                _drop_other_kind(con, model.layer, model.table, kind)
                con.execute(f"CREATE OR REPLACE {kind} {target} AS\n{model.sql}")
                # COMMENT takes no bound parameters; the text comes from our own SQL file.
                con.execute(f"COMMENT ON {kind} {target} IS {quote_literal(model.description)}")
                for column, doc in model.column_docs.items():
                    con.execute(
                        f"COMMENT ON COLUMN {target}.{quote_ident(column)} IS {quote_literal(doc)}"
                    )
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise
            rows = table_row_count(con, model.layer, model.table)
            preview = preview_markdown(con, model.layer, model.table)
        context.log.info(f"{model.layer}.{model.table}: {rows:,} rows")
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "preview": dg.MetadataValue.md(preview),
            }
        )

    return _sql_asset


def _drop_other_kind(con, schema: str, name: str, kind: str) -> None:
    """A model that changed from table to view (or back) replaces the old object."""
    other = "VIEW" if kind == "TABLE" else "TABLE"
    catalog = "duckdb_views()" if other == "VIEW" else "duckdb_tables()"
    exists = con.execute(
        f"SELECT count(*) FROM {catalog} WHERE schema_name = ? AND {other.lower()}_name = ? "
        "AND database_name = current_database()",
        [schema, name],
    ).fetchone()[0]
    if exists:
        con.execute(f"DROP {other} {quote_ident(schema)}.{quote_ident(name)}")


def _display_path(path: Path) -> str:
    return (
        str(path.relative_to(SQL_DIR.parent)) if path.is_relative_to(SQL_DIR.parent) else str(path)
    )


def _code_version(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()[:12]


def build_sql_assets(root: Path = SQL_DIR) -> list[dg.AssetsDefinition]:
    """Assets for every model file under `root`."""
    return [build_sql_asset(model) for model in discover_sql_models(root)]
