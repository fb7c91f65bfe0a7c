"""What the sample services (the sample LMS, the sample badge platform) share: a small HTTP server
on loopback that answers from its subclass's routes, injects faults and counts what it answered;
an OAuth 2 client-credentials token endpoint; and the request and response shapes, errors and
paging headers the routes are written with.

A service subclasses `SampleService` and gives `_route` (its URL layout; raise `HttpError` for
an answer other than 200), `_fault_response` (how an injected 500 looks on a path) and
`_bug_response` (how an unexpected exception looks, still a 500); `_finish` may rewrite every
answer it routed before a truncation fault cuts it.

Faults are drawn once per request, in arrival order, from a generator seeded with `Faults.seed`:
a 500 before any work, an answer held `slow_seconds` (past a client's read timeout), or a 200
whose JSON body is cut in half. A fault never changes stored data.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import random
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, Self, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit


@dataclass(frozen=True)
class Faults:
    """Injected failures: the share of requests answered each way, deterministic for a seed."""

    error_rate: float = 0.0  # answered 500 before any work
    timeout_rate: float = 0.0  # answered only after `slow_seconds`
    slow_seconds: float = 2.0
    truncate_rate: float = 0.0  # answered 200 with the JSON body cut in half
    seed: int = 0


NO_FAULTS = Faults()


@dataclass
class ServiceStats:
    """What a sample service has answered since it started."""

    requests: int = 0
    errors: int = 0  # injected 500s
    timeouts: int = 0  # injected slow answers
    truncated: int = 0  # injected cut bodies
    unauthorized: int = 0


@dataclass
class Response:
    """An answer to send: status, body, content type and any further headers."""

    status: int
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)


class HttpError(Exception):
    """An answer other than 200, raised from deep inside a route."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class Request:
    """A request as a route sees it: the path without a trailing slash, the query as pairs."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: Any
    body: bytes
    origin: str  # scheme://host:port as the client addressed us

    def get(self, name: str) -> str | None:
        """The first value of a query parameter, None when it is not sent."""
        for key, value in self.query:
            if key == name:
                return value
        return None

    def all(self, name: str) -> list[str]:
        """Every value of a list parameter, written `name[]=` (or `name=`, as Canvas allows)."""
        return [v for k, v in self.query if k in (f"{name}[]", name) and v != ""]

    def url(self, **replaced: str) -> str:
        """This request's absolute URL with some parameters replaced, the others kept."""
        pairs = [(k, v) for k, v in self.query if k not in replaced]
        pairs += list(replaced.items())
        query = urlencode(pairs, quote_via=quote, safe=":")
        return f"{self.origin}{self.path}" + (f"?{query}" if query else "")


def json_response(
    payload: Any, status: int = 200, headers: Sequence[tuple[str, str]] | None = None
) -> Response:
    """`payload` as a JSON answer."""
    return Response(status, json.dumps(payload).encode(), headers=list(headers or []))


def imsx_error(
    status: int,
    code_minor: str,
    description: str,
    headers: Sequence[tuple[str, str]] | None = None,
    *,
    code_minor_key: str = "imsx_codeMinor",
) -> HttpError:
    """A 1EdTech Imsx_StatusInfo error (OneRoster, Open Badges). OB 3.0 spells the code-minor
    key `imsx_codeMinor`, OneRoster 1.2's JSON binding `imsx_CodeMinor`."""
    payload = {
        "imsx_codeMajor": "failure",
        "imsx_severity": "error",
        "imsx_description": description,
        code_minor_key: {
            "imsx_codeMinorField": [
                {
                    "imsx_codeMinorFieldName": "TargetEndSystem",
                    "imsx_codeMinorFieldValue": code_minor,
                }
            ]
        },
    }
    return HttpError(json_response(payload, status, headers))


def link_header(links: Sequence[tuple[str, str]]) -> str:
    """A `Link` header from (URL, rel) pairs."""
    return ",".join(f'<{url}>; rel="{rel}"' for url, rel in links)


