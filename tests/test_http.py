"""The shared HTTP layer, as a specification: what an API connector can count on when the API is
slow, throttled, broken or paginated, over real HTTP on loopback."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors.http import (
    ApiClient,
    ApiError,
    AuthenticationError,
    BadResponseError,
    BearerToken,
    HttpSettings,
    NotFoundError,
    OAuth2ClientCredentials,
    PermissionDeniedError,
    RequestStats,
    ThrottledError,
    TransportError,
    redact_url,
)

TOKEN = "canvas-token-7~s3cr3tValue"
CLIENT_SECRET = "oneroster-client-s3cr3t"
# Retries stay real (urllib3 sleeps for them) but tiny, so the file runs in seconds.
FAST = HttpSettings(
    connect_timeout=1.0,
    read_timeout=2.0,
    max_retries=3,
    backoff_factor=0.01,
    backoff_jitter=0.005,
    backoff_max=0.05,
)


@pytest.fixture(scope="module")
def lms_server():
    # Threaded, so a handler that sleeps past the client's read timeout does not hold up the
    # retried request behind it.
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    server.clear()
    server.stop()


@pytest.fixture
def lms(lms_server: HTTPServer):
    lms_server.clear()
    yield lms_server
    lms_server.check_handler_errors()
    lms_server.check_assertions()


class Sleeps(list):
    """Stands in for time.sleep: records the pauses ApiClient takes itself."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def canvas(lms: HTTPServer, settings: HttpSettings = FAST, **kwargs: Any) -> ApiClient:
    return ApiClient(
        lms.url_for("/api/v1"), BearerToken(TOKEN, secret_from="$CANVAS_TOKEN"), settings, **kwargs
    )


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status, headers, content_type="application/json")


def in_turn(*responses: Response, delays: tuple[float, ...] = ()) -> Callable[[Request], Response]:
    """A handler answering with `responses` one after another, the last one from then on; each
    call's server-side arrival time is kept in `handler.arrivals`."""
    served = 0
    lock = threading.Lock()

    def handler(request: Request) -> Response:
        nonlocal served
        with lock:
            turn = served
            served += 1
            handler.arrivals.append(time.monotonic())
        if turn < len(delays):
            time.sleep(delays[turn])
        return responses[min(turn, len(responses) - 1)]

    handler.arrivals = []
    return handler


def queries(lms: HTTPServer) -> list[bytes]:
    """The raw query strings the server received, in order."""
    return [request.query_string for request, _ in lms.log]


# -- pagination ---------------------------------------------------------------------------------


def test_link_paging_follows_opaque_bookmark_urls_exactly_as_given(lms: HTTPServer):
    base = lms.url_for("/api/v1/courses/12/enrollments")
    # Canvas bookmarks are opaque: %7E would become ~ if the URL were re-quoted.
    second = f"{base}?page=bookmark:WzEyLCJhYmMiXQ%7E%3D%3D&per_page=2"
    third = f"{base}?page=bookmark:WzE0LCJ4eXoiXQ&per_page=2"
    links = {
        1: f'<{base}?page=first&per_page=2>; rel="current", <{second}>; rel="next", '
        f'<{base}?page=first&per_page=2>; rel="first"',
        2: f'<{second}>; rel="current", <{third}>; rel="next", <{base}?page=first>; rel="first"',
        3: f'<{third}>; rel="current", <{base}?page=first>; rel="first", <{third}>; rel="last"',
    }
    lms.expect_ordered_request(
        "/api/v1/courses/12/enrollments",
        query_string=b"per_page=2&state%5B%5D=active&state%5B%5D=deleted",
    ).respond_with_response(json_response([{"id": 1}, {"id": 2}], headers={"Link": links[1]}))
    lms.expect_ordered_request(
        "/api/v1/courses/12/enrollments",
        query_string=b"page=bookmark:WzEyLCJhYmMiXQ%7E%3D%3D&per_page=2",
    ).respond_with_response(json_response([{"id": 3}, {"id": 4}], headers={"Link": links[2]}))
    lms.expect_ordered_request(
        "/api/v1/courses/12/enrollments", query_string=b"page=bookmark:WzE0LCJ4eXoiXQ&per_page=2"
    ).respond_with_response(json_response([{"id": 5}], headers={"Link": links[3]}))

    with canvas(lms) as client:
        pages = list(
            client.pages_by_link(
                "courses/12/enrollments", {"per_page": 2, "state[]": ["active", "deleted"]}
            )
        )

    assert [[r["id"] for r in page.items] for page in pages] == [[1, 2], [3, 4], [5]]
    assert [page.next for page in pages] == [second, third, None]
    assert pages[1].url == second
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r, _ in lms.log)
    assert len(lms.log) == 3


