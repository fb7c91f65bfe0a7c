"""The sample badge platform: credentials generated from a sample district that verify to exactly
the status intended for them, a badge folder and trust folder, and a local server that answers
like the Open Badges 3.0 API, Badgr and Credly, tested with plain HTTP."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import png
import pytest
import requests
from defusedxml import ElementTree

from connectors.trust_cache import load_trust_store
from models.config import load_config
from models.credentials.ingest import check_record
from models.credentials.platforms import compact_jws_payload
from models.credentials.record import VERIFICATION_STATUSES, TrustStore
from models.credentials.verify import verify_credential
from pipelines.cli import _sample_credentials
from sample_district import badge_data
from sample_district.badge_data import (
    OUTCOMES_HOLD_FROM,
    OUTCOMES_HOLD_UNTIL,
    expected_outcomes,
    load_platform_records,
    write_badge_folder,
)
from sample_district.badge_server import (
    BADGE_PLATFORM_ENV,
    OB3_SCOPE_PROFILE,
    SampleBadgePlatform,
    point_config_at_badges,
)
from sample_district.generate import GeneratedDistrict, generate_district
from sample_district.lms_server import Faults

CLIENT_ID = "ob3-client"
CLIENT_SECRET = "ob3-secret"
BADGR_TOKEN = "badgr-test-token"
CREDLY_TOKEN = "credly-test-token"
LEARNERS = 400
SEED = 7
NOW = datetime(2026, 12, 1, tzinfo=UTC)

OB2_NAMESPACE = "http://openbadges.org"
OB3_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> GeneratedDistrict:
    return generate_district(LEARNERS, tmp_path_factory.mktemp("district"), seed=SEED)


@pytest.fixture(scope="module")
def outcomes(district: GeneratedDistrict) -> list[dict[str, Any]]:
    return expected_outcomes(district.out)


@pytest.fixture(scope="module")
def trust(district: GeneratedDistrict) -> TrustStore:
    store, problems = load_trust_store(district.out / "trust")
    assert problems == []
    return store


@pytest.fixture(scope="module")
def platform(district: GeneratedDistrict) -> Iterator[SampleBadgePlatform]:
    """A server nobody injects faults into."""
    with _server(district) as server:
        yield server


def _server(district: GeneratedDistrict, **options: Any) -> SampleBadgePlatform:
    return SampleBadgePlatform(
        district.out,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        badgr_token=BADGR_TOKEN,
        credly_token=CREDLY_TOKEN,
        **options,
    )


def _learners(district: GeneratedDistrict) -> dict[str, dict[str, str]]:
    """The SIS's learners by sourcedId."""
    with (district.oneroster_path / "roles.csv").open(encoding="utf-8", newline="") as fh:
        students = {r["userSourcedId"] for r in csv.DictReader(fh) if r["role"] == "student"}
    with (district.oneroster_path / "users.csv").open(encoding="utf-8", newline="") as fh:
        return {r["sourcedId"]: r for r in csv.DictReader(fh) if r["sourcedId"] in students}


def _of(outcomes: list[dict[str, Any]], platform: str) -> list[dict[str, Any]]:
    return [o for o in outcomes if o["platform"] == platform]


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# --- what is generated ----------------------------------------------------------------------


def test_the_same_seed_writes_the_same_badges_trust_and_platform_bytes(tmp_path: Path):
    first = generate_district(60, tmp_path / "a", seed=5)
    second = generate_district(60, tmp_path / "b", seed=5)
    for folder in ("badges", "trust", "badge_platform"):
        assert _tree_digest(first.out / folder) == _tree_digest(second.out / folder), folder
    rewritten = write_badge_folder(first.out, seed=5)
    assert _tree_digest(rewritten.badge_dir) == _tree_digest(second.out / "badges")


def test_another_seed_issues_other_credentials(tmp_path: Path):
    one = {o["id"] for o in expected_outcomes(generate_district(60, tmp_path / "a", seed=5).out)}
    other = {o["id"] for o in expected_outcomes(generate_district(60, tmp_path / "b", seed=6).out)}
    assert len(one & other) <= 2  # only fixed names, e.g. the logo that is no badge


