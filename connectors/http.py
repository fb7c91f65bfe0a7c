"""The one HTTP layer every API connector uses: timeouts, retries, throttling, paging and auth.

The Canvas and OneRoster REST connectors do all their HTTP through `ApiClient`, so every source
behaves the same on a bad night:

- every call has a (connect, read) timeout; 429 and 5xx answers, read timeouts and refused
  connections are retried by urllib3 with exponential backoff and jitter, honouring Retry-After;
- Canvas's throttle (a 403 "Rate Limit Exceeded") is backed off and retried, and the client
  slows down by itself when `X-Rate-Limit-Remaining` runs low, before the throttle bites;
- a 200 whose body is not JSON (usually a truncated response) is fetched again;
- pages are followed by `Link: rel="next"` (byte for byte: Canvas's bookmarks are opaque) or by
  limit/offset (stopping on a short page, never trusting a total-count header);
- a static bearer token (Canvas) or OAuth 2 client credentials (OneRoster 1.2), refreshed once
  on a 401.

Every API connector reads its secrets with `secret_from_env` (or `client_credentials_from_env`:
one wording for a missing one) and joins its API's root path to its base URL with `api_root_url`.

Failures raise an `ApiError` subclass whose message names the endpoint and what to check. Tokens
and secrets never reach a log line, an exception, a repr or the stats: URLs shown anywhere go
through `redact_url`, auth objects hide their secrets, and messages are scrubbed of them.

A connector yields `StreamPage`s; its caller commits each page (records and checkpoint in one
transaction) before pulling the next, and `StreamState` is what a connector may ask about those
checkpoints. No Dagster and no DuckDB here.
"""

from __future__ import annotations

import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote, unquote, urlencode, urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase, HTTPBasicAuth
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError
from urllib3.util.retry import Retry

from models.config import ConfigError

logger = logging.getLogger("pathways.http")

# Answers urllib3 retries by itself. 429 is one: urllib3 honours its Retry-After, and what is
# still 429 after those retries is reported as ThrottledError.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_API_METHODS = frozenset({"GET", "HEAD"})
# The token request is a POST, and safe to repeat: it only mints a token.
_TOKEN_METHODS = _API_METHODS | {"POST"}

# Query parameters whose values are never shown (compared in lower case, without a trailing []).
_SECRET_PARAMS = frozenset(
    {
        "access_token",
        "token",
        "client_secret",
        "secret",
        "password",
        "passwd",
        "key",
        "apikey",
        "signature",
        "sig",
        "x-amz-credential",
        "x-amz-security-token",
    }
)
_SECRET_SUFFIXES = ("_token", "-token", "_secret", "_password", "_key", "-key", "signature")
REDACTED = "REDACTED"


@dataclass(frozen=True)
class HttpSettings:
    """How patient and how polite an API client is. The defaults suit a nightly sync."""

    connect_timeout: float = 5.0  # seconds to open a connection
    read_timeout: float = 30.0  # seconds of silence allowed while waiting for an answer
    max_retries: int = 5  # for 429/5xx/timeouts/connection errors (urllib3 Retry total)
    backoff_factor: float = 0.5  # waits grow as factor * 2**n seconds
    backoff_jitter: float = 0.5  # plus up to this many random seconds, so clients spread out
    backoff_max: float = 30.0  # no single wait is longer
    throttle_retries: int = 8  # Canvas 403 "Rate Limit Exceeded"
    bad_json_retries: int = 3  # a 200 whose body is not JSON
    rate_limit_floor: float = 100.0  # X-Rate-Limit-Remaining below this: pause before next call
    slowdown_max: float = 2.0  # the pause at X-Rate-Limit-Remaining 0; shorter nearer the floor
    retry_after_max: int = 300  # a Retry-After longer than this is cut to it
    user_agent: str = "Pathways (+https://github.com/pathways-k12/pathways)"

    @classmethod
    def from_options(cls, options: Any) -> HttpSettings:
        """Settings from a source's `http:` options in pathways.yaml (models.config.HttpOptions)."""
        return cls(
            connect_timeout=options.connect_timeout,
            read_timeout=options.read_timeout,
            max_retries=options.max_retries,
            backoff_factor=options.backoff_factor,
        )


DEFAULT_SETTINGS = HttpSettings()


def api_root_url(base_url: str, root: str) -> str:
    """An API's root URL: the service's `base_url` with the API's root path (e.g. `/api/v1`)
    joined; a base URL that already ends in that path is kept as it is."""
    base = base_url.rstrip("/")
    return base if base.endswith(root) else base + root


def secret_from_env(environ: Mapping[str, str], variable: str, *, source: str, remedy: str) -> str:
    """A source's secret (token, client id or secret) from the environment variable its config
    names, stripped. Unset or empty is a ConfigError naming the source (e.g. "Canvas source
    'lms'"), the variable, and `remedy`: what to set it to. The value never reaches a message."""
    value = environ.get(variable, "").strip()
    if not value:
        raise ConfigError(
            f"{source}: the environment variable {variable} is not set or is empty. {remedy}"
        )
    return value


