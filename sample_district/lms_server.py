"""The sample LMS: a local HTTP server that answers like a district's Canvas and its OneRoster 1.2
REST service, over a generated sample district, so the REST connectors, the nightly demo and the
benchmarks run against something that behaves like the real services: bearer tokens and OAuth2,
bookmark and offset paging, Canvas's leaky-bucket throttle, and injected faults.

URL layout (one port, `base_url` = http://HOST:PORT):

- Canvas: `canvas_url` is the instance's base URL, as a district's `https://x.instructure.com`;
  clients join `/api/v1/...` to it. `Authorization: Bearer <canvas_token>` (or `access_token=`).
    GET /api/v1/accounts/:id/terms | courses | sub_accounts | users | outcome_group_links
    GET /api/v1/courses/:id | enrollments | users | assignments | students/submissions
        | outcome_group_links | outcome_results | outcome_rollups
  `:id` may be `sis_course_id:…` / `sis_account_id:…`, and `self` for the root account.
  Paging as Canvas: `per_page` (default 10, at most 100) and a `Link` header with `current`,
  `next`, `first` (and `prev`, `last` on numbered pages). Courses, users, enrollments,
  submissions and outcome results page by opaque bookmarks; the rest by page number.
- OneRoster: `oneroster_url` = BASE/ims/oneroster; clients join `/rostering/v1p2/users`,
  `/gradebook/v1p2/results`…; tokens come from `token_url` = BASE/oauth/token (client
  credentials, HTTP Basic). `limit` (default 100, at most 1000) / `offset`, `X-Total-Count`,
  `Link` (next, last, first, prev), `sort`/`orderBy`, `fields`, and
  `filter=dateLastModified>'2026-01-01T00:00:00Z' AND status='active'`.

Throttle (Canvas only; per token): a leaky bucket of `capacity` units leaking `leak_rate` units/s.
A request is admitted when `preflight_cost` more units fit; those are held while it runs and
replaced by `request_cost` when it ends, as Canvas does (so parallel requests fill the bucket
faster than sequential ones). Every Canvas answer carries `X-Request-Cost` and
`X-Rate-Limit-Remaining`; a refused one is `403 Forbidden (Rate Limit Exceeded)` in plain text
(self-hosted Canvas) or, with `status=429`, a 429 with `Retry-After` (hosted Canvas since 2025).
The cost is a fixed `request_cost`, not Canvas's measured CPU and database seconds, so a run is
reproducible; at the defaults (1 unit, 10 units/s) one token sustains 10 requests a second.

Faults (`sample_district.service.Faults`, as the sample badge platform's) are drawn once per
request from a seeded generator: a 500 before any work, an answer held past a client's read
timeout, or a 200 whose JSON body is cut in half. A fault never changes stored data.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sample_district.lms_data import (
    MASTERY_POINTS,
    PLACEHOLDER_ORIGIN,
    POINTS_POSSIBLE,
    LmsData,
    Rendering,
)
from sample_district.service import (
    NO_FAULTS,
    ClientCredentials,
    Faults,
    HttpError,
    Request,
    Response,
    SampleService,
    ServiceStats,
    bearer_token,
    imsx_error,
    int_param,
    json_response,
    link_header,
    offset_paging_headers,
)

CANVAS_PREFIX = "/api/v1"
_PLACEHOLDER = PLACEHOLDER_ORIGIN.encode()
ONEROSTER_PREFIX = "/ims/oneroster"
TOKEN_PATH = "/oauth/token"

CANVAS_DEFAULT_PER_PAGE = 10
CANVAS_MAX_PER_PAGE = 100  # Canvas caps per_page at 100
ONEROSTER_DEFAULT_LIMIT = 100
ONEROSTER_MAX_LIMIT = 1000

SCOPE_PREFIX = "https://purl.imsglobal.org/spec/or/v1p2/scope/"
SCOPE_ROSTER = SCOPE_PREFIX + "roster.readonly"
SCOPE_ROSTER_CORE = SCOPE_PREFIX + "roster-core.readonly"
SCOPE_DEMOGRAPHICS = SCOPE_PREFIX + "roster-demographics.readonly"
SCOPE_GRADEBOOK = SCOPE_PREFIX + "gradebook.readonly"
SCOPE_RESOURCES = SCOPE_PREFIX + "resource.readonly"
KNOWN_SCOPES = (
    SCOPE_ROSTER,
    SCOPE_ROSTER_CORE,
    SCOPE_DEMOGRAPHICS,
    SCOPE_GRADEBOOK,
    SCOPE_RESOURCES,
)


@dataclass(frozen=True)
class Throttle:
    """Canvas's leaky bucket, per access token (units as Canvas counts them)."""

    capacity: float = 700.0
    # Canvas charges a request its CPU and database time, typically a few hundredths of a unit.
    request_cost: float = 0.05
    preflight_cost: float = 50.0  # held while a request runs
    leak_rate: float = 10.0  # units per second
    status: int = 403  # 403 as self-hosted Canvas, 429 (with Retry-After) as hosted Canvas


@dataclass
class LmsStats(ServiceStats):
    """What the sample LMS has answered since it started, throttled requests too."""

    throttled: int = 0


def _raw_json(text: str, status: int = 200, headers=None) -> Response:
    return Response(status, text.encode(), headers=list(headers or []))


def _canvas_error(status: int, message: str) -> HttpError:
    return HttpError(json_response({"errors": [{"message": message}]}, status))


def _imsx_error(status: int, minor: str, description: str, headers=None) -> HttpError:
    """A OneRoster error: Imsx_StatusInfo as OneRoster 1.2's JSON binding spells it."""
    return imsx_error(status, minor, description, headers, code_minor_key="imsx_CodeMinor")


class _LeakyBucket:
    """Canvas's per-token throttle (see the module docstring)."""

    def __init__(self, throttle: Throttle) -> None:
        self.throttle = throttle
        self._lock = threading.Lock()
        self._levels: dict[str, tuple[float, float]] = {}

    def _level(self, key: str, now: float) -> float:
        level, at = self._levels.get(key, (0.0, now))
        return max(0.0, level - (now - at) * self.throttle.leak_rate)

    def admit(self, key: str) -> tuple[bool, float, float]:
        """Whether a request may run now; the units left; seconds until it could run."""
        t = self.throttle
        with self._lock:
            now = time.monotonic()
            level = self._level(key, now)
            if level + t.preflight_cost > t.capacity:
                self._levels[key] = (level, now)
                wait = (level + t.preflight_cost - t.capacity) / max(t.leak_rate, 1e-9)
                return False, t.capacity - level, wait
            self._levels[key] = (level + t.preflight_cost, now)
            return True, t.capacity - level - t.preflight_cost, 0.0

    def settle(self, key: str) -> float:
        """Replace a finished request's pre-flight units by its cost; the units left."""
        t = self.throttle
        with self._lock:
            now = time.monotonic()
            level = max(0.0, self._level(key, now) - t.preflight_cost) + t.request_cost
            self._levels[key] = (level, now)
            return t.capacity - level


