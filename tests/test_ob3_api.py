"""The Open Badges 3.0 API connector, as a specification: what lands in raw.ob3_api_credentials
after a full pull and a second night, how pages are followed, and what a broken or busy service
does, over real HTTP on loopback (pytest-httpserver playing the badge platform)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import duckdb
import pytest
from api_source_helpers import FAST, nightly_pull, raw_warehouse, sync_pages
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors.http import BadResponseError, RequestStats, StreamPage, TransportError
from connectors.ob3_api import (
    OB3_API_TABLES,
    STREAM,
    Ob3ApiSettings,
    jws_credential_id,
    ob3_api_client,
    ob3_api_pages,
    ob3_time,
)
from models.config import (
    OB3_CREDENTIAL_READONLY_SCOPE,
    ConfigError,
    HttpOptions,
    Ob3ApiSource,
)
from pipelines.api_sync import ApiSync

CLIENT_ID = "pathways-ob3-client"
CLIENT_SECRET = "ob3-s3cret-never-shown-4b1d"
ACCESS_TOKEN = "ob3-access-token-9f0e"
PATH = "/ims/ob/v3p0/credentials"


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def jws(payload: dict) -> str:
    """A compact JWS with `payload` (the signature is not checked by the connector)."""
    return f"{b64({'alg': 'EdDSA', 'kid': 'did:web:badges.example.edu#key-1'})}.{b64(payload)}.c2ln"


def credential(number: int) -> dict:
    return {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": f"urn:uuid:00000000-0000-4000-8000-{number:012d}",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": "did:web:badges.example.edu", "type": ["Profile"], "name": "District"},
        "validFrom": "2026-05-01T00:00:00Z",
        "credentialSubject": {"type": ["AchievementSubject"], "achievement": {"id": "a1"}},
    }


class FakeOb3:
    """An Open Badges 3.0 service on pytest-httpserver: serves `entries` (credential objects or
    compact JWS strings) by limit/offset, with a Link header when `link` is set, capping limit
    at `cap`; `faults` are statuses answered first, one per request."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.entries: list[dict | str] = []
        self.link = False
        self.cap: int | None = None
        self.faults: list[Response] = []
        self.jws_key = "compactJwsString"
        self.asked: list[dict[str, str]] = []
        self.token_forms: list[dict[str, list[str]]] = []
        server.expect_request("/oauth/token", method="POST").respond_with_handler(self._token)
        server.expect_request(PATH, method="GET").respond_with_handler(self._credentials)

    def _token(self, request: Request) -> Response:
        self.token_forms.append(parse_qs(request.get_data(as_text=True)))
        body = {"access_token": ACCESS_TOKEN, "token_type": "bearer", "expires_in": 3600}
        return Response(json.dumps(body), 200, content_type="application/json")

    def _credentials(self, request: Request) -> Response:
        self.asked.append(dict(request.args))
        if request.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
            return Response("{}", 401)
        if self.faults:
            return self.faults.pop(0)
        limit, offset = int(request.args["limit"]), int(request.args["offset"])
        if self.cap is not None:
            limit = min(limit, self.cap)
        page = self.entries[offset : offset + limit]
        body = {
            "credential": [e for e in page if isinstance(e, dict)],
            self.jws_key: [e for e in page if isinstance(e, str)],
        }
        headers = {"X-Total-Count": str(len(self.entries))}
        if self.link:
            base = self.server.url_for(PATH)
            links = [f'<{base}?limit={limit}&offset=0>; rel="first"']
            if offset + limit < len(self.entries):
                links.append(f'<{base}?limit={limit}&offset={offset + limit}>; rel="next"')
            headers["Link"] = ", ".join(links)
        return Response(json.dumps(body), 200, headers, content_type="application/ld+json")

    def settings(self, **changes: Any) -> Ob3ApiSettings:
        return Ob3ApiSettings(
            name="ob3_api",
            base_url=self.server.url_for("/"),
            token_url=self.server.url_for("/oauth/token"),
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            secret_from="$OB3_CLIENT_ID / $OB3_CLIENT_SECRET",
            http=FAST,
            **changes,
        )


@pytest.fixture
def ob3(httpserver: HTTPServer) -> Iterator[FakeOb3]:
    yield FakeOb3(httpserver)
    httpserver.check_handler_errors()


def warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    return raw_warehouse(path, OB3_API_TABLES)


def pull(
    con, settings: Ob3ApiSettings, run_id: str = "run-1", stats: RequestStats | None = None
) -> list[StreamPage]:
    return sync_pages(con, settings, ob3_api_client, ob3_api_pages, run_id=run_id, stats=stats)


def stored(con) -> dict[str, dict]:
    rows = con.execute("SELECT _key, _record FROM raw.ob3_api_credentials").fetchall()
    return {key: json.loads(record) for key, record in rows}


# -- paging --------------------------------------------------------------------------------------


