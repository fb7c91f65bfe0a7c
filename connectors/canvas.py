"""Canvas LMS: a district's terms, courses, rosters, assignments, submissions and outcomes, read
through the Canvas REST API and yielded as `StreamPage`s for `pipelines.api_sync` to commit.

What is pulled, stream by stream (name, scope, raw table, key):

- `canvas.terms` ("", canvas_terms, term id): the account's enrollment terms. The terms pulled
  further are the configured SIS term ids, or else every term running today.
- `canvas.courses` (term id, canvas_courses, course id): the courses of each chosen term.
- per course (course id): `canvas.enrollments` in every state, drops included (canvas_enrollments);
  `canvas.assignments`, with their rubric's outcome alignments (canvas_assignments);
  `canvas.submissions` and `canvas.submissions_submitted` (canvas_submissions, incremental, below);
  `canvas.outcomes`, the outcomes linked in the course (canvas_outcomes, one row per outcome
  however many courses link it); `canvas.outcome_results` (canvas_outcome_results);
  `canvas.outcome_rollups` (canvas_outcome_rollups, key "<course id>:<user id>").

Records are stored exactly as Canvas sends them. Where a record does not carry its course's id
(submissions, outcome results, rollups), Pathways adds it as `_course_id`: a key that starts with
an underscore is always Pathways' addition, never Canvas's.

Submissions are incremental: once a course's submissions have been pulled completely, the next
sync asks only for those graded (`graded_since`) or submitted (`submitted_since`, the second
stream) since that sync started (or now, whichever is earlier), less `overlap` for clock skew.
Both upsert by submission id, so the overlap never duplicates a row. A change that neither grades
nor submits is not asked for.

Resuming: a stream completed earlier in the same sync is skipped and an interrupted one continues
from its saved next-page URL. The terms and course lists are always fetched again (cheap, and
unchanged rows cost nothing), because the per-course streams are driven by them.

Errors: a course's outcome endpoints are optional (the account behind the token may not be
allowed to read outcomes, or a course may have them switched off): a refusal there (403, or the
401 "user not authorized" older Canvas answers) is recorded in `CanvasPull.warnings`, logged with
the endpoint, and the stream is left unfinished (never marked done) while the pull goes on.
Every other failure raises (`connectors.http.ApiError`s, and `ConfigError` for a configured term
Canvas does not have); the caller fails the run and the checkpoint keeps the page that failed
for the next run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from connectors.http import (
    DEFAULT_SETTINGS,
    ApiClient,
    ApiPull,
    AuthenticationError,
    BearerToken,
    HttpSettings,
    Page,
    Params,
    PermissionDeniedError,
    RequestStats,
    SkippedStream,
    StreamPage,
    StreamState,
    WorkUnit,
    api_root_url,
    secret_from_env,
)
from models.config import CanvasSource, ConfigError

logger = logging.getLogger("pathways.canvas")

CANVAS_TABLES: tuple[str, ...] = (
    "canvas_terms",
    "canvas_courses",
    "canvas_enrollments",
    "canvas_assignments",
    "canvas_submissions",
    "canvas_outcomes",
    "canvas_outcome_results",
    "canvas_outcome_rollups",
)

TERMS = "canvas.terms"
COURSES = "canvas.courses"
ENROLLMENTS = "canvas.enrollments"
ASSIGNMENTS = "canvas.assignments"
SUBMISSIONS = "canvas.submissions"
SUBMISSIONS_SUBMITTED = "canvas.submissions_submitted"
OUTCOMES = "canvas.outcomes"
OUTCOME_RESULTS = "canvas.outcome_results"
OUTCOME_ROLLUPS = "canvas.outcome_rollups"

CANVAS_MAX_PER_PAGE = 100  # Canvas caps per_page at 100
# Without state[], Canvas lists only active and invited enrollments; a drop is `deleted` (or
# `inactive`, `completed`), and must be seen to be applied.
ENROLLMENT_STATES = (
    "active",
    "invited",
    "creation_pending",
    "completed",
    "inactive",
    "deleted",
    "rejected",
)
_API_ROOT = "/api/v1"


@dataclass(frozen=True)
class CanvasSettings:
    """One Canvas account to pull, and how."""

    name: str  # the source name (config `name`); the caller stores it as _source
    base_url: str  # the instance, e.g. https://district.instructure.com
    account_id: int
    token: str = field(repr=False)
    token_from: str  # where the token came from, shown in errors instead of it: "$CANVAS_TOKEN"
    terms: tuple[str, ...] | None = None  # SIS term ids; None: the terms running today
    overlap: timedelta = timedelta(minutes=60)  # incremental reads start this far back
    per_page: int = CANVAS_MAX_PER_PAGE
    http: HttpSettings = DEFAULT_SETTINGS

    def __post_init__(self) -> None:
        if not 1 <= self.per_page <= CANVAS_MAX_PER_PAGE:
            raise ValueError(f"per_page must be 1 to {CANVAS_MAX_PER_PAGE}, not {self.per_page}")
        if self.overlap < timedelta(0):
            raise ValueError(f"overlap must not be negative, not {self.overlap}")

    @property
    def api_url(self) -> str:
        """The REST API root, `<base_url>/api/v1` (a base_url already ending so is kept)."""
        return api_root_url(self.base_url, _API_ROOT)

    @classmethod
    def from_config(
        cls, source: CanvasSource, environ: Mapping[str, str] = os.environ
    ) -> CanvasSettings:
        """Settings for a `pathways.yaml` Canvas source; the token is read from the environment
        variable the source names."""
        token = secret_from_env(
            environ,
            source.token_env,
            source=f"Canvas source {source.name!r}",
            remedy="Set it to the Canvas access token Pathways should use (an account admin's "
            "token that can read the account's courses).",
        )
        options = source.http
        return cls(
            name=source.name,
            base_url=source.base_url,
            account_id=source.account_id,
            token=token,
            token_from=f"${source.token_env}",
            terms=tuple(source.terms) if source.terms is not None else None,
            overlap=timedelta(minutes=source.overlap_minutes),
            http=HttpSettings.from_options(options),
        )


def canvas_client(settings: CanvasSettings, stats: RequestStats | None = None) -> ApiClient:
    """An API client for the Canvas instance, authenticating with the settings' token."""
    return ApiClient(
        settings.api_url,
        BearerToken(settings.token, secret_from=settings.token_from),
        settings.http,
        stats=stats,
    )


