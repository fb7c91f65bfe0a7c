"""A district's OneRoster 1.1 / 1.2 CSV export (a folder or a .zip) into `raw.oneroster_*`.

The manifest says which files the export carries and how (bulk replaces a file's snapshot,
delta upserts by sourcedId, absent keeps the last one). Every file is checked against the
binding in `models/oneroster/`: its header by name, each row for required values, enumerations,
dates, numbers and duplicate sourcedIds, and every reference against the roster as it will be
after this load. Good rows land in raw exactly as received; every bad row goes to
`audit.rejected_rows` with its file, line, column and a reason a district data person can act
on. An export that would destroy data (an empty users file, a deletion spike) is held: nothing
in raw changes and the hold is recorded in `audit.sis_loads`.

All row work is set-based SQL inside DuckDB (its own `read_csv`, its rejects tables,
anti-joins), so a million-learner export never passes through Python and Python memory does not
grow with the file. A bulk file is written once: read straight into its next snapshot
(`raw.<table>__incoming`), checked there, and swapped in for the raw table; the lineage all its
rows share (source, file, batch, load time, version) is declared once on that table rather than
written on every row. No Dagster here: the SIS asset calls `load_oneroster_csv`.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import os
import re
import tempfile
import zipfile
from collections.abc import Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import datetime
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import duckdb

from models.oneroster_spec import (
    SpecColumn,
    allowed_values,
    is_extensible,
    known_files,
    personal_columns,
    snake_case,
    spec_columns,
    union_columns,
)
from models.personal_data import NEVER_STORED_COLUMNS

MANIFEST = "manifest.csv"
MODES = ("bulk", "delta", "absent")
TOMBSTONE = "tobedeleted"

# Columns shown as '***' alone in a rejected row: even their first character says too much.
_FULLY_HIDDEN = frozenset({"birthDate", "password"})

_REJECTS = "temp.oneroster_rejects"
_INCOMING = "temp.oneroster_incoming"
_LEARNERS_BEFORE = "temp.oneroster_learners_before"
# How much of a file DuckDB's CSV reader takes in at a time. With its default, the big files of
# a million-learner export read slower and with more CPU: users.csv 6.4 s against 4.0 s,
# results.csv 6.0 s against 3.7 s, enrollments.csv the same (bench/sis_ingestion.py's export on
# 2 cores, medians of 3; 48, 64 and 96 MB were no better, 128 MB read a 140 MB file on one core).
CSV_BUFFER_BYTES = 32 * 2**20


@dataclass(frozen=True)
class OneRosterCsvSettings:
    """Where tonight's export is and how careful to be with it."""

    path: Path  # folder or .zip
    source: str = "sis"  # source name recorded in _source / audit
    # A bulk load that removes more than this share of active learners, or of the active rows of
    # any file without a share of its own below, is held.
    max_deletion_share: float = 0.2
    max_deletion_shares: Mapping[str, float] = field(default_factory=dict)  # by file stem
    # A person's approval of one held batch: its deletions are applied this once (recorded in
    # audit.sis_deletion_checks with `approved_by`). Another batch id changes nothing.
    approve_deletions_for_batch: str | None = None
    approved_by: str = ""


@dataclass
class FileLoad:
    """What happened to one file of the export."""

    file: str  # e.g. "users.csv"
    mode: str  # "bulk" | "delta" | "absent"
    status: str  # "loaded" | "absent" | "held" | "failed"
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    message: str  # empty when fine; otherwise what is wrong and what to fix


@dataclass(frozen=True)
class DeletionCheck:
    """One guarded set of records of a bulk load: how many were active before it and how many
    it removes (absent from the new snapshot, rejected, or marked tobedeleted)."""

    entity: str  # "learners", or a OneRoster file stem such as "users" or "classes"
    active_before: int
    removed: int
    limit: float  # the largest share that may go without a person's approval

    @property
    def share(self) -> float:
        """The share of the active records the load removes."""
        return self.removed / self.active_before if self.active_before else 0.0

    @property
    def over(self) -> bool:
        """The load removes more than the limit allows: held unless approved."""
        return self.share > self.limit


@dataclass
class OneRosterLoad:
    """What happened to one export: its version, its batch, whether it was held, each file."""

    version: str  # "1.1" or "1.2"
    batch_id: str
    held: bool  # the whole export was held (not applied)
    message: str  # why held / summary of failures, "" if fine
    files: list[FileLoad] = field(default_factory=list)
    # Every deletion guard that applied tonight (none on a first night: nothing to remove).
    deletions: list[DeletionCheck] = field(default_factory=list)
    # Deletions above a limit were applied because a person approved this batch.
    approved: bool = False

    @property
    def rows_loaded(self) -> int:
        """Rows that reached raw tonight, all files together."""
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_rejected(self) -> int:
        """Rows recorded in audit.rejected_rows tonight, all files together."""
        return sum(f.rows_rejected for f in self.files)

    @property
    def failed_files(self) -> list[str]:
        """Files that were not loaded because of a file-level fault."""
        return [f.file for f in self.files if f.status == "failed"]

    def file(self, name: str) -> FileLoad | None:
        """The outcome of one file, e.g. `load.file("users.csv")`."""
        return next((f for f in self.files if f.file == name), None)


class OneRosterPackageError(Exception):
    """The export as a whole cannot be read: no manifest, an unsupported version, a bad zip."""


@dataclass(frozen=True)
class Reference:
    """One column of a file that must name a live row of another file (or its own)."""

    file: str
    column: str
    target: str
    is_list: bool = False  # a comma-separated list of sourcedIds
    optional: bool = False  # the column may be blank; a value given must still resolve
    # Many exports never carry the target file (categories, resources, score scales): then the
    # reference cannot be checked and is left to the staging models.
    only_if_target_supplied: bool = False


# Each applies when the file's header has the column, so 1.1-only and 1.2-only ones coexist.
REFERENCES: tuple[Reference, ...] = (
    Reference("orgs.csv", "parentSourcedId", "orgs.csv", optional=True),
    Reference("academicSessions.csv", "parentSourcedId", "academicSessions.csv", optional=True),
    Reference("courses.csv", "orgSourcedId", "orgs.csv"),
    Reference("courses.csv", "schoolYearSourcedId", "academicSessions.csv", optional=True),
    Reference("classes.csv", "courseSourcedId", "courses.csv"),
    Reference("classes.csv", "schoolSourcedId", "orgs.csv"),
    Reference("classes.csv", "termSourcedIds", "academicSessions.csv", is_list=True),
    Reference("users.csv", "orgSourcedIds", "orgs.csv", is_list=True),  # 1.1
    Reference("users.csv", "primaryOrgSourcedId", "orgs.csv", optional=True),  # 1.2
    # A guardian may come later in the file than the learner: checked against the whole file.
    Reference("users.csv", "agentSourcedIds", "users.csv", is_list=True, optional=True),
    Reference("roles.csv", "userSourcedId", "users.csv"),
    Reference("roles.csv", "orgSourcedId", "orgs.csv"),
    Reference(
        "roles.csv",
        "userProfileSourcedId",
        "userProfiles.csv",
        optional=True,
        only_if_target_supplied=True,
    ),
    Reference("userProfiles.csv", "userSourcedId", "users.csv"),
    Reference("demographics.csv", "sourcedId", "users.csv"),
    Reference("enrollments.csv", "classSourcedId", "classes.csv"),
    Reference("enrollments.csv", "userSourcedId", "users.csv"),
    Reference("enrollments.csv", "schoolSourcedId", "orgs.csv"),
    Reference("lineItems.csv", "classSourcedId", "classes.csv"),
    Reference("lineItems.csv", "academicSessionSourcedId", "academicSessions.csv"),  # 1.2
    Reference("lineItems.csv", "gradingPeriodSourcedId", "academicSessions.csv"),  # 1.1
    Reference("lineItems.csv", "schoolSourcedId", "orgs.csv"),  # 1.2
    Reference("lineItems.csv", "categorySourcedId", "categories.csv", only_if_target_supplied=True),
    Reference("results.csv", "lineItemSourcedId", "lineItems.csv"),
    Reference("results.csv", "studentSourcedId", "users.csv"),
    Reference("results.csv", "classSourcedId", "classes.csv", optional=True),  # 1.2
    Reference("lineItemLearningObjectiveIds.csv", "lineItemSourcedId", "lineItems.csv"),
    Reference("resultLearningObjectiveIds.csv", "resultSourcedId", "results.csv"),
    Reference("scoreScales.csv", "orgSourcedId", "orgs.csv"),
    Reference("scoreScales.csv", "courseSourcedId", "courses.csv"),
    Reference("scoreScales.csv", "classSourcedId", "classes.csv"),
    Reference("lineItemScoreScales.csv", "lineItemSourcedId", "lineItems.csv"),
    Reference(
        "lineItemScoreScales.csv",
        "scoreScaleSourcedId",
        "scoreScales.csv",
        only_if_target_supplied=True,
    ),
    Reference("resultScoreScales.csv", "resultSourcedId", "results.csv"),
    Reference(
        "resultScoreScales.csv",
        "scoreScaleSourcedId",
        "scoreScales.csv",
        only_if_target_supplied=True,
    ),
    Reference("classResources.csv", "classSourcedId", "classes.csv"),
    Reference(
        "classResources.csv", "resourceSourcedId", "resources.csv", only_if_target_supplied=True
    ),
    Reference("courseResources.csv", "courseSourcedId", "courses.csv"),
    Reference(
        "courseResources.csv", "resourceSourcedId", "resources.csv", only_if_target_supplied=True
    ),
    Reference("userResources.csv", "userSourcedId", "users.csv"),
    Reference("userResources.csv", "orgSourcedId", "orgs.csv", optional=True),
    Reference("userResources.csv", "classSourcedId", "classes.csv", optional=True),
    Reference(
        "userResources.csv", "resourceSourcedId", "resources.csv", only_if_target_supplied=True
    ),
)

