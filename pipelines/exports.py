"""Learner-record exports: every night, each learner's signed record (Open Badges 3.0 credentials
in a CLR 2.0 credential), the partner-sharing bundles, and the district's status lists.

What a night writes, under `exports.out_dir`:

    <night>/                          one folder per night, complete; written as .<night>.partial
      manifest.json                     and renamed when whole; `latest` points at the newest
      learner-records/<key>.json        each learner's own record (`.jwt` beside it with vc_jwt)
      partners/<partner>/manifest.json  who is in the partner's bundle
      partners/<partner>/<key>.json     their records as shared with that partner
      status/<n>.json                   the status lists as published tonight
    status/<n>.json                   the status lists, where the district publishes them from

`<key>` is the learner's key: a keyed hash of the SIS sourcedId, never a name or an id.

Nothing is signed twice. A learner's inputs (their credentials, competencies, consent, identity
fields, and the exporter's own settings) hash to an input hash; a learner whose input hash is
what it was is not rebuilt: their files are hard links to last night's. A learner whose inputs
changed is rebuilt, and only credentials whose content changed are signed again (the others are
taken, signed, from last night's file); a record whose content did not change is not re-signed
at all. Ids and status list indexes are stable (`audit.export_credentials` assigns each
credential an index once and never reuses it); a credential that leaves a record because it was
revoked upstream, is no longer mastered, or whose learner's record is withdrawn has its bit set
(revocation is final: if it comes back it is a new credential with a new id).

The audit of a night (`audit.learner_records`, `audit.export_credentials`) changes only when the
night is published: each chunk's rows are staged in temporary tables (the same shape; DuckDB
spills them to disk), read back through views that lay them over the audit, and merged into the
audit in one transaction with the row that records the night in `audit.export_nights`, at the
rename of its folder. A night that dies before that leaves the audit as it was.

Signing is CPU-bound (RDF canonicalization in pyld), so it runs in worker processes, one per
core; the warehouse connection and the files stay in this process.
"""

import hashlib
import json
import multiprocessing
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pandas as pd
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connectors.trust_cache import load_trust_store
from models.config import ExportSecret, ExportSettings, PathwaysConfig
from models.credentials import issue, keys
from models.credentials.clr import verify_record
from models.credentials.record import TrustStore
from models.credentials.status import (
    MIN_STATUS_LIST_LENGTH,
    bitstring_status_entry,
    bitstring_status_list_credential,
    encode_status_list,
)
from pipelines.credential_assets import ensure_credential_tables
from pipelines.warehouse import (
    WAREHOUSE_POOL,
    WarehouseResource,
    comment_table,
    quote_literal,
    table_row_count,
)

LEARNER_RECORDS_KEY = dg.AssetKey(["marts", "learner_records"])
RECORDS_VERIFY_CHECK = "exported_records_verify"
# Files the asset check verifies besides the status lists (a CLR of a few credentials verifies
# in ~0.1 s). A fault in signing, contexts or status shows in any record; the sample is spread
# over the night's files so a fault in some chunks or some workers shows too.
CHECK_SAMPLE = 40
# Learners built, signed and written per round: memory follows this, not the district.
CHUNK = 1_000
# Learners per task handed to a signing worker.
TASK = 25
# Below this many learners to sign, the worker processes are not worth starting.
POOL_THRESHOLD = 40
RECORDS_DIR = "learner-records"
LATEST = "latest"

# Where what the district holds about a learner comes from; every value bound, none pasted.
_LEARNERS_SQL = """
CREATE OR REPLACE TEMP TABLE _export_learners AS
SELECT
    l.learner_sourced_id,
    CASE WHEN $include_name AND NOT opted_out_directory
         THEN nullif(trim(concat_ws(' ', coalesce(u.preferred_given_name, u.given_name),
                                    coalesce(u.preferred_family_name, u.family_name))), '')
    END AS name,
    CASE WHEN $include_email AND NOT opted_out_directory THEN nullif(trim(u.email), '') END
        AS email,
    opted_out_directory
FROM core.learners AS l
LEFT JOIN (
    SELECT *,
        coalesce(lower(trim(json_extract_string(metadata, $directory_path)))
                 IN ('true', 'yes', 'y', '1', 't'), FALSE) AS opted_out_directory
    FROM staging.stg_oneroster__users
) AS u ON u.sourced_id = l.learner_sourced_id
"""

_HELD_SQL = """
CREATE OR REPLACE TEMP TABLE _export_held AS
SELECT
    c.learner_sourced_id, c.credential_key, c.source_platform, c.source, c.credential_id,
    c.achievement_id, c.achievement_key, c.achievement_name, c.achievement_type,
    c.achievement_description, c.criteria, c.alignments, c.issuer_id, c.issuer_name,
    strftime(c.awarded_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS awarded_at,
    strftime(c.valid_until AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') AS valid_until,
    c.verification_status, c.evidence,
    -- The credential as received, when it verified as signed OB 3.0 JSON-LD: embedded as-is.
    CASE WHEN c.is_verified AND c.spec_version = '3.0' AND c.format = 'json-ld' THEN
        CASE c.source_platform
            WHEN 'ob3_api' THEN CAST(o._record AS VARCHAR)
            WHEN 'badge_files' THEN CAST(json_extract(b._record, '$.credential') AS VARCHAR)
        END
    END AS original,
    coalesce(o._content_hash, b._content_hash) AS raw_hash
FROM core.credentials AS c
LEFT JOIN raw.ob3_api_credentials AS o
    ON c.source_platform = 'ob3_api' AND o._source = c.source AND o._key = c.record_key
LEFT JOIN raw.badge_files AS b
    ON c.source_platform = 'badge_files' AND b._source = c.source AND b._key = c.record_key
WHERE c.learner_sourced_id IS NOT NULL AND NOT c.link_ambiguous AND c.is_active
"""

# Mastered: any evidence showing mastery; the result shown is the best such evidence.
_COMPETENCIES_SQL = """
CREATE OR REPLACE TEMP TABLE _export_competencies AS
SELECT
    learner_sourced_id,
    learning_objective_id,
    arg_max(
        struct_pack(
            title := learning_objective_title,
            is_case := learning_objective_source = 'case',
            source_system := source_system,
            score := score,
            value_min := result_value_min,
            value_max := result_value_max,
            threshold := mastery_threshold,
            assessed_at := strftime(assessed_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ')
        ),
        (score / nullif(result_value_max, 0), assessed_at, source_system)
    ) AS best
FROM core.competency_results
WHERE is_mastered AND learner_sourced_id IS NOT NULL AND score IS NOT NULL
GROUP BY ALL
"""

_CONSENT_SQL = """
CREATE OR REPLACE TEMP TABLE _export_consent AS
SELECT learner_sourced_id, list(DISTINCT partner_id ORDER BY partner_id) AS opted_out
FROM (
    SELECT u.sourced_id AS learner_sourced_id, p.partner_id
    FROM staging.stg_oneroster__users AS u,
         (SELECT unnest($partner_ids::VARCHAR[]) AS partner_id,
                 unnest($partner_paths::VARCHAR[]) AS path) AS p
    WHERE p.path IS NOT NULL
      AND lower(trim(json_extract_string(u.metadata, p.path))) IN ('true', 'yes', 'y', '1', 't')
    UNION ALL
    SELECT learner_sourced_id, partner_id FROM _export_opt_out_files
)
GROUP BY ALL
"""