def canvas_pages(
    client: ApiClient,
    settings: CanvasSettings,
    state: StreamState,
    *,
    now: datetime | None = None,
) -> CanvasPull:
    """Every page of every Canvas stream the settings select, lazily, resuming where `state`
    says; `now` (default: the current time) decides which terms are running."""
    return CanvasPull(client, settings, state, now=now)


@dataclass(frozen=True)
class _CourseStream:
    """One per-course listing, declared: where it is, how its records are picked and keyed."""

    stream: str
    table: str
    path: str  # under the API root; {course} is the course id
    params: Params
    # The page's JSON → its items (None: the JSON is the list).
    items: Callable[[Any], list[Any]] | None
    # (course id, item) → the (key, record) pairs to store.
    records: Callable[[int, Any], list[tuple[str, dict]]]
    optional: bool = False  # a refusal is a warning, not a failure


def _by_id(item: dict) -> list[tuple[str, dict]]:
    return [(str(item["id"]), item)]


def _course_item(course: int, item: dict) -> list[tuple[str, dict]]:
    return _by_id(item)


def _with_course(course: int, item: dict) -> list[tuple[str, dict]]:
    return [(str(item["id"]), _add_course(item, course))]


def _add_course(item: dict, course: int) -> dict:
    # The record as received, plus its course (Pathways' addition, hence the underscore).
    return item if "course_id" in item else {**item, "_course_id": course}


def _linked_outcome(course: int, link: dict) -> list[tuple[str, dict]]:
    # The outcome itself, not its link to this course: one row however many courses link it.
    outcome = link.get("outcome")
    return [(str(outcome["id"]), outcome)] if isinstance(outcome, dict) else []


def _rollup(course: int, rollup: dict) -> list[tuple[str, dict]]:
    return [(f"{course}:{rollup['links']['user']}", _add_course(rollup, course))]


