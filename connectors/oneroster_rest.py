"""OneRoster 1.2 REST: a district's rostering (orgs, sessions, courses, classes, users,
enrollments, demographics) and gradebook (line items, results, categories, score scales), read
from its SIS or LMS with OAuth 2 client credentials and yielded as `StreamPage`s for
`pipelines.api_sync` to commit.

One stream per collection, `oneroster_rest.<collection>` (scope ""), written to
`raw.oneroster_rest_<entity>` keyed by sourcedId; records are stored exactly as the service sends
them. Every listing is paged by `limit`/`offset`, sorted by sourcedId so an offset means the same
row from one request to the next; a page shorter than `limit` (or empty) is the last, and the
stream's last page always has cursor None (an empty page when the collection is empty), which is
what marks it complete.

Deltas: once a stream has completed, the next sync asks only for what changed since that sync
started, less `overlap` for clock skew: `filter=dateLastModified>'…Z'`. A delta carries deleted
records as `status: "tobedeleted"`; they are upserted like any other record (raw keeps them, and
the staging models leave them out of the live rows). The watermark moves only when a stream
completes, so an interrupted stream resumes at its saved offset with the same filter.

Offsets under change: rows modified while a stream is being paged can shift the offsets of the
rows after them. Sorting by sourcedId keeps an edited row where it was; a row that enters the
listing (new, or newly matching the delta filter) before the current offset pushes the rest one
place on, so a row is read twice (the upsert by key stores it once) and the new row itself is
missed tonight, but its dateLastModified is later than this sync's start, so tomorrow's delta,
which starts `overlap` before tonight's start, reads it. Deletions in OneRoster are soft (the row
stays, marked tobedeleted), so rows do not leave the listing; a service that purges rows while
we page can make us skip a row past the purge point, which only a full pull (a new source name,
or clearing its checkpoints) would bring back.

Errors: demographics, categories and scoreScales are optional (the client may not be granted the
demographics scope; many services have no gradebook categories or scales): a 403 or 404 there is
recorded in `OneRosterRestPull.warnings`, logged, and the stream is left unfinished (never marked
done, so the next sync asks again, in full). Every other failure raises; the caller fails the run
and the checkpoint keeps the page that failed for the next run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from connectors.http import (
    DEFAULT_SETTINGS,
    ApiClient,
    ApiPull,
    BadResponseError,
    HttpSettings,
    NotFoundError,
    OAuth2ClientCredentials,
    Page,
    PermissionDeniedError,
    RequestStats,
    SkippedStream,
    StreamPage,
    StreamState,
    WorkUnit,
    client_credentials_from_env,
)
from models.config import OneRosterRestSource

logger = logging.getLogger("pathways.oneroster_rest")

SCOPE_PREFIX = "https://purl.imsglobal.org/spec/or/v1p2/scope/"
# Rostering without demographics, demographics on its own (districts grant it separately: it is
# personal data), and the gradebook; all read-only.
DEFAULT_SCOPES = (
    SCOPE_PREFIX + "roster-core.readonly",
    SCOPE_PREFIX + "roster-demographics.readonly",
    SCOPE_PREFIX + "gradebook.readonly",
)
DEFAULT_SCOPE = " ".join(DEFAULT_SCOPES)


@dataclass(frozen=True)
class OneRosterCollection:
    """One OneRoster 1.2 collection read in full or by delta: where it is and where it goes."""

    name: str  # the endpoint and the JSON envelope's key, e.g. "academicSessions"
    service: str  # "rostering" or "gradebook"
    table: str  # the raw table (schema raw)
    optional: bool = False  # a 403/404 is a warning, not a failure

    @property
    def stream(self) -> str:
        """The checkpoint's stream name, e.g. `oneroster_rest.academicSessions`."""
        return f"oneroster_rest.{self.name}"

    @property
    def path(self) -> str:
        """The path under the service's base URL, e.g. `rostering/v1p2/users`."""
        return f"{self.service}/v1p2/{self.name}"

    def items(self, data: Any) -> list[Any]:
        """The records of one page: the JSON binding wraps a list in its collection's name
        (`{"users": [...]}`)."""
        return data[self.name]


