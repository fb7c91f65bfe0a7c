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

Faults (`sample_district.service.Faults`, as the sample LMS's) are drawn once per request from a
seeded generator: a 500 before any work, an answer held `slow_seconds`, or a 200 whose JSON body
is cut in half. A fault never changes data.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from datetime import time as day_time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from models.credentials.jws import parse_datetime
from sample_district.badge_data import (
    TRUST_FOLDER,
    PlatformRecords,
    badge_files_source,
    load_platform_records,
)
from sample_district.service import (
    ClientCredentials,
    Faults,
    HttpError,
    Request,
    Response,
    SampleService,
    ServiceStats,
    basic_credentials,
    bearer_token,
    imsx_error,
    int_param,
    json_response,
    offset_paging_headers,
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
class BadgeStats(ServiceStats):
    """What the sample badge platform has answered since it started."""


class SampleBadgePlatform(SampleService[BadgeStats]):
    """An Open Badges 3.0, Badgr and Credly compatible server over a generated district, on
    loopback."""

    thread_name = "sample-badges"

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
        super().__init__(host=host, port=port, faults=faults or Faults(), stats=BadgeStats())
        self._oauth = ClientCredentials(
            client_id, client_secret, OB3_SCOPES, ttl=token_ttl, realm="ob3"
        )
        self._badgr_token, self._credly_token = badgr_token, credly_token

    # Where it answers -----------------------------------------------------------------------

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

    # Serving --------------------------------------------------------------------------------

    def _fault_response(self, path: str) -> Response:
        if path.startswith(OB3_PREFIX):
            return imsx_error(500, "internal_server_error", "Internal server error").response
        if path.startswith(BADGR_PREFIX):
            return json_response({"detail": "A server error occurred."}, 500)
        if path.startswith(CREDLY_PREFIX):
            return json_response({"data": {"message": "Internal Server Error"}}, 500)
        return json_response({"error": "server_error"}, 500)

    def _bug_response(self, error: Exception) -> Response:
        return json_response({"error": f"server error: {error}"}, 500)

    def _route(self, request: Request) -> Response:
        path = request.path
        if path == TOKEN_PATH:
            return self._oauth.issue(request)
        if request.method != "GET":
            raise HttpError(json_response({"error": "method not allowed"}, 405))
        if path.startswith(OB3_PREFIX + "/"):
            return self._ob3_credentials(request)
        if path.startswith(BADGR_PREFIX + "/"):
            return self._badgr_route(request)
        if path.startswith(CREDLY_PREFIX + "/"):
            return self._credly_route(request)
        raise HttpError(json_response({"error": "not found"}, 404))

    # Open Badges 3.0 ------------------------------------------------------------------------

    def _ob3_credentials(self, request: Request) -> Response:
        scopes = self._oauth.granted(request)
        if scopes is None:
            raise imsx_error(
                401,
                "unauthorizedrequest",
                "The access token is missing, unknown or expired.",
                [("WWW-Authenticate", 'Bearer error="invalid_token"')],
            )
        if request.path != OB3_PREFIX + "/credentials":
            raise imsx_error(404, "unknown", f"No such endpoint: {request.path}")
        if OB3_SCOPE_CREDENTIALS not in scopes:
            raise imsx_error(
                403, "forbidden", "The token's scope does not include credential.readonly"
            )
        limit = int_param(request.get("limit"), OB3_DEFAULT_LIMIT, "limit", 1, _ob3_bad_parameter)
        limit = min(limit, OB3_MAX_LIMIT)
        offset = int_param(request.get("offset"), 0, "offset", 0, _ob3_bad_parameter)
        since_text = request.get("since")
        since = parse_datetime(since_text) if since_text else None
        if since_text and since is None:
            raise imsx_error(
                400, "invalid_query_parameter", f"since: {since_text!r} is not an ISO 8601 time"
            )
        records = self._ob3.issued_after(since)
        page = records[offset : offset + limit]
        body = {
            "credential": [r["credential"] for r in page if "credential" in r],
            "compactJwsString": [r["compactJws"] for r in page if "compactJws" in r],
        }
        headers = offset_paging_headers(request, limit=limit, offset=offset, total=len(records))
        return json_response(body, headers=headers)

    # Badgr ----------------------------------------------------------------------------------

    def _badgr_route(self, request: Request) -> Response:
        token = bearer_token(request)
        if not token or not hmac.compare_digest(token.encode(), self._badgr_token.encode()):
            raise HttpError(
                json_response(
                    {"detail": "Authentication credentials were not provided."},
                    401,
                    [("WWW-Authenticate", 'Bearer realm="api"')],
                )
            )
        rest = request.path[len(BADGR_PREFIX) :]
        index = self._badgr
        routes: Sequence[tuple[str, Callable[[str], Response]]] = (
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

    def _badgr_assertions(self, request: Request, assertions: list[dict]) -> Response:
        now = datetime.now(UTC)
        if (request.get("include_expired") or "").lower() not in ("1", "true"):
            assertions = [
                a for a in assertions if not a["expires"] or parse_datetime(a["expires"]) >= now
            ]
        if (request.get("include_revoked") or "").lower() not in ("1", "true"):
            assertions = [a for a in assertions if not a["revoked"]]
        recipients = request.all("recipient")
        if recipients:
            assertions = [a for a in assertions if a["recipient"]["identity"] in recipients]
        return self._badgr_list(request, assertions)

    def _badgr_list(self, request: Request, items: list[dict]) -> Response:
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

    def _credly_route(self, request: Request) -> Response:
        user, _password = basic_credentials(request)
        if not user or not hmac.compare_digest(user.encode(), self._credly_token.encode()):
            raise HttpError(
                json_response(
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
            return json_response({"data": index.organization})
        if collection == "badge_templates":
            if item:
                return json_response({"data": index.template(item)})
            return _credly_page(request, index.templates)
        if item:
            return json_response({"data": index.badge(item)})
        return _credly_page(
            request, index.badges_matching(request.get("filter"), request.get("sort"))
        )


# Indexes over the stored records --------------------------------------------------------------


class _Ob3Index:
    """The OB 3.0 API's credentials in issue order (then id), for stable offset paging."""

    def __init__(self, records: PlatformRecords) -> None:
        keyed = []
        for record in records.ob3:
            keyed.append((parse_datetime(record["issued"]), _record_id(record), record))
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
    moment = parse_datetime(badge[field])
    return moment >= bound if is_min else moment <= bound


def _credly_bound(value: str, is_min: bool) -> datetime | None:
    """A filter date: a bare date covers the whole day (from its start / to its end)."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        day = datetime.fromisoformat(value).date()
        moment = datetime.combine(day, day_time(0) if is_min else day_time.max, tzinfo=UTC)
        return moment
    return parse_datetime(value)


def _credly_page(request: Request, items: list[dict]) -> Response:
    page = int_param(request.get("page"), 1, "page", 1, _credly_bad_parameter)
    per = int_param(request.get("per"), CREDLY_PER_PAGE, "per", 1, _credly_bad_parameter)
    per = min(per, CREDLY_MAX_PER)
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
    return json_response({"data": chosen, "metadata": metadata})


# Small helpers --------------------------------------------------------------------------------


def _record_id(record: dict[str, Any]) -> str:
    credential = record.get("credential")
    if isinstance(credential, dict):
        return str(credential.get("id"))
    return str(record.get("compactJws"))


def _ob3_bad_parameter(message: str) -> HttpError:
    return imsx_error(400, "invalid_query_parameter", message)


def _envelope(result: list[dict], headers=None) -> Response:
    """Badgr v2's answer envelope."""
    return json_response(
        {"status": {"success": True, "description": "ok"}, "result": result}, headers=headers
    )


def _badgr_not_found() -> HttpError:
    return HttpError(json_response({"detail": "Not found."}, 404))


def _badgr_cursor(raw: str | None) -> int:
    """The position an opaque cursor stands for (Badgr's are DRF cursor tokens)."""
    if not raw:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        position = dict(parse_qsl(decoded))["o"]
        return max(0, int(position))
    except (binascii.Error, UnicodeDecodeError, KeyError, ValueError):
        raise HttpError(json_response({"detail": "Invalid cursor"}, 404)) from None


def _badgr_cursor_token(position: int) -> str:
    return base64.urlsafe_b64encode(f"o={position}".encode()).decode().rstrip("=")


def _credly_error(status: int, message: str) -> HttpError:
    return HttpError(json_response({"data": {"message": message}}, status))


def _credly_bad_parameter(message: str) -> HttpError:
    return _credly_error(400, message)


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