class SampleLms(SampleService[LmsStats]):
    """A Canvas- and OneRoster-compatible server over a generated district, on loopback."""

    thread_name = "sample-lms"

    def __init__(
        self,
        district_dir: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        canvas_token: str,
        client_id: str,
        client_secret: str,
        faults: Faults = NO_FAULTS,
        throttle: Throttle = Throttle(),
        token_ttl: float = 3600.0,
        as_of: datetime | None = None,
    ) -> None:
        self.data = LmsData(Path(district_dir), as_of=as_of)
        facts = self.data.facts
        self.data.render(
            _renderings(),
            {
                "points": POINTS_POSSIBLE,
                "mastery": MASTERY_POINTS,
                "tz": facts.timezone,
                "roster_at": facts.roster_at,
            },
        )
        super().__init__(host=host, port=port, faults=faults, stats=LmsStats())
        self._canvas_token = canvas_token
        self._oauth = ClientCredentials(
            client_id, client_secret, KNOWN_SCOPES, ttl=token_ttl, realm="oneroster"
        )
        self._bucket = _LeakyBucket(throttle)
        self._canvas_routes = _canvas_routes(self)

    # Life cycle -----------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop serving and release the port and the database."""
        super().stop()
        self.data.close()

    @property
    def canvas_url(self) -> str:
        """The Canvas instance's base URL; clients join `/api/v1/...` to it."""
        return self.base_url

    @property
    def oneroster_url(self) -> str:
        """The OneRoster base; clients join `/rostering/v1p2/...` or `/gradebook/v1p2/...`."""
        return self.base_url + ONEROSTER_PREFIX

    @property
    def token_url(self) -> str:
        """The OAuth2 client-credentials token endpoint."""
        return self.base_url + TOKEN_PATH

    # Switches and mutations -----------------------------------------------------------------

    def set_throttle(self, throttle: Throttle) -> None:
        """Change the throttle at run time (buckets start empty)."""
        self._bucket = _LeakyBucket(throttle)

    def regrade(self, share: float, seed: int = 1) -> int:
        """Re-score a deterministic share of submissions, their outcome results and OneRoster
        results, graded and modified now; returns how many submissions changed."""
        return self.data.regrade(share, seed, _now())

    def drop_enrollments(self, share: float, seed: int = 1) -> int:
        """Withdraw a deterministic share of active student enrollments: Canvas `deleted`,
        OneRoster `tobedeleted`, both modified now; returns how many."""
        return self.data.drop_enrollments(share, seed, _now())

    # Serving --------------------------------------------------------------------------------

    def _fault_response(self, path: str) -> Response:
        if path.startswith(ONEROSTER_PREFIX):
            return _imsx_error(500, "internal_server_error", "Internal server error").response
        if path == TOKEN_PATH:
            return json_response({"error": "server_error"}, 500)
        return json_response({"errors": [{"message": "An error occurred."}]}, 500)

    def _bug_response(self, error: Exception) -> Response:
        return json_response({"errors": [{"message": f"server error: {error}"}]}, 500)

    def _finish(self, request: Request, response: Response) -> Response:
        # Stored JSON names a placeholder origin; the client sees the one it addressed.
        return replace(response, body=response.body.replace(_PLACEHOLDER, request.origin.encode()))

    def _route(self, request: Request) -> Response:
        path = request.path
        if path == TOKEN_PATH:
            return self._oauth.issue(request)
        if request.method != "GET":
            raise _canvas_error(405, "Method not allowed")
        if path.startswith(CANVAS_PREFIX + "/"):
            return self._canvas(request)
        if path.startswith(ONEROSTER_PREFIX + "/"):
            return self._oneroster(request)
        raise _canvas_error(404, "The specified resource does not exist.")

    # Canvas ---------------------------------------------------------------------------------

    def _canvas(self, request: Request) -> Response:
        token = bearer_token(request) or request.get("access_token")
        if not token:
            raise HttpError(
                json_response(
                    {
                        "status": "unauthenticated",
                        "errors": [{"message": "user authorization required"}],
                    },
                    401,
                )
            )
        if not hmac.compare_digest(token.encode(), self._canvas_token.encode()):
            raise HttpError(
                json_response(
                    {"errors": [{"message": "Invalid access token."}]},
                    401,
                    [("WWW-Authenticate", 'Bearer realm="canvas-lms"')],
                )
            )
        bucket = self._bucket
        admitted, remaining, wait = bucket.admit(token)
        if not admitted:
            self._count("throttled")
            headers = [("X-Request-Cost", "0"), ("X-Rate-Limit-Remaining", f"{remaining:.3f}")]
            if bucket.throttle.status == 429:
                headers.append(("Retry-After", str(max(1, math.ceil(wait)))))
                text = "429 Too Many Requests (Rate Limit Exceeded)\n"
            else:
                text = "403 Forbidden (Rate Limit Exceeded)\n"
            raise HttpError(Response(bucket.throttle.status, text.encode(), "text/plain", headers))
        try:
            response = self._canvas_dispatch(request)
        except HttpError as exc:
            response = exc.response
        remaining = bucket.settle(token)
        response.headers += [
            ("X-Request-Cost", f"{bucket.throttle.request_cost:.4f}"),
            ("X-Rate-Limit-Remaining", f"{remaining:.3f}"),
        ]
        return response

    def _canvas_dispatch(self, request: Request) -> Response:
        rest = request.path[len(CANVAS_PREFIX) :]
        for pattern, handler in self._canvas_routes:
            match = pattern.fullmatch(rest)
            if match:
                return handler(request, match.group(1))
        raise _canvas_error(404, "The specified resource does not exist.")

    def _account_id(self, raw: str) -> int:
        if raw == "self":
            return 1
        if raw.startswith("sis_account_id:"):
            rows = self.data.rows(
                "SELECT id FROM cv_accounts WHERE sis_account_id = ?", [raw.split(":", 1)[1]]
            )
        elif raw.isdigit():
            rows = self.data.rows("SELECT id FROM cv_accounts WHERE id = ?", [int(raw)])
        else:
            rows = []
        if not rows:
            raise _canvas_error(404, "The specified resource does not exist.")
        return rows[0][0]

    def _course_id(self, raw: str) -> int:
        if raw.startswith("sis_course_id:"):
            rows = self.data.rows(
                "SELECT id FROM cv_courses WHERE sis_course_id = ?", [raw.split(":", 1)[1]]
            )
        elif raw.isdigit():
            rows = self.data.rows("SELECT id FROM cv_courses WHERE id = ?", [int(raw)])
        else:
            rows = []
        if not rows:
            raise _canvas_error(404, "The specified resource does not exist.")
        return rows[0][0]

    def _params(self, request: Request, **extra: Any) -> dict[str, Any]:
        return {"canvas": request.origin, **extra}

    def _bookmarked(
        self, request: Request, sql: str, params: dict[str, Any], wrap: Callable | None = None
    ) -> Response:
        """A page of a collection walked by id, with Canvas's opaque bookmark links."""
        per_page = _per_page(request)
        after = _bookmark(request.get("page"))
        rows = self.data.rows(sql, {**params, "after": after, "limit": per_page + 1})
        more = len(rows) > per_page
        rows = rows[:per_page]
        links = [(request.url(), "current")]
        if more:
            links.append((request.url(page="bookmark:" + _encode_bookmark([rows[-1][0]])), "next"))
        links.append((request.url(page="first"), "first"))
        items = "[" + ",".join(r[1] for r in rows) + "]"
        text = wrap(items, rows) if wrap else items
        return _raw_json(text, headers=[("Link", link_header(links))])

    def _numbered(
        self,
        request: Request,
        count_sql: str,
        sql: str,
        params: dict[str, Any],
        wrap: Callable | None = None,
    ) -> Response:
        """A page of a small collection, with numbered-page links (current, next, prev, first,
        last)."""
        per_page = _per_page(request)
        page = _page_number(request.get("page"))
        total = self.data.rows(count_sql, params)[0][0]
        rows = self.data.rows(sql, {**params, "offset": (page - 1) * per_page, "limit": per_page})
        last = max(1, math.ceil(total / per_page))
        links = [(request.url(page=str(page)), "current")]
        if page < last:
            links.append((request.url(page=str(page + 1)), "next"))
        if page > 1:
            links.append((request.url(page=str(page - 1)), "prev"))
        links += [(request.url(page="1"), "first"), (request.url(page=str(last)), "last")]
        items = "[" + ",".join(r[-1] for r in rows) + "]"
        text = wrap(items, rows, (page, per_page, total, links)) if wrap else items
        return _raw_json(text, headers=[("Link", link_header(links))])

    def canvas_terms(self, request: Request, raw: str) -> Response:
        self._account_id(raw)
        states = set(request.all("workflow_state")) or {"active"}
        params = self._params(request, show=bool(states & {"active", "all"}))
        return self._numbered(
            request,
            "SELECT count(*) FROM cv_terms WHERE $show",
            f"SELECT {_CANVAS_TERM} FROM cv_terms t WHERE $show ORDER BY t.id "
            "LIMIT $limit OFFSET $offset",
            {**params, "roster_at": self.data.facts.roster_at},
            wrap=lambda items, *_: f'{{"enrollment_terms":{items}}}',
        )

    def canvas_sub_accounts(self, request: Request, raw: str) -> Response:
        account = self._account_id(raw)
        recursive = request.get("recursive") == "true"
        params = self._params(
            request, account=account, recursive=recursive, tz=self.data.facts.timezone
        )
        where = "(parent_account_id = $account OR ($recursive AND $account = 1 AND id <> 1))"
        return self._numbered(
            request,
            f"SELECT count(*) FROM cv_accounts WHERE {where}",
            f"SELECT {_CANVAS_ACCOUNT} FROM cv_accounts a WHERE {where} ORDER BY a.id "
            "LIMIT $limit OFFSET $offset",
            params,
        )

    def canvas_account_courses(self, request: Request, raw: str) -> Response:
        account = self._account_id(raw)
        states = set(request.all("state"))
        term = request.get("enrollment_term_id")
        term_id = self._term_id(term) if term else None
        include = set(request.all("include"))
        show = not states or bool(states & {"available", "all"})
        column = "json_term" if "term" in include else "json"
        sql = f"""SELECT id, {column} FROM cv_courses WHERE id > $after AND $show
            AND ($account = 1 OR account_id = $account)
            AND ($term IS NULL OR enrollment_term_id = $term)
            ORDER BY id LIMIT $limit"""
        params = self._params(
            request,
            account=account,
            term=term_id,
            show=show,
            tz=self.data.facts.timezone,
            roster_at=self.data.facts.roster_at,
        )
        return self._bookmarked(request, sql, params)

    def canvas_course(self, request: Request, raw: str) -> Response:
        course = self._course_id(raw)
        include = set(request.all("include"))
        column = "json_term" if "term" in include else "json"
        rows = self.data.rows(
            f"SELECT id, {column} FROM cv_courses WHERE id = $course", {"course": course}
        )
        return _raw_json(rows[0][1])

    def _term_id(self, raw: str) -> int:
        if raw.startswith("sis_term_id:"):
            rows = self.data.rows(
                "SELECT id FROM cv_terms WHERE sis_term_id = ?", [raw.split(":", 1)[1]]
            )
            if not rows:
                raise _canvas_error(404, "The specified resource does not exist.")
            return rows[0][0]
        if not raw.isdigit():
            raise _canvas_error(400, "invalid enrollment_term_id")
        return int(raw)

    def canvas_account_users(self, request: Request, raw: str) -> Response:
        account = self._account_id(raw)
        email = "email" in set(request.all("include"))
        sql = f"""SELECT u.id, u.{"json_email" if email else "json"}
            FROM cv_users u
            WHERE u.id > $after AND ($account = 1 OR u.id IN (
                SELECT e.user_id FROM cv_enrollments e JOIN cv_courses c ON c.id = e.course_id
                WHERE c.account_id = $account))
            ORDER BY u.id LIMIT $limit"""
        return self._bookmarked(request, sql, self._params(request, account=account))

    def canvas_course_users(self, request: Request, raw: str) -> Response:
        course = self._course_id(raw)
        email = "email" in set(request.all("include"))
        types = [_ENROLLMENT_TYPE_NAMES.get(t, t) for t in request.all("enrollment_type")]
        states = request.all("enrollment_state") or ["active", "invited"]
        sql = f"""SELECT u.id, u.{"json_email" if email else "json"}
            FROM cv_users u
            WHERE u.id > $after AND u.id IN (
                SELECT user_id FROM cv_enrollments WHERE course_id = $course
                AND list_contains($states, enrollment_state)
                AND (len($types) = 0 OR list_contains($types, type)))
            ORDER BY u.id LIMIT $limit"""
        params = self._params(request, course=course, states=states, types=types)
        return self._bookmarked(request, sql, params)

    def canvas_enrollments(self, request: Request, raw: str) -> Response:
        course = self._course_id(raw)
        states = _enrollment_states(request.all("state"))
        types = request.all("type") or list(_ENROLLMENT_TYPES)
        roles = request.all("role")
        sql = """SELECT id, json FROM cv_enrollments WHERE course_id = $course AND id > $after
            AND list_contains($states, enrollment_state) AND list_contains($types, type)
            AND (len($roles) = 0 OR list_contains($roles, type))
            ORDER BY id LIMIT $limit"""
        params = self._params(request, course=course, states=states, types=types, roles=roles)
        return self._bookmarked(request, sql, params)

    def canvas_assignments(self, request: Request, raw: str) -> Response:
        course = self._course_id(raw)
        params = self._params(request, course=course, points=POINTS_POSSIBLE)
        return self._numbered(
            request,
            "SELECT count(*) FROM cv_assignments WHERE course_id = $course",
            """SELECT json FROM cv_assignments WHERE course_id = $course
            ORDER BY position, id LIMIT $limit OFFSET $offset""",
            params,
        )

    def canvas_submissions(self, request: Request, raw: str) -> Response:
        course = self._course_id(raw)
        students = request.all("student_ids")
        if not students:
            # Canvas answers with the caller's own submissions; an API user has none.
            students_all, student_ids = False, []
        elif "all" in students:
            students_all, student_ids = True, []
        else:
            students_all, student_ids = False, self._user_ids(students)
        assignment_ids = _int_list(request.all("assignment_ids"), "assignment_ids")
        workflow = request.get("workflow_state")
        enrollment_state = request.get("enrollment_state")
        params = self._params(
            request,
            course=course,
            all_students=students_all,
            students=student_ids,
            assignments=assignment_ids,
            graded_since=_since(request.get("graded_since"), "graded_since"),
            submitted_since=_since(request.get("submitted_since"), "submitted_since"),
            show=workflow in (None, "", "graded"),
            enrolled=_SUBMISSION_ENROLLMENT_STATES.get(
                enrollment_state or "", _SUBMISSION_ENROLLMENT_STATES[""]
            ),
        )
        sql = """SELECT s.id, s.json
            FROM (SELECT * FROM cv_submissions s
                  WHERE s.course_id = $course AND s.id > $after AND $show
                  AND ($all_students OR list_contains($students, s.user_id))
                  AND (len($assignments) = 0 OR list_contains($assignments, s.assignment_id))
                  AND ($graded_since IS NULL OR s.graded_at > $graded_since)
                  AND ($submitted_since IS NULL OR s.submitted_at > $submitted_since)
                  AND s.user_id IN (SELECT e.user_id FROM cv_enrollments e
                                    WHERE e.course_id = $course AND e.type = 'StudentEnrollment'
                                    AND list_contains($enrolled, e.enrollment_state))
                  ORDER BY s.id LIMIT $limit) s
            ORDER BY s.id"""
        return self._bookmarked(request, sql, params)

    def _user_ids(self, raw: list[str]) -> list[int]:
        ids = []
        for value in raw:
            if value.startswith("sis_user_id:"):
                ids += [
                    r[0]
                    for r in self.data.rows(
                        "SELECT id FROM cv_users WHERE sis_user_id = ?", [value.split(":", 1)[1]]
                    )
                ]
            elif value.isdigit():
                ids.append(int(value))
            else:
                raise _canvas_error(400, f"invalid user id {value!r}")
        return ids

    def _linked_outcomes(self, request: Request, course: int, full: bool = True) -> str:
        rows = self.data.rows(
            f"""SELECT {_outcome_json(full)} FROM cv_outcomes o
            WHERE o.id IN (SELECT unnest(list_transform(rubric, lambda r: r.outcome_id))
                           FROM cv_assignments WHERE course_id = $course)
            ORDER BY o.id""",
            {"course": course, "points": POINTS_POSSIBLE, "mastery": MASTERY_POINTS},
        )
        return "[" + ",".join(r[0] for r in rows) + "]"

    def canvas_outcome_results(self, request: Request, raw: str) -> Response:
        course = self._course_id(raw)
        include = set(request.all("include"))
        params = self._params(
            request,
            course=course,
            users=self._user_ids(request.all("user_ids")),
            outcomes=_int_list(request.all("outcome_ids"), "outcome_ids"),
            points=POINTS_POSSIBLE,
            mastery=MASTERY_POINTS,
        )
        sql = """SELECT r.id, r.json, r.user_id, r.assignment_id
            FROM (SELECT * FROM cv_outcome_results r
                  WHERE r.course_id = $course AND r.id > $after
                  AND (len($users) = 0 OR list_contains($users, r.user_id))
                  AND (len($outcomes) = 0 OR list_contains($outcomes, r.outcome_id))
                  AND r.user_id IN (SELECT e.user_id FROM cv_enrollments e
                                    WHERE e.course_id = $course AND e.type = 'StudentEnrollment'
                                    AND e.enrollment_state NOT IN ('deleted', 'rejected'))
                  ORDER BY r.id LIMIT $limit) r
            ORDER BY r.id"""

        def wrap(items: str, rows: list[tuple]) -> str:
            linked = {}
            if "outcomes" in include:
                linked["outcomes"] = self._linked_outcomes(request, course)
            if "users" in include:
                linked["users"] = self._linked_users(sorted({r[2] for r in rows}))
            if "alignments" in include:
                linked["alignments"] = self._linked_alignments(
                    request, sorted({r[3] for r in rows})
                )
            text = f'{{"outcome_results":{items}'
            if linked:
                text += ',"linked":{' + ",".join(f'"{k}":{v}' for k, v in linked.items()) + "}"
            return text + "}"

        return self._bookmarked(request, sql, params, wrap)

    def _linked_users(self, ids: list[int]) -> str:
        rows = self.data.rows(
            """SELECT to_json(struct_pack(id := id::VARCHAR, name := name, display_name := name,
                sortable_name := sortable_name)) FROM cv_users
            WHERE list_contains($ids, id) ORDER BY id""",
            {"ids": ids},
        )
        return "[" + ",".join(r[0] for r in rows) + "]"

    def _linked_alignments(self, request: Request, ids: list[int]) -> str:
        rows = self.data.rows(
            """SELECT to_json(struct_pack(id := 'assignment_' || id, name := name,
                html_url := $canvas || '/courses/' || course_id || '/assignments/' || id))
            FROM cv_assignments WHERE list_contains($ids, id) ORDER BY id""",
            {"ids": ids, "canvas": request.origin},
        )
        return "[" + ",".join(r[0] for r in rows) + "]"

    def canvas_outcome_rollups(self, request: Request, raw: str) -> Response:
        course = self._course_id(raw)
        include = set(request.all("include"))
        skip_empty = "missing_user_rollups" in request.all("exclude")
        users = self._user_ids(request.all("user_ids"))
        outcomes = _int_list(request.all("outcome_ids"), "outcome_ids")
        params = {"course": course, "users": users, "outcomes": outcomes, "skip": skip_empty}
        students = """SELECT DISTINCT e.user_id FROM cv_enrollments e
            WHERE e.course_id = $course AND e.type = 'StudentEnrollment'
            AND e.enrollment_state NOT IN ('deleted', 'rejected')
            AND (len($users) = 0 OR list_contains($users, e.user_id))
            AND (NOT $skip OR e.user_id IN (SELECT user_id FROM cv_outcome_results
                                            WHERE course_id = $course))"""

        def wrap(items: str, rows: list[tuple], paging: tuple) -> str:
            page, per_page, total, links = paging
            ids = [r[0] for r in rows]
            scores = self.data.rows(
                _ROLLUP_SCORES,
                {"course": course, "ids": ids, "outcomes": outcomes},
            )
            by_user: dict[int, list[dict]] = {i: [] for i in ids}
            for user_id, outcome_id, score, title, submitted_at, count in scores:
                by_user[user_id].append(
                    {
                        "score": score,
                        "title": title,
                        "submitted_at": submitted_at,
                        "count": count,
                        "hide_points": False,
                        "links": {"outcome": str(outcome_id)},
                    }
                )
            rollups = [
                {"scores": by_user[i], "links": {"user": str(i), "section": str(course)}}
                for i in ids
            ]
            linked = {}
            if "outcomes" in include:
                linked["outcomes"] = json.loads(self._linked_outcomes(request, course))
            if "users" in include:
                linked["users"] = json.loads(self._linked_users(ids))
            pagination = {"per_page": per_page, "page": page, "count": total}
            pagination |= {rel: url for url, rel in links}
            payload: dict[str, Any] = {"rollups": rollups}
            if linked:
                payload["linked"] = linked
            payload["meta"] = {"pagination": pagination}
            return json.dumps(payload)

        return self._numbered(
            request,
            f"SELECT count(*) FROM ({students})",
            f"SELECT user_id, '' FROM ({students}) ORDER BY user_id LIMIT $limit OFFSET $offset",
            params,
            wrap,
        )

    def canvas_outcome_group_links(self, request: Request, raw: str, *, course: bool) -> Response:
        full = request.get("outcome_style") == "full"
        if course:
            context = self._course_id(raw)
            where = """o.id IN (SELECT unnest(list_transform(rubric, lambda r: r.outcome_id))
                                FROM cv_assignments WHERE course_id = $context)"""
            group = _COURSE_GROUP
        else:
            context = self._account_id(raw)
            where = "TRUE"
            group = _ACCOUNT_GROUP
        params = {"context": context, "points": POINTS_POSSIBLE, "mastery": MASTERY_POINTS}
        kind = "Course" if course else "Account"
        groups = (
            "CROSS JOIN (SELECT $context + 1000000 AS id, name AS title FROM cv_courses "
            "WHERE id = $context) g"
            if course
            else "JOIN cv_outcome_groups g ON g.competency_set = o.competency_set"
        )
        link = f"""to_json(struct_pack(context_id := $context, context_type := '{kind}',
            url := '/api/v1/{kind.lower()}s/' || $context || '/outcome_groups/' || g.id
                || '/outcomes/' || o.id,
            outcome_group := {group}, outcome := {_outcome_json(full, as_struct=True)},
            assessed := o.id IN (SELECT outcome_id FROM cv_outcome_results),
            can_unlink := false))"""
        return self._numbered(
            request,
            f"SELECT count(*) FROM cv_outcomes o WHERE {where}",
            f"SELECT {link} FROM cv_outcomes o {groups} WHERE {where} "
            "ORDER BY o.id LIMIT $limit OFFSET $offset",
            params,
        )

    # OneRoster ------------------------------------------------------------------------------

    def _oneroster(self, request: Request) -> Response:
        scopes = self._oauth.granted(request)
        if scopes is None:
            raise _imsx_error(
                401,
                "unauthorisedrequest",
                "The access token is missing, unknown or expired.",
                [("WWW-Authenticate", 'Bearer error="invalid_token"')],
            )
        match = re.fullmatch(
            r"/(rostering|gradebook)/v1p2/([A-Za-z]+)(?:/([^/]+))?",
            request.path[len(ONEROSTER_PREFIX) :],
        )
        collection = _COLLECTIONS.get((match.group(1), match.group(2))) if match else None
        if collection is None:
            raise _imsx_error(404, "unknownobject", f"No such endpoint: {request.path}")
        if not scopes & collection.scopes:
            raise _imsx_error(403, "forbidden", "The token's scope does not cover this endpoint.")
        base = f"{request.origin}{ONEROSTER_PREFIX}/"
        if match.group(3):
            return self._oneroster_one(collection, match.group(3), base)
        return self._oneroster_list(request, collection, base)

    def _oneroster_one(self, collection: _Collection, sourced_id: str, base: str) -> Response:
        rows = self.data.rows(
            f"SELECT r.json FROM {collection.table} r "
            f"WHERE {collection.where} AND r.sourcedId = $id",
            {"or": base, "id": sourced_id},
        )
        if not rows:
            raise _imsx_error(404, "unknownobject", f"No {collection.singular} {sourced_id!r}")
        return _raw_json(f'{{"{collection.singular}":{rows[0][0]}}}')

    def _oneroster_list(self, request: Request, collection: _Collection, base: str) -> Response:
        limit = _int_param(request.get("limit"), ONEROSTER_DEFAULT_LIMIT, "limit", minimum=1)
        limit = min(limit, ONEROSTER_MAX_LIMIT)
        offset = _int_param(request.get("offset"), 0, "offset", minimum=0)
        where, params = _oneroster_filter(collection, request.get("filter"))
        sort = request.get("sort") or "sourcedId"
        if sort not in collection.columns:
            raise _imsx_error(400, "invalid_sort_field", f"Cannot sort by {sort!r}")
        order = (request.get("orderBy") or "asc").lower()
        if order not in ("asc", "desc"):
            raise _imsx_error(
                400, "invalid_sort_field", f"orderBy must be asc or desc, not {order!r}"
            )
        fields = [f for f in (request.get("fields") or "").split(",") if f.strip()]
        params |= {"or": base, "limit": limit, "offset": offset}
        fixed = collection.where
        # rn is the sourcedId order as an integer: the cheaper sort key.
        key = "r.rn" if sort == "sourcedId" else collection.columns[sort][0]
        sort_sql = f"{key} {order.upper()}, r.rn {order.upper()}"
        if where == "TRUE" and fixed == "TRUE" and sort == "sourcedId" and order == "asc":
            # Tables are stored in sourcedId order with their rank, so a page is a range scan.
            total = self.data.facts.counts[collection.table]
            sql = (
                f"SELECT r.json FROM {collection.table} r "
                "WHERE r.rn > $offset AND r.rn <= $offset + $limit ORDER BY r.rn"
            )
        else:
            total = self.data.rows(
                f"SELECT count(*) FROM {collection.table} r WHERE {fixed} AND ({where})", params
            )[0][0]
            sql = (
                # Pick the page's rows by rank first, so the sort never carries the JSON.
                f"SELECT r.json FROM {collection.table} r WHERE r.rn IN ("
                f"SELECT r.rn FROM {collection.table} r WHERE {fixed} AND ({where}) "
                f"ORDER BY {sort_sql} LIMIT $limit OFFSET $offset) ORDER BY {sort_sql}"
            )
        rows = [r[0] for r in self.data.rows(sql, params)]
        if fields:
            rows = _select_fields(rows, fields)
        headers = offset_paging_headers(request, limit=limit, offset=offset, total=total)
        return _raw_json(f'{{"{collection.envelope}":[{",".join(rows)}]}}', headers=headers)