_BEFORE_SUBMISSIONS = (
    _CourseStream(
        ENROLLMENTS,
        "canvas_enrollments",
        "courses/{course}/enrollments",
        {"state[]": list(ENROLLMENT_STATES)},
        None,
        _course_item,
    ),
    _CourseStream(
        ASSIGNMENTS,
        "canvas_assignments",
        "courses/{course}/assignments",
        {},
        None,
        _course_item,
    ),
)
# The bulk submissions endpoint, for every student of the course.
_SUBMISSIONS_PATH = "courses/{course}/students/submissions"
_SUBMISSIONS_PARAMS: Params = {"student_ids[]": ["all"]}
_AFTER_SUBMISSIONS = (
    _CourseStream(
        OUTCOMES,
        "canvas_outcomes",
        "courses/{course}/outcome_group_links",
        {"outcome_style": "full"},
        None,
        _linked_outcome,
        optional=True,
    ),
    # Without include[]=outcomes/alignments: those side-load, on every page, the outcomes and
    # assignments that canvas.outcomes and canvas.assignments already hold.
    _CourseStream(
        OUTCOME_RESULTS,
        "canvas_outcome_results",
        "courses/{course}/outcome_results",
        {},
        lambda data: data["outcome_results"],
        _with_course,
        optional=True,
    ),
    _CourseStream(
        OUTCOME_ROLLUPS,
        "canvas_outcome_rollups",
        "courses/{course}/outcome_rollups",
        {},
        lambda data: data["rollups"],
        _rollup,
        optional=True,
    ),
)