# What one row of each file is, for reasons a person reads ("every enrollment needs …").
_ROW_NOUNS = {
    "academicSessions.csv": "academic session",
    "categories.csv": "category",
    "classes.csv": "class",
    "classResources.csv": "class resource",
    "courseResources.csv": "course resource",
    "courses.csv": "course",
    "demographics.csv": "demographics record",
    "enrollments.csv": "enrollment",
    "lineItemLearningObjectiveIds.csv": "line item learning objective",
    "lineItemScoreScales.csv": "line item score scale",
    "lineItems.csv": "line item",
    "orgs.csv": "org",
    "resources.csv": "resource",
    "resultLearningObjectiveIds.csv": "result learning objective",
    "resultScoreScales.csv": "result score scale",
    "results.csv": "result",
    "roles.csv": "role",
    "scoreScales.csv": "score scale",
    "userProfiles.csv": "user profile",
    "userResources.csv": "user resource",
    "users.csv": "user",
}

# How DuckDB's rejects error types read to a person; {found}/{expected} come from its message.
_STRUCTURAL_REASONS = {
    "MISSING COLUMNS": "row has {found} values but the header has {expected} columns; "
    "a value or a comma is missing",
    "TOO MANY COLUMNS": "row has {found} values but the header has {expected} columns; "
    'quote values that contain a comma (e.g. "Smith, Jr.")',
    "UNQUOTED VALUE": 'a quote (") in this row is never closed or stands inside an unquoted '
    "value, so this row (and any it swallowed) could not be read; close the quote, or double "
    'a quote inside a quoted value ("")',
    "INVALID ENCODING": "the row is not valid UTF-8 text; export the file as UTF-8",
    "LINE SIZE OVER MAXIMUM": "the row is longer than 2 MB; look for a quote that is never closed",
}


def raw_table(file: str) -> str:
    """`users.csv` → `raw.oneroster_users`, the table that holds the file's snapshot."""
    return f"raw.oneroster_{snake_case(file.removesuffix('.csv'))}"


def _next_snapshot(file: str) -> str:
    """Where a bulk file is read and checked before it replaces the file's raw table."""
    return f"{raw_table(file)}__incoming"


def _raw_columns(file: str) -> list[tuple[str, str]]:
    """The raw table's columns and types: every spec column of the file in any version, its
    extension columns as JSON, and where each row came from."""
    return [
        *((name, "VARCHAR") for name in union_columns(file)),
        ("metadata", "JSON"),
        ("_source", "VARCHAR"),
        ("_file", "VARCHAR"),
        ("_line", "BIGINT"),
        ("_batch_id", "VARCHAR"),
        ("_loaded_at", "TIMESTAMPTZ"),
        ("_oneroster_version", "VARCHAR"),
    ]


def _removed_table(file: str) -> str:
    """The temp table of the ids a load removes from a file's records (see _record_deletions)."""
    return f"temp.oneroster_removed_{snake_case(file.removesuffix('.csv'))}"


def _csv_rejects_tables(file: str) -> tuple[str, str]:
    """DuckDB's rejects table and rejects scan table for one file's read_csv."""
    entity = snake_case(file.removesuffix(".csv"))
    return f"temp.oneroster_rejects_{entity}", f"temp.oneroster_reject_scans_{entity}"


def ensure_oneroster_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create schemas raw/audit and every raw.oneroster_* table + audit tables if missing
    (idempotent)."""
    _run(con, "CREATE SCHEMA IF NOT EXISTS raw")
    _run(con, "CREATE SCHEMA IF NOT EXISTS audit")
    # Every warehouse step calls this; one look at the catalog spares it 21 statements a step.
    existing = {
        f"raw.{name}"
        for (name,) in _run(
            con,
            "SELECT table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = 'raw'",
        )
    }
    for file in (f for f in known_files() if raw_table(f) not in existing):
        columns = ", ".join(f"{_ident(name)} {kind}" for name, kind in _raw_columns(file))
        _run(con, f"CREATE TABLE IF NOT EXISTS {raw_table(file)} ({columns})")
    _run(
        con,
        """
        CREATE TABLE IF NOT EXISTS audit.rejected_rows (
            run_id VARCHAR,
            batch_id VARCHAR,
            source VARCHAR,
            file VARCHAR,
            line BIGINT,
            column_name VARCHAR,
            value VARCHAR,
            reason VARCHAR,
            rejected_at TIMESTAMPTZ,
            sourced_id VARCHAR
        )
        """,
    )
    # Warehouses from before rejected rows carried their sourcedId.
    _run(con, "ALTER TABLE audit.rejected_rows ADD COLUMN IF NOT EXISTS sourced_id VARCHAR")
    _run(
        con,
        """
        CREATE TABLE IF NOT EXISTS audit.sis_loads (
            run_id VARCHAR,
            batch_id VARCHAR,
            source VARCHAR,
            file VARCHAR,
            oneroster_version VARCHAR,
            mode VARCHAR,
            status VARCHAR,
            rows_read BIGINT,
            rows_loaded BIGINT,
            rows_rejected BIGINT,
            message VARCHAR,
            loaded_at TIMESTAMPTZ
        )
        """,
    )
    _ensure_deletion_tables(con)


def _ensure_deletion_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The deletion guards' audit: each check of a bulk load (with the person who approved a
    held batch) and each record an applied load removed."""
    _run(
        con,
        """
        CREATE TABLE IF NOT EXISTS audit.sis_deletion_checks (
            run_id VARCHAR,
            batch_id VARCHAR,
            source VARCHAR,
            entity VARCHAR,
            active_before BIGINT,
            removed BIGINT,
            share DOUBLE,
            limit_share DOUBLE,
            outcome VARCHAR,
            approved_by VARCHAR,
            checked_at TIMESTAMPTZ
        )
        """,
    )
    _run(
        con,
        """
        CREATE TABLE IF NOT EXISTS audit.sis_deleted_records (
            run_id VARCHAR,
            batch_id VARCHAR,
            source VARCHAR,
            file VARCHAR,
            sourced_id VARCHAR,
            how VARCHAR,
            deleted_at TIMESTAMPTZ
        )
        """,
    )


def load_oneroster_csv(
    con: duckdb.DuckDBPyConnection,
    settings: OneRosterCsvSettings,
    run_id: str,
    loaded_at: datetime,
) -> OneRosterLoad:
    """Validate and load one export. Applies everything in ONE transaction; a held export
    changes no raw table (but its hold IS recorded in audit.sis_loads)."""
    ensure_oneroster_tables(con)
    with _package_root(Path(settings.path)) as root:
        manifest = _read_manifest(root)
        version = _manifest_version(manifest)
        batch_id = _batch_id(Path(settings.path), root)
        plans = _plan_files(root, manifest, version)
        export = _ExportLoad(con, settings, version, batch_id, run_id, loaded_at)
        return export.run(plans)


# --- the package: where it is, what it says about itself -----------------------------------


@contextmanager
def _package_root(path: Path) -> Iterator[Path]:
    """The folder that holds manifest.csv: the folder itself, or a zip extracted to a temp dir."""
    if not path.exists():
        raise OneRosterPackageError(
            f"{path} does not exist; point sources.sis.path at the export folder or .zip"
        )
    if path.is_dir():
        yield _root_within(path, path)
        return
    if not zipfile.is_zipfile(path):
        raise OneRosterPackageError(
            f"{path} is neither a folder nor a readable .zip; export the OneRoster CSV "
            "package again as a zip or a folder"
        )
    # DuckDB cannot read inside a zip without an extension; extracting keeps read_csv fast.
    with tempfile.TemporaryDirectory(prefix="pathways-oneroster-") as tmp:
        try:
            with zipfile.ZipFile(path) as archive:
                archive.extractall(tmp)
        except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as err:
            raise OneRosterPackageError(
                f"{path} could not be unzipped ({err}); export the package again"
            ) from err
        yield _root_within(Path(tmp), path)


def _root_within(folder: Path, shown_as: Path) -> Path:
    if (folder / MANIFEST).is_file():
        return folder
    # Zip tools often wrap the files in one top folder; macOS adds __MACOSX beside it.
    subfolders = [
        d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(("__MACOSX", "."))
    ]
    if len(subfolders) == 1 and (subfolders[0] / MANIFEST).is_file():
        return subfolders[0]
    raise OneRosterPackageError(
        f"{shown_as} has no {MANIFEST}; a OneRoster CSV package must carry one (rows "
        "propertyName,value with oneroster.version and file.<name> = bulk, delta or absent). "
        "Export the whole package from the SIS, not single files."
    )


def _read_manifest(root: Path) -> dict[str, str]:
    try:
        with (root / MANIFEST).open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not {"propertyName", "value"} <= set(reader.fieldnames):
                raise OneRosterPackageError(
                    f"{MANIFEST} must have the header propertyName,value "
                    f"(found {reader.fieldnames}); export the package again"
                )
            return {
                (row["propertyName"] or "").strip(): (row["value"] or "").strip() for row in reader
            }
    except (UnicodeDecodeError, csv.Error) as err:
        raise OneRosterPackageError(
            f"{MANIFEST} is not a readable UTF-8 CSV file ({err}); export the package again"
        ) from err