def test_link_header_name_and_rel_are_matched_case_insensitively(lms: HTTPServer):
    nxt = lms.url_for("/api/v1/accounts/1/courses") + "?page=2"
    lms.expect_ordered_request("/api/v1/accounts/1/courses", query_string="").respond_with_response(
        json_response([{"id": 1}], headers={"LINK": f'<{nxt}>; Rel="Next", <{nxt}>; REL=last'})
    )
    lms.expect_ordered_request(
        "/api/v1/accounts/1/courses", query_string="page=2"
    ).respond_with_response(json_response([{"id": 2}]))

    with canvas(lms) as client:
        pages = list(client.pages_by_link("/accounts/1/courses"))

    assert [page.items for page in pages] == [[{"id": 1}], [{"id": 2}]]


def test_link_paging_resumes_from_a_saved_next_url(lms: HTTPServer):
    saved = lms.url_for("/api/v1/courses/3/users") + "?page=bookmark:Wzk5XQ&per_page=50"
    lms.expect_request(
        "/api/v1/courses/3/users", query_string="page=bookmark:Wzk5XQ&per_page=50"
    ).respond_with_json([{"id": 99}])

    with canvas(lms) as client:
        pages = list(client.pages_by_link(saved))

    assert [page.items for page in pages] == [[{"id": 99}]]
    assert pages[0].next is None


def test_a_next_link_to_another_host_is_refused_and_never_followed(lms: HTTPServer):
    # Same machine, other host name: the token must still not go there.
    elsewhere = lms.url_for("/api/v1/courses").replace("127.0.0.1", "localhost") + "?page=2"
    lms.expect_request("/api/v1/courses").respond_with_json(
        [{"id": 1}], headers={"Link": f'<{elsewhere}>; rel="next"'}
    )

    with canvas(lms) as client, pytest.raises(BadResponseError, match="not on"):
        list(client.pages_by_link("courses"))

    assert len(lms.log) == 1


def test_a_resume_url_on_another_host_is_refused_before_any_request(lms: HTTPServer):
    with canvas(lms) as client, pytest.raises(ApiError, match="sends the token only"):
        client.get("http://localhost:9/api/v1/courses?page=2")
    assert lms.log == []


def test_offset_paging_stops_on_a_short_page_whatever_the_total_count_header_says(
    lms: HTTPServer,
):
    users = [{"sourcedId": f"u{i}"} for i in range(5)]

    def page_of_users(request: Request) -> Response:
        limit, offset = int(request.args["limit"]), int(request.args["offset"])
        return json_response(
            {"users": users[offset : offset + limit]}, headers={"X-Total-Count": "1000"}
        )

    lms.expect_request("/ims/oneroster/rostering/v1p2/users").respond_with_handler(page_of_users)

    with ApiClient(lms.url_for("/ims/oneroster/rostering/v1p2"), None, FAST) as client:
        pages = list(
            client.pages_by_offset(
                "users", {"filter": "status='active'"}, limit=2, items=lambda d: d["users"]
            )
        )

    assert [len(page.items) for page in pages] == [2, 2, 1]
    assert [page.next for page in pages] == ["2", "4", None]
    assert [r.args["offset"] for r, _ in lms.log] == ["0", "2", "4"]
    assert all(r.args["filter"] == "status='active'" for r, _ in lms.log)


