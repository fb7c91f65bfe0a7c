"""Credentials as Dagster assets: the badge folder into raw, and every received credential
verified into `staging.credential_checks`.

The credential APIs (Open Badges 3.0, Badgr, Credly) are API sources like the LMS
(`pipelines.api_sources`); the badge folder is read here, whole, each night. Then one asset checks
every credential record in raw the way a verifier would (`models.credentials.ingest`), offline,
with the DID documents, status lists and hosted assertions the district keeps in its trust folder,
and writes one row per record: its normalized columns and its verification status with the
reason. Nothing is dropped for failing; it is kept with its status.

Checking is incremental: a record is checked again only when its content changed, when the trust
folder changed (a new status list can revoke it), when the verifier changed, or when one of its
validity dates has passed since it was last checked. Everything else is what it was last night.
"""

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pandas as pd

from connectors.badge_files import read_badge_folder
from connectors.http import StreamPage
from connectors.trust_cache import load_trust_store
from models.config import BadgeFilesSource, VerificationSettings
from models.credentials.ingest import CREDENTIAL_TABLES, check_record
from models.credentials.jws import parse_datetime
from models.credentials.record import (
    VERIFICATION_STATUSES,
    NormalizedCredential,
    TrustStore,
    Verification,
)
from pipelines.api_sources import ensure_api_tables, raw_api_key
from pipelines.api_sync import ApiSync, ensure_api_raw_table
from pipelines.warehouse import WAREHOUSE_POOL, WarehouseResource, table_row_count

BADGE_FILES_TABLE = CREDENTIAL_TABLES["badge_files"]
BADGE_FILES_STREAM = "badge_files.files"
BADGE_FILES_PAGE = 200
CHECKS_TABLE = "staging.credential_checks"
CHECKS_KEY = dg.AssetKey(["staging", "credential_checks"])
VERIFIED_CHECK = "no_tampered_credentials"
# Bump when the verifier or the normalizers change what they find: every record is checked again.
VERIFIER_VERSION = "1"
# Records verified, then written, per transaction (a crash loses at most this much work).
CHECK_BATCH = 250
# Statuses that mean someone altered a credential or the district's set-up is missing a piece
# it must fix (not merely an expired or revoked credential, which is the credential's own news).
ALERT_STATUSES = ("invalid", "unknown_context", "undefined_terms", "failed_signature")

# (column, DuckDB type) of staging.credential_checks, in order.
CHECK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("source_kind", "VARCHAR"),
    ("source", "VARCHAR"),
    ("raw_table", "VARCHAR"),
    ("record_key", "VARCHAR"),
    ("content_hash", "VARCHAR"),
    ("trust_fingerprint", "VARCHAR"),
    ("checked_at", "TIMESTAMPTZ"),
    ("run_id", "VARCHAR"),
    ("format", "VARCHAR"),
    ("spec_version", "VARCHAR"),
    ("verification_status", "VARCHAR"),
    ("verification_reason", "VARCHAR"),
    ("checks", "JSON"),
    ("warnings", "INTEGER"),
    ("credential_id", "VARCHAR"),
    ("achievement_id", "VARCHAR"),
    ("achievement_name", "VARCHAR"),
    ("achievement_type", "VARCHAR"),
    ("achievement_description", "VARCHAR"),
    ("criteria", "VARCHAR"),
    ("alignments", "JSON"),
    ("issuer_id", "VARCHAR"),
    ("issuer_name", "VARCHAR"),
    ("awarded_at", "TIMESTAMPTZ"),
    ("valid_from", "TIMESTAMPTZ"),
    ("valid_until", "TIMESTAMPTZ"),
    ("revoked", "BOOLEAN"),
    ("revocation_reason", "VARCHAR"),
    ("evidence", "JSON"),
    ("recipients", "JSON"),
    ("subject_id", "VARCHAR"),
    ("image", "VARCHAR"),
)


