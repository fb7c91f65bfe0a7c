"""The schema of `pathways.yaml`: what a district declares about itself and its sources.

Everything here is validated before anything runs, so a wrong key or value stops the night with a
message that names the file, the line and what to write instead. Secrets never live in this file:
a source names the environment variable that holds them.
"""

from __future__ import annotations

import difflib
import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from models.oneroster_spec import spec_columns
from models.personal_data import NEVER_STORED_COLUMNS
from models.suppression import (
    DEFAULT_RATE_BANDS,
    RateBand,
    SuppressionError,
    checked_rate_bands,
)

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


class BlackoutWindow(_Settings):
    """Dates on which the nightly sync does not run (e.g. the summer rollover, while the SIS is
    being set up for the next year): `start` to `end` inclusive, in the district's time zone."""

    start: date
    end: date
    reason: str = "blackout"

    @model_validator(mode="after")
    def _start_before_end(self) -> BlackoutWindow:
        if self.start > self.end:
            raise ValueError(f"start {self.start} is after end {self.end}; swap them")
        return self

    def describe(self) -> str:
        """The window as messages name it, e.g. `2027-06-20 to 2027-08-10 (summer rollover)`."""
        return f"{self.start} to {self.end} ({self.reason})"


class ScheduleSettings(_Settings):
    """When the nightly job runs, in the district's time zone, and the dates it must not."""

    cron: str = "0 2 * * *"
    blackout: tuple[BlackoutWindow, ...] = ()

    def blackout_on(self, day: date) -> BlackoutWindow | None:
        """The blackout window that holds `day` (a date in the district's time zone), if any."""
        return next((w for w in self.blackout if w.start <= day <= w.end), None)

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


def _oneroster_entity_keys(cls: type, value: dict[str, float]) -> dict[str, float]:
    """Per-entity deletion shares are keyed by OneRoster file name (users, classes, …)."""
    known = sorted({f.removesuffix(".csv") for v in ("1.1", "1.2") for f in spec_columns(v)})
    for name in value:
        if name not in known:
            raise ValueError(f"{name!r} is not a OneRoster entity{_suggest(name, known)}")
    return value


class OneRosterCsvSource(_Settings):
    """A OneRoster 1.1 / 1.2 CSV export: a folder or a .zip."""

    kind: Literal["oneroster_csv"]
    path: Path
    # Where the SIS drops new exports; the drop sensor starts a run for each new one.
    drop_folder: Path | None = None
    # A bulk export that would remove more than this share of active learners, or of the active
    # rows of any file without a share of its own in max_deletion_shares, is held.
    max_deletion_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2
    max_deletion_shares: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = {}

    _known_entities = field_validator("max_deletion_shares")(_oneroster_entity_keys)


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_SOURCE_NAME = r"^[a-z][a-z0-9_]*$"

# The OneRoster version a SIS database is mapped to: the column names its maps use.
SQL_ONEROSTER_VERSION = "1.2"


class SqlConstant(_Settings):
    """A fixed value for a OneRoster column the SIS has no column for, e.g. `{const: school}`."""

    const: str