# Canvas JSON, as DuckDB builds it per page (alias names as in the queries above) ------------

_ENROLLMENT_TYPES = (
    "StudentEnrollment",
    "TeacherEnrollment",
    "TaEnrollment",
    "DesignerEnrollment",
    "ObserverEnrollment",
)
_ENROLLMENT_TYPE_NAMES = {
    "student": "StudentEnrollment",
    "teacher": "TeacherEnrollment",
    "ta": "TaEnrollment",
    "designer": "DesignerEnrollment",
    "observer": "ObserverEnrollment",
}
# Canvas's shorthand states; without state[] it lists active and invited enrollments.
_STATE_GROUPS = {
    "current_and_invited": ("active", "invited"),
    "current_and_future": ("active", "invited", "creation_pending"),
    "current_future_and_restricted": ("active", "invited", "creation_pending", "inactive"),
    "current_and_concluded": ("active", "completed"),
}
# Without enrollment_state, submissions of every enrollment but deleted ones are listed.
_SUBMISSION_ENROLLMENT_STATES = {
    "": ["active", "invited", "inactive", "completed", "creation_pending"],
    "active": ["active"],
    "concluded": ["completed"],
}

_CANVAS_TERM = """to_json(struct_pack(id := t.id, name := t.name, start_at := iso_s(t.start_at),
    end_at := iso_s(t.end_at), created_at := iso_s($roster_at), workflow_state := 'active',
    grading_period_group_id := NULL::BIGINT, sis_term_id := t.sis_term_id,
    sis_import_id := NULL::BIGINT))"""

