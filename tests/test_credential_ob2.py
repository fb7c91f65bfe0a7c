"""Open Badges 2.0 assertions: hashed recipients, hosted and signed verification, offline."""

from __future__ import annotations

import copy
import hashlib
import json

import jwt
import pytest
from credential_builders import (
    NOW,
    OB2_ASSERTION,
    OB2_ASSERTION_URL,
    OB2_BADGE,
    OB2_ISSUER,
    OB2_ISSUER_URL,
    OB2_KEY_URL,
    OB2_REVOCATIONS_URL,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from models.credentials.ob2 import hash_identity, identity_matches, structure_checks
from models.credentials.record import Recipient, TrustStore
from models.credentials.verify import verify_credential


def assertion(**changes):
    document = copy.deepcopy(OB2_ASSERTION)
    document.update(changes)
    return document


def hosted(*documents):
    return TrustStore(hosted={document["id"]: document for document in documents})


def test_the_ob2_hash_is_sha256_hex_of_identity_followed_by_salt():
    expected = hashlib.sha256(b"maya@lincoln.example.org" + b"pepper").hexdigest()
    assert hash_identity("maya@lincoln.example.org", "pepper") == f"sha256${expected}"
    assert hash_identity("maya@lincoln.example.org") == (
        "sha256$" + hashlib.sha256(b"maya@lincoln.example.org").hexdigest()
    )


def test_the_1edtech_validator_example_hashes_nobody_at_example_org_with_deadsea():
    assert hash_identity("nobody@example.org", "deadsea") == OB2_ASSERTION["recipient"]["identity"]


@pytest.mark.parametrize(
    ("candidate", "matches"),
    [
        ("nobody@example.org", True),
        ("Nobody@Example.org", True),  # issuers hash the lowercased email
        (" nobody@example.org ", True),
        ("somebody@example.org", False),
        ("", False),
    ],
)
def test_a_hashed_email_recipient_matches_only_its_own_email(candidate, matches):
    assert identity_matches(OB2_ASSERTION["recipient"], candidate) is matches


def test_plain_and_md5_hashed_recipients_match_too():
    plain = {"type": "email", "hashed": False, "identity": "Maya@Lincoln.example.org"}
    assert identity_matches(plain, "maya@lincoln.example.org")
    md5 = "md5$" + hashlib.md5(b"maya@lincoln.example.orgNaCl").hexdigest()
    assert identity_matches(
        {"type": "email", "hashed": True, "salt": "NaCl", "identity": md5},
        "maya@lincoln.example.org",
    )
    url = {"type": "url", "hashed": False, "identity": "https://example.org/maya"}
    assert not identity_matches(url, "https://example.org/MAYA")


def test_an_ob3_identity_object_as_a_recipient_matches():
    recipient = Recipient(
        identity_type="emailAddress",
        identity=hash_identity("maya@lincoln.example.org", "pepper"),
        hashed=True,
        salt="pepper",
    )
    assert identity_matches(recipient, "MAYA@lincoln.example.org")


def test_a_hosted_assertion_that_is_not_cached_is_not_verifiable_offline():
    result = verify_credential(assertion(), trust=TrustStore(), now=NOW)
    assert result.status == "not_verifiable_offline"
    assert (result.spec_version, result.format) == ("2.0", "ob2-json")
    assert OB2_ASSERTION_URL in result.reason


def test_a_hosted_assertion_matching_its_cached_copy_verifies():
    result = verify_credential(
        assertion(), trust=hosted(OB2_ASSERTION, OB2_BADGE, OB2_ISSUER), now=NOW
    )
    assert result.status == "verified", result.reason


def test_a_hosted_assertion_whose_cached_copy_says_revoked_is_revoked():
    gone = {"id": OB2_ASSERTION_URL, "revoked": True, "revocationReason": "Awarded in error"}
    result = verify_credential(assertion(), trust=hosted(gone), now=NOW)
    assert result.status == "revoked"
    assert "Awarded in error" in result.reason


def test_a_presented_assertion_that_differs_from_the_hosted_copy_fails():
    changed = assertion(issuedOn="2017-06-01T00:00:00Z")
    result = verify_credential(changed, trust=hosted(OB2_ASSERTION, OB2_BADGE, OB2_ISSUER), now=NOW)
    assert result.status == "failed_signature"
    assert "issuedOn" in result.reason


def test_a_hosted_assertion_outside_the_issuers_origin_fails():
    elsewhere = "https://badges.elsewhere.example.net/a/1"
    presented = assertion(id=elsewhere)
    trust = hosted({**OB2_ASSERTION, "id": elsewhere}, OB2_BADGE, OB2_ISSUER)
    result = verify_credential(presented, trust=trust, now=NOW)
    assert result.status == "failed_signature"
    assert "origin" in result.reason


def test_an_expired_assertion_is_expired():
    document = assertion(expires="2020-01-01T00:00:00Z")
    result = verify_credential(document, trust=hosted(document, OB2_BADGE, OB2_ISSUER), now=NOW)
    assert result.status == "expired"


def test_an_ob2_assertion_without_a_recipient_is_invalid():
    document = assertion()
    del document["recipient"]
    assert verify_credential(document, trust=TrustStore(), now=NOW).status == "invalid"
    assert structure_checks(document)[0].outcome == "fail"


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def signed(private_key, payload):
    return jwt.PyJWS().encode(json.dumps(payload).encode(), private_key, algorithm="RS256")


def key_document(private_key, owner=OB2_ISSUER_URL):
    pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "@context": "https://w3id.org/openbadges/v2",
        "type": "CryptographicKey",
        "id": OB2_KEY_URL,
        "owner": owner,
        "publicKeyPem": pem.decode(),
    }