class SqlEntity(_Settings):
    """Where one OneRoster entity comes from in the SIS database, and which SIS column fills
    each OneRoster column. Subclassed once per entity (`SqlEntities`), so a map is checked
    against that entity's own columns."""

    entity: ClassVar[str] = ""  # the OneRoster file stem, e.g. `users`

    # Exactly one of: a table or view (optionally `schema.table`), or a SELECT of the district's.
    table: str | None = None
    query: str | None = None
    # Values for the query's `:name` placeholders, always bound, never pasted into the SQL.
    params: dict[str, str | int | float | bool] = {}
    # OneRoster column → SIS column in the table or query result (or a constant).
    columns: dict[str, str | SqlConstant]
    # Extension columns: `metadata.<key>` → SIS column.
    metadata: dict[str, str] = {}
    # A last-modified column: after the first full pull, only rows changed since are pulled.
    modified_column: str | None = None

    @field_validator("columns", mode="before")
    @classmethod
    def _column_or_constant(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        columns = {}
        for name, given in value.items():
            if isinstance(given, dict) and set(given) == {"const"}:
                constant = given["const"]
                if isinstance(constant, bool):  # OneRoster booleans are lowercase words
                    constant = "true" if constant else "false"
                given = {"const": constant if constant is None else str(constant)}
            elif not isinstance(given, str):
                raise ValueError(
                    f"{name!r}: map it to a SIS column name, or to a constant written "
                    "{const: value}"
                )
            columns[name] = given
        return columns

    @field_validator("columns")
    @classmethod
    def _oneroster_columns(cls, value: dict[str, str | SqlConstant]) -> dict[str, Any]:
        spec = {c.name: c for c in spec_columns(SQL_ONEROSTER_VERSION)[f"{cls.entity}.csv"]}
        for name in value:
            if name.startswith("metadata."):
                raise ValueError(
                    f"{name!r}: put extension columns under `metadata:` as "
                    f"{name.removeprefix('metadata.')}: <SIS column>"
                )
            if name in NEVER_STORED_COLUMNS:
                raise ValueError(f"{name!r}: Pathways never stores passwords; remove it")
            if name not in spec:
                hint = _suggest(name, list(spec)).replace("allowed keys", "its columns are")
                raise ValueError(
                    f"{name!r} is not a OneRoster {SQL_ONEROSTER_VERSION} {cls.entity} column{hint}"
                )
        missing = [c for c, col in spec.items() if col.required == "yes" and c not in value]
        if missing:
            raise ValueError(
                f"required OneRoster column(s) not mapped: {', '.join(missing)}; every "
                f"{cls.entity} row needs them"
            )
        return value

    @model_validator(mode="after")
    def _one_origin(self) -> SqlEntity:
        if (self.table is None) == (self.query is None):
            raise ValueError("give exactly one of `table` (a table or view) or `query`")
        if self.params and self.query is None:
            raise ValueError("`params` bind a `query`'s :placeholders; a `table` takes none")
        if self.modified_column and "status" not in self.columns:
            raise ValueError(
                "an incremental entity (modified_column) needs `status` mapped: a pull of "
                "changed rows only sees a deletion as a row marked tobedeleted. Map it to a "
                "column or expression giving active / tobedeleted, or to {const: active} if the "
                "SIS never deletes these rows"
            )
        return self

    @property
    def column_map(self) -> dict[str, str | SqlConstant]:
        """The columns to read: an incremental entity's last-modified column also fills
        dateLastModified unless the map names another."""
        if self.modified_column and "dateLastModified" not in self.columns:
            return {**self.columns, "dateLastModified": self.modified_column}
        return dict(self.columns)


def _sql_entities_model() -> type[BaseModel]:
    """One optional key per OneRoster entity, so a misspelt entity is an unknown key with a
    suggestion and each map is checked against its own entity's columns."""
    fields: dict[str, Any] = {}
    for file in spec_columns(SQL_ONEROSTER_VERSION):
        entity = file.removesuffix(".csv")
        model = type(
            f"SqlEntity_{entity}", (SqlEntity,), {"entity": entity, "__module__": __name__}
        )
        fields[entity] = (model | None, None)
    return create_model("SqlEntities", __base__=_Settings, **fields)


SqlEntities = _sql_entities_model()


class SqlSource(_Settings):
    """A SIS's relational database (a reporting replica), read with SQLAlchemy, read-only."""

    kind: Literal["sql"]
    # The environment variable holding the SQLAlchemy URL, password included (never the URL).
    url_env: Annotated[str, Field(pattern=_ENV_NAME)]
    # The schema of tables named without one (the connection's default when unset).
    db_schema: Annotated[str | None, Field(alias="schema")] = None
    # Rows per round trip and per append: memory follows this, not the size of the district.
    batch_size: Annotated[int, Field(ge=1, le=1_000_000)] = 50_000
    connect_timeout: Annotated[float, Field(gt=0)] = 10.0
    # The longest one statement (a query, or one fetch of a streamed result) may run.
    query_timeout: Annotated[float, Field(gt=0)] = 1800.0
    # Incremental pulls re-read this far behind the last pull's newest row, for clock skew and
    # transactions that committed late.
    overlap_minutes: Annotated[int, Field(ge=0)] = 60
    # A full pull that would remove more than this share of active learners, or of the active
    # rows of any entity without a share of its own in max_deletion_shares, is held.
    max_deletion_share: Annotated[float, Field(ge=0.0, le=1.0)] = 0.2
    max_deletion_shares: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = {}
    entities: SqlEntities  # type: ignore[valid-type]

    _known_entities = field_validator("max_deletion_shares")(_oneroster_entity_keys)

    @field_validator("entities")
    @classmethod
    def _at_least_one(cls, value: BaseModel) -> BaseModel:
        if not any(getattr(value, name) for name in type(value).model_fields):
            raise ValueError("map at least one OneRoster entity (users, orgs, enrollments, …)")
        return value

    def entity_map(self) -> dict[str, SqlEntity]:
        """The mapped entities by OneRoster file stem, e.g. `{"users": SqlEntity(...)}`."""
        return {
            name: entity
            for name in type(self.entities).model_fields
            if (entity := getattr(self.entities, name)) is not None
        }


SisSource = Annotated[OneRosterCsvSource | SqlSource, Field(discriminator="kind")]


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
    # Requests in flight at once (one per course or collection); 1 pulls one page at a time.
    # Canvas throttles a token with many requests in flight, so keep this small.
    concurrency: Annotated[int, Field(ge=1, le=16)] = 4


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
    # Records a page; keep it within the service's own maximum (often 1,000): a service that
    # silently caps it returns short pages, and a short page is the end of a listing.
    page_size: Annotated[int, Field(ge=1, le=1_000)] = 100
    overlap_minutes: Annotated[int, Field(ge=0)] = 60


LmsSource = Annotated[CanvasSource | OneRosterRestSource, Field(discriminator="kind")]

# The Open Badges 3.0 API's read scope (1EdTech OB 3.0, "Scopes": getCredentials).
OB3_CREDENTIAL_READONLY_SCOPE = "https://purl.imsglobal.org/spec/ob/v3p0/scope/credential.readonly"
# A platform's own id in a URL path: no slash, no whitespace, no query.
_PATH_ID = r"^[^/\s?#]+$"


class Ob3ApiSource(_ApiSource):
    """An Open Badges 3.0 service (getCredentials), read with OAuth 2 client credentials."""

    kind: Literal["ob3_api"]
    name: Annotated[str, Field(pattern=_SOURCE_NAME)] = "ob3_api"
    token_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$")]
    client_id_env: Annotated[str, Field(pattern=_ENV_NAME)]
    client_secret_env: Annotated[str, Field(pattern=_ENV_NAME)]
    scope: str = OB3_CREDENTIAL_READONLY_SCOPE
    # Credentials a page (`limit`); keep it within the service's own maximum.
    page_size: Annotated[int, Field(ge=1, le=1_000)] = 100
    # `since` re-reads this far behind the last complete sync's start, for clock skew.
    overlap_minutes: Annotated[int, Field(ge=0)] = 60


class BadgrSource(_ApiSource):
    """Badgr / Canvas Credentials (API v2): the assertions of the district's issuers, read with an
    access token."""

    kind: Literal["badgr"]
    name: Annotated[str, Field(pattern=_SOURCE_NAME)] = "badgr"
    # The environment variable holding the access token (never the token itself).
    token_env: Annotated[str, Field(pattern=_ENV_NAME)]
    # The issuers to read, by Badgr entityId (the id in the issuer's URL on the platform).
    issuer_ids: Annotated[tuple[Annotated[str, Field(pattern=_PATH_ID)], ...], Field(min_length=1)]
    # Records a page (`num`); Badgr serves at most 500.
    page_size: Annotated[int, Field(ge=1, le=500)] = 100

    @field_validator("issuer_ids", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class CredlySource(_ApiSource):
    """A Credly organization's issued badges, read with its API authorization token. Credly
    pages its listings itself (no page size to set) and is read whole each night: see
    `connectors.credly`."""

    kind: Literal["credly"]
    name: Annotated[str, Field(pattern=_SOURCE_NAME)] = "credly"
    base_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$")] = "https://api.credly.com"
    organization_id: Annotated[str, Field(pattern=_PATH_ID)]
    # The environment variable holding the organization's authorization token.
    token_env: Annotated[str, Field(pattern=_ENV_NAME)]


class BadgeFilesSource(_Settings):
    """A folder of badge files the district collects (baked PNG / SVG, OB 2.0 / 3.0 JSON, JWTs),
    read whole each night."""

    kind: Literal["badge_files"]
    name: Annotated[str, Field(pattern=_SOURCE_NAME)] = "badge_files"
    path: Path


CredentialSource = Annotated[
    Ob3ApiSource | BadgrSource | CredlySource | BadgeFilesSource, Field(discriminator="kind")
]
# Every source pulled through the API machinery (pipelines.api_sources).
ApiSourceConfig = CanvasSource | OneRosterRestSource | Ob3ApiSource | BadgrSource | CredlySource


class SourcesSettings(_Settings):
    """The systems the district connects; the SIS is the master of learner identity."""

    sis: SisSource
    # One LMS, or a list of them (e.g. Canvas for high schools, another for elementary).
    lms: tuple[LmsSource, ...] = ()

    # Credential platforms and badge folders, one or a list.
    credentials: tuple[CredentialSource, ...] = ()

    @field_validator("lms", "credentials", mode="before")
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

    @field_validator("credentials")
    @classmethod
    def _unique_credential_names(
        cls, value: tuple[CredentialSource, ...]
    ) -> tuple[CredentialSource, ...]:
        names = [source.name for source in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(
                f"two credential sources are named {repeated[0]!r}; give each a distinct "
                "`name` (it keeps their rows and checkpoints apart)"
            )
        return value

    @model_validator(mode="after")
    def _names_unique_across_lists(self) -> SourcesSettings:
        # Names key raw rows (`_source`) and checkpoints, which all API sources share.
        lms = {source.name for source in self.lms}
        shared = sorted(lms & {source.name for source in self.credentials})
        if shared:
            raise ValueError(
                f"an LMS source and a credential source are both named {shared[0]!r}; give "
                "each a distinct `name`"
            )
        return self

    @property
    def api_sources(self) -> tuple[ApiSourceConfig, ...]:
        """Every source pulled through the API machinery: the LMSs, then the credential
        platforms (badge folders are read as files, not here)."""
        return (
            *self.lms,
            *(s for s in self.credentials if not isinstance(s, BadgeFilesSource)),
        )


class RateBandSettings(_Settings):
    """From groups of `min_size` learners up, a rate within `percent`% of 0 or 100 is shown
    only as a range ("<= 5%"), so no count of none or everyone is published."""

    min_size: Annotated[int, Field(ge=1)]
    percent: Annotated[int, Field(gt=0, lt=50)]


class PrivacySettings(_Settings):
    """Privacy defaults for everything aggregated."""

    min_group_size: Annotated[int, Field(ge=1)] = 10
    # Top/bottom coding of rates in the equity marts (models/suppression.py): NCES 2011-603's
    # sliding bands by default.
    rate_bands: tuple[RateBandSettings, ...] = tuple(
        RateBandSettings(min_size=band.min_size, percent=band.percent)
        for band in DEFAULT_RATE_BANDS
    )

    @model_validator(mode="after")
    def _rate_bands_never_say_no_one(self) -> PrivacySettings:
        try:
            checked_rate_bands(self.suppression_rate_bands(), self.min_group_size)
        except SuppressionError as exc:
            raise ValueError(f"rate_bands: {exc}") from None
        return self

    def suppression_rate_bands(self) -> tuple[RateBand, ...]:
        """The bands as `models.suppression.suppress` takes them."""
        return tuple(RateBand(band.min_size, band.percent) for band in self.rate_bands)


class InteroperabilitySettings(_Settings):
    """When a connected system's interoperability check warns or fails (`models.interoperability`).

    The shares apply to the share of a system's identities linked to a SIS learner, and to its
    referential integrity and validation pass rate; a system whose last successful sync is older
    than `freshness_hours` is stale."""

    link_warn_below: Annotated[float, Field(ge=0.0, le=1.0)] = 0.98
    link_fail_below: Annotated[float, Field(ge=0.0, le=1.0)] = 0.90
    # A nightly sync plus two hours of slack for a slow night.
    freshness_hours: Annotated[float, Field(gt=0)] = 26.0

    @model_validator(mode="after")
    def _fail_below_warn(self) -> InteroperabilitySettings:
        if self.link_fail_below > self.link_warn_below:
            raise ValueError(
                f"link_fail_below ({self.link_fail_below}) is above link_warn_below "
                f"({self.link_warn_below}): a system must warn before it fails; e.g. "
                "link_warn_below: 0.98, link_fail_below: 0.90"
            )
        return self


class VerificationSettings(_Settings):
    """What credential verification may read instead of the network."""

    # A folder of cached JSON the district supplies: DID documents (did:web), status list
    # credentials, and OB 2.0 hosted assertions / badge classes / issuers / keys. Credentials
    # that need a document not in it are reported as not verifiable offline.
    trust_dir: Path | None = None


class TransparencySettings(_Settings):
    """The data-collection transparency check and public notice."""

    # The data inventory (what each collected field is, why, how long it is kept); the bundled
    # models/data_inventory.yaml when not set. A district that adds fields copies and extends it.
    inventory_path: Path | None = None


# The self-assessment file read when `readiness.self_assessment_path` is not set: beside
# pathways.yaml (a district without one has no self-assessment, not an error).
SELF_ASSESSMENT_FILE = "readiness_self_assessment.csv"


class ReadinessSettings(_Settings):
    """How the District Readiness Framework is scored for this district: its own thresholds for
    the measured rules of models/readiness_rules.yaml, and its self-assessment file."""

    # {indicator id: {practicing: x, sustaining: y}}: a level holds when its measure is at
    # least the number (a count, or a share from 0 to 1).
    thresholds: dict[str, dict[str, Annotated[float, Field(ge=0)]]] = {}
    # readiness_self_assessment.csv (indicator_id, level, evidence_note, assessed_by,
    # assessed_on); default: beside pathways.yaml.
    self_assessment_path: Path | None = None

    @field_validator("thresholds")
    @classmethod
    def _known_indicators(cls, value: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        from models.readiness_rules import load_readiness_rules, threshold_override_problems

        problems = threshold_override_problems(load_readiness_rules(), value)
        if problems:
            raise ValueError("; ".join(problems))
        return value


_PARTNER_ID = r"^[a-z0-9][a-z0-9-]*$"
# A SIS users `metadata.*` extension column, named without its `metadata.` prefix.
_METADATA_KEY = r"^[A-Za-z_][A-Za-z0-9_]*$"


class ExportIssuer(_Settings):
    """Who signs the learner records: the district, as a `did:key` of its signing key, or as the
    `did:web` DID it publishes (then its did.json must list that key under assertionMethod)."""

    name: str
    # The district's public web page, shown in the issuer Profile.
    url: Annotated[str, Field(pattern=r"^https?://[^\s]+$")]
    did_web: Annotated[str | None, Field(pattern=r"^did:web:[^\s#]+$")] = None


class ExportSecret(_Settings):
    """Where a secret of the exports is read from: a file (readable only by the service user),
    or an environment variable. Never this file, the repository or the warehouse."""

    path: Path | None = None
    env: Annotated[str | None, Field(pattern=_ENV_NAME)] = None

    @model_validator(mode="after")
    def _one_place(self) -> ExportSecret:
        if (self.path is None) == (self.env is None):
            raise ValueError(
                "give exactly one of `path` (a file holding the secret, e.g. the key file "
                "`pathways keys generate` wrote) or `env` (the NAME of the environment variable "
                "holding it)"
            )
        return self


class ExportPartner(_Settings):
    """A college or employer the district shares learner records with (a partner bundle)."""

    id: Annotated[str, Field(pattern=_PARTNER_ID)]
    name: str
    # A SIS users `metadata.<field>` (without the prefix): true / yes / 1 means the learner does
    # not want their record shared with this partner.
    opt_out_field: Annotated[str | None, Field(pattern=_METADATA_KEY)] = None
    # A CSV with a `learner_sourced_id` column: learners who opted out of this partner.
    opt_out_file: Path | None = None


class ExportSettings(_Settings):
    """The signed learner records (Open Badges 3.0 in a CLR 2.0 credential) exported each night."""

    enabled: bool = True
    # Default: `exports/` beside the warehouse folder.
    out_dir: Path | None = None
    issuer: ExportIssuer
    # The district's Ed25519 signing key (`secretKeyMultibase`, `zrv…`, as `pathways keys
    # generate` writes it).
    key: ExportSecret
    # The secret the learner keys and the salts of each learner's hashed sourcedId are derived
    # from (at least 16 characters). Changing it re-keys every record.
    salt: ExportSecret
    # The folder URL where the district publishes its status lists (`<url>/<n>.json`, the files
    # written to `<out_dir>/status/`); verifiers fetch them to see revocations.
    status_lists_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$")]
    # Plain name / email in the record (never for a learner with a directory-information opt-out).
    include_name: bool = False
    include_email: bool = False
    # A SIS users `metadata.<field>`: true / yes / 1 means the learner opted out of directory
    # information, so their name and email never appear, whatever include_* say.
    directory_opt_out_field: Annotated[str | None, Field(pattern=_METADATA_KEY)] = None
    # A CSV (`learner_sourced_id`, `partner_id`, `achievement_id`): a learner who lists any
    # achievement for a partner shares only those with that partner.
    sharing_choices_file: Path | None = None
    partners: tuple[ExportPartner, ...] = ()
    # Also write each record as a VC-JWT (`.jwt` beside the `.json`).
    vc_jwt: bool = False
    # Night folders kept (unchanged records are hard links, so older nights cost little space).
    keep_nights: Annotated[int, Field(ge=1)] = 7
    # Worker processes that sign (canonicalization is CPU-bound); default: the cores available.
    workers: Annotated[int | None, Field(ge=1, le=64)] = None

    @field_validator("partners", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, dict) else value

    @field_validator("partners")
    @classmethod
    def _unique_partners(cls, value: tuple[ExportPartner, ...]) -> tuple[ExportPartner, ...]:
        ids = [partner.id for partner in value]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"two partners have the id {repeated[0]!r}; give each its own `id`")
        return value


class PathwaysConfig(_Settings):
    """A whole `pathways.yaml`."""

    district: DistrictSettings
    warehouse: WarehouseSettings
    schedule: ScheduleSettings = ScheduleSettings()
    sources: SourcesSettings
    privacy: PrivacySettings = PrivacySettings()
    verification: VerificationSettings = VerificationSettings()
    # Signed learner records; none when absent.
    exports: ExportSettings | None = None
    interoperability: InteroperabilitySettings = InteroperabilitySettings()
    readiness: ReadinessSettings = ReadinessSettings()
    transparency: TransparencySettings = TransparencySettings()


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
    if isinstance(sis, OneRosterCsvSource):
        sis = sis.model_copy(
            update={"path": resolve(sis.path), "drop_folder": resolve(sis.drop_folder)}
        )
    credentials = tuple(
        source.model_copy(update={"path": resolve(source.path)})
        if isinstance(source, BadgeFilesSource)
        else source
        for source in config.sources.credentials
    )
    exports = config.exports
    if exports is not None:
        out_dir = resolve(exports.out_dir) or resolve(config.warehouse.path).parent.parent / (
            "exports"
        )
        exports = exports.model_copy(
            update={
                "out_dir": out_dir,
                "key": exports.key.model_copy(update={"path": resolve(exports.key.path)}),
                "salt": exports.salt.model_copy(update={"path": resolve(exports.salt.path)}),
                "sharing_choices_file": resolve(exports.sharing_choices_file),
                "partners": tuple(
                    p.model_copy(update={"opt_out_file": resolve(p.opt_out_file)})
                    for p in exports.partners
                ),
            }
        )
    readiness = config.readiness.model_copy(
        update={
            "self_assessment_path": resolve(config.readiness.self_assessment_path)
            or base / SELF_ASSESSMENT_FILE
        }
    )
    return config.model_copy(
        update={
            "exports": exports,
            "readiness": readiness,
            "warehouse": config.warehouse.model_copy(
                update={
                    "path": resolve(config.warehouse.path),
                    "published_path": resolve(config.warehouse.published_path),
                }
            ),
            "sources": config.sources.model_copy(update={"sis": sis, "credentials": credentials}),
            "verification": config.verification.model_copy(
                update={"trust_dir": resolve(config.verification.trust_dir)}
            ),
            "transparency": config.transparency.model_copy(
                update={"inventory_path": resolve(config.transparency.inventory_path)}
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
            names = [f.alias or n for n, f in model.model_fields.items()] if model else []
            hint = _suggest(str(keys[-1]), names)
            message = f"unknown key{hint}"
        elif error["type"] == "union_tag_invalid":
            supported = ", ".join(error["ctx"]["expected_tags"].replace("'", "").split(", "))
            message = f"unknown kind {error['input'].get('kind')!r}; supported: {supported}"
        elif error["type"] == "missing":
            message = "required key is missing"
        elif error["type"] == "string_pattern_mismatch" and (
            error["ctx"]["pattern"] in _PATTERN_HINTS
        ):
            # Never the value: a secret pasted where its variable's name belongs must not echo.
            message = _PATTERN_HINTS[error["ctx"]["pattern"]]
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        lines.append(f"  - {at}{where}: {message}")
    return "\n".join(lines)


_PATTERN_HINTS = {
    _ENV_NAME: "write the NAME of the environment variable that holds the secret (letters, "
    "digits and _), never the secret itself",
    r"^https?://[^\s]+$": "must be an http:// or https:// URL without spaces",
    _SOURCE_NAME: "a source name is lower-case letters, digits and _, starting with a letter",
    _PATH_ID: "an id as it appears in the platform's URLs: no /, ?, # or spaces",
}


def _suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; allowed keys: {', '.join(choices)}" if choices else ""


def _sources_by_kind() -> dict[str, type[BaseModel]]:
    return {
        kind: source
        for source in (
            OneRosterCsvSource,
            SqlSource,
            CanvasSource,
            OneRosterRestSource,
            Ob3ApiSource,
            BadgrSource,
            CredlySource,
            BadgeFilesSource,
        )
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