_CANVAS_ACCOUNT = """to_json(struct_pack(id := a.id, name := a.name, uuid := md5('account' || a.id),
    parent_account_id := a.parent_account_id, root_account_id := CASE WHEN a.id = 1 THEN NULL
    ELSE 1 END, workflow_state := 'active', default_time_zone := $tz,
    sis_account_id := a.sis_account_id, integration_id := NULL::VARCHAR,
    sis_import_id := NULL::BIGINT))"""

_CANVAS_COURSE_FIELDS = """id := c.id, name := c.name, account_id := c.account_id, uuid := c.uuid,
    start_at := iso_s(t.start_at), grading_standard_id := NULL::BIGINT, is_public := false,
    created_at := iso_s(c.created_at), course_code := c.course_code, default_view := 'modules',
    root_account_id := 1, enrollment_term_id := c.enrollment_term_id, license := 'private',
    grade_passback_setting := NULL::VARCHAR, end_at := iso_s(t.end_at), public_syllabus := false,
    public_syllabus_to_auth := false, storage_quota_mb := 500, is_public_to_auth_users := false,
    homeroom_course := c.homeroom_course, course_color := NULL::VARCHAR,
    friendly_name := NULL::VARCHAR, apply_assignment_group_weights := false,
    calendar := struct_pack(ics := $canvas || '/feeds/calendars/course_' || c.uuid || '.ics'),
    time_zone := $tz, blueprint := false, template := false, sis_course_id := c.sis_course_id,
    sis_import_id := NULL::BIGINT, integration_id := NULL::VARCHAR, hide_final_grades := false,
    workflow_state := 'available', restrict_enrollments_to_course_dates := false"""

