"""The interoperability scorecard: one row per connected system per night, one Dagster asset check
per system, and the district's two data-infrastructure levels of the readiness framework.

Which systems there are comes from pathways.yaml (the SIS, every LMS, every credential source);
what each speaks and which measures apply comes from `models.interoperability.SYSTEM_PROFILES`,
so a new kind of source is a declaration there, not a branch here. The measures are SQL over what
the night already recorded (marts.learner_link_rates, audit.sis_loads, audit.rejected_rows,
audit.api_syncs, staging.credential_checks); the verdicts are the pure rules of
`models.interoperability`.

History is kept: a night's rows are deleted and inserted again in one transaction, so a re-run of
the same night replaces them and earlier nights stay.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb

from connectors.oneroster_csv import ensure_oneroster_tables
from models.config import InteroperabilitySettings, PathwaysConfig
from models.interoperability import (
    Assessment,
    Family,
    IndicatorLevel,
    InventoryState,
    Status,
    SystemMeasures,
    assess_system,
    interoperability_level,
    is_fresh,
    profile_of,
    standard_name,
    transparency_level,
)
from models.readiness import load_framework
from pipelines.credential_assets import ALERT_STATUSES, ensure_credential_tables
from pipelines.warehouse import WAREHOUSE_POOL, WarehouseResource, quote_literal

SCORECARD_KEY = dg.AssetKey(["marts", "interoperability_scorecard"])
LEVELS_KEY = dg.AssetKey(["marts", "data_infrastructure_levels"])
DATA_INVENTORY_KEY = dg.AssetKey(["marts", "data_inventory"])
UPSTREAM_KEYS = (
    dg.AssetKey(["marts", "learner_link_rates"]),
    dg.AssetKey(["marts", "sis_load_summary"]),
    dg.AssetKey(["staging", "credential_checks"]),
    dg.AssetKey(["core", "learners"]),
    dg.AssetKey(["core", "lms_enrollments"]),
)
# One check per system on the scorecard: `interoperability_<system>` (system as in pathways.yaml).
CHECK_PREFIX = "interoperability_"
SIS_SYSTEM = "sis"

# (column, DuckDB type, what it means) of marts.interoperability_scorecard, in order.
SCORECARD_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("night", "DATE", "the night, in the district's time zone"),
    ("system", "VARCHAR", "the source's name in pathways.yaml; sis for the SIS"),
    ("kind", "VARCHAR", "the source's kind in pathways.yaml (oneroster_csv, canvas, credly, …)"),
    ("standard", "VARCHAR", "the standard or API the system is read through, e.g. OneRoster 1.2"),
    (
        "learners",
        "BIGINT",
        "identities the system holds (LMS accounts, credential recipients; the SIS: its live "
        "learners)",
    ),
    ("learners_linked", "BIGINT", "of those, the ones linked to exactly one SIS user"),
    (
        "link_rate",
        "DOUBLE",
        "learners_linked / learners; 1 for the SIS (the master of identity), NULL with no "
        "identities",
    ),
    (
        "referential_integrity",
        "DOUBLE",
        "share of records whose references resolve: SIS rows not rejected for a reference, LMS "
        "enrollments whose user and course the LMS sent, credentials naming an achievement and "
        "issuer",
    ),
    (
        "validation_pass_rate",
        "DOUBLE",
        "share of rows that passed validation: SIS rows not rejected, credentials not tampered "
        "with or unreadable; NULL for LMS APIs, whose records are kept as received",
    ),
    ("last_success_at", "TIMESTAMPTZ", "when the system's last successful sync or load ended"),
    ("fresh", "BOOLEAN", "the last successful sync is within freshness_hours of the night's run"),
    (
        "sis_id_changes",
        "BIGINT",
        "learners whose SIS sourcedId changed tonight for the same person (same state id, user "
        "ids, email or username hash); on the SIS's row, NULL on the others",
    ),
    ("status", "VARCHAR", "pass, warn or fail, by the thresholds in pathways.yaml"),
    ("findings", "VARCHAR", "what to do about a warn or fail, in a sentence; '' when pass"),
)

LEVELS_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("night", "DATE", "the night, in the district's time zone"),
    ("indicator_id", "VARCHAR", "the readiness framework indicator (models/readiness_framework)"),
    ("level", "VARCHAR", "Starting, Practicing or Sustaining"),
    ("evidence", "VARCHAR", "the numbers behind the level, in a sentence"),
    ("evidence_json", "JSON", "the same numbers, as JSON"),
)


class ScorecardConfig(dg.Config):
    """Run-time clock: `now` (ISO 8601 with an offset) judges a night as if it were that time,
    e.g. to recompute a past night; by default, the time the step runs."""

    now: str | None = None


@dataclass(frozen=True)
class ConnectedSystem:
    """One system the district connects, as pathways.yaml names it."""

    name: str
    kind: str


def connected_systems(config: PathwaysConfig) -> list[ConnectedSystem]:
    """The SIS, then every LMS and credential source, in config order."""
    systems = [ConnectedSystem(SIS_SYSTEM, config.sources.sis.kind)]
    systems += [ConnectedSystem(s.name, s.kind) for s in config.sources.lms]
    systems += [ConnectedSystem(s.name, s.kind) for s in config.sources.credentials]
    for system in systems:
        profile_of(system.kind)  # fails at definitions time for an undeclared kind
    names = [s.name for s in systems[1:]]
    if SIS_SYSTEM in names:
        raise ValueError(
            f"a source is named {SIS_SYSTEM!r}, the name the interoperability scorecard gives "
            "the SIS; give it another `name` in pathways.yaml"
        )
    return systems


def check_name(system: str) -> str:
    """The asset check of one system, e.g. `interoperability_canvas`."""
    return f"{CHECK_PREFIX}{system}"


def night_of(now: datetime, timezone: str) -> date:
    """The night a run belongs to: its date in the district's time zone."""
    return now.astimezone(ZoneInfo(timezone)).date()


