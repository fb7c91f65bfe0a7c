"""The Badgr / Canvas Credentials connector and its normalizer, as a specification: what lands in
raw.badgr_issuers, raw.badgr_badgeclasses and raw.badgr_assertions, how Badgr's envelope and
cursor pages are read, and what a failing or busy platform does, over real HTTP on loopback
(pytest-httpserver playing Badgr's API v2)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from api_source_helpers import FAST, nightly_pull, raw_warehouse, sync_pages
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from connectors.badgr import (
    ASSERTIONS,
    BADGR_TABLES,
    BadgrSettings,
    badgr_client,
    badgr_pages,
)
from connectors.http import BadResponseError, NotFoundError, RequestStats, StreamPage
from models.config import BadgrSource, ConfigError, HttpOptions
from models.credentials.platforms import EMBEDDED_IMAGE, normalize_badgr
from models.credentials.record import Alignment, Recipient

TOKEN = "badgr-access-t0ken-5e2c"


def envelope(result: list, success: bool = True, description: str = "ok") -> dict:
    return {"status": {"success": success, "description": description}, "result": result}


def assertion(issuer: str, number: int, **changes: Any) -> dict:
    return {
        "entityId": f"{issuer}-a{number}",
        "entityType": "Assertion",
        "openBadgeId": f"https://api.badgr.io/public/assertions/{issuer}-a{number}",
        "badgeclass": f"{issuer}-bc1",
        "issuer": issuer,
        "recipient": {
            "identity": "sha256$0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "hashed": True,
            "type": "email",
            "plaintextIdentity": f"learner{number}@students.example.edu",
            "salt": "s4lt",
        },
        "issuedOn": "2026-04-01T15:00:00Z",
        "expires": None,
        "revoked": False,
        "revocationReason": None,
        "evidence": [],
        "narrative": None,
        **changes,
    }


class FakeBadgr:
    """Badgr API v2 on pytest-httpserver: each issuer serves itself, its badge classes and its
    assertions, paged by `num` with a cursor in `Link: rel="next"` (as badgr-server does).
    Expired and revoked assertions are left out unless include_expired / include_revoked say
    otherwise. `faults` are answered first, one per listing request."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.issuers: dict[str, dict] = {}
        self.badgeclasses: dict[str, list[dict]] = {}
        self.assertions: dict[str, list[dict]] = {}
        self.faults: list[Response] = []
        self.asked: list[tuple[str, str]] = []  # (path, raw query string)
        server.expect_request(
            re.compile(r"^/v2/issuers/[^/]+(/badgeclasses|/assertions)?$")
        ).respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        self.asked.append((request.path, request.query_string.decode()))
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._json(
                envelope([], False, "Authentication credentials were not provided"), 401
            )
        if self.faults:
            return self.faults.pop(0)
        parts = request.path.split("/")
        issuer = parts[3]
        if issuer not in self.issuers:
            return self._json(envelope([], False, "Not found"), 404)
        if len(parts) == 4:
            return self._json(envelope([self.issuers[issuer]]))
        if parts[4] == "badgeclasses":
            items = self.badgeclasses.get(issuer, [])
        else:
            items = [
                a
                for a in self.assertions.get(issuer, [])
                if (request.args.get("include_revoked") == "true" or not a["revoked"])
                and (request.args.get("include_expired") == "true" or not a["expires"])
            ]
        return self._page(request, items)

    def _page(self, request: Request, items: list[dict]) -> Response:
        num = request.args.get("num")
        if num is None:
            return self._json(envelope(items))
        start = int(request.args.get("cursor", "0"))
        page = items[start : start + int(num)]
        headers = {}
        if start + int(num) < len(items):
            query = request.query_string.decode().split("&cursor=")[0]
            headers["Link"] = (
                f"<{self.server.url_for(request.path)}?{query}&cursor={start + int(num)}>; "
                'rel="next"'
            )
        return self._json(envelope(page), headers=headers)

    @staticmethod
    def _json(data: Any, status: int = 200, headers: dict | None = None) -> Response:
        return Response(json.dumps(data), status, headers, content_type="application/json")

    def add_issuer(self, issuer: str, assertions: int) -> None:
        self.issuers[issuer] = {
            "entityId": issuer,
            "name": f"Issuer {issuer}",
            "openBadgeId": f"https://api.badgr.io/public/issuers/{issuer}",
        }
        self.badgeclasses[issuer] = [
            {
                "entityId": f"{issuer}-bc1",
                "name": "Robotics I",
                "description": "Built and programmed a robot.",
                "criteriaNarrative": "Complete the build.",
                "alignments": [
                    {
                        "targetName": "Engineering design",
                        "targetUrl": "https://case.example.org/uri/123",
                        "targetFramework": "State CTE",
                        "targetCode": "ENG.1",
                    }
                ],
            }
        ]
        self.assertions[issuer] = [assertion(issuer, n) for n in range(assertions)]

    def settings(self, *issuers: str, **changes: Any) -> BadgrSettings:
        return BadgrSettings(
            name="badgr",
            base_url=self.server.url_for("/"),
            token=TOKEN,
            token_from="$BADGR_TOKEN",
            issuer_ids=issuers,
            http=FAST,
            **changes,
        )


