"""Credly: the badges a district's Credly organization has issued, read through Credly's web
service API and yielded as `StreamPage`s for `pipelines.api_sync` to commit.

One stream, `credly.badges` (scope ""), written to `raw.credly_badges`: `_key` is the issued
badge's `id`, `_record` the badge exactly as Credly lists it (state, issued_at, expires_at,
issuer_earner_id, recipient_email, badge_template with its skills, issuer.entities, evidence,
…). Records carry the earner's email and name: personal data.

What this follows, and where it was checked:

- Credly's developer docs (credly.com/docs, pages issued_badges, organizations,
  issuer_authorizations, badge_templates): issued badges live under
  `/v1/organizations/<organization_id>/badges` (base https://api.credly.com); a listing answers
  `{"data": [...], "metadata": {count, current_page, total_count, total_pages, per,
  previous_page_url, next_page_url}}`, and `next_page_url` is a full URL (null on the last
  page). Listings take `filter` (`key::value`, joined with `|`), `sort` and `page`; no
  page-size parameter is documented (`metadata.per` shows 50), so none is sent. Badges carry
  `issuer_earner_id` ("returned in API calls and in reports") and `recipient_email`.
- Authentication is HTTP Basic with the organization's authorization token as the user name
  and an empty password (Credly's docs page on it was not in the stored copies; Credly's API
  clients do this, e.g. the credly-python-api package's documentation).
- Filter keys for issued badges seen in Credly clients: `recipient_email_all`, `state`
  (pending, accepted, revoked, rejected), `badge_template_id`. `updated_at_min` is documented
  for badge templates only; no updated-since filter for issued badges could be confirmed, so
  the organization's badges are read whole every night. The upsert by key leaves unchanged
  badges alone, and a revoked badge keeps its record (state "revoked").

Paging follows `metadata.next_page_url` exactly as Credly gives it (it must stay on base_url's
host: the token is never sent elsewhere); the saved cursor is that URL, so an interrupted pull
resumes at the page it stopped on. Page numbers can shift when badges are issued while the pull
runs: a badge may be read twice (stored once) or be missed tonight and read tomorrow.

Not fetched: an Open Badges 3.0 (signed, did:web) form of an issued badge. No Credly document
describing such a representation reachable through this API was found (only third-party
summaries, which are not Credly's word), so no endpoint is guessed; a district that exports
Credly's Open Badges files can put them in its badge folder (`connectors.badge_files`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from connectors.http import (
    DEFAULT_SETTINGS,
    ApiClient,
    ApiPull,
    BadResponseError,
    BasicToken,
    HttpSettings,
    JsonResponse,
    RequestStats,
    StreamPage,
    StreamState,
    WorkUnit,
    api_root_url,
    secret_from_env,
)
from models.config import CredlySource

logger = logging.getLogger("pathways.credly")

STREAM = "credly.badges"
TABLE = "credly_badges"
CREDLY_TABLES: tuple[str, ...] = (TABLE,)
_API_ROOT = "/v1"


@dataclass(frozen=True)
class CredlySettings:
    """One Credly organization to pull."""

    name: str  # the source name (config `name`); the caller stores it as _source
    base_url: str  # https://api.credly.com (or the sandbox); /v1 is added
    organization_id: str
    token: str = field(repr=False)
    token_from: str  # where the token came from, shown in errors instead of it: "$CREDLY_TOKEN"
    http: HttpSettings = DEFAULT_SETTINGS

    @property
    def api_url(self) -> str:
        """`<base_url>/v1` (a base_url already ending so is kept)."""
        return api_root_url(self.base_url, _API_ROOT)

    @property
    def badges_path(self) -> str:
        """The organization's issued badges, under the API root."""
        return f"organizations/{quote(self.organization_id, safe='')}/badges"

    @classmethod
    def from_config(
        cls, source: CredlySource, environ: Mapping[str, str] = os.environ
    ) -> CredlySettings:
        """Settings for a `pathways.yaml` credly source; the token is read from the environment
        variable the source names."""
        token = secret_from_env(
            environ,
            source.token_env,
            source=f"Credly source {source.name!r}",
            remedy="Set it to the organization's API authorization token (Credly: organization "
            "settings, API tokens; read access is enough).",
        )
        return cls(
            name=source.name,
            base_url=source.base_url,
            organization_id=source.organization_id,
            token=token,
            token_from=f"${source.token_env}",
            http=HttpSettings.from_options(source.http),
        )