# --- measuring ----------------------------------------------------------------------------------


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None):
    # DuckDB 2.0 results stream and hold the connection until fully fetched.
    return con.execute(sql, params or {}).fetchall()


def _share(part: int | None, whole: int | None) -> float | None:
    return None if not whole else (part or 0) / whole


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        _rows(
            con,
            "SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = $schema AND table_name = $table",
            {"schema": schema, "table": table},
        )
    )


_SIS_LOAD = """
WITH good AS (
    SELECT batch_id, run_id, max(loaded_at) AS loaded_at,
           any_value(oneroster_version) AS version,
           sum(rows_read) AS rows_read, sum(rows_rejected) AS rows_rejected
    FROM audit.sis_loads
    WHERE source = $source
    GROUP BY batch_id, run_id
    HAVING count(*) FILTER (WHERE status = 'held') = 0
       AND count(*) FILTER (WHERE status = 'loaded') > 0
)
SELECT
    g.loaded_at,
    g.version,
    g.rows_read,
    g.rows_rejected,
    -- The connector's reference rule words its reasons this way (connectors/oneroster_csv.py).
    (SELECT count(DISTINCT (r.file, r.line)) FROM audit.rejected_rows AS r
     WHERE r.source = $source AND r.batch_id = g.batch_id
       AND regexp_matches(r.reason, ' (is not in|is marked tobedeleted in|was rejected in) ')
    ) AS reference_rejects
FROM good AS g
ORDER BY g.loaded_at DESC
LIMIT 1
"""

_LINKS = """
SELECT identities, linked FROM marts.learner_link_rates WHERE source = $source
"""

_LMS_INTEGRITY = """
SELECT
    count(*) AS enrollments,
    count(*) FILTER (
        WHERE EXISTS (SELECT 1 FROM core.lms_users AS u
                      WHERE u.source = e.source AND u.lms_user_id = e.lms_user_id)
          AND EXISTS (SELECT 1 FROM core.lms_courses AS c
                      WHERE c.source = e.source AND c.lms_course_id = e.lms_course_id)
    ) AS resolved
FROM core.lms_enrollments AS e
WHERE e.source = $source
"""