def client_credentials_from_env(
    environ: Mapping[str, str],
    id_variable: str,
    secret_variable: str,
    *,
    source: str,
    issuer: str,
) -> tuple[str, str]:
    """An OAuth 2 client id and secret from the environment variables a source's config names,
    each read as `secret_from_env` reads it; a missing one says to set both to what `issuer`
    (e.g. "the badge platform") issued to Pathways."""
    remedy = (
        f"Set {id_variable} and {secret_variable} to the OAuth 2 client id and secret {issuer} "
        "issued to Pathways."
    )
    return (
        secret_from_env(environ, id_variable, source=source, remedy=remedy),
        secret_from_env(environ, secret_variable, source=source, remedy=remedy),
    )


@dataclass(frozen=True)
class SkippedStream:
    """An optional stream the service refused (or does not have): no data of it tonight, a
    warning with what to do, and not recorded as done, so the next sync asks again."""

    stream: str  # e.g. "canvas.outcome_results"
    scope: str  # "" or the parent id, e.g. the course id
    endpoint: str  # the path refused (no secrets)
    status: int | None  # the HTTP status of the refusal
    remedy: str  # what a person can do about it

    def __str__(self) -> str:
        of = f" (scope {self.scope})" if self.scope else ""
        answer = "does not have it" if self.status == 404 else "refused it"
        return (
            f"{self.stream}{of} was skipped: the service {answer} ({self.status}) at "
            f"{self.endpoint}. {self.remedy}; the next sync asks again."
        )


@dataclass
class RequestStats:
    """What one client did, for benchmarks and Dagster metadata (no secrets, no URLs)."""

    requests: int = 0  # HTTP requests actually sent, including retries
    retries: int = 0  # retried attempts (urllib3 retries + throttle + bad JSON + 401 refresh)
    throttled: int = 0  # 403 Rate Limit Exceeded / 429 answers
    slowdowns: int = 0  # pauses taken because X-Rate-Limit-Remaining ran low
    server_errors: int = 0  # 5xx answers seen
    timeouts: int = 0  # read/connect timeouts seen
    bad_json: int = 0  # 2xx answers whose body was not JSON
    bytes_received: int = 0  # response bodies of the answers kept

    def as_dict(self) -> dict[str, int]:
        """The counters by name, e.g. for `MaterializeResult(metadata=...)`."""
        return asdict(self)


