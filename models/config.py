"""The schema of `pathways.yaml`: what a district declares about itself and its sources.

Everything here is validated before anything runs, so a wrong key or value stops the night with a
message that names the file, the line and what to write instead. Secrets never live in this file:
a source names the environment variable that holds them.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

_CRON_FIELD = re.compile(r"^[\d*/,\-A-Za-z?]+$")


class ConfigError(ValueError):
    """`pathways.yaml` is missing, unreadable or does not match the schema."""


class _Settings(BaseModel):
    # A misspelt key is an error, never silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class DistrictSettings(_Settings):
    """Who the district is; `id` names its warehouse partition and its published files."""

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]*$")]
    name: str
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}; use an IANA name such as America/Chicago"
            ) from None
        return value


class WarehouseSettings(_Settings):
    """Where the live warehouse and its published read-only copy live."""

    path: Path
    published_path: Path
    # DuckDB 2.0 writes a storage format that DuckDB 1.x (most BI drivers) cannot open; the
    # published copy is written in this older format so those readers can.
    published_storage_version: str = "v1.2.0"
    # DuckDB spills to disk beyond this, so memory does not grow with the size of the district.
    memory_limit: Annotated[
        str, Field(pattern=r"^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$")
    ] = "1GB"


class ScheduleSettings(_Settings):
    """When the nightly job runs, in the district's time zone."""

    cron: str = "0 2 * * *"

    @field_validator("cron")
    @classmethod
    def _five_field_cron(cls, value: str) -> str:
        fields = value.split()
        if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
            raise ValueError(
                f"{value!r} is not a five-field cron expression "
                "(minute hour day-of-month month day-of-week), e.g. '0 2 * * *'"
            )
        return value


class OneRosterCsvSource(_Settings):
    """A OneRoster 1.1 / 1.2 CSV export: a folder or a .zip."""

    kind: Literal["oneroster_csv"]
    path: Path
    # Where the SIS drops new exports; the drop sensor starts a run for each new one.
    drop_folder: Path | None = None
    # A bulk export that would remove more than this share of active learners is held.
    max_deletion_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2


SisSource = Annotated[OneRosterCsvSource, Field(discriminator="kind")]


class SourcesSettings(_Settings):
    """The systems the district connects; the SIS is the master of learner identity."""

    sis: SisSource


class PrivacySettings(_Settings):
    """Privacy defaults for everything aggregated."""

    min_group_size: Annotated[int, Field(ge=1)] = 10


class PathwaysConfig(_Settings):
    """A whole `pathways.yaml`."""

    district: DistrictSettings
    warehouse: WarehouseSettings
    schedule: ScheduleSettings = ScheduleSettings()
    sources: SourcesSettings
    privacy: PrivacySettings = PrivacySettings()


def load_config(path: str | Path) -> PathwaysConfig:
    """Read and validate `pathways.yaml`; relative paths in it are relative to the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: no such config file; create one (see README) or pass --config"
        ) from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with district, warehouse and sources")
    try:
        config = PathwaysConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(path, node, exc)) from None
    return _resolve_paths(config, path.resolve().parent)


def _resolve_paths(config: PathwaysConfig, base: Path) -> PathwaysConfig:
    def resolve(p: Path | None) -> Path | None:
        return None if p is None else (p if p.is_absolute() else base / p)

    sis = config.sources.sis
    return config.model_copy(
        update={
            "warehouse": config.warehouse.model_copy(
                update={
                    "path": resolve(config.warehouse.path),
                    "published_path": resolve(config.warehouse.published_path),
                }
            ),
            "sources": config.sources.model_copy(
                update={
                    "sis": sis.model_copy(
                        update={"path": resolve(sis.path), "drop_folder": resolve(sis.drop_folder)}
                    )
                }
            ),
        }
    )


def _explain(path: Path, node: yaml.Node | None, exc: ValidationError) -> str:
    lines = [f"{path}: {exc.error_count()} problem(s) in the configuration:"]
    for error in exc.errors():
        loc = [str(part) for part in error["loc"] if not isinstance(part, int)]
        # A discriminated union adds the tag as a location step; it is not a key the user wrote.
        loc = [p for p in loc if p not in ("oneroster_csv",)]
        where = ".".join(loc)
        line = _line_of(node, loc)
        at = f"line {line}, " if line else ""
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            parent = _model_at(loc[:-1])
            hint = _suggest(loc[-1], list(parent.model_fields) if parent else [])
            message = f"unknown key{hint}"
        elif error["type"] == "union_tag_invalid":
            message = f"unknown kind {error['input'].get('kind')!r}; supported: oneroster_csv"
        elif error["type"] == "missing":
            message = "required key is missing"
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        lines.append(f"  - {at}{where}: {message}")
    return "\n".join(lines)


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; allowed keys: {', '.join(choices)}" if choices else ""


def _model_at(loc: list[str]) -> type[BaseModel] | None:
    model: Any = PathwaysConfig
    for part in loc:
        field = model.model_fields.get(part) if isinstance(model, type) else None
        if field is None:
            return None
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if isinstance(a, type)), None)
        if model is None or not issubclass(model, BaseModel):
            return None
    return model


def _line_of(node: yaml.Node | None, loc: list[str]) -> int | None:
    """The 1-based line of the deepest key in `loc` that exists in the YAML document."""
    line = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            break
        for key, value in node.value:
            if key.value == part:
                line, node = key.start_mark.line + 1, value
                break
        else:
            break
    return line