def _manifest_version(manifest: dict[str, str]) -> str:
    stated = manifest.get("oneroster.version", "")
    if not stated:
        raise OneRosterPackageError(
            f"{MANIFEST} has no oneroster.version row; add `oneroster.version,1.2` (or 1.1) "
            "so Pathways knows which OneRoster columns to expect"
        )
    # 1.2.1 packages say 1.2 or 1.2.1; both follow the 1.2 CSV binding.
    match = re.fullmatch(r"(1\.[12])(\.\d+)*", stated)
    if match is None:
        raise OneRosterPackageError(
            f"{MANIFEST}: oneroster.version is '{stated}'; Pathways reads OneRoster 1.1 and 1.2 "
            "CSV exports. Ask the SIS vendor for a 1.1 or 1.2 export."
        )
    return match.group(1)


def _batch_id(path: Path, root: Path) -> str:
    """The same export always gets the same batch id, so loading it twice changes nothing."""
    if path.is_file():
        with path.open("rb") as fh:
            return hashlib.file_digest(fh, "sha256").hexdigest()[:16]
    members = sorted(p for p in root.iterdir() if p.is_file() and _is_csv(p))
    # hashlib lets go of the GIL while it hashes, so the files of a big export are hashed side
    # by side, one per core; the digest is the same as hashing them one after another.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        digests = pool.map(_file_digest, members)
    digest = hashlib.sha256()
    for member, member_digest in zip(members, digests, strict=True):
        digest.update(member.name.encode())
        digest.update(member_digest)
    return digest.hexdigest()[:16]


def _file_digest(path: Path) -> bytes:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").digest()


