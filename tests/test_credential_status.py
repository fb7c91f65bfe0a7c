"""Revocation and suspension from cached status lists: Bitstring Status List and the 1EdTech
Revocation List, checked offline, and the lists the district publishes for its own records."""

from __future__ import annotations

import base64
import gzip

import pytest
from credential_builders import NOW, achievement_credential

from models.credentials import jsonld
from models.credentials.keys import (
    did_key,
    did_key_verification_method,
    generate_private_key,
    public_key_multibase,
)
from models.credentials.proofs import sign_data_integrity
from models.credentials.record import TrustStore
from models.credentials.status import (
    MIN_STATUS_LIST_LENGTH,
    bitstring_status_entry,
    bitstring_status_list_credential,
    check_status,
    decode_status_list,
    encode_status_list,
    status_bit,
)
from models.credentials.verify import verify_credential

LIST_URL = "https://badges.lincoln-unified.example.org/status/3"
REVOCATIONS_URL = "https://badges.lincoln-unified.example.org/revocations"
KEY = generate_private_key()
ISSUER = did_key(KEY.public_key())
METHOD = did_key_verification_method(KEY.public_key())


def sign(document):
    return sign_data_integrity(document, KEY, METHOD, created="2026-05-30T00:00:00Z")


def status_list(indexes, purpose="revocation"):
    """A signed BitstringStatusListCredential of the issuer with these bits set."""
    unsigned = bitstring_status_list_credential(
        LIST_URL, ISSUER, encode_status_list(indexes), "2026-06-01T00:00:00Z", purpose=purpose
    )
    return sign(unsigned)


def credential_at(index, purpose="revocation"):
    credential = achievement_credential(ISSUER)
    credential["credentialStatus"] = bitstring_status_entry(LIST_URL, index, purpose)
    return sign(credential)


def status_of(credential, trust):
    return verify_credential(credential, trust=trust, now=NOW)


def test_the_first_index_is_the_left_most_bit_of_the_first_byte():
    encoded = encode_status_list([0, 9], length=16)
    assert encoded.startswith("u")
    bits = decode_status_list(encoded)
    assert bits == bytes([0b1000_0000, 0b0100_0000])
    assert status_bit(bits, 0) and status_bit(bits, 9)
    assert not status_bit(bits, 1) and not status_bit(bits, 8)


def test_an_encoded_list_is_multibase_base64url_of_gzip_and_is_deterministic():
    encoded = encode_status_list([5])
    raw = base64.urlsafe_b64decode(encoded[1:] + "=" * (-len(encoded[1:]) % 4))
    assert len(gzip.decompress(raw)) == MIN_STATUS_LIST_LENGTH // 8
    assert encode_status_list([5]) == encoded


def test_a_bare_base64_list_as_status_list_2021_wrote_it_is_read_too():
    bare = base64.b64encode(gzip.compress(bytes([0b0010_0000]))).decode()
    assert status_bit(decode_status_list(bare), 2)


def test_indexes_outside_the_list_are_refused():
    with pytest.raises(ValueError):
        encode_status_list([16], length=16)
    with pytest.raises(IndexError):
        status_bit(bytes(2), 16)


def test_the_status_list_credential_we_publish_uses_only_defined_terms():
    unsigned = bitstring_status_list_credential(
        LIST_URL, ISSUER, encode_status_list([]), "2026-06-01T00:00:00Z"
    )
    assert jsonld.undefined_terms(unsigned) == []


def test_a_credential_whose_bit_is_set_on_a_revocation_list_is_revoked():
    trust = TrustStore(status_lists={LIST_URL: status_list([42, 7])})
    result = status_of(credential_at(42), trust)
    assert result.status == "revoked"
    assert LIST_URL in result.reason and "index 42" in result.reason


def test_a_credential_whose_bit_is_set_on_a_suspension_list_is_suspended():
    trust = TrustStore(status_lists={LIST_URL: status_list([42], purpose="suspension")})
    assert status_of(credential_at(42, "suspension"), trust).status == "suspended"