@pytest.fixture
def badgr(httpserver: HTTPServer) -> Iterator[FakeBadgr]:
    yield FakeBadgr(httpserver)
    httpserver.check_handler_errors()


def warehouse(path: Path) -> duckdb.DuckDBPyConnection:
    return raw_warehouse(path, BADGR_TABLES)


def pull(con, settings: BadgrSettings, stats: RequestStats | None = None) -> list[StreamPage]:
    return sync_pages(con, settings, badgr_client, badgr_pages, stats=stats)


def keys(con, table: str) -> list[str]:
    return [k for (k,) in con.execute(f"SELECT _key FROM raw.{table} ORDER BY _key").fetchall()]


def test_each_issuer_its_badge_classes_and_every_page_of_its_assertions_are_read(
    badgr: FakeBadgr, tmp_path: Path
):
    badgr.add_issuer("iss1", assertions=5)
    badgr.add_issuer("iss2", assertions=1)
    con = warehouse(tmp_path / "w.duckdb")
    pages = pull(con, badgr.settings("iss1", "iss2", page_size=2))
    assert keys(con, "badgr_issuers") == ["iss1", "iss2"]
    assert keys(con, "badgr_badgeclasses") == ["iss1-bc1", "iss2-bc1"]
    assert keys(con, "badgr_assertions") == [f"iss1-a{n}" for n in range(5)] + ["iss2-a0"]
    iss1 = [p for p in pages if p.stream == ASSERTIONS and p.scope == "iss1"]
    assert [len(p.records) for p in iss1] == [2, 2, 1]
    assert iss1[-1].cursor is None and iss1[0].cursor.endswith("cursor=2")
    # The record is Badgr's object as sent, out of its envelope.
    (record,) = con.execute(
        "SELECT _record FROM raw.badgr_assertions WHERE _key = 'iss2-a0'"
    ).fetchone()
    assert json.loads(record) == assertion("iss2", 0)


def test_expired_and_revoked_assertions_are_always_asked_for(badgr: FakeBadgr, tmp_path: Path):
    badgr.add_issuer("iss1", assertions=0)
    badgr.assertions["iss1"] = [
        assertion("iss1", 0),
        assertion("iss1", 1, revoked=True, revocationReason="Issued in error"),
        assertion("iss1", 2, expires="2025-01-01T00:00:00Z"),
    ]
    con = warehouse(tmp_path / "w.duckdb")
    pull(con, badgr.settings("iss1", page_size=2))
    listed = [q for path, q in badgr.asked if path.endswith("/assertions")]
    assert listed[0] == "include_expired=true&include_revoked=true&num=2"
    assert all("include_expired=true" in q and "include_revoked=true" in q for q in listed)
    assert keys(con, "badgr_assertions") == ["iss1-a0", "iss1-a1", "iss1-a2"]


