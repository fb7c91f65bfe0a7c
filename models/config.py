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

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_SOURCE_NAME = r"^[a-z][a-z0-9_]*$"


class HttpOptions(_Settings):
    """How patiently an API source is called; the defaults suit a hosted Canvas at night."""

    connect_timeout: Annotated[float, Field(gt=0)] = 10.0
    read_timeout: Annotated[float, Field(gt=0)] = 60.0
    # Retries for 429, 5xx, timeouts and dropped connections, with exponential backoff.
    max_retries: Annotated[int, Field(ge=0, le=20)] = 6
    backoff_factor: Annotated[float, Field(ge=0)] = 1.0


class _ApiSource(_Settings):
    # Names the source in raw tables (`_source`), checkpoints and Dagster asset keys.
    name: Annotated[str, Field(pattern=_SOURCE_NAME)]
    base_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$")]
    http: HttpOptions = HttpOptions()


class CanvasSource(_ApiSource):
    """A Canvas LMS account, read through the Canvas REST API with an access token."""

    kind: Literal["canvas"]
    name: Annotated[str, Field(pattern=_SOURCE_NAME)] = "canvas"
    account_id: Annotated[int, Field(ge=1)] = 1
    # The environment variable holding the access token (never the token itself).
    token_env: Annotated[str, Field(pattern=_ENV_NAME)]
    # Terms to pull, by SIS term id; by default every term running today.
    terms: tuple[str, ...] | None = None
    # Incremental submissions re-read this far behind the last run's start, for clock skew.
    overlap_minutes: Annotated[int, Field(ge=0)] = 60


class OneRosterRestSource(_ApiSource):
    """A OneRoster 1.2 REST service (rostering and gradebook), with OAuth2 client credentials."""

    kind: Literal["oneroster_rest"]
    name: Annotated[str, Field(pattern=_SOURCE_NAME)] = "oneroster_rest"
    token_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$")]
    client_id_env: Annotated[str, Field(pattern=_ENV_NAME)]
    client_secret_env: Annotated[str, Field(pattern=_ENV_NAME)]
    scope: str | None = None
    page_size: Annotated[int, Field(ge=1, le=10_000)] = 100
    overlap_minutes: Annotated[int, Field(ge=0)] = 60


LmsSource = Annotated[CanvasSource | OneRosterRestSource, Field(discriminator="kind")]


class SourcesSettings(_Settings):
    """The systems the district connects; the SIS is the master of learner identity."""

    sis: SisSource
    # One LMS, or a list of them (e.g. Canvas for high schools, another for elementary).
    lms: tuple[LmsSource, ...] = ()

    @field_validator("lms", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @field_validator("lms")
    @classmethod
    def _unique_names(cls, value: tuple[LmsSource, ...]) -> tuple[LmsSource, ...]:
        names = [source.name for source in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(
                f"two LMS sources are named {repeated[0]!r}; give each a distinct `name`"
            )
        return value


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
        keys, line, model = _locate(node, error["loc"])
        where = "".join(
            f"[{k}]" if isinstance(k, int) else ("." if i else "") + k for i, k in enumerate(keys)
        )
        at = f"line {line}, " if line else ""
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            hint = _suggest(str(keys[-1]), list(model.model_fields) if model else [])
            message = f"unknown key{hint}"
        elif error["type"] == "union_tag_invalid":
            supported = ", ".join(error["ctx"]["expected_tags"].replace("'", "").split(", "))
            message = f"unknown kind {error['input'].get('kind')!r}; supported: {supported}"
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


def _sources_by_kind() -> dict[str, type[BaseModel]]:
    return {
        kind: source
        for source in (OneRosterCsvSource, CanvasSource, OneRosterRestSource)
        for kind in source.model_fields["kind"].annotation.__args__
    }


def _locate(
    node: yaml.Node | None, loc: tuple[str | int, ...]
) -> tuple[list[str | int], int | None, type[BaseModel] | None]:
    """Follow an error's location through the YAML document and the schema together: the keys
    the user wrote (a discriminated union's tag is not one, nor is the index of a list they
    wrote as a single mapping), the line of the deepest one found, and the model whose key the
    last step is."""
    keys: list[str | int] = []
    line = None
    model: type[BaseModel] | None = PathwaysConfig
    parent: type[BaseModel] | None = None
    kinds = _sources_by_kind()
    for part in loc:
        if isinstance(part, int):
            if isinstance(node, yaml.SequenceNode) and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
                keys.append(part)
            continue
        if part in kinds and (model is None or "kind" in model.model_fields):
            model = kinds[part]
            continue
        keys.append(part)
        parent = model
        field = model.model_fields.get(part) if model else None
        model = _model_of(field.annotation) if field else None
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                node = None
        else:
            node = None
    return keys, line, parent


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The settings model a field holds directly (None for a union or a plain value)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = getattr(annotation, "__args__", ())
    models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
    return models[0] if len(models) == 1 else None
