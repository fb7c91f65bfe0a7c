"""Credentials as core.credentials rows: what each spec's fields become."""

from __future__ import annotations

from credential_builders import (
    DISTRICT,
    OB2_ASSERTION,
    OB2_BADGE,
    OB2_ISSUER,
    achievement_credential,
    vector,
)

from models.credentials.normalize import normalize_clr, normalize_ob2, normalize_ob3
from models.credentials.record import Alignment, Recipient, TrustStore


def test_the_ob30_vector_normalizes_to_its_achievement_issuer_and_subject():
    row = normalize_ob3(vector("ob30-simple.json"))
    assert row.spec_version == "3.0"
    assert row.credential_id == "http://example.com/credentials/3527"
    assert row.achievement_id == "https://example.com/achievements/21st-century-skills/teamwork"
    assert row.achievement_name == "Teamwork"
    assert row.achievement_description.startswith("This badge recognizes")
    assert row.criteria.startswith("Team members are nominated")
    assert (row.issuer_id, row.issuer_name) == (
        "https://example.com/issuers/876543",
        "Example Corp",
    )
    assert row.valid_from == row.awarded_at == "2010-01-01T00:00:00Z"
    assert row.valid_until is None
    assert row.subject_id == "did:example:ebfeb1f712ebc6f1c276e12ec21"
    assert row.recipients == (
        Recipient(identity_type="did", identity="did:example:ebfeb1f712ebc6f1c276e12ec21"),
    )
    assert row.revoked is False and row.alignments == () and row.image is None


def test_a_vc_1_1_credential_reads_its_issuance_and_expiration_dates():
    credential = vector("ob30-simple-noproof.json")
    credential["expirationDate"] = "2030-01-01T00:00:00Z"
    row = normalize_ob3(credential)
    assert (row.valid_from, row.valid_until) == ("2010-01-01T00:00:00Z", "2030-01-01T00:00:00Z")
    assert row.achievement_name is None
    assert row.issuer_name == "Example University"


def test_a_district_credential_keeps_its_type_case_alignment_and_hashed_identity():
    row = normalize_ob3(achievement_credential(awardedDate="2026-05-29T15:00:00Z"))
    assert row.achievement_type == "Competency"
    assert row.alignments == (
        Alignment(
            target_url="https://case.example.org/uri/6b9c7d2e-3c2a-11e7-a7f1-0242ac110002",
            target_name="HSA-REI.B.3",
            target_type="CFItem",
            target_framework="Common Core State Standards for Mathematics",
            target_code="HSA-REI.B.3",
        ),
    )
    [recipient] = row.recipients
    assert (recipient.identity_type, recipient.hashed, recipient.salt) == (
        "emailAddress",
        True,
        "pepper",
    )
    assert recipient.identity.startswith("sha256$")
    assert row.subject_id is None
    assert row.awarded_at == "2026-05-29T15:00:00Z"
    assert row.valid_from == "2026-05-30T00:00:00Z"
    # A data: URI image is never copied into the warehouse.
    assert row.image == "data-uri"


def test_an_issuer_given_as_a_uri_has_an_id_and_no_name():
    credential = achievement_credential()
    credential["issuer"] = DISTRICT
    row = normalize_ob3(credential)
    assert (row.issuer_id, row.issuer_name) == (DISTRICT, None)


def test_evidence_is_kept_by_url_or_else_by_name():
    credential = achievement_credential(
        evidence=[
            {"id": "https://lms.example.org/submissions/88", "type": ["Evidence"]},
            {"type": ["Evidence"], "name": "Unit 3 performance task"},
        ]
    )
    assert normalize_ob3(credential).evidence == (
        "https://lms.example.org/submissions/88",
        "Unit 3 performance task",
    )


def test_a_clr_normalizes_to_the_credentials_it_carries():
    [row] = normalize_clr(vector("clr20-simple.json"))
    assert (row.achievement_name, row.issuer_name) == ("Teamwork", "Example Corp")


def test_an_ob2_assertion_normalizes_with_its_badge_and_issuer_from_the_trust_store():
    trust = TrustStore(hosted={OB2_BADGE["id"]: OB2_BADGE, OB2_ISSUER["id"]: OB2_ISSUER})
    row = normalize_ob2(OB2_ASSERTION, trust)
    assert row.spec_version == "2.0"
    assert row.credential_id == "https://example.org/beths-robotics-badge.json"
    assert row.achievement_id == "https://example.org/robotics-badge.json"
    assert row.achievement_name == "Awesome Robotics Badge"
    assert row.criteria == "https://example.org/robotics-badge.html"
    assert (row.issuer_id, row.issuer_name) == (OB2_ISSUER["id"], "An Example Badge Issuer")
    assert row.awarded_at == "2016-12-31T23:59:59Z"
    assert row.evidence == ("https://example.org/beths-robot-work.html",)
    assert row.image == "https://example.org/beths-robot-badge.png"
    assert row.recipients == (
        Recipient(
            identity_type="email",
            identity=OB2_ASSERTION["recipient"]["identity"],
            hashed=True,
            salt="deadsea",
        ),
    )
    assert row.revoked is False


def test_an_ob2_assertion_with_embedded_badge_alignments_and_a_numeric_date():
    assertion = {
        **OB2_ASSERTION,
        "issuedOn": 1359217910,
        "expires": "2030-01-01T00:00:00Z",
        "revoked": True,
        "revocationReason": "Issued in error",
        "badge": {
            **OB2_BADGE,
            "criteria": {"narrative": "Build and program a robot."},
            "alignment": [
                {
                    "targetName": "Engineering Design",
                    "targetUrl": "https://case.example.org/uri/eng-design",
                    "targetDescription": "Define and delimit engineering problems.",
                    "targetFramework": "NGSS",
                    "targetCode": "HS-ETS1-1",
                }
            ],
            "issuer": OB2_ISSUER,
        },
    }
    row = normalize_ob2(assertion)
    assert row.awarded_at == "2013-01-26T16:31:50Z"
    assert row.valid_until == "2030-01-01T00:00:00Z"
    assert row.criteria == "Build and program a robot."
    assert row.issuer_name == "An Example Badge Issuer"
    assert row.alignments[0].target_code == "HS-ETS1-1"
    assert row.alignments[0].target_framework == "NGSS"
    assert row.alignments[0].target_type is None
    assert (row.revoked, row.revocation_reason) == (True, "Issued in error")


def test_an_ob2_badge_given_by_url_and_not_cached_leaves_its_names_empty():
    row = normalize_ob2(OB2_ASSERTION)
    assert row.achievement_id == "https://example.org/robotics-badge.json"
    assert row.achievement_name is None and row.issuer_id is None
