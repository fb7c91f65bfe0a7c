"""verify_credential, as a specification: what status each kind of credential gets, and why."""

from __future__ import annotations

import copy
import json
import time
from datetime import datetime

import pytest
from credential_builders import (
    DID_WEB,
    DISTRICT,
    NOW,
    achievement_credential,
    edtech_test_key,
    vector,
    without_proof,
)

from models.credentials.keys import (
    did_key,
    did_key_verification_method,
    generate_private_key,
    public_key_multibase,
)
from models.credentials.proofs import sign_data_integrity
from models.credentials.record import VERIFICATION_STATUSES, TrustStore
from models.credentials.verify import verify_credential

NO_TRUST = TrustStore()
CREATED = "2026-05-30T00:00:00Z"


def signed_by_did_key(credential=None, key=None):
    """A credential issued by a did:key issuer and signed with that key."""
    key = key or generate_private_key()
    issuer = did_key(key.public_key())
    credential = credential or achievement_credential(issuer)
    return sign_data_integrity(
        credential, key, did_key_verification_method(key.public_key()), created=CREATED
    )


def signed_in_fragment(credential=None, key=None):
    """Signed with the validator convention: the method's fragment is the Multikey."""
    key = key or generate_private_key()
    credential = credential or achievement_credential(DISTRICT)
    method = f"{DISTRICT}#{public_key_multibase(key.public_key())}"
    return sign_data_integrity(credential, key, method, created=CREATED)


def did_web_document(key, method_type="Multikey"):
    method = {"id": f"{DID_WEB}#key-1", "type": method_type, "controller": DID_WEB}
    if method_type == "JsonWebKey":
        from models.credentials.keys import public_key_jwk

        method["publicKeyJwk"] = public_key_jwk(key.public_key())
    else:
        method["publicKeyMultibase"] = public_key_multibase(key.public_key())
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": DID_WEB,
        "verificationMethod": [method],
        "assertionMethod": ["#key-1"],
    }


def signed_by_did_web(key):
    credential = achievement_credential(DID_WEB)
    return sign_data_integrity(credential, key, f"{DID_WEB}#key-1", created=CREATED)


# The 1EdTech vectors


def test_the_1edtech_ob30_vector_verifies():
    result = verify_credential(vector("ob30-simple.json"), trust=NO_TRUST, now=NOW)
    assert result.status == "verified", result.reason
    assert (result.spec_version, result.format) == ("3.0", "json-ld")
    assert result.reason.startswith("Verified offline")


def test_the_1edtech_vector_with_a_wrong_proof_value_fails_its_signature():
    result = verify_credential(vector("ob30-simple-err-proof-value.json"), trust=NO_TRUST, now=NOW)
    assert result.status == "failed_signature"
    assert "signature does not verify" in result.reason


def test_the_1edtech_vector_without_proof_is_unsigned_and_its_vc_1_1_context_is_understood():
    result = verify_credential(vector("ob30-simple-noproof.json"), trust=NO_TRUST, now=NOW)
    assert result.status == "unsigned"
    outcomes = {check.name: check.outcome for check in result.checks}
    assert outcomes["context"] == "pass"
    assert outcomes["terms"] == "pass"
    # Made under VC 1.1, it predates the official schema: differences are a warning only.
    assert outcomes["schema"] == "warn"


def test_the_1edtech_clr_vector_verifies_with_its_nested_credential():
    result = verify_credential(vector("clr20-simple.json"), trust=NO_TRUST, now=NOW)
    assert result.status == "verified", result.reason
    proofs = [check for check in result.checks if check.name == "proof" and check.outcome == "pass"]
    assert len(proofs) == 2
    assert "verifiableCredential[0]" in proofs[1].message


def test_a_clr_whose_nested_credential_was_altered_fails_its_signature():
    clr = vector("clr20-simple.json")
    clr["credentialSubject"]["verifiableCredential"][0]["name"] = "Leadership Badge"
    result = verify_credential(clr, trust=NO_TRUST, now=NOW)
    assert result.status == "failed_signature"
    # The CLR's own proof covers what it carries, and the nested proof fails on its own too.
    failed = [check.message for check in result.checks if check.outcome == "fail"]
    assert len(failed) == 2
    assert "verifiableCredential[0]" in failed[1]