def credly_client(settings: CredlySettings, stats: RequestStats | None = None) -> ApiClient:
    """An API client for Credly, authenticating with the organization's token."""
    return ApiClient(
        settings.api_url,
        BasicToken(settings.token, secret_from=settings.token_from),
        settings.http,
        stats=stats,
    )


def credly_pages(
    client: ApiClient,
    settings: CredlySettings,
    state: StreamState,
    *,
    now: datetime | None = None,
) -> CredlyPull:
    """Every page of the organization's issued badges, lazily, resuming where `state` says."""
    return CredlyPull(client, settings, state, now=now)


class CredlyPull(ApiPull):
    """The pages of one pull of a Credly organization."""

    def work(self) -> Iterator[WorkUnit]:
        """One unit: the issued badges (unless they completed earlier in this sync)."""
        if not self.state.is_done(STREAM):
            yield WorkUnit(STREAM, self._badges)

    def _badges(self, client: ApiClient) -> Iterator[StreamPage]:
        url = self.state.resume_cursor(STREAM) or self.settings.badges_path
        logger.info("%s: reading the organization's issued badges", STREAM)
        while True:
            response = client.get(url)
            records, next_url = _page(response)
            if next_url is not None and next_url == response.url:
                raise BadResponseError(
                    f"{_path(response.url)}: metadata.next_page_url points at the page itself; "
                    "stopping rather than looping. Report it to Credly.",
                    endpoint=_path(response.url),
                    status=response.status,
                )
            yield StreamPage(STREAM, "", TABLE, records, next_url)
            if next_url is None:
                return
            url = next_url


def _page(response: JsonResponse) -> tuple[list[tuple[str, dict]], str | None]:
    """The page's badges keyed by id, and the next page's URL (None on the last page)."""
    endpoint = _path(response.url)
    body = response.data
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        got = "an object without a data list" if isinstance(body, dict) else type(body).__name__
        raise BadResponseError(
            f"{endpoint}: expected Credly's listing ({{data: [...], metadata: {{...}}}}), got "
            f"{got}. Check base_url (https://api.credly.com) and organization_id.",
            endpoint=endpoint,
            status=response.status,
        )
    records = []
    for position, badge in enumerate(body["data"]):
        key = badge.get("id") if isinstance(badge, dict) else None
        if not isinstance(key, str) or not key:
            # The position, never the badge: it carries the earner's name and email.
            raise BadResponseError(
                f"{endpoint}: badge {position} of a page has no id. Report it to Credly.",
                endpoint=endpoint,
                status=response.status,
            )
        records.append((key, badge))
    metadata: Any = body.get("metadata")
    if not isinstance(metadata, dict):
        logger.warning("%s: a page without metadata; taking it as the last page", endpoint)
        return records, None
    next_url = metadata.get("next_page_url")
    if next_url is None or next_url == "":
        return records, None
    if not isinstance(next_url, str):
        raise BadResponseError(
            f"{endpoint}: metadata.next_page_url is a {type(next_url).__name__}, not a URL.",
            endpoint=endpoint,
            status=response.status,
        )
    if urlsplit(next_url).scheme:
        return records, next_url  # as given: Credly's URL is followed byte for byte
    # A relative URL (Credly's docs show full ones) is taken relative to the page it came from.
    return records, urljoin(response.url, next_url)


def _path(url: str) -> str:
    return urlsplit(url).path or "/"