# One hash of everything a learner's record and partner bundles are built from.
_INPUTS_SQL = """
SELECT
    l.learner_sourced_id,
    md5(concat_ws('\n',
        to_json(struct_pack(n := l.name, e := l.email)),
        (SELECT string_agg(to_json(h) :: VARCHAR, '\n' ORDER BY h.credential_key)
         FROM _export_held AS h WHERE h.learner_sourced_id = l.learner_sourced_id),
        (SELECT string_agg(to_json(c) :: VARCHAR, '\n' ORDER BY c.learning_objective_id)
         FROM _export_competencies AS c WHERE c.learner_sourced_id = l.learner_sourced_id),
        (SELECT to_json(o.opted_out) :: VARCHAR
         FROM _export_consent AS o WHERE o.learner_sourced_id = l.learner_sourced_id),
        (SELECT string_agg(s.partner_id || '=' || s.achievement_id, ','
                           ORDER BY s.partner_id, s.achievement_id)
         FROM _export_sharing AS s WHERE s.learner_sourced_id = l.learner_sourced_id)
    )) AS input_hash
FROM _export_learners AS l
WHERE EXISTS (SELECT 1 FROM _export_held AS h WHERE h.learner_sourced_id = l.learner_sourced_id)
   OR EXISTS (SELECT 1 FROM _export_competencies AS c
              WHERE c.learner_sourced_id = l.learner_sourced_id)
ORDER BY l.learner_sourced_id
"""

RECORD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("learner_key", "VARCHAR PRIMARY KEY"),
    ("record_id", "VARCHAR"),
    ("status", "VARCHAR"),  # current | withdrawn
    ("input_hash", "VARCHAR"),
    ("content_hash", "VARCHAR"),
    ("status_index", "BIGINT"),
    ("credentials", "INTEGER"),
    ("competencies", "INTEGER"),
    ("embedded", "INTEGER"),
    ("attested", "INTEGER"),
    ("achievements", "VARCHAR[]"),
    ("partners", "JSON"),  # partner id → "own" (the learner's record) or "shared" (a subset)
    ("file", "VARCHAR"),
    ("sha256", "VARCHAR"),
    ("signed_at", "TIMESTAMPTZ"),
    ("first_issued_at", "TIMESTAMPTZ"),
    ("withdrawn_at", "TIMESTAMPTZ"),
    ("night", "VARCHAR"),
    ("run_id", "VARCHAR"),
)

CREDENTIAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("credential_key", "VARCHAR PRIMARY KEY"),
    ("learner_key", "VARCHAR"),
    ("kind", "VARCHAR"),  # clr | partner_clr | competency | attestation | embedded
    ("item", "VARCHAR"),
    ("generation", "INTEGER"),
    ("credential_id", "VARCHAR"),
    ("status_index", "BIGINT UNIQUE"),  # NULL for credentials issued by others
    ("content_hash", "VARCHAR"),
    ("first_issued_at", "TIMESTAMPTZ"),
    ("signed_at", "TIMESTAMPTZ"),
    ("revoked_at", "TIMESTAMPTZ"),
    ("reason", "VARCHAR"),  # why it left its record
)


class ExportError(RuntimeError):
    """The exports cannot run as configured (no key, no salt); nothing was written."""


def ensure_export_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The export audit tables exist (idempotent)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS audit")
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    for table, columns, comment in (
        (
            "audit.learner_records",
            RECORD_COLUMNS,
            "One row per learner record ever exported: the learner's key (a keyed hash, never "
            "the sourcedId), what the record holds, its content hash and file, and whether it is "
            "current or withdrawn.",
        ),
        (
            "audit.export_credentials",
            CREDENTIAL_COLUMNS,
            "One row per credential the learner records carry: its stable id, its status list "
            "index (assigned once, never reused), its content hash, and when and why it left "
            "its record (its bit is set unless it merely expired).",
        ),
    ):
        con.execute(
            f"CREATE TABLE IF NOT EXISTS {table} "
            f"({', '.join(f'{name} {kind}' for name, kind in columns)})"
        )
        con.execute(f"COMMENT ON TABLE {table} IS {quote_literal(comment)}")
    con.execute(
        "CREATE TABLE IF NOT EXISTS audit.export_nights (run_id VARCHAR, night VARCHAR, "
        "folder VARCHAR, finished_at TIMESTAMPTZ, summary JSON, manifest_sha256 VARCHAR)"
    )


def build_learner_records_table(con: duckdb.DuckDBPyConnection) -> None:
    """`marts.learner_records` from the audit table: what a dashboard or a portal reads."""
    con.execute(
        """
        CREATE OR REPLACE TABLE marts.learner_records AS
        SELECT learner_key, record_id, achievements, credentials, competencies,
               embedded + attested AS badges, file, sha256,
               signed_at, status, withdrawn_at, partners
        FROM audit.learner_records
        ORDER BY learner_key
        """
    )
    comment_table(
        con, "marts", "learner_records", _LEARNER_RECORDS_DOC, LEARNER_RECORDS_COLUMN_DOCS
    )


_LEARNER_RECORDS_DOC = (
    "The signed learner records the district exports: one row per learner record (keyed by the "
    "learner key, a keyed hash of the SIS sourcedId), with the achievements it holds, its file "
    "inside a night folder (the newest is exports/latest/), the SHA-256 of that file, when it "
    "was signed, and whether it is current or withdrawn."
)
# What each column of marts.learner_records means, for the data dictionary and SQL clients.
LEARNER_RECORDS_COLUMN_DOCS = {
    "learner_key": "The learner's key: a keyed hash of their SIS sourcedId, never a name or id.",
    "record_id": "The id of the learner's CLR 2.0 credential (stable from night to night).",
    "achievements": "Ids of the achievements (badges and mastered competencies) the record holds.",
    "credentials": "How many Open Badges 3.0 credentials the record holds.",
    "competencies": "How many mastered competencies the record holds.",
    "badges": "How many badges from credential platforms the record carries (embedded as "
    "received, or attested by the district).",
    "file": "The record's file inside a night folder of the exports (exports/latest/ is newest).",
    "sha256": "SHA-256 of that file, to check a copy is the one the district signed.",
    "signed_at": "When the district last signed the record.",
    "status": "current (exported tonight) or withdrawn (no longer exported; its status bit set).",
    "withdrawn_at": "When the record was withdrawn; empty while it is current.",
    "partners": "Partner id → own (the learner's record) or shared (the subset a partner gets).",
}


# --- keys and secrets -----------------------------------------------------------------------


def read_secret(secret: ExportSecret, what: str) -> str:
    """A secret of the exports, from its file or its environment variable."""
    if secret.path is not None:
        try:
            return Path(secret.path).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise ExportError(
                f"exports: cannot read the {what} file {secret.path} ({error.strerror})"
            ) from None
    value = os.environ.get(str(secret.env), "").strip()
    if not value:
        raise ExportError(
            f"exports: the environment variable {secret.env} that should hold the {what} is not set"
        )
    return value


def load_signing_key(secret: ExportSecret) -> Ed25519PrivateKey:
    """The district's signing key, from its file or environment variable."""
    text = read_secret(secret, "signing key")
    try:
        return keys.private_key_from_multibase(text)
    except keys.InvalidKeyError as error:
        where = secret.path or f"${secret.env}"
        raise ExportError(
            f"exports: {where} does not hold an Ed25519 key ({error}); create one with "
            "`pathways keys generate`"
        ) from None


def load_salt(settings: ExportSettings) -> str:
    """The secret the learner keys and identity salts are derived from."""
    value = read_secret(settings.salt, "learner-identity salt")
    if len(value) < 16:
        raise ExportError("exports: the learner-identity salt must be at least 16 characters")
    return value


# --- the night --------------------------------------------------------------------------------


@dataclass
class ExportSummary:
    """What tonight's export did (counts only: no learner, name or id)."""

    enabled: bool = True
    night: str | None = None
    folder: str | None = None
    records: int = 0  # current learner records
    built: int = 0  # records built tonight (inputs changed)
    signed: int = 0  # records signed tonight (content changed)
    unchanged: int = 0  # records whose inputs did not change (hard-linked)
    withdrawn: int = 0  # records withdrawn tonight
    credentials_signed: int = 0  # every signature tonight: nested, CLRs, partner CLRs, lists
    revoked_tonight: int = 0  # status bits set tonight
    revoked_total: int = 0
    status_lists: int = 0
    partners: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    sign_seconds: float = 0.0  # wall time spent signing
    sign_cpu_seconds: float = 0.0  # CPU time the signing processes spent
    peak_signer_mb: float = 0.0  # the largest peak memory of a signing process
    workers: int = 0
    written: list[str] = field(default_factory=list)  # files written tonight, relative


