"""Data-collection transparency: what the district collects, checked against what it declared.

Each night, after every raw table is loaded:

- `marts/data_inventory` joins the data inventory (`models/data_inventory.yaml`) with what the
  warehouse really holds tonight: every raw column and every OneRoster `metadata.<key>`, with
  how many rows hold a value and when it was first and last seen (`audit.collected_columns`
  keeps first seen from night to night).
- `marts/transparency_findings` lists what is collected but not declared, and what is declared
  without a purpose, category, sensitivity or retention. Its blocking check
  `every_collected_field_declared` holds the public notice while any such error stands, so the
  district never publishes a notice that leaves something out.
- `outputs/public_notice` writes the public data-collection notice (HTML for families, JSON for
  machines) and the data dictionary of every `marts.*` table, beside the published warehouse,
  each file swapped in atomically, and records the publication in `audit.public_notices`.

The notice holds the inventory and counts of fields and systems only: never a value of a row.
"""

import hashlib
import html
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from models.config import PathwaysConfig
from models.data_inventory import COMMON, INVENTORY_PATH, DataInventory, load_inventory
from pipelines.api_sources import ensure_raw_tables
from pipelines.credential_assets import ensure_credential_tables
from pipelines.warehouse import (
    WAREHOUSE_POOL,
    WarehouseResource,
    comment_table,
    quote_ident,
    table_row_count,
)

DATA_INVENTORY_KEY = dg.AssetKey(["marts", "data_inventory"])
TRANSPARENCY_FINDINGS_KEY = dg.AssetKey(["marts", "transparency_findings"])
PUBLIC_NOTICE_KEY = dg.AssetKey(["outputs", "public_notice"])
DECLARED_CHECK = "every_collected_field_declared"
NOTICE_DIR = "notice"
NOTICE_HTML = "data-collection-notice.html"
NOTICE_JSON = "data-collection-notice.json"
DICTIONARY_HTML = "data-dictionary.html"
DICTIONARY_JSON = "data-dictionary.json"

DATA_INVENTORY_DOC = (
    "Every field Pathways collects, as declared in the data inventory, joined with what the "
    "warehouse really holds tonight: one row per raw column (or OneRoster metadata.<key> "
    "extension field), declared or not. Lineage columns declared once for all raw tables appear "
    "once per table that has them."
)
DATA_INVENTORY_COLUMNS: dict[str, tuple[str, str]] = {
    "system": (
        "VARCHAR",
        "The source system that declares the field (oneroster, canvas, …); "
        "empty for a column of a raw table no system declares.",
    ),
    "raw_table": (
        "VARCHAR",
        "The raw table, schema-qualified (raw.oneroster_users); empty for "
        "a lineage column declared for all raw tables but found in none.",
    ),
    "column_name": (
        "VARCHAR",
        "The column, or metadata.<key> for a OneRoster extension field "
        "kept in the metadata JSON column.",
    ),
    "purpose": ("VARCHAR", "Why the district collects it, in plain words."),
    "category": (
        "VARCHAR",
        "Its category in the Student Data Privacy Consortium's schedule of data.",
    ),
    "sensitivity": ("VARCHAR", "directory (not about a person), personal, or sensitive."),
    "retention": ("VARCHAR", "How long it is kept."),
    "shared_with": ("VARCHAR[]", "Who sees it."),
    "declared": ("BOOLEAN", "The data inventory declares this field."),
    "complete": ("BOOLEAN", "Declared with a purpose, category, sensitivity and retention."),
    "collected": ("BOOLEAN", "The warehouse holds this column (or metadata key) tonight."),
    "row_count": ("BIGINT", "Rows that hold a value tonight; empty when not collected."),
    "first_seen": ("TIMESTAMPTZ", "The first night the warehouse held this column."),
    "last_seen": ("TIMESTAMPTZ", "The last night the warehouse held this column."),
    "checked_at": ("TIMESTAMPTZ", "When tonight's check ran."),
}