@pytest.mark.parametrize(
    ("platform", "statuses"),
    [
        (
            "ob3_api",
            {"verified", "expired", "revoked", "failed_signature", "unsigned", "unknown_context",
             "unchecked_status"},
        ),
        ("badgr", {"verified", "not_verifiable_offline", "expired", "revoked"}),
        ("credly", {"not_verifiable_offline", "expired", "revoked"}),
        (
            "badge_files",
            {"verified", "unresolved_key", "not_verifiable_offline", "expired", "revoked",
             "failed_signature", "invalid"},
        ),
    ],
)  # fmt: skip
def test_every_platform_holds_each_outcome_it_can_have(
    outcomes: list[dict[str, Any]], platform: str, statuses: set[str]
):
    assert {o["status"] for o in _of(outcomes, platform)} == statuses


@pytest.mark.parametrize(
    ("platform", "methods"),
    [
        ("ob3_api", {"sis_id", "hashed_email", "username", "email", None}),
        # Badgr states the plaintext email beside a hashed one, so every link is by email.
        ("badgr", {"email", None}),
        ("credly", {"issuer_earner_id", "email", None}),
        ("badge_files", {"sis_id", "hashed_email", "username", "email", None}),
    ],
)
def test_recipients_match_by_every_method_a_platform_has_and_some_match_no_learner(
    outcomes: list[dict[str, Any]], platform: str, methods: set[str | None]
):
    assert {o["match"] for o in _of(outcomes, platform)} == methods
    assert all((o["learner"] is None) == (o["match"] is None) for o in outcomes)


def test_intended_learners_are_sis_learners(
    district: GeneratedDistrict, outcomes: list[dict[str, Any]]
):
    learners = _learners(district)
    assert {o["learner"] for o in outcomes if o["learner"]} <= set(learners)


def test_unmatched_recipients_name_nobody_the_sis_knows(district: GeneratedDistrict):
    learners = _learners(district)
    known_ids = set(learners)
    known_emails = {r["email"].lower() for r in learners.values()}
    outcomes = {(o["platform"], o["id"]): o for o in expected_outcomes(district.out)}
    records = load_platform_records(district.out)
    for badge in records.credly["badges"]:
        if outcomes["credly", badge["id"]]["learner"] is None:
            assert badge["issuer_earner_id"] not in known_ids
            assert badge["recipient_email"].lower() not in known_emails
    for assertion in records.badgr["assertions"]:
        if outcomes["badgr", assertion["entityId"]]["learner"] is None:
            assert assertion["recipient"]["plaintextIdentity"].lower() not in known_emails


def test_about_a_tenth_of_learners_earn_on_each_platform_and_credly_mostly_in_high_school(
    district: GeneratedDistrict, outcomes: list[dict[str, Any]]
):
    learners = _learners(district)
    for platform in ("ob3_api", "badgr", "credly"):
        earners = {o["learner"] for o in _of(outcomes, platform) if o["case"].startswith("routine")}
        assert 0.04 * LEARNERS < len(earners) < 0.2 * LEARNERS, platform
    credly = [o["learner"] for o in _of(outcomes, "credly") if o["case"].startswith("routine")]
    grades = Counter(learners[sourced_id]["grades"] for sourced_id in credly)
    assert sum(n for g, n in grades.items() if g in ("09", "10", "11", "12")) > 0.7 * len(credly)


def test_each_platform_awards_at_most_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    district = generate_district(200, tmp_path / "d", seed=SEED)
    monkeypatch.setattr(badge_data, "MAX_AWARDED_LEARNERS", 5)
    write_badge_folder(district.out, seed=SEED)
    for platform in ("ob3_api", "badgr", "credly"):
        routine = _of(expected_outcomes(district.out), platform)
        earners = {o["learner"] for o in routine if o["case"].startswith("routine")}
        assert 0 < len(earners) <= 5, platform


