"""Open Badges 3.0 credentials as compact JWS (VC-JWT): signed for our exports, verified offline."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
from credential_builders import DID_WEB, NOW, achievement_credential, vector
from cryptography.hazmat.primitives.asymmetric import rsa

from models.credentials.jws import (
    JwsFormatError,
    numeric_date,
    parse_jws,
    sign_vc_jwt,
    verify_jws,
)
from models.credentials.keys import (
    did_key,
    did_key_verification_method,
    generate_private_key,
    public_key_jwk,
)
from models.credentials.record import TrustStore
from models.credentials.verify import verify_credential

KEY = generate_private_key()
ISSUER = did_key(KEY.public_key())
KID = did_key_verification_method(KEY.public_key())


def subject_with_id(credential):
    credential["credentialSubject"]["id"] = "did:example:learner-4471"
    return credential


def token_for(credential=None, key=KEY, kid=KID):
    credential = credential or subject_with_id(achievement_credential(ISSUER))
    return sign_vc_jwt(credential, key, kid)


def b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_our_vc_jwt_carries_the_credential_as_its_payload_with_the_jwt_claims():
    credential = subject_with_id(achievement_credential(ISSUER, validUntil="2030-06-01T00:00:00Z"))
    parsed = parse_jws(sign_vc_jwt(credential, KEY, KID))
    assert parsed.header == {"alg": "EdDSA", "kid": KID, "typ": "JWT"}
    assert parsed.payload["iss"] == ISSUER
    assert parsed.payload["jti"] == credential["id"]
    assert parsed.payload["sub"] == "did:example:learner-4471"
    assert parsed.payload["nbf"] == numeric_date("2026-05-30T00:00:00Z")
    assert parsed.payload["exp"] == numeric_date("2030-06-01T00:00:00Z")
    assert parsed.payload["credentialSubject"] == credential["credentialSubject"]
    assert "vc" not in parsed.payload


def test_a_valid_vc_jwt_verifies():
    result = verify_credential(token_for(), trust=TrustStore(), now=NOW)
    assert result.status == "verified", result.reason
    assert result.format == "jws"
    assert [c.outcome for c in result.checks if c.name == "jws"] == ["pass", "pass"]


def test_a_vc_jwt_with_a_tampered_payload_fails_its_signature():
    header, payload, signature = token_for().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["credentialSubject"]["achievement"]["name"] = "Calculus BC"
    tampered = ".".join([header, b64(claims), signature])
    result = verify_credential(tampered, trust=TrustStore(), now=NOW)
    assert result.status == "failed_signature"


def test_a_vc_jwt_signed_with_another_key_than_its_kid_fails():
    token = token_for(key=generate_private_key())
    assert verify_credential(token, trust=TrustStore(), now=NOW).status == "failed_signature"


def test_a_vc_jwt_whose_kid_is_not_the_issuers_key_fails():
    other = generate_private_key()
    token = token_for(key=other, kid=did_key_verification_method(other.public_key()))
    result = verify_credential(token, trust=TrustStore(), now=NOW)
    assert result.status == "failed_signature"
    assert "not of the issuer" in result.reason


def test_a_vc_jwt_with_its_key_in_the_header_verifies_with_a_warning():
    credential = subject_with_id(achievement_credential(ISSUER))
    body = json.dumps(
        {
            **credential,
            "iss": ISSUER,
            "jti": credential["id"],
            "sub": "did:example:learner-4471",
            "nbf": numeric_date(credential["validFrom"]),
        }
    ).encode()
    token = jwt.PyJWS().encode(
        body, KEY, algorithm="EdDSA", headers={"jwk": public_key_jwk(KEY.public_key())}
    )
    result = verify_credential(token, trust=TrustStore(), now=NOW)
    assert result.status == "verified", result.reason
    assert any("carried in the JWS itself" in warning.message for warning in result.warnings)


def test_a_vc_jwt_kid_on_a_did_web_without_cached_document_is_unresolved():
    credential = subject_with_id(achievement_credential(DID_WEB))
    token = sign_vc_jwt(credential, KEY, f"{DID_WEB}#key-1")
    result = verify_credential(token, trust=TrustStore(), now=NOW)
    assert result.status == "unresolved_key"
    assert "did.json" in result.reason


def test_an_rs256_vc_jwt_verifies_with_its_kid_cached_as_a_jwk():
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = "https://badges.lincoln-unified.example.org/issuers/district#key-1"
    credential = subject_with_id(
        achievement_credential("https://badges.lincoln-unified.example.org/issuers/district")
    )
    body = json.dumps(
        {
            **credential,
            "iss": credential["issuer"]["id"],
            "jti": credential["id"],
            "sub": "did:example:learner-4471",
            "nbf": numeric_date(credential["validFrom"]),
        }
    ).encode()
    token = jwt.PyJWS().encode(body, rsa_key, algorithm="RS256", headers={"kid": kid})
    public_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key.public_key()))
    assert verify_credential(token, trust=TrustStore(), now=NOW).status == "unresolved_key"
    trust = TrustStore(hosted={kid: public_jwk})
    result = verify_credential(token, trust=trust, now=NOW)
    assert result.status == "verified", result.reason


def test_a_vc_1_1_jwt_carries_the_credential_in_its_vc_claim():
    credential = vector("ob30-simple-noproof.json")
    credential["issuer"] = {"id": ISSUER, "type": ["Profile"], "name": "Lincoln USD"}
    payload = {
        "vc": credential,
        "iss": ISSUER,
        "jti": credential["id"],
        "sub": credential["credentialSubject"]["id"],
        "nbf": numeric_date(credential["issuanceDate"]),
    }
    token = jwt.PyJWS().encode(
        json.dumps(payload).encode(), KEY, algorithm="EdDSA", headers={"kid": KID}
    )
    decoded, checks = verify_jws(token, TrustStore())
    assert decoded == credential
    assert [check.outcome for check in checks] == ["pass", "pass"]


def test_jwt_claims_that_contradict_the_credential_make_it_invalid():
    credential = subject_with_id(achievement_credential(ISSUER))
    body = json.dumps(
        {
            **credential,
            "iss": ISSUER,
            "jti": "urn:uuid:another",
            "sub": "did:example:learner-4471",
            "nbf": 0,
        }
    ).encode()
    token = jwt.PyJWS().encode(body, KEY, algorithm="EdDSA", headers={"kid": KID})
    result = verify_credential(token, trust=TrustStore(), now=NOW)
    assert result.status == "invalid"
    assert "jti does not match id" in result.reason and "nbf does not match" in result.reason


def test_an_expiring_jwt_claim_sets_valid_until():
    credential = subject_with_id(achievement_credential(ISSUER, validUntil="2026-06-01T00:00:00Z"))
    result = verify_credential(token_for(credential), trust=TrustStore(), now=NOW)
    assert result.status == "expired"


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_unsigned_and_shared_secret_jwts_are_refused(alg):
    header = b64({"alg": alg, "kid": KID})
    payload = b64(subject_with_id(achievement_credential(ISSUER)))
    result = verify_credential(f"{header}.{payload}.c2ln", trust=TrustStore(), now=NOW)
    assert result.status == "failed_signature"
    assert alg in result.reason


@pytest.mark.parametrize("token", ["a.b", "####.abc.def", f"{b64([1])}.{b64({})}.x"])
def test_what_is_not_a_compact_jws_does_not_parse(token):
    with pytest.raises(JwsFormatError):
        parse_jws(token)