_CREDENTIAL_QUALITY = """
SELECT
    count(*) AS records,
    count(*) FILTER (WHERE achievement_id IS NOT NULL AND issuer_id IS NOT NULL) AS resolved,
    count(*) FILTER (WHERE NOT list_contains($alerts, verification_status)) AS passed,
    coalesce(list(DISTINCT spec_version) FILTER (WHERE spec_version IN ('2.0', '3.0')), [])
FROM staging.credential_checks
WHERE source = $source
"""

_LAST_SYNC = """
SELECT max(finished_at) FROM audit.api_syncs WHERE source = $source AND finished_at IS NOT NULL
"""

# The stable identifiers of tonight's live learners, hashed: never the values themselves.
_TONIGHT_IDENTITIES = """
WITH learner_users AS (
    SELECT u.*
    FROM staging.stg_oneroster__users AS u
    JOIN core.learners AS l ON l.learner_sourced_id = u.sourced_id
),
keys AS (
    SELECT sourced_id, 'identifier' AS kind, identifier AS value FROM learner_users
    UNION ALL
    SELECT sourced_id, 'master', user_master_identifier FROM learner_users
    UNION ALL
    SELECT sourced_id, 'user_id', unnest(user_ids) FROM learner_users
    UNION ALL
    SELECT sourced_id, 'email', email FROM learner_users
    UNION ALL
    SELECT sourced_id, 'username', username FROM learner_users
)
SELECT DISTINCT sourced_id, sha256(kind || ':' || lower(trim(value))) AS identity_key
FROM keys
WHERE nullif(trim(value), '') IS NOT NULL
"""

# A sourcedId first seen tonight that carries an identity key held before by a sourcedId the SIS
# no longer sends: the same person under a new id.
_SIS_ID_CHANGES = """
SELECT count(DISTINCT new.sourced_id)
FROM audit.learner_identities AS new
JOIN audit.learner_identities AS old
  ON old.identity_key = new.identity_key AND old.sourced_id <> new.sourced_id
WHERE new.last_seen = $night
  AND NOT EXISTS (SELECT 1 FROM audit.learner_identities AS n
                  WHERE n.sourced_id = new.sourced_id AND n.first_seen < $night)
  AND old.last_seen < $night
  AND NOT EXISTS (SELECT 1 FROM audit.learner_identities AS o
                  WHERE o.sourced_id = old.sourced_id AND o.last_seen >= $night)
"""


def record_learner_identities(con: duckdb.DuckDBPyConnection, night: date) -> int:
    """Add tonight's learners' identity hashes to `audit.learner_identities` and count the
    learners whose sourcedId changed tonight for the same person."""
    _rows(
        con,
        """
        CREATE TABLE IF NOT EXISTS audit.learner_identities (
            sourced_id VARCHAR,
            identity_key VARCHAR,
            first_seen DATE,
            last_seen DATE,
            PRIMARY KEY (sourced_id, identity_key)
        )
        """,
    )
    _rows(
        con,
        "COMMENT ON TABLE audit.learner_identities IS 'Which SIS sourcedId held which stable "
        "identifier of a learner, night by night: SHA-256 of the state id, user ids, email or "
        "username (never the values), so a new sourcedId for the same person is seen.'",
    )
    _rows(
        con,
        f"""
        INSERT INTO audit.learner_identities
        SELECT sourced_id, identity_key, $night, $night FROM ({_TONIGHT_IDENTITIES})
        ON CONFLICT (sourced_id, identity_key) DO UPDATE SET
            first_seen = least(first_seen, excluded.first_seen),
            last_seen = greatest(last_seen, excluded.last_seen)
        """,
        {"night": night},
    )
    return _rows(con, _SIS_ID_CHANGES, {"night": night})[0][0]