TRANSPARENCY_FINDINGS_DOC = (
    "What keeps the district's data collection from being fully declared tonight: one row per "
    "problem, with what to do about it. Empty when all is well. An error holds the public "
    "data-collection notice until it is fixed."
)
TRANSPARENCY_FINDINGS_COLUMNS: dict[str, tuple[str, str]] = {
    "severity": ("VARCHAR", "error (holds the public notice) or warning."),
    "raw_table": ("VARCHAR", "The raw table concerned."),
    "column_name": ("VARCHAR", "The column or metadata.<key> concerned."),
    "problem": ("VARCHAR", "What is wrong, in a sentence."),
    "what_to_do": ("VARCHAR", "How to fix it."),
    "found_at": ("TIMESTAMPTZ", "When tonight's check found it."),
}

# Columns of marts.data_inventory that come from audit.collected_columns and the clock.
_SEEN_COLUMNS = ("first_seen", "last_seen", "checked_at")

# Every problem the inventory has with tonight's warehouse, in SQL over marts.data_inventory.
_FINDINGS_SQL = """
SELECT 'error' AS severity, raw_table, column_name,
    CASE WHEN starts_with(column_name, 'metadata.')
         THEN raw_table || ' holds the extension field ' || column_name
              || ', which the data inventory does not declare.'
         ELSE raw_table || ' has a column ' || column_name
              || ' that the data inventory does not declare.'
    END AS problem,
    'Declare ' || column_name || ' under ' || raw_table || ' in ' || $inventory
        || ' with its purpose, category, sensitivity and retention, or stop collecting it.'
        AS what_to_do,
    $now AS found_at
FROM marts.data_inventory
WHERE collected AND NOT declared
UNION ALL
SELECT 'error', raw_table, column_name,
    coalesce(raw_table || ' ', 'the common column ') || column_name || ' is declared without '
        || missing || '.',
    'Add ' || missing || ' to the declaration of ' || column_name || ' in ' || $inventory || '.',
    $now
FROM (
    SELECT *, concat_ws(', ',
        CASE WHEN nullif(trim(purpose), '') IS NULL THEN 'a purpose' END,
        CASE WHEN nullif(trim(category), '') IS NULL THEN 'a category' END,
        CASE WHEN nullif(trim(sensitivity), '') IS NULL THEN 'a sensitivity' END,
        CASE WHEN nullif(trim(retention), '') IS NULL THEN 'a retention' END) AS missing
    FROM marts.data_inventory
    WHERE declared AND NOT complete
)
UNION ALL
SELECT 'warning', raw_table, column_name,
    raw_table || ' has no column ' || column_name || ', which the data inventory declares.',
    'Check the spelling of ' || column_name || ' in ' || $inventory
        || ' (a misspelt name leaves the real column undeclared), or remove the declaration.',
    $now
FROM marts.data_inventory
WHERE declared AND NOT collected AND raw_table IS NOT NULL
  AND NOT starts_with(column_name, 'metadata.')
ORDER BY severity, raw_table, column_name
"""


@dataclass(frozen=True)
class Observed:
    """A raw column (or metadata key) present tonight and how many rows hold a value in it."""

    raw_table: str
    column_name: str
    row_count: int


def observe_raw(con: duckdb.DuckDBPyConnection) -> list[Observed]:
    """Every column of every raw table, and every key of OneRoster `metadata` JSON, tonight."""
    layout = con.execute(
        "SELECT table_name, list(column_name ORDER BY column_index), "
        "list(data_type ORDER BY column_index) FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'raw' "
        "GROUP BY table_name ORDER BY table_name"
    ).fetchall()
    observed = []
    for table, columns, types in layout:
        name = f"raw.{quote_ident(table)}"
        # One scan per table counts every column's values at once.
        counts = con.execute(
            f"SELECT {', '.join(f'count({quote_ident(c)})' for c in columns)} FROM {name}"
        ).fetchall()[0]
        observed += [
            Observed(f"raw.{table}", column, int(count))
            for column, count in zip(columns, counts, strict=True)
        ]
        if "metadata" in columns and types[columns.index("metadata")] == "JSON":
            keys = con.execute(
                f"SELECT m.key, count(*) FILTER (WHERE m.type <> 'NULL') "
                f"FROM {name} AS t, json_each(t.metadata) AS m GROUP BY m.key ORDER BY m.key"
            ).fetchall()
            observed += [Observed(f"raw.{table}", f"metadata.{k}", int(n)) for k, n in keys]
    return observed


