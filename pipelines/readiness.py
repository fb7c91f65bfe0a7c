"""The readiness scoring asset: where the district stands tonight on each indicator and category
of the District Readiness Framework, with the evidence, and the levels night after night.

It reads the numbers of `marts.readiness_measures`, the levels of
`marts.data_infrastructure_levels` (when that mart is part of the night) and the district's
self-assessment file, and applies `models/readiness_rules.yaml` (with the district's threshold
overrides from pathways.yaml) to write three marts, the contract the readiness dashboard reads.
"""

import csv
import json
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb

from connectors.oneroster_csv import ensure_oneroster_tables
from models.config import PathwaysConfig
from models.readiness import Framework, Level, load_framework
from models.readiness_rules import (
    INFRASTRUCTURE_SOURCE,
    SELF_ASSESSMENT_COLUMNS,
    MeasuredRule,
    Measurement,
    MeasureValue,
    ReadinessRules,
    RejectedSelfAssessment,
    SelfAssessment,
    category_level,
    final_level,
    indicator_flags,
    load_readiness_rules,
    measured_level,
    read_self_assessment_rows,
)
from pipelines.warehouse import WAREHOUSE_POOL, WarehouseResource, comment_table, quote_ident

READINESS_INDICATORS_KEY = dg.AssetKey(["marts", "readiness_indicators"])
READINESS_CATEGORIES_KEY = dg.AssetKey(["marts", "readiness_categories"])
READINESS_HISTORY_KEY = dg.AssetKey(["marts", "readiness_history"])
READINESS_KEYS = (READINESS_INDICATORS_KEY, READINESS_CATEGORIES_KEY, READINESS_HISTORY_KEY)
READINESS_MEASURES_KEY = dg.AssetKey(["marts", "readiness_measures"])
# Built by the data-infrastructure scoring (interoperability and transparency levels).
DATA_INFRASTRUCTURE_LEVELS_KEY = dg.AssetKey(["marts", "data_infrastructure_levels"])
# How self-assessment rows that were not used are tagged in audit.rejected_rows.
SELF_ASSESSMENT_SOURCE = "readiness_self_assessment"
NOT_ASSESSED = "not assessed"

# The marts' columns: name, DuckDB type and what it means (written as COMMENT ON COLUMN).
INDICATOR_COLUMNS = (
    ("night", "DATE", "the night scored: the date in the district's time zone"),
    ("category_id", "VARCHAR", "the framework category's id"),
    ("category", "VARCHAR", "the framework category's name"),
    ("indicator_id", "VARCHAR", "the indicator's id (models/readiness_framework.yaml)"),
    ("indicator", "VARCHAR", "the indicator's short name"),
    (
        "measured_level",
        "VARCHAR",
        "Starting, Practicing or Sustaining as the warehouse measures it; NULL when no rule "
        "measures the indicator or there was nothing to measure",
    ),
    ("measured_evidence", "VARCHAR", "the numbers behind the measured level, in a sentence"),
    (
        "measured_evidence_json",
        "JSON",
        "the same numbers for machines: each measure's value, numerator, denominator and unit, "
        "and the thresholds applied (or the source mart's own evidence)",
    ),
    (
        "self_assessed_level",
        "VARCHAR",
        "the level the district gave itself in its self-assessment file; NULL when none",
    ),
    ("self_assessment_note", "VARCHAR", "the evidence note of the self-assessment"),
    ("self_assessed_by", "VARCHAR", "the role of who assessed it (never a name)"),
    ("self_assessed_on", "DATE", "when it was self-assessed"),
    (
        "final_level",
        "VARCHAR",
        "the indicator's level: measured when data can measure it, else self-assessed; NULL "
        "when not assessed",
    ),
    ("final_statement", "VARCHAR", "the framework's statement at the final level"),
    ("status", "VARCHAR", "'assessed' when there is a final level, else 'not assessed'"),
    (
        "flags",
        "VARCHAR[]",
        "self_assessment_above_measured when the district rated itself above what the data "
        "shows; self_assessment_below_measured when below",
    ),
)
CATEGORY_COLUMNS = (
    ("night", "DATE", "the night scored: the date in the district's time zone"),
    ("category_id", "VARCHAR", "the framework category's id"),
    ("category", "VARCHAR", "the framework category's name"),
    (
        "level",
        "VARCHAR",
        "the category's level by `rule`: the lowest final level of its assessed indicators; "
        "NULL (not assessed) when fewer than half of them are assessed",
    ),
    ("indicators_total", "INTEGER", "the category's indicators in the framework"),
    ("indicators_assessed", "INTEGER", "of those, the ones with a final level tonight"),
    ("rule", "VARCHAR", "the documented rule that gave the level"),
)
HISTORY_COLUMNS = (
    ("night", "DATE", "the night scored: the date in the district's time zone"),
    ("indicator_id", "VARCHAR", "the indicator's id (models/readiness_framework.yaml)"),
    ("category_id", "VARCHAR", "the framework category's id"),
    ("measured_level", "VARCHAR", "the measured level that night; NULL when not measured"),
    ("self_assessed_level", "VARCHAR", "the self-assessed level that night; NULL when none"),
    ("final_level", "VARCHAR", "the final level that night; NULL when not assessed"),
)
TABLE_DESCRIPTIONS = {
    "readiness_indicators": "Where the district stands on each indicator of the District "
    "Readiness Framework: one row per indicator (all of them) per night scored, with the "
    "measured level and its evidence, the self-assessed level, the final level (measured when "
    "data can measure it, else self-assessed) and flags where the two disagree. Indicators with "
    "neither are 'not assessed', never guessed. Tonight is the latest night; a re-run of a night "
    "replaces that night's rows.",
    "readiness_categories": "Each framework category's level: one row per category per night "
    "scored, the lowest final level among its assessed indicators, not assessed when fewer than "
    "half are assessed. A re-run of a night replaces that night's rows.",
    "readiness_history": "Each indicator's levels night after night (one row per indicator per "
    "night; a re-run of a night replaces that night), so dashboards can show trends.",
}