def ensure_credential_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Every credential raw table and `staging.credential_checks` exist (idempotent)."""
    ensure_api_tables(con)
    ensure_api_raw_table(con, BADGE_FILES_TABLE)
    con.execute("CREATE SCHEMA IF NOT EXISTS staging")
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in CHECK_COLUMNS)
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {CHECKS_TABLE} ({columns}, "
        "PRIMARY KEY (source, raw_table, record_key))"
    )
    con.execute(
        f"COMMENT ON TABLE {CHECKS_TABLE} IS 'Every credential record received, normalized and "
        "verified offline: one row per row of the credential raw tables (written by Python, not "
        "SQL, because verification is cryptography and JSON-LD). Holds recipient identities: "
        "stays in staging.'"
    )


# ---------------------------------------------------------------------------------------------
# The badge folder


class BadgeFolderError(ValueError):
    """The badge folder cannot be read as it stands; nothing was changed."""


@dataclass
class FolderLoad:
    """What reading one badge folder did tonight (counts only, no personal data)."""

    name: str
    files: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    formats: dict[str, int] = field(default_factory=dict)
    unreadable: int = 0


def load_badge_folder(
    con: duckdb.DuckDBPyConnection, source: BadgeFilesSource, run_id: str
) -> FolderLoad:
    """Read `source.path` whole into `raw.badge_files`: new and changed files upserted by
    content, files no longer in the folder removed from raw (counted, never silently). A folder
    that is missing, or empty while raw still holds its files, is held: most likely a mount that
    failed, not a district that withdrew every badge."""
    folder = Path(source.path)
    if not folder.is_dir():
        raise BadgeFolderError(
            f"{source.name}: the badge folder {folder} does not exist or is not a folder; "
            "check `path` in pathways.yaml (and that the share is mounted)"
        )
    ensure_credential_tables(con)
    load = FolderLoad(name=source.name)
    formats: Counter[str] = Counter()
    seen: list[str] = []

    def pages() -> Iterator[StreamPage]:
        batch: list[tuple[str, dict]] = []
        for key, record in read_badge_folder(folder):
            seen.append(key)
            formats[str(record.get("format"))] += 1
            if record.get("error"):
                load.unreadable += 1
            batch.append((key, record))
            if len(batch) >= BADGE_FILES_PAGE:
                yield StreamPage(BADGE_FILES_STREAM, "", BADGE_FILES_TABLE, batch, str(len(seen)))
                batch = []
        yield StreamPage(BADGE_FILES_STREAM, "", BADGE_FILES_TABLE, batch, None)

    held = table_rows_of_source(con, BADGE_FILES_TABLE, source.name)
    if held and not any(path.is_file() for path in folder.rglob("*")):
        raise BadgeFolderError(
            f"{source.name}: the badge folder {folder} is empty, but {held:,} files were read "
            "from it before; nothing was removed. If the district really withdrew every badge "
            "file, clear them with `DELETE FROM raw.badge_files WHERE _source = "
            f"'{source.name}'` and run again"
        )
    sync = ApiSync.begin(con, source.name, run_id, datetime.now(UTC))
    for page in pages():
        counts = sync.commit(page, run_id)
        load.inserted += counts.inserted
        load.updated += counts.updated
        load.unchanged += counts.unchanged
    load.removed = con.execute(
        f"DELETE FROM raw.{BADGE_FILES_TABLE} WHERE _source = $source "
        "AND _key NOT IN (SELECT unnest($keys::VARCHAR[]))",
        {"source": source.name, "keys": seen},
    ).fetchone()[0]
    sync.finish()
    load.files = len(seen)
    load.formats = dict(sorted(formats.items()))
    return load


def table_rows_of_source(con: duckdb.DuckDBPyConnection, table: str, source: str) -> int:
    """Rows of `raw.<table>` that came from `source`."""
    return con.execute(f"SELECT count(*) FROM raw.{table} WHERE _source = ?", [source]).fetchone()[
        0
    ]


def build_badge_files_asset(sources: tuple[BadgeFilesSource, ...]) -> dg.AssetsDefinition:
    """`raw/badge_files`: every configured badge folder, read whole each night."""
    names = ", ".join(s.name for s in sources)

    @dg.asset(
        key=raw_api_key(BADGE_FILES_TABLE),
        name=None,
        description=f"Every file of the badge folders ({names}) as read: Open Badges 2.0 "
        "assertions, Open Badges 3.0 credentials (JSON or JWT) and baked PNG / SVG badges, one "
        "row per credential found (a file that holds none is kept, with the reason).",
        group_name="raw",
        kinds={"duckdb", "file"},
        pool=WAREHOUSE_POOL,
    )
    def _badge_files(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        metadata: dict[str, Any] = {}
        with warehouse.get_connection() as con:
            for source in sources:
                load = load_badge_folder(con, source, context.run.run_id)
                context.log.info(
                    f"{load.name}: {load.files:,} credentials in files ({load.inserted:,} new, "
                    f"{load.updated:,} changed, {load.unchanged:,} unchanged, {load.removed:,} "
                    f"no longer in the folder); {load.unreadable:,} could not be read"
                )
                for measure, value in asdict(load).items():
                    if measure != "name":
                        metadata[f"{load.name}/{measure}"] = (
                            dg.MetadataValue.json(value) if isinstance(value, dict) else value
                        )
            metadata["dagster/row_count"] = table_row_count(con, "raw", BADGE_FILES_TABLE)
        return dg.MaterializeResult(metadata=metadata)

    return _badge_files


# ---------------------------------------------------------------------------------------------
# Verification


@dataclass
class CheckSummary:
    """What checking the credentials did tonight."""

    checked: int = 0  # records verified tonight
    kept: int = 0  # records whose last check still holds
    removed: int = 0  # check rows whose raw record is gone
    statuses: dict[str, int] = field(default_factory=dict)  # all rows, by status
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)
    trust_problems: list[str] = field(default_factory=list)
    trust: dict[str, int] = field(default_factory=dict)


def trust_fingerprint(trust: TrustStore) -> str:
    """A hash of everything verification depends on besides the record and the clock."""
    payload = json.dumps(
        {
            "verifier": VERIFIER_VERSION,
            "did_documents": trust.did_documents,
            "status_lists": trust.status_lists,
            "hosted": trust.hosted,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def check_credentials(
    con: duckdb.DuckDBPyConnection,
    settings: VerificationSettings,
    run_id: str,
    now: datetime | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> CheckSummary:
    """Verify every credential record in raw that needs it into `staging.credential_checks`."""
    now = now or datetime.now(UTC)
    ensure_credential_tables(con)
    trust, problems = load_trust_store(settings.trust_dir)
    fingerprint = trust_fingerprint(trust)
    summary = CheckSummary(
        trust_problems=list(problems),
        trust={
            "did_documents": len(trust.did_documents),
            "status_lists": len(trust.status_lists),
            "hosted": len(trust.hosted),
        },
    )
    summary.removed = _remove_orphans(con)
    for kind, table in CREDENTIAL_TABLES.items():
        due = _due(con, kind, table, fingerprint, now)
        total = table_row_count(con, "raw", table)
        summary.kept += total - len(due)
        if due:
            log(f"{table}: verifying {len(due):,} of {total:,} credential records")
        related = _badgr_related(con) if kind == "badgr" and due else {}
        for start in range(0, len(due), CHECK_BATCH):
            batch = due[start : start + CHECK_BATCH]
            rows = [
                _check_row(kind, table, source, key, content_hash, record, related, trust, now)
                for source, key, content_hash, record in _records(con, table, batch)
            ]
            for row in rows:
                row.update(trust_fingerprint=fingerprint, checked_at=now, run_id=run_id)
            _write(con, rows)
            summary.checked += len(rows)
    for source, status, count in con.execute(
        f"SELECT source, verification_status, count(*) FROM {CHECKS_TABLE} "
        "GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        summary.statuses[status] = summary.statuses.get(status, 0) + count
        summary.by_source.setdefault(source, {})[status] = count
    return summary


def _remove_orphans(con: duckdb.DuckDBPyConnection) -> int:
    """Check rows whose raw record is gone (a file taken out of the badge folder)."""
    removed = 0
    for table in CREDENTIAL_TABLES.values():
        removed += con.execute(
            f"""
            DELETE FROM {CHECKS_TABLE} AS c
            WHERE c.raw_table = $table
              AND NOT EXISTS (
                  SELECT 1 FROM raw.{table} AS r
                  WHERE r._source = c.source AND r._key = c.record_key
              )
            """,
            {"table": table},
        ).fetchone()[0]
    return removed


def _due(
    con: duckdb.DuckDBPyConnection, kind: str, table: str, fingerprint: str, now: datetime
) -> list[tuple[str, str]]:
    """(source, key) of the records of `raw.<table>` whose check is missing or out of date."""
    badgr_changed = ""
    if kind == "badgr":
        # Badgr's assertion names its badge class and issuer: a change there changes the row.
        badgr_changed = """
              OR EXISTS (
                  SELECT 1 FROM raw.badgr_badgeclasses AS b
                  WHERE b._source = r._source AND b._key = r._record->>'$.badgeclass'
                    AND b._loaded_at > c.checked_at)
              OR EXISTS (
                  SELECT 1 FROM raw.badgr_issuers AS i
                  WHERE i._source = r._source AND i._key = r._record->>'$.issuer'
                    AND i._loaded_at > c.checked_at)
        """
    return con.execute(
        f"""
        SELECT r._source, r._key
        FROM raw.{table} AS r
        LEFT JOIN {CHECKS_TABLE} AS c
          ON c.source = r._source AND c.raw_table = $table AND c.record_key = r._key
        WHERE c.record_key IS NULL
           OR c.content_hash IS DISTINCT FROM r._content_hash
           OR c.trust_fingerprint IS DISTINCT FROM $fingerprint
           OR (c.valid_until > c.checked_at AND c.valid_until <= $now)
           OR (c.valid_from > c.checked_at AND c.valid_from <= $now)
           {badgr_changed}
        ORDER BY r._source, r._key
        """,
        {"table": table, "fingerprint": fingerprint, "now": now},
    ).fetchall()


def _records(
    con: duckdb.DuckDBPyConnection, table: str, keys: list[tuple[str, str]]
) -> list[tuple[str, str, str, dict]]:
    rows = con.execute(
        f"""
        SELECT r._source, r._key, r._content_hash, r._record
        FROM raw.{table} AS r
        JOIN (SELECT unnest($sources::VARCHAR[]) AS s, unnest($keys::VARCHAR[]) AS k) AS want
          ON r._source = want.s AND r._key = want.k
        ORDER BY r._source, r._key
        """,
        {"sources": [s for s, _ in keys], "keys": [k for _, k in keys]},
    ).fetchall()
    return [(source, key, digest, json.loads(record)) for source, key, digest, record in rows]


def _badgr_related(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str, str], dict]:
    """Badgr badge classes and issuers by (source, kind, entityId)."""
    related: dict[tuple[str, str, str], dict] = {}
    for kind, table in (("badgeclass", "badgr_badgeclasses"), ("issuer", "badgr_issuers")):
        for source, key, record in con.execute(
            f"SELECT _source, _key, _record FROM raw.{table}"
        ).fetchall():
            related[(source, kind, key)] = json.loads(record)
    return related


def _check_row(
    kind: str,
    table: str,
    source: str,
    key: str,
    content_hash: str,
    record: dict,
    related: Mapping[tuple[str, str, str], dict],
    trust: TrustStore,
    now: datetime,
) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if kind == "badgr":
        extra = {
            "badgeclass": related.get((source, "badgeclass", str(record.get("badgeclass")))),
            "issuer": related.get((source, "issuer", str(record.get("issuer")))),
        }
    normalized, verification = check_record(kind, record, trust=trust, now=now, **extra)
    return {
        "source_kind": kind,
        "source": source,
        "raw_table": table,
        "record_key": key,
        "content_hash": content_hash,
        **_verification_columns(verification),
        **_normalized_columns(normalized),
    }


def _verification_columns(verification: Verification) -> dict[str, Any]:
    return {
        "format": verification.format,
        "spec_version": verification.spec_version,
        "verification_status": verification.status,
        "verification_reason": verification.reason,
        "checks": json.dumps([asdict(check) for check in verification.checks]),
        "warnings": len(verification.warnings),
    }


def _normalized_columns(normalized: NormalizedCredential | None) -> dict[str, Any]:
    if normalized is None:
        return {}
    return {
        "credential_id": normalized.credential_id,
        "achievement_id": normalized.achievement_id,
        "achievement_name": normalized.achievement_name,
        "achievement_type": normalized.achievement_type,
        "achievement_description": normalized.achievement_description,
        "criteria": normalized.criteria,
        "alignments": json.dumps([asdict(a) for a in normalized.alignments]),
        "issuer_id": normalized.issuer_id,
        "issuer_name": normalized.issuer_name,
        "awarded_at": parse_datetime(normalized.awarded_at),
        "valid_from": parse_datetime(normalized.valid_from),
        "valid_until": parse_datetime(normalized.valid_until),
        "revoked": normalized.revoked,
        "revocation_reason": normalized.revocation_reason,
        "evidence": json.dumps(list(normalized.evidence)),
        "recipients": json.dumps([asdict(r) for r in normalized.recipients]),
        "subject_id": normalized.subject_id,
        "image": normalized.image,
    }


def _write(con: duckdb.DuckDBPyConnection, rows: list[dict[str, Any]]) -> None:
    """Upsert a batch of check rows in one transaction."""
    if not rows:
        return
    names = [name for name, _ in CHECK_COLUMNS]
    frame = pd.DataFrame([{name: row.get(name) for name in names} for row in rows], columns=names)
    casts = ", ".join(f"CAST(frame.{name} AS {sql_type})" for name, sql_type in CHECK_COLUMNS)
    con.execute("BEGIN TRANSACTION")
    try:
        con.register("frame", frame)
        con.execute(f"INSERT OR REPLACE INTO {CHECKS_TABLE} SELECT {casts} FROM frame")
        con.unregister("frame")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def build_credential_checks_asset(
    settings: VerificationSettings, now: Callable[[], datetime] | None = None
) -> dg.AssetsDefinition:
    """`staging/credential_checks`, verifying whatever credential sources are connected."""
    upstream = [raw_api_key(table) for table in CREDENTIAL_TABLES.values()]
    upstream += [raw_api_key("badgr_badgeclasses"), raw_api_key("badgr_issuers")]

    @dg.asset(
        key=CHECKS_KEY,
        deps=upstream,
        description="Every credential received (Open Badges 2.0 / 3.0 API and files, Badgr, "
        "Credly), normalized and verified offline the way a verifier would: proof, contexts, "
        "schema, validity dates, revocation. One row per record, with its status and the reason; "
        "nothing is dropped for failing.",
        group_name="staging",
        kinds={"duckdb", "python"},
        pool=WAREHOUSE_POOL,
        check_specs=[
            dg.AssetCheckSpec(
                VERIFIED_CHECK,
                asset=CHECKS_KEY,
                description="No credential is tampered with, unreadable, or names a JSON-LD "
                "context or term Pathways cannot check (expired and revoked ones are news about "
                "the credential, not a failure of the night).",
            )
        ],
    )
    def _credential_checks(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.get_connection() as con:
            summary = check_credentials(
                con, settings, context.run.run_id, now() if now else None, context.log.info
            )
            rows = table_row_count(con, "staging", "credential_checks")
        for problem in summary.trust_problems:
            context.log.warning(f"trust folder: {problem}")
        statuses = {s: summary.statuses.get(s, 0) for s in VERIFICATION_STATUSES}
        context.log.info(
            f"credentials: {summary.checked:,} verified tonight, {summary.kept:,} unchanged; "
            + ", ".join(f"{s} {n:,}" for s, n in statuses.items() if n)
        )
        alerts = {s: statuses[s] for s in ALERT_STATUSES if statuses[s]}
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": rows,
                "checked_tonight": summary.checked,
                "unchanged": summary.kept,
                "removed": summary.removed,
                "statuses": dg.MetadataValue.json(statuses),
                "by_source": dg.MetadataValue.json(summary.by_source),
                "trust_folder": dg.MetadataValue.json(summary.trust),
                "trust_problems": len(summary.trust_problems),
            }
        )
        yield dg.AssetCheckResult(
            check_name=VERIFIED_CHECK,
            passed=not alerts,
            severity=dg.AssetCheckSeverity.WARN,
            description=(
                "; ".join(f"{n:,} {s.replace('_', ' ')}" for s, n in alerts.items())
                if alerts
                else "every credential was readable and untampered"
            ),
            metadata={"statuses": dg.MetadataValue.json(statuses)},
        )

    return _credential_checks