def test_every_email_anywhere_is_under_the_example_domain(district: GeneratedDistrict):
    pattern = re.compile(rb"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
    domains = set()
    for folder in ("badges", "trust", "badge_platform"):
        for path in (district.out / folder).rglob("*"):
            if path.is_file():
                domains |= {m.group(1).decode() for m in pattern.finditer(path.read_bytes())}
    assert domains
    assert all(domain.endswith(".example") for domain in domains), sorted(domains)


def test_the_generated_config_names_the_badge_folder_and_the_trust_folder(
    district: GeneratedDistrict,
):
    config = load_config(district.config_path)
    (files,) = config.sources.credentials
    assert files.kind == "badge_files"
    assert files.path == (district.out / "badges").resolve()
    assert config.verification.trust_dir == (district.out / "trust").resolve()


def test_the_trust_folder_caches_what_verification_needs_and_no_more(
    district: GeneratedDistrict, trust: TrustStore
):
    assert list(trust.did_documents) == ["did:web:badges.career-consortium.example"]
    host = "https://badges.sample-district.example"
    assert set(trust.status_lists) == {f"{host}/status/1", f"{host}/revocations/1"}
    assert len(trust.hosted) > 20  # OB 2.0 issuers, badge classes and assertions
    records = load_platform_records(district.out)
    for badgeclass in records.badgr["badgeclasses"]:
        assert badgeclass["openBadgeId"] in trust.hosted


# --- verification: each credential gets exactly its intended status ---------------------------


def _verify_file(path: Path, trust: TrustStore, now: datetime) -> str:
    """A badge folder file's status, its payload extracted here (not by the connector)."""
    try:
        payload = _payload(path)
    except (ValueError, png.Error, ElementTree.ParseError, json.JSONDecodeError, UnicodeError):
        return "invalid"
    if isinstance(payload, str) and payload.startswith("https://"):
        if payload not in trust.hosted:
            return "not_verifiable_offline"
        payload = trust.hosted[payload]
    return verify_credential(payload, trust=trust, now=now).status


def _payload(path: Path) -> dict[str, Any] | str:
    """What a badge file holds: the credential's JSON, a compact JWS, or a hosted URL."""
    if path.suffix == ".png":
        text = _png_text(path)[1]
        return json.loads(text) if text.lstrip().startswith("{") else text
    if path.suffix == ".svg":
        element = _svg_element(path)
        body = (element.text or "").strip()
        return json.loads(body) if body else element.get("verify")
    text = path.read_text(encoding="utf-8").strip()
    return text if path.suffix == ".jwt" else json.loads(text)


def _png_text(path: Path) -> tuple[str, str]:
    """(keyword, text) of the badge iTXt chunk of a baked PNG (OB 2.0 / 3.0 baking)."""
    for kind, data in png.Reader(filename=str(path)).chunks():
        if kind != b"iTXt":
            continue
        keyword, rest = data.split(b"\x00", 1)
        if keyword in (b"openbadgecredential", b"openbadges"):
            assert rest[0] == 0, "baked chunks must not be compressed"
            _language, _translated, text = rest[2:].split(b"\x00", 2)
            return keyword.decode(), text.decode("utf-8")
    raise ValueError(f"{path.name}: no badge chunk")


def _svg_element(path: Path) -> Any:
    root = ElementTree.parse(str(path)).getroot()
    for tag in (f"{{{OB3_NAMESPACE}}}credential", f"{{{OB2_NAMESPACE}}}assertion"):
        found = root.find(tag)
        if found is not None:
            return found
    raise ValueError(f"{path.name}: no baked badge")


@pytest.mark.parametrize("now", [OUTCOMES_HOLD_FROM, NOW, OUTCOMES_HOLD_UNTIL - timedelta(days=1)])
@pytest.mark.parametrize("platform", ["ob3_api", "badgr", "credly", "badge_files"])
def test_every_credential_verifies_to_exactly_its_intended_status(
    district: GeneratedDistrict,
    outcomes: list[dict[str, Any]],
    trust: TrustStore,
    platform: str,
    now: datetime,
):
    records = load_platform_records(district.out)
    got: dict[str, str] = {}
    if platform == "ob3_api":
        for record in records.ob3:
            document = record.get("credential") or record["compactJws"]
            credential = document if isinstance(document, dict) else compact_jws_payload(document)
            got[credential["id"]] = verify_credential(document, trust=trust, now=now).status
    elif platform == "badgr":
        badgeclasses = {b["entityId"]: b for b in records.badgr["badgeclasses"]}
        issuers = {i["entityId"]: i for i in records.badgr["issuers"]}
        for a in records.badgr["assertions"]:
            _, verification = check_record(
                "badgr",
                a,
                trust=trust,
                now=now,
                badgeclass=badgeclasses[a["badgeclass"]],
                issuer=issuers[a["issuer"]],
            )
            got[a["entityId"]] = verification.status
    elif platform == "credly":
        for badge in records.credly["badges"]:
            got[badge["id"]] = check_record("credly", badge, trust=trust, now=now)[1].status
    else:
        for o in _of(outcomes, platform):
            got[o["id"]] = _verify_file(district.out / o["path"], trust, now)
    expected = {o["id"]: o["status"] for o in _of(outcomes, platform)}
    assert got == expected
    assert set(expected.values()) <= set(VERIFICATION_STATUSES)


def test_the_badge_folder_holds_every_format(district: GeneratedDistrict):
    folder = district.out / "badges"
    assert {p.suffix for p in folder.iterdir()} == {".json", ".jwt", ".png", ".svg"}
    keywords, namespaces = set(), set()
    for path in folder.glob("*.png"):
        with contextlib.suppress(ValueError, png.Error):  # the cut download and the logo
            keywords.add(_png_text(path)[0])
    for path in folder.glob("*.svg"):
        namespaces.add(_svg_element(path).tag.split("}")[0].lstrip("{"))
    assert keywords == {"openbadges", "openbadgecredential"}
    assert namespaces == {OB2_NAMESPACE, OB3_NAMESPACE}


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_a_baked_badge_gives_back_the_credential_it_was_baked_with(
    district: GeneratedDistrict, outcomes: list[dict[str, Any]], trust: TrustStore, suffix: str
):
    baked = [
        o
        for o in _of(outcomes, "badge_files")
        if o["path"].endswith(suffix) and o["status"] != "invalid"
    ]
    assert len(baked) >= 3
    for o in baked:
        payload = _payload(district.out / o["path"])
        if isinstance(payload, str) and payload.startswith("https://"):
            assert payload == o["id"] and payload in trust.hosted
        elif isinstance(payload, str):
            assert compact_jws_payload(payload)["id"] == o["id"]
        else:
            assert payload["id"] == o["id"]


def test_the_cut_download_is_a_png_that_cannot_be_read(
    district: GeneratedDistrict, outcomes: list[dict[str, Any]]
):
    (cut,) = [o for o in _of(outcomes, "badge_files") if "cut off" in o["case"]]
    path = district.out / cut["path"]
    assert path.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(png.Error):
        _png_text(path)


# --- the Open Badges 3.0 API ------------------------------------------------------------------


def _ob3_session(platform: SampleBadgePlatform, scope: str | None = None) -> requests.Session:
    data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    response = requests.post(
        platform.token_url, auth=(CLIENT_ID, CLIENT_SECRET), data=data, timeout=5
    )
    assert response.status_code == 200, response.text
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return session


def _ob3_ids(body: dict[str, Any]) -> list[str]:
    return [c["id"] for c in body["credential"]] + [
        compact_jws_payload(token)["id"] for token in body["compactJwsString"]
    ]


def test_ob3_credentials_need_a_bearer_token(platform: SampleBadgePlatform):
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = requests.get(f"{platform.ob3_url}/credentials", headers=headers, timeout=5)
        assert response.status_code == 401
        minor = response.json()["imsx_codeMinor"]["imsx_codeMinorField"][0]
        assert minor["imsx_codeMinorFieldValue"] == "unauthorizedrequest"


def test_an_ob3_token_needs_the_client_secret(platform: SampleBadgePlatform):
    response = requests.post(
        platform.token_url,
        auth=(CLIENT_ID, "wrong"),
        data={"grant_type": "client_credentials"},
        timeout=5,
    )
    assert response.status_code == 401
    assert response.json() == {"error": "invalid_client"}


def test_an_ob3_token_for_an_upsert_scope_is_refused(platform: SampleBadgePlatform):
    response = requests.post(
        platform.token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "scope": "https://purl.imsglobal.org/spec/ob/v3p0/scope/credential.upsert",
        },
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_scope"}


def test_an_ob3_token_without_the_credential_scope_is_forbidden(platform: SampleBadgePlatform):
    session = _ob3_session(platform, scope=OB3_SCOPE_PROFILE)
    assert session.get(f"{platform.ob3_url}/credentials", timeout=5).status_code == 403


def test_ob3_credentials_page_by_offset_to_the_end_following_link_next(
    platform: SampleBadgePlatform, outcomes: list[dict[str, Any]]
):
    session = _ob3_session(platform)
    response = session.get(f"{platform.ob3_url}/credentials", params={"limit": 9}, timeout=5)
    total = int(response.headers["X-Total-Count"])
    ids, formats = [], Counter()
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"credential", "compactJwsString"}
        assert len(_ob3_ids(body)) <= 9
        ids += _ob3_ids(body)
        formats.update({"json-ld": len(body["credential"]), "jws": len(body["compactJwsString"])})
        assert {"first", "last"} <= set(response.links)
        if "next" not in response.links:
            break
        response = session.get(response.links["next"]["url"], timeout=5)
    assert len(ids) == len(set(ids)) == total
    assert set(ids) == {o["id"] for o in _of(outcomes, "ob3_api")}
    assert formats["json-ld"] > 0 and formats["jws"] > 0


