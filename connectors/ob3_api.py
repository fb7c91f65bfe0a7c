"""Open Badges 3.0 API: the credentials a district's badge platform has issued, read with
getCredentials and OAuth 2 client credentials, and yielded as `StreamPage`s for
`pipelines.api_sync` to commit.

One stream, `ob3_api.credentials` (scope ""), written to `raw.ob3_api_credentials`:

- `_key` is the credential's `id`. A credential signed as a VC-JWT arrives as a compact JWS: its
  payload is base64url-decoded WITHOUT verifying it (verification is `models.credentials`' job,
  later) to read the id: the payload's `id`, else `vc.id` (VC Data Model 1.1 JWTs), else `jti`.
  A credential with no readable id is keyed `sha256:<hex>` of the token (or of its canonical
  JSON), so it is still stored, once.
- `_record` is the credential JSON object as received, or `{"compactJws": "<token>"}`.

What this follows, checked against 1EdTech's Open Badges 3.0 specification (repository
1EdTech/openbadges-specification, files ob_v3p0/ob_v3p0.lines, the API's service and data
model, and ob_v3p0/api.html, its prose; ob_v3p0/integrity.md for the VC-JWT claims):

- `GET <base>/ims/ob/v3p0/credentials` with `limit` (positive), `offset` (zero-indexed) and
  `since` ("Only include OpenBadgeCredentials issued after this timestamp"), under the scope
  `https://purl.imsglobal.org/spec/ob/v3p0/scope/credential.readonly`.
- The answer is a GetOpenBadgeCredentialsResponse: `credential` (credentials not signed as
  VC-JWT) and `compactJwsString` (those that are). The example in api.html spells the second
  `compactJwsStrings`; both spellings are read.
- Paging: the server MUST send `Link` when the list is incomplete, with `rel="next"`, and
  `X-Total-Count` when it knows the total. Pathways pages by `offset`, and decides whether a
  next page exists from the Link header when there is one (so a server that caps `limit` below
  page_size is still read to the end) and otherwise from a short page. The next link's URL is
  not requested as such: our own `limit`/`offset`/`since` are, so a server whose links drop
  `since` cannot turn a delta into a full read. The total count is never trusted to stop.
- Auth: the 3.0 API is specified with the OAuth 2 authorization-code grant and dynamic client
  registration; the spec expects system-to-system client-credentials transfers but leaves them
  out of scope. Pathways uses client credentials (a nightly job has no user at a browser), so
  the district's platform must offer them; the authorization-code flow is not implemented.

Incremental: once the stream has completed, the next sync asks `since` = that sync's start less
`overlap` (and never after now). `since` filters on issuance, so a credential the platform
changes or re-signs after it was issued is not read again by a delta; a revocation is in its
status list, which verification reads, not in the credential. For a full re-read, give the
source a new name (or clear its checkpoints). The watermark moves only when the stream
completes, so an interrupted pull resumes at its saved offset with the same `since`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from connectors.http import (
    DEFAULT_SETTINGS,
    ApiClient,
    ApiPull,
    BadResponseError,
    HttpSettings,
    JsonResponse,
    OAuth2ClientCredentials,
    RequestStats,
    StreamPage,
    StreamState,
    WorkUnit,
    api_root_url,
    client_credentials_from_env,
    next_link,
)
from models.config import OB3_CREDENTIAL_READONLY_SCOPE, Ob3ApiSource
from models.credentials.platforms import compact_jws_payload

logger = logging.getLogger("pathways.ob3_api")

STREAM = "ob3_api.credentials"
TABLE = "ob3_api_credentials"
OB3_API_TABLES: tuple[str, ...] = (TABLE,)
# The API's root under the service's base URL (OB 3.0 ApiServiceModel: REST /ims/ob/v3p0).
API_ROOT = "/ims/ob/v3p0"
CREDENTIALS_PATH = "credentials"
# The second array's name: the data model's, then the spelling of api.html's example.
JWS_KEYS = ("compactJwsString", "compactJwsStrings")


@dataclass(frozen=True)
class Ob3ApiSettings:
    """One Open Badges 3.0 service to pull, and how."""

    name: str  # the source name (config `name`); the caller stores it as _source
    base_url: str  # the service root; /ims/ob/v3p0 is added unless it is already there
    token_url: str  # the OAuth 2 token endpoint
    client_id: str
    client_secret: str = field(repr=False)
    secret_from: str  # where the id and secret came from, shown in errors instead of them
    scope: str = OB3_CREDENTIAL_READONLY_SCOPE
    page_size: int = 100  # `limit`
    overlap: timedelta = timedelta(minutes=60)  # `since` starts this far before the watermark
    http: HttpSettings = DEFAULT_SETTINGS

    def __post_init__(self) -> None:
        if self.page_size < 1:
            raise ValueError(f"page_size must be at least 1, not {self.page_size}")
        if self.overlap < timedelta(0):
            raise ValueError(f"overlap must not be negative, not {self.overlap}")

    @property
    def api_url(self) -> str:
        """`<base_url>/ims/ob/v3p0` (a base_url already ending so is kept)."""
        return api_root_url(self.base_url, API_ROOT)

    @classmethod
    def from_config(
        cls, source: Ob3ApiSource, environ: Mapping[str, str] = os.environ
    ) -> Ob3ApiSettings:
        """Settings for a `pathways.yaml` ob3_api source; the client id and secret are read from
        the environment variables the source names."""
        client_id, client_secret = client_credentials_from_env(
            environ,
            source.client_id_env,
            source.client_secret_env,
            source=f"Open Badges 3.0 source {source.name!r}",
            issuer="the badge platform",
        )
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
            http=HttpSettings.from_options(source.http),
        )


def ob3_api_client(settings: Ob3ApiSettings, stats: RequestStats | None = None) -> ApiClient:
    """An API client for the service, buying access tokens with the client credentials."""
    return ApiClient(
        settings.api_url,
        OAuth2ClientCredentials(
            token_url=settings.token_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            scope=settings.scope,
            secret_from=settings.secret_from,
        ),
        settings.http,
        stats=stats,
    )


def ob3_api_pages(
    client: ApiClient,
    settings: Ob3ApiSettings,
    state: StreamState,
    *,
    now: datetime | None = None,
) -> Ob3ApiPull:
    """Every page of the service's credentials, lazily: all of them the first time, then those
    issued since the last complete sync (less the overlap); resuming where `state` says."""
    return Ob3ApiPull(client, settings, state, now=now)


class Ob3ApiPull(ApiPull):
    """The pages of one pull of an Open Badges 3.0 service, in order."""

    def since(self) -> str | None:
        """The `since` argument: None for a full pull, else the watermark less the overlap."""
        watermark = self.state.watermark(STREAM)
        if watermark is None:
            return None
        return ob3_time(min(watermark, self.now) - self.settings.overlap)

    def work(self) -> Iterator[WorkUnit]:
        """One unit: the credentials listing (unless it completed earlier in this sync)."""
        if not self.state.is_done(STREAM):
            yield WorkUnit(STREAM, self._credentials)

    def _credentials(self, client: ApiClient) -> Iterator[StreamPage]:
        limit = self.settings.page_size
        since = self.since()
        offset = self.resume_offset(STREAM)
        logger.info(
            "%s: %s from offset %d",
            STREAM,
            f"credentials issued since {since}" if since else "full pull",
            offset,
        )
        while True:
            params: dict[str, str | int] = {"limit": limit, "offset": offset}
            if since is not None:
                params["since"] = since
            response = client.get(CREDENTIALS_PATH, params)
            records = _keyed(response)
            link = _header(response, "Link")
            more = next_link(link) is not None if link is not None else len(records) >= limit
            if more and not records:
                # An empty page cannot move the offset on: stop rather than ask forever.
                logger.warning(
                    "%s: an empty page at offset %d still links to a next page; treating it as "
                    "the end",
                    STREAM,
                    offset,
                )
                more = False
            offset += len(records)
            if not more:
                _warn_if_short(response, offset, limit)
            yield StreamPage(STREAM, "", TABLE, records, str(offset) if more else None)
            if not more:
                return


def _keyed(response: JsonResponse) -> list[tuple[str, dict]]:
    """The page's credentials, each keyed by its id: the JSON ones, then the JWS ones."""
    endpoint = _path(response.url)
    data = response.data
    if not isinstance(data, dict):
        raise BadResponseError(
            f"{endpoint}: expected a JSON object with `credential` and `compactJwsString` "
            f"arrays, got {type(data).__name__}. Check that base_url is the Open Badges 3.0 "
            "service root (the part before /ims/ob/v3p0).",
            endpoint=endpoint,
            status=response.status,
        )
    jws_key = next((k for k in JWS_KEYS if k in data), JWS_KEYS[0])
    records: list[tuple[str, dict]] = []
    for name, make in (("credential", _json_entry), (jws_key, _jws_entry)):
        entries = data.get(name) or []
        if not isinstance(entries, list):
            raise BadResponseError(
                f"{endpoint}: `{name}` is a {type(entries).__name__}, not a list; the service "
                "does not answer as Open Badges 3.0 getCredentials does. Report it to its vendor.",
                endpoint=endpoint,
                status=response.status,
            )
        for position, entry in enumerate(entries):
            pair = make(entry)
            if pair is None:
                # The position, never the entry: it may carry a learner's name.
                raise BadResponseError(
                    f"{endpoint}: entry {position} of `{name}` is a {type(entry).__name__}, not "
                    f"{'a credential object' if name == 'credential' else 'a compact JWS string'}"
                    ". Report it to the service's vendor.",
                    endpoint=endpoint,
                    status=response.status,
                )
            records.append(pair)
    return records


