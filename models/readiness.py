"""The District Readiness Framework: categories, indicators and what each level looks like.

The framework is data (`readiness_framework.yaml`, shipped in the package); this module reads it
into frozen objects and refuses a file that does not have the framework's shape, so a typo in
the data stops at load time rather than in a dashboard. Nothing here reads a district's data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

FRAMEWORK_FILE = Path(__file__).parent / "readiness_framework.yaml"
CATEGORY_COUNT = 7

# Category ids are snake_case; an indicator id is its category's id, a dot, then snake_case.
_ID = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")


class Level(StrEnum):
    """Where a district stands on one indicator, from first steps to established practice."""

    STARTING = "Starting"
    PRACTICING = "Practicing"
    SUSTAINING = "Sustaining"

    @property
    def key(self) -> str:
        """The level's key in the data file's `statements` mapping, e.g. `starting`."""
        return self.value.lower()


class FrameworkError(ValueError):
    """The framework file does not have the shape of the readiness framework."""


@dataclass(frozen=True)
class Indicator:
    """One row of the framework: what the district does at each level on one subject."""

    id: str  # "<category id>.<snake_case>", stable across releases
    name: str
    starting: str | None  # None where the framework leaves the level's cell empty
    practicing: str | None
    sustaining: str | None
    reconstruction: str | None = None  # how the row was rebuilt from the source text, if needed

    def statement(self, level: Level) -> str | None:
        """The framework's statement for this indicator at `level` (None when it has none)."""
        return getattr(self, level.key)

    @property
    def statements(self) -> dict[Level, str | None]:
        """The statement at each level, in level order."""
        return {level: self.statement(level) for level in Level}


@dataclass(frozen=True)
class Category:
    """One of the framework's seven categories and its indicators, in the framework's order."""

    id: str
    name: str
    description: str | None
    indicators: tuple[Indicator, ...]


@dataclass(frozen=True)
class Framework:
    """The whole framework, as published: its levels and its categories in order."""

    name: str
    source: str
    description: str | None
    footnote: str | None
    levels: tuple[Level, ...]
    categories: tuple[Category, ...]

    @property
    def indicators(self) -> tuple[Indicator, ...]:
        """Every indicator, category by category."""
        return tuple(indicator for category in self.categories for indicator in category.indicators)

    def category(self, category_id: str) -> Category:
        """The category with this id (KeyError if there is none)."""
        for category in self.categories:
            if category.id == category_id:
                return category
        raise KeyError(category_id)

    def indicator(self, indicator_id: str) -> Indicator:
        """The indicator with this id (KeyError if there is none)."""
        for indicator in self.indicators:
            if indicator.id == indicator_id:
                return indicator
        raise KeyError(indicator_id)


def load_framework(path: Path | None = None) -> Framework:
    """The readiness framework shipped with Pathways (or the one at `path`), validated."""
    path = path or FRAMEWORK_FILE
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise FrameworkError(f"{path}: not valid YAML: {error}") from error
    return _framework(document, _Where(str(path)))


@dataclass(frozen=True)
class _Where:
    """A place in the data file, for error messages: `file: categories[2].indicators[0].id`."""

    file: str
    trail: str = ""

    def __truediv__(self, part: str) -> _Where:
        if self.trail and not part.startswith("["):
            part = f".{part}"
        return _Where(self.file, f"{self.trail}{part}")

    def error(self, message: str) -> FrameworkError:
        place = f"{self.file}: {self.trail}" if self.trail else self.file
        return FrameworkError(f"{place}: {message}")


def _mapping(
    value: Any, where: _Where, required: set[str], optional: frozenset[str] = frozenset()
) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise where.error(f"expected a mapping, found {type(value).__name__}")
    # Unknown keys first: a misspelt key is also a missing one, and its name is the better clue.
    unknown = sorted(str(key) for key in value.keys() - required - optional)
    if unknown:
        raise where.error(
            f"unknown key {', '.join(unknown)} (expected {', '.join(sorted(required | optional))})"
        )
    missing = sorted(required - value.keys())
    if missing:
        raise where.error(f"missing {', '.join(missing)}")
    return value


