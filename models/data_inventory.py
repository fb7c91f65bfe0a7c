"""The data inventory: what each field Pathways collects is, why it is collected, how sensitive
it is, how long it is kept and who sees it (`models/data_inventory.yaml`).

This module reads and validates the file; it does no other I/O. A field is identified by its
system, its raw table (`raw.oneroster_users`) and its column (`givenName`, or
`metadata.<key>` for a OneRoster extension field kept in the `metadata` JSON column). Whether a
declared field is *complete* (has a purpose, category, sensitivity and retention) is not a load
error: the nightly transparency check reports it, so the notice is held rather than the night.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from models.personal_data import LEARNER_ATTRIBUTE_COLUMNS, is_personal_column

INVENTORY_PATH = Path(__file__).with_name("data_inventory.yaml")

# The Student Data Privacy Consortium's schedule of data (National Data Privacy Agreement,
# Exhibit B): the only category names a field may carry.
SDPC_CATEGORIES = frozenset(
    {
        "Application Technology Meta Data",
        "Application Use Statistics",
        "Assessment",
        "Attendance",
        "Communications",
        "Conduct",
        "Demographics",
        "Enrollment",
        "Parent/Guardian Contact Information",
        "Parent/Guardian ID",
        "Parent/Guardian Name",
        "Schedule",
        "Special Indicator",
        "Student Contact Information",
        "Student Identifiers",
        "Student In App Performance",
        "Student Name",
        "Student Program Membership",
        "Student Survey Responses",
        "Student Work",
        "Transcript",
        "Transportation",
        "Other",
    }
)
SENSITIVITIES = ("directory", "personal", "sensitive")
# What a field must say before the public notice may describe it.
REQUIRED_ATTRIBUTES = ("purpose", "category", "sensitivity", "retention")
COMMON = "common"  # the system name of the lineage columns every raw table may carry

_TABLE_NAME = re.compile(r"^raw\.[a-z][a-z0-9_]*$")
_COLUMN_NAME = re.compile(r"^(metadata\.[^\s.][^\s]*|[A-Za-z_][A-Za-z0-9_]*)$")
_FIELD_KEYS = "label, purpose, category, sensitivity, retention, shared_with"


class InventoryError(ValueError):
    """The inventory file cannot be read as it stands; the message names the place and the fix."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldDeclaration(_Strict):
    """One field as written in the file; any attribute may be missing (the check says so)."""

    label: str | None = None
    purpose: str | None = None
    category: str | None = None
    sensitivity: Literal["directory", "personal", "sensitive"] | None = None
    retention: str | None = None
    shared_with: tuple[str, ...] | None = None


class TableDeclaration(_Strict):
    """A raw table of a system: its name in words and its columns."""

    title: str
    columns: dict[str, FieldDeclaration] = {}


class SystemDeclaration(_Strict):
    """A source system: what it is, its default retention and audience, and its raw tables."""

    title: str
    description: str
    retention: str | None = None
    shared_with: tuple[str, ...] = ()
    every_table: dict[str, FieldDeclaration] = {}
    tables: dict[str, TableDeclaration]


class _InventoryFile(_Strict):
    categories: dict[str, str]
    sensitivities: dict[Literal["directory", "personal", "sensitive"], str]
    common_columns: dict[str, FieldDeclaration] = {}
    systems: dict[str, SystemDeclaration]


@dataclass(frozen=True)
class InventoryField:
    """One declared field, with its system's defaults applied."""

    system: str
    raw_table: str | None  # None for a common (lineage) column: it belongs to every raw table
    column_name: str
    label: str
    purpose: str | None
    category: str | None
    sensitivity: str | None
    retention: str | None
    shared_with: tuple[str, ...]
    # Declared once for every table of its system (`every_table`) or of all systems (common).
    every_table: bool = False

    @property
    def missing(self) -> tuple[str, ...]:
        """The required attributes this declaration leaves out."""
        return tuple(a for a in REQUIRED_ATTRIBUTES if not (getattr(self, a) or "").strip())

    @property
    def complete(self) -> bool:
        """Declared with a purpose, category, sensitivity and retention."""
        return not self.missing


@dataclass(frozen=True)
class DataInventory:
    """The whole inventory: category and sensitivity meanings, systems, and every field."""

    path: Path
    categories: dict[str, str]
    sensitivities: dict[str, str]
    systems: dict[str, SystemDeclaration]
    fields: tuple[InventoryField, ...]  # every (table, column) declared, every_table expanded
    common: dict[str, InventoryField]  # lineage columns, by column name

    def system_of(self, raw_table: str) -> str | None:
        """The system that declares `raw_table`, if any."""
        for name, system in self.systems.items():
            if raw_table in system.tables:
                return name
        return None

    def table_title(self, raw_table: str) -> str:
        """A raw table's name in words."""
        system = self.system_of(raw_table)
        return self.systems[system].tables[raw_table].title if system else raw_table

    def declaration(self, raw_table: str, column_name: str) -> InventoryField | None:
        """How a column of a raw table is declared: for that table, else as a common column."""
        for field in self.fields:
            if field.raw_table == raw_table and field.column_name == column_name:
                return field
        return self.common.get(column_name)