def test_ob3_since_keeps_only_credentials_issued_after_it(
    platform: SampleBadgePlatform, district: GeneratedDistrict
):
    issued = sorted(r["issued"] for r in load_platform_records(district.out).ob3)
    since = issued[len(issued) // 2]
    session = _ob3_session(platform)
    response = session.get(
        f"{platform.ob3_url}/credentials", params={"since": since, "limit": 1000}, timeout=5
    )
    assert response.status_code == 200
    assert int(response.headers["X-Total-Count"]) == sum(at > since for at in issued)
    assert len(_ob3_ids(response.json())) == sum(at > since for at in issued)
    assert "next" not in response.links


@pytest.mark.parametrize("params", [{"since": "last tuesday"}, {"limit": "0"}, {"offset": "-1"}])
def test_ob3_refuses_malformed_paging_with_an_imsx_status(
    platform: SampleBadgePlatform, params: dict[str, str]
):
    response = _ob3_session(platform).get(f"{platform.ob3_url}/credentials", params=params)
    assert response.status_code == 400
    assert response.json()["imsx_codeMajor"] == "failure"


# --- Badgr --------------------------------------------------------------------------------------


def _badgr() -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {BADGR_TOKEN}"
    return session


def _badgr_walk(url: str, params: dict[str, Any]) -> tuple[list[dict], int]:
    """Every item of a Badgr listing, following Link rel=next; and the number of pages."""
    session, items, pages = _badgr(), [], 0
    response = session.get(url, params=params, timeout=5)
    while True:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == {"success": True, "description": "ok"}
        items += response.json()["result"]
        pages += 1
        if "next" not in response.links:
            return items, pages
        response = session.get(response.links["next"]["url"], timeout=5)


def test_badgr_needs_its_bearer_token(platform: SampleBadgePlatform):
    issuer = platform.badgr_issuer_ids[0]
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = requests.get(
            f"{platform.badgr_url}/v2/issuers/{issuer}", headers=headers, timeout=5
        )
        assert response.status_code == 401


def test_badgr_gives_an_issuer_and_its_badge_classes_in_its_envelope(
    platform: SampleBadgePlatform,
):
    for issuer in platform.badgr_issuer_ids:
        body = _badgr().get(f"{platform.badgr_url}/v2/issuers/{issuer}", timeout=5).json()
        assert [r["entityId"] for r in body["result"]] == [issuer]
        classes, _ = _badgr_walk(f"{platform.badgr_url}/v2/issuers/{issuer}/badgeclasses", {})
        assert classes and {c["issuer"] for c in classes} == {issuer}


def test_badgr_assertions_page_by_cursor_to_the_end_with_both_flags(
    platform: SampleBadgePlatform, outcomes: list[dict[str, Any]]
):
    seen = []
    for issuer in platform.badgr_issuer_ids:
        items, pages = _badgr_walk(
            f"{platform.badgr_url}/v2/issuers/{issuer}/assertions",
            {"num": 4, "include_expired": "true", "include_revoked": "1"},
        )
        assert pages > 1
        assert {a["issuer"] for a in items} == {issuer}
        assert [a["createdAt"] for a in items] == sorted(
            (a["createdAt"] for a in items), reverse=True
        )
        seen += [a["entityId"] for a in items]
    assert len(seen) == len(set(seen))
    assert set(seen) == {o["id"] for o in _of(outcomes, "badgr")}


@pytest.mark.parametrize(
    ("flags", "hidden"),
    [
        ({}, {"expired", "revoked"}),
        ({"include_expired": "true"}, {"revoked"}),
        ({"include_revoked": "True"}, {"expired"}),
        ({"include_expired": "1", "include_revoked": "true"}, set()),
    ],
)
def test_badgr_hides_expired_and_revoked_assertions_unless_asked(
    platform: SampleBadgePlatform,
    outcomes: list[dict[str, Any]],
    flags: dict[str, str],
    hidden: set[str],
):
    seen = set()
    for issuer in platform.badgr_issuer_ids:
        items, _ = _badgr_walk(f"{platform.badgr_url}/v2/issuers/{issuer}/assertions", flags)
        seen |= {a["entityId"] for a in items}
    assert seen == {o["id"] for o in _of(outcomes, "badgr") if o["status"] not in hidden}


def test_badgr_without_num_answers_everything_at_once(platform: SampleBadgePlatform):
    issuer = platform.badgr_issuer_ids[0]
    response = _badgr().get(
        f"{platform.badgr_url}/v2/issuers/{issuer}/assertions",
        params={"include_expired": "true", "include_revoked": "true"},
        timeout=5,
    )
    assert response.status_code == 200
    assert "Link" not in response.headers
    assert len(response.json()["result"]) > 4


def test_badgr_answers_404_for_an_issuer_it_does_not_have(platform: SampleBadgePlatform):
    response = _badgr().get(f"{platform.badgr_url}/v2/issuers/nope/assertions", timeout=5)
    assert response.status_code == 404


# --- Credly -------------------------------------------------------------------------------------


def _credly_walk(platform: SampleBadgePlatform, params: dict[str, str]) -> list[dict]:
    url = f"{platform.credly_url}/v1/organizations/{platform.credly_organization_id}/badges"
    response = requests.get(url, params=params, auth=(CREDLY_TOKEN, ""), timeout=5)
    badges = []
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        metadata = body["metadata"]
        assert metadata["count"] == len(body["data"]) <= metadata["per"] == 50
        badges += body["data"]
        if metadata["next_page_url"] is None:
            assert metadata["current_page"] == metadata["total_pages"]
            assert len(badges) == metadata["total_count"]
            return badges
        response = requests.get(metadata["next_page_url"], auth=(CREDLY_TOKEN, ""), timeout=5)


def test_credly_needs_its_token_as_the_basic_user_name(platform: SampleBadgePlatform):
    url = f"{platform.credly_url}/v1/organizations/{platform.credly_organization_id}/badges"
    assert requests.get(url, timeout=5).status_code == 401
    bearer = {"Authorization": f"Bearer {CREDLY_TOKEN}"}
    assert requests.get(url, headers=bearer, timeout=5).status_code == 401
    assert requests.get(url, auth=(CREDLY_TOKEN, ""), timeout=5).status_code == 200


def test_credly_badges_page_to_the_end_by_next_page_url(
    platform: SampleBadgePlatform, outcomes: list[dict[str, Any]]
):
    badges = _credly_walk(platform, {})
    ids = [b["id"] for b in badges]
    assert len(ids) == len(set(ids))
    assert set(ids) == {o["id"] for o in _of(outcomes, "credly")}
    assert len(badges) > 50


def test_credly_filters_by_state_and_by_updated_at(platform: SampleBadgePlatform):
    revoked = _credly_walk(platform, {"filter": "state::revoked"})
    assert revoked and all(b["state"] == "revoked" and b["revoked_at"] for b in revoked)
    everything = _credly_walk(platform, {})
    moments = sorted(b["updated_at"] for b in everything)
    day = moments[len(moments) // 2][:10]
    recent = _credly_walk(platform, {"filter": f"updated_at_min::{day}|state::accepted,pending"})
    assert recent and all(
        b["updated_at"][:10] >= day and b["state"] in ("accepted", "pending") for b in recent
    )
    assert len(recent) == sum(
        b["updated_at"][:10] >= day and b["state"] in ("accepted", "pending") for b in everything
    )


def test_credly_answers_404_for_another_organization(platform: SampleBadgePlatform):
    response = requests.get(
        f"{platform.credly_url}/v1/organizations/someone-else/badges",
        auth=(CREDLY_TOKEN, ""),
        timeout=5,
    )
    assert response.status_code == 404


# --- faults -------------------------------------------------------------------------------------


def _requests_of_every_api(platform: SampleBadgePlatform) -> list[requests.Response]:
    organization = platform.credly_organization_id
    return [
        requests.post(
            platform.token_url,
            auth=(CLIENT_ID, CLIENT_SECRET),
            data={"grant_type": "client_credentials"},
            timeout=5,
        ),
        _badgr().get(f"{platform.badgr_url}/v2/issuers/{platform.badgr_issuer_ids[0]}", timeout=5),
        requests.get(
            f"{platform.credly_url}/v1/organizations/{organization}/badges",
            auth=(CREDLY_TOKEN, ""),
            timeout=5,
        ),
    ]


def test_an_injected_error_is_a_500_before_any_work(district: GeneratedDistrict):
    with _server(district, faults=Faults(error_rate=1.0)) as server:
        assert [r.status_code for r in _requests_of_every_api(server)] == [500, 500, 500]
        assert server.stats.errors == 3


def test_an_injected_cut_body_is_a_200_whose_json_does_not_parse(district: GeneratedDistrict):
    with _server(district, faults=Faults(truncate_rate=1.0)) as server:
        for response in _requests_of_every_api(server):
            assert response.status_code == 200
            with pytest.raises(ValueError):
                response.json()
        assert server.stats.truncated == 3


def test_an_injected_timeout_holds_the_answer_back(district: GeneratedDistrict):
    with _server(district, faults=Faults(timeout_rate=1.0, slow_seconds=0.4)) as server:
        with pytest.raises(requests.Timeout):
            _badgr().get(f"{server.badgr_url}/v2/issuers", timeout=0.1)
        started = time.monotonic()
        assert _badgr().get(f"{server.badgr_url}/v2/issuers", timeout=5).status_code == 200
        assert time.monotonic() - started >= 0.4
        assert server.stats.timeouts == 2


def test_the_same_fault_seed_fails_the_same_requests(district: GeneratedDistrict):
    runs = []
    for _ in range(2):
        with _server(district, faults=Faults(error_rate=0.5, seed=3)) as server:
            runs.append(
                [
                    _badgr().get(f"{server.badgr_url}/v2/issuers", timeout=5).status_code
                    for _ in range(16)
                ]
            )
    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 500}


# --- config and CLI -----------------------------------------------------------------------------


def test_pointing_a_config_at_the_platform_adds_its_three_apis_the_folder_and_the_trust_dir(
    tmp_path: Path, district: GeneratedDistrict, platform: SampleBadgePlatform
):
    config_path = tmp_path / "pathways.yaml"
    config_path.write_bytes(district.config_path.read_bytes())
    point_config_at_badges(config_path, platform)
    point_config_at_badges(config_path, platform)  # twice: replaced, not appended
    config = load_config(config_path)
    sources = {s.kind: s for s in config.sources.credentials}
    assert sorted(sources) == ["badge_files", "badgr", "credly", "ob3_api"]
    assert sources["ob3_api"].token_url == platform.token_url
    assert sources["badgr"].issuer_ids == platform.badgr_issuer_ids
    assert sources["credly"].organization_id == platform.credly_organization_id
    assert config.verification.trust_dir == (tmp_path / "trust").resolve()


def test_pointing_a_config_at_the_platform_by_url_reads_ids_from_the_district(
    district: GeneratedDistrict, tmp_path: Path
):
    copy = generate_district(30, tmp_path / "d", seed=SEED)
    point_config_at_badges(copy.config_path, "http://127.0.0.1:8766/")
    sources = {s.kind: s for s in load_config(copy.config_path).sources.credentials}
    assert sources["badgr"].base_url == "http://127.0.0.1:8766"
    records = load_platform_records(copy.out)
    assert sources["credly"].organization_id == records.credly["organization"]["id"]


def test_the_demo_makes_up_the_badge_platforms_secrets_when_unset(
    monkeypatch: pytest.MonkeyPatch,
):
    for name in BADGE_PLATFORM_ENV:
        monkeypatch.setenv(name, "")  # empty counts as unset; restored after the test
    made_up = _sample_credentials(BADGE_PLATFORM_ENV)
    assert made_up == list(BADGE_PLATFORM_ENV)
    assert all(os.environ[name] for name in BADGE_PLATFORM_ENV)
    assert _sample_credentials(BADGE_PLATFORM_ENV) == []