def test_a_short_page_that_the_total_count_contradicts_warns_that_limit_may_be_capped(
    lms: HTTPServer, caplog: pytest.LogCaptureFixture
):
    users = [{"sourcedId": f"u{i}"} for i in range(10)]

    def capped(request: Request) -> Response:
        offset = int(request.args["offset"])  # the server answers 3 however many are asked for
        return json_response({"users": users[offset : offset + 3]}, headers={"X-Total-Count": "10"})

    lms.expect_request("/ims/oneroster/rostering/v1p2/users").respond_with_handler(capped)

    with ApiClient(lms.url_for("/ims/oneroster/rostering/v1p2"), None, FAST) as client:
        pages = list(client.pages_by_offset("users", limit=5, items=lambda d: d["users"]))

    assert [len(page.items) for page in pages] == [3]
    assert "X-Total-Count says 10" in caplog.text and "lower the source's page_size" in caplog.text


def test_offset_paging_stops_on_an_empty_page_and_resumes_at_an_offset(lms: HTTPServer):
    classes = [{"sourcedId": f"c{i}"} for i in range(4)]

    def page_of_classes(request: Request) -> Response:
        limit, offset = int(request.args["limit"]), int(request.args["offset"])
        # The header claims fewer than there are: paging must not stop on its word.
        return json_response(
            {"classes": classes[offset : offset + limit]}, headers={"X-Total-Count": "1"}
        )

    lms.expect_request("/oneroster/classes").respond_with_handler(page_of_classes)

    with ApiClient(lms.url_for("/oneroster"), None, FAST) as client:
        everything = list(client.pages_by_offset("classes", limit=2, items=lambda d: d["classes"]))
        resumed = list(
            client.pages_by_offset("classes", limit=2, items=lambda d: d["classes"], offset=2)
        )

    assert [len(page.items) for page in everything] == [2, 2, 0]
    assert [page.next for page in everything] == ["2", "4", None]
    assert [[c["sourcedId"] for c in page.items] for page in resumed] == [["c2", "c3"], []]


# -- throttling and slowing down ----------------------------------------------------------------


def test_canvas_rate_limit_403_is_backed_off_with_jitter_and_retried(lms: HTTPServer):
    throttled = Response("403 Forbidden (Rate Limit Exceeded)", 403)
    lms.expect_request("/api/v1/courses/5").respond_with_handler(
        in_turn(throttled, throttled, json_response({"id": 5}))
    )
    sleeps = Sleeps()

    with canvas(lms, sleep=sleeps) as client:
        course = client.get("courses/5")

    assert course.data == {"id": 5}
    assert client.stats.throttled == 2
    assert client.stats.retries == 2
    assert client.stats.requests == 3
    # backoff_factor 0.01, jitter up to 0.005: the second wait doubles the first.
    assert 0.01 <= sleeps[0] <= 0.015
    assert 0.02 <= sleeps[1] <= 0.025


def test_a_throttle_that_never_lifts_raises_throttled_error(lms: HTTPServer):
    lms.expect_request("/api/v1/courses").respond_with_data(
        "403 Forbidden (Rate Limit Exceeded)", status=403
    )
    settings = replace(FAST, throttle_retries=3)

    with canvas(lms, settings, sleep=Sleeps()) as client, pytest.raises(ThrottledError) as raised:
        client.get("courses")

    assert len(lms.log) == 4
    assert client.stats.throttled == 4
    assert "/api/v1/courses" in str(raised.value)


def test_a_plain_403_is_a_permission_error_naming_the_endpoint(lms: HTTPServer):
    lms.expect_request("/api/v1/courses/7/enrollments").respond_with_json(
        {"status": "unauthorized", "errors": [{"message": "user not authorized"}]}, status=403
    )

    with canvas(lms) as client, pytest.raises(PermissionDeniedError) as raised:
        client.get("courses/7/enrollments", {"access_token": "leaked-in-a-query"})

    message = str(raised.value)
    assert "/api/v1/courses/7/enrollments" in message
    assert "lacks permission" in message
    assert "$CANVAS_TOKEN" in message
    assert "leaked-in-a-query" not in message
    assert raised.value.endpoint == "/api/v1/courses/7/enrollments"
    assert raised.value.status == 403
    assert len(lms.log) == 1  # a permission error is not retried