class ReadinessRunConfig(dg.Config):
    """Which night to score; by default today in the district's time zone."""

    night: str | None = None  # YYYY-MM-DD, to score (or re-score) another night


def build_readiness_asset(
    config: PathwaysConfig, infrastructure_levels_in_graph: bool
) -> dg.AssetsDefinition:
    """The three readiness marts, built together from one scoring of the night.

    `infrastructure_levels_in_graph`: marts.data_infrastructure_levels is an asset of this
    night, so the two data indicators wait for it (without it they are not measured)."""
    upstream = [READINESS_MEASURES_KEY]
    if infrastructure_levels_in_graph:
        upstream.append(DATA_INFRASTRUCTURE_LEVELS_KEY)
    rules = load_readiness_rules().with_thresholds(config.readiness.thresholds)
    framework = load_framework()
    timezone = ZoneInfo(config.district.timezone)
    self_assessment_path = config.readiness.self_assessment_path

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                key,
                deps=upstream,
                description=TABLE_DESCRIPTIONS[key.path[-1]],
                group_name="marts",
                kinds={"duckdb", "python"},
            )
            for key in READINESS_KEYS
        ],
        name="readiness_scoring",
        pool=WAREHOUSE_POOL,
    )
    def _readiness(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        config: ReadinessRunConfig,
    ):
        night = date.fromisoformat(config.night) if config.night else datetime.now(timezone).date()
        assessments, rejected = read_self_assessment(self_assessment_path, framework, night)
        if self_assessment_path is None or not self_assessment_path.is_file():
            context.log.info(
                f"no self-assessment file at {self_assessment_path}; indicators no data measures "
                "are not assessed"
            )
        with warehouse.get_connection() as con:
            values = read_measures(con)
            infrastructure = read_infrastructure_levels(con, night)
            indicators = score_indicators(framework, rules, values, infrastructure, assessments)
            categories = score_categories(framework, rules, indicators)
            write_readiness(con, night, indicators, categories)
            record_rejected_self_assessment(con, context.run.run_id, night, rejected)
        for reject in rejected:
            context.log.warning(
                f"{reject.file} line {reject.line}, {reject.field}: {reject.reason}"
            )
        assessed = sum(1 for row in indicators if row["final_level"] is not None)
        table = "| category | level | assessed |\n| --- | --- | ---: |\n" + "\n".join(
            f"| {c['category']} | {c['level'] or NOT_ASSESSED} | "
            f"{c['indicators_assessed']} of {c['indicators_total']} |"
            for c in categories
        )
        context.log.info(
            f"readiness {night}: {assessed} of {len(indicators)} indicators assessed, "
            f"{len(rejected)} self-assessment row(s) rejected"
        )
        yield dg.MaterializeResult(
            asset_key=READINESS_INDICATORS_KEY,
            metadata={
                "dagster/row_count": len(indicators),
                "night": str(night),
                "indicators_assessed": assessed,
                "self_assessment_rows_rejected": len(rejected),
                "flagged": sum(1 for row in indicators if row["flags"]),
            },
        )
        yield dg.MaterializeResult(
            asset_key=READINESS_CATEGORIES_KEY,
            metadata={
                "dagster/row_count": len(categories),
                "category_levels": dg.MetadataValue.md(table),
            },
        )
        yield dg.MaterializeResult(asset_key=READINESS_HISTORY_KEY, metadata={"night": str(night)})

    return _readiness