def _text(value: Any, where: _Where) -> str:
    if not isinstance(value, str) or not value.strip():
        raise where.error(f"expected non-empty text, found {value!r}")
    return value


def _optional_text(value: Any, where: _Where) -> str | None:
    return None if value is None else _text(value, where)


def _list(value: Any, where: _Where) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise where.error(f"expected a non-empty list, found {value!r}")
    return value


def _framework(document: Any, where: _Where) -> Framework:
    document = _mapping(
        document,
        where,
        required={"name", "source", "levels", "categories"},
        optional=frozenset({"description", "footnote"}),
    )
    levels = document["levels"]
    expected_levels = [level.value for level in Level]
    if levels != expected_levels:
        raise (where / "levels").error(
            f"expected exactly the three levels {expected_levels}, found {levels!r}"
        )
    raw_categories = _list(document["categories"], where / "categories")
    if len(raw_categories) != CATEGORY_COUNT:
        raise (where / "categories").error(
            f"expected the framework's {CATEGORY_COUNT} categories, found {len(raw_categories)}"
        )
    categories = tuple(
        _category(raw, where / "categories" / f"[{position}]")
        for position, raw in enumerate(raw_categories)
    )
    seen: set[str] = set()
    for category in categories:
        for id_ in (category.id, *(indicator.id for indicator in category.indicators)):
            if id_ in seen:
                raise where.error(f"id {id_!r} is used more than once; ids must be unique")
            seen.add(id_)
    return Framework(
        name=_text(document["name"], where / "name"),
        source=_text(document["source"], where / "source"),
        description=_optional_text(document.get("description"), where / "description"),
        footnote=_optional_text(document.get("footnote"), where / "footnote"),
        levels=tuple(Level),
        categories=categories,
    )


def _category(raw: Any, where: _Where) -> Category:
    raw = _mapping(
        raw, where, required={"id", "name", "indicators"}, optional=frozenset({"description"})
    )
    category_id = _text(raw["id"], where / "id")
    if not _ID.fullmatch(category_id):
        raise (where / "id").error(f"category id {category_id!r} is not snake_case")
    indicators = tuple(
        _indicator(indicator, category_id, where / "indicators" / f"[{position}]")
        for position, indicator in enumerate(_list(raw["indicators"], where / "indicators"))
    )
    return Category(
        id=category_id,
        name=_text(raw["name"], where / "name"),
        description=_optional_text(raw.get("description"), where / "description"),
        indicators=indicators,
    )


def _indicator(raw: Any, category_id: str, where: _Where) -> Indicator:
    raw = _mapping(
        raw, where, required={"id", "name", "statements"}, optional=frozenset({"reconstruction"})
    )
    indicator_id = _text(raw["id"], where / "id")
    prefix, _, own = indicator_id.partition(".")
    if prefix != category_id or not _ID.fullmatch(own):
        raise (where / "id").error(
            f"indicator id {indicator_id!r} must be {category_id!r}, a dot, then snake_case"
        )
    statements = _mapping(
        raw["statements"], where / "statements", required={level.key for level in Level}
    )
    by_level = {
        level: _optional_text(statements[level.key], where / "statements" / level.key)
        for level in Level
    }
    if not any(by_level.values()):
        raise (where / "statements").error("an indicator needs a statement at one level at least")
    return Indicator(
        id=indicator_id,
        name=_text(raw["name"], where / "name"),
        starting=by_level[Level.STARTING],
        practicing=by_level[Level.PRACTICING],
        sustaining=by_level[Level.SUSTAINING],
        reconstruction=_optional_text(raw.get("reconstruction"), where / "reconstruction"),
    )