def test_a_full_pull_pages_by_limit_and_offset_until_a_short_page(ob3: FakeOb3, tmp_path: Path):
    ob3.entries = [credential(n) for n in range(5)]
    con = warehouse(tmp_path / "w.duckdb")
    pages = pull(con, ob3.settings(page_size=2))
    assert [(len(p.records), p.cursor) for p in pages] == [(2, "2"), (2, "4"), (1, None)]
    assert [(q["limit"], q["offset"]) for q in ob3.asked] == [("2", "0"), ("2", "2"), ("2", "4")]
    assert "since" not in ob3.asked[0]
    assert stored(con) == {c["id"]: c for c in ob3.entries}


def test_a_service_that_caps_limit_is_read_to_the_end_by_its_link_header(
    ob3: FakeOb3, tmp_path: Path
):
    ob3.entries = [credential(n) for n in range(7)]
    ob3.link, ob3.cap = True, 3
    con = warehouse(tmp_path / "w.duckdb")
    pages = pull(con, ob3.settings(page_size=10))
    # Short pages, but the Link header says there is more: offsets move by what came.
    assert [q["offset"] for q in ob3.asked] == ["0", "3", "6"]
    assert pages[-1].cursor is None
    assert len(stored(con)) == 7


def test_a_link_header_without_next_ends_the_listing_even_after_a_full_page(
    ob3: FakeOb3, tmp_path: Path
):
    ob3.entries = [credential(n) for n in range(4)]
    ob3.link = True
    con = warehouse(tmp_path / "w.duckdb")
    pull(con, ob3.settings(page_size=2))
    # Offset paging alone would have asked for offset 4 and got an empty page.
    assert [q["offset"] for q in ob3.asked] == ["0", "2"]


# -- what is stored ------------------------------------------------------------------------------


def test_jws_entries_are_keyed_by_the_credential_id_in_their_payload(ob3: FakeOb3, tmp_path: Path):
    vc2 = jws(credential(1))  # VC 2.0: the payload is the credential
    vc11 = jws({"vc": {"id": "urn:uuid:vc11"}, "jti": "urn:uuid:vc11", "iss": "did:web:x"})
    jti_only = jws({"jti": "https://badges.example.edu/credentials/42", "iss": "did:web:x"})
    unreadable = "eyJhbGciOiJFZERTQSJ9.bm90IGpzb24.c2ln"
    ob3.entries = [credential(0), vc2, vc11, jti_only, unreadable]
    con = warehouse(tmp_path / "w.duckdb")
    pull(con, ob3.settings())
    rows = stored(con)
    assert rows[credential(0)["id"]] == credential(0)
    assert rows[credential(1)["id"]] == {"compactJws": vc2}
    assert rows["urn:uuid:vc11"] == {"compactJws": vc11}
    assert rows["https://badges.example.edu/credentials/42"] == {"compactJws": jti_only}
    (fallback,) = [k for k, v in rows.items() if v == {"compactJws": unreadable}]
    assert fallback.startswith("sha256:") and len(fallback) == len("sha256:") + 64


def test_the_plural_compact_jws_key_of_the_spec_example_is_read_too(ob3: FakeOb3, tmp_path: Path):
    ob3.jws_key = "compactJwsStrings"
    ob3.entries = [jws(credential(3))]
    con = warehouse(tmp_path / "w.duckdb")
    pull(con, ob3.settings())
    assert list(stored(con)) == [credential(3)["id"]]


def test_jws_credential_id_prefers_the_payload_id_then_vc_id_then_jti():
    assert jws_credential_id(jws({"id": "a", "vc": {"id": "b"}, "jti": "c"})) == "a"
    assert jws_credential_id(jws({"vc": {"id": "b"}, "jti": "c"})) == "b"
    assert jws_credential_id(jws({"jti": "c"})) == "c"
    assert jws_credential_id("not-a-jws") is None


# -- a bad night ---------------------------------------------------------------------------------


def test_429_and_5xx_answers_are_retried_and_the_pull_completes(ob3: FakeOb3, tmp_path: Path):
    ob3.entries = [credential(n) for n in range(3)]
    ob3.faults = [
        Response("slow down", 429, {"Retry-After": "0"}),
        Response("oops", 500),
        Response("busy", 503),
    ]
    con = warehouse(tmp_path / "w.duckdb")
    stats = RequestStats()
    pull(con, ob3.settings(), stats=stats)
    assert len(stored(con)) == 3
    assert stats.throttled == 1 and stats.server_errors == 2 and stats.retries >= 3