SIGNED_ASSERTION = {
    **OB2_ASSERTION,
    "id": "urn:uuid:2a4f8d1c-8f6e-4c51-9a3b-5c1f7d2e9b10",
    "verification": {"type": "SignedBadge", "creator": OB2_KEY_URL},
}


def test_a_signed_assertion_verifies_with_the_cached_issuer_key():
    private_key = rsa_key()
    issuer = {**OB2_ISSUER, "revocationList": OB2_REVOCATIONS_URL}
    revocations = {"id": OB2_REVOCATIONS_URL, "type": "RevocationList", "revokedAssertions": []}
    trust = hosted(OB2_BADGE, issuer, key_document(private_key), revocations)
    result = verify_credential(signed(private_key, SIGNED_ASSERTION), trust=trust, now=NOW)
    assert result.status == "verified", result.reason
    assert (result.spec_version, result.format) == ("2.0", "jws")


def test_a_signed_assertion_on_the_issuers_revocation_list_is_revoked():
    private_key = rsa_key()
    issuer = {**OB2_ISSUER, "revocationList": OB2_REVOCATIONS_URL}
    revocations = {
        "id": OB2_REVOCATIONS_URL,
        "type": "RevocationList",
        "revokedAssertions": [{"id": SIGNED_ASSERTION["id"], "revocationReason": "Cheating"}],
    }
    trust = hosted(OB2_BADGE, issuer, key_document(private_key), revocations)
    result = verify_credential(signed(private_key, SIGNED_ASSERTION), trust=trust, now=NOW)
    assert result.status == "revoked"


def test_a_signed_assertion_checked_with_another_key_fails():
    trust = hosted(OB2_BADGE, OB2_ISSUER, key_document(rsa_key()))
    result = verify_credential(signed(rsa_key(), SIGNED_ASSERTION), trust=trust, now=NOW)
    assert result.status == "failed_signature"


def test_a_signed_assertion_whose_key_is_not_cached_has_an_unresolved_key():
    result = verify_credential(
        signed(rsa_key(), SIGNED_ASSERTION), trust=hosted(OB2_BADGE), now=NOW
    )
    assert result.status == "unresolved_key"
    assert OB2_KEY_URL in result.reason


def test_a_signed_assertion_presented_without_its_signature_is_unsigned():
    result = verify_credential(SIGNED_ASSERTION, trust=TrustStore(), now=NOW)
    assert result.status == "unsigned"
