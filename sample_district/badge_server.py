"""The sample badge platform: a local HTTP server that answers like a district's three credential
platforms over a generated sample district, so the credential connectors, the nightly demo and
their tests run against something that behaves like the real services: OAuth2 and tokens,
offset, cursor and page-number paging, platform quirks, and injected faults.

It serves what `sample_district.badge_data.write_badge_folder` stored in the district's
`badge_platform/` folder (written first if missing), so starting it signs nothing.

URL layout (one port, `base_url` = http://HOST:PORT; each API is rooted where the real one is,
so a source's `base_url` is just `base_url`):

- Open Badges 3.0 (1EdTech OB 3.0 REST binding, `ob3_url` = BASE/ims/ob/v3p0):
    GET /ims/ob/v3p0/credentials?limit=&offset=&since=
  A bearer token from `token_url` = BASE/oauth/token (client credentials, HTTP Basic or form
  fields; scope `…/ob/v3p0/scope/credential.readonly`). The answer is a
  GetOpenBadgeCredentialsResponse: `credential` (Data Integrity–signed or unsigned JSON-LD) and
  `compactJwsString` (VC-JWTs); `limit` counts both arrays together. `since` keeps credentials
  issued after it (the spec's words). `X-Total-Count`, and `Link` with next, last, first and
  prev. Errors are Imsx_StatusInfo. The spec names the authorization-code grant; it leaves the
  client-credentials grant a nightly job needs out of scope, and this server offers only that.
- Badgr / Canvas Credentials v2 (`badgr_url` = BASE; clients join /v2/…), bearer `badgr_token`:
    GET /v2/issuers | /v2/issuers/:id | /v2/issuers/:id/badgeclasses | /v2/issuers/:id/assertions
        | /v2/badgeclasses/:id | /v2/badgeclasses/:id/assertions | /v2/assertions/:id
  Answers are `{"status": {"success", "description"}, "result": [...]}` (a single object as a
  one-item result). Listings return everything unless `num` (1–500) is sent; then they page by
  an opaque `cursor`, newest first, with `Link: <…>; rel="next"` / `rel="prev"`. Assertion
  listings hide expired assertions unless `include_expired` and revoked ones unless
  `include_revoked` is `1` or `true`, as Badgr's server does (expired means now, on the wall
  clock). `recipient=` filters by recipient identity.
- Credly (`credly_url` = BASE; clients join /v1/…), HTTP Basic with `credly_token` as the user
  name and an empty password:
    GET /v1/organizations/:org | /v1/organizations/:org/badges | /v1/organizations/:org/badges/:id
        | /v1/organizations/:org/badge_templates
  Listings answer `{"data": [...], "metadata": {count, current_page, total_count, total_pages,
  per, previous_page_url, next_page_url}}`, 50 a page (`page=`, 1-based; `per=` up to 100 is
  honoured though Credly documents none), `next_page_url` a full URL. `filter=key::value|…` takes
  state (comma list), recipient_email, recipient_email_all, issuer_earner_id,
  badge_template_id and issued_at / updated_at _min / _max (YYYY-MM-DD or an ISO instant);
  `sort=` issued_at, updated_at or created_at, `-` for descending (default -issued_at).

Faults are drawn once per request, in arrival order, from a generator seeded with `Faults.seed`
(`sample_district.lms_server.Faults`, the same as the sample LMS's): a 500 before any work, an
answer held `slow_seconds`, or a 200 whose JSON body is cut in half. A fault never changes data.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from datetime import time as day_time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sample_district.badge_data import (
    TRUST_FOLDER,
    PlatformRecords,
    badge_files_source,
    load_platform_records,
)
from sample_district.lms_server import (
    Faults,
    _basic,
    _bearer,
    _FaultDice,
    _Handler,
    _HttpError,
    _json_response,
    _link_header,
    _Request,
    _Response,
)

OB3_PREFIX = "/ims/ob/v3p0"
TOKEN_PATH = "/oauth/token"
BADGR_PREFIX = "/v2"
CREDLY_PREFIX = "/v1"

OB3_SCOPE_PREFIX = "https://purl.imsglobal.org/spec/ob/v3p0/scope/"
OB3_SCOPE_CREDENTIALS = OB3_SCOPE_PREFIX + "credential.readonly"
OB3_SCOPE_PROFILE = OB3_SCOPE_PREFIX + "profile.readonly"
# Read-only: the platform grants no upsert scope to a nightly reader.
OB3_SCOPES = (OB3_SCOPE_CREDENTIALS, OB3_SCOPE_PROFILE)
OB3_DEFAULT_LIMIT = 100
OB3_MAX_LIMIT = 1000
BADGR_MAX_NUM = 500  # Badgr's UncachedPaginatedViewMixin.max_per_page
CREDLY_PER_PAGE = 50  # metadata.per in Credly's documented answers
CREDLY_MAX_PER = 100

# The environment variables the sample badge platform and a config pointing at it share.
BADGES_CLIENT_ID_ENV = "OB3_CLIENT_ID"
BADGES_CLIENT_SECRET_ENV = "OB3_CLIENT_SECRET"
BADGR_TOKEN_ENV = "BADGR_TOKEN"
CREDLY_TOKEN_ENV = "CREDLY_TOKEN"
BADGE_PLATFORM_ENV = (
    BADGES_CLIENT_ID_ENV,
    BADGES_CLIENT_SECRET_ENV,
    BADGR_TOKEN_ENV,
    CREDLY_TOKEN_ENV,
)

# Source names a config pointed at the sample platform uses.
OB3_SOURCE = "district_badges"
BADGR_SOURCE = "badgr"
CREDLY_SOURCE = "credly"


@dataclass
class BadgeStats:
    """What the server has answered since it started."""

    requests: int = 0
    errors: int = 0  # injected 500s
    timeouts: int = 0  # injected slow answers
    truncated: int = 0  # injected cut bodies
    unauthorized: int = 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    lms: SampleBadgePlatform  # the shared handler calls `server.lms._serve`


class SampleBadgePlatform:
    """An Open Badges 3.0, Badgr and Credly compatible server over a generated district, on
    loopback."""

    def __init__(
        self,
        district_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        client_id: str,
        client_secret: str,
        badgr_token: str,
        credly_token: str,
        faults: Faults | None = None,
        token_ttl: float = 3600.0,
        seed: int = 42,
    ) -> None:
        self.district_dir = Path(district_dir)
        records = load_platform_records(self.district_dir, seed=seed)
        self._ob3 = _Ob3Index(records)
        self._badgr = _BadgrIndex(records)
        self._credly = _CredlyIndex(records)
        self._host, self._port = host, port
        self._client_id, self._client_secret = client_id, client_secret
        self._badgr_token, self._credly_token = badgr_token, credly_token
        self._token_ttl = token_ttl
        self._dice = _FaultDice(faults or Faults())
        self._tokens: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()
        self._stats = BadgeStats()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Life cycle -----------------------------------------------------------------------------

    def start(self) -> SampleBadgePlatform:
        """Listen and serve in a background thread; returns self."""
        server = _Server((self._host, self._port), _Handler)
        server.lms = self
        self._server = server
        self._port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name="sample-badges", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SampleBadgePlatform:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """http://HOST:PORT of the running server."""
        return f"http://{self._host}:{self._port}"

    @property
    def ob3_url(self) -> str:
        """The Open Badges 3.0 API root; clients join `/credentials`."""
        return self.base_url + OB3_PREFIX

    @property
    def token_url(self) -> str:
        """The OAuth2 client-credentials token endpoint of the OB 3.0 API."""
        return self.base_url + TOKEN_PATH

    @property
    def badgr_url(self) -> str:
        """Badgr's API host, as https://api.badgr.io; clients join `/v2/...`."""
        return self.base_url

    @property
    def credly_url(self) -> str:
        """Credly's API host, as https://api.credly.com; clients join `/v1/...`."""
        return self.base_url

    @property
    def badgr_issuer_ids(self) -> tuple[str, ...]:
        """The entityIds of the district's Badgr issuers."""
        return tuple(self._badgr.issuers)

    @property
    def credly_organization_id(self) -> str:
        """The Credly organization's id."""
        return self._credly.organization["id"]

    @property
    def stats(self) -> BadgeStats:
        """A snapshot of the counts of requests and injected faults."""
        with self._lock:
            return replace(self._stats)

    def set_faults(self, faults: Faults) -> None:
        """Change the injected faults at run time (the draw sequence restarts from the seed)."""
        self._dice.set(faults)

    # Serving --------------------------------------------------------------------------------

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self._stats, name, getattr(self._stats, name) + 1)

    def _serve(self, handler: Any) -> None:
        self._count("requests")
        fault, delay = self._dice.roll()
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        origin = f"http://{handler.headers.get('Host') or f'{self._host}:{self._port}'}"
        request = _Request(
            handler.command,
            split.path.rstrip("/") or "/",
            parse_qsl(split.query, keep_blank_values=True),
            handler.headers,
            body,
            origin,
        )
        if fault == "error":
            self._count("errors")
            response = _fault_response(request.path)
        else:
            if fault == "timeout":
                self._count("timeouts")
                time.sleep(delay)
            try:
                response = self._route(request)
            except _HttpError as exc:
                response = exc.response
            except Exception as exc:  # a bug must answer 500, not kill the connection
                response = _json_response({"error": f"server error: {exc}"}, 500)
            if fault == "truncate" and response.status == 200:
                self._count("truncated")
                response = replace(response, body=response.body[: len(response.body) // 2])
        if response.status == 401:
            self._count("unauthorized")
        try:
            handler.send_response(response.status)
            handler.send_header("Content-Type", response.content_type)
            handler.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers:
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (its read timeout passed): nothing left to tell it.
            handler.close_connection = True

    def _route(self, request: _Request) -> _Response:
        path = request.path
        if path == TOKEN_PATH:
            if request.method != "POST":
                raise _HttpError(_json_response({"error": "invalid_request"}, 405))
            return self._token(request)
        if request.method != "GET":
            raise _HttpError(_json_response({"error": "method not allowed"}, 405))
        if path.startswith(OB3_PREFIX + "/"):
            return self._ob3_credentials(request)
        if path.startswith(BADGR_PREFIX + "/"):
            return self._badgr_route(request)
        if path.startswith(CREDLY_PREFIX + "/"):
            return self._credly_route(request)
        raise _HttpError(_json_response({"error": "not found"}, 404))

    # OAuth2 ---------------------------------------------------------------------------------

    def _token(self, request: _Request) -> _Response:
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        client_id, client_secret = _basic(request)
        client_id = client_id or form.get("client_id")
        client_secret = client_secret or form.get("client_secret")
        if not (
            client_id
            and client_secret
            and hmac.compare_digest(client_id.encode(), self._client_id.encode())
            and hmac.compare_digest(client_secret.encode(), self._client_secret.encode())
        ):
            raise _HttpError(
                _json_response(
                    {"error": "invalid_client"}, 401, [("WWW-Authenticate", 'Basic realm="ob3"')]
                )
            )
        if form.get("grant_type") != "client_credentials":
            raise _HttpError(_json_response({"error": "unsupported_grant_type"}, 400))
        asked = form.get("scope", "").split()
        if any(scope not in OB3_SCOPES for scope in asked):
            raise _HttpError(_json_response({"error": "invalid_scope"}, 400))
        granted = frozenset(asked or OB3_SCOPES)
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._tokens = {t: v for t, v in self._tokens.items() if v[0] > now}
            self._tokens[token] = (now + self._token_ttl, granted)
        payload = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": max(1, math.ceil(self._token_ttl)),
            "scope": " ".join(sorted(granted)),
        }
        return _json_response(payload, headers=[("Cache-Control", "no-store")])

    # Open Badges 3.0 ------------------------------------------------------------------------

    def _ob3_credentials(self, request: _Request) -> _Response:
        token = _bearer(request)
        with self._lock:
            entry = self._tokens.get(token or "")
        if entry is None or entry[0] <= time.monotonic():
            raise _imsx(
                401,
                "unauthorizedrequest",
                "The access token is missing, unknown or expired.",
                [("WWW-Authenticate", 'Bearer error="invalid_token"')],
            )
        if request.path != OB3_PREFIX + "/credentials":
            raise _imsx(404, "unknown", f"No such endpoint: {request.path}")
        if OB3_SCOPE_CREDENTIALS not in entry[1]:
            raise _imsx(403, "forbidden", "The token's scope does not include credential.readonly")
        limit = min(_positive(request.get("limit"), OB3_DEFAULT_LIMIT, "limit", 1), OB3_MAX_LIMIT)
        offset = _positive(request.get("offset"), 0, "offset", 0)
        since_text = request.get("since")
        since = _instant(since_text) if since_text else None
        if since_text and since is None:
            raise _imsx(
                400, "invalid_query_parameter", f"since: {since_text!r} is not an ISO 8601 time"
            )
        records = self._ob3.issued_after(since)
        page = records[offset : offset + limit]
        body = {
            "credential": [r["credential"] for r in page if "credential" in r],
            "compactJwsString": [r["compactJws"] for r in page if "compactJws" in r],
        }
        total = len(records)
        links = []
        if offset + limit < total:
            links.append((request.url(limit=str(limit), offset=str(offset + limit)), "next"))
        last = max(0, (total - 1) // limit * limit)
        links.append((request.url(limit=str(limit), offset=str(last)), "last"))
        links.append((request.url(limit=str(limit), offset="0"), "first"))
        if offset > 0:
            links.append(
                (request.url(limit=str(limit), offset=str(max(0, offset - limit))), "prev")
            )
        headers = [("X-Total-Count", str(total)), ("Link", _link_header(links))]
        return _json_response(body, headers=headers)

    # Badgr ----------------------------------------------------------------------------------

    def _badgr_route(self, request: _Request) -> _Response:
        token = _bearer(request)
        if not token or not hmac.compare_digest(token.encode(), self._badgr_token.encode()):
            raise _HttpError(
                _json_response(
                    {"detail": "Authentication credentials were not provided."},
                    401,
                    [("WWW-Authenticate", 'Bearer realm="api"')],
                )
            )
        rest = request.path[len(BADGR_PREFIX) :]
        index = self._badgr
        routes: Sequence[tuple[str, Callable[[str], _Response]]] = (
            (r"/issuers", lambda _: self._badgr_list(request, list(index.issuers.values()))),
            (r"/issuers/([^/]+)", lambda i: _envelope([index.issuer(i)])),
            (
                r"/issuers/([^/]+)/badgeclasses",
                lambda i: self._badgr_list(request, index.badgeclasses_of(i)),
            ),
            (
                r"/issuers/([^/]+)/assertions",
                lambda i: self._badgr_assertions(request, index.assertions_of_issuer(i)),
            ),
            (r"/badgeclasses/([^/]+)", lambda i: _envelope([index.badgeclass(i)])),
            (
                r"/badgeclasses/([^/]+)/assertions",
                lambda i: self._badgr_assertions(request, index.assertions_of_badgeclass(i)),
            ),
            (r"/assertions/([^/]+)", lambda i: _envelope([index.assertion(i)])),
        )
        for pattern, handler in routes:
            match = re.fullmatch(pattern, rest)
            if match:
                return handler(match.group(1) if match.groups() else "")
        raise _badgr_not_found()

    def _badgr_assertions(self, request: _Request, assertions: list[dict]) -> _Response:
        now = datetime.now(UTC)
        if (request.get("include_expired") or "").lower() not in ("1", "true"):
            assertions = [
                a for a in assertions if not a["expires"] or _instant(a["expires"]) >= now
            ]
        if (request.get("include_revoked") or "").lower() not in ("1", "true"):
            assertions = [a for a in assertions if not a["revoked"]]
        recipients = request.all("recipient")
        if recipients:
            assertions = [a for a in assertions if a["recipient"]["identity"] in recipients]
        return self._badgr_list(request, assertions)

    def _badgr_list(self, request: _Request, items: list[dict]) -> _Response:
        """All of a listing, or with `num` one cursor page of it and a Link header."""
        raw = request.get("num")
        try:
            num = int(raw) if raw not in (None, "") else None
        except ValueError:
            num = None  # Badgr paginates only on a readable num
        if num is None:
            return _envelope(items)
        num = min(BADGR_MAX_NUM, max(1, num))
        start = _badgr_cursor(request.get("cursor"))
        page = items[start : start + num]
        links = []
        if start + num < len(items):
            links.append((request.url(cursor=_badgr_cursor_token(start + num)), "next"))
        if start > 0:
            links.append((request.url(cursor=_badgr_cursor_token(max(0, start - num))), "prev"))
        headers = [("Link", ", ".join(f'<{url}>; rel="{rel}"' for url, rel in links))]
        return _envelope(page, headers if links else [])

    # Credly ---------------------------------------------------------------------------------

    def _credly_route(self, request: _Request) -> _Response:
        user, _password = _basic(request)
        if not user or not hmac.compare_digest(user.encode(), self._credly_token.encode()):
            raise _HttpError(
                _json_response(
                    {"data": {"message": "You must be authenticated to access this resource."}},
                    401,
                    [("WWW-Authenticate", 'Basic realm="Credly"')],
                )
            )
        match = re.fullmatch(
            r"/organizations/([^/]+)(?:/(badges|badge_templates)(?:/([^/]+))?)?",
            request.path[len(CREDLY_PREFIX) :],
        )
        index = self._credly
        if not match or match.group(1) != index.organization["id"]:
            raise _credly_error(404, "The requested resource could not be found.")
        collection, item = match.group(2), match.group(3)
        if collection is None:
            return _json_response({"data": index.organization})
        if collection == "badge_templates":
            if item:
                return _json_response({"data": index.template(item)})
            return _credly_page(request, index.templates)
        if item:
            return _json_response({"data": index.badge(item)})
        return _credly_page(
            request, index.badges_matching(request.get("filter"), request.get("sort"))
        )


# Indexes over the stored records --------------------------------------------------------------


class _Ob3Index:
    """The OB 3.0 API's credentials in issue order (then id), for stable offset paging."""

    def __init__(self, records: PlatformRecords) -> None:
        keyed = []
        for record in records.ob3:
            keyed.append((_instant(record["issued"]), _record_id(record), record))
        keyed.sort(key=lambda k: (k[0], k[1]))
        self._issued = [k[0] for k in keyed]
        self._records = [k[2] for k in keyed]

    def issued_after(self, since: datetime | None) -> list[dict[str, Any]]:
        if since is None:
            return self._records
        return [r for at, r in zip(self._issued, self._records, strict=True) if at > since]


class _BadgrIndex:
    def __init__(self, records: PlatformRecords) -> None:
        data = records.badgr
        self.issuers = {i["entityId"]: i for i in data["issuers"]}
        self.badgeclasses = {b["entityId"]: b for b in data["badgeclasses"]}
        # Badgr lists newest first (its cursor orders by -created_at).
        self.assertions = sorted(
            data["assertions"], key=lambda a: (a["createdAt"], a["entityId"]), reverse=True
        )
        self._by_id = {a["entityId"]: a for a in self.assertions}

    def issuer(self, entity_id: str) -> dict:
        if entity_id not in self.issuers:
            raise _badgr_not_found()
        return self.issuers[entity_id]

    def badgeclass(self, entity_id: str) -> dict:
        if entity_id not in self.badgeclasses:
            raise _badgr_not_found()
        return self.badgeclasses[entity_id]

    def assertion(self, entity_id: str) -> dict:
        if entity_id not in self._by_id:
            raise _badgr_not_found()
        return self._by_id[entity_id]

    def badgeclasses_of(self, issuer: str) -> list[dict]:
        self.issuer(issuer)
        return [b for b in self.badgeclasses.values() if b["issuer"] == issuer]

    def assertions_of_issuer(self, issuer: str) -> list[dict]:
        self.issuer(issuer)
        return [a for a in self.assertions if a["issuer"] == issuer]

    def assertions_of_badgeclass(self, badgeclass: str) -> list[dict]:
        self.badgeclass(badgeclass)
        return [a for a in self.assertions if a["badgeclass"] == badgeclass]


_CREDLY_SORTS = ("issued_at", "updated_at", "created_at")
_CREDLY_TIMES = {
    "issued_at_min": ("issued_at", True),
    "issued_at_max": ("issued_at", False),
    "updated_at_min": ("updated_at", True),
    "updated_at_max": ("updated_at", False),
}


class _CredlyIndex:
    def __init__(self, records: PlatformRecords) -> None:
        data = records.credly
        self.organization = data["organization"]
        self.templates = data["badge_templates"]
        self.badges = data["badges"]
        self._badges = {b["id"]: b for b in self.badges}
        self._templates = {t["id"]: t for t in self.templates}

    def badge(self, badge_id: str) -> dict:
        if badge_id not in self._badges:
            raise _credly_error(404, "The requested resource could not be found.")
        return self._badges[badge_id]

    def template(self, template_id: str) -> dict:
        if template_id not in self._templates:
            raise _credly_error(404, "The requested resource could not be found.")
        return self._templates[template_id]

    def badges_matching(self, filter_text: str | None, sort_text: str | None) -> list[dict]:
        badges = self.badges
        for key, value in _credly_filter(filter_text):
            badges = [b for b in badges if _credly_keeps(b, key, value)]
        sort = sort_text or "-issued_at"
        field = sort.lstrip("-")
        if field not in _CREDLY_SORTS:
            raise _credly_error(400, f"Unsupported sort {sort!r}; use one of {_CREDLY_SORTS}")
        # Stable order within equal times, so pages never overlap.
        ordered = sorted(badges, key=lambda b: b["id"])
        return sorted(ordered, key=lambda b: b[field], reverse=sort.startswith("-"))


def _credly_filter(text: str | None) -> list[tuple[str, str]]:
    if not text:
        return []
    pairs = []
    for part in text.split("|"):
        key, separator, value = part.partition("::")
        if not separator:
            raise _credly_error(400, f"Malformed filter {part!r}; write key::value")
        if key not in (
            "state",
            "recipient_email",
            "recipient_email_all",
            "issuer_earner_id",
            "badge_template_id",
            *_CREDLY_TIMES,
        ):
            raise _credly_error(400, f"Unsupported filter key {key!r}")
        if key in _CREDLY_TIMES and _credly_bound(value, _CREDLY_TIMES[key][1]) is None:
            raise _credly_error(400, f"{key}: {value!r} is not a date (YYYY-MM-DD)")
        pairs.append((key, value))
    return pairs


def _credly_keeps(badge: dict, key: str, value: str) -> bool:
    if key == "state":
        return badge["state"] in {v.strip() for v in value.split(",")}
    if key in ("recipient_email", "recipient_email_all"):
        return (badge["recipient_email"] or "").lower() == value.lower()
    if key == "issuer_earner_id":
        return badge["issuer_earner_id"] == value
    if key == "badge_template_id":
        return badge["badge_template"]["id"] == value
    field, is_min = _CREDLY_TIMES[key]
    bound = _credly_bound(value, is_min)
    moment = _instant(badge[field])
    return moment >= bound if is_min else moment <= bound


def _credly_bound(value: str, is_min: bool) -> datetime | None:
    """A filter date: a bare date covers the whole day (from its start / to its end)."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        day = datetime.fromisoformat(value).date()
        moment = datetime.combine(day, day_time(0) if is_min else day_time.max, tzinfo=UTC)
        return moment
    return _instant(value)


def _credly_page(request: _Request, items: list[dict]) -> _Response:
    page = _positive(request.get("page"), 1, "page", 1, credly=True)
    per = min(_positive(request.get("per"), CREDLY_PER_PAGE, "per", 1, credly=True), CREDLY_MAX_PER)
    pages = max(1, -(-len(items) // per))
    chosen = items[(page - 1) * per : page * per]
    metadata = {
        "count": len(chosen),
        "current_page": page,
        "total_count": len(items),
        "total_pages": pages,
        "per": per,
        "previous_page_url": request.url(page=str(page - 1)) if page > 1 else None,
        "next_page_url": request.url(page=str(page + 1)) if page < pages else None,
    }
    return _json_response({"data": chosen, "metadata": metadata})


# Small helpers --------------------------------------------------------------------------------


def _record_id(record: dict[str, Any]) -> str:
    credential = record.get("credential")
    if isinstance(credential, dict):
        return str(credential.get("id"))
    return str(record.get("compactJws"))


def _instant(value: str) -> datetime | None:
    """An ISO 8601 instant, timezone-aware (UTC when it names none); None if unreadable."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _positive(raw: str | None, default: int, name: str, minimum: int, credly: bool = False) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < minimum:
        message = f"{name} must be an integer >= {minimum}"
        raise (
            _credly_error(400, message)
            if credly
            else _imsx(400, "invalid_query_parameter", message)
        )
    return int(raw)


def _imsx(status: int, minor: str, description: str, headers=None) -> _HttpError:
    """An OB 3.0 error: Imsx_StatusInfo."""
    payload = {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        "imsx_codeMinor": {
            "imsx_codeMinorField": [
                {"imsx_codeMinorFieldName": "TargetEndSystem", "imsx_codeMinorFieldValue": minor}
            ]
        },
    }
    return _HttpError(_json_response(payload, status, headers))


def _envelope(result: list[dict], headers=None) -> _Response:
    """Badgr v2's answer envelope."""
    return _json_response(
        {"status": {"success": True, "description": "ok"}, "result": result}, headers=headers
    )


def _badgr_not_found() -> _HttpError:
    return _HttpError(_json_response({"detail": "Not found."}, 404))


def _badgr_cursor(raw: str | None) -> int:
    """The position an opaque cursor stands for (Badgr's are DRF cursor tokens)."""
    if not raw:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        position = dict(parse_qsl(decoded))["o"]
        return max(0, int(position))
    except (binascii.Error, UnicodeDecodeError, KeyError, ValueError):
        raise _HttpError(_json_response({"detail": "Invalid cursor"}, 404)) from None


def _badgr_cursor_token(position: int) -> str:
    return base64.urlsafe_b64encode(f"o={position}".encode()).decode().rstrip("=")


def _credly_error(status: int, message: str) -> _HttpError:
    return _HttpError(_json_response({"data": {"message": message}}, status))


def _fault_response(path: str) -> _Response:
    if path.startswith(OB3_PREFIX):
        return _imsx(500, "internal_server_error", "Internal server error").response
    if path.startswith(BADGR_PREFIX):
        return _json_response({"detail": "A server error occurred."}, 500)
    if path.startswith(CREDLY_PREFIX):
        return _json_response({"data": {"message": "Internal Server Error"}}, 500)
    return _json_response({"error": "server_error"}, 500)


# Pointing a district's config at the platform -------------------------------------------------


def sample_badge_sources(
    base_url: str,
    token_url: str,
    badgr_issuer_ids: Sequence[str],
    credly_organization_id: str,
) -> list[dict[str, Any]]:
    """`sources.credentials` entries for a district served by the sample badge platform (its
    OB 3.0 API, Badgr and Credly) plus its badge folder; credentials named by environment
    variable."""
    return [
        {
            "kind": "ob3_api",
            "name": OB3_SOURCE,
            "base_url": base_url,
            "token_url": token_url,
            "client_id_env": BADGES_CLIENT_ID_ENV,
            "client_secret_env": BADGES_CLIENT_SECRET_ENV,
        },
        {
            "kind": "badgr",
            "name": BADGR_SOURCE,
            "base_url": base_url,
            "token_env": BADGR_TOKEN_ENV,
            "issuer_ids": list(badgr_issuer_ids),
        },
        {
            "kind": "credly",
            "name": CREDLY_SOURCE,
            "base_url": base_url,
            "organization_id": credly_organization_id,
            "token_env": CREDLY_TOKEN_ENV,
        },
        badge_files_source(),
    ]


def point_config_at_badges(config_path: Path, platform: SampleBadgePlatform | str) -> None:
    """Add the sample badge platform (running, or by its base URL) to a generated district's
    `pathways.yaml`: its three APIs and the badge folder as the district's credential sources
    (replacing any listed there) and the trust folder as `verification.trust_dir`."""
    import yaml

    config_path = Path(config_path)
    if isinstance(platform, SampleBadgePlatform):
        base = platform.base_url
        issuer_ids, organization_id = platform.badgr_issuer_ids, platform.credly_organization_id
    else:
        base = platform.rstrip("/")
        records = load_platform_records(config_path.parent)
        issuer_ids = tuple(i["entityId"] for i in records.badgr["issuers"])
        organization_id = records.credly["organization"]["id"]
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config["sources"]["credentials"] = sample_badge_sources(
        base, base + TOKEN_PATH, issuer_ids, organization_id
    )
    config["verification"] = {**(config.get("verification") or {}), "trust_dir": TRUST_FOLDER}
    config_path.write_text(
        yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