def measure_system(
    con: duckdb.DuckDBPyConnection,
    system: ConnectedSystem,
    settings: InteroperabilitySettings,
    now: datetime,
    sis_id_changes: int,
) -> SystemMeasures:
    """Tonight's measures of one system, by the family its kind is declared in."""
    profile = profile_of(system.kind)
    source = {"source": system.name}
    versions: list[str] = []
    integrity = validation = None
    if profile.family is Family.SIS:
        load = _rows(con, _SIS_LOAD, source)
        last_success, version, read, rejected, reference = load[0] if load else (None,) * 5
        versions = [version] if version else []
        integrity = _share((read or 0) - (reference or 0), read)
        validation = _share((read or 0) - (rejected or 0), read)
        learners = _rows(con, "SELECT count(*) FROM core.learners")[0][0]
        linked, link_rate = learners, 1.0
    else:
        links = _rows(con, _LINKS, source)
        learners, linked = links[0] if links else (0, 0)
        link_rate = _share(linked, learners)
        last_success = _rows(con, _LAST_SYNC, source)[0][0]
        if profile.family is Family.LMS:
            enrollments, resolved = _rows(con, _LMS_INTEGRITY, source)[0]
            integrity = _share(resolved, enrollments)
        else:
            records, resolved, passed, versions = _rows(
                con, _CREDENTIAL_QUALITY, {**source, "alerts": list(ALERT_STATUSES)}
            )[0]
            integrity = _share(resolved, records)
            validation = _share(passed, records)
    return SystemMeasures(
        system=system.name,
        kind=system.kind,
        standard=standard_name(system.kind, versions),
        open_standard=profile.open_standard,
        is_sis=profile.family is Family.SIS,
        learners=learners,
        learners_linked=linked,
        link_rate=link_rate,
        referential_integrity=integrity,
        validation_pass_rate=validation,
        last_success_at=last_success,
        fresh=is_fresh(last_success, now, settings.freshness_hours),
        sis_id_changes=sis_id_changes if profile.family is Family.SIS else None,
    )


def inventory_state(
    con: duckdb.DuckDBPyConnection, night_start: datetime, freshness_hours: float
) -> tuple[InventoryState, list[str] | None]:
    """Tonight's data inventory, the public notices published before tonight, and the systems
    the inventory lists (its own names: `oneroster`, `canvas`, …). A missing or empty
    marts.data_inventory is no inventory (None); a missing audit.public_notices, no notice.

    Only notices from before `night_start` (midnight of the night, district time) count, so a
    re-run of the same night, which publishes the notice again, judges as the first run did."""
    if not _table_exists(con, "marts", "data_inventory"):
        return InventoryState(inventory_rows=None), None
    # The inventory's latest check is tonight's (it may keep earlier ones).
    rows, undeclared, incomplete = _rows(
        con,
        """
        SELECT count(*),
               count(*) FILTER (WHERE collected AND NOT declared),
               count(*) FILTER (WHERE declared AND NOT complete)
        FROM marts.data_inventory
        WHERE checked_at IS NOT DISTINCT FROM (SELECT max(checked_at) FROM marts.data_inventory)
        """,
    )[0]
    systems = [s for (s,) in _rows(con, "SELECT DISTINCT system FROM marts.data_inventory")]
    published = recent = 0
    if _table_exists(con, "audit", "public_notices"):
        published, recent = _rows(
            con,
            "SELECT count(*), count(*) FILTER (WHERE published_at >= $since) "
            "FROM audit.public_notices WHERE published_at < $night_start",
            {"since": night_start - timedelta(hours=freshness_hours), "night_start": night_start},
        )[0]
    state = InventoryState(
        inventory_rows=rows,
        collected_undeclared=undeclared,
        declared_incomplete=incomplete,
        notices_published=published,
        notice_recent=bool(recent),
    )
    return state, (sorted(s for s in systems if s) if rows else None)


# --- writing ------------------------------------------------------------------------------------


def _ensure_table(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: tuple[tuple[str, str, str], ...],
    comment: str,
) -> None:
    _rows(con, "CREATE SCHEMA IF NOT EXISTS marts")
    _rows(
        con,
        f"CREATE TABLE IF NOT EXISTS {table} ("
        + ", ".join(f"{name} {sql_type}" for name, sql_type, _ in columns)
        + ")",
    )
    # COMMENT takes no bound parameters; the texts are ours, quoted.
    _rows(con, f"COMMENT ON TABLE {table} IS {quote_literal(comment)}")
    for name, _, doc in columns:
        _rows(con, f"COMMENT ON COLUMN {table}.{name} IS {quote_literal(doc)}")