def inventory_rows(inventory: DataInventory, observed: Sequence[Observed]) -> list[dict]:
    """The rows of marts.data_inventory (without first/last seen): every declared field, with
    what was collected tonight, and every collected column nobody declared."""
    seen = {(o.raw_table, o.column_name): o.row_count for o in observed}
    rows = []

    def row(field, raw_table: str | None, system: str | None, column: str) -> dict:
        count = seen.get((raw_table, column)) if raw_table else None
        return {
            "system": system,
            "raw_table": raw_table,
            "column_name": column,
            "purpose": field.purpose if field else None,
            "category": field.category if field else None,
            "sensitivity": field.sensitivity if field else None,
            "retention": field.retention if field else None,
            "shared_with": list(field.shared_with) if field else None,
            "declared": field is not None,
            "complete": bool(field and field.complete),
            "collected": count is not None,
            "row_count": count,
        }

    specific = set()
    for field in inventory.fields:
        specific.add((field.raw_table, field.column_name))
        rows.append(row(field, field.raw_table, field.system, field.column_name))
    common_seen = set()
    for o in observed:
        if (o.raw_table, o.column_name) in specific:
            continue
        field = inventory.common.get(o.column_name)
        if field is not None:
            common_seen.add(o.column_name)
        system = inventory.system_of(o.raw_table) or (COMMON if field else None)
        rows.append(row(field, o.raw_table, system, o.column_name))
    for column, field in inventory.common.items():
        if column not in common_seen:
            rows.append(row(field, None, COMMON, column))
    return rows