_CANVAS_COURSE_TERM = """, term := struct_pack(id := t.id, name := t.name,
    start_at := iso_s(t.start_at), end_at := iso_s(t.end_at), created_at := iso_s($roster_at),
    workflow_state := 'active', grading_period_group_id := NULL::BIGINT)"""


def _canvas_course_json(with_term: bool) -> str:
    return (
        f"to_json(struct_pack({_CANVAS_COURSE_FIELDS}{_CANVAS_COURSE_TERM if with_term else ''}))"
    )


def _canvas_user_json(with_email: bool) -> str:
    email = ", email := u.email" if with_email else ""
    return f"""to_json(struct_pack(id := u.id, name := u.name, created_at := iso_s(u.created_at),
        sortable_name := u.sortable_name, short_name := u.name, first_name := u.first_name,
        last_name := u.last_name, sis_user_id := u.sis_user_id, sis_import_id := NULL::BIGINT,
        integration_id := NULL::VARCHAR, login_id := u.login_id{email}))"""


_CANVAS_ENROLLMENT = """to_json(struct_pack(id := e.id, user_id := e.user_id,
    course_id := e.course_id, type := e.type, created_at := iso_s(e.created_at),
    updated_at := iso_s(e.updated_at), associated_user_id := NULL::BIGINT,
    start_at := NULL::VARCHAR, end_at := NULL::VARCHAR, course_section_id := e.course_id,
    root_account_id := 1, limit_privileges_to_course_section := false,
    enrollment_state := e.enrollment_state, role := e.type,
    role_id := CASE e.type WHEN 'StudentEnrollment' THEN 3 WHEN 'TeacherEnrollment' THEN 4
                ELSE 5 END,
    last_activity_at := NULL::VARCHAR, total_activity_time := 0,
    sis_account_id := a.sis_account_id, sis_course_id := c.sis_course_id,
    course_integration_id := NULL::VARCHAR, sis_section_id := c.sis_course_id,
    section_integration_id := NULL::VARCHAR, sis_user_id := u.sis_user_id,
    html_url := $canvas || '/courses/' || e.course_id || '/users/' || e.user_id,
    user := struct_pack(id := u.id, name := u.name, created_at := iso_s(u.created_at),
        sortable_name := u.sortable_name, short_name := u.name, sis_user_id := u.sis_user_id,
        integration_id := NULL::VARCHAR, login_id := u.login_id)))"""

# Rubric criteria carry `outcome_id` and `vendor_guid` when aligned, as Canvas's assignment JSON.
_CANVAS_ASSIGNMENT = """to_json(struct_pack(id := a.id, name := a.name,
    description := a.description, created_at := iso_s(a.created_at),
    updated_at := iso_s(a.created_at),
    due_at := iso_s(a.due_at), lock_at := NULL::VARCHAR, unlock_at := iso_s(a.unlock_at),
    has_overrides := false, course_id := a.course_id,
    html_url := $canvas || '/courses/' || a.course_id || '/assignments/' || a.id,
    submissions_download_url := $canvas || '/courses/' || a.course_id || '/assignments/' || a.id
        || '/submissions?zip=1',
    assignment_group_id := a.course_id * 10 + 1, due_date_required := false,
    allowed_extensions := []::VARCHAR[], max_name_length := 255, turnitin_enabled := false,
    grade_group_students_individually := false, peer_reviews := false, position := a.position,
    points_possible := a.points_possible, grading_type := 'points',
    grading_standard_id := NULL::BIGINT, published := true, unpublishable := false,
    only_visible_to_overrides := false, locked_for_user := false,
    submission_types := ['online_upload'], workflow_state := 'published',
    sis_assignment_id := a.sis_assignment_id, integration_id := NULL::VARCHAR,
    anonymous_grading := false, omit_from_final_grade := false, hide_in_gradebook := false,
    muted := false, post_manually := false, use_rubric_for_grading := false,
    free_form_criterion_comments := false,
    rubric := CASE WHEN len(a.rubric) > 0 THEN list_transform(a.rubric, lambda r: struct_pack(
        id := a.id || '_' || r.n, points := $points, description := r.description,
        long_description := r.long_description, ignore_for_scoring := false,
        criterion_use_range := false,
        ratings := list_transform(outcome_ratings(), lambda x, k: struct_pack(
            id := a.id || '_' || r.n || '_' || k, points := x.points,
            description := x.description, long_description := '')),
        outcome_id := r.outcome_id, vendor_guid := r.vendor_guid)) END,
    rubric_settings := CASE WHEN len(a.rubric) > 0 THEN struct_pack(id := a.id,
        title := a.name || ' rubric', points_possible := $points * len(a.rubric),
        free_form_criterion_comments := false, hide_score_total := false,
        hide_points := false) END))"""