def test_a_429_waits_as_long_as_retry_after_says(lms: HTTPServer):
    handler = in_turn(Response("slow down", 429, {"Retry-After": "1"}), json_response([{"id": 1}]))
    lms.expect_request("/api/v1/users").respond_with_handler(handler)

    with canvas(lms) as client:
        assert client.get("users").data == [{"id": 1}]

    first, second = handler.arrivals
    assert second - first >= 0.95
    assert client.stats.throttled == 1
    assert client.stats.retries == 1


def test_a_429_that_outlasts_the_retries_raises_throttled_error(lms: HTTPServer):
    lms.expect_request("/api/v1/users").respond_with_data("slow down", status=429)

    with canvas(lms) as client, pytest.raises(ThrottledError, match="429"):
        client.get("users")

    assert len(lms.log) == FAST.max_retries + 1
    assert client.stats.throttled == FAST.max_retries + 1


def test_running_low_on_rate_limit_pauses_before_the_next_request(lms: HTTPServer):
    lms.expect_ordered_request("/api/v1/courses/1").respond_with_json(
        {"id": 1}, headers={"X-Rate-Limit-Remaining": "600.0"}
    )
    lms.expect_ordered_request("/api/v1/courses/2").respond_with_json(
        {"id": 2}, headers={"X-Rate-Limit-Remaining": "25.0"}
    )
    lms.expect_ordered_request("/api/v1/courses/3").respond_with_json({"id": 3})
    sleeps = Sleeps()

    with canvas(lms, sleep=sleeps) as client:
        client.get("courses/1")
        assert sleeps == []  # plenty left: no pause
        client.get("courses/2")
        assert sleeps == []  # the pause comes before the next call, not after this one
        client.get("courses/3")

    # 25 left of a floor of 100: three quarters of the 2 s maximum pause.
    assert sleeps == [pytest.approx(1.5)]
    assert client.stats.slowdowns == 1


# -- server errors, timeouts, broken answers ----------------------------------------------------


def test_5xx_answers_are_retried_until_one_succeeds(lms: HTTPServer):
    lms.expect_request("/api/v1/terms").respond_with_handler(
        in_turn(Response("oops", 500), Response("busy", 503), json_response([{"id": 1}]))
    )

    with canvas(lms) as client:
        assert client.get("terms").data == [{"id": 1}]

    assert client.stats.server_errors == 2
    assert client.stats.retries == 2
    assert client.stats.requests == 3


def test_5xx_forever_raises_transport_error_after_the_retries(lms: HTTPServer):
    lms.expect_request("/api/v1/terms").respond_with_data("oops", status=500)

    with canvas(lms) as client, pytest.raises(TransportError) as raised:
        client.get("terms")

    assert len(lms.log) == FAST.max_retries + 1
    assert raised.value.status == 500
    assert "/api/v1/terms" in str(raised.value)
    assert client.stats.server_errors == FAST.max_retries + 1


def test_a_read_timeout_is_retried(lms: HTTPServer):
    lms.expect_request("/api/v1/sections").respond_with_handler(
        in_turn(json_response([{"id": 1}]), delays=(0.6,))
    )
    settings = replace(FAST, read_timeout=0.3)

    with canvas(lms, settings) as client:
        assert client.get("sections").data == [{"id": 1}]

    assert client.stats.timeouts == 1
    assert client.stats.retries == 1


def test_read_timeouts_forever_raise_transport_error(lms: HTTPServer):
    lms.expect_request("/api/v1/sections").respond_with_handler(
        in_turn(json_response([]), delays=(0.6, 0.6))
    )
    settings = replace(FAST, read_timeout=0.3, max_retries=1)

    with canvas(lms, settings) as client, pytest.raises(TransportError, match="read timeout"):
        client.get("sections")

    assert client.stats.timeouts == 2


