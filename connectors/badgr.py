"""Badgr / Canvas Credentials (API v2): the issuers a district configures, their badge classes
and every assertion they awarded, yielded as `StreamPage`s for `pipelines.api_sync` to commit.

Streams, per configured issuer (scope = the issuer's entityId), pulled in this order as one
`WorkUnit` per issuer:

- `badgr.issuer` → `raw.badgr_issuers`: the issuer itself (its name, OB 2.0 id), one record;
- `badgr.badgeclasses` → `raw.badgr_badgeclasses`: its badge classes (name, description,
  criteria, alignments), which the assertions name by entityId;
- `badgr.assertions` → `raw.badgr_assertions`: its assertions, expired and revoked ones too
  (`include_expired=true&include_revoked=true` is always sent: a revocation must be seen to be
  applied).

`_key` is Badgr's `entityId` in every table; `_record` is the object as Badgr sends it inside its
envelope. Assertions carry the recipient's identity (often a plain email in
`plaintextIdentity`), so these tables hold personal data.

What this follows, checked against Badgr's own server (repository concentricsky/badgr-server,
apps/issuer/v2_api_urls.py, apps/issuer/api.py, apps/entity/api.py, apps/entity/serializers.py,
apps/mainsite/pagination.py, apps/issuer/serializers_v2.py) and Instructure's Canvas
Credentials developer docs (developerdocs.instructure.com/services/credentials: API hosts
https://api.badgr.io, api.eu.badgr.io, …; OAuth 2 bearer tokens):

- `GET /v2/issuers/{entityId}`, `/v2/issuers/{entityId}/badgeclasses` and
  `/v2/issuers/{entityId}/assertions` exist; every v2 answer is the envelope
  `{"status": {"success", "description"}, "result": [...]}` (a single object comes as a
  one-item `result`). `status.success == false` is an error naming the endpoint and Badgr's
  description.
- Listings are paged only when `num` is sent (1 to 500; without it Badgr returns everything in
  one answer), by cursor: the next page is the `Link: <…>; rel="next"` URL, followed as given.
- The assertions listing drops expired and revoked assertions unless `include_expired` and
  `include_revoked` are `1`/`true`.
- Assertion fields: entityId, openBadgeId, badgeclass, issuer, recipient {identity, hashed,
  type, plaintextIdentity, salt}, issuedOn, expires, revoked, revocationReason, evidence
  [{url, narrative}], narrative; badge classes: entityId, openBadgeId, name, description,
  criteriaUrl, criteriaNarrative, alignments [{targetName, targetUrl, targetDescription,
  targetFramework, targetCode}], tags.
- An issuer the token's account is not staff on answers 404, like one that does not exist.

Full pull each night: these listings have no "changed since" filter (their only filters are
recipient, num and the include flags), so every night reads every issuer whole; the upsert by
key leaves unchanged records alone. An assertion Badgr deletes (rather than revokes) stays in
raw. Badgr's server also has `/v2/assertions/changed`, a feed across issuers under another
scope; it is not used. The access token is read from the environment as is; Badgr's tokens
expire, and refreshing them is the district's scheduler's job (no refresh grant here).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import quote, urlsplit

from connectors.http import (
    DEFAULT_SETTINGS,
    ApiClient,
    ApiPull,
    BadResponseError,
    BearerToken,
    HttpSettings,
    NotFoundError,
    Page,
    RequestStats,
    StreamPage,
    StreamState,
    WorkUnit,
    api_root_url,
    secret_from_env,
)
from models.config import BadgrSource

logger = logging.getLogger("pathways.badgr")

ISSUER = "badgr.issuer"
BADGECLASSES = "badgr.badgeclasses"
ASSERTIONS = "badgr.assertions"
ISSUERS_TABLE = "badgr_issuers"
BADGECLASSES_TABLE = "badgr_badgeclasses"
ASSERTIONS_TABLE = "badgr_assertions"
BADGR_TABLES: tuple[str, ...] = (ISSUERS_TABLE, BADGECLASSES_TABLE, ASSERTIONS_TABLE)
BADGR_MAX_PAGE_SIZE = 500  # badgr-server's UncachedPaginatedViewMixin.max_per_page
_API_ROOT = "/v2"
# Sent on every assertions request: without them Badgr leaves expired and revoked ones out.
ASSERTION_PARAMS: Mapping[str, str] = {"include_expired": "true", "include_revoked": "true"}


@dataclass(frozen=True)
class BadgrSettings:
    """One Badgr (Canvas Credentials) account to pull, and which issuers."""

    name: str  # the source name (config `name`); the caller stores it as _source
    base_url: str  # the API host, e.g. https://api.badgr.io (/v2 is added)
    token: str = field(repr=False)
    token_from: str  # where the token came from, shown in errors instead of it: "$BADGR_TOKEN"
    issuer_ids: tuple[str, ...]  # entityIds
    page_size: int = 100  # `num`
    http: HttpSettings = DEFAULT_SETTINGS

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= BADGR_MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1 to {BADGR_MAX_PAGE_SIZE}, not {self.page_size}")
        if not self.issuer_ids:
            raise ValueError("name at least one issuer entityId")

    @property
    def api_url(self) -> str:
        """`<base_url>/v2` (a base_url already ending so is kept)."""
        return api_root_url(self.base_url, _API_ROOT)

    @classmethod
    def from_config(
        cls, source: BadgrSource, environ: Mapping[str, str] = os.environ
    ) -> BadgrSettings:
        """Settings for a `pathways.yaml` badgr source; the token is read from the environment
        variable the source names."""
        token = secret_from_env(
            environ,
            source.token_env,
            source=f"Badgr source {source.name!r}",
            remedy="Set it to an access token of a Badgr account that is staff (editor or owner) "
            "on the configured issuers.",
        )
        return cls(
            name=source.name,
            base_url=source.base_url,
            token=token,
            token_from=f"${source.token_env}",
            issuer_ids=tuple(source.issuer_ids),
            page_size=source.page_size,
            http=HttpSettings.from_options(source.http),
        )


def badgr_client(settings: BadgrSettings, stats: RequestStats | None = None) -> ApiClient:
    """An API client for the Badgr API, sending the settings' access token."""
    return ApiClient(
        settings.api_url,
        BearerToken(settings.token, secret_from=settings.token_from),
        settings.http,
        stats=stats,
    )


