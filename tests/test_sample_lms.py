"""The sample LMS: a Canvas- and OneRoster-compatible server over a generated district that pages,
throttles, authenticates and fails the way the real services do, tested with plain HTTP."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from sample_district.generate import GeneratedDistrict, generate_district
from sample_district.lms_server import Faults, SampleLms, Throttle

TOKEN = "canvas-test-token"
CLIENT_ID = "oneroster-client"
CLIENT_SECRET = "oneroster-secret"
LEARNERS = 300


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDistrict:
    return generate_district(LEARNERS, tmp_path_factory.mktemp("district"), seed=7)


def _server(district: GeneratedDistrict, **options) -> SampleLms:
    return SampleLms(
        district.out,
        canvas_token=TOKEN,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        **options,
    ).start()


@pytest.fixture(scope="module")
def lms(district: GeneratedDistrict) -> Iterator[SampleLms]:
    """A server nobody mutates or throttles."""
    server = _server(district)
    yield server
    server.stop()


@pytest.fixture
def fresh_lms(district: GeneratedDistrict, request: pytest.FixtureRequest) -> Iterator[SampleLms]:
    """A server of the test's own; indirect parametrization passes its options."""
    server = _server(district, **getattr(request, "param", {}))
    yield server
    server.stop()


@pytest.fixture
def canvas() -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKEN}"
    return session