class CanvasPull(ApiPull):
    """The pages of one pull, in order; after (or during) the pull, `warnings` lists the
    optional course streams Canvas refused."""

    # -- the walk -----------------------------------------------------------------------------

    def work(self) -> Iterator[StreamPage | WorkUnit]:
        """The pull as work a caller may spread over threads: the terms and courses pages
        (every course must be known first), then one unit per course. Each unit only reads
        checkpoints, so it may run while other pages are being committed."""
        account = self.settings.account_id
        terms: list[dict] = []
        # Terms and courses start from the top even when resuming: they drive the rest.
        for page, items in self._listing(
            TERMS,
            "",
            "canvas_terms",
            f"accounts/{account}/terms",
            {},
            lambda data: data["enrollment_terms"],
            _by_id,
            resume=False,
        ):
            terms += items
            yield page
        courses: dict[int, None] = {}  # in the order Canvas lists them, once each
        for term in self._chosen_terms(terms):
            for page, items in self._listing(
                COURSES,
                str(term["id"]),
                "canvas_courses",
                f"accounts/{account}/courses",
                {"enrollment_term_id": term["id"], "include[]": ["term"]},
                None,
                _by_id,
                resume=False,
            ):
                courses.update((course["id"], None) for course in items)
                yield page
        for course in courses:
            yield WorkUnit(f"course {course}", partial(self._course_pages, course))

    def _course_pages(self, course: int, client: ApiClient) -> Iterator[StreamPage]:
        """Every stream of one course, in order."""
        for spec in _BEFORE_SUBMISSIONS:
            yield from self._course_stream(spec, course, client)
        yield from self._submissions(course, client)
        for spec in _AFTER_SUBMISSIONS:
            yield from self._course_stream(spec, course, client)

    def _course_stream(
        self, spec: _CourseStream, course: int, client: ApiClient
    ) -> Iterator[StreamPage]:
        scope = str(course)
        if self.state.is_done(spec.stream, scope):
            return
        path = spec.path.format(course=course)
        keyed = partial(spec.records, course)
        try:
            for page, _ in self._listing(
                spec.stream, scope, spec.table, path, spec.params, spec.items, keyed, client=client
            ):
                yield page
        except (PermissionDeniedError, AuthenticationError) as exc:
            # Older Canvas answers 401 "user not authorized to perform that action" where newer
            # answers 403; a token that does not work at all has failed on the terms already.
            if not spec.optional or (isinstance(exc, AuthenticationError) and exc.status != 401):
                raise
            skipped = SkippedStream(
                spec.stream,
                scope,
                exc.endpoint,
                exc.status,
                f"Let the account behind the token read the outcomes of course {scope} (or "
                "switch outcomes on for the course)",
            )
            self.warnings.append(skipped)
            logger.warning("%s", skipped)

    def _submissions(self, course: int, client: ApiClient) -> Iterator[StreamPage]:
        """The course's submissions: all of them the first time, then those graded or submitted
        since the last complete pull (less the overlap)."""
        scope = str(course)
        path = _SUBMISSIONS_PATH.format(course=course)
        keyed = partial(_with_course, course)
        full_pull = False
        if not self.state.is_done(SUBMISSIONS, scope):
            since = self.state.watermark(SUBMISSIONS, scope)
            # A resumed full pull is still one: its saved URL has no graded_since either.
            full_pull = since is None
            params = dict(_SUBMISSIONS_PARAMS)
            if since is not None:
                params["graded_since"] = self._since(since)
            for page, _ in self._listing(
                SUBMISSIONS, scope, "canvas_submissions", path, params, None, keyed, client=client
            ):
                yield page
        if self.state.is_done(SUBMISSIONS_SUBMITTED, scope):
            return
        since = self.state.watermark(SUBMISSIONS_SUBMITTED, scope)
        if since is None and full_pull:
            # The full pull just made holds every submitted submission too: mark the second
            # stream complete, so that its watermark starts with this sync.
            yield StreamPage(SUBMISSIONS_SUBMITTED, scope, "canvas_submissions", [], None)
            return
        # Without a watermark of its own (it never completed), this stream pulls everything.
        params = dict(_SUBMISSIONS_PARAMS)
        if since is not None:
            params["submitted_since"] = self._since(since)
        for page, _ in self._listing(
            SUBMISSIONS_SUBMITTED,
            scope,
            "canvas_submissions",
            path,
            params,
            None,
            keyed,
            client=client,
        ):
            yield page

    def _since(self, watermark: datetime) -> str:
        """The *_since argument for a watermark: less the overlap, and never after `now` (a
        watermark in the future means an earlier night ran on a clock that was fast)."""
        return _canvas_time(min(watermark, self.now) - self.settings.overlap)

    def _listing(
        self,
        stream: str,
        scope: str,
        table: str,
        path: str,
        params: Params,
        items: Callable[[Any], list[Any]] | None,
        records: Callable[[Any], list[tuple[str, dict]]],
        *,
        resume: bool = True,
        client: ApiClient | None = None,
    ) -> Iterator[tuple[StreamPage, list[Any]]]:
        """Every page of one stream+scope (with the page's items as received), from its saved
        next-page URL when `resume` and there is one; the last page's cursor is None."""
        client = client or self.client
        cursor = self.state.resume_cursor(stream, scope) if resume else None
        if cursor is not None:
            pages: Iterator[Page] = client.pages_by_link(cursor, items=items)
        else:
            query = {**params, "per_page": self.settings.per_page}
            pages = client.pages_by_link(path, query, items=items)
        for page in pages:
            keyed = [pair for item in page.items for pair in records(item)]
            yield StreamPage(stream, scope, table, keyed, page.next), page.items

    def _chosen_terms(self, terms: list[dict]) -> list[dict]:
        """The configured terms (by SIS term id), or else those running at `now`."""
        wanted = self.settings.terms
        if wanted is not None:
            chosen = [t for t in terms if t.get("sis_term_id") in wanted]
            missing = sorted(set(wanted) - {t.get("sis_term_id") for t in chosen})
            if missing:
                known = sorted({str(t["sis_term_id"]) for t in terms if t.get("sis_term_id")})
                raise ConfigError(
                    f"Canvas source {self.settings.name!r}: no active term has the SIS term id(s) "
                    f"{', '.join(missing)}. Check `terms` in pathways.yaml; the account's terms "
                    f"have: {', '.join(known) or 'no SIS term ids'}."
                )
        else:
            chosen = [t for t in terms if _running(t, self.now)]
        logger.info(
            "%s: pulling %d term(s): %s",
            self.settings.name,
            len(chosen),
            ", ".join(str(t["id"]) for t in chosen) or "none running",
        )
        return chosen


def _running(term: dict, now: datetime) -> bool:
    """start_at <= now < end_at; a missing date leaves that side open."""
    start, end = _parse_time(term.get("start_at")), _parse_time(term.get("end_at"))
    return (start is None or start <= now) and (end is None or now < end)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _canvas_time(moment: datetime) -> str:
    """ISO 8601 as Canvas's *_since arguments want it: YYYY-MM-DDTHH:MM:SSZ."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
