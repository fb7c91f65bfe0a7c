"""Compact JWS credentials: Open Badges 3.0 VC-JWT, verified offline, and signed for exports.

The OB 3.0 rules (spec §8.2, "JSON Web Token Proof Format"): the JWT payload IS the credential,
with the JWT claims `iss` (issuer.id), `jti` (id), `nbf` (validFrom), `sub`
(credentialSubject.id) and `exp` (validUntil) beside its properties; credentials made under
VC 1.1 carry it in a `vc` claim instead. The JOSE header names the key by `kid` (a URI to
dereference) or carries it as `jwk`; `alg` is RS256 at minimum, other algorithms are allowed.
We accept EdDSA (Ed25519), RS256 and ES256 — never `none` or a shared-secret HMAC.

Also home of `parse_datetime`, the one reading of DateTime / NumericDate values: the verifier,
the status checks, Open Badges 2.0, the warehouse's credential dates and the sample badge
platform all read dates with it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.credentials import keys
from models.credentials.proofs import issuer_id
from models.credentials.record import Check, TrustStore

ALLOWED_ALGORITHMS = ("EdDSA", "RS256", "ES256")
# Registered JWT claims: they secure the credential, they are not part of it.
JWT_CLAIMS = ("iss", "sub", "aud", "exp", "nbf", "iat", "jti")


class JwsFormatError(ValueError):
    """Not a compact JWS whose header and payload are JSON objects."""


@dataclass(frozen=True)
class ParsedJws:
    """The three parts of a compact JWS, decoded but not verified."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def _b64url_decode(segment: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except ValueError as error:
        raise JwsFormatError("a JWS segment is not base64url") from error


def looks_like_jws(value: Any) -> bool:
    """Whether a string has the shape of a compact JWS (three base64url parts)."""
    if not isinstance(value, str):
        return False
    parts = value.strip().split(".")
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    return len(parts) == 3 and all(parts[:2]) and all(set(part) <= alphabet for part in parts)


def parse_jws(token: str) -> ParsedJws:
    """Decode a compact JWS without verifying it; raises `JwsFormatError` if malformed."""
    if not looks_like_jws(token):
        raise JwsFormatError("not a compact JWS (three base64url parts separated by '.')")
    header_b64, payload_b64, signature_b64 = token.strip().split(".")
    parts = []
    for name, segment in (("header", header_b64), ("payload", payload_b64)):
        try:
            value = json.loads(_b64url_decode(segment))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise JwsFormatError(f"the JWS {name} is not JSON") from error
        if not isinstance(value, dict):
            raise JwsFormatError(f"the JWS {name} is not a JSON object")
        parts.append(value)
    return ParsedJws(
        header=parts[0],
        payload=parts[1],
        signing_input=f"{header_b64}.{payload_b64}".encode(),
        signature=_b64url_decode(signature_b64),
    )


