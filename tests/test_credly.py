"""The Credly connector and its normalizer, as a specification: what lands in raw.credly_badges,
how Credly's pages are followed, how the token is sent, and what a failing or busy Credly does,
over real HTTP on loopback (pytest-httpserver playing Credly's web service API)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from api_source_helpers import FAST, nightly_pull, raw_warehouse, sync_pages
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors.credly import (
    CREDLY_TABLES,
    CredlySettings,
    credly_client,
    credly_pages,
)
from connectors.http import (
    ApiError,
    AuthenticationError,
    BadResponseError,
    RequestStats,
    StreamPage,
)
from models.config import ConfigError, CredlySource, HttpOptions
from models.credentials.platforms import normalize_credly
from models.credentials.record import Alignment, Recipient
from pipelines.api_sync import ApiSync

TOKEN = "credly-org-t0ken-8a7b"
ORG = "7c7a3b2e-0000-4000-8000-000000000001"
BADGES = f"/v1/organizations/{ORG}/badges"


def badge(number: int, **changes: Any) -> dict:
    return {
        "id": f"b{number:04d}",
        "state": "accepted",
        "issued_at": "2026-03-01T12:00:00.000Z",
        "expires_at": None,
        "issuer_earner_id": f"S{1000 + number}",
        "recipient_email": f"learner{number}@students.example.edu",
        "issued_to": f"Learner {number}",
        "badge_template": {
            "id": "tmpl-1",
            "name": "Welding Safety",
            "description": "Safe practice in the welding shop.",
            "skills": [{"id": "s1", "name": "Welding", "vanity_slug": "welding"}, "Safety"],
            "badge_template_activities": [{"title": "Pass the safety test"}],
        },
        "issuer": {
            "summary": "issued by Riverside CTE",
            "entities": [
                {
                    "label": "Issued by",
                    "primary": True,
                    "entity": {"id": "org-1", "name": "Riverside CTE"},
                }
            ],
        },
        "evidence": [],
        **changes,
    }


class FakeCredly:
    """Credly's issued-badges listing on pytest-httpserver: `per` badges a page, the next page's
    full URL in metadata.next_page_url (with a query Credly chose, which must come back as is);
    HTTP Basic auth with the token as user name. `faults` are answered first."""

    def __init__(self, server: HTTPServer, per: int = 2) -> None:
        self.server = server
        self.per = per
        self.badges: list[dict] = []
        self.faults: list[Response] = []
        self.asked: list[bytes] = []
        server.expect_request(BADGES, method="GET").respond_with_handler(self._handle)

    def next_url(self, page: int) -> str:
        # Credly's URL, query and encoding as it gives them (an odd order, an encoded filter).
        return (
            self.server.url_for(BADGES)
            + f"?sort=-issued_at&page={page}&filter=state%3A%3Aaccepted%7Cpending%7Crevoked"
        )

    def _handle(self, request: Request) -> Response:
        self.asked.append(request.query_string)
        expected = "Basic " + base64.b64encode(f"{TOKEN}:".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return Response(json.dumps({"data": {"message": "unauthorized"}}), 401)
        if self.faults:
            return self.faults.pop(0)
        page = int(request.args.get("page", "1"))
        if page > 1 and request.query_string != self.next_url(page).split("?", 1)[1].encode():
            return Response("the next_page_url was not followed as given", 400)
        chunk = self.badges[(page - 1) * self.per : page * self.per]
        total_pages = max(1, -(-len(self.badges) // self.per))
        metadata = {
            "count": len(chunk),
            "current_page": page,
            "total_count": len(self.badges),
            "total_pages": total_pages,
            "per": self.per,
            "previous_page_url": self.next_url(page - 1) if page > 1 else None,
            "next_page_url": self.next_url(page + 1) if page < total_pages else None,
        }
        body = {"data": chunk, "metadata": metadata}
        return Response(json.dumps(body), 200, content_type="application/json")

    def settings(self, **changes: Any) -> CredlySettings:
        given = {"token": TOKEN, **changes}
        return CredlySettings(
            name="credly",
            base_url=self.server.url_for("/"),
            organization_id=ORG,
            token_from="$CREDLY_TOKEN",
            http=FAST,
            **given,
        )


@pytest.fixture
def credly(httpserver: HTTPServer) -> Iterator[FakeCredly]:
    yield FakeCredly(httpserver)
    httpserver.check_handler_errors()


def warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    return raw_warehouse(path, CREDLY_TABLES)


def pull(con, settings: CredlySettings, stats: RequestStats | None = None) -> list[StreamPage]:
    return sync_pages(con, settings, credly_client, credly_pages, stats=stats)


def keys(con) -> list[str]:
    return [
        k for (k,) in con.execute("SELECT _key FROM raw.credly_badges ORDER BY _key").fetchall()
    ]


def test_pages_are_followed_by_next_page_url_exactly_as_credly_gives_it(
    credly: FakeCredly, tmp_path: Path
):
    credly.badges = [badge(n) for n in range(5)]
    con = warehouse(tmp_path / "w.duckdb")
    pages = pull(con, credly.settings())
    assert keys(con) == [f"b{n:04d}" for n in range(5)]
    assert credly.asked[0] == b""
    assert credly.asked[1:] == [credly.next_url(page).split("?", 1)[1].encode() for page in (2, 3)]
    assert [p.cursor for p in pages] == [credly.next_url(2), credly.next_url(3), None]
    (record,) = con.execute("SELECT _record FROM raw.credly_badges WHERE _key = 'b0003'").fetchone()
    assert json.loads(record) == badge(3)


def test_a_pull_resumes_at_the_saved_next_page_url(credly: FakeCredly, tmp_path: Path):
    credly.badges = [badge(n) for n in range(5)]
    con = warehouse(tmp_path / "w.duckdb")
    sync = ApiSync.begin(con, "credly", "run-1")
    settings = credly.settings()
    with credly_client(settings) as client:
        first = next(iter(credly_pages(client, settings, sync)))
    sync.commit(first)
    credly.asked.clear()
    resumed = ApiSync.begin(con, "credly", "run-2")
    with credly_client(settings) as client:
        for page in credly_pages(client, settings, resumed):
            resumed.commit(page)
    assert credly.asked[0] == credly.next_url(2).split("?", 1)[1].encode()
    assert keys(con) == [f"b{n:04d}" for n in range(5)]


def test_the_token_goes_as_the_basic_auth_user_and_a_refusal_names_its_variable_only(
    credly: FakeCredly, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    credly.badges = [badge(0)]
    con = warehouse(tmp_path / "w.duckdb")
    pull(con, credly.settings())
    assert keys(con) == ["b0000"]
    wrong = "credly-stale-token-0000"
    with pytest.raises(AuthenticationError) as caught:
        pull(warehouse(tmp_path / "other.duckdb"), credly.settings(token=wrong))
    assert "$CREDLY_TOKEN" in str(caught.value)
    for secret in (TOKEN, wrong, base64.b64encode(f"{wrong}:".encode()).decode()):
        assert secret not in str(caught.value) and secret not in caplog.text


def test_429_and_5xx_answers_are_retried_and_the_pull_completes(credly: FakeCredly, tmp_path: Path):
    credly.badges = [badge(n) for n in range(3)]
    credly.faults = [Response("slow", 429, {"Retry-After": "0"}), Response("oops", 500)]
    stats = RequestStats()
    con = warehouse(tmp_path / "w.duckdb")
    pull(con, credly.settings(), stats)
    assert keys(con) == ["b0000", "b0001", "b0002"]
    assert stats.throttled == 1 and stats.server_errors == 1


def test_a_body_that_is_not_json_fails_after_retries_naming_the_endpoint(
    credly: FakeCredly, tmp_path: Path
):
    credly.faults = [Response("<html>maintenance</html>", 200, content_type="text/html")] * 10
    with pytest.raises(BadResponseError, match=f"{BADGES} answered 200 with a body that is not"):
        pull(warehouse(tmp_path / "w.duckdb"), credly.settings())


def test_a_listing_without_a_data_list_or_a_badge_without_id_is_refused(
    credly: FakeCredly, tmp_path: Path
):
    credly.faults = [Response(json.dumps({"error": "x"}), 200, content_type="application/json")]
    with pytest.raises(BadResponseError, match="without a data list"):
        pull(warehouse(tmp_path / "w.duckdb"), credly.settings())
    anonymous = {"data": [{"recipient_email": "someone@example.edu"}], "metadata": {}}
    credly.faults = [Response(json.dumps(anonymous), 200, content_type="application/json")]
    with pytest.raises(BadResponseError, match="badge 0 of a page has no id") as caught:
        pull(warehouse(tmp_path / "w2.duckdb"), credly.settings())
    assert "someone@" not in str(caught.value)


def test_a_next_page_url_on_another_host_is_never_followed(credly: FakeCredly, tmp_path: Path):
    elsewhere = {
        "data": [badge(0)],
        "metadata": {"next_page_url": "https://elsewhere.example.com/v1/badges?page=2"},
    }
    credly.faults = [Response(json.dumps(elsewhere), 200, content_type="application/json")]
    with pytest.raises(ApiError, match=r"not on .* host"):
        pull(warehouse(tmp_path / "w.duckdb"), credly.settings())
    assert len(credly.asked) == 1


def test_every_night_reads_the_organization_whole_and_a_revocation_replaces_the_record(
    credly: FakeCredly, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("CREDLY_TOKEN", TOKEN)
    credly.badges = [badge(n) for n in range(3)]
    source = CredlySource(
        kind="credly",
        base_url=credly.server.url_for("/"),
        organization_id=ORG,
        token_env="CREDLY_TOKEN",
        http=HttpOptions(read_timeout=5.0, backoff_factor=0.0),
    )
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    assert nightly_pull(con, source, "night-1").inserted == 3
    credly.badges[1] = badge(1, state="revoked", revocation_reason="Issued in error")
    credly.asked.clear()
    second = nightly_pull(con, source, "night-2")
    assert (second.inserted, second.updated, second.unchanged) == (0, 1, 2)
    # Whole again: the first page is asked for with no filter.
    assert credly.asked[0] == b""
    (record,) = con.execute("SELECT _record FROM raw.credly_badges WHERE _key = 'b0001'").fetchone()
    assert json.loads(record)["state"] == "revoked"


def test_settings_need_the_token_variable_and_default_to_credlys_host():
    source = CredlySource(kind="credly", organization_id=ORG, token_env="CREDLY_TOKEN")
    settings = CredlySettings.from_config(source, {"CREDLY_TOKEN": TOKEN})
    assert settings.api_url == "https://api.credly.com/v1"
    assert settings.badges_path == f"organizations/{ORG}/badges"
    assert TOKEN not in repr(settings)
    with pytest.raises(ConfigError, match="CREDLY_TOKEN is not set"):
        CredlySettings.from_config(source, {})


# -- normalization ---------------------------------------------------------------------------


def test_a_credly_badge_normalizes_with_its_template_skills_and_earner_ids():
    record = badge(
        4,
        expires_at="2028-03-01T00:00:00.000Z",
        evidence=[
            {"type": "UrlEvidence", "title": "Portfolio", "url": "https://p.example.edu/4"},
            {"type": "PlainTextEvidence", "title": "Shop log", "description": "private notes"},
        ],
        image_url="https://images.credly.com/b4.png",
    )
    normalized = normalize_credly(record)
    assert normalized.credential_id == "b0004" and normalized.spec_version == "platform"
    assert (normalized.achievement_id, normalized.achievement_name) == ("tmpl-1", "Welding Safety")
    assert normalized.achievement_type == "Badge"
    assert normalized.criteria == "Pass the safety test"
    assert normalized.alignments == (
        Alignment(None, "Welding", "Skill", None, None),
        Alignment(None, "Safety", "Skill", None, None),
    )
    assert (normalized.issuer_id, normalized.issuer_name) == ("org-1", "Riverside CTE")
    assert normalized.recipients == (
        Recipient("issuerEarnerId", "S1004"),
        Recipient("emailAddress", "learner4@students.example.edu"),
    )
    assert normalized.awarded_at == "2026-03-01T12:00:00.000Z"
    assert normalized.valid_until == "2028-03-01T00:00:00.000Z"
    assert normalized.evidence == ("https://p.example.edu/4", "Shop log")
    assert not normalized.revoked and normalized.image == "https://images.credly.com/b4.png"


def test_a_revoked_credly_badge_says_so_with_its_reason():
    normalized = normalize_credly(badge(1, state="revoked", revocation_reason="Issued in error"))
    assert normalized.revoked and normalized.revocation_reason == "Issued in error"
    assert not normalize_credly(badge(2, state="pending")).revoked