def test_a_vc_jwt_inside_a_clr_is_verified_though_the_clr_schema_wants_objects():
    from models.credentials.jws import sign_vc_jwt

    key = generate_private_key()
    badge = achievement_credential(did_key(key.public_key()))
    badge["credentialSubject"]["id"] = "did:example:ebfeb1f712ebc6f1c276e12ec21"
    token = sign_vc_jwt(badge, key, did_key_verification_method(key.public_key()))
    clr = without_proof(vector("clr20-simple.json"))
    clr["credentialSubject"]["verifiableCredential"] = [token]
    method = vector("clr20-simple.json")["proof"][0]["verificationMethod"]
    signed = sign_data_integrity(clr, edtech_test_key(), method, created=CREATED, proof_array=True)
    result = verify_credential(signed, trust=NO_TRUST, now=NOW)
    nested = [check for check in result.checks if "verifiableCredential[0]" in check.message]
    assert [check.outcome for check in nested] == ["pass", "pass"]
    assert result.status == "schema_invalid"
    assert "credentialSubject.verifiableCredential" in result.reason


def test_a_credential_given_as_json_text_is_read_like_its_object():
    text = json.dumps(vector("ob30-simple.json"))
    assert verify_credential(text, trust=NO_TRUST, now=NOW).status == "verified"


# Signatures and keys


def test_our_credential_changed_after_signing_fails_its_signature():
    signed = signed_by_did_key()
    assert verify_credential(signed, trust=NO_TRUST, now=NOW).status == "verified"
    tampered = json.loads(json.dumps(signed))
    tampered["credentialSubject"]["achievement"]["name"] = "Solve quadratic equations"
    result = verify_credential(tampered, trust=NO_TRUST, now=NOW)
    assert result.status == "failed_signature"


def test_a_credential_signed_with_a_multikey_in_the_method_fragment_verifies():
    result = verify_credential(signed_in_fragment(), trust=NO_TRUST, now=NOW)
    assert result.status == "verified", result.reason


def test_a_proof_by_a_key_of_someone_other_than_the_issuer_fails():
    key = generate_private_key()
    credential = achievement_credential(DISTRICT)
    method = f"https://impostor.example.com/issuer#{public_key_multibase(key.public_key())}"
    signed = sign_data_integrity(credential, key, method, created=CREATED)
    result = verify_credential(signed, trust=NO_TRUST, now=NOW)
    assert result.status == "failed_signature"
    assert "not of its issuer" in result.reason


def test_a_did_web_issuer_with_its_cached_did_document_verifies():
    key = generate_private_key()
    trust = TrustStore(did_documents={DID_WEB: did_web_document(key)})
    result = verify_credential(signed_by_did_web(key), trust=trust, now=NOW)
    assert result.status == "verified", result.reason


def test_a_did_web_key_published_as_a_json_web_key_verifies():
    key = generate_private_key()
    trust = TrustStore(did_documents={DID_WEB: did_web_document(key, "JsonWebKey")})
    assert verify_credential(signed_by_did_web(key), trust=trust, now=NOW).status == "verified"


def test_a_did_web_issuer_without_a_cached_document_is_unresolved_not_a_failed_signature():
    result = verify_credential(signed_by_did_web(generate_private_key()), trust=NO_TRUST, now=NOW)
    assert result.status == "unresolved_key"
    assert "did:web:badges.lincoln-unified.example.org is not in the cached DID documents" in (
        result.reason
    )
    assert "https://badges.lincoln-unified.example.org/.well-known/did.json" in result.reason


def test_a_did_web_method_not_listed_for_assertions_may_not_sign():
    key = generate_private_key()
    document = did_web_document(key)
    document["assertionMethod"] = []
    trust = TrustStore(did_documents={DID_WEB: document})
    result = verify_credential(signed_by_did_web(key), trust=trust, now=NOW)
    assert result.status == "failed_signature"
    assert "assertionMethod" in result.reason


def test_a_did_web_document_with_another_key_does_not_verify_the_signature():
    trust = TrustStore(did_documents={DID_WEB: did_web_document(generate_private_key())})
    result = verify_credential(signed_by_did_web(generate_private_key()), trust=trust, now=NOW)
    assert result.status == "failed_signature"