# --- reading ------------------------------------------------------------------------------------


def read_self_assessment(
    path: Path | None, framework: Framework, today: date
) -> tuple[dict[str, SelfAssessment], list[RejectedSelfAssessment]]:
    """The district's self-assessment file, validated row by row (a missing file is no
    self-assessment; a file without the expected header is one rejected row)."""
    if path is None or not path.is_file():
        return {}, []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = [name.strip() for name in reader.fieldnames or []]
        missing = [c for c in SELF_ASSESSMENT_COLUMNS if c not in header]
        if missing:
            return {}, [
                RejectedSelfAssessment(
                    str(path),
                    1,
                    missing[0],
                    ",".join(header),
                    f"the header lacks {', '.join(missing)}; the file's first line must be "
                    f"{','.join(SELF_ASSESSMENT_COLUMNS)}",
                )
            ]
        reader.fieldnames = header
        # Line numbers of the file (the header is line 1); a quoted newline spans lines.
        rows = ((reader.line_num, row) for row in reader)
        return read_self_assessment_rows(rows, str(path), framework, today)


def read_measures(con: duckdb.DuckDBPyConnection) -> dict[str, MeasureValue]:
    """Tonight's numbers of marts.readiness_measures, by measure."""
    return {
        measure: MeasureValue(value, numerator, denominator)
        for measure, value, numerator, denominator in con.execute(
            "SELECT measure, value, numerator, denominator FROM marts.readiness_measures"
        ).fetchall()
    }


def read_infrastructure_levels(
    con: duckdb.DuckDBPyConnection, night: date
) -> dict[str, Measurement]:
    """The data indicators' levels tonight from marts.data_infrastructure_levels; none when that
    mart does not exist in this warehouse."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = 'marts' AND table_name = 'data_infrastructure_levels'"
    ).fetchone()[0]
    if not exists:
        return {}
    levels = {level.value: level for level in Level}
    found = {}
    for indicator_id, level, evidence, evidence_json in con.execute(
        "SELECT indicator_id, level, evidence, evidence_json::VARCHAR "
        "FROM marts.data_infrastructure_levels WHERE night = ?",
        [night],
    ).fetchall():
        if level in levels:
            found[indicator_id] = Measurement(
                levels[level],
                evidence or "",
                {"source": "marts.data_infrastructure_levels", "evidence": _json(evidence_json)},
            )
    return found


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except ValueError:
        return text


# --- scoring ------------------------------------------------------------------------------------


def score_indicators(
    framework: Framework,
    rules: ReadinessRules,
    values: Mapping[str, MeasureValue],
    infrastructure: Mapping[str, Measurement],
    assessments: Mapping[str, SelfAssessment],
) -> list[dict[str, Any]]:
    """One row per framework indicator: measured and self-assessed evidence, final level,
    flags."""
    rows = []
    for category in framework.categories:
        for indicator in category.indicators:
            rule = rules.rules.get(indicator.id)
            measurement = _measure(rule, values, infrastructure, rules)
            own = assessments.get(indicator.id)
            measured = measurement.level if measurement else None
            assessed = own.level if own else None
            final = final_level(measured, assessed)
            rows.append(
                {
                    "category_id": category.id,
                    "category": category.name,
                    "indicator_id": indicator.id,
                    "indicator": indicator.name,
                    "measured_level": measured.value if measured else None,
                    "measured_evidence": measurement.evidence if measurement else _unmeasured(rule),
                    "measured_evidence_json": json.dumps(measurement.evidence_json)
                    if measurement
                    else None,
                    "self_assessed_level": assessed.value if assessed else None,
                    "self_assessment_note": own.evidence_note if own else None,
                    "self_assessed_by": own.assessed_by if own else None,
                    "self_assessed_on": own.assessed_on if own else None,
                    "final_level": final.value if final else None,
                    "final_statement": indicator.statement(final) if final else None,
                    "status": "assessed" if final else NOT_ASSESSED,
                    "flags": indicator_flags(measured, assessed),
                }
            )
    return rows


def _measure(
    rule: MeasuredRule | None,
    values: Mapping[str, MeasureValue],
    infrastructure: Mapping[str, Measurement],
    rules: ReadinessRules,
) -> Measurement | None:
    if rule is None:
        return None
    if rule.source == INFRASTRUCTURE_SOURCE:
        return infrastructure.get(rule.indicator_id)
    return measured_level(rule, values, rules.measures)


def _unmeasured(rule: MeasuredRule | None) -> str:
    if rule is None:
        return "No data rule measures this indicator; it is self-assessed only."
    if rule.source == INFRASTRUCTURE_SOURCE:
        return "marts.data_infrastructure_levels has no level for this indicator tonight."
    return "Nothing to measure tonight (the data this rule needs is absent)."


def score_categories(
    framework: Framework, rules: ReadinessRules, indicators: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per framework category, by the documented category rule."""
    finals = {row["indicator_id"]: row["final_level"] for row in indicators}
    rows = []
    for category in framework.categories:
        levels = [Level(finals[i.id]) if finals[i.id] else None for i in category.indicators]
        level = category_level(levels, rules.min_assessed_share)
        rows.append(
            {
                "category_id": category.id,
                "category": category.name,
                "level": level.value if level else None,
                "indicators_total": len(levels),
                "indicators_assessed": sum(1 for lv in levels if lv is not None),
                "rule": rules.category_rule,
            }
        )
    return rows