def _json_entry(entry: Any) -> tuple[str, dict] | None:
    if not isinstance(entry, dict):
        return None
    key = entry.get("id")
    if not isinstance(key, str) or not key.strip():
        canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        key = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    return key, entry


def _jws_entry(entry: Any) -> tuple[str, dict] | None:
    if not isinstance(entry, str) or not entry.strip():
        return None
    token = entry.strip()
    return jws_credential_id(token) or "sha256:" + hashlib.sha256(token.encode()).hexdigest(), {
        "compactJws": token
    }


def jws_credential_id(token: str) -> str | None:
    """The id of the credential a compact JWS carries, read WITHOUT verifying the signature:
    the payload's `id` (VC 2.0: the payload is the credential), else `vc.id` (VC 1.1 JWTs), else
    the `jti` claim, which OB 3.0 requires to equal the credential's id. None if unreadable."""
    payload = compact_jws_payload(token)
    if payload is None:
        return None
    vc = payload.get("vc")
    for candidate in (
        payload.get("id"),
        vc.get("id") if isinstance(vc, dict) else None,
        payload.get("jti"),
    ):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()
    return None


def _warn_if_short(response: JsonResponse, seen: int, limit: int) -> None:
    # The total never decides the end, but a total above what a listing gave hints at a server
    # that caps `limit` without sending a Link header: say so.
    total = _header(response, "X-Total-Count") or ""
    if total.isdigit() and int(total) > seen:
        logger.warning(
            "%s ended after %d credential(s) while X-Total-Count says %s: if the service caps "
            "`limit` below %d, lower the source's page_size",
            _path(response.url),
            seen,
            total,
            limit,
        )


def _header(response: JsonResponse, name: str) -> str | None:
    return next((v for k, v in response.headers.items() if k.lower() == name.lower()), None)


def _path(url: str) -> str:
    return urlsplit(url).path or "/"


def ob3_time(moment: datetime) -> str:
    """An OB 3.0 DateTime (ISO 8601, UTC, `Z`, whole seconds): 2026-03-02T01:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