def test_a_server_that_is_not_there_raises_transport_error():
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = replace(FAST, max_retries=1)

    client = ApiClient(f"http://127.0.0.1:{port}/api/v1", BearerToken(TOKEN), settings)
    with client, pytest.raises(TransportError, match="could not connect") as raised:
        client.get("courses")

    assert TOKEN not in str(raised.value)
    assert client.stats.requests == 2


def test_truncated_json_is_fetched_again(lms: HTTPServer):
    lms.expect_request("/api/v1/courses").respond_with_handler(
        in_turn(
            Response('[{"id": 1}, {"id"', content_type="application/json"),
            json_response([{"id": 1}, {"id": 2}]),
        )
    )
    sleeps = Sleeps()

    with canvas(lms, sleep=sleeps) as client:
        assert client.get("courses").data == [{"id": 1}, {"id": 2}]

    assert client.stats.bad_json == 1
    assert client.stats.retries == 1
    assert len(sleeps) == 1


def test_json_that_stays_broken_raises_bad_response_with_the_parse_position(lms: HTTPServer):
    lms.expect_request("/api/v1/courses").respond_with_data(
        '[{"id": 1}, {"id"', content_type="application/json"
    )

    with canvas(lms, sleep=Sleeps()) as client, pytest.raises(BadResponseError) as raised:
        client.get("courses")

    assert len(lms.log) == FAST.bad_json_retries + 1
    assert "line 1 column 18" in str(raised.value)
    assert "/api/v1/courses" in str(raised.value)


@pytest.mark.parametrize(
    ("status", "error"), [(404, NotFoundError), (400, ApiError), (422, ApiError)]
)
def test_other_client_errors_are_reported_once_not_retried(
    lms: HTTPServer, status: int, error: type[ApiError]
):
    lms.expect_request("/api/v1/courses/404").respond_with_json({"errors": []}, status=status)

    with canvas(lms) as client, pytest.raises(ApiError) as raised:
        client.get("courses/404")

    assert type(raised.value) is error
    assert raised.value.status == status
    assert len(lms.log) == 1


# -- authentication -----------------------------------------------------------------------------


def oneroster_credentials(lms: HTTPServer) -> OAuth2ClientCredentials:
    return OAuth2ClientCredentials(
        lms.url_for("/oauth/token"),
        "pathways-client",
        CLIENT_SECRET,
        scope="https://purl.imsglobal.org/spec/or/v1p2/scope/roster-core.readonly",
        secret_from="$ONEROSTER_CLIENT_ID/$ONEROSTER_CLIENT_SECRET",
    )


def token_server(lms: HTTPServer, *tokens: str) -> list[Request]:
    """A token endpoint handing out `tokens` in turn; returns the token requests it got."""
    received: list[Request] = []

    def issue(request: Request) -> Response:
        received.append(request)
        return json_response(
            {"access_token": tokens[min(len(received), len(tokens)) - 1], "expires_in": 3600}
        )

    lms.expect_request("/oauth/token", method="POST").respond_with_handler(issue)
    return received


def test_client_credentials_buy_a_token_with_basic_auth_and_reuse_it(lms: HTTPServer):
    token_requests = token_server(lms, "access-1")
    lms.expect_request(
        "/ims/oneroster/rostering/v1p2/orgs", headers={"Authorization": "Bearer access-1"}
    ).respond_with_json({"orgs": []})

    base = lms.url_for("/ims/oneroster/rostering/v1p2")
    with ApiClient(base, oneroster_credentials(lms), FAST) as client:
        client.get("orgs")
        client.get("orgs")

    (token_request,) = token_requests
    basic = base64.b64encode(f"pathways-client:{CLIENT_SECRET}".encode()).decode()
    assert token_request.headers["Authorization"] == f"Basic {basic}"
    assert token_request.form["grant_type"] == "client_credentials"
    assert token_request.form["scope"].endswith("roster-core.readonly")
    assert CLIENT_SECRET not in token_request.get_data(as_text=True)