# --- writing ------------------------------------------------------------------------------------


def write_readiness(
    con: duckdb.DuckDBPyConnection,
    night: date,
    indicators: list[dict[str, Any]],
    categories: list[dict[str, Any]],
) -> None:
    """The night's rows of the three marts, which keep every night scored; a re-run of a night
    replaces that night's rows."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute("BEGIN TRANSACTION")
    try:
        for table, columns, rows in (
            ("readiness_indicators", INDICATOR_COLUMNS, indicators),
            ("readiness_categories", CATEGORY_COLUMNS, categories),
            ("readiness_history", HISTORY_COLUMNS, indicators),
        ):
            _create(con, table, columns)
            # Delete then insert, so a re-run of the same night replaces rather than duplicates.
            con.execute(f"DELETE FROM marts.{quote_ident(table)} WHERE night = ?", [night])
            _insert(con, table, columns, [{"night": night, **row} for row in rows])
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def _create(con, table: str, columns) -> None:
    target = f"marts.{quote_ident(table)}"
    body = ", ".join(f"{quote_ident(name)} {kind}" for name, kind, _ in columns)
    con.execute(f"CREATE TABLE IF NOT EXISTS {target} ({body})")
    comment_table(
        con, "marts", table, TABLE_DESCRIPTIONS[table], {name: doc for name, _, doc in columns}
    )


def _insert(con, table: str, columns, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    names = ", ".join(quote_ident(name) for name, _, _ in columns)
    values = ", ".join(f"?::{kind}" for _, kind, _ in columns)
    con.executemany(
        f"INSERT INTO marts.{quote_ident(table)} ({names}) VALUES ({values})",
        [[row.get(name) for name, _, _ in columns] for row in rows],
    )


def record_rejected_self_assessment(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    night: date,
    rejected: list[RejectedSelfAssessment],
) -> None:
    """Tonight's unused self-assessment rows in audit.rejected_rows (replacing the same
    night's), where the night's other rejected rows are."""
    ensure_oneroster_tables(con)
    batch_id = f"{SELF_ASSESSMENT_SOURCE}-{night.isoformat()}"
    con.execute(
        "DELETE FROM audit.rejected_rows WHERE source = ? AND batch_id = ?",
        [SELF_ASSESSMENT_SOURCE, batch_id],
    )
    if rejected:
        con.executemany(
            "INSERT INTO audit.rejected_rows (run_id, batch_id, source, file, line, column_name, "
            "value, reason, rejected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, now())",
            [
                [
                    run_id,
                    batch_id,
                    SELF_ASSESSMENT_SOURCE,
                    r.file,
                    r.line,
                    r.field,
                    r.value,
                    r.reason,
                ]
                for r in rejected
            ],
        )
