"""The equity lens: which learner metrics are published, and by which groups of learners.

The lens is data (`equity_metrics.yaml`, shipped in the package); this module reads it into
frozen objects and refuses a file without the lens's shape, so a typo stops at load time rather
than in a dashboard. Nothing here reads a district's data: `pipelines/equity.py` aggregates
core.learner_metrics by these declarations and suppresses small groups with
`models.suppression`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

LENS_FILE = Path(__file__).parent / "equity_metrics.yaml"
# The mart's `dimension` of a row about all learners of its scope (the district or a school).
ALL = "all"
# The value of learners the SIS reports nothing for. Unlike a real group, it is published only in
# a district where some learner has it: an empty "unknown" would be a suppressed group of its
# own and force a large sibling (every economically disadvantaged learner) to be hidden with it,
# to protect nothing but the fact that the SIS reported every learner.
UNKNOWN = "unknown"

# Ids and columns are snake_case: they name warehouse columns and the mart's contract values.
_ID = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
# A group value: letters, digits, '-' and '_' (the OneRoster field names of race categories).
_VALUE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


class EquityLensError(ValueError):
    """The equity lens file does not have the shape the mart relies on."""


@dataclass(frozen=True)
class EquityMetric:
    """One learner metric: the share of learners who meet it, e.g. holding a micro-credential."""

    id: str  # the mart's `metric`
    label: str  # the mart's `metric_label`, for people
    column: str  # the boolean column of core.learner_metrics: true when the learner meets it


@dataclass(frozen=True)
class EquityDimension:
    """One way of grouping learners furthest from opportunity; every learner has one value."""

    id: str  # the mart's `dimension`
    label: str
    column: str  # the column of core.learner_metrics holding each learner's value
    values: tuple[str, ...]  # the mart's `group_value`s, in display order


@dataclass(frozen=True)
class EquityLens:
    """Every metric and every dimension of the equity mart, in the file's order."""

    metrics: tuple[EquityMetric, ...]
    dimensions: tuple[EquityDimension, ...]


@cache
def equity_lens(path: Path = LENS_FILE) -> EquityLens:
    """The equity lens declared in `path` (the bundled file by default), checked."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or set(data) != {"metrics", "dimensions"}:
        raise EquityLensError(f"{path}: expected exactly the keys 'metrics' and 'dimensions'")
    metrics = tuple(_metric(entry, path) for entry in _entries(data, "metrics", path))
    dimensions = tuple(_dimension(entry, path) for entry in _entries(data, "dimensions", path))
    for kind, items in (("metric", metrics), ("dimension", dimensions)):
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            raise EquityLensError(f"{path}: a {kind} id appears twice")
    if ALL in {dimension.id for dimension in dimensions}:
        raise EquityLensError(f"{path}: {ALL!r} names the all-learners rows, not a dimension")
    return EquityLens(metrics, dimensions)


def _entries(data: dict, key: str, path: Path) -> list[dict[str, Any]]:
    entries = data[key]
    if not isinstance(entries, list) or not entries:
        raise EquityLensError(f"{path}: '{key}' must be a non-empty list")
    for entry in entries:
        if not isinstance(entry, dict):
            raise EquityLensError(f"{path}: every entry of '{key}' must be a mapping")
    return entries


def _metric(entry: dict[str, Any], path: Path) -> EquityMetric:
    _keys(entry, {"id", "label", "column"}, path)
    return EquityMetric(
        id=_identifier(entry, "id", path),
        label=_text(entry, "label", path),
        column=_identifier(entry, "column", path),
    )


def _dimension(entry: dict[str, Any], path: Path) -> EquityDimension:
    _keys(entry, {"id", "label", "column", "values"}, path)
    values = entry["values"]
    if (
        not isinstance(values, list)
        or not values
        or not all(isinstance(v, str) and _VALUE.fullmatch(v) for v in values)
        or len(set(values)) != len(values)
        or ALL in values
    ):
        raise EquityLensError(
            f"{path}: dimension {entry.get('id')!r} needs distinct string values (quote yes/no: "
            f"YAML reads them as booleans), none of them {ALL!r}"
        )
    return EquityDimension(
        id=_identifier(entry, "id", path),
        label=_text(entry, "label", path),
        column=_identifier(entry, "column", path),
        values=tuple(values),
    )


def _keys(entry: dict[str, Any], expected: set[str], path: Path) -> None:
    if set(entry) != expected:
        raise EquityLensError(
            f"{path}: entry {entry.get('id')!r} must have exactly the keys {sorted(expected)}"
        )


def _identifier(entry: dict[str, Any], key: str, path: Path) -> str:
    value = entry[key]
    if not isinstance(value, str) or not _ID.fullmatch(value) or value == ALL:
        raise EquityLensError(f"{path}: {key} {value!r} must be snake_case (and not {ALL!r})")
    return value


def _text(entry: dict[str, Any], key: str, path: Path) -> str:
    value = entry[key]
    if not isinstance(value, str) or not value.strip():
        raise EquityLensError(f"{path}: {key} of {entry.get('id')!r} must be a non-empty string")
    return value