def test_status_success_false_fails_naming_the_endpoint_and_badgrs_description(
    badgr: FakeBadgr, tmp_path: Path
):
    badgr.add_issuer("iss1", assertions=1)
    badgr.faults = [
        Response(
            json.dumps(envelope([], False, "Issuer is archived")),
            200,
            content_type="application/json",
        )
    ]
    with pytest.raises(BadResponseError) as caught:
        pull(warehouse(tmp_path / "w.duckdb"), badgr.settings("iss1"))
    message = str(caught.value)
    assert message.startswith("/v2/issuers/iss1: ")
    assert "'Issuer is archived'" in message and "success is false" in message


def test_an_answer_without_badgrs_envelope_is_refused(badgr: FakeBadgr, tmp_path: Path):
    badgr.add_issuer("iss1", assertions=1)
    badgr.faults = [Response("[]", 200, content_type="application/json")]
    with pytest.raises(BadResponseError, match="not Badgr's v2 envelope"):
        pull(warehouse(tmp_path / "w.duckdb"), badgr.settings("iss1"))


def test_429_and_5xx_answers_are_retried_and_the_pull_completes(badgr: FakeBadgr, tmp_path: Path):
    badgr.add_issuer("iss1", assertions=3)
    badgr.faults = [Response("busy", 429, {"Retry-After": "0"}), Response("oops", 502)]
    stats = RequestStats()
    con = warehouse(tmp_path / "w.duckdb")
    pull(con, badgr.settings("iss1", page_size=2), stats)
    assert keys(con, "badgr_assertions") == ["iss1-a0", "iss1-a1", "iss1-a2"]
    assert stats.throttled == 1 and stats.server_errors == 1


def test_a_body_that_is_not_json_fails_after_retries_naming_the_endpoint(
    badgr: FakeBadgr, tmp_path: Path
):
    badgr.add_issuer("iss1", assertions=1)
    badgr.faults = [Response('{"status": {"succ', 200, content_type="application/json")] * 10
    with pytest.raises(BadResponseError, match="/v2/issuers/iss1 answered 200 with a body"):
        pull(warehouse(tmp_path / "w.duckdb"), badgr.settings("iss1"))