def test_a_401_fetches_a_new_token_once_and_retries(lms: HTTPServer):
    token_requests = token_server(lms, "revoked-token", "fresh-token")

    def users(request: Request) -> Response:
        if request.headers["Authorization"] == "Bearer fresh-token":
            return json_response({"users": [{"sourcedId": "u1"}]})
        return Response("", 401)

    lms.expect_request("/ims/oneroster/rostering/v1p2/users").respond_with_handler(users)

    base = lms.url_for("/ims/oneroster/rostering/v1p2")
    with ApiClient(base, oneroster_credentials(lms), FAST) as client:
        assert client.get("users").data == {"users": [{"sourcedId": "u1"}]}

    assert len(token_requests) == 2
    assert client.stats.retries == 1


def test_a_token_refused_twice_raises_authentication_error(lms: HTTPServer):
    token_requests = token_server(lms, "access-1", "access-2", "access-3")
    lms.expect_request("/ims/oneroster/rostering/v1p2/users").respond_with_data("", status=401)

    base = lms.url_for("/ims/oneroster/rostering/v1p2")
    client = ApiClient(base, oneroster_credentials(lms), FAST)
    with client, pytest.raises(AuthenticationError, match=r"\$ONEROSTER_CLIENT_SECRET was refused"):
        client.get("users")

    assert len(token_requests) == 2
    assert len([r for r, _ in lms.log if r.path.endswith("/users")]) == 2