def test_a_credential_whose_bit_is_clear_is_not_revoked():
    trust = TrustStore(status_lists={LIST_URL: status_list([41, 43])})
    result = status_of(credential_at(42), trust)
    assert result.status == "verified", result.reason
    [status] = [check for check in result.checks if check.name == "status"]
    assert status.outcome == "pass" and "not revoked" in status.message


def test_a_status_list_that_is_not_cached_leaves_the_status_unchecked_and_names_it():
    result = status_of(credential_at(42), TrustStore())
    assert result.status == "unchecked_status"
    [status] = [check for check in result.checks if check.name == "status"]
    assert status.outcome == "warn"
    assert LIST_URL in result.reason and "trust folder" in result.reason


def test_a_tampered_status_list_is_a_failure_not_a_clean_bill():
    tampered = status_list([42])
    tampered["credentialSubject"]["encodedList"] = encode_status_list([])
    trust = TrustStore(status_lists={LIST_URL: tampered})
    result = status_of(credential_at(42), trust)
    assert result.status == "failed_signature"
    assert "status list" in result.reason


def test_a_status_list_whose_purpose_differs_from_the_entry_is_unchecked():
    trust = TrustStore(status_lists={LIST_URL: status_list([42], purpose="suspension")})
    assert status_of(credential_at(42, "revocation"), trust).status == "unchecked_status"


def test_an_unsigned_status_list_is_used_with_a_warning():
    unsigned = bitstring_status_list_credential(
        LIST_URL, ISSUER, encode_status_list([42]), "2026-06-01T00:00:00Z"
    )
    checks = check_status(credential_at(42), TrustStore(status_lists={LIST_URL: unsigned}))
    assert [check.outcome for check in checks] == ["warn", "fail"]
    assert checks[1].status == "revoked"


def revocation_list(*entries):
    return {"id": REVOCATIONS_URL, "issuer": ISSUER, "revokedCredentials": list(entries)}


def credential_with_revocation_list():
    credential = achievement_credential(ISSUER)
    credential["@context"].append("https://purl.imsglobal.org/spec/ob/v3p0/extensions.json")
    credential["credentialStatus"] = {"id": REVOCATIONS_URL, "type": "1EdTechRevocationList"}
    return sign(credential)


def test_a_credential_listed_on_its_1edtech_revocation_list_is_revoked_with_the_reason():
    credential = credential_with_revocation_list()
    listed = revocation_list(
        {"id": "urn:uuid:other"},
        {"id": credential["id"], "revocationReason": "Issued to the wrong learner"},
    )
    result = status_of(credential, TrustStore(status_lists={REVOCATIONS_URL: listed}))
    assert result.status == "revoked"
    assert "Issued to the wrong learner" in result.reason


def test_a_revocation_entry_marked_revoked_false_does_not_revoke():
    credential = credential_with_revocation_list()
    listed = revocation_list({"id": credential["id"], "revoked": False})
    trust = TrustStore(status_lists={REVOCATIONS_URL: listed})
    checks = check_status(credential, trust)
    assert checks[-1].outcome == "pass"


def test_a_credential_absent_from_its_revocation_list_verifies():
    credential = credential_with_revocation_list()
    trust = TrustStore(status_lists={REVOCATIONS_URL: revocation_list({"id": "urn:uuid:other"})})
    result = status_of(credential, trust)
    assert result.status == "verified", result.reason


def test_a_credential_without_status_has_nothing_to_check():
    [check] = check_status(achievement_credential(ISSUER), TrustStore())
    assert check.outcome == "skip"


def test_a_status_list_signed_with_a_key_in_its_method_fragment_is_used_with_a_warning():
    issuer = "https://badges.lincoln-unified.example.org/issuers/district"
    method = f"{issuer}#{public_key_multibase(KEY.public_key())}"
    unsigned = bitstring_status_list_credential(
        LIST_URL, issuer, encode_status_list([42]), "2026-06-01T00:00:00Z"
    )
    signed = sign_data_integrity(unsigned, KEY, method, created="2026-06-01T00:00:00Z")
    checks = check_status(credential_at(42), TrustStore(status_lists={LIST_URL: signed}))
    assert [check.outcome for check in checks] == ["warn", "fail"]
    assert checks[-1].status == "revoked"