def _replace_night(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: tuple[tuple[str, str, str], ...],
    night: date,
    rows: list[dict[str, Any]],
) -> None:
    """Delete then insert, so a re-run of the same night replaces rather than duplicates."""
    names = [name for name, _, _ in columns]
    values = ", ".join(f"CAST(${name} AS {sql_type})" for name, sql_type, _ in columns)
    _rows(con, "BEGIN TRANSACTION")
    try:
        _rows(con, f"DELETE FROM {table} WHERE night = $night", {"night": night})
        for row in rows:
            _rows(
                con,
                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({values})",
                {name: row[name] for name in names},
            )
        _rows(con, "COMMIT")
    except Exception:
        _rows(con, "ROLLBACK")
        raise


@dataclass(frozen=True)
class Scorecard:
    """One night's scorecard: every system's measures and verdict, and the two levels."""

    night: date
    systems: list[tuple[SystemMeasures, Assessment]]
    levels: list[IndicatorLevel]


def build_scorecard(
    con: duckdb.DuckDBPyConnection, config: PathwaysConfig, now: datetime
) -> Scorecard:
    """Measure and judge every connected system tonight and write both marts tables."""
    settings = config.interoperability
    night = night_of(now, config.district.timezone)
    ensure_oneroster_tables(con)
    ensure_credential_tables(con)
    changes = record_learner_identities(con, night)
    systems = []
    for system in connected_systems(config):
        measures = measure_system(con, system, settings, now, changes)
        systems.append((measures, assess_system(measures, settings, now)))
    night_start = datetime.combine(night, time(), ZoneInfo(config.district.timezone))
    state, listed = inventory_state(con, night_start, settings.freshness_hours)
    inventoried = (
        None
        if listed is None
        else [m.system for m, _ in systems if profile_of(m.kind).inventory_system in listed]
    )
    levels = [
        interoperability_level([m for m, _ in systems], settings, inventoried),
        transparency_level(state),
    ]
    framework = load_framework()
    for level in levels:
        framework.indicator(level.indicator_id)  # KeyError if the framework renamed it
    _ensure_table(
        con,
        "marts.interoperability_scorecard",
        SCORECARD_COLUMNS,
        "How interoperable each connected system is, night by night: the standard it speaks, "
        "the share of its identities linked to SIS learners, referential integrity, validation, "
        "freshness and SIS ids that changed for the same person, with a pass / warn / fail "
        "verdict and what to do. One row per system per night.",
    )
    _ensure_table(
        con,
        "marts.data_infrastructure_levels",
        LEVELS_COLUMNS,
        "Where the district stands, night by night, on the readiness framework's interoperable "
        "infrastructure and data-collection transparency indicators, with the evidence.",
    )
    _replace_night(
        con,
        "marts.interoperability_scorecard",
        SCORECARD_COLUMNS,
        night,
        [
            {
                "night": night,
                "system": m.system,
                "kind": m.kind,
                "standard": m.standard,
                "learners": m.learners,
                "learners_linked": m.learners_linked,
                "link_rate": m.link_rate,
                "referential_integrity": m.referential_integrity,
                "validation_pass_rate": m.validation_pass_rate,
                "last_success_at": m.last_success_at,
                "fresh": m.fresh,
                "sis_id_changes": m.sis_id_changes,
                "status": a.status.value,
                "findings": a.findings,
            }
            for m, a in systems
        ],
    )
    _replace_night(
        con,
        "marts.data_infrastructure_levels",
        LEVELS_COLUMNS,
        night,
        [
            {
                "night": night,
                "indicator_id": level.indicator_id,
                "level": level.level.value,
                "evidence": level.evidence,
                "evidence_json": _json(level.evidence_json),
            }
            for level in levels
        ],
    )
    return Scorecard(night, systems, levels)


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


# --- the asset ----------------------------------------------------------------------------------