class ApiError(Exception):
    """An API call failed. The message names the endpoint and what to check."""

    def __init__(self, message: str, endpoint: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint  # the path called, secrets stripped
        self.status = status  # the HTTP status, None when no answer came

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep endpoint and status when the error crosses a process boundary.
        return (type(self), (str(self), self.endpoint, self.status))


class PermissionDeniedError(ApiError):
    """A 403 that is not throttling: the token's user may not read this endpoint."""


class ThrottledError(ApiError):
    """Still throttled (403 Rate Limit Exceeded or 429) after every retry."""


class NotFoundError(ApiError):
    """A 404: the path or an id in it does not exist (or no longer does)."""


class BadResponseError(ApiError):
    """The server answered, but not with something usable (not JSON, a link to another host)."""


class AuthenticationError(ApiError):
    """The token or the client id/secret was refused, or no token could be had."""


class TransportError(ApiError):
    """Retries exhausted on 5xx answers, timeouts or connection errors."""


@dataclass(frozen=True)
class BearerToken:
    """A static API token sent as `Authorization: Bearer …` (Canvas access tokens)."""

    token: str = field(repr=False)
    # Where the token came from, shown in errors instead of it, e.g. "$CANVAS_TOKEN".
    secret_from: str = "the configuration"


@dataclass(frozen=True)
class BasicToken(BearerToken):
    """A static API token sent as the HTTP Basic user name with an empty password (Credly); kept
    out of every message like a bearer token."""


@dataclass
class OAuth2ClientCredentials:
    """OAuth 2 client credentials (OneRoster 1.2): the client id and secret go to `token_url`
    by HTTP Basic auth and buy an access token, which is reused until shortly before it expires
    and fetched again once if the API answers 401."""

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None  # space-separated, e.g. OneRoster's roster-core.readonly scope URL
    # Where the id and secret came from, shown in errors instead of them, e.g. "$ONEROSTER_*".
    secret_from: str = "the configuration"
    _access_token: str | None = field(default=None, init=False, repr=False, compare=False)
    _renew_at: float = field(default=0.0, init=False, repr=False, compare=False)

    def _cached_token(self, now: float) -> str | None:
        return self._access_token if self._access_token and now < self._renew_at else None

    def _keep_token(self, token: str, expires_in: float | None, now: float) -> None:
        # Renew a little before the server's deadline, so a token never expires mid-request.
        lifetime = float("inf") if expires_in is None else expires_in - min(60.0, expires_in / 10)
        self._access_token = token
        self._renew_at = now + lifetime

    def _forget_token(self) -> None:
        self._access_token = None
        self._renew_at = 0.0


@dataclass(frozen=True)
class JsonResponse:
    """One answer, parsed."""

    data: Any = field(repr=False)  # the JSON body (records carry personal data: not in reprs)
    url: str  # the URL that answered
    headers: Mapping[str, str] = field(repr=False)  # case-insensitive
    status: int


@dataclass(frozen=True)
class Page:
    """One page of a paged endpoint."""

    items: list[Any] = field(repr=False)  # the records of this page
    url: str  # the URL this page was fetched from (may contain bookmark tokens; never secrets)
    # Cursor for the NEXT page: the next URL (link paging) or str(next offset) (offset paging);
    # None when this was the last page.
    next: str | None


@dataclass(frozen=True)
class StreamPage:
    """What a connector yields: one page of one stream, ready to be committed with its cursor."""

    stream: str  # e.g. "canvas.enrollments"
    scope: str  # "" for top-level streams, else the parent id (e.g. Canvas course id "1234")
    table: str  # raw table (schema raw), e.g. "canvas_enrollments"
    records: list[tuple[str, dict]] = field(repr=False)  # (stable key, record exactly as received)
    cursor: str | None  # where the NEXT page starts; None means this stream+scope is complete


@dataclass(frozen=True)
class WorkUnit:
    """Streams that depend on nothing else still to come (e.g. every stream of one Canvas
    course): a caller may pull them in a worker thread, with a client of its own, while it
    commits other units' pages. `pages(client)` yields them in order, like a connector."""

    label: str
    pages: Callable[[ApiClient], Iterator[StreamPage]] = field(repr=False)


@runtime_checkable
class StreamState(Protocol):
    """What a connector may ask about its checkpoints (implemented by pipelines.api_sync)."""

    def is_done(self, stream: str, scope: str = "") -> bool:
        """Completed earlier in this (resumed) sync: skip it."""
        ...

    def resume_cursor(self, stream: str, scope: str = "") -> str | None:
        """An interrupted stream's saved cursor in this sync, else None."""
        ...

    def watermark(self, stream: str, scope: str = "") -> datetime | None:
        """Start time (UTC, tz-aware) of the sync in which this stream+scope last completed;
        None if never."""
        ...


class ApiPull(Iterator[StreamPage]):
    """One pull of an API source: its pages in order (iterate it), or the same pages as work a
    caller may spread over threads (`work()`). After or during the pull, `warnings` lists the
    optional streams the service refused."""

    def __init__(
        self, client: ApiClient, settings: Any, state: StreamState, *, now: datetime | None = None
    ) -> None:
        self.client = client
        self.settings = settings
        self.state = state
        self.now = now if now is not None else datetime.now(UTC)
        if self.now.tzinfo is None:
            raise ValueError(f"now must be tz-aware, got {self.now!r}")
        self.warnings: list[SkippedStream] = []
        self._pages = self._pull()

    def work(self) -> Iterator[StreamPage | WorkUnit]:
        """Pages to commit in order, and units whose pages may be pulled in any order."""
        raise NotImplementedError

    def resume_offset(self, stream: str, scope: str = "") -> int:
        """Where an interrupted stream paged by offset starts again: its saved cursor, else 0."""
        cursor = self.state.resume_cursor(stream, scope)
        if cursor is None:
            return 0
        if not cursor.isdigit():
            # Not an offset a connector saved: start over (the upsert absorbs the re-read).
            logger.warning(
                "%s: saved cursor %r is not an offset; reading from the top", stream, cursor[:40]
            )
            return 0
        return int(cursor)

    def __iter__(self) -> ApiPull:
        return self

    def __next__(self) -> StreamPage:
        return next(self._pages)

    def close(self) -> None:
        """Stop pulling (e.g. the caller is shutting down); pages already taken stay taken."""
        self._pages.close()

    def _pull(self) -> Iterator[StreamPage]:
        for item in self.work():
            if isinstance(item, WorkUnit):
                yield from item.pages(self.client)
            else:
                yield item


def redact_url(url: str) -> str:
    """`url` fit for a log line or a message: the values of query parameters named like a secret
    (access_token, client_secret, password, key, signature, …) and any user:password part become
    REDACTED; everything else is left as it was."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    return urlunsplit(
        (
            parts.scheme,
            netloc,
            parts.path,
            _redact_pairs(parts.query),
            _redact_pairs(parts.fragment),
        )
    )


def _redact_pairs(query: str) -> str:
    if not query:
        return query
    pairs = []
    for pair in query.split("&"):
        name, sep, _ = pair.partition("=")
        pairs.append(f"{name}={REDACTED}" if sep and _is_secret_param(name) else pair)
    return "&".join(pairs)


def _is_secret_param(name: str) -> bool:
    name = unquote(name).lower().removesuffix("[]")
    return name in _SECRET_PARAMS or name.endswith(_SECRET_SUFFIXES)


_QUERY_PAIR = re.compile(r"([?&#;])([^=&?#;\s'\"]+)=([^&#;\s'\"]*)")


def _redact_text(text: str) -> str:
    """`text` with the values of secret-named `name=value` query pairs in it REDACTED."""
    return _QUERY_PAIR.sub(
        lambda m: f"{m[1]}{m[2]}={REDACTED}" if _is_secret_param(m[2]) else m[0], text
    )


class _RedactUrlsFilter(logging.Filter):
    """urllib3 logs every URL it requests, retries or is redirected to, at DEBUG: a presigned
    download URL or a next link can carry a signature or a token, so those lines are redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _redact_text(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redact_text(a) if isinstance(a, str) else a for a in record.args)
        return True


for _name in ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry"):
    # A filter on a logger sees only that logger's own records, so each is named.
    logging.getLogger(_name).addFilter(_RedactUrlsFilter())


class _CountingRetry(Retry):
    """urllib3's Retry, counting what it sees and retries into the client's RequestStats."""

    def __init__(self, *args: Any, stats: RequestStats | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stats = stats

    def new(self, **kwargs: Any) -> _CountingRetry:
        # urllib3 makes a new Retry for every attempt; each must keep counting into the same stats.
        retry = super().new(**kwargs)
        retry.stats = self.stats
        return retry

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> _CountingRetry:
        # Called once for every failed attempt, including the last one, which raises here when
        # retries are exhausted (and urllib3 then hands back that last answer).
        if self.stats is not None:
            if _is_timeout(error):
                self.stats.timeouts += 1
            elif response is not None and response.status == 429:
                self.stats.throttled += 1
            elif response is not None and response.status >= 500:
                self.stats.server_errors += 1
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if self.stats is not None:
            self.stats.retries += 1
            self.stats.requests += 1
        return retry


def _is_timeout(error: BaseException | None) -> bool:
    # NewConnectionError (refused, unreachable) subclasses ConnectTimeoutError but is no timeout.
    return isinstance(error, ReadTimeoutError) or (
        isinstance(error, ConnectTimeoutError) and not isinstance(error, NewConnectionError)
    )


class _Bearer(AuthBase):
    """Sets the Authorization header; as an AuthBase it also keeps requests from using ~/.netrc
    and is dropped by requests on a redirect to another host."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


class _CutOffToken(Exception):
    """The token endpoint's answer was cut off; `error` is what to raise if it keeps being."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(str(error))
        self.error = error


class _BrokenBody(Exception):
    """The answer's body broke off or stalled mid-transfer (after urllib3's retries)."""

    def __init__(self, timed_out: bool) -> None:
        super().__init__("the response body broke off mid-transfer")
        self.timed_out = timed_out


ParamValue = str | int | float | bool | Sequence[str | int]
Params = Mapping[str, ParamValue]


class ApiClient:
    """An HTTP client for one API, with Pathways' timeouts, retries, throttling and auth.

    `base_url` may carry a path prefix (`https://district.instructure.com/api/v1`); relative
    paths join under it. A full URL (a resumed `Page.next`, a next-page link) must have
    base_url's scheme, host and port: the token is never sent anywhere else.
    """

    def __init__(
        self,
        base_url: str,
        auth: BearerToken | OAuth2ClientCredentials | None,
        settings: HttpSettings = DEFAULT_SETTINGS,
        *,
        stats: RequestStats | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL, got {redact_url(base_url)!r}")
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.settings = settings
        self.stats = stats if stats is not None else RequestStats()
        self._sleep = sleep
        self._origin = _origin(base_url)
        self._pause = 0.0  # seconds to wait before the next request (rate limit running low)
        self._session = requests.Session()
        self._session.headers.update(
            {"User-Agent": settings.user_agent, "Accept": "application/json"}
        )
        api = HTTPAdapter(max_retries=self._retry(_API_METHODS))
        self._session.mount("http://", api)
        self._session.mount("https://", api)
        if isinstance(auth, OAuth2ClientCredentials):
            # The longest mounted prefix wins: only the token URL may retry a POST.
            self._session.mount(
                auth.token_url, HTTPAdapter(max_retries=self._retry(_TOKEN_METHODS))
            )

    def __repr__(self) -> str:
        return f"ApiClient({redact_url(self.base_url)!r}, auth={self.auth!r})"

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def get(self, path_or_url: str, params: Params | None = None) -> JsonResponse:
        """GET one JSON resource. `params` values that are sequences become repeated keys
        (`{"include[]": ["term", "teachers"]}` → `include[]=term&include[]=teachers`, URL-encoded);
        booleans become `true`/`false`."""
        return self._get_json(self._resolve(path_or_url), _query_pairs(params))

    def pages_by_link(
        self,
        path_or_url: str,
        params: Params | None = None,
        *,
        items: Callable[[Any], list[Any]] | None = None,
    ) -> Iterator[Page]:
        """Every page of a listing paged by `Link: <…>; rel="next"` (Canvas), lazily.

        The next URL is requested exactly as the server gave it. `path_or_url` may be a
        `Page.next` saved earlier, to resume there (then `params` are already in it). `items`
        picks the records out of a page's JSON; by default the JSON must be the list itself.
        """
        url, query = self._resolve(path_or_url), _query_pairs(params)
        while True:
            response = self._get_json(url, query)
            records = self._records(response, items)
            next_url = next_link(response.headers.get("Link"))
            if next_url is not None:
                next_url = urljoin(response.url, next_url)
                self._check_origin(next_url, BadResponseError, "the next-page link")
                if next_url == response.url:
                    raise self._error(
                        BadResponseError,
                        f"{_endpoint(url)} links to itself as its next page; stopping rather "
                        "than looping. The API is misbehaving: report it to its vendor.",
                        url,
                    )
            yield Page(items=records, url=response.url, next=next_url)
            if next_url is None:
                return
            url, query = next_url, []

    def pages_by_offset(
        self,
        path: str,
        params: Params | None = None,
        *,
        limit: int,
        items: Callable[[Any], list[Any]],
        offset: int = 0,
    ) -> Iterator[Page]:
        """Every page of a listing paged by `limit`/`offset` (OneRoster REST), lazily, from
        `offset` on (to resume).

        A page shorter than `limit` (or empty) is the last; a total-count header
        (X-Total-Count) is never trusted. Keep `limit` within the server's maximum: a server that
        silently caps it returns short pages, which read as the end.
        """
        if limit < 1 or offset < 0:
            raise ValueError(f"limit must be >= 1 and offset >= 0, got {limit} and {offset}")
        query = _query_pairs(params)
        if any(name in ("limit", "offset") for name, _ in query):
            raise ValueError("pass limit and offset as arguments, not in params")
        url = self._resolve(path)
        while True:
            response = self._get_json(url, [*query, ("limit", str(limit)), ("offset", str(offset))])
            records = self._records(response, items)
            more = len(records) >= limit
            next_offset = offset + len(records)
            if not more:
                self._warn_if_capped(response, next_offset, limit)
            yield Page(items=records, url=response.url, next=str(next_offset) if more else None)
            if not more:
                return
            offset = next_offset

    def _warn_if_capped(self, response: JsonResponse, seen: int, limit: int) -> None:
        # The total-count header never decides where a listing ends, but when it says there is
        # more than a short page left us with, the server may be capping `limit`: say so.
        total = next((v for k, v in response.headers.items() if k.lower() == "x-total-count"), "")
        if total.isdigit() and int(total) > seen:
            logger.warning(
                "%s ended on a short page after %d record(s) while X-Total-Count says %s: "
                "if the server caps `limit` below %d, lower the source's page_size",
                _endpoint(response.url),
                seen,
                total,
                limit,
            )

    # -- one JSON GET, with everything that can go wrong -------------------------------------

    def _get_json(self, url: str, query: list[tuple[str, str]]) -> JsonResponse:
        url = _with_query(url, query)
        settings = self.settings
        first_request = self.stats.requests
        throttles = bad_bodies = broken = 0
        refreshed = False
        while True:
            try:
                response = self._send(requests.Request("GET", url, auth=self._authorization()))
            except _BrokenBody as exc:
                if exc.timed_out:
                    self.stats.timeouts += 1
                if broken >= settings.max_retries:
                    raise self._error(
                        TransportError,
                        f"{_endpoint(url)}: the answer broke off mid-transfer "
                        f"{broken + 1} time(s) in a row. The network or the server is unstable; "
                        "try again later.",
                        url,
                    ) from None
                broken += 1
                self._back_off(broken)
                continue
            status = response.status_code
            if status == 401 and not refreshed and isinstance(self.auth, OAuth2ClientCredentials):
                # Tokens can be revoked or expire early: fetch a new one, once.
                refreshed = True
                self.auth._forget_token()
                self.stats.retries += 1
                continue
            if _is_throttle(response):
                if status == 429:  # urllib3 already waited and retried it, and counted it
                    raise self._error(
                        ThrottledError,
                        f"{_endpoint(url)} was still throttled (429) after "
                        f"{self.stats.requests - first_request} attempt(s) honouring Retry-After. "
                        "Run the sync when the API is less busy, or raise max_retries.",
                        url,
                        status,
                    )
                self.stats.throttled += 1
                if throttles >= settings.throttle_retries:
                    raise self._error(
                        ThrottledError,
                        f"{_endpoint(url)} was still throttled (403 Rate Limit Exceeded) after "
                        f"{throttles} backed-off retries. Another integration may be using the "
                        "same token's quota; use a token of its own, or raise throttle_retries.",
                        url,
                        status,
                    )
                throttles += 1
                logger.info("%s throttled (403); backing off (retry %d)", _endpoint(url), throttles)
                self._back_off(throttles)
                continue
            if not 200 <= status < 300:
                raise self._status_error(response, url, self.stats.requests - first_request)
            try:
                data = _json_body(response)
            except ValueError as exc:
                self.stats.bad_json += 1
                if bad_bodies >= settings.bad_json_retries:
                    raise self._error(
                        BadResponseError,
                        f"{_endpoint(url)} answered {status} with a body that is not JSON "
                        f"{bad_bodies + 1} time(s) in a row ({_json_error(exc, response)}). "
                        "Check that base_url points at the API, not a login or proxy page.",
                        url,
                        status,
                    ) from None
                bad_bodies += 1
                self._back_off(bad_bodies)
                continue
            return JsonResponse(
                data=data, url=response.url, headers=response.headers, status=status
            )

    def _send(self, request: requests.Request) -> requests.Response:
        """Send one request (urllib3's retries included), count it and log it."""
        if self._pause > 0:
            self.stats.slowdowns += 1
            logger.debug("rate limit running low: pausing %.2f s", self._pause)
            self._sleep(self._pause)
            self._pause = 0.0
        prepared = self._session.prepare_request(request)
        if _sendable_as_is(request.url):
            # requests re-quotes URLs (e.g. %7E becomes ~); opaque page tokens are kept as given.
            prepared.url = request.url
        environment = self._session.merge_environment_settings(prepared.url, {}, None, None, None)
        timeout = (self.settings.connect_timeout, self.settings.read_timeout)
        shown = redact_url(request.url)
        started = time.monotonic()
        self.stats.requests += 1
        try:
            response = self._session.send(
                prepared, timeout=timeout, allow_redirects=True, **environment
            )
        except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
            logger.debug("%s %s: body broke off", request.method, shown)
            raise _BrokenBody(timed_out=False) from None
        except requests.exceptions.ConnectionError as exc:
            if exc.args and isinstance(exc.args[0], ReadTimeoutError):
                # The headers came, then the body stalled: urllib3 only retries up to the headers.
                logger.debug("%s %s: body timed out", request.method, shown)
                raise _BrokenBody(timed_out=True) from None
            raise self._transport_error(request, exc, time.monotonic() - started) from None
        except requests.RequestException as exc:
            raise self._transport_error(request, exc, time.monotonic() - started) from None
        elapsed = time.monotonic() - started
        self.stats.bytes_received += len(response.content)
        if response.status_code >= 500 and response.status_code not in RETRY_STATUSES:
            self.stats.server_errors += 1  # the others were counted by urllib3's Retry
        self._note_rate_limit(response)
        logger.debug("%s %s -> %d in %.3f s", request.method, shown, response.status_code, elapsed)
        return response

    def _transport_error(
        self, request: requests.Request, exc: requests.RequestException, elapsed: float
    ) -> TransportError:
        reason = _transport_reason(exc, self.settings)
        logger.debug(
            "%s %s failed after %.3f s: %s",
            request.method,
            redact_url(request.url),
            elapsed,
            reason,
        )
        return self._error(
            TransportError,
            f"{_endpoint(request.url)}: {reason}, after retrying {self.settings.max_retries} "
            f"time(s) with backoff. Check that {redact_url(self.base_url)} is reachable from "
            "this machine and the service is up; try again later.",
            request.url,
        )

    def _status_error(self, response: requests.Response, url: str, attempts: int) -> ApiError:
        status, endpoint = response.status_code, _endpoint(url)
        secret_from = self.auth.secret_from if self.auth is not None else "the configuration"
        if status >= 500:
            return self._error(
                TransportError,
                f"{endpoint} failed with {status} {response.reason} after {attempts} attempt(s) "
                "with backoff: the service is down or overloaded. Try again later.",
                url,
                status,
            )
        if status == 401:
            if isinstance(self.auth, OAuth2ClientCredentials):
                what = (
                    f"the client id/secret in {secret_from} was refused: a fresh access token "
                    "from it was still rejected (401). Check that the client is allowed to call "
                    "this API"
                )
            elif self.auth is not None:
                what = (
                    f"the API token in {secret_from} was refused (401). Check that it has not "
                    "expired or been revoked, and that it belongs to this instance"
                )
            else:
                what = "this endpoint needs authentication (401), and no token is configured"
            return self._error(AuthenticationError, f"{endpoint}: {what}.", url, status)
        if status == 403:
            return self._error(
                PermissionDeniedError,
                f"{endpoint} was refused (403 Forbidden): the token's user lacks permission for "
                f"{endpoint}. Check the role and permissions of the account behind the token in "
                f"{secret_from} (and the token's scopes), or leave this stream out.",
                url,
                status,
            )
        if status == 404:
            return self._error(
                NotFoundError,
                f"{endpoint} was not found (404). Check base_url ({redact_url(self.base_url)}) "
                "and the ids in the path; the record may have been deleted.",
                url,
                status,
            )
        return self._error(
            ApiError,
            f"{endpoint} answered {status} {response.reason}. Check the request's parameters "
            "against the API's documentation for this version.",
            url,
            status,
        )

    # -- auth ---------------------------------------------------------------------------------

    def _authorization(self) -> AuthBase | None:
        # AuthBase objects: requests drops them on a redirect to another host.
        if isinstance(self.auth, BasicToken):
            return HTTPBasicAuth(self.auth.token, "")
        if isinstance(self.auth, BearerToken):
            return _Bearer(self.auth.token)
        if isinstance(self.auth, OAuth2ClientCredentials):
            return _Bearer(self._access_token(self.auth))
        return None

    def _access_token(self, auth: OAuth2ClientCredentials) -> str:
        now = time.monotonic()
        token = auth._cached_token(now)
        if token is None:
            token, expires_in = self._fetch_token(auth)
            auth._keep_token(token, expires_in, now)
        return token

    def _fetch_token(self, auth: OAuth2ClientCredentials) -> tuple[str, float | None]:
        """A new access token for the client credentials (RFC 6749 §4.4). An answer cut off
        mid-transfer (a body that breaks off, JSON that ends early) is asked for again, like
        any API page, before the night is failed for want of a token."""
        attempts = self.settings.bad_json_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return self._token_once(auth)
            except _CutOffToken as cut:
                self.stats.bad_json += 1
                if attempt == attempts:
                    raise cut.error from None
                self.stats.retries += 1
        raise AssertionError("unreachable")

    def _token_once(self, auth: OAuth2ClientCredentials) -> tuple[str, float | None]:
        shown = redact_url(auth.token_url)
        form = {"grant_type": "client_credentials"}
        if auth.scope:
            form["scope"] = auth.scope
        request = requests.Request(
            "POST",
            auth.token_url,
            data=form,
            auth=HTTPBasicAuth(auth.client_id, auth.client_secret),
        )
        try:
            response = self._send(request)
        except (TransportError, _BrokenBody) as exc:
            error = self._error(
                AuthenticationError,
                f"Could not get an access token from the token endpoint {shown}: {exc}",
                auth.token_url,
            )
            if isinstance(exc, _BrokenBody):
                raise _CutOffToken(error) from None
            raise error from None
        status = response.status_code
        if status in (400, 401, 403):
            raise self._error(
                AuthenticationError,
                f"The client id/secret in {auth.secret_from} was refused by the token endpoint "
                f"{shown} ({status}{_oauth_error(response)}). Check the client id and secret "
                "and that the client may use the client-credentials grant"
                + (f" with scope {auth.scope!r}." if auth.scope else "."),
                auth.token_url,
                status,
            )
        if not 200 <= status < 300:
            raise self._error(
                AuthenticationError,
                f"The token endpoint {shown} answered {status} {response.reason}; no access "
                "token could be had. Check the token URL; try again later.",
                auth.token_url,
                status,
            )
        try:
            body = _json_body(response)
        except json.JSONDecodeError as exc:
            raise _CutOffToken(
                self._error(
                    AuthenticationError,
                    f"The token endpoint {shown} answered {status} with a body that is not "
                    f"JSON ({_json_error(exc, response)}), again and again.",
                    auth.token_url,
                    status,
                )
            ) from None
        try:
            token = body["access_token"]
            if not isinstance(token, str) or not token:
                raise ValueError("access_token is not a string")
            expires_in = body.get("expires_in")
            return token, None if expires_in is None else float(expires_in)
        except (ValueError, TypeError, KeyError, AttributeError):
            raise self._error(
                AuthenticationError,
                f"The token endpoint {shown} answered {status} without a usable access_token. "
                "Check that the token URL is the OAuth 2 token endpoint.",
                auth.token_url,
                status,
            ) from None

    # -- helpers ------------------------------------------------------------------------------

    def _retry(self, methods: frozenset[str]) -> Retry:
        """urllib3's retry policy for 429/5xx answers, timeouts and connection errors."""
        settings = self.settings
        return _CountingRetry(
            total=settings.max_retries,
            connect=settings.max_retries,
            read=settings.max_retries,
            status=settings.max_retries,
            other=0,  # TLS and proxy failures do not fix themselves on a second try
            allowed_methods=methods,
            status_forcelist=RETRY_STATUSES,
            backoff_factor=settings.backoff_factor,
            backoff_jitter=settings.backoff_jitter,
            backoff_max=settings.backoff_max,
            respect_retry_after_header=True,
            retry_after_max=settings.retry_after_max,
            # Exhausted retries hand back the last answer, so our error can say what it was.
            raise_on_status=False,
            stats=self.stats,
        )

    def _resolve(self, path_or_url: str) -> str:
        if urlsplit(path_or_url).scheme.lower() in ("http", "https"):
            self._check_origin(path_or_url, ApiError, "the URL")
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def _check_origin(self, url: str, error: type[ApiError], what: str) -> None:
        if _origin(url) != self._origin:
            raise self._error(
                error,
                f"{what} {redact_url(url)} is not on {redact_url(self.base_url)}'s host; "
                "Pathways sends the token only to base_url's scheme, host and port. If the API "
                "moved, change base_url (a sync interrupted on the old host restarts).",
                url,
            )

    def _records(self, response: JsonResponse, items: Callable[[Any], list] | None) -> list:
        try:
            records = items(response.data) if items is not None else response.data
        except (KeyError, IndexError, TypeError) as exc:
            raise self._error(
                BadResponseError,
                f"{_endpoint(response.url)}: the page's records are not where expected "
                f"({type(exc).__name__}: {exc}). The API version may differ from the expected one.",
                response.url,
                response.status,
            ) from None
        if not isinstance(records, list):
            raise self._error(
                BadResponseError,
                f"{_endpoint(response.url)}: expected a JSON list of records, got "
                f"{type(records).__name__}.",
                response.url,
                response.status,
            )
        return records

    def _note_rate_limit(self, response: requests.Response) -> None:
        remaining = _float_header(response.headers.get("X-Rate-Limit-Remaining"))
        floor = self.settings.rate_limit_floor
        if remaining is not None and floor > 0 and remaining < floor:
            # Canvas refills its bucket over time: the emptier it is, the longer to wait.
            share_used = min(1.0, (floor - remaining) / floor)
            self._pause = self.settings.slowdown_max * share_used

    def _back_off(self, attempt: int) -> None:
        """Exponential backoff with jitter before our own retries (throttle, bad JSON)."""
        settings = self.settings
        delay = settings.backoff_factor * 2 ** (attempt - 1)
        delay += random.uniform(0, settings.backoff_jitter)
        self.stats.retries += 1
        self._sleep(min(settings.backoff_max, delay))

    def _error(
        self, error: type[ApiError], message: str, url: str, status: int | None = None
    ) -> ApiError:
        return error(self._scrub(message), endpoint=_endpoint(url), status=status)

    def _scrub(self, text: str) -> str:
        # Belt and braces: whatever a message quotes, no secret we hold can be in it.
        secrets: list[str | None] = []
        if isinstance(self.auth, BearerToken):
            secrets.append(self.auth.token)
        elif isinstance(self.auth, OAuth2ClientCredentials):
            secrets += [self.auth.client_secret, self.auth._access_token]
        for secret in secrets:
            if secret:
                text = text.replace(secret, REDACTED)
        return text


def _query_pairs(params: Params | None) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, value in (params or {}).items():
        values = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
        pairs += [(name, _query_value(v)) for v in values]
    return pairs


def _query_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _with_query(url: str, pairs: list[tuple[str, str]]) -> str:
    if not pairs:
        return url
    # %20 rather than +, which some servers (and OneRoster filter parsers) take literally.
    encoded = urlencode(pairs, quote_via=quote)
    return f"{url}{'&' if urlsplit(url).query else '?'}{encoded}"


def _sendable_as_is(url: str) -> bool:
    """True when `url` is plain printable ASCII with a path, i.e. needs no quoting to be sent."""
    return all("!" <= c <= "~" for c in url) and bool(urlsplit(url).path)


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def _endpoint(url: str) -> str:
    """What an error names: the path called, without host, query or secrets."""
    return urlsplit(redact_url(url)).path or "/"


_LINK_VALUE = re.compile(r"<([^>]*)>([^<]*)")
_LINK_PARAM = re.compile(r';\s*([^\s;=,]+)\s*(?:=\s*(?:"([^"]*)"|([^\s;,]*)))?')


def next_link(header: str | None) -> str | None:
    """The target of `rel="next"` in a Link header (RFC 8288), matched case-insensitively;
    Canvas also sends current, first and last."""
    for match in _LINK_VALUE.finditer(header or ""):
        for param in _LINK_PARAM.finditer(match.group(2)):
            if param.group(1).lower() == "rel":
                rels = (param.group(2) or param.group(3) or "").lower().split()
                if "next" in rels:
                    return match.group(1).strip()
    return None


def _is_throttle(response: requests.Response) -> bool:
    # Self-hosted Canvas throttles with 403 "403 Forbidden (Rate Limit Exceeded)"; hosted Canvas
    # (since 2025) and others with 429.
    return response.status_code == 429 or (
        response.status_code == 403 and b"rate limit exceeded" in response.content.lower()
    )


def _json_body(response: requests.Response) -> Any:
    if response.status_code == 204:
        return None
    return json.loads(response.content)


def _json_error(exc: ValueError, response: requests.Response) -> str:
    size = len(response.content)
    if isinstance(exc, json.JSONDecodeError):
        where = f"{exc.msg} at line {exc.lineno} column {exc.colno}, char {exc.pos} of {size}"
    else:
        where = f"{type(exc).__name__} in a body of {size} bytes"
    if response.content.lstrip()[:1] == b"<":
        where += "; the body looks like HTML"
    return where


def _oauth_error(response: requests.Response) -> str:
    # Only the `error` code, whose values RFC 6749 fixes (invalid_client, …); never free text.
    try:
        code = json.loads(response.content).get("error")
    except (ValueError, AttributeError):
        return ""
    return f" {code}" if isinstance(code, str) and re.fullmatch(r"[a-z_]{1,40}", code) else ""


def _float_header(value: str | None) -> float | None:
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


def _transport_reason(exc: requests.RequestException, settings: HttpSettings) -> str:
    """What went wrong on the wire, in words, without the URL urllib3 puts in its messages."""
    reason: BaseException | None = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # MaxRetryError wraps the last error
    if isinstance(reason, ReadTimeoutError) or isinstance(exc, requests.exceptions.ReadTimeout):
        return f"no answer within the read timeout ({settings.read_timeout:g} s)"
    if isinstance(reason, NewConnectionError):
        return "could not connect (connection refused or host unreachable)"
    if isinstance(reason, ConnectTimeoutError) or isinstance(exc, requests.exceptions.Timeout):
        return f"could not connect within the connect timeout ({settings.connect_timeout:g} s)"
    if isinstance(exc, requests.exceptions.SSLError):
        return "the TLS handshake failed (certificate or protocol)"
    return f"the connection failed ({type(reason or exc).__name__})"