def offset_paging_headers(
    request: Request, *, limit: int, offset: int, total: int
) -> list[tuple[str, str]]:
    """`X-Total-Count` and a `Link` header (next, last, first, prev) for a page of a listing
    paged by `limit`/`offset`, as 1EdTech's REST bindings (OneRoster, Open Badges) give them."""
    links = []
    if offset + limit < total:
        links.append((request.url(limit=str(limit), offset=str(offset + limit)), "next"))
    last = max(0, (total - 1) // limit * limit)
    links.append((request.url(limit=str(limit), offset=str(last)), "last"))
    links.append((request.url(limit=str(limit), offset="0"), "first"))
    if offset > 0:
        links.append((request.url(limit=str(limit), offset=str(max(0, offset - limit))), "prev"))
    return [("X-Total-Count", str(total)), ("Link", link_header(links))]


def int_param(
    raw: str | None,
    default: int,
    name: str,
    minimum: int,
    invalid: Callable[[str], HttpError],
) -> int:
    """A whole-number query parameter (`default` when absent); below `minimum` or not a number
    is the error `invalid` makes of the message."""
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < minimum:
        raise invalid(f"{name} must be an integer >= {minimum}")
    return int(raw)


def bearer_token(request: Request) -> str | None:
    """The token of an `Authorization: Bearer …` header, None without one."""
    header = request.headers.get("Authorization") or ""
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def basic_credentials(request: Request) -> tuple[str | None, str | None]:
    """The user name and password of an `Authorization: Basic …` header, (None, None) without a
    readable one."""
    header = request.headers.get("Authorization") or ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    user, _, password = decoded.partition(":")
    return user, password


class ClientCredentials:
    """An OAuth 2 token endpoint for the client-credentials grant: one client, the scopes it may
    be granted, and the bearer tokens it has handed out (each good for `ttl` seconds)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        scopes: Sequence[str],
        *,
        ttl: float,
        realm: str,
    ) -> None:
        self._client_id, self._client_secret = client_id, client_secret
        self.scopes = tuple(scopes)
        self.ttl = ttl
        self._realm = realm  # named in the WWW-Authenticate header of a refused client
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[float, frozenset[str]]] = {}

    def issue(self, request: Request) -> Response:
        """The token endpoint's answer: to a POST, a new bearer token for the client (HTTP Basic
        or form fields) with the scopes it asked for (all, when it asked for none)."""
        if request.method != "POST":
            raise HttpError(json_response({"error": "invalid_request"}, 405))
        form = dict(parse_qsl(request.body.decode("utf-8", "replace")))
        client_id, client_secret = basic_credentials(request)
        client_id = client_id or form.get("client_id")
        client_secret = client_secret or form.get("client_secret")
        if not (
            client_id
            and client_secret
            and hmac.compare_digest(client_id.encode(), self._client_id.encode())
            and hmac.compare_digest(client_secret.encode(), self._client_secret.encode())
        ):
            raise HttpError(
                json_response(
                    {"error": "invalid_client"},
                    401,
                    [("WWW-Authenticate", f'Basic realm="{self._realm}"')],
                )
            )
        if form.get("grant_type") != "client_credentials":
            raise HttpError(json_response({"error": "unsupported_grant_type"}, 400))
        asked = form.get("scope", "").split()
        if any(scope not in self.scopes for scope in asked):
            raise HttpError(json_response({"error": "invalid_scope"}, 400))
        granted = frozenset(asked or self.scopes)
        token = secrets.token_urlsafe(32)
        with self._lock:
            now = time.monotonic()
            self._tokens = {t: v for t, v in self._tokens.items() if v[0] > now}
            self._tokens[token] = (now + self.ttl, granted)
        payload = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": max(1, math.ceil(self.ttl)),
            "scope": " ".join(sorted(granted)),
        }
        return json_response(payload, headers=[("Cache-Control", "no-store")])

    def granted(self, request: Request) -> frozenset[str] | None:
        """The scopes of the live bearer token the request carries; None when it carries none,
        or one this endpoint did not issue, or one that has expired."""
        token = bearer_token(request)
        with self._lock:
            entry = self._tokens.get(token or "")
        if entry is None or entry[0] <= time.monotonic():
            return None
        return entry[1]


class FaultDice:
    """Which fault, if any, the next request gets; one draw per request under a lock."""

    def __init__(self, faults: Faults) -> None:
        self._lock = threading.Lock()
        self.set(faults)

    def set(self, faults: Faults) -> None:
        """Roll for `faults` from now on, the draw sequence restarted from their seed."""
        with self._lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)

    def roll(self) -> tuple[str | None, float]:
        """The next request's fault ("error", "timeout", "truncate" or None) and its delay."""
        with self._lock:
            f, u = self.faults, self._rng.random()
        if u < f.error_rate:
            return "error", 0.0
        if u < f.error_rate + f.timeout_rate:
            return "timeout", f.slow_seconds
        if u < f.error_rate + f.timeout_rate + f.truncate_rate:
            return "truncate", 0.0
        return None, 0.0