def test_an_issuer_badgr_does_not_know_names_issuer_ids(badgr: FakeBadgr, tmp_path: Path):
    with pytest.raises(NotFoundError) as caught:
        pull(warehouse(tmp_path / "w.duckdb"), badgr.settings("nope"))
    assert "issuer 'nope' was not found" in str(caught.value)
    assert "issuer_ids" in str(caught.value) and "$BADGR_TOKEN" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_every_night_reads_every_issuer_whole_and_a_revocation_replaces_the_record(
    badgr: FakeBadgr, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("BADGR_TOKEN", TOKEN)
    badgr.add_issuer("iss1", assertions=3)
    badgr.add_issuer("iss2", assertions=2)
    source = BadgrSource(
        kind="badgr",
        base_url=badgr.server.url_for("/"),
        token_env="BADGR_TOKEN",
        issuer_ids=("iss1", "iss2"),
        page_size=2,
        concurrency=2,
        http=HttpOptions(read_timeout=5.0, backoff_factor=0.0),
    )
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    first = nightly_pull(con, source, "night-1")
    assert first.inserted == 2 + 2 + 5

    badgr.assertions["iss1"][1] = assertion("iss1", 1, revoked=True, revocationReason="Error")
    badgr.asked.clear()
    second = nightly_pull(con, source, "night-2")
    assert (second.inserted, second.updated, second.unchanged) == (0, 1, 8)
    # No "changed since" filter exists: the second night asks the same questions.
    assert all("since" not in q for _, q in badgr.asked)
    (record,) = con.execute(
        "SELECT _record FROM raw.badgr_assertions WHERE _key = 'iss1-a1'"
    ).fetchone()
    assert json.loads(record)["revoked"] is True


def test_settings_need_the_token_variable_and_keep_num_within_badgrs_500():
    source = BadgrSource(
        kind="badgr", base_url="https://api.badgr.io", token_env="BADGR_TOKEN", issuer_ids="abc"
    )
    settings = BadgrSettings.from_config(source, {"BADGR_TOKEN": TOKEN})
    assert settings.api_url == "https://api.badgr.io/v2" and settings.issuer_ids == ("abc",)
    assert TOKEN not in repr(settings)
    with pytest.raises(ConfigError, match="BADGR_TOKEN is not set"):
        BadgrSettings.from_config(source, {})
    with pytest.raises(ValueError, match="page_size must be 1 to 500"):
        BadgrSettings(
            name="b",
            base_url="https://x",
            token="t",
            token_from="$T",
            issuer_ids=("a",),
            page_size=501,
        )


# -- normalization ---------------------------------------------------------------------------


def test_a_badgr_assertion_normalizes_with_its_badge_class_and_issuer():
    badgeclass = {
        "entityId": "bc1",
        "openBadgeId": "https://api.badgr.io/public/badges/bc1",
        "name": "Robotics I",
        "description": "Built and programmed a robot.",
        "criteriaUrl": "https://district.example.edu/robotics",
        "alignments": [
            {
                "targetName": "Engineering design",
                "targetUrl": "https://case.example.org/uri/123",
                "targetFramework": "State CTE",
                "targetCode": "ENG.1",
            }
        ],
    }
    issuer = {
        "entityId": "iss1",
        "openBadgeId": "https://api.badgr.io/public/issuers/iss1",
        "name": "Lincoln High",
    }
    record = assertion(
        "iss1",
        7,
        revoked=True,
        revocationReason="Issued in error",
        expires="2027-06-30T00:00:00Z",
        evidence=[{"url": "https://portfolio.example.edu/7"}, {"narrative": "Built a robot"}],
        image="data:image/png;base64,iVBORw0KGgo=",
    )
    normalized = normalize_badgr(record, badgeclass, issuer)
    assert normalized.credential_id == "https://api.badgr.io/public/assertions/iss1-a7"
    assert normalized.spec_version == "platform" and normalized.achievement_type == "Badge"
    assert normalized.achievement_id == "https://api.badgr.io/public/badges/bc1"
    assert normalized.achievement_name == "Robotics I"
    assert normalized.criteria == "https://district.example.edu/robotics"
    assert normalized.alignments == (
        Alignment(
            "https://case.example.org/uri/123", "Engineering design", None, "State CTE", "ENG.1"
        ),
    )
    assert (normalized.issuer_id, normalized.issuer_name) == (issuer["openBadgeId"], "Lincoln High")
    assert normalized.awarded_at == "2026-04-01T15:00:00Z"
    assert normalized.valid_until == "2027-06-30T00:00:00Z"
    assert normalized.revoked and normalized.revocation_reason == "Issued in error"
    assert normalized.evidence == ("https://portfolio.example.edu/7",)
    assert normalized.recipients == (
        Recipient("email", record["recipient"]["identity"], hashed=True, salt="s4lt"),
        Recipient("email", "learner7@students.example.edu"),
    )
    assert normalized.image == EMBEDDED_IMAGE  # the bytes stay in raw, not in core


def test_a_badgr_assertion_without_its_badge_class_still_names_them_by_id():
    record = assertion("iss1", 1, recipient={"identity": "learner@x.edu", "hashed": False})
    normalized = normalize_badgr(record, None, None)
    assert normalized.achievement_id == "iss1-bc1" and normalized.issuer_id == "iss1"
    assert normalized.achievement_name is None and not normalized.revoked
    assert normalized.recipients == (Recipient("email", "learner@x.edu"),)