@dataclass(frozen=True)
class _Context:
    district_id: str
    district_name: str
    issuer: issue.Issuer
    secret: str
    created: str
    status_url: str
    settings: ExportSettings


def export_learner_records(
    con: duckdb.DuckDBPyConnection,
    config: PathwaysConfig,
    run_id: str,
    now: datetime | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> ExportSummary:
    """Export tonight's learner records, partner bundles and status lists."""
    started = time.perf_counter()
    ensure_export_tables(con)
    settings = config.exports
    if settings is None or not settings.enabled:
        build_learner_records_table(con)
        return ExportSummary(enabled=False)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    private_key = load_signing_key(settings.key)
    secret = load_salt(settings)
    issuer = issue.district_issuer(
        settings.issuer.name, settings.issuer.url, private_key, settings.issuer.did_web
    )
    ctx = _Context(
        district_id=config.district.id,
        district_name=config.district.name,
        issuer=issuer,
        secret=secret,
        created=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        status_url=settings.status_lists_url.rstrip("/"),
        settings=settings,
    )
    out = Path(settings.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    night = _night_name(out, now.astimezone(ZoneInfo(config.district.timezone)).date().isoformat())
    previous = _latest_folder(out)
    partial = out / f".{night}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    (partial / RECORDS_DIR).mkdir(parents=True)
    for partner in settings.partners:
        (partial / "partners" / partner.id).mkdir(parents=True)
    summary = ExportSummary(night=night, folder=str(out / night))

    _stage_inputs(con, settings)
    _stage_audit(con)
    fingerprint = _exporter_fingerprint(ctx)
    eligible = [
        (sourced_id, hashlib.sha256(f"{fingerprint}|{digest}".encode()).hexdigest())
        for sourced_id, digest in con.execute(_INPUTS_SQL).fetchall()
    ]
    known = {
        row[0]: row
        for row in con.execute(
            "SELECT learner_key, status, input_hash, content_hash, partners, sha256, signed_at, "
            "night FROM audit.learner_records"
        ).fetchall()
    }
    next_index = [
        con.execute(
            f"SELECT coalesce(max(status_index) + 1, 0) FROM {_CREDENTIALS_TONIGHT}"
        ).fetchone()[0]
    ]
    manifest_records: list[dict[str, Any]] = []
    partner_members: dict[str, list[dict[str, Any]]] = {p.id: [] for p in settings.partners}
    due: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for sourced_id, input_hash in eligible:
        key = issue.learner_key(secret, sourced_id)
        seen.add(key)
        row = known.get(key)
        # Last night's files are this learner's current record only if last night's run
        # published them (a run that died half-way leaves audit rows for files it never
        # published).
        if (
            row is not None
            and row[1] == "current"
            and row[2] == input_hash
            and previous is not None
            and row[7] == previous.name
            and _link_previous(previous, partial, key, json.loads(row[4] or "{}"))
        ):
            summary.unchanged += 1
            manifest_records.append(
                {"learner_key": key, "file": f"{RECORDS_DIR}/{key}.json", "sha256": row[5]}
            )
            for partner_id, mode in json.loads(row[4] or "{}").items():
                if partner_id in partner_members:
                    partner_members[partner_id].append(
                        {"learner_key": key, "file": f"{key}.json", "shares": mode}
                    )
            continue
        due.append((sourced_id, key, input_hash))
    if due:
        log(f"exports: building {len(due):,} of {len(eligible):,} learner records")
    workers = _workers(settings) if len(due) >= POOL_THRESHOLD else 0
    summary.workers = workers
    pool = _signing_pool(private_key, issuer, ctx.created, workers) if workers else None
    local_signer = issue.RecordJobSigner(private_key, issuer.verification_method, ctx.created)
    try:
        for start in range(0, len(due), CHUNK):
            chunk = due[start : start + CHUNK]
            _export_chunk(
                con,
                ctx,
                chunk,
                previous,
                partial,
                known,
                next_index,
                pool,
                local_signer,
                summary,
                manifest_records,
                partner_members,
                now,
                run_id,
                night,
            )
    finally:
        if pool is not None:
            pool.shutdown()
    summary.withdrawn, revoked = _withdraw(con, set(known) - seen, known, now)
    summary.revoked_tonight += revoked
    summary.records = len(manifest_records)
    for partner_id, members in partner_members.items():
        summary.partners[partner_id] = len(members)

    lists = _sign_status_lists(con, ctx, private_key, partial, summary)
    summary.status_lists = lists
    _write_manifests(ctx, partial, night, manifest_records, partner_members, summary)
    summary.seconds = time.perf_counter() - started
    _publish_night(con, out, partial, night, run_id, summary)
    _finish_night(out, night, settings.keep_nights)
    return summary


def _public_counts(summary: ExportSummary) -> dict[str, Any]:
    counts = asdict(summary)
    counts.pop("written")
    return counts


def _night_name(out: Path, date: str) -> str:
    """Tonight's folder: the night's date, or date.2, date.3… when the night runs again."""
    name, n = date, 1
    while (out / name).exists():
        n += 1
        name = f"{date}.{n}"
    return name


def _night_order(path: Path) -> tuple[str, int]:
    date, _, again = path.name.partition(".")
    return date, int(again) if again.isdigit() else 1


def _latest_folder(out: Path) -> Path | None:
    latest = out / LATEST
    if latest.is_symlink() or latest.is_dir():
        resolved = latest.resolve()
        return resolved if resolved.is_dir() else None
    return None


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        # A file system without hard links: copy instead (costs space, not signatures).
        shutil.copy2(source, target)


def _link_previous(previous: Path, partial: Path, key: str, partners: Mapping[str, str]) -> bool:
    """Last night's files of an unchanged learner, linked into tonight's folder; False (and
    nothing linked) when any of them is missing, so the learner is rebuilt instead."""
    wanted = [(previous / RECORDS_DIR / f"{key}.json", partial / RECORDS_DIR / f"{key}.json")]
    jwt = previous / RECORDS_DIR / f"{key}.jwt"
    if jwt.exists():
        wanted.append((jwt, partial / RECORDS_DIR / f"{key}.jwt"))
    for partner_id in partners:
        if (partial / "partners" / partner_id).is_dir():
            name = f"partners/{partner_id}/{key}.json"
            wanted.append((previous / name, partial / name))
    if not all(source.exists() for source, _ in wanted):
        return False
    for source, target in wanted:
        _link_or_copy(source, target)
    return True


def _exporter_fingerprint(ctx: _Context) -> str:
    """Everything besides a learner's own data that shapes their record."""
    settings = ctx.settings
    return hashlib.sha256(
        json.dumps(
            {
                "builder": issue.BUILDER_VERSION,
                "district": [ctx.district_id, ctx.district_name],
                "issuer": [ctx.issuer.id, ctx.issuer.name, ctx.issuer.url],
                "method": ctx.issuer.verification_method,
                "status": ctx.status_url,
                "include": [settings.include_name, settings.include_email],
                "partners": [p.id for p in settings.partners],
                "vc_jwt": settings.vc_jwt,
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()


def _stage_inputs(con: duckdb.DuckDBPyConnection, settings: ExportSettings) -> None:
    """Tonight's inputs into temporary tables: learners, held credentials, mastered
    competencies, partner opt-outs and sharing choices."""
    # Every credential raw table exists, pulled or not, so the joins below never fail.
    ensure_credential_tables(con)
    field_path = (
        f"$.{settings.directory_opt_out_field}" if settings.directory_opt_out_field else None
    )
    con.execute(
        _LEARNERS_SQL,
        {
            "include_name": settings.include_name,
            "include_email": settings.include_email,
            "directory_path": field_path or "$.__none__",
        },
    )
    con.execute(_HELD_SQL)
    con.execute(_COMPETENCIES_SQL)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _export_opt_out_files "
        "(learner_sourced_id VARCHAR, partner_id VARCHAR)"
    )
    for partner in settings.partners:
        if partner.opt_out_file is None:
            continue
        con.execute(
            "INSERT INTO _export_opt_out_files SELECT DISTINCT trim(learner_sourced_id), $partner "
            "FROM read_csv($path, header = true, all_varchar = true) "
            "WHERE nullif(trim(learner_sourced_id), '') IS NOT NULL",
            {"path": str(_existing(partner.opt_out_file)), "partner": partner.id},
        )
    con.execute(
        _CONSENT_SQL,
        {
            "partner_ids": [p.id for p in settings.partners],
            "partner_paths": [
                f"$.{p.opt_out_field}" if p.opt_out_field else None for p in settings.partners
            ],
        },
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _export_sharing "
        "(learner_sourced_id VARCHAR, partner_id VARCHAR, achievement_id VARCHAR)"
    )
    if settings.sharing_choices_file is not None:
        con.execute(
            "INSERT INTO _export_sharing SELECT DISTINCT trim(learner_sourced_id), "
            "trim(partner_id), trim(achievement_id) "
            "FROM read_csv($path, header = true, all_varchar = true) "
            "WHERE nullif(trim(achievement_id), '') IS NOT NULL",
            {"path": str(_existing(settings.sharing_choices_file))},
        )


def _existing(path: Path) -> Path:
    if not Path(path).is_file():
        raise ExportError(f"exports: the consent file {path} does not exist")
    return Path(path)


# --- building a chunk of learners -------------------------------------------------------------


@dataclass
class _Item:
    """One credential of a learner's record tonight."""

    item: str  # what it is for: competency|<objective>, held|<credential key>
    kind: str  # competency | attestation | embedded
    document: dict[str, Any]  # unsigned (district-issued) or as received (embedded)
    content_hash: str
    achievement_ids: tuple[str, ...]  # what a sharing choice can name it by
    credential_key: str | None = None
    signed: dict[str, Any] | None = None  # reused from last night when unchanged


def _export_chunk(
    con: duckdb.DuckDBPyConnection,
    ctx: _Context,
    chunk: list[tuple[str, str, str]],
    previous: Path | None,
    partial: Path,
    known: Mapping[str, tuple],
    next_index: list[int],
    pool: ProcessPoolExecutor | None,
    local_signer: issue.RecordJobSigner,
    summary: ExportSummary,
    manifest_records: list[dict[str, Any]],
    partner_members: dict[str, list[dict[str, Any]]],
    now: datetime,
    run_id: str,
    night: str,
) -> None:
    ids = [sourced_id for sourced_id, _, _ in chunk]
    identities = {
        row[0]: row[1:]
        for row in con.execute(
            "SELECT learner_sourced_id, name, email FROM _export_learners "
            "WHERE learner_sourced_id IN (SELECT unnest($ids::VARCHAR[]))",
            {"ids": ids},
        ).fetchall()
    }
    held = _grouped(
        con,
        "SELECT * FROM _export_held WHERE learner_sourced_id IN "
        "(SELECT unnest($ids::VARCHAR[])) ORDER BY learner_sourced_id, credential_key",
        ids,
    )
    competencies = _grouped(
        con,
        "SELECT learner_sourced_id, learning_objective_id, best.* FROM _export_competencies "
        "WHERE learner_sourced_id IN (SELECT unnest($ids::VARCHAR[])) "
        "ORDER BY learner_sourced_id, learning_objective_id",
        ids,
    )
    opted_out = dict(
        con.execute(
            "SELECT learner_sourced_id, opted_out FROM _export_consent "
            "WHERE learner_sourced_id IN (SELECT unnest($ids::VARCHAR[]))",
            {"ids": ids},
        ).fetchall()
    )
    choices: dict[tuple[str, str], set[str]] = {}
    for sourced_id, partner_id, achievement in con.execute(
        "SELECT learner_sourced_id, partner_id, achievement_id FROM _export_sharing "
        "WHERE learner_sourced_id IN (SELECT unnest($ids::VARCHAR[]))",
        {"ids": ids},
    ).fetchall():
        choices.setdefault((sourced_id, partner_id), set()).add(achievement)
    keys_ = [key for _, key, _ in chunk]
    issued: dict[str, dict[str, dict[str, Any]]] = {}
    for row in con.execute(
        "SELECT learner_key, item, credential_key, generation, credential_id, status_index, "
        f"content_hash, revoked_at, first_issued_at FROM {_CREDENTIALS_TONIGHT} "
        "WHERE learner_key IN (SELECT unnest($keys::VARCHAR[])) ORDER BY generation",
        {"keys": keys_},
    ).fetchall():
        entry = dict(
            zip(
                (
                    "credential_key",
                    "generation",
                    "credential_id",
                    "status_index",
                    "content_hash",
                    "revoked_at",
                    "first_issued_at",
                ),
                row[2:],
                strict=True,
            )
        )
        # Ordered by generation: the latest generation of each item wins.
        issued.setdefault(row[0], {})[row[1]] = entry

    credential_rows: list[dict[str, Any]] = []
    record_rows: list[dict[str, Any]] = []
    jobs: list[issue.RecordJob] = []
    plans: list[dict[str, Any]] = []
    for sourced_id, key, input_hash in chunk:
        name, email = identities.get(sourced_id, (None, None))
        identity = issue.learner_identity(ctx.secret, sourced_id, name=name, email=email)
        last = issued.get(key, {})
        reused = _signed_last_night(previous, key)

        items: list[_Item] = []
        mastered_list: list[issue.MasteredCompetency] = []
        for competency in competencies.get(sourced_id, []):
            mastered = issue.MasteredCompetency(
                learning_objective_id=competency["learning_objective_id"],
                title=competency["title"],
                is_case=bool(competency["is_case"]),
                source_system=competency["source_system"],
                score=float(competency["score"]),
                value_min=competency["value_min"],
                value_max=competency["value_max"],
                mastery_threshold=competency["threshold"],
                assessed_at=competency["assessed_at"],
            )
            mastered_list.append(mastered)
            entry = _assign(ctx, next_index, now, key, last, mastered.item, "competency")
            document = issue.competency_credential(
                id=entry["credential_id"],
                district_id=ctx.district_id,
                issuer=ctx.issuer,
                identity=identity,
                competency=mastered,
                status=_status_entry(ctx, entry["status_index"]),
                valid_from=ctx.created,
            )
            items.append(
                _Item(
                    mastered.item,
                    "competency",
                    document,
                    issue.content_hash(document),
                    (mastered.learning_objective_id, issue.achievement_id_of(document) or ""),
                    entry["credential_key"],
                )
            )
        held_credentials: list[tuple[issue.HeldCredential, _Item]] = []
        for row in held.get(sourced_id, []):
            original = json.loads(row["original"]) if row["original"] else None
            credential = issue.HeldCredential(
                credential_key=row["credential_key"],
                source_platform=row["source_platform"],
                source=row["source"],
                credential_id=row["credential_id"],
                achievement_id=row["achievement_id"],
                achievement_key=row["achievement_key"],
                achievement_name=row["achievement_name"],
                achievement_type=row["achievement_type"],
                achievement_description=row["achievement_description"],
                criteria=row["criteria"],
                alignments=json.loads(row["alignments"] or "[]"),
                issuer_id=row["issuer_id"],
                issuer_name=row["issuer_name"],
                awarded_at=row["awarded_at"],
                valid_until=row["valid_until"],
                verification_status=row["verification_status"],
                original=original if issue.embeddable(original) else None,
            )
            if credential.original is not None:
                entry = _assign(ctx, next_index, now, key, last, credential.item, "embedded")
                document = dict(credential.original)
                item = _Item(
                    credential.item,
                    "embedded",
                    document,
                    issue.original_content_hash(document),
                    _held_names(credential),
                    entry["credential_key"],
                    signed=document,
                )
            else:
                entry = _assign(ctx, next_index, now, key, last, credential.item, "attestation")
                document = issue.attestation_credential(
                    id=entry["credential_id"],
                    district_id=ctx.district_id,
                    issuer=ctx.issuer,
                    identity=identity,
                    held=credential,
                    status=_status_entry(ctx, entry["status_index"]),
                    valid_from=ctx.created,
                )
                item = _Item(
                    credential.item,
                    "attestation",
                    document,
                    issue.content_hash(document),
                    (*_held_names(credential), issue.achievement_id_of(document) or ""),
                    entry["credential_key"],
                )
            items.append(item)
            held_credentials.append((credential, item))
        for item in items:
            entry = last[item.item]
            previous_signed = reused.get(item.document.get("id"))
            if (
                item.signed is None
                and previous_signed is not None
                and entry["content_hash"] == item.content_hash
                and issue.content_hash(previous_signed) == item.content_hash
            ):
                item.signed = previous_signed
        association = issue.associations(
            ctx.district_id,
            mastered_list,
            [
                (credential, issue.achievement_id_of(item.document))
                for credential, item in held_credentials
            ],
        )
        clr_entry = _assign(ctx, next_index, now, key, last, "clr", "clr")
        nested_unsigned = [item.signed or item.document for item in items]
        clr = issue.clr_credential(
            id=clr_entry["credential_id"],
            issuer=ctx.issuer,
            identity=identity,
            credentials=nested_unsigned,
            association=association,
            status=_status_entry(ctx, clr_entry["status_index"]),
            valid_from=ctx.created,
            name=f"{ctx.district_name}: learner record",
        )
        clr_hash = issue.content_hash(clr)
        prior = known.get(key)
        resign = not (
            prior is not None
            and previous is not None
            and prior[7] == previous.name
            and prior[3] == clr_hash
            and clr_entry["content_hash"] == clr_hash
            and previous is not None
            and (previous / RECORDS_DIR / f"{key}.json").exists()
        )
        # Partners: who may see this learner, and which of their credentials.
        partner_plans: list[tuple[str, str, list[int]]] = []
        partner_modes: dict[str, str] = {}
        excluded = set(opted_out.get(sourced_id) or [])
        for partner in ctx.settings.partners:
            if partner.id in excluded:
                continue
            chosen = choices.get((sourced_id, partner.id))
            if chosen is None:
                partner_modes[partner.id] = "own"
                continue
            picked = [
                i for i, item in enumerate(items) if chosen & set(item.achievement_ids) - {""}
            ]
            if len(picked) == len(items):
                partner_modes[partner.id] = "own"
            elif picked:
                partner_modes[partner.id] = "shared"
                partner_plans.append((partner.id, f"partner|{partner.id}", picked))
        partner_jobs: list[tuple[str, dict[str, Any], list[int]]] = []
        partner_reuse: dict[str, bool] = {}
        for partner_id, item_name, picked in partner_plans:
            entry = _assign(ctx, next_index, now, key, last, item_name, "partner_clr")
            partner_clr = issue.clr_credential(
                id=entry["credential_id"],
                issuer=ctx.issuer,
                identity=identity,
                credentials=[nested_unsigned[i] for i in picked],
                association=[
                    a
                    for a in association
                    if {a["sourceId"], a["targetId"]} <= _achievements_in(items, picked)
                ],
                status=_status_entry(ctx, entry["status_index"]),
                valid_from=ctx.created,
                name=f"{ctx.district_name}: learner record shared with {partner_id}",
            )
            partner_hash = issue.content_hash(partner_clr)
            unchanged = (
                entry["content_hash"] == partner_hash
                and previous is not None
                and prior is not None
                and prior[7] == previous.name
                and (previous / "partners" / partner_id / f"{key}.json").exists()
            )
            partner_reuse[partner_id] = unchanged
            entry["content_hash_new"] = partner_hash
            if not unchanged:
                partner_clr["credentialSubject"]["verifiableCredential"] = []
                partner_jobs.append((partner_id, partner_clr, picked))
        if resign or partner_jobs:
            if resign:
                clr["credentialSubject"]["verifiableCredential"] = []
            jobs.append(
                issue.RecordJob(
                    key=key,
                    nested=[(item.signed or item.document, item.signed is None) for item in items],
                    clr=clr if resign else None,
                    partners=partner_jobs,
                    vc_jwt=ctx.settings.vc_jwt,
                )
            )
        plans.append(
            {
                "sourced_id": sourced_id,
                "key": key,
                "input_hash": input_hash,
                "items": items,
                "clr_entry": clr_entry,
                "clr_hash": clr_hash,
                "resign": resign,
                "partner_modes": partner_modes,
                "partner_reuse": partner_reuse,
                "last": last,
                "prior": prior,
            }
        )

    started = time.perf_counter()
    results = {result["key"]: result for result in _sign(jobs, pool, local_signer)}
    summary.sign_cpu_seconds += sum(result["cpu"] for result in results.values())
    summary.peak_signer_mb = max(
        [summary.peak_signer_mb, *(r["peak_kib"] / 1024 for r in results.values())]
    )
    summary.sign_seconds += time.perf_counter() - started

    for plan in plans:
        key = plan["key"]
        result = results.get(key)
        items: list[_Item] = plan["items"]
        last = plan["last"]
        summary.built += 1
        own = partial / RECORDS_DIR / f"{key}.json"
        if plan["resign"]:
            _write(own, result["clr"].encode())
            summary.written.append(f"{RECORDS_DIR}/{key}.json")
            if result.get("clr_jwt"):
                _write(own.with_suffix(".jwt"), result["clr_jwt"].encode())
            summary.signed += 1
            summary.credentials_signed += result["signatures"]
            sha = hashlib.sha256(result["clr"].encode()).hexdigest()
            signed_at = now
        else:
            _link_or_copy(previous / RECORDS_DIR / f"{key}.json", own)
            jwt = previous / RECORDS_DIR / f"{key}.jwt"
            if jwt.exists():
                _link_or_copy(jwt, own.with_suffix(".jwt"))
            if result is not None:
                summary.credentials_signed += result["signatures"]
            sha = plan["prior"][5]
            signed_at = plan["prior"][6]
        for partner_id, mode in plan["partner_modes"].items():
            target = partial / "partners" / partner_id / f"{key}.json"
            if mode == "own":
                _link_or_copy(own, target)
            elif plan["partner_reuse"].get(partner_id):
                _link_or_copy(previous / "partners" / partner_id / f"{key}.json", target)
            else:
                _write(target, result["partners"][partner_id].encode())
                summary.written.append(f"partners/{partner_id}/{key}.json")
            partner_members[partner_id].append(
                {"learner_key": key, "file": f"{key}.json", "shares": mode}
            )
        manifest_records.append(
            {"learner_key": key, "file": f"{RECORDS_DIR}/{key}.json", "sha256": sha}
        )
        # Credentials: new ones get their rows, kept ones their new content hash; those that
        # left the record are revoked (unless they merely expired).
        current = {item.item for item in items} | {"clr"}
        current |= {f"partner|{p}" for p, m in plan["partner_modes"].items() if m == "shared"}
        for item in items:
            entry = last[item.item]
            credential_rows.append(
                _credential_row(key, item.item, item.kind, entry, item.content_hash, now)
            )
        credential_rows.append(
            _credential_row(key, "clr", "clr", plan["clr_entry"], plan["clr_hash"], now)
        )
        for partner_id, mode in plan["partner_modes"].items():
            if mode == "shared":
                entry = last[f"partner|{partner_id}"]
                credential_rows.append(
                    _credential_row(
                        key,
                        f"partner|{partner_id}",
                        "partner_clr",
                        entry,
                        entry.get("content_hash_new"),
                        now,
                    )
                )
        for item_name, entry in last.items():
            if item_name in current or entry["revoked_at"] is not None or entry.get("new"):
                continue
            credential_rows.append(
                {
                    "credential_key": entry["credential_key"],
                    "revoke": True,
                    "reason": _why_gone(con, item_name, now),
                }
            )
        achievements = sorted({a for i in items if (a := issue.achievement_id_of(i.document))})
        record_rows.append(
            {
                "learner_key": key,
                "record_id": plan["clr_entry"]["credential_id"],
                "status": "current",
                "input_hash": plan["input_hash"],
                "content_hash": plan["clr_hash"],
                "status_index": plan["clr_entry"]["status_index"],
                "credentials": len(items),
                "competencies": sum(1 for i in items if i.kind == "competency"),
                "embedded": sum(1 for i in items if i.kind == "embedded"),
                "attested": sum(1 for i in items if i.kind == "attestation"),
                "achievements": achievements,
                "partners": json.dumps(plan["partner_modes"], sort_keys=True),
                "file": f"{RECORDS_DIR}/{key}.json",
                "sha256": sha,
                "signed_at": signed_at,
                "first_issued_at": plan["clr_entry"]["first_issued_at"],
                "withdrawn_at": None,
                "night": night,
                "run_id": run_id,
            }
        )
    _save(con, credential_rows, record_rows, now)
    summary.revoked_tonight += sum(
        1 for row in credential_rows if row.get("revoke") and row["reason"] != "expired"
    )


def _assign(
    ctx: _Context,
    next_index: list[int],
    now: datetime,
    key: str,
    last: dict[str, dict[str, Any]],
    item: str,
    kind: str,
) -> dict[str, Any]:
    """A credential's row: kept (same id, same status index) unless it was revoked, which is
    final; then (or the first time) a new generation, with a new id and the next free index."""
    entry = last.get(item)
    if entry is not None and entry["revoked_at"] is None:
        return entry
    generation = 0 if entry is None else entry["generation"] + 1
    index = None
    if kind != "embedded":
        index = next_index[0]
        next_index[0] += 1
    entry = {
        "credential_key": hashlib.sha256(f"{key}|{item}|{generation}".encode()).hexdigest()[:32],
        "generation": generation,
        "credential_id": issue.stable_id(ctx.district_id, key, item, generation),
        "status_index": index,
        "content_hash": None,
        "revoked_at": None,
        "first_issued_at": now,
        "new": True,
    }
    last[item] = entry
    return entry


def _held_names(credential: issue.HeldCredential) -> tuple[str, ...]:
    """What a sharing choice may name a held credential by."""
    return tuple(
        name
        for name in (
            credential.credential_key,
            credential.credential_id or "",
            credential.achievement_id or "",
            credential.achievement_key or "",
        )
        if name
    )


def _achievements_in(items: list[_Item], picked: list[int]) -> set[str]:
    return {issue.achievement_id_of(items[i].document) or "" for i in picked}


def _status_entry(ctx: _Context, index: int | None) -> dict[str, Any] | None:
    if index is None:
        return None
    number = index // MIN_STATUS_LIST_LENGTH + 1
    entry = bitstring_status_entry(
        f"{ctx.status_url}/{number}.json", index % MIN_STATUS_LIST_LENGTH
    )
    return entry


def _grouped(
    con: duckdb.DuckDBPyConnection, sql: str, ids: list[str]
) -> dict[str, list[dict[str, Any]]]:
    result = con.execute(sql, {"ids": ids})
    names = [d[0] for d in result.description]
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in result.fetchall():
        record = dict(zip(names, row, strict=True))
        grouped.setdefault(record["learner_sourced_id"], []).append(record)
    return grouped


def _signed_last_night(previous: Path | None, key: str) -> dict[str, dict[str, Any]]:
    """The nested credentials of a learner's last record, by id, to reuse the unchanged ones."""
    if previous is None:
        return {}
    path = previous / RECORDS_DIR / f"{key}.json"
    try:
        document = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return {}
    nested = document.get("credentialSubject", {}).get("verifiableCredential", [])
    return {c.get("id"): c for c in nested if isinstance(c, dict)}


def _credential_row(
    key: str,
    item_name: str,
    kind: str,
    entry: Mapping[str, Any],
    content_hash: str | None,
    now: datetime,
) -> dict[str, Any]:
    changed = entry.get("content_hash") != content_hash
    return {
        "credential_key": entry["credential_key"],
        "learner_key": key,
        "kind": kind,
        "item": item_name,
        "generation": entry["generation"],
        "credential_id": entry["credential_id"],
        "status_index": entry["status_index"],
        "content_hash": content_hash,
        "first_issued_at": entry["first_issued_at"],
        "signed_at": now if changed else None,
        "revoked_at": None,
        "reason": None,
    }


def _why_gone(con: duckdb.DuckDBPyConnection, item_name: str, now: datetime) -> str:
    """Why a credential left its record: revoked upstream, expired (its own validUntil says so;
    no bit is set), no longer held or mastered, or no longer shared with a partner."""
    kind, _, rest = item_name.partition("|")
    if kind == "competency":
        return "no_longer_mastered"
    if kind == "partner":
        return "no_longer_shared"
    if kind == "held":
        # Every row fetched: a result left open would hold the connection (DuckDB 2).
        rows = con.execute(
            "SELECT revoked, valid_until <= $now FROM core.credentials WHERE credential_key = $k",
            {"k": rest, "now": now},
        ).fetchall()
        row = rows[0] if rows else None
        if row is not None and row[0]:
            return "revoked_upstream"
        if row is not None and row[1]:
            return "expired"
    return "no_longer_held"


# Tonight's audit rows, until the night is published: whole rows as they will be in the audit
# (a kept credential with its new content hash, a revoked one with its reason, a record as
# rebuilt or withdrawn), and the views that lay them over the audit for everything the night
# reads back (the chunks' credentials and indexes, the withdrawals, the status lists).
_PENDING_CREDENTIALS = "_export_pending_credentials"
_PENDING_RECORDS = "_export_pending_records"
_CREDENTIALS_TONIGHT = "_export_credentials_tonight"
_RECORDS_TONIGHT = "_export_records_tonight"


def _stage_audit(con: duckdb.DuckDBPyConnection) -> None:
    """Empty staging tables for tonight's audit rows, and the views of the audit with them."""
    for table, view, audit, columns in (
        (
            _PENDING_CREDENTIALS,
            _CREDENTIALS_TONIGHT,
            "audit.export_credentials",
            CREDENTIAL_COLUMNS,
        ),
        (_PENDING_RECORDS, _RECORDS_TONIGHT, "audit.learner_records", RECORD_COLUMNS),
    ):
        key = columns[0][0]
        names = ", ".join(name for name, _ in columns)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} ("
            + ", ".join(f"{name} {kind.split(' ')[0]}" for name, kind in columns)
            + f", PRIMARY KEY ({key}))"
        )
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {view} AS "
            f"SELECT {names} FROM {table} UNION ALL "
            f"SELECT {names} FROM {audit} AS a "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} AS p WHERE p.{key} = a.{key})"
        )