_CANVAS_SUBMISSION = """to_json(struct_pack(id := s.id, user_id := s.user_id,
    assignment_id := s.assignment_id, attempt := 1, body := NULL::VARCHAR,
    grade := points_grade(s.score), score := s.score, entered_grade := points_grade(s.score),
    entered_score := s.score, submitted_at := iso_s(s.submitted_at),
    graded_at := iso_s(s.graded_at), posted_at := iso_s(s.graded_at),
    grade_matches_current_submission := true, grader_id := NULL::BIGINT,
    preview_url := $canvas || '/courses/' || s.course_id || '/assignments/' || s.assignment_id
        || '/submissions/' || s.user_id || '?preview=1&version=1',
    submission_type := 'online_upload', url := NULL::VARCHAR, workflow_state := 'graded',
    late := coalesce(s.submitted_at > s.due_at, false), missing := false, excused := false,
    late_policy_status := NULL::VARCHAR, points_deducted := NULL::DOUBLE,
    seconds_late := CASE WHEN s.submitted_at > s.due_at
        THEN date_diff('second', s.due_at, s.submitted_at) ELSE 0 END,
    cached_due_date := iso_s(s.due_at), extra_attempts := NULL::BIGINT, redo_request := false))"""

_CANVAS_OUTCOME_RESULT = """to_json(struct_pack(id := r.id, score := r.score,
    mastery := r.score >= $mastery, possible := $points, percent := round(r.score / $points, 4),
    hide_points := false, hidden := false,
    submitted_or_assessed_at := iso_s(coalesce(s.submitted_at, s.graded_at)),
    links := struct_pack(user := r.user_id::VARCHAR, learning_outcome := r.outcome_id::VARCHAR,
        alignment := 'assignment_' || r.assignment_id,
        assignment := 'assignment_' || r.assignment_id)))"""

# A learner's score on each outcome of a course, rolled up by the outcome's calculation method
# (decaying average: the latest score weighs calculation_int %, the mean of the others the rest).
_ROLLUP_SCORES = """
WITH results AS (
    SELECT r.user_id, r.outcome_id, r.score, coalesce(s.submitted_at, s.graded_at) AS assessed_at
    FROM cv_outcome_results r JOIN cv_submissions s ON s.id = r.submission_id
    WHERE r.course_id = $course AND list_contains($ids, r.user_id)
    AND (len($outcomes) = 0 OR list_contains($outcomes, r.outcome_id))
), rolled AS (
    SELECT user_id, outcome_id, count(*) AS n, max(score) AS highest, avg(score) AS mean,
        arg_max(score, assessed_at) AS latest, sum(score) AS total,
        max(assessed_at) AS last_at
    FROM results GROUP BY user_id, outcome_id
)
SELECT x.user_id, x.outcome_id,
    round(CASE o.calculation_method
        WHEN 'highest' THEN x.highest
        WHEN 'latest' THEN x.latest
        WHEN 'decaying_average' THEN CASE WHEN x.n = 1 THEN x.latest
            ELSE x.latest * o.calculation_int / 100.0
                 + (x.total - x.latest) / (x.n - 1) * (1 - o.calculation_int / 100.0) END
        ELSE x.mean END, 2) AS score,
    o.title, iso_s(x.last_at), x.n
FROM rolled x JOIN cv_outcomes o ON o.id = x.outcome_id
ORDER BY x.user_id, x.outcome_id
"""

_ACCOUNT_GROUP = """struct_pack(id := g.id, title := g.title, vendor_guid := NULL::VARCHAR,
    url := '/api/v1/accounts/' || $context || '/outcome_groups/' || g.id,
    subgroups_url := '/api/v1/accounts/' || $context || '/outcome_groups/' || g.id || '/subgroups',
    outcomes_url := '/api/v1/accounts/' || $context || '/outcome_groups/' || g.id || '/outcomes',
    can_edit := false)"""

_COURSE_GROUP = """struct_pack(id := g.id, title := g.title, vendor_guid := NULL::VARCHAR,
    url := '/api/v1/courses/' || $context || '/outcome_groups/' || g.id,
    subgroups_url := '/api/v1/courses/' || $context || '/outcome_groups/' || g.id || '/subgroups',
    outcomes_url := '/api/v1/courses/' || $context || '/outcome_groups/' || g.id || '/outcomes',
    can_edit := false)"""


def _outcome_json(full: bool, as_struct: bool = False) -> str:
    """An outcome as Canvas shows it: abbreviated, or in full with its mastery scale."""
    fields = """id := o.id, url := '/api/v1/outcomes/' || o.id, context_id := 1,
        context_type := 'Account', title := o.title, display_name := o.display_name,
        vendor_guid := o.vendor_guid, can_edit := false, has_updateable_rubrics := false"""
    if full:
        fields += """, description := o.description,
            calculation_method := o.calculation_method, calculation_int := o.calculation_int,
            points_possible := $points, mastery_points := $mastery,
            ratings := outcome_ratings()"""
        fields += ", assessed := o.id IN (SELECT outcome_id FROM cv_outcome_results)"
    text = f"struct_pack({fields})"
    return text if as_struct else f"to_json({text})"


def _canvas_routes(lms: SampleLms) -> list[tuple[re.Pattern[str], Callable]]:
    routes: list[tuple[str, Callable]] = [
        (r"/accounts/([^/]+)/terms", lms.canvas_terms),
        (r"/accounts/([^/]+)/courses", lms.canvas_account_courses),
        (r"/accounts/([^/]+)/sub_accounts", lms.canvas_sub_accounts),
        (r"/accounts/([^/]+)/users", lms.canvas_account_users),
        (
            r"/accounts/([^/]+)/outcome_group_links",
            lambda r, i: lms.canvas_outcome_group_links(r, i, course=False),
        ),
        (r"/courses/([^/]+)", lms.canvas_course),
        (r"/courses/([^/]+)/enrollments", lms.canvas_enrollments),
        (r"/courses/([^/]+)/users", lms.canvas_course_users),
        (r"/courses/([^/]+)/assignments", lms.canvas_assignments),
        (r"/courses/([^/]+)/students/submissions", lms.canvas_submissions),
        (
            r"/courses/([^/]+)/outcome_group_links",
            lambda r, i: lms.canvas_outcome_group_links(r, i, course=True),
        ),
        (r"/courses/([^/]+)/outcome_results", lms.canvas_outcome_results),
        (r"/courses/([^/]+)/outcome_rollups", lms.canvas_outcome_rollups),
    ]
    return [(re.compile(p), h) for p, h in routes]


def _renderings() -> list[Rendering]:
    """Every stored JSON column: the Canvas objects that page in bulk and every OneRoster
    record."""
    canvas = [
        Rendering(
            "cv_enrollments",
            "e",
            "json",
            _CANVAS_ENROLLMENT,
            "cv_users u, cv_courses c, cv_accounts a",
            "u.id = e.user_id AND c.id = e.course_id AND a.id = c.account_id",
        ),
        Rendering("cv_submissions", "s", "json", _CANVAS_SUBMISSION),
        Rendering(
            "cv_outcome_results",
            "r",
            "json",
            _CANVAS_OUTCOME_RESULT,
            "cv_submissions s",
            "s.id = r.submission_id",
        ),
        Rendering("cv_users", "u", "json", _canvas_user_json(False)),
        Rendering("cv_users", "u", "json_email", _canvas_user_json(True)),
        Rendering("cv_assignments", "a", "json", _CANVAS_ASSIGNMENT),
        Rendering(
            "cv_courses",
            "c",
            "json",
            _canvas_course_json(False),
            "cv_terms t",
            "t.id = c.enrollment_term_id",
        ),
        Rendering(
            "cv_courses",
            "c",
            "json_term",
            _canvas_course_json(True),
            "cv_terms t",
            "t.id = c.enrollment_term_id",
        ),
    ]
    tables = {c.table: c.json for c in _COLLECTIONS.values()}
    return canvas + [Rendering(t, "r", "json", sql) for t, sql in tables.items()]


# OneRoster collections, declared -------------------------------------------------------------