# Pulled in this order: rostering before the gradebook that refers to it.
ONEROSTER_REST_COLLECTIONS: tuple[OneRosterCollection, ...] = (
    OneRosterCollection("orgs", "rostering", "oneroster_rest_orgs"),
    OneRosterCollection("academicSessions", "rostering", "oneroster_rest_academic_sessions"),
    OneRosterCollection("courses", "rostering", "oneroster_rest_courses"),
    OneRosterCollection("classes", "rostering", "oneroster_rest_classes"),
    OneRosterCollection("users", "rostering", "oneroster_rest_users"),
    OneRosterCollection("enrollments", "rostering", "oneroster_rest_enrollments"),
    OneRosterCollection("demographics", "rostering", "oneroster_rest_demographics", optional=True),
    OneRosterCollection("lineItems", "gradebook", "oneroster_rest_line_items"),
    OneRosterCollection("results", "gradebook", "oneroster_rest_results"),
    OneRosterCollection("categories", "gradebook", "oneroster_rest_categories", optional=True),
    OneRosterCollection("scoreScales", "gradebook", "oneroster_rest_score_scales", optional=True),
)

ONEROSTER_REST_TABLES: tuple[str, ...] = tuple(c.table for c in ONEROSTER_REST_COLLECTIONS)


@dataclass(frozen=True)
class OneRosterRestSettings:
    """One OneRoster 1.2 REST service to pull, and how."""

    name: str  # the source name (config `name`); the caller stores it as _source
    # The service root, e.g. https://sis.example.edu/ims/oneroster; `rostering/v1p2/...` and
    # `gradebook/v1p2/...` are joined to it.
    base_url: str
    token_url: str  # the OAuth 2 token endpoint
    client_id: str
    client_secret: str = field(repr=False)
    # Where the id and secret came from, shown in errors instead of them: "$ONEROSTER_CLIENT_ID
    # / $ONEROSTER_CLIENT_SECRET".
    secret_from: str
    scope: str | None = None  # space-separated; None: DEFAULT_SCOPE
    page_size: int = 100  # `limit`; keep it within the service's maximum (see pages_by_offset)
    overlap: timedelta = timedelta(minutes=60)  # deltas start this far before the watermark
    http: HttpSettings = DEFAULT_SETTINGS

    def __post_init__(self) -> None:
        if self.page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {self.page_size}")
        if self.overlap < timedelta(0):
            raise ValueError(f"overlap must not be negative, not {self.overlap}")

    @classmethod
    def from_config(
        cls, source: OneRosterRestSource, environ: Mapping[str, str] = os.environ
    ) -> OneRosterRestSettings:
        """Settings for a `pathways.yaml` OneRoster REST source; the client id and secret are
        read from the environment variables the source names."""
        client_id, client_secret = client_credentials_from_env(
            environ,
            source.client_id_env,
            source.client_secret_env,
            source=f"OneRoster REST source {source.name!r}",
            issuer="the district's OneRoster service",
        )
        options = source.http
        return cls(
            name=source.name,
            base_url=source.base_url,
            token_url=source.token_url,
            client_id=client_id,
            client_secret=client_secret,
            secret_from=f"${source.client_id_env} / ${source.client_secret_env}",
            scope=source.scope,
            page_size=source.page_size,
            overlap=timedelta(minutes=source.overlap_minutes),
            http=HttpSettings.from_options(options),
        )


def oneroster_rest_client(
    settings: OneRosterRestSettings, stats: RequestStats | None = None
) -> ApiClient:
    """An API client for the OneRoster service, buying its access tokens with the settings'
    client credentials (and buying a new one when the service answers 401)."""
    return ApiClient(
        settings.base_url,
        OAuth2ClientCredentials(
            token_url=settings.token_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            scope=settings.scope or DEFAULT_SCOPE,
            secret_from=settings.secret_from,
        ),
        settings.http,
        stats=stats,
    )