def _save(
    con: duckdb.DuckDBPyConnection,
    credential_rows: list[dict[str, Any]],
    record_rows: list[dict[str, Any]],
    now: datetime,
) -> None:
    """A chunk's rows, staged for the night's audit: the credentials' rows and indexes, their
    revocations, and the records (merged into the audit when the night is published)."""
    upserts = [r for r in credential_rows if not r.get("revoke")]
    revokes = [r for r in credential_rows if r.get("revoke")]
    names = ", ".join(name for name, _ in CREDENTIAL_COLUMNS)
    if upserts:
        _frame(con, "_export_upserts", CREDENTIAL_COLUMNS, upserts)
        # A credential the audit (or an earlier chunk) holds keeps its row but for its content
        # hash and, when it was signed again, when; a new one is staged as it is.
        con.execute(
            f"INSERT OR REPLACE INTO {_PENDING_CREDENTIALS} "
            f"SELECT a.* REPLACE (u.content_hash AS content_hash, "
            f"coalesce(u.signed_at, a.signed_at) AS signed_at) "
            f"FROM {_CREDENTIALS_TONIGHT} AS a JOIN _export_upserts AS u USING (credential_key)"
        )
        con.execute(
            f"INSERT OR REPLACE INTO {_PENDING_CREDENTIALS} SELECT {names} FROM _export_upserts "
            f"AS u WHERE NOT EXISTS (SELECT 1 FROM {_CREDENTIALS_TONIGHT} AS a "
            f"WHERE a.credential_key = u.credential_key)"
        )
    if revokes:
        # Expiry needs no bit: the credential's own validUntil says it.
        _frame(
            con,
            "_export_revokes",
            (("credential_key", "VARCHAR"), ("reason", "VARCHAR")),
            revokes,
        )
        con.execute(
            f"INSERT OR REPLACE INTO {_PENDING_CREDENTIALS} "
            f"SELECT a.* REPLACE ($now AS revoked_at, r.reason AS reason) "
            f"FROM {_CREDENTIALS_TONIGHT} AS a JOIN _export_revokes AS r USING (credential_key)",
            {"now": now},
        )
    if record_rows:
        record_names = ", ".join(name for name, _ in RECORD_COLUMNS)
        _frame(con, "_export_records", RECORD_COLUMNS, record_rows)
        con.execute(
            f"INSERT OR REPLACE INTO {_PENDING_RECORDS} SELECT {record_names} FROM _export_records"
        )