def load_inventory(path: Path | str = INVENTORY_PATH) -> DataInventory:
    """Read and validate the inventory file; an `InventoryError` names each problem and its fix."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InventoryError(
            f"{path}: no such inventory file; point transparency.inventory_path at one, or "
            "leave it out to use the bundled models/data_inventory.yaml"
        ) from None
    except yaml.YAMLError as exc:
        raise InventoryError(
            f"{path}: not valid YAML ({exc}); quote a value that holds a comma or a colon"
        ) from None
    if not isinstance(data, dict):
        raise InventoryError(f"{path}: expected a mapping with categories, sensitivities, systems")
    try:
        parsed = _InventoryFile.model_validate(data)
    except ValidationError as exc:
        raise InventoryError(_explain(path, exc)) from None
    problems = _problems(parsed)
    if problems:
        raise InventoryError(
            f"{path}: {len(problems)} problem(s) in the data inventory:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return _flatten(path, parsed)


def column_label(column_name: str) -> str:
    """A column name in words: `preferredGivenName` → `preferred given name`."""
    name = column_name.removeprefix("metadata.").strip("_")
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ")
    return words.lower()


def _explain(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: {exc.error_count()} problem(s) in the data inventory:"]
    for error in exc.errors():
        where = " > ".join(str(part) for part in error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            what = (
                f"unknown key {error['loc'][-1]!r}; check its spelling (a field takes "
                f"{_FIELD_KEYS})"
            )
        elif kind == "literal_error":
            what = f"{error['input']!r} is not one of {', '.join(SENSITIVITIES)}; use one of them"
        elif kind == "missing":
            what = "a required key is missing; add it"
        else:
            what = f"{error['msg']}; fix the value"
        lines.append(f"  - {where}: {what}")
    return "\n".join(lines)


def _problems(parsed: _InventoryFile) -> list[str]:
    problems = []
    for name in parsed.categories:
        if name not in SDPC_CATEGORIES:
            problems.append(
                f"categories > {name}: not a category of the SDPC schedule of data; use one of "
                f"{', '.join(sorted(SDPC_CATEGORIES))}"
            )
    owners: dict[str, str] = {}
    places = [("common_columns", None, name, f) for name, f in parsed.common_columns.items()]
    for system_name, system in parsed.systems.items():
        for column, field in system.every_table.items():
            places.append((f"systems > {system_name} > every_table", None, column, field))
        for table, declared in system.tables.items():
            if not _TABLE_NAME.match(table):
                problems.append(
                    f"systems > {system_name} > tables > {table}: a table is named "
                    "raw.<table>, e.g. raw.oneroster_users; rename it"
                )
            if table in owners:
                problems.append(
                    f"systems > {system_name} > tables > {table}: already declared under "
                    f"{owners[table]}; declare each raw table under one system"
                )
            owners.setdefault(table, system_name)
            where = f"systems > {system_name} > tables > {table} > columns"
            places += [(where, table, c, f) for c, f in declared.columns.items()]
    for where, _table, column, field in places:
        at = f"{where} > {column}"
        if not _COLUMN_NAME.match(column):
            problems.append(
                f"{at}: not a column name; write the raw column as it is in the warehouse, or "
                "metadata.<key> for a OneRoster extension field"
            )
        if field.category is not None and field.category not in parsed.categories:
            problems.append(
                f"{at}: category {field.category!r} is not listed under categories; use one "
                f"of {', '.join(sorted(parsed.categories))} (or list another SDPC category)"
            )
        bare = column.removeprefix("metadata.")
        # models/personal_data.py decides what never reaches a log; the inventory agrees with it.
        if field.sensitivity == "directory" and is_personal_column(bare):
            problems.append(
                f"{at}: models/personal_data.py counts {column!r} as personal data; declare "
                "sensitivity personal or sensitive"
            )
        if field.sensitivity == "personal" and bare.lower() in LEARNER_ATTRIBUTE_COLUMNS - {
            "metadata"
        }:
            problems.append(
                f"{at}: models/personal_data.py counts {column!r} as a sensitive attribute of a "
                "learner; declare sensitivity sensitive"
            )
    return problems


def _field(
    system: str,
    raw_table: str | None,
    column: str,
    declared: FieldDeclaration,
    defaults: SystemDeclaration | None,
    every_table: bool = False,
) -> InventoryField:
    shared = declared.shared_with
    if shared is None:
        shared = defaults.shared_with if defaults else ()
    return InventoryField(
        system=system,
        raw_table=raw_table,
        column_name=column,
        label=declared.label or column_label(column),
        purpose=declared.purpose,
        category=declared.category,
        sensitivity=declared.sensitivity,
        retention=declared.retention or (defaults.retention if defaults else None),
        shared_with=tuple(shared),
        every_table=every_table,
    )


def _flatten(path: Path, parsed: _InventoryFile) -> DataInventory:
    fields = []
    for system_name, system in parsed.systems.items():
        for table, declared in system.tables.items():
            columns = {**system.every_table, **declared.columns}
            fields += [
                _field(
                    system_name,
                    table,
                    column,
                    field,
                    system,
                    every_table=column not in declared.columns,
                )
                for column, field in columns.items()
            ]
    return DataInventory(
        path=path,
        categories=dict(parsed.categories),
        sensitivities=dict(parsed.sensitivities),
        systems=dict(parsed.systems),
        fields=tuple(fields),
        common={
            column: _field(COMMON, None, column, field, None, every_table=True)
            for column, field in parsed.common_columns.items()
        },
    )