def test_a_proof_of_another_cryptosuite_fails_with_the_suite_named():
    signed = signed_by_did_key()
    signed["proof"]["cryptosuite"] = "ecdsa-rdfc-2019"
    result = verify_credential(signed, trust=NO_TRUST, now=NOW)
    assert result.status == "failed_signature"
    assert "ecdsa-rdfc-2019" in result.reason and "eddsa-rdfc-2022" in result.reason


def test_every_proof_of_a_proof_set_must_verify():
    key = generate_private_key()
    signed = signed_by_did_key(key=key)
    twice = sign_data_integrity(
        signed, key, did_key_verification_method(key.public_key()), created="2026-05-31T00:00:00Z"
    )
    assert isinstance(twice["proof"], list) and len(twice["proof"]) == 2
    assert verify_credential(twice, trust=NO_TRUST, now=NOW).status == "verified"
    twice["proof"][1]["proofValue"] = twice["proof"][0]["proofValue"]
    result = verify_credential(twice, trust=NO_TRUST, now=NOW)
    assert result.status == "failed_signature"
    assert "proof 2 of 2" in result.reason


# Contexts and terms


def test_an_unknown_context_fails_closed_with_the_url_in_the_reason():
    credential = signed_by_did_key()
    credential["@context"].append("https://contexts.example.com/badge-extras.json")
    result = verify_credential(credential, trust=NO_TRUST, now=NOW)
    assert result.status == "unknown_context"
    assert "https://contexts.example.com/badge-extras.json" in result.reason


def test_an_unknown_context_behind_an_inline_scoped_context_fails_closed_too():
    credential = signed_by_did_key()
    credential["@context"].append(
        {"Honors": {"@id": "https://example.com/Honors", "@context": "https://example.com/h.json"}}
    )
    credential["credentialSubject"]["type"].append("Honors")
    result = verify_credential(credential, trust=NO_TRUST, now=NOW)
    assert result.status == "unknown_context"
    assert "https://example.com/h.json" in result.reason


def test_an_undefined_top_level_property_is_reported_although_the_signature_still_verifies():
    # pyld drops the unmapped property, so the canonical form (and the signature) is unchanged:
    # exactly why undefined terms are checked before anything else trusts the proof.
    credential = vector("ob30-simple.json")
    credential["gradeLevel"] = "9"
    result = verify_credential(credential, trust=NO_TRUST, now=NOW)
    assert result.status == "undefined_terms"
    assert "gradeLevel" in result.reason
    proofs = [check.outcome for check in result.checks if check.name == "proof"]
    assert "pass" in proofs and "fail" not in proofs


def test_an_undefined_nested_property_is_reported_with_its_path():
    credential = vector("ob30-simple.json")
    credential["credentialSubject"]["achievement"]["creditHours"] = 3
    result = verify_credential(credential, trust=NO_TRUST, now=NOW)
    assert result.status == "undefined_terms"
    assert "credentialSubject.achievement.creditHours" in result.reason


# Validity dates


def test_a_credential_past_its_valid_until_is_expired():
    key = generate_private_key()
    credential = achievement_credential(
        did_key(key.public_key()), validUntil="2026-06-01T00:00:00Z"
    )
    result = verify_credential(signed_by_did_key(credential, key), trust=NO_TRUST, now=NOW)
    assert result.status == "expired"
    assert "2026-06-01" in result.reason


def test_a_credential_valid_only_from_next_year_is_not_yet_valid():
    key = generate_private_key()
    credential = achievement_credential(did_key(key.public_key()), validFrom="2027-01-01T00:00:00Z")
    result = verify_credential(signed_by_did_key(credential, key), trust=NO_TRUST, now=NOW)
    assert result.status == "not_yet_valid"


def test_vc_1_1_expiration_date_counts_as_valid_until():
    credential = vector("ob30-simple-noproof.json")
    credential["expirationDate"] = "2020-01-01T00:00:00Z"
    assert verify_credential(credential, trust=NO_TRUST, now=NOW).status == "expired"


# Schema