def _frame(
    con: duckdb.DuckDBPyConnection,
    name: str,
    columns: tuple[tuple[str, str], ...],
    rows: list[dict[str, Any]],
) -> None:
    """Rows into a temporary table typed like an audit table (via a pandas frame)."""
    names = [column for column, _ in columns]
    frame = pd.DataFrame([{n: row.get(n) for n in names} for row in rows], columns=names)
    casts = ", ".join(
        f"CAST(frame.{column} AS {kind.split(' ')[0]}) AS {column}" for column, kind in columns
    )
    con.register("frame", frame)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {casts} FROM frame")
    finally:
        con.unregister("frame")


def _withdraw(
    con: duckdb.DuckDBPyConnection,
    gone: Iterable[str],
    known: Mapping[str, tuple],
    now: datetime,
) -> tuple[int, int]:
    """Records of learners no longer eligible (left the district, no achievement left):
    withdrawn, and every credential they carried revoked, staged for the night's audit:
    (records, credentials revoked)."""
    withdrawn = [key for key in gone if known[key][1] == "current"]
    if not withdrawn:
        return 0, 0
    con.execute(
        f"INSERT OR REPLACE INTO {_PENDING_RECORDS} "
        f"SELECT * REPLACE ('withdrawn' AS status, $now AS withdrawn_at) FROM {_RECORDS_TONIGHT} "
        "WHERE learner_key IN (SELECT unnest($keys::VARCHAR[]))",
        {"now": now, "keys": withdrawn},
    )
    revoked = con.execute(
        f"INSERT OR REPLACE INTO {_PENDING_CREDENTIALS} "
        f"SELECT * REPLACE ($now AS revoked_at, 'withdrawn' AS reason) FROM {_CREDENTIALS_TONIGHT} "
        "WHERE revoked_at IS NULL AND learner_key IN (SELECT unnest($keys::VARCHAR[]))",
        {"now": now, "keys": withdrawn},
    ).fetchall()[0][0]
    return len(withdrawn), revoked