def badgr_pages(
    client: ApiClient,
    settings: BadgrSettings,
    state: StreamState,
    *,
    now: datetime | None = None,
) -> BadgrPull:
    """Every page of every configured issuer's issuer record, badge classes and assertions,
    lazily, resuming where `state` says."""
    return BadgrPull(client, settings, state, now=now)


class BadgrPull(ApiPull):
    """The pages of one pull of a Badgr account, issuer by issuer."""

    def work(self) -> Iterator[WorkUnit]:
        """One unit per configured issuer: its three streams only read checkpoints, so issuers
        may be pulled side by side."""
        for issuer in self.settings.issuer_ids:
            yield WorkUnit(f"issuer {issuer}", partial(self._issuer_pages, issuer))

    def _issuer_pages(self, issuer: str, client: ApiClient) -> Iterator[StreamPage]:
        quoted = quote(issuer, safe="")
        if not self.state.is_done(ISSUER, issuer):
            path = f"issuers/{quoted}"
            try:
                response = client.get(path)
            except NotFoundError as exc:
                raise NotFoundError(
                    f"Badgr source {self.settings.name!r}: issuer {issuer!r} was not found "
                    f"({exc.endpoint} answered 404). Check `issuer_ids` in pathways.yaml against "
                    "the issuer's URL on the platform, and that the account behind "
                    f"{self.settings.token_from} is staff on that issuer.",
                    endpoint=exc.endpoint,
                    status=exc.status,
                ) from None
            items = _unwrap(_path_of(response.url))(response.data)
            yield StreamPage(ISSUER, issuer, ISSUERS_TABLE, _keyed(items, response.url), None)
        yield from self._listing(
            BADGECLASSES, issuer, BADGECLASSES_TABLE, f"issuers/{quoted}/badgeclasses", {}, client
        )
        yield from self._listing(
            ASSERTIONS,
            issuer,
            ASSERTIONS_TABLE,
            f"issuers/{quoted}/assertions",
            ASSERTION_PARAMS,
            client,
        )

    def _listing(
        self,
        stream: str,
        scope: str,
        table: str,
        path: str,
        params: Mapping[str, str],
        client: ApiClient,
    ) -> Iterator[StreamPage]:
        """Every page of one listing, from its saved next-page URL when it has one; the last
        page's cursor is None."""
        if self.state.is_done(stream, scope):
            return
        items = _unwrap(f"{_path_of(client.base_url)}/{path}")
        cursor = self.state.resume_cursor(stream, scope)
        if cursor is not None:
            pages: Iterator[Page] = client.pages_by_link(cursor, items=items)
        else:
            query = {**params, "num": self.settings.page_size}
            pages = client.pages_by_link(path, query, items=items)
        for page in pages:
            yield StreamPage(stream, scope, table, _keyed(page.items, page.url), page.next)


def _unwrap(endpoint: str) -> Callable[[Any], list[Any]]:
    """Badgr v2's envelope → its `result` list; `status.success == false` is an error."""

    def items(data: Any) -> list[Any]:
        if not isinstance(data, dict) or "result" not in data:
            raise BadResponseError(
                f"{endpoint}: the answer is not Badgr's v2 envelope ({{status, result}}). Check "
                "that base_url is the Badgr API host (e.g. https://api.badgr.io), not the web "
                "app.",
                endpoint=endpoint,
            )
        status = data.get("status")
        if isinstance(status, dict) and status.get("success") is False:
            description = str(status.get("description") or "no description given")[:300]
            raise BadResponseError(
                f"{endpoint}: Badgr reported a failure (status.success is false): "
                f"{description!r}. Check the issuer id and the token's permissions; if it "
                "persists, report it to the platform.",
                endpoint=endpoint,
            )
        result = data["result"]
        if not isinstance(result, list):
            raise BadResponseError(
                f"{endpoint}: Badgr's `result` is a {type(result).__name__}, not a list.",
                endpoint=endpoint,
            )
        return result

    return items


def _keyed(items: list[Any], url: str) -> list[tuple[str, dict]]:
    """The records keyed by entityId."""
    keyed = []
    for position, item in enumerate(items):
        key = item.get("entityId") if isinstance(item, dict) else None
        if not isinstance(key, str) or not key:
            endpoint = _path_of(url)
            # The position, never the record: it may carry a learner's email.
            raise BadResponseError(
                f"{endpoint}: record {position} of a page has no entityId, which every Badgr v2 "
                "record has. Check that base_url is the Badgr API; report it to the platform.",
                endpoint=endpoint,
            )
        keyed.append((key, item))
    return keyed


def _path_of(url: str) -> str:
    return urlsplit(url).path.rstrip("/") or "/"