def test_a_token_endpoint_refusing_the_client_names_the_token_url_not_the_secret(
    lms: HTTPServer, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    lms.expect_request("/oauth/token", method="POST").respond_with_json(
        {"error": "invalid_client"}, status=401
    )
    credentials = oneroster_credentials(lms)

    base = lms.url_for("/ims/oneroster/rostering/v1p2")
    client = ApiClient(base, credentials, FAST)
    with client, pytest.raises(AuthenticationError) as raised:
        client.get("users")

    message = str(raised.value)
    assert lms.url_for("/oauth/token") in message
    assert "invalid_client" in message
    assert "$ONEROSTER_CLIENT_ID/$ONEROSTER_CLIENT_SECRET" in message
    for shown in (message, repr(raised.value), repr(credentials), repr(client), caplog.text):
        assert CLIENT_SECRET not in shown
    assert not any(r.path.endswith("/users") for r, _ in lms.log)


def test_the_token_endpoint_is_retried_on_5xx(lms: HTTPServer):
    lms.expect_request("/oauth/token", method="POST").respond_with_handler(
        in_turn(Response("down", 503), json_response({"access_token": "access-1"}))
    )
    lms.expect_request("/ims/oneroster/rostering/v1p2/orgs").respond_with_json({"orgs": []})

    base = lms.url_for("/ims/oneroster/rostering/v1p2")
    with ApiClient(base, oneroster_credentials(lms), FAST) as client:
        assert client.get("orgs").data == {"orgs": []}

    assert len([r for r, _ in lms.log if r.path == "/oauth/token"]) == 2


def test_a_token_answer_cut_off_mid_json_is_asked_for_again(lms: HTTPServer):
    cut = Response('{"access_token": "acc', 200, content_type="application/json")
    lms.expect_request("/oauth/token", method="POST").respond_with_handler(
        in_turn(cut, json_response({"access_token": "access-1"}))
    )
    lms.expect_request(
        "/ims/oneroster/rostering/v1p2/orgs", headers={"Authorization": "Bearer access-1"}
    ).respond_with_json({"orgs": []})

    base = lms.url_for("/ims/oneroster/rostering/v1p2")
    with ApiClient(base, oneroster_credentials(lms), FAST) as client:
        assert client.get("orgs").data == {"orgs": []}

    assert len([r for r, _ in lms.log if r.path == "/oauth/token"]) == 2
    assert client.stats.bad_json == 1 and client.stats.retries == 1


def test_a_token_answer_that_stays_cut_off_is_an_authentication_error(lms: HTTPServer):
    lms.expect_request("/oauth/token", method="POST").respond_with_data(
        '{"access_token": "acc', content_type="application/json"
    )

    base = lms.url_for("/ims/oneroster/rostering/v1p2")
    client = ApiClient(base, oneroster_credentials(lms), FAST)
    with client, pytest.raises(AuthenticationError, match="not JSON"):
        client.get("orgs")

    attempts = FAST.bad_json_retries + 1
    assert len([r for r, _ in lms.log if r.path == "/oauth/token"]) == attempts
    assert CLIENT_SECRET not in str(client.stats.as_dict())


def test_a_refused_static_token_is_an_authentication_error_naming_where_it_came_from(
    lms: HTTPServer,
):
    lms.expect_request("/api/v1/courses").respond_with_data("", status=401)

    with canvas(lms) as client, pytest.raises(AuthenticationError, match=r"\$CANVAS_TOKEN"):
        client.get("courses")

    assert len(lms.log) == 1


def test_secrets_never_reach_messages_reprs_stats_or_logs(
    lms: HTTPServer, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    lms.expect_request("/api/v1/courses").respond_with_data(
        "403 Forbidden (Rate Limit Exceeded)", status=403
    )
    lms.expect_request("/api/v1/terms").respond_with_data("oops", status=500)
    lms.expect_request("/api/v1/users").respond_with_data("{", content_type="application/json")
    lms.expect_request("/api/v1/accounts").respond_with_data("", status=401)
    settings = replace(FAST, throttle_retries=1, max_retries=1)
    auth = BearerToken(TOKEN, secret_from="$CANVAS_TOKEN")
    stats = RequestStats()

    raised = []
    with ApiClient(lms.url_for("/api/v1"), auth, settings, stats=stats, sleep=Sleeps()) as client:
        for path in ("courses", f"terms?access_token={TOKEN}", "users", "accounts"):
            with pytest.raises(ApiError) as error:
                client.get(path)
            raised.append(error.value)

    assert [type(e) for e in raised] == [
        ThrottledError,
        TransportError,
        BadResponseError,
        AuthenticationError,
    ]
    shown = [str(e) for e in raised] + [repr(e) for e in raised]
    # Every log line on the client's side (the test server's own werkzeug lines are not ours).
    logged = [r.getMessage() for r in caplog.records if not r.name.startswith("werkzeug")]
    shown += [repr(auth), repr(client), str(stats.as_dict()), *logged]
    assert all(TOKEN not in text for text in shown)
    assert any("access_token=REDACTED" in line for line in logged)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://d.instructure.com/api/v1/courses?access_token=abc&page=bookmark:x",
            "https://d.instructure.com/api/v1/courses?access_token=REDACTED&page=bookmark:x",
        ),
        (
            "https://sis.example.org/token?client_secret=s&client_id=pathways",
            "https://sis.example.org/token?client_secret=REDACTED&client_id=pathways",
        ),
        ("https://user:pw@host/x", "https://REDACTED@host/x"),
        (
            "https://s3.example/f?X-Amz-Signature=abc&X-Amz-Credential=k&api_key=1&password=p",
            "https://s3.example/f?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED"
            "&api_key=REDACTED&password=REDACTED",
        ),
        ("https://host/x?per_page=100", "https://host/x?per_page=100"),
    ],
)
def test_redact_url_hides_secret_parameters_and_keeps_the_rest(url: str, shown: str):
    assert redact_url(url) == shown


def test_an_answer_whose_body_stalls_mid_transfer_is_fetched_again(lms: HTTPServer):
    def stalling_body():
        yield b'[{"id": 1},'
        time.sleep(0.6)
        yield b' {"id": 2}]'

    lms.expect_request("/api/v1/groups").respond_with_handler(
        in_turn(
            Response(stalling_body(), content_type="application/json"),
            json_response([{"id": 1}, {"id": 2}]),
        )
    )
    settings = replace(FAST, read_timeout=0.3)

    with canvas(lms, settings, sleep=Sleeps()) as client:
        assert client.get("groups").data == [{"id": 1}, {"id": 2}]

    assert client.stats.timeouts == 1
    assert client.stats.requests == 2