def ensure_transparency_tables(con: duckdb.DuckDBPyConnection) -> None:
    """`audit.collected_columns` and `audit.public_notices` exist (idempotent)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS audit")
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(
        "CREATE TABLE IF NOT EXISTS audit.collected_columns (raw_table VARCHAR, "
        "column_name VARCHAR, first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ, "
        "PRIMARY KEY (raw_table, column_name))"
    )
    con.execute(
        "CREATE TABLE IF NOT EXISTS audit.public_notices (published_at TIMESTAMPTZ, "
        "run_id VARCHAR, html_path VARCHAR, json_path VARCHAR, sha256 VARCHAR, fields INTEGER)"
    )
    comment_table(
        con,
        "audit",
        "collected_columns",
        "Every raw column (or OneRoster metadata.<key>) the warehouse has ever held: the night "
        "it was first seen and the last night it was seen.",
        {},
    )
    comment_table(
        con,
        "audit",
        "public_notices",
        "Each publication of the public data-collection notice: when, by which run, its files, "
        "the SHA-256 of its HTML page and how many fields it describes.",
        {
            "sha256": "SHA-256 of the HTML notice as written.",
            "fields": "How many fields the notice describes.",
        },
    )


def build_data_inventory_table(
    con: duckdb.DuckDBPyConnection, inventory: DataInventory, now: datetime
) -> None:
    """Write tonight's marts.data_inventory and keep audit.collected_columns up to date."""
    # Every source's raw tables exist, pulled or not, so the layout checked is the whole one.
    ensure_raw_tables(con)
    ensure_credential_tables(con)
    ensure_transparency_tables(con)
    observed = observe_raw(con)
    rows = inventory_rows(inventory, observed)
    names = [n for n in DATA_INVENTORY_COLUMNS if n not in _SEEN_COLUMNS]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _observed (raw_table VARCHAR, column_name VARCHAR)"
        )
        if observed:
            con.executemany(
                "INSERT INTO _observed VALUES (?, ?)",
                [(o.raw_table, o.column_name) for o in observed],
            )
        # First seen is kept from the first night; last seen moves on each night.
        con.execute(
            "INSERT INTO audit.collected_columns "
            "SELECT raw_table, column_name, $now, $now FROM _observed "
            "ON CONFLICT (raw_table, column_name) DO UPDATE SET last_seen = excluded.last_seen",
            {"now": now},
        )
        columns = ", ".join(f"{n} {DATA_INVENTORY_COLUMNS[n][0]}" for n in names)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _inventory_rows ({columns})")
        con.executemany(
            f"INSERT INTO _inventory_rows VALUES ({', '.join('?' for _ in names)})",
            [[r[n] for n in names] for r in rows],
        )
        con.execute(
            "CREATE OR REPLACE TABLE marts.data_inventory AS "
            "SELECT r.*, c.first_seen, c.last_seen, $now::TIMESTAMPTZ AS checked_at "
            "FROM _inventory_rows AS r LEFT JOIN audit.collected_columns AS c "
            "USING (raw_table, column_name) "
            "ORDER BY r.system NULLS FIRST, r.raw_table NULLS FIRST, r.column_name",
            {"now": now},
        )
        comment_table(
            con,
            "marts",
            "data_inventory",
            DATA_INVENTORY_DOC,
            {name: doc for name, (_, doc) in DATA_INVENTORY_COLUMNS.items()},
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def build_findings_table(con: duckdb.DuckDBPyConnection, inventory_path: Path, now: datetime):
    """Write tonight's marts.transparency_findings from marts.data_inventory."""
    columns = ", ".join(f"{n} {kind}" for n, (kind, _) in TRANSPARENCY_FINDINGS_COLUMNS.items())
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(f"CREATE OR REPLACE TABLE marts.transparency_findings ({columns})")
        con.execute(
            f"INSERT INTO marts.transparency_findings {_FINDINGS_SQL}",
            {"inventory": _display_path(inventory_path), "now": now},
        )
        comment_table(
            con,
            "marts",
            "transparency_findings",
            TRANSPARENCY_FINDINGS_DOC,
            {name: doc for name, (_, doc) in TRANSPARENCY_FINDINGS_COLUMNS.items()},
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _display_path(path: Path) -> str:
    return "models/data_inventory.yaml" if path == INVENTORY_PATH else str(path)


# ---------------------------------------------------------------------------------------------
# The public notice and the data dictionary


def notice_document(
    inventory: DataInventory, rows: Iterable[dict], district: str, published_at: datetime
) -> dict[str, Any]:
    """What the public notice says, as data: the declared fields of every system that sent
    records tonight, grouped by category, and the systems themselves. No row values."""
    rows = [r for r in rows if r["declared"] and r["complete"] and r["collected"]]
    in_use = {r["system"] for r in rows if r["system"] != COMMON and (r["row_count"] or 0) > 0}
    fields: dict[tuple[str, str | None, str], dict] = {}
    for r in rows:
        if r["system"] != COMMON and r["system"] not in in_use:
            continue
        declared = inventory.declaration(r["raw_table"], r["column_name"])
        # A column every table has is described once (for its system, or for all of them).
        system = declared.system
        table = None if declared.every_table else r["raw_table"]
        key = (system, table, r["column_name"])
        if key in fields:
            continue
        defaults = inventory.systems.get(system)
        fields[key] = {
            "system": system,
            "system_title": defaults.title if defaults else "Every system",
            "table": table,
            "table_title": inventory.table_title(table) if table else "every record",
            "field": r["column_name"],
            "label": declared.label,
            "purpose": declared.purpose,
            "category": declared.category,
            "sensitivity": declared.sensitivity,
            "retention": declared.retention,
            "shared_with": list(declared.shared_with),
            "same_as_system": bool(
                defaults
                and declared.retention == defaults.retention
                and tuple(declared.shared_with) == tuple(defaults.shared_with)
            ),
        }
    by_category: dict[str, list[dict]] = {}
    for field in fields.values():
        by_category.setdefault(field["category"], []).append(field)
    categories = [
        {
            "name": name,
            "description": inventory.categories.get(name, ""),
            "fields": sorted(
                by_category[name], key=lambda f: (f["system_title"], f["table_title"], f["label"])
            ),
        }
        for name in sorted(by_category)
    ]
    systems = [
        {
            "id": name,
            "title": system.title,
            "description": system.description,
            "retention": system.retention,
            "shared_with": list(system.shared_with),
            "fields": sum(1 for f in fields.values() if f["system"] == name),
        }
        for name, system in inventory.systems.items()
        if name in in_use
    ]
    audiences = sorted({a for f in fields.values() for a in f["shared_with"]})
    return {
        "district": district,
        "published_at": published_at.isoformat(timespec="seconds"),
        "summary": {
            "fields": len(fields),
            "systems": len(systems),
            "categories": len(categories),
            "shared_with": audiences,
        },
        "systems": systems,
        "categories": categories,
        "sensitivities": inventory.sensitivities,
    }


_STYLE = """
:root { color: #1b1b1b; background: #ffffff; }
body { font: 1.05rem/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       max-width: 62rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
h1 { font-size: 1.9rem; line-height: 1.2; margin: 0.5rem 0; }
h2 { font-size: 1.45rem; margin-top: 2.2rem; border-bottom: 2px solid #1f4e79; }
h3 { font-size: 1.15rem; margin-top: 1.6rem; }
a { color: #0b4f8a; }
a:focus { outline: 3px solid #1f4e79; outline-offset: 2px; }
.lead { font-size: 1.15rem; }
table { border-collapse: collapse; width: 100%; margin: 0.6rem 0 1.2rem; }
caption { text-align: left; font-weight: 600; padding: 0.3rem 0; }
th, td { border: 1px solid #8a8a8a; padding: 0.4rem 0.5rem; text-align: left;
         vertical-align: top; }
th { background: #e8eef5; color: #1b1b1b; }
.muted { color: #4a4a4a; }
nav ul { padding-left: 1.2rem; }
@media print {
  :root { background: #ffffff; color: #000000; }
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  nav { display: none; }
  a { color: #000000; text-decoration: none; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  th { background: #ffffff; }
}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n{body}\n"
        "</body>\n</html>\n"
    )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def render_notice_html(doc: dict[str, Any]) -> str:
    """The public notice as one self-contained, accessible HTML page: a one-screen summary,
    then the systems, then every field by category. No script, prints cleanly."""
    summary = doc["summary"]
    district = doc["district"]
    day = doc["published_at"][:10]
    parts = [
        "<header>",
        f"<h1>What {_e(district)} collects about learners, and why</h1>",
        f'<p class="muted">Updated {_e(day)}. This page is made from the district\'s data '
        "inventory each night.</p>",
        "</header>",
        '<nav aria-label="On this page"><ul>'
        '<li><a href="#summary">In short</a></li>'
        '<li><a href="#systems">Where the information comes from</a></li>'
        '<li><a href="#details">Every piece of information, by kind</a></li>'
        '<li><a href="#sensitivity">How careful we are with each kind</a></li>'
        "</ul></nav>",
        "<main>",
        '<section aria-labelledby="summary">',
        '<h2 id="summary">In short</h2>',
        f'<p class="lead">Each night, the district copies information from '
        f"{_plural(summary['systems'], 'school system')} into one place. "
        f"It keeps {_plural(summary['fields'], 'piece')} of information, of "
        f"{_plural(summary['categories'], 'kind')}. "
        "It uses them to see how learners are doing and to give each learner a record of "
        "what they achieved.</p>",
        "<table><caption>The kinds of information we keep</caption>",
        '<thead><tr><th scope="col">Kind</th><th scope="col">What it means</th>'
        '<th scope="col">Pieces</th></tr></thead><tbody>',
    ]
    for category in doc["categories"]:
        parts.append(
            f'<tr><td><a href="#{_anchor(category["name"])}">{_e(category["name"])}</a></td>'
            f"<td>{_e(category['description'])}</td><td>{len(category['fields'])}</td></tr>"
        )
    parts += ["</tbody></table>", "<p>Who sees it:</p><ul>"]
    parts += [f"<li>{_e(a)}.</li>" for a in summary["shared_with"]]
    parts += [
        "</ul>",
        "<p>How long we keep it depends on where it comes from; see each system below.</p>",
        "</section>",
        '<section aria-labelledby="systems">',
        '<h2 id="systems">Where the information comes from</h2>',
    ]
    for system in doc["systems"]:
        parts += [
            f'<h3 id="system-{_e(system["id"])}">{_e(system["title"])}</h3>',
            f"<p>{_e(system['description'])}</p>",
            f"<p><strong>How long we keep it:</strong> {_e(system['retention'])}</p>",
            "<p><strong>Who sees it:</strong></p><ul>",
            *(f"<li>{_e(a)}</li>" for a in system["shared_with"]),
            "</ul>",
        ]
    parts += [
        "</section>",
        '<section aria-labelledby="details">',
        '<h2 id="details">Every piece of information, by kind</h2>',
    ]
    for category in doc["categories"]:
        parts += [
            f'<h3 id="{_anchor(category["name"])}">{_e(category["name"])}</h3>',
            f"<p>{_e(category['description'])}</p>",
            f"<table><caption>{_e(category['name'])}: "
            f"{_plural(len(category['fields']), 'piece')} of information</caption>",
            '<thead><tr><th scope="col">Information</th><th scope="col">Where it comes from</th>'
            '<th scope="col">Why we keep it</th><th scope="col">How careful we are</th>'
            '<th scope="col">How long, and who sees it</th></tr></thead><tbody>',
        ]
        for field in category["fields"]:
            if field["same_as_system"]:
                kept = (
                    f'<a href="#system-{_e(field["system"])}">As for '
                    f"{_e(field['system_title'])}</a>"
                )
            else:
                kept = _e(field["retention"]) + (
                    f" Seen by: {_e('; '.join(field['shared_with']))}."
                    if field["shared_with"]
                    else ""
                )
            parts.append(
                f"<tr><td>{_e(field['label'])}</td>"
                f"<td>{_e(field['system_title'])}: {_e(field['table_title'])}</td>"
                f"<td>{_e(field['purpose'])}</td><td>{_e(field['sensitivity'])}</td>"
                f"<td>{kept}</td></tr>"
            )
        parts.append("</tbody></table>")
    parts += [
        "</section>",
        '<section aria-labelledby="sensitivity">',
        '<h2 id="sensitivity">How careful we are with each kind</h2>',
        "<dl>",
        *(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in doc["sensitivities"].items()),
        "</dl>",
        "<p>Questions about this notice? Ask your school or the district office.</p>",
        "</section>",
        "</main>",
    ]
    return _page(f"What {district} collects about learners", "\n".join(parts))


def _anchor(name: str) -> str:
    return "kind-" + "".join(c if c.isalnum() else "-" for c in name.lower())


def data_dictionary(con: duckdb.DuckDBPyConnection, generated_at: datetime) -> dict[str, Any]:
    """Every marts table and column with its type and what it means (from DuckDB's comments)."""
    tables = con.execute(
        "SELECT table_name, comment FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name = 'marts' "
        "UNION ALL SELECT view_name, comment FROM duckdb_views() "
        "WHERE database_name = current_database() AND schema_name = 'marts' AND NOT internal "
        "ORDER BY 1"
    ).fetchall()
    columns: dict[str, list[dict]] = {}
    for table, column, data_type, comment in con.execute(
        "SELECT table_name, column_name, data_type, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'marts' "
        "ORDER BY table_name, column_index"
    ).fetchall():
        columns.setdefault(table, []).append(
            {"name": column, "type": data_type, "description": comment or ""}
        )
    return {
        "generated_at": generated_at.isoformat(timespec="seconds"),
        "schema": "marts",
        "tables": [
            {
                "name": f"marts.{table}",
                "description": comment or "",
                "columns": columns.get(table, []),
            }
            for table, comment in tables
        ],
    }


def render_dictionary_html(doc: dict[str, Any], district: str) -> str:
    """The data dictionary as one self-contained HTML page, for people who build dashboards."""
    parts = [
        "<header>",
        f"<h1>Data dictionary: the marts tables of {_e(district)}</h1>",
        f'<p class="muted">Updated {_e(doc["generated_at"][:10])}. Every table a dashboard '
        "may read from the published warehouse, and what each column means.</p>",
        "</header>",
        '<nav aria-label="Tables"><ul>',
        *(f'<li><a href="#{_e(t["name"])}">{_e(t["name"])}</a></li>' for t in doc["tables"]),
        "</ul></nav>",
        "<main>",
    ]
    for table in doc["tables"]:
        parts += [
            f'<section aria-labelledby="{_e(table["name"])}">',
            f'<h2 id="{_e(table["name"])}">{_e(table["name"])}</h2>',
            f"<p>{_e(table['description'] or 'Not documented yet.')}</p>",
            f"<table><caption>Columns of {_e(table['name'])}</caption>",
            '<thead><tr><th scope="col">Column</th><th scope="col">Type</th>'
            '<th scope="col">What it means</th></tr></thead><tbody>',
            *(
                f"<tr><td><code>{_e(c['name'])}</code></td><td>{_e(c['type'])}</td>"
                f"<td>{_e(c['description'] or 'Not documented yet.')}</td></tr>"
                for c in table["columns"]
            ),
            "</tbody></table>",
            "</section>",
        ]
    parts.append("</main>")
    return _page(f"Data dictionary: {district}", "\n".join(parts))


def write_atomically(path: Path, text: str) -> str:
    """Write a file beside its final path and rename it over it, so a reader sees last night's
    file or tonight's, never half of one. Returns the SHA-256 of what was written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # a public notice: readable by the web server that serves it
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest()


def notice_dir(config: PathwaysConfig) -> Path:
    """Where the notice and the data dictionary are published: beside the published warehouse."""
    return config.warehouse.published_path.parent / NOTICE_DIR


def _read_inventory_rows(con: duckdb.DuckDBPyConnection) -> list[dict]:
    cursor = con.execute("SELECT * FROM marts.data_inventory")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# ---------------------------------------------------------------------------------------------
# The assets


def build_transparency_assets(
    config: PathwaysConfig,
    raw_keys: Sequence[dg.AssetKey],
    now: Callable[[], datetime] | None = None,
) -> tuple[dg.AssetsDefinition, dg.AssetsDefinition]:
    """`marts/data_inventory`, after every raw table, and `marts/transparency_findings` with its
    blocking check: two steps, so what reads the inventory (the interoperability scorecard) is
    never held by a failing check."""
    inventory_path = config.transparency.inventory_path or INVENTORY_PATH
    clock = now or (lambda: datetime.now(UTC))

    @dg.asset(
        key=DATA_INVENTORY_KEY,
        deps=list(raw_keys),
        description=DATA_INVENTORY_DOC,
        group_name="transparency",
        kinds={"duckdb", "python"},
        pool=WAREHOUSE_POOL,
        metadata={"inventory": _display_path(inventory_path)},
    )
    def data_inventory(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        inventory = load_inventory(inventory_path)
        with warehouse.get_connection() as con:
            build_data_inventory_table(con, inventory, clock())
            counts = con.execute(
                "SELECT count(*) FILTER (WHERE declared), count(*) FILTER (WHERE collected), "
                "count(*) FILTER (WHERE collected AND NOT declared), count(*) "
                "FROM marts.data_inventory"
            ).fetchall()[0]
        declared, collected, undeclared, rows = counts
        context.log.info(
            f"data inventory: {declared} declared fields, {collected} collected tonight, "
            f"{undeclared} collected but not declared"
        )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "declared": declared,
                "collected": collected,
                "undeclared": undeclared,
            }
        )

    @dg.asset(
        key=TRANSPARENCY_FINDINGS_KEY,
        deps=[DATA_INVENTORY_KEY],
        description=TRANSPARENCY_FINDINGS_DOC,
        group_name="transparency",
        kinds={"duckdb", "sql"},
        pool=WAREHOUSE_POOL,
        check_specs=[
            dg.AssetCheckSpec(
                DECLARED_CHECK,
                asset=TRANSPARENCY_FINDINGS_KEY,
                blocking=True,
                description="Every column (and OneRoster metadata key) in raw.* is declared in "
                "the data inventory, and every declared field has a purpose, category, "
                "sensitivity and retention. Blocks the public notice while it fails.",
            )
        ],
    )
    def transparency_findings(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.get_connection() as con:
            build_findings_table(con, inventory_path, clock())
            findings = con.execute(
                "SELECT severity, problem FROM marts.transparency_findings "
                "ORDER BY severity, raw_table, column_name"
            ).fetchall()
        errors = [p for s, p in findings if s == "error"]
        warnings = [p for s, p in findings if s == "warning"]
        for problem in errors:
            context.log.error(problem)
        # Column names and counts only: the findings never hold a row's value.
        check = dg.AssetCheckResult(
            check_name=DECLARED_CHECK,
            passed=not errors,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                "Every collected field is declared and complete."
                if not errors
                else f"{len(errors)} problem(s); see marts.transparency_findings. {errors[0]}"
            ),
            metadata={
                "errors": len(errors),
                "warnings": len(warnings),
                "first_problems": dg.MetadataValue.md(
                    "\n".join(f"- {p}" for p in (errors + warnings)[:10]) or "none"
                ),
            },
        )
        return dg.MaterializeResult(
            metadata={"dagster/row_count": len(findings)}, check_results=[check]
        )

    return data_inventory, transparency_findings


def build_public_notice_asset(
    config: PathwaysConfig,
    marts_keys: Sequence[dg.AssetKey],
    now: Callable[[], datetime] | None = None,
) -> dg.AssetsDefinition:
    """`outputs/public_notice`: the notice and the data dictionary, after the blocking check and
    after every marts table the dictionary documents."""
    inventory_path = config.transparency.inventory_path or INVENTORY_PATH
    clock = now or (lambda: datetime.now(UTC))
    notice_deps = list(dict.fromkeys([TRANSPARENCY_FINDINGS_KEY, DATA_INVENTORY_KEY, *marts_keys]))

    @dg.asset(
        key=PUBLIC_NOTICE_KEY,
        deps=notice_deps,
        description="The public data-collection notice (HTML for families, JSON for machines): "
        "what the district collects, from which systems, why, how long it is kept and who sees "
        "it; and the data dictionary of every marts table. Written each night beside the "
        "published warehouse, under notice/, only when every collected field is declared.",
        group_name="outputs",
        kinds={"html", "json"},
        pool=WAREHOUSE_POOL,
    )
    def public_notice(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        inventory = load_inventory(inventory_path)
        tonight = clock()
        folder = notice_dir(config)
        with warehouse.get_connection() as con:
            ensure_transparency_tables(con)
            doc = notice_document(
                inventory, _read_inventory_rows(con), config.district.name, tonight
            )
            dictionary = data_dictionary(con, tonight)
            html_path, json_path = folder / NOTICE_HTML, folder / NOTICE_JSON
            sha = write_atomically(html_path, render_notice_html(doc))
            write_atomically(json_path, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
            write_atomically(
                folder / DICTIONARY_HTML, render_dictionary_html(dictionary, config.district.name)
            )
            write_atomically(
                folder / DICTIONARY_JSON,
                json.dumps(dictionary, indent=2, ensure_ascii=False) + "\n",
            )
            con.execute(
                "INSERT INTO audit.public_notices VALUES ($at, $run, $html, $json, $sha, $n)",
                {
                    "at": tonight,
                    "run": context.run.run_id,
                    "html": str(html_path),
                    "json": str(json_path),
                    "sha": sha,
                    "n": doc["summary"]["fields"],
                },
            )
            published = table_row_count(con, "audit", "public_notices")
        undocumented = sum(
            1 for t in dictionary["tables"] for c in t["columns"] if not c["description"]
        )
        context.log.info(
            f"public notice: {doc['summary']['fields']} fields from "
            f"{doc['summary']['systems']} systems; data dictionary: "
            f"{len(dictionary['tables'])} marts tables"
        )
        return dg.MaterializeResult(
            metadata={
                "notice": dg.MetadataValue.path(str(html_path)),
                "dictionary": dg.MetadataValue.path(str(folder / DICTIONARY_HTML)),
                "fields": doc["summary"]["fields"],
                "systems": doc["summary"]["systems"],
                "sha256": sha,
                "publications": published,
                "undocumented_marts_columns": undocumented,
            }
        )

    return public_notice