@dataclass(frozen=True)
class _Collection:
    """One OneRoster 1.2 collection: its table, how a row renders, what can filter or sort it."""

    envelope: str  # {"users": [...]}
    singular: str  # {"user": {...}}
    table: str
    json: str  # SQL rendering a row `r` as JSON; `$or` is the OneRoster base URL
    scopes: frozenset[str]
    where: str = "TRUE"  # a fixed subset (students of users, schools of orgs…)
    extra: tuple[tuple[str, str], ...] = ()  # further filterable fields → SQL

    @property
    def columns(self) -> dict[str, tuple[str, str]]:
        """Filterable and sortable fields → (SQL, kind)."""
        cols = {
            "sourcedId": ("r.sourcedId", "text"),
            "status": ("r.status", "text"),
            "dateLastModified": ("r.dlm", "time"),
        }
        cols |= {name: (sql, "text") for name, sql in self.extra}
        return cols


_ROSTER_CORE = frozenset({SCOPE_ROSTER, SCOPE_ROSTER_CORE})
_ROSTER_DEMOGRAPHICS = frozenset({SCOPE_ROSTER, SCOPE_DEMOGRAPHICS})
_GRADEBOOK = frozenset({SCOPE_GRADEBOOK})

_R = "'rostering/v1p2/"
_G = "'gradebook/v1p2/"
_COMMON = "sourcedId := r.sourcedId, status := r.status, dateLastModified := iso_ms(r.dlm)"

_ORG_JSON = f"""to_json(struct_pack({_COMMON}, name := r.name, type := r.type,
    identifier := r.identifier, parent := ref($or, {_R}orgs/', r.parentSourcedId, 'org'),
    children := refs($or, {_R}orgs/', r.children, 'org')))"""
_SESSION_JSON = f"""to_json(struct_pack({_COMMON}, title := r.title, startDate := r.startDate,
    endDate := r.endDate, type := r.type,
    parent := ref($or, {_R}academicSessions/', r.parentSourcedId, 'academicSession'),
    children := refs($or, {_R}academicSessions/', r.children, 'academicSession'),
    schoolYear := r.schoolYear))"""
_COURSE_JSON = f"""to_json(struct_pack({_COMMON}, title := r.title,
    schoolYear := ref($or, {_R}academicSessions/', r.schoolYearSourcedId, 'academicSession'),
    courseCode := r.courseCode, grades := r.grades, subjects := r.subjects,
    org := ref($or, {_R}orgs/', r.orgSourcedId, 'org'), subjectCodes := r.subjectCodes))"""
_CLASS_JSON = f"""to_json(struct_pack({_COMMON}, title := r.title, classCode := r.classCode,
    classType := r.classType, location := r.location, grades := r.grades, subjects := r.subjects,
    course := ref($or, {_R}courses/', r.courseSourcedId, 'course'),
    school := ref($or, {_R}orgs/', r.schoolSourcedId, 'org'),
    terms := refs($or, {_R}academicSessions/', r.terms, 'academicSession'),
    subjectCodes := r.subjectCodes, periods := r.periods))"""
# A password is never served.
_USER_JSON = f"""to_json(struct_pack({_COMMON}, userMasterIdentifier := r.userMasterIdentifier,
    username := r.username,
    userIds := list_transform(r.userIds, lambda x: struct_pack(
        type := trim(split_part(x, ':', 1), '{{}} '),
        identifier := trim(substr(x, strpos(x, ':') + 1), '{{}} '))),
    enabledUser := r.enabledUser, givenName := r.givenName, familyName := r.familyName,
    middleName := r.middleName, preferredFirstName := r.preferredGivenName,
    preferredMiddleName := r.preferredMiddleName, preferredLastName := r.preferredFamilyName,
    pronouns := r.pronouns,
    roles := list_transform(r.roles, lambda x: struct_pack(roleType := x.roleType,
        role := x.role, org := ref($or, {_R}orgs/', x.org, 'org'),
        userProfile := x.userProfile, beginDate := x.beginDate, endDate := x.endDate)),
    userProfiles := []::VARCHAR[],
    primaryOrg := ref($or, {_R}orgs/', r.primaryOrgSourcedId, 'org'),
    identifier := r.identifier, email := r.email, sms := r.sms, phone := r.phone,
    agents := refs($or, {_R}users/', r.agents, 'user'), grades := r.grades))"""
_ENROLLMENT_JSON = f"""to_json(struct_pack({_COMMON},
    user := ref($or, {_R}users/', r.userSourcedId, 'user'),
    class := ref($or, {_R}classes/', r.classSourcedId, 'class'),
    school := ref($or, {_R}orgs/', r.schoolSourcedId, 'org'), role := r.role,
    "primary" := r."primary", beginDate := r.beginDate, endDate := r.endDate))"""
_DEMOGRAPHICS_JSON = f"""to_json(struct_pack({_COMMON}, birthDate := r.birthDate, sex := r.sex,
    americanIndianOrAlaskaNative := r.americanIndianOrAlaskaNative, asian := r.asian,
    blackOrAfricanAmerican := r.blackOrAfricanAmerican,
    nativeHawaiianOrOtherPacificIslander := r.nativeHawaiianOrOtherPacificIslander,
    white := r.white, demographicRaceTwoOrMoreRaces := r.demographicRaceTwoOrMoreRaces,
    hispanicOrLatinoEthnicity := r.hispanicOrLatinoEthnicity,
    countryOfBirthCode := r.countryOfBirthCode,
    stateOfBirthAbbreviation := r.stateOfBirthAbbreviation, cityOfBirth := r.cityOfBirth,
    publicSchoolResidenceStatus := r.publicSchoolResidenceStatus, metadata := r.metadata))"""
_CATEGORY_JSON = f"""to_json(struct_pack({_COMMON}, title := r.title, weight := r.weight))"""
_SCORE_SCALE_JSON = f"""to_json(struct_pack({_COMMON}, title := r.title, type := r.type,
    course := NULL::VARCHAR, class := NULL::VARCHAR, scoreScaleValue := r.scoreScaleValue))"""
_LINE_ITEM_JSON = f"""to_json(struct_pack({_COMMON}, title := r.title,
    description := r.description, assignDate := or_datetime(r.assignDate),
    dueDate := or_datetime(r.dueDate),
    class := ref($or, {_R}classes/', r.classSourcedId, 'class'),
    school := ref($or, {_R}orgs/', r.schoolSourcedId, 'org'),
    category := ref($or, {_G}categories/', r.categorySourcedId, 'category'),
    academicSession := ref($or, {_R}academicSessions/', r.academicSessionSourcedId,
        'academicSession'),
    scoreScale := ref($or, {_G}scoreScales/', 'scale-mastery-1-4', 'scoreScale'),
    resultValueMin := r.resultValueMin, resultValueMax := r.resultValueMax,
    learningObjectiveSet := CASE WHEN len(r.objectives) > 0
        THEN [struct_pack(source := 'case', learningObjectiveIds := r.objectives)]
        ELSE [] END))"""
_RESULT_JSON = f"""to_json(struct_pack({_COMMON},
    lineItem := ref($or, {_G}lineItems/', r.lineItemSourcedId, 'lineItem'),
    student := ref($or, {_R}users/', r.studentSourcedId, 'user'),
    class := ref($or, {_R}classes/', r.classSourcedId, 'class'),
    scoreScale := ref($or, {_G}scoreScales/', 'scale-mastery-1-4', 'scoreScale'),
    scoreStatus := r.scoreStatus, score := r.score, textScore := r.textScore,
    scoreDate := r.scoreDate, comment := r.comment,
    learningObjectiveSet := CASE WHEN len(r.objectives) > 0
        THEN [struct_pack(source := 'case', learningObjectiveResults := r.objectives)]
        ELSE [] END,
    inProgress := r.inProgress, incomplete := r.incomplete, late := r.late,
    missing := r.missing))"""

_USERS = dict(
    envelope="users",
    singular="user",
    table="or_users",
    json=_USER_JSON,
    scopes=_ROSTER_CORE,
    extra=(
        ("username", "r.username"),
        ("email", "r.email"),
        ("givenName", "r.givenName"),
        ("familyName", "r.familyName"),
        ("identifier", "r.identifier"),
        ("role", "r.roles[1].role"),
    ),
)
_ORGS = dict(
    envelope="orgs",
    singular="org",
    table="or_orgs",
    json=_ORG_JSON,
    scopes=_ROSTER_CORE,
    extra=(("type", "r.type"), ("name", "r.name"), ("identifier", "r.identifier")),
)
_SESSIONS = dict(
    envelope="academicSessions",
    singular="academicSession",
    table="or_academic_sessions",
    json=_SESSION_JSON,
    scopes=_ROSTER_CORE,
    extra=(("type", "r.type"), ("title", "r.title"), ("schoolYear", "r.schoolYear")),
)