def _publish_night(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    partial: Path,
    night: str,
    run_id: str,
    summary: ExportSummary,
) -> None:
    """Tonight's folder renamed into place whole and `latest` swapped to it, in the one
    transaction that merges the night's staged rows into the audit, marks tonight's records as
    tonight's, rebuilds the mart and records the night: the audit changes only if the night is
    published (a failure before the commit rolls the audit back and the folder with it)."""
    final = out / night
    names = ", ".join(name for name, _ in CREDENTIAL_COLUMNS)
    record_names = ", ".join(name for name, _ in RECORD_COLUMNS)
    renamed = swapped = False
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            f"INSERT INTO audit.export_credentials SELECT {names} FROM {_PENDING_CREDENTIALS} "
            "ON CONFLICT (credential_key) DO UPDATE SET "
            "content_hash = excluded.content_hash, signed_at = excluded.signed_at, "
            "revoked_at = excluded.revoked_at, reason = excluded.reason"
        )
        con.execute(
            f"INSERT OR REPLACE INTO audit.learner_records "
            f"SELECT {record_names} FROM {_PENDING_RECORDS}"
        )
        con.execute(
            "UPDATE audit.learner_records SET night = $night WHERE status = 'current'",
            {"night": night},
        )
        build_learner_records_table(con)
        con.execute(
            "INSERT INTO audit.export_nights VALUES ($run, $night, $folder, $at, $summary, $sha)",
            {
                "run": run_id,
                "night": night,
                "folder": str(final),
                "at": datetime.now(UTC),
                "summary": json.dumps(_public_counts(summary)),
                "sha": hashlib.sha256((partial / "manifest.json").read_bytes()).hexdigest(),
            },
        )
        os.replace(partial, final)
        renamed = True
        link = out / f".{LATEST}.tmp"
        link.unlink(missing_ok=True)
        link.symlink_to(night)
        os.replace(link, out / LATEST)
        swapped = True
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        if renamed and not swapped:
            # Not published after all: the folder goes back to where a night in progress is.
            os.replace(final, partial)
        raise
    con.execute(f"DELETE FROM {_PENDING_CREDENTIALS}")
    con.execute(f"DELETE FROM {_PENDING_RECORDS}")