def _oneroster(lms: SampleLms) -> requests.Session:
    token = requests.post(
        lms.token_url,
        auth=(CLIENT_ID, CLIENT_SECRET),
        data={"grant_type": "client_credentials"},
        timeout=5,
    ).json()["access_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _canvas_pages(session: requests.Session, url: str, params=None) -> Iterator[requests.Response]:
    """Every page of a Canvas collection, following the Link header as a client must."""
    response = session.get(url, params=params, timeout=5)
    while True:
        assert response.status_code == 200, response.text
        yield response
        following = response.links.get("next")
        if not following:
            return
        response = session.get(following["url"], timeout=5)


def _csv_rows(district: GeneratedDistrict, file: str) -> list[dict[str, str]]:
    with (district.oneroster_path / file).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _busiest_course(lms: SampleLms) -> int:
    return lms.data.rows(
        "SELECT course_id FROM cv_enrollments GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
    )[0][0]


def test_canvas_bookmark_pages_yield_every_enrollment_of_a_course_exactly_once(
    lms: SampleLms, canvas: requests.Session
) -> None:
    course = _busiest_course(lms)
    every_state = ["active", "invited", "inactive", "completed", "deleted"]
    url = f"{lms.canvas_url}/api/v1/courses/{course}/enrollments"
    pages = list(_canvas_pages(canvas, url, {"per_page": 4, "state[]": every_state}))
    seen = [e["id"] for page in pages for e in page.json()]
    expected = [
        r[0] for r in lms.data.rows("SELECT id FROM cv_enrollments WHERE course_id = ?", [course])
    ]
    assert len(pages) > 2
    assert sorted(seen) == sorted(expected) and len(seen) == len(set(seen))
    second = pages[1].url
    assert second.startswith(lms.canvas_url) and "page=bookmark:" in second
    assert second.count("state%5B%5D=") == len(every_state) and "per_page=4" in second


def test_canvas_caps_per_page_at_100(lms: SampleLms, canvas: requests.Session) -> None:
    response = canvas.get(
        f"{lms.canvas_url}/api/v1/accounts/1/users", params={"per_page": 500}, timeout=5
    )
    assert len(response.json()) == 100
    assert "next" in response.links


def test_canvas_lists_deleted_and_inactive_enrollments_only_when_state_asks(
    lms: SampleLms, canvas: requests.Session
) -> None:
    course, state = lms.data.rows(
        "SELECT course_id, enrollment_state FROM cv_enrollments "
        "WHERE enrollment_state IN ('deleted', 'inactive') ORDER BY id LIMIT 1"
    )[0]
    url = f"{lms.canvas_url}/api/v1/courses/{course}/enrollments"
    default = {e["enrollment_state"] for e in canvas.get(url, params={"per_page": 100}).json()}
    asked = canvas.get(url, params={"per_page": 100, "state[]": state}).json()
    assert default <= {"active", "invited"}
    assert asked and {e["enrollment_state"] for e in asked} == {state}


def test_canvas_requires_a_valid_bearer_token(lms: SampleLms) -> None:
    url = f"{lms.canvas_url}/api/v1/accounts/1/courses"
    missing = requests.get(url, timeout=5)
    wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
    assert missing.status_code == 401 and wrong.status_code == 401
    assert wrong.json() == {"errors": [{"message": "Invalid access token."}]}


@pytest.mark.parametrize(
    "fresh_lms",
    [{"throttle": Throttle(capacity=60, request_cost=5, preflight_cost=50, leak_rate=0.5)}],
    indirect=True,
)
def test_a_hammered_token_is_throttled_with_403_rate_limit_exceeded(
    fresh_lms: SampleLms, canvas: requests.Session
) -> None:
    url = f"{fresh_lms.canvas_url}/api/v1/accounts/1/terms"
    responses = [canvas.get(url, timeout=5) for _ in range(6)]
    assert responses[0].status_code == 200
    assert float(responses[0].headers["X-Request-Cost"]) == 5
    throttled = [r for r in responses if r.status_code == 403]
    assert throttled, [r.status_code for r in responses]
    assert "403 Forbidden (Rate Limit Exceeded)" in throttled[0].text
    assert float(throttled[0].headers["X-Rate-Limit-Remaining"]) < 50
    assert fresh_lms.stats.throttled == len(throttled)


@pytest.mark.parametrize(
    "fresh_lms",
    [{"throttle": Throttle(capacity=60, request_cost=5, preflight_cost=50, status=429)}],
    indirect=True,
)
def test_in_429_mode_a_throttled_request_is_told_when_to_retry(
    fresh_lms: SampleLms, canvas: requests.Session
) -> None:
    url = f"{fresh_lms.canvas_url}/api/v1/accounts/1/terms"
    statuses = [canvas.get(url, timeout=5) for _ in range(6)]
    throttled = [r for r in statuses if r.status_code == 429]
    assert throttled and int(throttled[0].headers["Retry-After"]) >= 1
    assert "X-Rate-Limit-Remaining" in throttled[0].headers


@pytest.mark.parametrize("fresh_lms", [{"token_ttl": 1.0}], indirect=True)
def test_oneroster_tokens_come_from_client_credentials_and_expire(fresh_lms: SampleLms) -> None:
    url = f"{fresh_lms.oneroster_url}/rostering/v1p2/orgs"
    bad = requests.post(
        fresh_lms.token_url,
        auth=(CLIENT_ID, "wrong"),
        data={"grant_type": "client_credentials"},
        timeout=5,
    )
    session = _oneroster(fresh_lms)
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_client"
    assert requests.get(url, timeout=5).status_code == 401
    assert session.get(url, timeout=5).status_code == 200
    time.sleep(1.1)
    expired = session.get(url, timeout=5)
    assert expired.status_code == 401
    assert expired.json()["imsx_CodeMinor"]["imsx_codeMinorField"][0][
        "imsx_codeMinorFieldValue"
    ] == ("unauthorisedrequest")
    assert _oneroster(fresh_lms).get(url, timeout=5).status_code == 200


def test_oneroster_offset_pages_cover_every_enrollment_once(
    lms: SampleLms, district: GeneratedDistrict
) -> None:
    session = _oneroster(lms)
    url = f"{lms.oneroster_url}/rostering/v1p2/enrollments"
    seen, response = [], session.get(url, params={"limit": 500}, timeout=5)
    while True:
        assert response.status_code == 200
        seen += [e["sourcedId"] for e in response.json()["enrollments"]]
        if "next" not in response.links:
            break
        response = session.get(response.links["next"]["url"], timeout=5)
    expected = {row["sourcedId"] for row in _csv_rows(district, "enrollments.csv")}
    assert int(response.headers["X-Total-Count"]) == len(expected)
    assert len(seen) == len(set(seen)) and set(seen) == expected
    assert seen == sorted(seen)


def test_a_malformed_oneroster_filter_is_a_400_with_an_imsx_status(lms: SampleLms) -> None:
    session = _oneroster(lms)
    url = f"{lms.oneroster_url}/gradebook/v1p2/results"
    for bad in ("dateLastModified>2026-01-01", "dateLastModified>'yesterday'", "colour='red'"):
        response = session.get(url, params={"filter": bad}, timeout=5)
        assert response.status_code == 400, bad
        assert response.json()["imsx_codeMajor"] == "failure"


def test_after_a_regrade_a_delta_filter_returns_exactly_the_regraded_results(
    fresh_lms: SampleLms, canvas: requests.Session
) -> None:
    before = datetime.now(UTC)
    time.sleep(0.01)
    regraded = fresh_lms.regrade(0.1, seed=3)
    session = _oneroster(fresh_lms)
    since = before.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    response = session.get(
        f"{fresh_lms.oneroster_url}/gradebook/v1p2/results",
        params={"filter": f"dateLastModified>'{since}' AND status='active'", "limit": 1000},
        timeout=5,
    )
    changed = response.json()["results"]
    assert regraded > 0 and len(changed) == regraded == int(response.headers["X-Total-Count"])
    # Canvas leaves out the submissions of students whose enrollment it has deleted.
    course, expected = fresh_lms.data.rows(
        "SELECT s.course_id, count(*) FROM cv_submissions s JOIN cv_enrollments e "
        "ON e.course_id = s.course_id AND e.user_id = s.user_id "
        "WHERE s.graded_at > ? AND e.enrollment_state <> 'deleted' "
        "GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
        [before.replace(tzinfo=None)],
    )[0]
    graded_since = [
        s
        for page in _canvas_pages(
            canvas,
            f"{fresh_lms.canvas_url}/api/v1/courses/{course}/students/submissions",
            {"student_ids[]": "all", "graded_since": since, "per_page": 100},
        )
        for s in page.json()
    ]
    assert len(graded_since) == expected


def test_dropped_enrollments_are_tobedeleted_in_oneroster_and_deleted_in_canvas_when_asked(
    fresh_lms: SampleLms, canvas: requests.Session
) -> None:
    dropped = fresh_lms.drop_enrollments(0.05, seed=2)
    session = _oneroster(fresh_lms)
    response = session.get(
        f"{fresh_lms.oneroster_url}/rostering/v1p2/enrollments",
        params={"filter": "status='tobedeleted'", "limit": 1000},
        timeout=5,
    )
    assert dropped > 0 and int(response.headers["X-Total-Count"]) == dropped
    one = response.json()["enrollments"][0]
    course, user = fresh_lms.data.rows(
        "SELECT course_id, user_id FROM cv_enrollments WHERE sis_enrollment_id = ?",
        [one["sourcedId"]],
    )[0]
    url = f"{fresh_lms.canvas_url}/api/v1/courses/{course}/enrollments"
    default = canvas.get(url, params={"per_page": 100}, timeout=5).json()
    deleted = canvas.get(url, params={"per_page": 100, "state[]": "deleted"}, timeout=5).json()
    assert user not in {e["user_id"] for e in default}
    assert user in {e["user_id"] for e in deleted}


@pytest.mark.parametrize(
    "fresh_lms",
    [
        {
            "faults": Faults(
                error_rate=0.1, timeout_rate=0.1, truncate_rate=0.1, slow_seconds=0.3, seed=11
            )
        }
    ],
    indirect=True,
)
def test_each_injected_fault_appears_at_about_its_rate_and_corrupts_nothing(
    fresh_lms: SampleLms, canvas: requests.Session
) -> None:
    url = f"{fresh_lms.canvas_url}/api/v1/accounts/1/terms"
    seen = {"error": 0, "timeout": 0, "truncated": 0, "ok": 0}
    for _ in range(150):
        try:
            response = canvas.get(url, timeout=0.15)
        except requests.exceptions.ReadTimeout:
            seen["timeout"] += 1
            continue
        if response.status_code == 500:
            seen["error"] += 1
            continue
        try:
            response.json()
            seen["ok"] += 1
        except ValueError:
            seen["truncated"] += 1
    stats = fresh_lms.stats
    assert (stats.errors, stats.timeouts, stats.truncated) == (
        seen["error"],
        seen["timeout"],
        seen["truncated"],
    )
    for kind in ("error", "timeout", "truncated"):
        assert 5 <= seen[kind] <= 30, seen
    fresh_lms.set_faults(Faults())
    assert len(canvas.get(url, timeout=5).json()["enrollment_terms"]) == 3


def test_canvas_identities_link_by_sis_id_by_username_or_not_at_all_at_the_documented_rates(
    lms: SampleLms, district: GeneratedDistrict, canvas: requests.Session
) -> None:
    users = _csv_rows(district, "users.csv")
    roles = {r["userSourcedId"]: r["role"] for r in _csv_rows(district, "roles.csv")}
    students = {u["sourcedId"]: u for u in users if roles[u["sourcedId"]] == "student"}
    by_username = {u["username"]: u["sourcedId"] for u in students.values()}
    by_email = {u["email"]: u["sourcedId"] for u in students.values()}
    accounts = [
        u
        for page in _canvas_pages(
            canvas,
            f"{lms.canvas_url}/api/v1/accounts/1/users",
            {"per_page": 100, "include[]": "email"},
        )
        for u in page.json()
    ]
    linked_by_sis = [u for u in accounts if u["sis_user_id"] in students]
    by_login = [u for u in accounts if not u["sis_user_id"] and u["login_id"] in by_username]
    unlinkable = [
        u
        for u in accounts
        if not u["sis_user_id"]
        and u["login_id"] not in by_username
        and u.get("email") not in by_email
    ]
    learners = len(linked_by_sis) + len(by_login) + len(unlinkable)
    assert len(linked_by_sis) + len(by_login) == LEARNERS
    assert 0.01 <= len(by_login) / learners <= 0.06
    assert len(unlinkable) == round(LEARNERS * 0.01)
    assert all(by_login_user["email"] in by_email for by_login_user in by_login)
    enrolled = lms.data.rows(
        "SELECT count(DISTINCT user_id) FROM cv_enrollments WHERE list_contains(?, user_id)",
        [[u["id"] for u in unlinkable]],
    )[0][0]
    assert enrolled == len(unlinkable)


def test_assignment_rubrics_align_criteria_to_the_lineitems_learning_objectives(
    lms: SampleLms, district: GeneratedDistrict, canvas: requests.Session
) -> None:
    objectives: dict[str, set[str]] = {}
    for row in _csv_rows(district, "lineItemLearningObjectiveIds.csv"):
        objectives.setdefault(row["lineItemSourcedId"], set()).add(row["learningObjectiveId"])
    course = lms.data.rows("SELECT course_id FROM cv_assignments ORDER BY id LIMIT 1")[0][0]
    assignments = canvas.get(
        f"{lms.canvas_url}/api/v1/courses/{course}/assignments", timeout=5
    ).json()
    assert assignments
    for assignment in assignments:
        criteria = assignment["rubric"]
        assert {c["vendor_guid"] for c in criteria} == objectives[assignment["sis_assignment_id"]]
        assert all(isinstance(c["outcome_id"], int) for c in criteria)