def _is_csv(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


@dataclass(frozen=True)
class _FilePlan:
    """What the manifest and the package say about one file, before it is read."""

    file: str
    mode: str
    path: Path | None  # None when the export does not carry the file
    fault: str = ""  # a package-level reason not to load it
    note: str = ""  # a reason it was not loaded that is not a failure (present but absent)

    @property
    def loadable(self) -> bool:
        return self.mode in ("bulk", "delta") and self.path is not None and not self.fault


def _plan_files(root: Path, manifest: dict[str, str], version: str) -> list[_FilePlan]:
    present = {p.name: p for p in root.iterdir() if p.is_file() and _is_csv(p)}
    present.pop(MANIFEST, None)
    plans = []
    for file in spec_columns(version):
        entity = file.removesuffix(".csv")
        stated = manifest.get(f"file.{entity}")
        path = present.pop(file, None)
        mode = (stated or "").lower()
        if stated is None:
            fault = (
                f"{file} is in the export but {MANIFEST} has no file.{entity} row, so it was "
                f"not loaded; add `file.{entity},bulk` (or delta) to the manifest"
                if path
                else ""
            )
            plans.append(_FilePlan(file, "absent", None, fault=fault))
        elif mode not in MODES:
            plans.append(
                _FilePlan(
                    file,
                    "absent",
                    path,
                    fault=f"{MANIFEST}: file.{entity} is '{stated}'; use bulk, delta or absent. "
                    "The file was not loaded; its last snapshot was kept.",
                )
            )
        elif mode == "absent":
            note = (
                f"{file} is in the export but {MANIFEST} marks it absent, so it was not loaded; "
                f"set file.{entity} to bulk or delta to load it"
                if path
                else ""
            )
            plans.append(_FilePlan(file, mode, None, note=note))
        elif path is None:
            plans.append(
                _FilePlan(
                    file,
                    mode,
                    None,
                    fault=f"{MANIFEST} lists {file} as {mode} but the export has no {file}; "
                    "its last snapshot was kept. Check the SIS export job.",
                )
            )
        else:
            plans.append(_FilePlan(file, mode, path))
    for name, path in sorted(present.items()):
        entity = name.removesuffix(".csv")
        stated = (manifest.get(f"file.{entity}") or "absent").lower()
        mode = stated if stated in MODES else "absent"
        if name in known_files():
            other = "1.1" if version == "1.2" else "1.2"
            fault = (
                f"{name} is a OneRoster {other} file but this export says oneroster.version "
                f"{version}; it was not loaded. Fix oneroster.version in {MANIFEST} if the "
                f"export is {other}."
            )
        else:
            fault = f"{name} is not a OneRoster {version} file and was not loaded"
            close = _closest(name, list(spec_columns(version)))
            fault += f"; did you mean '{close}'?" if close else "."
        plans.append(_FilePlan(name, mode, path, fault=fault))
    return sorted(plans, key=lambda p: p.file)


def _closest(name: str, candidates: Sequence[str]) -> str | None:
    """The candidate a near-miss name most likely meant: case-insensitively first."""
    by_lower = {c.lower(): c for c in candidates}
    if name.strip().lower() in by_lower:
        return by_lower[name.strip().lower()]
    close = difflib.get_close_matches(name.strip().lower(), list(by_lower), n=1, cutoff=0.75)
    return by_lower[close[0]] if close else None


# --- one file's header ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    """A file's header line, checked: the spec columns it has and its extension columns."""

    names: tuple[str, ...]  # as in the file, in file order
    # The name read_csv gives each column: the spec name, or _m<i> for metadata.* columns so
    # no name the district chose ever becomes an SQL identifier.
    read_as: tuple[str, ...]
    metadata_keys: tuple[str, ...]  # metadata.* names without the prefix, in read_as order

    @property
    def spec_names(self) -> tuple[str, ...]:
        return tuple(n for n in self.names if not n.startswith("metadata."))


def _read_header(path: Path) -> list[str] | None:
    """The header line as the csv module reads it (BOM and CRLF tolerated); None if empty."""
    # Only the first line is decoded: a stray Latin-1 byte further down is one bad row for
    # read_csv to reject, not a reason to fail the whole file.
    with path.open("rb") as fh:
        first = fh.readline(1 << 20)
    if not first:
        return None
    return next(csv.reader([first.decode("utf-8-sig").rstrip("\r\n")]), [])


def _check_header(plan: _FilePlan, version: str) -> tuple[_Header | None, str]:
    """The header, or a message saying what is wrong with it and what to do."""
    assert plan.path is not None
    file = plan.file
    try:
        names = _read_header(plan.path)
    except UnicodeDecodeError:
        return None, (
            f"{file} is not UTF-8 text; export it as UTF-8 (CSV UTF-8). The file was not loaded; "
            "its last snapshot was kept."
        )
    except csv.Error as err:
        return None, f"{file}: the header line cannot be read as CSV ({err}); export it again."
    if names is None:
        return None, ""
    columns = {c.name: c for c in spec_columns(version)[file]}
    other = "1.1" if version == "1.2" else "1.2"
    other_columns = {c.name for c in spec_columns(other).get(file, ())}
    faults: list[str] = []
    for position, name in enumerate(names, start=1):
        if name in columns:
            continue
        if name.startswith("metadata."):
            if name == "metadata.":
                faults.append(f"column {position} is named 'metadata.' with nothing after it.")
            continue
        if not name.strip():
            faults.append(f"column {position} has no name; name it or remove it.")
            continue
        if name in other_columns:
            faults.append(
                f"column '{name}' is a OneRoster {other} column, not {version}; remove it, "
                f"prefix it with 'metadata.', or fix oneroster.version in {MANIFEST}."
            )
            continue
        hint = _closest(name, list(columns))
        fault = f"column '{name}' is not a OneRoster {version} column; "
        fault += f"did you mean '{hint}'? " if hint else ""
        fault += "Rename it, or prefix it with 'metadata.' if it is an extension."
        faults.append(fault)
    for name in sorted({n for n in names if names.count(n) > 1}):
        faults.append(f"column '{name}' appears {names.count(name)} times; keep one.")
    for column in columns.values():
        if column.required == "yes" and column.name not in names:
            faults.append(f"required column '{column.name}' is missing; add it to the header.")
        elif column.required == "delta-only" and plan.mode == "delta" and column.name not in names:
            faults.append(
                f"column '{column.name}' is missing; a delta file needs status and "
                "dateLastModified on every row."
            )
    if faults:
        return None, (
            f"{file}: " + " ".join(faults) + " The file was not loaded; its last snapshot was kept."
        )
    read_as, keys = [], []
    for name in names:
        if name.startswith("metadata."):
            read_as.append(f"_m{len(keys)}")
            keys.append(name.removeprefix("metadata."))
        else:
            read_as.append(name)
    return _Header(tuple(names), tuple(read_as), tuple(keys)), ""


# --- the load -----------------------------------------------------------------------------------


class _ExportLoad:
    """One export: its bulk files read into their next snapshots, then everything validated
    and applied inside one DuckDB transaction."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        settings: OneRosterCsvSettings,
        version: str,
        batch_id: str,
        run_id: str,
        loaded_at: datetime,
    ) -> None:
        self.con = con
        self.settings = settings
        self.version = version
        self.batch_id = batch_id
        self.run_id = run_id
        self.loaded_at = loaded_at
        self.empty_files: set[str] = set()  # zero-byte files (not even a header)
        self.headers: dict[str, _Header] = {}  # checked headers of the files to load
        # Bulk files' next snapshots, read before the load's transaction (see _stage_bulk), and
        # those whose lines the load's transaction still has to write: from each row's rowid
        # (True: a file read on all threads) or only past rejected records (False).
        self.next_snapshots: list[str] = []
        self.unnumbered: list[tuple[_FilePlan, bool]] = []
        # The table the file being loaded is staged in: its next snapshot for a bulk file,
        # a temp table for a delta file.
        self.incoming = _INCOMING
        self.in_order = True  # rows land in file order, so rowid gives the line
        # The deletion guards: each bulk file's removed ids (a temp table per file, see
        # _count_removals) and every check made tonight.
        self.removed: dict[str, str] = {}
        self.deletions: list[DeletionCheck] = []
        self.approved = False

    def run(self, plans: list[_FilePlan]) -> OneRosterLoad:
        order = _load_order([p.file for p in plans])
        try:
            result = self._run(plans, order)
        except BaseException:
            with suppress(duckdb.Error):
                self._drop_staging(order)
            raise
        self._drop_staging(order)
        return result

    def _run(self, plans: list[_FilePlan], order: list[str]) -> OneRosterLoad:
        by_file = {p.file: p for p in plans}
        loads: dict[str, FileLoad] = {}
        self.in_order = bool(
            _scalar(self.con, "SELECT current_setting('preserve_insertion_order')")
        )
        for file in order:
            outcome = self._check_file(by_file[file])
            if outcome is not None:
                loads[file] = outcome
        self._stage_bulk([by_file[f] for f in order if f in self.headers])
        _run(self.con, "BEGIN TRANSACTION")
        try:
            _run(
                self.con,
                f"""
                CREATE OR REPLACE TEMP TABLE {_REJECTS.removeprefix("temp.")} (
                    file VARCHAR, line BIGINT, sourced_id VARCHAR, column_name VARCHAR,
                    value VARCHAR, reason VARCHAR, rule VARCHAR
                )
                """,
            )
            # Inside the load's transaction, so the line numbers are written out with the rest
            # of the load at its one commit (in a transaction of their own they cost a commit
            # more).
            for plan, by_rowid in self.unnumbered:
                self._number_lines(plan, _next_snapshot(plan.file), by_rowid)
            guards_learners = self._snapshot_learners_before(plans)
            for file in order:
                if file not in loads:
                    loads[file] = self._load_file(by_file[file], self.headers[file])
            hold = self._hold_reason(plans, loads, guards_learners)
            if not hold:
                self._record(plans, loads)
                _run(self.con, f"DROP TABLE IF EXISTS {_REJECTS}")
                _run(self.con, f"DROP TABLE IF EXISTS {_LEARNERS_BEFORE}")
                _run(self.con, "COMMIT")
        except BaseException:
            _run(self.con, "ROLLBACK")
            raise
        if hold:
            return self._hold(plans, loads, hold)
        files = [loads[p.file] for p in plans]
        return OneRosterLoad(
            self.version,
            self.batch_id,
            False,
            _summary(files),
            files,
            self.deletions,
            self.approved,
        )

    def _drop_staging(self, order: list[str]) -> None:
        """Drop what reading the files left behind: next snapshots that were not swapped in
        (a held or failed load) and DuckDB's rejects tables."""
        for table in self.next_snapshots:
            _run(self.con, f"DROP TABLE IF EXISTS {table}")
        for file in order:
            for table in _csv_rejects_tables(file):
                _run(self.con, f"DROP TABLE IF EXISTS {table}")

    # -- one file ----------------------------------------------------------------------------

    def _check_file(self, plan: _FilePlan) -> FileLoad | None:
        """The outcome of a file that will not be read (a fault, absent, a bad header, empty);
        None for a file to load, whose checked header is then in self.headers."""
        if plan.fault:
            return FileLoad(plan.file, plan.mode, "failed", 0, 0, 0, plan.fault)
        if not plan.loadable:
            return FileLoad(plan.file, plan.mode, "absent", 0, 0, 0, plan.note)
        header, fault = self._checked_header(plan)
        if fault:
            return FileLoad(plan.file, plan.mode, "failed", 0, 0, 0, fault)
        if header is None:
            # A zero-byte file: nothing to replace the snapshot with, and a warning sign.
            self.empty_files.add(plan.file)
            return FileLoad(
                plan.file,
                plan.mode,
                "failed",
                0,
                0,
                0,
                f"{plan.file} is empty (not even a header line); its last snapshot was kept. "
                "Check the SIS export job.",
            )
        self.headers[plan.file] = header
        return None

    def _checked_header(self, plan: _FilePlan) -> tuple[_Header | None, str]:
        """The file's columns checked against the spec (here its header line), or a message
        saying what is wrong; (None, "") for a zero-byte file."""
        return _check_header(plan, self.version)

    def _display(self, file: str) -> str:
        """How a file is named in a reason or message a person reads."""
        return file

    def _load_file(self, plan: _FilePlan, header: _Header) -> FileLoad:
        if plan.mode == "bulk":
            self.incoming = _next_snapshot(plan.file)
        else:
            self._stage_delta(plan, header)
        self._record_structural_rejects(plan, header)
        self._check_rows(plan, header)
        self._check_duplicates(plan)
        references = [r for r in REFERENCES if r.file == plan.file and r.column in header.names]
        for reference in references:
            self._check_reference(plan, header, reference)
        dropped = self._drop_rejected(plan.file)
        # A rejected row can orphan others of its own file (a parent org, a guardian): repeat
        # until nothing more falls. (While no row falls, the file is as the checks saw it.)
        self_references = [r for r in references if r.target == plan.file]
        while self_references and dropped:
            if not any([self._check_reference(plan, header, r) for r in self_references]):
                break
            dropped = self._drop_rejected(plan.file)
        if plan.mode == "bulk":
            self._count_removals(plan)
        stale = self._apply(plan, header)
        loaded = _scalar(
            self.con,
            f"SELECT count(*) FROM {raw_table(plan.file) if plan.mode == 'bulk' else _INCOMING}",
        )
        _run(self.con, f"DROP TABLE IF EXISTS {_INCOMING}")
        rejected = _scalar(
            self.con,
            f"SELECT count(DISTINCT line) FROM {_REJECTS} WHERE file = $file",
            {"file": plan.file},
        )
        read = loaded + rejected + stale
        message = self._rejects_summary(plan.file, rejected, read)
        if stale:
            message = (message + " " if message else "") + (
                f"{stale:,} row(s) were older than the warehouse's copy (dateLastModified) and "
                "were not applied."
            )
        return FileLoad(plan.file, plan.mode, "loaded", read, loaded, rejected, message)

    def _read_csv(
        self,
        plan: _FilePlan,
        header: _Header,
        one_thread: bool = False,
        con: duckdb.DuckDBPyConnection | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """SQL (and its parameters) reading the file with DuckDB's own reader: every column as
        text, malformed rows to DuckDB's rejects table of `con` (and from there, later, to
        ours). `one_thread` reads it on one thread, numbering its rows as it goes."""
        con = con or self.con
        errors, scans = _csv_rejects_tables(plan.file)
        _run(con, f"DROP TABLE IF EXISTS {errors}")
        _run(con, f"DROP TABLE IF EXISTS {scans}")
        # Read on all threads, rows still land in file order (DuckDB preserves insertion order
        # by default), so a row's line follows from its rowid. WITH ORDINALITY numbers them
        # while reading and keeps read_csv to one thread: for a file read side by side with
        # others (see _stage_bulk), and for connections that turned insertion order off.
        # (`parallel = false` would do the same but drops a record left open by an unclosed
        # quote at the end of the file without a word in the rejects table: DuckDB 2.0.1.)
        numbered = one_thread or not self.in_order
        source = f"""
            read_csv(
                $path,
                columns = $columns,
                header = true,
                auto_detect = false,
                delim = ',',
                quote = '"',
                escape = '"',
                strict_mode = true,
                buffer_size = {CSV_BUFFER_BYTES},
                store_rejects = true,
                rejects_table = '{errors.removeprefix("temp.")}',
                rejects_scan = '{scans.removeprefix("temp.")}'
            ) {"WITH ORDINALITY" if numbered else ""}
        """
        return source, {
            "path": str(plan.path),
            "columns": dict.fromkeys(header.read_as, "VARCHAR"),
        }

    def _line(self, one_thread: bool = False) -> str:
        """SQL for a freshly read row's line, when it can be known while reading."""
        return "ordinality + 1" if one_thread or not self.in_order else "NULL::BIGINT"

    def _stage_bulk(self, plans: list[_FilePlan]) -> None:
        """Read each bulk file straight into its next snapshot, `raw.<table>__incoming`, in the
        raw table's own shape (what all its rows share declared once, see `_shared_values`):
        the rows are written once, checked there, and swapped in by `_apply` (or dropped if the
        load is held).

        This runs before the load's transaction opens (each file in a transaction of its own):
        DuckDB writes a big table out while reading it, and a table changed in the transaction
        that created it is written all over again at commit. No raw table of a file is touched
        here.

        When the files can keep DuckDB's threads equally busy, they are read side by side, each
        on one thread of its own that numbers its rows as it reads. Otherwise each is read on
        all threads, one after another, and the load's transaction numbers the lines from the
        rowids (`_number_lines`): a column written again over millions of rows. At a million
        learners on 2 cores the first way took 19.9 s against 21.3 s (medians of 7 and 5 runs)."""
        reads = []
        for plan in (p for p in plans if p.mode == "bulk"):
            header = self.headers[plan.file]
            snapshot = _next_snapshot(plan.file)
            self.next_snapshots.append(snapshot)
            shared = self._shared_values(plan, header)
            columns = ", ".join(
                f"{_ident(name)} {kind}" + (f" AS ({shared[name]})" if name in shared else "")
                for name, kind in _raw_columns(plan.file)
            )
            _run(self.con, f"CREATE OR REPLACE TABLE {snapshot} ({columns})")
            reads.append((plan, header, snapshot, shared))
        sizes = {plan.file: plan.path.stat().st_size for plan, *_ in reads}
        threads = int(_run(self.con, "SELECT current_setting('threads')")[0][0])
        readers = side_by_side_readers(list(sizes.values()), threads)
        if readers == 1:
            for plan, header, snapshot, shared in reads:
                self._read_into(self.con, plan, header, snapshot, shared, one_thread=False)
                self.unnumbered.append((plan, self.in_order))
            return
        # Largest first, each to the next free reader: the readers finish close together.
        reads.sort(key=lambda read: sizes[read[0].file], reverse=True)
        cursors = [self.con.cursor() for _ in range(readers)]
        free = list(cursors)

        def read(plan: _FilePlan, header: _Header, snapshot: str, shared: dict[str, str]):
            cursor = free.pop()
            try:
                return self._read_into(cursor, plan, header, snapshot, shared, one_thread=True)
            finally:
                free.append(cursor)

        try:
            with ThreadPoolExecutor(max_workers=readers) as pool:
                rejected = list(pool.map(lambda r: read(*r), reads))
        finally:
            for cursor in cursors:
                cursor.close()
        # DuckDB's rejects tables are temp tables of the reader's own connection: each moves to
        # this one (it is nearly always empty), where the checks look for it.
        for (plan, *_), errors in zip(reads, rejected, strict=True):
            name = _csv_rejects_tables(plan.file)[0]
            self.con.register("oneroster_read_errors", errors)
            try:
                _run(
                    self.con,
                    f"CREATE OR REPLACE TEMP TABLE {name.removeprefix('temp.')} AS "
                    "SELECT * FROM oneroster_read_errors",
                )
            finally:
                self.con.unregister("oneroster_read_errors")
            self.unnumbered.append((plan, False))

    def _read_into(
        self,
        con: duckdb.DuckDBPyConnection,
        plan: _FilePlan,
        header: _Header,
        snapshot: str,
        shared: dict[str, str],
        one_thread: bool,
    ) -> Any:
        """Read one bulk file into its next snapshot on `con`; read on one thread, also DuckDB's
        rejects table of the read (as a DataFrame, for `_stage_bulk` to move)."""
        source, params = self._read_csv(plan, header, one_thread, con)
        select, contract = self._raw_row(plan, header, self._line(one_thread), shared)
        _run(
            con,
            f"INSERT INTO {snapshot} BY NAME SELECT {select} FROM {source}",
            {**params, **contract},
        )
        if not one_thread:
            return None
        return con.execute(f"SELECT * FROM {_csv_rejects_tables(plan.file)[0]}").df()

    def _stage_delta(self, plan: _FilePlan, header: _Header) -> None:
        """Read a delta file into a temp table, to be upserted from it."""
        self.incoming = _INCOMING
        source, params = self._read_csv(plan, header)
        columns = "*" if self.in_order else "* EXCLUDE (ordinality)"
        _run(
            self.con,
            f"""
            CREATE OR REPLACE TEMP TABLE {_INCOMING.removeprefix("temp.")} AS
            SELECT {columns}, {self._line()} AS _line
            FROM {source}
            """,
            params,
        )
        self._number_lines(plan, _INCOMING, self.in_order)

    def _number_lines(self, plan: _FilePlan, table: str, by_rowid: bool) -> None:
        """Give each staged row its line in the file: from its rowid (a file read on all
        threads) and past the rejected records before it."""
        if by_rowid:
            # The header is line 1, so the first record is line 2.
            _run(
                self.con,
                f"UPDATE {table} SET _line = rowid - (SELECT min(rowid) FROM {table}) + 2",
            )
        errors, _ = _csv_rejects_tables(plan.file)
        if not _scalar(self.con, f"SELECT count(*) FROM {errors}"):
            return
        # read_csv numbers good rows without the rejected records between them, so each good
        # row moves down by the number of rejected records before it. With rejected lines
        # r_1 < r_2 < …, r_i has r_i - 1 - i good rows before it (its `gap`).
        _run(
            self.con,
            f"""
            UPDATE {table} AS r
            SET _line = r._line + s.shift
            FROM (
                SELECT gap, lead(gap, 1, 9223372036854775807) OVER (ORDER BY gap) AS next_gap,
                       shift
                FROM (
                    -- consecutive rejected lines share a gap; the last of them sets the shift
                    SELECT gap, max(shift) AS shift
                    FROM (
                        SELECT line - 1 - row_number() OVER (ORDER BY line) AS gap,
                               row_number() OVER (ORDER BY line) AS shift
                        FROM (SELECT DISTINCT line FROM {errors})
                    )
                    GROUP BY gap
                )
            ) AS s
            WHERE r._line - 1 > s.gap AND r._line - 1 <= s.next_gap
            """,
        )

    def _raw_row(
        self, plan: _FilePlan, header: _Header, line: str, shared: Collection[str] = ()
    ) -> tuple[str, dict[str, Any]]:
        """SQL select list (and its parameters) turning a read row into a raw table row; the
        `shared` columns are left out (the table declares them)."""
        params: dict[str, Any] = {}
        metadata = "NULL::JSON"
        if header.metadata_keys:
            pairs = []
            for i, key in enumerate(header.metadata_keys):
                params[f"k{i}"] = key
                pairs.append(f"$k{i}, _m{i}")
            metadata = f"json_object({', '.join(pairs)})"
        values = [
            (n, "NULL::VARCHAR" if n in NEVER_STORED_COLUMNS else _ident(n))
            for n in header.spec_names
        ]
        values += [("metadata", metadata), ("_line", line)]
        lineage = {
            "_source": self.settings.source,
            "_file": self._display(plan.file),
            "_batch_id": self.batch_id,
            "_loaded_at": self.loaded_at,
            "_oneroster_version": self.version,
        }
        for name, value in lineage.items():
            if name not in shared:
                params[name] = value
                values.append((name, f"${name}"))
        select = ",\n".join(f"{sql} AS {_ident(n)}" for n, sql in values if n not in shared)
        return select, params

    def _shared_values(self, plan: _FilePlan, header: _Header) -> dict[str, str]:
        """SQL constants for the raw columns every row of a bulk file's snapshot shares: where
        the load came from, and the columns the file leaves empty.

        The snapshot declares each as a generated column, so every row still carries it but it
        is stored once, not written on each of millions of rows (at a million learners that
        writing cost a fifth of the read itself). A delta load stores them again before writing
        rows of its own (`_store_shared_columns`). DDL takes no parameters: these are values
        Pathways made itself (a digest, the spec's file name and version, the configured source
        name, tonight's time), quoted."""
        shared = {
            name: "NULL::VARCHAR"
            for name in union_columns(plan.file)
            if name not in header.names or name in NEVER_STORED_COLUMNS
        }
        if not header.metadata_keys:
            shared["metadata"] = "NULL::JSON"
        # As DuckDB would store the bound value: a naive time is read in the session's zone.
        loaded_at = _run(
            self.con, "SELECT CAST($at AS TIMESTAMPTZ)::VARCHAR", {"at": self.loaded_at}
        )[0][0]
        shared |= {
            "_source": _literal(self.settings.source),
            "_file": _literal(self._display(plan.file)),
            "_batch_id": _literal(self.batch_id),
            "_loaded_at": f"TIMESTAMPTZ {_literal(loaded_at)}",
            "_oneroster_version": _literal(self.version),
        }
        return shared

    def _record_structural_rejects(self, plan: _FilePlan, header: _Header) -> None:
        errors, scans = _csv_rejects_tables(plan.file)
        if _scalar(self.con, f"SELECT count(*) FROM {errors}"):
            self._insert_structural_rejects(plan, header, errors)
        _run(self.con, f"DROP TABLE IF EXISTS {errors}")
        _run(self.con, f"DROP TABLE IF EXISTS {scans}")

    def _insert_structural_rejects(self, plan: _FilePlan, header: _Header, errors: str) -> None:
        # The first field is the sourcedId when the header starts with it (it nearly always
        # does); shown so a person can find the record in the SIS.
        first_field = (
            "nullif(regexp_extract(ltrim(csv_line, chr(13) || chr(10)), '^([^,\"]*)', 1), '')"
            if header.names[0] == "sourcedId"
            else "NULL"
        )
        reason = "CASE error_type::VARCHAR\n"
        for error_type, text in _STRUCTURAL_REASONS.items():
            sql_text = (
                _literal(text)
                .replace("{found}", "' || regexp_extract(error_message, 'Found: (\\d+)', 1) || '")
                .replace(
                    "{expected}",
                    "' || regexp_extract(error_message, 'Expected Number of Columns: (\\d+)', 1)"
                    " || '",
                )
            )
            reason += f"WHEN {_literal(error_type)} THEN {sql_text}\n"
        reason += (
            "ELSE 'the row could not be read as CSV; check its quotes and commas against the "
            "header' END"
        )
        _run(
            self.con,
            f"""
            INSERT INTO {_REJECTS} BY NAME
            SELECT $file AS file, line, {first_field} AS sourced_id, NULL AS column_name,
                   {first_field} AS value, {reason} AS reason, 'structure' AS rule
            FROM (
                SELECT line, error_type, csv_line, error_message
                FROM {errors}
                QUALIFY row_number() OVER (PARTITION BY line ORDER BY column_idx) = 1
            )
            """,
            {"file": plan.file},
        )

    def _check_rows(self, plan: _FilePlan, header: _Header) -> None:
        """Required values, enumerations and formats, in one pass over the file's rows."""
        checks = _row_checks(plan.file, plan.mode, self.version, header)
        if not checks:
            return
        failing = " OR ".join(f"({c.failing})" for c in checks)
        items = ",\n".join(
            f"CASE WHEN {c.failing} THEN {{'column_name': {_literal(c.column)}, "
            f"'value': {c.value}, 'reason': {c.reason}, 'rule': {_literal(c.rule)}}} END"
            for c in checks
        )
        _run(
            self.con,
            f"""
            INSERT INTO {_REJECTS} BY NAME
            SELECT $file AS file, _line AS line, "sourcedId" AS sourced_id,
                   failure.column_name, failure.value, failure.reason, failure.rule
            FROM (
                SELECT _line, "sourcedId", unnest([{items}]) AS failure
                FROM {self.incoming}
                WHERE {failing}
            )
            WHERE failure IS NOT NULL
            """,
            {"file": plan.file},
        )

    def _check_duplicates(self, plan: _FilePlan) -> None:
        """A sourcedId seen twice: the first row stands, the later ones are rejected."""
        # One cheap pass says whether there is any duplicate at all (nearly always none): as
        # many distinct 64-bit hashes as ids proves every id distinct, and is a third cheaper
        # than comparing the ids themselves. Equal hashes (a duplicate, or rarely a collision)
        # lead to the exact search below.
        if not _scalar(
            self.con,
            f'SELECT count("sourcedId") - count(DISTINCT hash("sourcedId")) FROM {self.incoming}',
        ):
            return
        _run(
            self.con,
            f"""
            INSERT INTO {_REJECTS} BY NAME
            SELECT $file AS file, r._line AS line, r."sourcedId" AS sourced_id,
                   'sourcedId' AS column_name, r."sourcedId" AS value,
                   'duplicate sourcedId: first seen on line ' || d.first_line
                       || '; this row was not loaded' AS reason,
                   'duplicate' AS rule
            FROM {self.incoming} AS r
            JOIN (
                SELECT "sourcedId", min(_line) AS first_line
                FROM {self.incoming}
                WHERE "sourcedId" IS NOT NULL
                GROUP BY "sourcedId"
                HAVING count(*) > 1
            ) AS d ON d."sourcedId" = r."sourcedId"
            WHERE r._line > d.first_line
            """,
            {"file": plan.file},
        )

    def _check_reference(self, plan: _FilePlan, header: _Header, reference: Reference) -> int:
        """Reject rows whose reference names no live row of the target; returns how many."""
        target = self._target_rows(plan, header, reference)
        if target is None:
            return 0
        column = _ident(reference.column)
        # First only which references resolve to nothing live: an anti-join of the column
        # alone (by rowid) against the target's live ids, nearly always empty. The line, id
        # and reason of those few rows are looked up after.
        # Tombstones delete; they need not point at anything live.
        source_rows = f"""
            SELECT rowid AS row_id, {column} AS refs
            FROM {self.incoming}
            WHERE {column} IS NOT NULL AND NOT ({_tombstone(header)})
        """
        if reference.is_list:
            items = f"""
                SELECT row_id, trim(ref) AS ref
                FROM (SELECT row_id, unnest(string_split(refs, ',')) AS ref FROM ({source_rows}))
            """
        else:
            items = f"SELECT row_id, refs AS ref FROM ({source_rows})"
        missing = _scalar(
            self.con,
            f"""
            CREATE OR REPLACE TEMP TABLE oneroster_missing AS
            SELECT i.row_id, i.ref
            FROM ({items}) AS i
            ANTI JOIN (
                SELECT "sourcedId" FROM ({target})
                WHERE coalesce(status, '') <> '{TOMBSTONE}'
            ) AS t ON t."sourcedId" = i.ref
            WHERE i.ref <> ''
            """,
        )
        if missing:
            self._insert_reference_rejects(plan, reference, target)
        _run(self.con, "DROP TABLE temp.oneroster_missing")
        return missing

    def _insert_reference_rejects(self, plan: _FilePlan, reference: Reference, target: str) -> None:
        noun = _ROW_NOUNS.get(reference.target, "record")
        target_file = reference.target
        shown = self._display(target_file)
        said = f"{_literal(reference.column + ' ')} || '''' || m.ref || ''''"
        rejected_there = _literal(
            f" was rejected in {shown}, so this row was not loaded either; "
            f"fix that {noun} first (see its rejected rows)"
        )
        tombstoned = _literal(
            f" is marked tobedeleted in {shown}; restore the {noun} or fix the reference"
        )
        unknown = _literal(
            f" is not in {shown} (or the warehouse); load the {noun} or fix the reference"
        )
        _run(
            self.con,
            f"""
            INSERT INTO {_REJECTS} BY NAME
            SELECT $file AS file, m._line AS line, m.sid AS sourced_id,
                   {_literal(reference.column)} AS column_name, m.ref AS value,
                   CASE
                       WHEN EXISTS (
                           SELECT 1 FROM {_REJECTS} AS x
                           WHERE x.file = {_literal(target_file)} AND x.sourced_id = m.ref
                       )
                       THEN {said} || {rejected_there}
                       WHEN EXISTS (SELECT 1 FROM ({target}) AS t WHERE t."sourcedId" = m.ref)
                       THEN {said} || {tombstoned}
                       ELSE {said} || {unknown}
                   END AS reason,
                   'reference' AS rule
            FROM (
                SELECT r._line, r."sourcedId" AS sid, m.ref
                FROM temp.oneroster_missing AS m
                JOIN {self.incoming} AS r ON r.rowid = m.row_id
            ) AS m
            """,
            {"file": plan.file},
        )

    def _target_rows(self, plan: _FilePlan, header: _Header, reference: Reference) -> str | None:
        """SQL for the target's rows as they will be after this load; None to skip the check."""
        target_table = raw_table(reference.target)
        if reference.target == plan.file:
            target = f'SELECT "sourcedId", {_status(header)} AS status FROM {self.incoming}'
            if plan.mode == "delta":
                # Tonight's rows of the file, plus the warehouse rows they do not replace.
                target += f"""
                    UNION ALL
                    SELECT w."sourcedId", w.status FROM {target_table} AS w
                    WHERE NOT EXISTS (
                        SELECT 1 FROM {self.incoming} AS n WHERE n."sourcedId" = w."sourcedId"
                    )
                """
        else:
            # Files load parents first, so the parent's raw table is already tonight's.
            target = f'SELECT "sourcedId", status FROM {target_table}'
        if reference.only_if_target_supplied and not _scalar(
            self.con, f"SELECT count(*) FROM (SELECT 1 FROM ({target}) LIMIT 1)"
        ):
            return None
        return target

    def _drop_rejected(self, file: str) -> int:
        """Take tonight's rejected rows of the file out of its staged rows; returns how many."""
        return _scalar(
            self.con,
            f"DELETE FROM {self.incoming} WHERE _line IN "
            f"(SELECT line FROM {_REJECTS} WHERE file = $file)",
            {"file": file},
        )

    def _apply(self, plan: _FilePlan, header: _Header) -> int:
        """Bulk replaces the file's snapshot; delta upserts by sourcedId. Returns how many delta
        rows were older than the warehouse's copy (and so not applied)."""
        table = raw_table(plan.file)
        if plan.mode == "bulk":
            # The checked rows are the next snapshot: swap it in (undone, like the rest of the
            # load, by a ROLLBACK).
            _run(self.con, f"DROP TABLE {table}")
            _run(self.con, f"ALTER TABLE {self.incoming} RENAME TO {table.removeprefix('raw.')}")
            return 0
        self._store_shared_columns(plan.file)
        # A replayed older delta must not overwrite a newer record.
        newer_in_raw = f"""
            EXISTS (
                SELECT 1 FROM {table} AS w
                WHERE w."sourcedId" = n."sourcedId"
                  AND try_cast(w."dateLastModified" AS TIMESTAMPTZ)
                      > try_cast(n."dateLastModified" AS TIMESTAMPTZ)
            )
        """
        stale = _scalar(self.con, f"SELECT count(*) FROM {_INCOMING} AS n WHERE {newer_in_raw}")
        if stale:
            _run(self.con, f"DELETE FROM {_INCOMING} AS n WHERE {newer_in_raw}")
        self._note_tombstones(plan, header)
        _run(
            self.con,
            f'DELETE FROM {table} WHERE "sourcedId" IN (SELECT "sourcedId" FROM {_INCOMING})',
        )
        select, params = self._raw_row(plan, header, "_line")
        _run(self.con, f"INSERT INTO {table} BY NAME SELECT {select} FROM {_INCOMING}", params)
        return stale

    def _store_shared_columns(self, file: str) -> None:
        """Give a raw table that a bulk load left with shared (generated) columns stored ones
        again, in the same order and with the same values, so a delta can write its rows'."""
        table = raw_table(file)
        schema, name = table.split(".")
        if not _scalar(
            self.con,
            """
            SELECT count(*) FROM information_schema.columns
            WHERE table_catalog = current_database() AND table_schema = $schema
              AND table_name = $name AND is_generated = 'ALWAYS'
            """,
            {"schema": schema, "name": name},
        ):
            return
        stored = f"{table}__stored"
        columns = ", ".join(f"{_ident(n)} {kind}" for n, kind in _raw_columns(file))
        _run(self.con, f"CREATE OR REPLACE TABLE {stored} ({columns})")
        _run(self.con, f"INSERT INTO {stored} BY NAME SELECT * FROM {table}")
        _run(self.con, f"DROP TABLE {table}")
        _run(self.con, f"ALTER TABLE {stored} RENAME TO {name}")

    def _rejects_summary(self, file: str, rejected: int, read: int) -> str:
        if not rejected:
            return ""
        kinds = _run(
            self.con,
            f"""
            SELECT rule, coalesce(column_name, ''), count(*) AS n FROM {_REJECTS}
            WHERE file = $file GROUP BY ALL ORDER BY n DESC, rule, 2 LIMIT 3
            """,
            {"file": file},
        )
        most = ", ".join(f"{n:,} {rule}" + (f" ({col})" if col else "") for rule, col, n in kinds)
        return (
            f"{rejected:,} of {read:,} row(s) rejected (most: {most}); see audit.rejected_rows "
            "for each line, column and reason, fix them in the SIS and export again."
        )

    # -- safeguards ---------------------------------------------------------------------------

    def _snapshot_learners_before(self, plans: list[_FilePlan]) -> bool:
        """Keep tonight's starting set of active learners, when a bulk file could shrink it."""
        guarded = any(
            p.loadable and p.mode == "bulk"
            for p in plans
            if p.file in ("users.csv", "roles.csv", "enrollments.csv")
        )
        if not guarded:
            return False
        _run(
            self.con,
            f"CREATE OR REPLACE TEMP TABLE {_LEARNERS_BEFORE.removeprefix('temp.')} AS "
            f"{_ACTIVE_LEARNERS}",
        )
        return bool(_scalar(self.con, f"SELECT count(*) FROM {_LEARNERS_BEFORE}"))

    def _hold_reason(
        self, plans: list[_FilePlan], loads: dict[str, FileLoad], guards_learners: bool
    ) -> str:
        users = loads.get("users.csv")
        users_bulk = users is not None and users.mode == "bulk"
        shown = self._display("users.csv")
        if users_bulk and (
            "users.csv" in self.empty_files or (users.status == "loaded" and users.rows_read == 0)
        ):
            return (
                f"{shown} is empty; an empty export would delete every learner. Check the SIS "
                "export job; nothing was applied."
            )
        if users_bulk and users.status == "loaded" and users.rows_loaded == 0:
            return (
                f"{shown} has no valid rows (all {users.rows_rejected:,} were rejected; see "
                "audit.rejected_rows); loading it would delete every learner. Fix the export; "
                "nothing was applied."
            )
        read = [loads[p.file] for p in plans if p.loadable]
        if (
            any(p.mode == "bulk" for p in plans if p.loadable)
            and sum(f.rows_read for f in read) == 0
        ):
            return (
                "the export has no data rows in any file; an empty export would delete every "
                "record. Check the SIS export job; nothing was applied."
            )
        if guards_learners:
            before, removed = _run(
                self.con,
                f"""
                SELECT count(*), count(*) FILTER (WHERE a."sourcedId" IS NULL)
                FROM {_LEARNERS_BEFORE} AS b
                LEFT JOIN ({_ACTIVE_LEARNERS}) AS a ON a."sourcedId" = b."sourcedId"
                """,
            )[0]
            learners = DeletionCheck("learners", before, removed, self.settings.max_deletion_share)
            self.deletions.insert(0, learners)
        over = [c for c in self.deletions if c.over]
        if not over:
            return ""
        if self.settings.approve_deletions_for_batch == self.batch_id:
            self.approved = True
            return ""
        return _deletion_hold_message(over, self.batch_id)

    def _count_removals(self, plan: _FilePlan) -> None:
        """Before a bulk file's checked rows replace its snapshot: how many of the snapshot's
        active records they leave out (absent or rejected) or mark tobedeleted, and which.

        One anti-join per file, and none when there is no snapshot yet (the first night, the
        million-learner load, has nothing to remove). The removed ids stay in DuckDB, in a temp
        table of the load's transaction, until `_record_deletions` files them."""
        table = raw_table(plan.file)
        if not _scalar(self.con, f"SELECT count(*) FROM (SELECT 1 FROM {table} LIMIT 1)"):
            return
        removed = _removed_table(plan.file)
        _run(
            self.con,
            f"""
            CREATE OR REPLACE TEMP TABLE {removed.removeprefix("temp.")} AS
            SELECT count(*) AS active_before,
                   coalesce(
                       list(o."sourcedId") FILTER (WHERE n."sourcedId" IS NULL), []::VARCHAR[]
                   ) AS absent,
                   coalesce(
                       list(o."sourcedId") FILTER (WHERE coalesce(n.status, '') = '{TOMBSTONE}'),
                       []::VARCHAR[]
                   ) AS tombstoned
            FROM {table} AS o
            LEFT JOIN {self.incoming} AS n ON n."sourcedId" = o."sourcedId"
            WHERE coalesce(o.status, '') <> '{TOMBSTONE}'
            """,
        )
        self.removed[plan.file] = removed
        before, gone = _run(
            self.con, f"SELECT active_before, len(absent) + len(tombstoned) FROM {removed}"
        )[0]
        if before:
            stem = plan.file.removesuffix(".csv")
            limit = self.settings.max_deletion_shares.get(stem, self.settings.max_deletion_share)
            self.deletions.append(DeletionCheck(stem, before, gone, limit))

    def _note_tombstones(self, plan: _FilePlan, header: _Header) -> None:
        """Before a delta file is applied: which of its rows marked tobedeleted remove an active
        record of the warehouse, filed with the bulk files' removals by `_record_deletions`
        (so the sync report lists them). A delta never holds the export: only a bulk file can
        leave records out by the thousand."""
        if "status" not in header.names:
            return
        removed = _removed_table(plan.file)
        _run(
            self.con,
            f"""
            CREATE OR REPLACE TEMP TABLE {removed.removeprefix("temp.")} AS
            SELECT []::VARCHAR[] AS absent,
                   coalesce(list(n."sourcedId" ORDER BY n."sourcedId"), []::VARCHAR[])
                       AS tombstoned
            FROM {_INCOMING} AS n
            JOIN {raw_table(plan.file)} AS o ON o."sourcedId" = n."sourcedId"
            WHERE n.status = '{TOMBSTONE}' AND coalesce(o.status, '') <> '{TOMBSTONE}'
            """,
        )
        self.removed[plan.file] = removed

    def _hold(
        self, plans: list[_FilePlan], loads: dict[str, FileLoad], reason: str
    ) -> OneRosterLoad:
        """Undo everything but keep the rejected rows and the hold itself on record (called with
        the load's transaction still open)."""
        held = [
            replace(loads[p.file], status="held", rows_loaded=0, message=reason)
            if loads[p.file].status == "loaded" or p.file in self.empty_files
            else loads[p.file]
            for p in plans
        ]
        with tempfile.TemporaryDirectory(prefix="pathways-held-") as tmp:
            # COPY TO is not undone by ROLLBACK: the rejected rows survive it this way.
            kept = Path(tmp) / "rejects.parquet"
            try:
                _run(self.con, f"COPY {_REJECTS} TO {_literal(str(kept))} (FORMAT parquet)")
            finally:
                _run(self.con, "ROLLBACK")
            _run(self.con, "BEGIN TRANSACTION")
            try:
                _run(
                    self.con,
                    f"CREATE OR REPLACE TEMP TABLE {_REJECTS.removeprefix('temp.')} AS "
                    "SELECT * FROM read_parquet($path)",
                    {"path": str(kept)},
                )
                self._record(plans, {f.file: f for f in held})
                _run(self.con, f"DROP TABLE IF EXISTS {_REJECTS}")
                _run(self.con, "COMMIT")
            except BaseException:
                _run(self.con, "ROLLBACK")
                raise
        return OneRosterLoad(self.version, self.batch_id, True, reason, held, self.deletions)

    # -- audit ------------------------------------------------------------------------------

    def _rejected_file(self) -> str:
        """SQL naming a rejected row's file (of the rejects table) in audit.rejected_rows."""
        return "file"

    def _record(self, plans: list[_FilePlan], loads: dict[str, FileLoad]) -> None:
        """Write tonight's rejected rows (replacing any of the same batch) and the load log."""
        batch = {"batch_id": self.batch_id, "source": self.settings.source}
        # Delete then insert, so a re-run of the same export replaces rather than duplicates.
        _run(
            self.con,
            "DELETE FROM audit.rejected_rows WHERE batch_id = $batch_id AND source = $source",
            batch,
        )
        _run(
            self.con,
            f"""
            INSERT INTO audit.rejected_rows BY NAME
            SELECT $run_id AS run_id, $batch_id AS batch_id, $source AS source,
                   {self._rejected_file()} AS file, line, column_name, value, reason,
                   $loaded_at AS rejected_at, sourced_id
            FROM {_REJECTS}
            ORDER BY file, line, column_name
            """,
            {**batch, "run_id": self.run_id, "loaded_at": self.loaded_at},
        )
        for plan in plans:
            load = loads[plan.file]
            _run(
                self.con,
                """
                INSERT INTO audit.sis_loads VALUES (
                    $run_id, $batch_id, $source, $file, $version, $mode, $status,
                    $rows_read, $rows_loaded, $rows_rejected, $message, $loaded_at
                )
                """,
                {
                    **batch,
                    "run_id": self.run_id,
                    "file": load.file,
                    "version": self.version,
                    "mode": load.mode,
                    "status": load.status,
                    "rows_read": load.rows_read,
                    "rows_loaded": load.rows_loaded,
                    "rows_rejected": load.rows_rejected,
                    "message": load.message,
                    "loaded_at": self.loaded_at,
                },
            )
        self._record_deletions(held=any(f.status == "held" for f in loads.values()))

    def _record_deletions(self, held: bool) -> None:
        """File tonight's deletion checks (with who approved the batch, when one was) and, when
        the load is applied, every record it removed."""
        for check in self.deletions:
            outcome = "within" if not check.over else ("approved" if self.approved else "held")
            _run(
                self.con,
                """
                INSERT INTO audit.sis_deletion_checks VALUES (
                    $run_id, $batch_id, $source, $entity, $active_before, $removed, $share,
                    $limit, $outcome, $approved_by, $checked_at
                )
                """,
                {
                    "run_id": self.run_id,
                    "batch_id": self.batch_id,
                    "source": self.settings.source,
                    "entity": check.entity,
                    "active_before": check.active_before,
                    "removed": check.removed,
                    "share": check.share,
                    "limit": check.limit,
                    "outcome": outcome,
                    "approved_by": self.settings.approved_by if outcome == "approved" else None,
                    "checked_at": self.loaded_at,
                },
            )
        for file, removed in self.removed.items():
            if not held:
                _run(
                    self.con,
                    f"""
                    INSERT INTO audit.sis_deleted_records
                    SELECT $run_id, $batch_id, $source, $file, id, how, $deleted_at
                    FROM (
                        SELECT unnest(absent) AS id, 'absent' AS how FROM {removed}
                        UNION ALL
                        SELECT unnest(tombstoned), '{TOMBSTONE}' FROM {removed}
                    )
                    ORDER BY id
                    """,
                    {
                        "run_id": self.run_id,
                        "batch_id": self.batch_id,
                        "source": self.settings.source,
                        "file": self._display(file),
                        "deleted_at": self.loaded_at,
                    },
                )
            _run(self.con, f"DROP TABLE IF EXISTS {removed}")


def side_by_side_readers(sizes: Sequence[int], threads: int) -> int:
    """How many files of these sizes (bytes) to read side by side, each on one thread: one per
    thread when, each given largest first to the least busy thread, no thread gets more than a
    tenth above an equal share of the bytes; else 1, every file read on all threads in turn (a
    file much bigger than the rest would keep one thread busy while the others idle)."""
    if threads < 2 or len(sizes) < 2:
        return 1
    shares = [0] * threads
    for size in sorted(sizes, reverse=True):
        shares[shares.index(min(shares))] += size
    return threads if max(shares) <= 1.1 * sum(sizes) / threads else 1


def _deletion_hold_message(over: list[DeletionCheck], batch_id: str) -> str:
    """Why a deletion spike was held, and the exact ways to approve it once."""
    parts = "; ".join(
        f"{c.share:.0%} of active {c.entity} ({c.removed:,} of {c.active_before:,}), above the "
        f"{c.limit:.0%} limit"
        for c in over
    )
    return (
        f"this bulk export would remove {parts}. Nothing was applied. If this is expected "
        f"(e.g. end of year), approve this batch once: `pathways run --approve-deletions "
        f"{batch_id}`, or in the Dagster UI run config approve_deletions_for_batch: "
        f'"{batch_id}" on the SIS asset; or raise sources.sis.max_deletion_shares for the '
        "entity."
    )


# A learner is a live user who is a student: by a 1.2 role, by the 1.1 users.role, or by a
# student enrollment (for exports whose roles say too little).
_ACTIVE_LEARNERS = f"""
    SELECT u."sourcedId"
    FROM raw.oneroster_users AS u
    WHERE coalesce(u.status, '') <> '{TOMBSTONE}'
      AND (
          u.role = 'student'
          OR u."sourcedId" IN (
              SELECT "userSourcedId" FROM raw.oneroster_roles
              WHERE role = 'student' AND coalesce(status, '') <> '{TOMBSTONE}'
          )
          OR u."sourcedId" IN (
              SELECT "userSourcedId" FROM raw.oneroster_enrollments
              WHERE role = 'student' AND coalesce(status, '') <> '{TOMBSTONE}'
          )
      )
"""


def _load_order(files: list[str]) -> list[str]:
    """Parents before children, so a child's references see its parent as loaded tonight."""
    graph: dict[str, set[str]] = {f: set() for f in files}
    for reference in REFERENCES:
        if reference.file in graph and reference.target in graph.keys() - {reference.file}:
            graph[reference.file].add(reference.target)
    return list(TopologicalSorter(graph).static_order())


def _summary(files: list[FileLoad]) -> str:
    """What a person should know about a load that was applied: failed files, files the
    manifest kept out, rejected rows."""
    parts = [f.message for f in files if f.status in ("failed", "absent") and f.message]
    rejected = [f for f in files if f.rows_rejected]
    if rejected:
        total = sum(f.rows_rejected for f in rejected)
        names = ", ".join(f.file for f in rejected)
        parts.append(f"{total:,} row(s) rejected in {names}; see audit.rejected_rows.")
    return " ".join(parts)


# --- row checks as SQL ------------------------------------------------------------------------


@dataclass(frozen=True)
class _RowCheck:
    """One rule for one column: SQL true when a row breaks it, and the sentence saying so."""

    column: str
    rule: str
    failing: str
    reason: str  # SQL expression
    value: str  # SQL expression: the value as a rejected row may show it


_DATE = r"^\d{4}-\d{2}-\d{2}$"
_DATETIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$"
_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_YEAR = r"^\d{4}$"


def _row_checks(file: str, mode: str, version: str, header: _Header) -> list[_RowCheck]:
    columns = [c for c in spec_columns(version)[file] if c.name in header.names]
    tombstone = _tombstone(header)
    noun = _ROW_NOUNS.get(file, "row")
    checks: list[_RowCheck] = []
    for column in columns:
        ident = _ident(column.name)
        shown = _shown(column.name, ident)
        quoted = f"'''' || {shown} || ''''"
        # `< '!'` lets DuckDB skip the trim (and, by column statistics, often the whole scan)
        # for values that cannot be all spaces.
        blank = f"({ident} IS NULL OR ({ident} < '!' AND trim({ident}) = ''))"
        required = column.required == "yes" or (column.required == "delta-only" and mode == "delta")
        if required:
            failing = blank
            # A tombstone only has to say which record it deletes, and when.
            if column.name not in ("sourcedId", "status", "dateLastModified"):
                failing = f"{blank} AND NOT ({tombstone})"
            if column.required == "delta-only":
                need = (
                    "a status (active or tobedeleted)"
                    if column.name == "status"
                    else "a dateLastModified (when the record last changed)"
                )
                sentence = f"required value is blank; every row of a delta file needs {need}"
            else:
                sentence = (
                    f"required value is blank; every {noun} needs {_article(column.name)} "
                    f"{column.name}"
                )
            checks.append(_RowCheck(column.name, "required", failing, _literal(sentence), "NULL"))
        check = _format_check(column, version, ident, quoted)
        if check is not None:
            bad, reason, rule = check
            checks.append(_RowCheck(column.name, rule, f"NOT {blank} AND {bad}", reason, shown))
    return checks


def _format_check(
    column: SpecColumn, version: str, ident: str, quoted: str
) -> tuple[str, str, str] | None:
    """(SQL failing, SQL reason, rule) for a column's format or enumeration, if it has one."""
    if column.enumeration:
        values = allowed_values(column.enumeration, version)
        extensible = is_extensible(column.enumeration, version)
        allowed = ", ".join(_literal(v) for v in values)
        listed = ", ".join(values)
        what = "boolean" if column.enumeration == "boolean" else column.enumeration
        if column.enumeration == "status":
            # Some 1.0/1.1-era systems still send the deprecated 'inactive'.
            reason = (
                f"CASE WHEN {ident} = 'inactive' THEN "
                "'''inactive'' is not a OneRoster status value; use tobedeleted to delete a "
                "record (or active)' ELSE "
                f"{quoted} || ' is not a OneRoster status value (active or tobedeleted)' END"
            )
            return f"{ident} NOT IN ({allowed})", reason, "enumeration"
        if column.enumeration == "boolean":
            tail = f" is not a OneRoster {version} boolean value (true or false, in lowercase)"
        elif extensible:
            tail = f" is not a OneRoster {version} {what} value ({listed}, or ext:…)"
        else:
            tail = f" is not a OneRoster {version} {what} value ({listed})"
        ext_note = (
            "; ext: values are a OneRoster 1.2 extension, and this export is 1.1"
            if version == "1.1"
            else f"; {what} is not extensible with ext: values"
        )
        if extensible:

            def bad(v: str) -> str:
                return f"{v} NOT IN ({allowed}) AND NOT regexp_matches({v}, '^ext:.+')"
        else:

            def bad(v: str) -> str:
                return f"{v} NOT IN ({allowed})"

        if column.format == "Enumeration List":
            failing = f"len([x FOR x IN string_split({ident}, ',') IF {bad('trim(x)')}]) > 0"
        else:
            failing = bad(ident)
        reason = f"{quoted} || {_literal(tail)}"
        if not extensible:
            reason = (
                f"{reason} || CASE WHEN {ident} LIKE 'ext:%' THEN {_literal(ext_note)} ELSE '' END"
            )
        return failing, reason, "enumeration"
    patterns = {
        "Date": (_DATE, "DATE", " is not a date (YYYY-MM-DD)", "date"),
        "DateTime": (
            _DATETIME,
            "TIMESTAMPTZ",
            " is not a date and time (ISO 8601, e.g. 2024-08-15T13:45:00Z)",
            "datetime",
        ),
        "Float": (_NUMBER, "DOUBLE", " is not a number (e.g. 87.5)", "number"),
        "Integer": (_NUMBER, "DOUBLE", " is not a number (e.g. 25)", "number"),
        "Year": (_YEAR, "INTEGER", " is not a year (YYYY)", "year"),
    }
    if column.format not in patterns:
        return None
    pattern, cast_to, tail, rule = patterns[column.format]
    failing = (
        f"(NOT regexp_matches({ident}, {_literal(pattern)}) "
        f"OR try_cast({ident} AS {cast_to}) IS NULL)"
    )
    return failing, f"{quoted} || {_literal(tail)}", rule


def _shown(column: str, ident: str) -> str:
    """SQL for a value as a rejected row may show it: personal data masked, ids as they are."""
    if column in _FULLY_HIDDEN:
        return "'***'"
    if column in personal_columns():
        return f"left({ident}, 1) || '***'"
    return ident


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeio" else "a"


# --- DuckDB plumbing --------------------------------------------------------------------------


def _ident(name: str) -> str:
    """A quoted SQL identifier (names come from the spec's own column lists)."""
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    """A SQL string literal for text the module itself wrote (reasons, spec values)."""
    return "'" + text.replace("'", "''") + "'"


def _run(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> list[tuple]:
    # DuckDB 2.0 results stream and hold the connection until fully fetched.
    return con.execute(sql, params or {}).fetchall()


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None) -> int:
    row = con.execute(sql, params or {}).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _status(header: _Header) -> str:
    """SQL for a staged row's status (a bulk file may leave the column out)."""
    return '"status"' if "status" in header.names else "NULL::VARCHAR"


def _tombstone(header: _Header) -> str:
    """SQL true for a staged row that deletes its record (status tobedeleted)."""
    return f"coalesce({_status(header)}, '') = '{TOMBSTONE}'"
