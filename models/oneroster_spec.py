"""The OneRoster 1.1 / 1.2 CSV binding as data: files, columns, formats, enumerations.

Read from the column lists shipped in `models/oneroster/` (copied from the project's standards
folder; their hashes are checked in a test). Nothing here reads a district's files.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SPEC_DIR = Path(__file__).parent / "oneroster"
VERSIONS = ("1.1", "1.2")
_COLUMN_FILES = {"1.1": "v1p1_columns.csv", "1.2": "v1p2_columns.csv"}


@dataclass(frozen=True)
class SpecColumn:
    """One column of a OneRoster CSV file, as the binding defines it."""

    file: str  # e.g. "users.csv"
    position: int
    name: str
    required: str  # "yes", "no" or "delta-only"
    format: str  # e.g. "GUID", "Date", "Enumeration", "List of GUID References"
    enumeration: str | None
    personal: bool  # the binding marks it as personal data or a credential

    @property
    def entity(self) -> str:
        """The file's entity name, e.g. `users` or `lineItemLearningObjectiveIds`."""
        return self.file.removesuffix(".csv")


@dataclass(frozen=True)
class EnumValue:
    """One allowed value of a OneRoster enumeration."""

    enumeration: str
    value: str
    versions: tuple[str, ...]
    extensible: bool


@cache
def spec_columns(version: str) -> dict[str, tuple[SpecColumn, ...]]:
    """Columns per file (`users.csv` → columns in header order) for a OneRoster version."""
    if version not in _COLUMN_FILES:
        raise ValueError(f"unsupported OneRoster version {version!r}; expected one of {VERSIONS}")
    files: dict[str, list[SpecColumn]] = {}
    with (SPEC_DIR / _COLUMN_FILES[version]).open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            files.setdefault(row["file"], []).append(
                SpecColumn(
                    file=row["file"],
                    position=int(row["position"]),
                    name=row["column"],
                    required=row["required"],
                    format=row["format"],
                    enumeration=row["enumeration"] or None,
                    personal=row.get("pii", "") in ("Yes", "Credential")
                    or row["column"] in _PERSONAL_1P1,
                )
            )
    return {f: tuple(sorted(cols, key=lambda c: c.position)) for f, cols in files.items()}


# The 1.1 list carries no PII column; these are the same columns the 1.2 list marks personal.
_PERSONAL_1P1 = frozenset(
    {
        "birthDate",
        "sex",
        "username",
        "givenName",
        "familyName",
        "middleName",
        "email",
        "sms",
        "phone",
        "password",
        "grades",
        "cityOfBirth",
        "stateOfBirthAbbreviation",
        "countryOfBirthCode",
        "publicSchoolResidenceStatus",
    }
)


@cache
def union_columns(file: str) -> tuple[str, ...]:
    """Every column a file has in any supported version: 1.2 order first, then 1.1-only ones."""
    names: list[str] = []
    for version in ("1.2", "1.1"):
        for column in spec_columns(version).get(file, ()):
            if column.name not in names:
                names.append(column.name)
    return tuple(names)


@cache
def known_files() -> tuple[str, ...]:
    """Every data file name any supported version defines, e.g. `users.csv`."""
    return tuple(sorted({f for v in VERSIONS for f in spec_columns(v)}))


@cache
def enumerations() -> dict[str, tuple[EnumValue, ...]]:
    """Allowed values per enumeration name (`sex`, `enrollmentRole`, …)."""
    values: dict[str, list[EnumValue]] = {}
    with (SPEC_DIR / "enumerations.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            values.setdefault(row["enumeration"], []).append(
                EnumValue(
                    enumeration=row["enumeration"],
                    value=row["value"],
                    versions=tuple(row["versions"].split(";")),
                    extensible=row["extensible"].startswith("yes"),
                )
            )
    return {k: tuple(v) for k, v in values.items()}


def allowed_values(enumeration: str, version: str) -> tuple[str, ...]:
    """The values an enumeration allows in a version (without `ext:` extensions)."""
    return tuple(v.value for v in enumerations()[enumeration] if version in v.versions)


def is_extensible(enumeration: str, version: str) -> bool:
    """Whether `ext:`-prefixed values are allowed (OneRoster 1.2 extensible enumerations)."""
    return version == "1.2" and any(v.extensible for v in enumerations()[enumeration])


@cache
def personal_columns() -> frozenset[str]:
    """OneRoster column names that hold personal data; never shown in logs or previews."""
    return frozenset(
        c.name for v in VERSIONS for cols in spec_columns(v).values() for c in cols if c.personal
    )


def snake_case(name: str) -> str:
    """`lineItemLearningObjectiveIds` → `line_item_learning_objective_ids`."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