def oneroster_rest_pages(
    client: ApiClient,
    settings: OneRosterRestSettings,
    state: StreamState,
    *,
    now: datetime | None = None,
) -> OneRosterRestPull:
    """Every page of every OneRoster collection, lazily: in full the first time, then what
    changed since; resuming where `state` says. `now` (default: the current time) bounds a
    watermark that lies in the future (a clock that was wrong on an earlier night)."""
    return OneRosterRestPull(client, settings, state, now=now)


class OneRosterRestPull(ApiPull):
    """The pages of one pull, in order; after (or during) the pull, `warnings` lists the
    optional collections the service refused or does not have."""

    def delta_filter(self, collection: OneRosterCollection) -> str | None:
        """The `filter` of the collection's listing: None for a full pull (never completed),
        else `dateLastModified>'<watermark - overlap>'`. It depends only on the watermark, which
        moves only when the stream completes, so a resumed stream asks with the same filter."""
        watermark = self.state.watermark(collection.stream)
        if watermark is None:
            return None
        since = min(watermark, self.now) - self.settings.overlap
        return f"dateLastModified>'{oneroster_time(since)}'"

    def work(self) -> Iterator[WorkUnit]:
        """The pull as work a caller may spread over threads: one unit per collection (each
        is paged on its own and only reads checkpoints)."""
        for collection in ONEROSTER_REST_COLLECTIONS:
            if not self.state.is_done(collection.stream):
                yield WorkUnit(collection.stream, partial(self._optional, collection))

    def _optional(self, collection: OneRosterCollection, client: ApiClient) -> Iterator[StreamPage]:
        """A collection's pages; a refused optional collection is a warning, not a failure."""
        try:
            yield from self._collection(collection, client)
        except (PermissionDeniedError, NotFoundError) as exc:
            if not collection.optional:
                raise
            skipped = SkippedStream(
                collection.stream,
                "",
                exc.endpoint,
                exc.status,
                "If the service should offer it, check its base URL and version"
                if exc.status == 404
                else "Ask the district to grant the client the scope that covers it",
            )
            self.warnings.append(skipped)
            logger.warning("%s", skipped)

    def _collection(
        self, collection: OneRosterCollection, client: ApiClient
    ) -> Iterator[StreamPage]:
        """Every page of one collection from its saved offset (else 0); the last page's cursor
        is None."""
        params: dict[str, str] = {"sort": "sourcedId"}
        delta = self.delta_filter(collection)
        if delta is not None:
            params["filter"] = delta
        offset = self.resume_offset(collection.stream)
        logger.info(
            "%s: %s from offset %d",
            collection.stream,
            f"changes ({delta})" if delta else "full pull",
            offset,
        )
        pages = client.pages_by_offset(
            collection.path,
            params,
            limit=self.settings.page_size,
            items=collection.items,
            offset=offset,
        )
        for page in pages:
            yield StreamPage(
                collection.stream, "", collection.table, _keyed(collection, page), page.next
            )


def _keyed(collection: OneRosterCollection, page: Page) -> list[tuple[str, dict]]:
    """The page's records keyed by sourcedId."""
    keyed = []
    for position, record in enumerate(page.items):
        key = record.get("sourcedId") if isinstance(record, dict) else None
        if not isinstance(key, str) or not key:
            endpoint = urlsplit(page.url).path
            # The position, never the record: it may carry a person's name.
            raise BadResponseError(
                f"{endpoint}: record {position} of a page has no sourcedId, which every "
                "OneRoster record must have. Report it to the service's vendor.",
                endpoint=endpoint,
            )
        keyed.append((key, record))
    return keyed


def oneroster_time(moment: datetime) -> str:
    """A OneRoster DateTime, as filters compare them: UTC, milliseconds, `Z`
    (2026-03-02T01:00:00.000Z)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