def credential_of(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The credential a VC-JWT payload carries: its `vc` claim (VC 1.1), else the payload
    itself without the registered JWT claims (VC 2.0, as OB 3.0 final has it)."""
    if isinstance(payload.get("vc"), Mapping):
        return dict(payload["vc"])
    return {key: value for key, value in payload.items() if key not in JWT_CLAIMS}


def parse_datetime(value: Any) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 DateTime (or date), or a NumericDate (seconds
    since the epoch, as JWT claims and Open Badges 1.x write them); None if unreadable."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
        except ValueError:
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def numeric_date(value: Any) -> int | None:
    """A DateTime as a JWT NumericDate (whole seconds since the epoch)."""
    parsed = parse_datetime(value)
    return int(parsed.timestamp()) if parsed else None


def _subject_id(credential: Mapping[str, Any]) -> str | None:
    subject = credential.get("credentialSubject")
    if isinstance(subject, list) and subject:
        subject = subject[0]
    if isinstance(subject, Mapping) and isinstance(subject.get("id"), str):
        return subject["id"]
    return None


def sign_vc_jwt(credential: Mapping[str, Any], private_key: Ed25519PrivateKey, kid: str) -> str:
    """The credential as an OB 3.0 VC-JWT: EdDSA-signed compact JWS, key named by `kid`."""
    payload = dict(credential)
    claims = {
        "iss": issuer_id(credential),
        "jti": credential.get("id"),
        "nbf": numeric_date(credential.get("validFrom", credential.get("issuanceDate"))),
        "sub": _subject_id(credential),
        "exp": numeric_date(credential.get("validUntil", credential.get("expirationDate"))),
    }
    payload.update({name: value for name, value in claims.items() if value is not None})
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return jwt.PyJWS().encode(body, private_key, algorithm="EdDSA", headers={"kid": kid})


def verify_jws(token: str, trust: TrustStore) -> tuple[dict[str, Any] | None, list[Check]]:
    """Verify a VC-JWT offline: the credential it carries (None if unreadable) and "jws" checks.

    Times (`nbf`, `exp`) are left to the validity check, which compares them with the night's
    `now` rather than the wall clock.
    """
    try:
        parsed = parse_jws(token)
    except JwsFormatError as error:
        return None, [
            Check("jws", "fail", f"the credential is not a readable JWS: {error}", "invalid")
        ]
    credential = credential_of(parsed.payload)
    checks: list[Check] = []
    header = parsed.header
    alg = header.get("alg")
    if alg not in ALLOWED_ALGORITHMS:
        checks.append(
            Check(
                "jws",
                "fail",
                f"the JWS algorithm {alg!r} is not accepted (EdDSA, RS256 or ES256 only)",
                "failed_signature",
            )
        )
        return credential, checks
    typ = header.get("typ")
    if typ is not None and typ not in ("JWT", "vc+jwt", "vc+ld+json+jwt"):
        checks.append(Check("jws", "warn", f"the JWS header typ is {typ!r}; OB 3.0 wants 'JWT'"))
    key, key_checks = _verification_key(header, credential, trust)
    checks.extend(key_checks)
    if key is None:
        return credential, checks
    try:
        jwt.PyJWS().decode_complete(token.strip(), key=key, algorithms=[alg])
    except jwt.InvalidSignatureError:
        checks.append(
            Check(
                "jws",
                "fail",
                "the JWS signature does not verify, so the credential was changed after it was "
                "signed (or signed with another key)",
                "failed_signature",
            )
        )
        return credential, checks
    except (jwt.InvalidKeyError, jwt.InvalidAlgorithmError) as error:
        checks.append(
            Check("jws", "fail", f"the JWS key does not fit {alg}: {error}", "failed_signature")
        )
        return credential, checks
    except jwt.PyJWTError as error:
        checks.append(Check("jws", "fail", f"the JWS cannot be verified: {error}", "invalid"))
        return credential, checks
    checks.append(Check("jws", "pass", f"{alg} JWS signature verifies"))
    checks.extend(_claim_checks(parsed.payload, credential))
    return credential, checks


def _verification_key(
    header: Mapping[str, Any], credential: Mapping[str, Any], trust: TrustStore
) -> tuple[Any, list[Check]]:
    """The public key to verify with: `kid` dereferenced offline (preferred, since it ties the
    key to a controller we can compare with the issuer), else the header's `jwk`."""
    kid = header.get("kid")
    jwk = header.get("jwk")
    if isinstance(kid, str) and kid:
        try:
            key, self_asserted = _dereference_kid(kid, trust)
        except keys.UnresolvedKeyError as error:
            if not isinstance(jwk, Mapping):
                return None, [Check("jws", "warn", str(error), "unresolved_key")]
        except keys.InvalidKeyError as error:
            return None, [Check("jws", "fail", str(error), "failed_signature")]
        else:
            issuer = issuer_id(credential)
            if keys.controller_of(kid) != issuer:
                return None, [
                    Check(
                        "jws",
                        "fail",
                        f"the JWS is signed with a key of {keys.controller_of(kid)}, not of the "
                        f"issuer {issuer}",
                        "failed_signature",
                    )
                ]
            if self_asserted:
                return key, [
                    Check(
                        "jws",
                        "warn",
                        f"the key is read from the kid URL itself ({kid}), and nothing cached "
                        f"confirms it is {issuer}'s; add its JWK or controller document to the "
                        "trust folder",
                    )
                ]
            return key, []
    if isinstance(jwk, Mapping):
        if "d" in jwk:
            return None, [
                Check("jws", "fail", "the JWS header jwk holds a private key", "failed_signature")
            ]
        try:
            key = jwt.PyJWK(dict(jwk)).key
        except jwt.PyJWTError as error:
            return None, [Check("jws", "fail", f"the header jwk is unusable: {error}", "invalid")]
        return key, [
            Check(
                "jws",
                "warn",
                "the key is carried in the JWS itself: the signature shows the credential is "
                "unchanged, not that its issuer signed it",
            )
        ]
    return None, [
        Check("jws", "fail", "the JWS header names no key (neither kid nor jwk)", "invalid")
    ]


def _dereference_kid(kid: str, trust: TrustStore) -> tuple[Any, bool]:
    """A `kid` as a public key — from a cached JWK / JWKS (trust.hosted), a cached DID or
    controller document (a JWK of any key type, or a Multikey), a did:key, or the Multikey in
    the kid's fragment — and whether that key is only self-asserted (the fragment form)."""
    cached = trust.hosted.get(kid)
    jwks = trust.hosted.get(keys.controller_of(kid))
    if not isinstance(cached, Mapping) and isinstance(jwks, Mapping) and "keys" in jwks:
        cached = jwks
    if isinstance(cached, Mapping):
        return _key_from_cached(kid, cached), False
    if kid.startswith("did:web:") or keys.controller_of(kid) in trust.did_documents:
        method = keys.cached_verification_method(kid, trust)
        if isinstance(method.get("publicKeyJwk"), Mapping):
            if "d" in method["publicKeyJwk"]:
                raise keys.InvalidKeyError(f"{kid} publishes a private key ('d')")
            try:
                return jwt.PyJWK(dict(method["publicKeyJwk"])).key, False
            except jwt.PyJWTError as error:
                raise keys.InvalidKeyError(
                    f"{kid} has an unusable publicKeyJwk: {error}"
                ) from error
    if not kid.startswith("did:") and not kid.partition("#")[2].startswith("z6Mk"):
        raise keys.UnresolvedKeyError(
            f"the key {kid} is not cached; add its JWK (or JWKS) to the trust folder"
        )
    key = keys.resolve_verification_method(kid, trust)
    return key, keys.key_is_self_asserted(kid, trust)


def _key_from_cached(kid: str, document: Mapping[str, Any]) -> Any:
    candidates = document.get("keys") if isinstance(document.get("keys"), list) else [document]
    fragment = kid.partition("#")[2]
    for candidate in candidates:
        if not isinstance(candidate, Mapping) or "kty" not in candidate:
            continue
        if len(candidates) > 1 and candidate.get("kid") not in (kid, fragment):
            continue
        if "d" in candidate:
            raise keys.InvalidKeyError(f"the cached key {kid} holds a private key ('d')")
        try:
            return jwt.PyJWK(dict(candidate)).key
        except jwt.PyJWTError as error:
            raise keys.InvalidKeyError(f"the cached key {kid} is unusable: {error}") from error
    raise keys.UnresolvedKeyError(f"the cached document for {kid} holds no matching JWK")


def _claim_checks(payload: Mapping[str, Any], credential: Mapping[str, Any]) -> list[Check]:
    """OB 3.0 §8.2.4: iss, sub, jti and nbf must agree with the credential they secure."""
    problems = []
    if payload.get("iss") != issuer_id(credential):
        problems.append("iss does not match issuer.id")
    subject = _subject_id(credential)
    if subject is not None and payload.get("sub") != subject:
        problems.append("sub does not match credentialSubject.id")
    if payload.get("jti") != credential.get("id"):
        problems.append("jti does not match id")
    valid_from = numeric_date(credential.get("validFrom", credential.get("issuanceDate")))
    nbf = payload.get("nbf")
    if not isinstance(nbf, int | float) or isinstance(nbf, bool):
        problems.append("nbf is missing")
    elif valid_from is not None and int(nbf) != valid_from:
        problems.append("nbf does not match validFrom")
    if problems:
        return [
            Check(
                "jws",
                "fail",
                "the JWT claims contradict the credential they carry: " + "; ".join(problems),
                "invalid",
            )
        ]
    return [Check("jws", "pass", "the JWT claims (iss, sub, jti, nbf) match the credential")]