_COLLECTIONS: dict[tuple[str, str], _Collection] = {
    ("rostering", "orgs"): _Collection(**_ORGS),
    ("rostering", "schools"): _Collection(**_ORGS, where="r.type = 'school'"),
    ("rostering", "academicSessions"): _Collection(**_SESSIONS),
    ("rostering", "terms"): _Collection(**_SESSIONS, where="r.type = 'term'"),
    ("rostering", "gradingPeriods"): _Collection(**_SESSIONS, where="r.type = 'gradingPeriod'"),
    ("rostering", "courses"): _Collection(
        "courses",
        "course",
        "or_courses",
        _COURSE_JSON,
        _ROSTER_CORE,
        extra=(("title", "r.title"), ("courseCode", "r.courseCode")),
    ),
    ("rostering", "classes"): _Collection(
        "classes",
        "class",
        "or_classes",
        _CLASS_JSON,
        _ROSTER_CORE,
        extra=(("title", "r.title"), ("classCode", "r.classCode"), ("classType", "r.classType")),
    ),
    ("rostering", "users"): _Collection(**_USERS),
    ("rostering", "students"): _Collection(**_USERS, where="r.roles[1].role = 'student'"),
    ("rostering", "teachers"): _Collection(**_USERS, where="r.roles[1].role = 'teacher'"),
    ("rostering", "enrollments"): _Collection(
        "enrollments",
        "enrollment",
        "or_enrollments",
        _ENROLLMENT_JSON,
        _ROSTER_CORE,
        extra=(("role", "r.role"),),
    ),
    ("rostering", "demographics"): _Collection(
        "demographics",
        "demographics",
        "or_demographics",
        _DEMOGRAPHICS_JSON,
        _ROSTER_DEMOGRAPHICS,
        extra=(("sex", "r.sex"),),
    ),
    ("gradebook", "categories"): _Collection(
        "categories", "category", "or_categories", _CATEGORY_JSON, _GRADEBOOK
    ),
    ("gradebook", "scoreScales"): _Collection(
        "scoreScales", "scoreScale", "or_score_scales", _SCORE_SCALE_JSON, _GRADEBOOK
    ),
    ("gradebook", "lineItems"): _Collection(
        "lineItems",
        "lineItem",
        "or_line_items",
        _LINE_ITEM_JSON,
        _GRADEBOOK,
        extra=(("title", "r.title"),),
    ),
    ("gradebook", "results"): _Collection(
        "results",
        "result",
        "or_results",
        _RESULT_JSON,
        _GRADEBOOK,
        extra=(("scoreStatus", "r.scoreStatus"),),
    ),
}

_PREDICATE = re.compile(r"\s*([A-Za-z][A-Za-z0-9_.]*)\s*(>=|<=|!=|=|>|<|~)\s*'((?:[^']|'')*)'\s*")
_LOGICAL = re.compile(r" (AND|OR) ")


def _oneroster_filter(collection: _Collection, text: str | None) -> tuple[str, dict[str, Any]]:
    """A OneRoster filter (`field op 'value'`, joined by one of AND / OR) as SQL over bound
    parameters; a malformed one is a 400 the client can act on."""
    if text is None or not text.strip():
        return "TRUE", {}
    # Split on the logical operators that stand outside quoted values.
    parts, operators, current, quoted = [], [], "", False
    i = 0
    while i < len(text):
        if text[i] == "'":
            quoted = not quoted
        if not quoted:
            match = _LOGICAL.match(text, i)
            if match:
                parts.append(current)
                operators.append(match.group(1))
                current, i = "", match.end()
                continue
        current += text[i]
        i += 1
    parts.append(current)
    if len(set(operators)) > 1:
        raise _imsx_error(400, "invalid_filter_field", "A filter may use AND or OR, not both.")
    clauses, params = [], {}
    columns = collection.columns
    for n, part in enumerate(parts):
        match = _PREDICATE.fullmatch(part)
        if not match:
            raise _imsx_error(400, "invalid_filter_field", f"Cannot parse filter {part.strip()!r}")
        name, op, value = match.group(1), match.group(2), match.group(3).replace("''", "'")
        if name not in columns:
            raise _imsx_error(400, "invalid_filter_field", f"Cannot filter on {name!r}")
        sql, kind = columns[name]
        key = f"f{n}"
        if kind == "time":
            if op == "~":
                raise _imsx_error(400, "invalid_filter_field", "~ does not apply to a date")
            params[key] = _parse_time(value)
            if params[key] is None:
                raise _imsx_error(
                    400, "invalid_filter_field", f"{value!r} is not an ISO 8601 date-time"
                )
        else:
            params[key] = value
        if op == "~":
            clauses.append(f"contains(lower({sql}), lower(${key}))")
        else:
            clauses.append(f"{sql} {'<>' if op == '!=' else op} ${key}")
    joiner = f" {operators[0]} " if operators else ""
    return joiner.join(clauses), params


# Small helpers ------------------------------------------------------------------------------


def _now() -> datetime:
    """The current UTC time, naive, to the millisecond the JSON shows."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _parse_time(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _since(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    parsed = _parse_time(value)
    if parsed is None:
        raise _canvas_error(400, f"Invalid datetime for {name}")
    return parsed


def _per_page(request: Request) -> int:
    raw = request.get("per_page")
    if raw is None or not raw.isdigit() or int(raw) < 1:
        return CANVAS_DEFAULT_PER_PAGE
    return min(int(raw), CANVAS_MAX_PER_PAGE)


def _page_number(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() and int(raw) > 0 else 1


def _encode_bookmark(key: list[Any]) -> str:
    data = json.dumps(key, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _bookmark(raw: str | None) -> int:
    """The id a bookmarked page starts after (0 for the first page)."""
    if raw is None or raw in ("", "first", "1"):
        return 0
    if not raw.startswith("bookmark:"):
        raise _canvas_error(400, "invalid page: expected a bookmark from a Link header")
    encoded = raw.removeprefix("bookmark:")
    try:
        key = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
        return int(key[0])
    except (ValueError, TypeError, IndexError, binascii.Error):
        raise _canvas_error(400, "invalid page: malformed bookmark") from None


def _int_list(values: list[str], name: str) -> list[int]:
    if not all(v.isdigit() for v in values):
        raise _canvas_error(400, f"invalid {name}")
    return [int(v) for v in values]


def _int_param(raw: str | None, default: int, name: str, minimum: int) -> int:
    return int_param(
        raw, default, name, minimum, lambda text: _imsx_error(400, "invalid_selection_field", text)
    )


def _enrollment_states(states: list[str]) -> list[str]:
    if not states:
        return ["active", "invited"]
    expanded: list[str] = []
    for state in states:
        expanded += _STATE_GROUPS.get(state, (state,))
    return expanded


def _select_fields(rows: list[str], fields: list[str]) -> list[str]:
    """OneRoster's `fields=`: only the named top-level fields of each record."""
    out = []
    for text in rows:
        record = json.loads(text)
        missing = [f for f in fields if f not in record]
        if missing:
            raise _imsx_error(400, "invalid_selection_field", f"No such field: {missing[0]!r}")
        out.append(json.dumps({f: record[f] for f in fields}))
    return out


# The environment variables the sample LMS and a config pointing at it share.
CANVAS_TOKEN_ENV = "CANVAS_TOKEN"
CLIENT_ID_ENV = "ONEROSTER_CLIENT_ID"
CLIENT_SECRET_ENV = "ONEROSTER_CLIENT_SECRET"


def sample_lms_sources(canvas_url: str, oneroster_url: str, token_url: str) -> list[dict]:
    """`sources.lms` entries for a district served by the sample LMS: its Canvas and its
    OneRoster 1.2 REST service, credentials named by environment variable."""
    return [
        {"kind": "canvas", "base_url": canvas_url, "account_id": 1, "token_env": CANVAS_TOKEN_ENV},
        {
            "kind": "oneroster_rest",
            "base_url": oneroster_url,
            "token_url": token_url,
            "client_id_env": CLIENT_ID_ENV,
            "client_secret_env": CLIENT_SECRET_ENV,
        },
    ]


def point_config_at(config_path: Path, lms: SampleLms | str) -> None:
    """Add the sample LMS (running, or by its base URL) to a generated district's
    `pathways.yaml` as the district's LMS, replacing any LMS listed there."""
    import yaml

    base = lms.base_url if isinstance(lms, SampleLms) else lms.rstrip("/")
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config["sources"]["lms"] = sample_lms_sources(base, base + ONEROSTER_PREFIX, base + TOKEN_PATH)
    config_path.write_text(
        yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