StatsT = TypeVar("StatsT", bound=ServiceStats)


class SampleService(Generic[StatsT]):
    """A sample HTTP service on loopback: serves `_route` in a background thread, with injected
    faults, and counts requests, faults and refusals in `stats`."""

    thread_name = "sample-service"

    def __init__(self, *, host: str, port: int, faults: Faults, stats: StatsT) -> None:
        self._host, self._port = host, port
        self._dice = FaultDice(faults)
        self._lock = threading.Lock()
        self._stats = stats
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Life cycle -----------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen and serve in a background thread; returns self."""
        server = _Server((self._host, self._port), _Handler)
        server.service = self
        self._server = server
        self._port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name=self.thread_name, daemon=True
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """http://HOST:PORT of the running server."""
        return f"http://{self._host}:{self._port}"

    @property
    def stats(self) -> StatsT:
        """A snapshot of the counts of requests, injected faults and refusals."""
        with self._lock:
            return replace(self._stats)

    def set_faults(self, faults: Faults) -> None:
        """Change the injected faults at run time (the draw sequence restarts from the seed)."""
        self._dice.set(faults)

    # What a service gives -------------------------------------------------------------------

    def _route(self, request: Request) -> Response:
        """The answer to a request (raise `HttpError` for any other than 200)."""
        raise NotImplementedError

    def _fault_response(self, path: str) -> Response:
        """An injected 500 on `path`, as the service's clients expect one there."""
        raise NotImplementedError

    def _bug_response(self, error: Exception) -> Response:
        """The 500 that answers an exception the routes did not expect."""
        raise NotImplementedError

    def _finish(self, request: Request, response: Response) -> Response:
        """A routed answer as it goes out (before a truncation fault cuts it)."""
        return response

    # Serving --------------------------------------------------------------------------------

    def _count(self, name: str) -> None:
        with self._lock:
            setattr(self._stats, name, getattr(self._stats, name) + 1)

    def _serve(self, handler: _Handler) -> None:
        self._count("requests")
        fault, delay = self._dice.roll()
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        origin = f"http://{handler.headers.get('Host') or f'{self._host}:{self._port}'}"
        request = Request(
            handler.command,
            split.path.rstrip("/") or "/",
            parse_qsl(split.query, keep_blank_values=True),
            handler.headers,
            body,
            origin,
        )
        if fault == "error":
            self._count("errors")
            response = self._fault_response(request.path)
        else:
            if fault == "timeout":
                self._count("timeouts")
                time.sleep(delay)
            try:
                response = self._route(request)
            except HttpError as exc:
                response = exc.response
            except Exception as exc:  # a bug must answer 500, not kill the connection
                response = self._bug_response(exc)
            response = self._finish(request, response)
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    service: SampleService


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK hold every response back ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self.server.service._serve(self)

    def do_POST(self) -> None:
        self.server.service._serve(self)

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet: a benchmark makes hundreds of thousands of requests.
        return