def test_a_body_that_is_not_json_fails_naming_the_endpoint(ob3: FakeOb3, tmp_path: Path):
    ob3.entries = [credential(0)]
    ob3.faults = [Response("<html>login</html>", 200, content_type="text/html")] * 10
    con = warehouse(tmp_path / "w.duckdb")
    with pytest.raises(BadResponseError) as caught:
        pull(con, ob3.settings())
    assert PATH in str(caught.value) and "not JSON" in str(caught.value)
    assert stored(con) == {}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([credential(0)], "expected a JSON object"),
        ({"credential": {"id": "x"}}, "`credential` is a dict, not a list"),
        ({"credential": [1]}, "entry 0 of `credential` is a int"),
        ({"compactJwsString": [{"id": "x"}]}, "not a compact JWS string"),
    ],
)
def test_an_answer_that_is_not_a_credentials_response_fails_naming_the_endpoint(
    ob3: FakeOb3, tmp_path: Path, body: Any, says: str
):
    ob3.faults = [Response(json.dumps(body), 200, content_type="application/json")]
    with pytest.raises(BadResponseError, match=says) as caught:
        pull(warehouse(tmp_path / "w.duckdb"), ob3.settings())
    assert caught.value.endpoint == PATH


def test_a_service_that_stays_down_fails_and_leaves_the_sync_to_resume(
    ob3: FakeOb3, tmp_path: Path
):
    ob3.entries = [credential(n) for n in range(4)]
    con = warehouse(tmp_path / "w.duckdb")
    sync = ApiSync.begin(con, "ob3_api", "run-1")
    settings = ob3.settings(page_size=2)
    with pytest.raises(TransportError), ob3_api_client(settings) as client:
        for page in ob3_api_pages(client, settings, sync):
            sync.commit(page)
            ob3.faults = [Response("down", 503)] * 20
    ob3.faults = []
    ob3.asked.clear()
    resumed = ApiSync.begin(con, "ob3_api", "run-2")
    assert resumed.resumed
    with ob3_api_client(settings) as client:
        for page in ob3_api_pages(client, settings, resumed):
            resumed.commit(page)
    assert ob3.asked[0]["offset"] == "2"
    assert len(stored(con)) == 4


def test_the_client_secret_and_token_never_reach_errors_or_logs(
    ob3: FakeOb3, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    ob3.faults = [Response("down", 503)] * 20
    with pytest.raises(TransportError) as caught:
        pull(warehouse(tmp_path / "w.duckdb"), ob3.settings())
    for secret in (CLIENT_SECRET, ACCESS_TOKEN):
        assert secret not in str(caught.value) and secret not in caplog.text
    # The read-only scope of the 3.0 API is asked for.
    assert ob3.token_forms[0]["scope"] == [OB3_CREDENTIAL_READONLY_SCOPE]


# -- a second night, as the nightly asset runs it -------------------------------------------------


def test_the_second_sync_asks_since_the_first_sync_start_less_the_overlap(
    ob3: FakeOb3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("OB3_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("OB3_CLIENT_SECRET", CLIENT_SECRET)
    source = Ob3ApiSource(
        kind="ob3_api",
        base_url=ob3.server.url_for("/"),
        token_url=ob3.server.url_for("/oauth/token"),
        client_id_env="OB3_CLIENT_ID",
        client_secret_env="OB3_CLIENT_SECRET",
        page_size=2,
        overlap_minutes=90,
        concurrency=1,
        http=HttpOptions(read_timeout=5.0, backoff_factor=0.0),
    )
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    ob3.entries = [credential(n) for n in range(3)]
    first = nightly_pull(con, source, "night-1")
    assert first.inserted == 3 and all("since" not in q for q in ob3.asked)
    (started,) = con.execute(
        "SELECT completed_started_at FROM audit.api_checkpoints WHERE stream = ?", [STREAM]
    ).fetchone()

    ob3.asked.clear()
    ob3.entries.append(jws(credential(9)))
    second = nightly_pull(con, source, "night-2")
    expected = ob3_time(started - timedelta(minutes=90))
    assert {q.get("since") for q in ob3.asked} == {expected}
    assert second.inserted == 1
    rows = stored(con)
    assert rows[credential(9)["id"]] == {"compactJws": jws(credential(9))}


def test_settings_read_the_client_credentials_from_the_environment_and_name_a_missing_one():
    source = Ob3ApiSource(
        kind="ob3_api",
        base_url="https://badges.example.edu",
        token_url="https://badges.example.edu/oauth/token",
        client_id_env="OB3_CLIENT_ID",
        client_secret_env="OB3_CLIENT_SECRET",
    )
    env = {"OB3_CLIENT_ID": CLIENT_ID, "OB3_CLIENT_SECRET": CLIENT_SECRET}
    settings = Ob3ApiSettings.from_config(source, env)
    assert settings.api_url == "https://badges.example.edu/ims/ob/v3p0"
    assert settings.scope == OB3_CREDENTIAL_READONLY_SCOPE
    assert settings.overlap == timedelta(minutes=60)
    assert CLIENT_SECRET not in repr(settings)
    with pytest.raises(ConfigError, match="OB3_CLIENT_SECRET is not set") as caught:
        Ob3ApiSettings.from_config(source, {"OB3_CLIENT_ID": CLIENT_ID})
    assert CLIENT_ID not in str(caught.value)
    already = replace(settings, base_url="https://badges.example.edu/ims/ob/v3p0/")
    assert already.api_url == "https://badges.example.edu/ims/ob/v3p0"