# --- signing ----------------------------------------------------------------------------------


def _workers(settings: ExportSettings) -> int:
    if settings.workers:
        return settings.workers
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, cores or 1)


def _signing_pool(
    private_key: Ed25519PrivateKey, issuer: issue.Issuer, created: str, workers: int
) -> ProcessPoolExecutor:
    # spawn, not fork: the parent holds a DuckDB connection and Dagster's threads.
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=issue.init_signing_worker,
        initargs=(keys.secret_key_multibase(private_key), issuer.verification_method, created),
    )


def _sign(
    jobs: list[issue.RecordJob], pool: ProcessPoolExecutor | None, local: issue.RecordJobSigner
) -> Iterator[dict[str, Any]]:
    if pool is None or len(jobs) < 2:
        for job in jobs:
            yield local.run(job)
        return
    batches = [jobs[i : i + TASK] for i in range(0, len(jobs), TASK)]
    for batch in pool.map(issue.sign_record_jobs, batches):
        yield from batch


# --- files ------------------------------------------------------------------------------------


def _write(path: Path, data: bytes) -> None:
    """Write a file whole: to a temporary name beside it, then renamed."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _sign_status_lists(
    con: duckdb.DuckDBPyConnection,
    ctx: _Context,
    private_key: Ed25519PrivateKey,
    partial: Path,
    summary: ExportSummary,
) -> int:
    """Sign tonight's status lists: every index whose credential left its record (other than by
    expiry), in the audit or tonight, is set. Written into tonight's folder; published to
    `<out>/status/` when the night is."""
    highest = con.execute(f"SELECT max(status_index) FROM {_CREDENTIALS_TONIGHT}").fetchone()[0]
    if highest is None:
        return 0
    revoked = [
        index
        for (index,) in con.execute(
            f"SELECT status_index FROM {_CREDENTIALS_TONIGHT} WHERE revoked_at IS NOT NULL "
            "AND status_index IS NOT NULL AND reason IS DISTINCT FROM 'expired'"
        ).fetchall()
    ]
    summary.revoked_total = len(revoked)
    signer = issue.RecordSigner(private_key, ctx.issuer.verification_method, ctx.created)
    lists = highest // MIN_STATUS_LIST_LENGTH + 1
    (partial / "status").mkdir(exist_ok=True)
    for number in range(1, lists + 1):
        low = (number - 1) * MIN_STATUS_LIST_LENGTH
        bits = [i - low for i in revoked if low <= i < low + MIN_STATUS_LIST_LENGTH]
        url = f"{ctx.status_url}/{number}.json"
        credential = bitstring_status_list_credential(
            url, ctx.issuer.id, encode_status_list(bits), ctx.created
        )
        data = issue.record_text(signer.sign(credential)).encode()
        _write(partial / "status" / f"{number}.json", data)
        summary.written.append(f"status/{number}.json")
    summary.credentials_signed += signer.signed
    return lists


def _write_manifests(
    ctx: _Context,
    partial: Path,
    night: str,
    records: list[dict[str, Any]],
    partner_members: Mapping[str, list[dict[str, Any]]],
    summary: ExportSummary,
) -> None:
    counts = {
        "records": summary.records,
        "built": summary.built,
        "signed": summary.signed,
        "unchanged": summary.unchanged,
        "withdrawn": summary.withdrawn,
        "credentials_signed": summary.credentials_signed,
        "status_lists": summary.status_lists,
    }
    for partner in ctx.settings.partners:
        members = sorted(partner_members[partner.id], key=lambda m: m["learner_key"])
        _write(
            partial / "partners" / partner.id / "manifest.json",
            issue.record_text(
                {
                    "partner": {"id": partner.id, "name": partner.name},
                    "issuer": ctx.issuer.profile(),
                    "night": night,
                    "created": ctx.created,
                    "learners": len(members),
                    "records": members,
                }
            ).encode(),
        )
    _write(
        partial / "manifest.json",
        issue.record_text(
            {
                "night": night,
                "created": ctx.created,
                "issuer": ctx.issuer.profile(),
                "verification_method": ctx.issuer.verification_method,
                "status_lists": [
                    f"{ctx.status_url}/{n}.json" for n in range(1, summary.status_lists + 1)
                ],
                "counts": counts,
                "partners": {p: len(m) for p, m in partner_members.items()},
                "records": sorted(records, key=lambda r: r["learner_key"]),
            }
        ).encode(),
    )


def _finish_night(out: Path, night: str, keep: int) -> None:
    """After tonight was published: its status lists where the district publishes them from,
    and old nights pruned."""
    final = out / night
    (out / "status").mkdir(exist_ok=True)
    for path in sorted((final / "status").glob("*.json")):
        _write(out / "status" / path.name, path.read_bytes())
    nights = sorted(
        (p for p in out.iterdir() if p.is_dir() and not p.is_symlink() and p.name[:1].isdigit()),
        key=_night_order,
    )
    for old in nights[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


# --- verification of what was written ---------------------------------------------------------


def verify_export(
    out: Path,
    files: list[str],
    now: datetime,
    trust: TrustStore | None = None,
    limit: int = CHECK_SAMPLE,
) -> tuple[int, list[str]]:
    """Verify up to `limit` of the files written tonight (status lists first), as a verifier
    would, against tonight's status lists and what the district caches (the DID documents and
    status lists of the other issuers whose credentials are embedded): (files checked,
    problems)."""
    folder = _latest_folder(out)
    if folder is None:
        return 0, ["no night folder was published"]
    status_lists: dict[str, Mapping[str, Any]] = {}
    for path in sorted((folder / "status").glob("*.json")):
        document = json.loads(path.read_bytes())
        status_lists[document["id"]] = document
    trust = trust or TrustStore()
    trust = TrustStore(
        did_documents=dict(trust.did_documents),
        status_lists={**trust.status_lists, **status_lists},
        hosted=dict(trust.hosted),
    )
    chosen = [f for f in files if f.startswith("status/")]
    rest = [f for f in files if not f.startswith("status/")]
    step = max(1, len(rest) // max(1, limit - len(chosen)))
    chosen += rest[::step][: max(0, limit - len(chosen))]
    problems: list[str] = []
    for name in chosen:
        result = verify_record((folder / name).read_bytes(), trust=trust, now=now)
        if not result.passed:
            failed = [
                f"{where or 'credential'}: {check.message}"
                for where, check in result.checks()
                if check.outcome == "fail"
            ]
            problems.append(f"{name}: {failed[0] if failed else result.outer.reason}")
    return len(chosen), problems


# --- the asset --------------------------------------------------------------------------------


def build_learner_records_asset(
    config: PathwaysConfig, now: Callable[[], datetime] | None = None
) -> dg.AssetsDefinition:
    """`marts/learner_records`: each learner's signed record, the partner bundles and the
    district's status lists, written to `exports.out_dir` each night."""

    @dg.asset(
        key=LEARNER_RECORDS_KEY,
        deps=[
            dg.AssetKey(["core", "credentials"]),
            dg.AssetKey(["core", "competency_results"]),
            dg.AssetKey(["core", "learners"]),
            dg.AssetKey(["staging", "stg_oneroster__users"]),
            dg.AssetKey(["raw", "ob3_api_credentials"]),
            dg.AssetKey(["raw", "badge_files"]),
        ],
        description="The learner records the district signs and exports each night: for each "
        "learner with an achievement, a CLR 2.0 credential holding an Open Badges 3.0 credential "
        "for every badge they hold and every competency they mastered, signed eddsa-rdfc-2022; "
        "the bundles shared with each partner (only learners who did not opt out, only what they "
        "chose to share); the status lists that revoke what left a record. One row per record.",
        group_name="exports",
        kinds={"duckdb", "python", "file"},
        pool=WAREHOUSE_POOL,
        check_specs=[
            dg.AssetCheckSpec(
                RECORDS_VERIFY_CHECK,
                asset=LEARNER_RECORDS_KEY,
                description="The records and status lists written tonight verify the way any "
                f"verifier would check them (proofs, nested too; schema; dates; status); at most "
                f"{CHECK_SAMPLE} files, spread over the night's, when more were written.",
            )
        ],
    )
    def _learner_records(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        tonight = now() if now else datetime.now(UTC)
        with warehouse.get_connection() as con:
            try:
                summary = export_learner_records(
                    con, config, context.run.run_id, tonight, context.log.info
                )
            except ExportError as error:
                raise dg.Failure(description=str(error)) from None
            rows = table_row_count(con, "marts", "learner_records")
        if not summary.enabled:
            yield dg.MaterializeResult(metadata={"enabled": False, "dagster/row_count": rows})
            yield dg.AssetCheckResult(
                check_name=RECORDS_VERIFY_CHECK,
                passed=True,
                description="exports are not enabled for this district",
            )
            return
        context.log.info(
            f"learner records: {summary.records:,} current ({summary.signed:,} signed tonight, "
            f"{summary.built - summary.signed:,} rebuilt unchanged, {summary.unchanged:,} "
            f"unchanged), {summary.withdrawn:,} withdrawn; {summary.credentials_signed:,} "
            f"credentials signed in {summary.seconds:.1f} s"
        )
        counts = Counter(
            {
                "records": summary.records,
                "built": summary.built,
                "re_signed": summary.signed,
                "unchanged": summary.unchanged,
                "withdrawn": summary.withdrawn,
                "credentials_signed": summary.credentials_signed,
                "revoked_tonight": summary.revoked_tonight,
                "revoked_total": summary.revoked_total,
                "status_lists": summary.status_lists,
            }
        )
        yield dg.MaterializeResult(
            metadata={
                **dict(counts),
                "dagster/row_count": rows,
                "partners": dg.MetadataValue.json(summary.partners),
                "seconds": round(summary.seconds, 2),
                "sign_seconds": round(summary.sign_seconds, 2),
                "workers": summary.workers,
                "night": summary.night or "",
                "folder": dg.MetadataValue.path(summary.folder or ""),
            }
        )
        trust, _ = load_trust_store(config.verification.trust_dir)
        if config.exports is not None and config.exports.issuer.did_web:
            did_web = config.exports.issuer.did_web
            trust = TrustStore(
                did_documents={
                    **trust.did_documents,
                    did_web: issue.did_web_document(did_web, load_signing_key(config.exports.key)),
                },
                status_lists=trust.status_lists,
                hosted=trust.hosted,
            )
        checked, problems = verify_export(
            Path(config.exports.out_dir), summary.written, tonight, trust
        )
        sampled = len(summary.written) > checked
        yield dg.AssetCheckResult(
            check_name=RECORDS_VERIFY_CHECK,
            passed=not problems,
            description=(
                f"{checked:,} of the {len(summary.written):,} files written tonight verified"
                + (" (a sample spread over them)" if sampled else "")
                if not problems
                else f"{len(problems):,} of {checked:,} files checked do not verify: {problems[0]}"
            ),
            metadata={"checked": checked, "written": len(summary.written), "sampled": sampled},
        )

    return _learner_records