def test_a_single_proof_object_is_a_schema_warning_only():
    signed = signed_by_did_key()
    assert isinstance(signed["proof"], dict)
    result = verify_credential(signed, trust=NO_TRUST, now=NOW)
    assert result.status == "verified"
    [schema] = [check for check in result.checks if check.name == "schema"]
    assert schema.outcome == "warn"
    assert "single object" in schema.message
    assert "1 warning" in result.reason


def test_a_credential_missing_what_the_official_schema_requires_is_schema_invalid():
    key = generate_private_key()
    credential = achievement_credential(did_key(key.public_key()))
    del credential["credentialSubject"]["achievement"]["criteria"]
    result = verify_credential(signed_by_did_key(credential, key), trust=NO_TRUST, now=NOW)
    assert result.status == "schema_invalid"
    assert "criteria" in result.reason


# Bad input never raises


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not a credential",
        "{not json",
        "[1, 2]",
        "eyJhbGciOiJFZERTQSJ9.bm90IGpzb24.c2ln",
        {"@context": "https://www.w3.org/ns/credentials/v2"},
        {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": 5, "issuer": {}},
        {"type": ["VerifiableCredential"], "proof": "oops"},
    ],
)
def test_malformed_input_is_invalid_with_a_reason_never_an_exception(bad):
    result = verify_credential(bad, trust=NO_TRUST, now=NOW)
    assert result.status == "invalid"
    assert result.reason


def test_a_credential_that_breaks_json_ld_rules_is_invalid():
    credential = vector("ob30-simple.json")
    # Redefining a protected term of the VC context is a JSON-LD error.
    credential["@context"].append({"name": "https://example.com/title"})
    result = verify_credential(credential, trust=NO_TRUST, now=NOW)
    assert result.status == "invalid"
    assert "JSON-LD" in result.reason


def test_the_status_is_the_most_severe_of_the_failing_checks():
    # Tampered and expired: the failed signature wins, as VERIFICATION_STATUSES orders them.
    key = generate_private_key()
    credential = achievement_credential(
        did_key(key.public_key()), validUntil="2026-01-01T00:00:00Z"
    )
    signed = signed_by_did_key(credential, key)
    signed["name"] = "Changed"
    result = verify_credential(signed, trust=NO_TRUST, now=NOW)
    assert result.status == "failed_signature"
    flagged = {check.status for check in result.checks if check.status}
    assert {"failed_signature", "expired"} <= flagged
    assert VERIFICATION_STATUSES.index("failed_signature") < VERIFICATION_STATUSES.index("expired")


def test_a_naive_now_is_taken_as_utc():
    result = verify_credential(
        vector("ob30-simple.json"), trust=NO_TRUST, now=datetime(2026, 6, 15, 2, 0)
    )
    assert result.status == "verified"


def test_verifying_a_credential_takes_milliseconds_once_warm():
    credential = vector("ob30-simple.json")
    verify_credential(credential, trust=NO_TRUST, now=NOW)
    runs = 20
    started = time.perf_counter()
    for _ in range(runs):
        verify_credential(copy.deepcopy(credential), trust=NO_TRUST, now=NOW)
    per_credential = (time.perf_counter() - started) / runs
    # Thousands a night: generous bound for a shared CI core (measured ~4 ms).
    assert per_credential < 0.1


def test_a_key_read_from_the_method_fragment_is_flagged_as_self_asserted():
    result = verify_credential(vector("ob30-simple.json"), trust=NO_TRUST, now=NOW)
    [warning] = result.warnings
    assert "no cached controller document" in warning.message
    assert warning.status is None


def test_a_cached_controller_document_binds_the_fragment_key_to_the_issuer():
    signed = vector("ob30-simple.json")
    method = signed["proof"][0]["verificationMethod"]
    controller = method.split("#")[0]
    document = {
        "id": controller,
        "verificationMethod": [
            {
                "id": method,
                "type": "Multikey",
                "controller": controller,
                "publicKeyMultibase": public_key_multibase(edtech_test_key().public_key()),
            }
        ],
        "assertionMethod": [method],
    }
    trust = TrustStore(did_documents={controller: document})
    result = verify_credential(signed, trust=trust, now=NOW)
    assert result.status == "verified", result.reason
    assert not result.warnings
    other = {**document, "assertionMethod": []}
    result = verify_credential(signed, trust=TrustStore(did_documents={controller: other}), now=NOW)
    assert result.status == "failed_signature"