def build_interoperability_assets(
    config: PathwaysConfig,
    with_inventory: bool,
    now: Callable[[], datetime] | None = None,
) -> dg.AssetsDefinition:
    """`marts/interoperability_scorecard` (with one check per connected system) and
    `marts/data_infrastructure_levels`, built in one step. `with_inventory`: the definitions
    hold `marts/data_inventory`, so the scorecard waits for it."""
    district = config
    systems = connected_systems(district)
    deps = [*UPSTREAM_KEYS, *([DATA_INVENTORY_KEY] if with_inventory else [])]
    settings = district.interoperability

    @dg.multi_asset(
        name="interoperability_scorecard",
        specs=[
            dg.AssetSpec(
                SCORECARD_KEY,
                deps=deps,
                description="How interoperable each connected system is tonight (the SIS, every "
                "LMS and credential platform): the open standard it speaks, the share of its "
                "learners linked to the SIS, referential integrity, validation, freshness and "
                "SIS ids that changed for the same person. History: one row per system per night.",
                group_name="marts",
                kinds={"duckdb", "python"},
            ),
            dg.AssetSpec(
                LEVELS_KEY,
                deps=deps,
                description="Where the district stands on the readiness framework's "
                "interoperable-infrastructure and data-collection-transparency indicators, night "
                "by night, with the numbers behind each level.",
                group_name="marts",
                kinds={"duckdb", "python"},
            ),
        ],
        check_specs=[
            dg.AssetCheckSpec(
                check_name(s.name),
                asset=SCORECARD_KEY,
                description=f"{s.name} ({s.kind}) links at least "
                f"{settings.link_warn_below:.0%} of its learners to the SIS (fails below "
                f"{settings.link_fail_below:.0%}), its records resolve and validate as well, and "
                f"it synced within {settings.freshness_hours:g} hours.",
            )
            for s in systems
        ],
        pool=WAREHOUSE_POOL,
        can_subset=False,
    )
    def _scorecard(
        context: dg.AssetExecutionContext, config: ScorecardConfig, warehouse: WarehouseResource
    ):
        if config.now:
            clock = datetime.fromisoformat(config.now)
        else:
            clock = now() if now else datetime.now(UTC)
        with warehouse.get_connection() as con:
            card = build_scorecard(con, district, clock)
        statuses = {m.system: a.status.value for m, a in card.systems}
        for measures, assessment in card.systems:
            if assessment.status is not Status.PASS:
                context.log.warning(f"{measures.system}: {assessment.findings}")
        yield dg.MaterializeResult(
            asset_key=SCORECARD_KEY,
            metadata={
                "night": str(card.night),
                "dagster/row_count": len(card.systems),
                "statuses": dg.MetadataValue.json(statuses),
            },
        )
        yield dg.MaterializeResult(
            asset_key=LEVELS_KEY,
            metadata={
                "night": str(card.night),
                **{level.indicator_id.split(".")[-1]: level.level.value for level in card.levels},
            },
        )
        for measures, assessment in card.systems:
            yield dg.AssetCheckResult(
                asset_key=SCORECARD_KEY,
                check_name=check_name(measures.system),
                passed=assessment.status is Status.PASS,
                severity=dg.AssetCheckSeverity.ERROR
                if assessment.status is Status.FAIL
                else dg.AssetCheckSeverity.WARN,
                description=assessment.findings or f"{measures.system} is interoperable",
                metadata=_check_metadata(measures),
            )

    return _scorecard


def _check_metadata(m: SystemMeasures) -> dict[str, Any]:
    """The numbers behind a check (counts and shares only)."""
    metadata: dict[str, Any] = {
        "standard": m.standard,
        "open_standard": m.open_standard,
        "fresh": m.fresh,
        "learners": m.learners if m.learners is not None else "n/a",
        "learners_linked": m.learners_linked if m.learners_linked is not None else "n/a",
        "last_success_at": m.last_success_at.isoformat() if m.last_success_at else "never",
    }
    for name in ("link_rate", "referential_integrity", "validation_pass_rate"):
        value = getattr(m, name)
        metadata[name] = dg.MetadataValue.float(round(value, 4)) if value is not None else "n/a"
    if m.sis_id_changes is not None:
        metadata["sis_id_changes"] = m.sis_id_changes
    return metadata
