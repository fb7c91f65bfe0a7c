"""Open Badges 2.0 assertions: structure, recipient identity hashing, and offline verification.

An OB 2.0 assertion is verified one of two ways, as its `verification.type` says:

- hosted — the issuer serves the assertion at its own `id` URL, and that copy is the truth.
  Offline, we use the copy the district cached (`TrustStore.hosted`, by URL): it must match the
  presented assertion, not be marked revoked, and be hosted at the issuer's origin. No cached
  copy means the assertion is `not_verifiable_offline` — never fetched.
- signed — the assertion travels as a JWS signed with the issuer's key, a CryptographicKey
  document (`publicKeyPem`) at `verification.creator`, also looked up in the trust store; the
  issuer's `revocationList`, when it has one, says whether it was revoked.

OB 1.1 assertions (`verify: {type, url}`, no `@context` v2) are read the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from models.credentials.jws import JwsFormatError, parse_datetime, parse_jws
from models.credentials.record import Check, Recipient, TrustStore

OB2_CONTEXTS = frozenset(
    {
        "https://w3id.org/openbadges/v2",
        "https://openbadgespec.org/v2/context.json",
        "https://w3id.org/openbadges/v1",
    }
)
_HASH_ALGORITHMS = ("sha256", "md5")
_SIGNED_ALGORITHMS = ("RS256", "ES256", "EdDSA")


def is_ob2(document: Mapping[str, Any]) -> bool:
    """Whether a JSON document is an Open Badges 1.1 / 2.0 assertion rather than a VC."""
    contexts = document.get("@context")
    contexts = contexts if isinstance(contexts, list) else [contexts]
    if any(isinstance(context, str) and context in OB2_CONTEXTS for context in contexts):
        return True
    types = document.get("type")
    types = types if isinstance(types, list) else [types]
    return "Assertion" in types and "VerifiableCredential" not in types


def hash_identity(identity: str, salt: str | None = None) -> str:
    """The OB 2.0 hashed identity: "sha256$" + hex SHA-256 of identity followed by salt."""
    return "sha256$" + hashlib.sha256((identity + (salt or "")).encode("utf-8")).hexdigest()


def _recipient_fields(recipient: Recipient | Mapping[str, Any]) -> tuple[str, str, bool, str]:
    if isinstance(recipient, Recipient):
        return recipient.identity_type, recipient.identity, recipient.hashed, recipient.salt or ""
    identity = recipient.get("identity", recipient.get("identityHash", ""))
    identity = identity if isinstance(identity, str) else ""
    kind = recipient.get("type", recipient.get("identityType", ""))
    hashed = recipient.get("hashed")
    if hashed is None:
        hashed = identity.partition("$")[0].lower() in _HASH_ALGORITHMS
    salt = recipient.get("salt")
    return str(kind or ""), identity, bool(hashed), salt if isinstance(salt, str) else ""


def identity_matches(recipient: Recipient | Mapping[str, Any], candidate: str) -> bool:
    """Whether `candidate` (an email, URL, phone number…) is the identity a recipient states.

    Plain identities compare exactly, emails case-insensitively. Hashed ones (`sha256$…`, or
    `md5$…` from old issuers) are recomputed with the recipient's salt, for the candidate as
    given and, for an email, lowercased (issuers hash what the learner typed).
    """
    kind, identity, hashed, salt = _recipient_fields(recipient)
    if not identity or not isinstance(candidate, str) or not candidate.strip():
        return False
    candidate = candidate.strip()
    is_email = kind in ("email", "emailAddress") or "@" in candidate
    if not hashed:
        if is_email:
            return identity.strip().casefold() == candidate.casefold()
        return identity.strip() == candidate
    algorithm, _, digest = identity.partition("$")
    if algorithm.lower() not in _HASH_ALGORITHMS or not digest:
        return False
    tries = [candidate, candidate.lower()] if is_email else [candidate]
    return any(
        hashlib.new(algorithm.lower(), (value + salt).encode("utf-8")).hexdigest() == digest.lower()
        for value in tries
    )


def _verification(assertion: Mapping[str, Any]) -> Mapping[str, Any]:
    verification = assertion.get("verification", assertion.get("verify"))
    return verification if isinstance(verification, Mapping) else {}


def _verification_type(assertion: Mapping[str, Any]) -> str | None:
    kind = _verification(assertion).get("type")
    return {"HostedBadge": "hosted", "SignedBadge": "signed"}.get(kind, kind)


def structure_checks(assertion: Mapping[str, Any]) -> list[Check]:
    """The "structure" check: the fields an OB 2.0 assertion must have, in the right shape."""
    problems = []
    types = assertion.get("type")
    types = types if isinstance(types, list) else [types]
    if "Assertion" not in types and "@context" in assertion:
        problems.append("type is not Assertion")
    recipient = assertion.get("recipient")
    if not isinstance(recipient, Mapping):
        problems.append("recipient is missing")
    else:
        if not isinstance(recipient.get("identity"), str) or not recipient.get("identity"):
            problems.append("recipient.identity is missing")
        if not isinstance(recipient.get("type"), str):
            problems.append("recipient.type is missing")
        if "hashed" in recipient and not isinstance(recipient["hashed"], bool):
            problems.append("recipient.hashed is not a boolean")
        if recipient.get("salt") is not None and not isinstance(recipient.get("salt"), str):
            problems.append("recipient.salt is not a string")
    badge = assertion.get("badge")
    if not (isinstance(badge, str) and badge) and not isinstance(badge, Mapping):
        problems.append("badge is missing (a BadgeClass or its URL)")
    if _verification_type(assertion) not in ("hosted", "signed"):
        problems.append("verification.type is not hosted or signed")
    if assertion.get("issuedOn") is None:
        problems.append("issuedOn is missing")
    elif parse_datetime(assertion.get("issuedOn")) is None:
        problems.append("issuedOn is not a date")
    if problems:
        return [
            Check(
                "structure",
                "fail",
                "not a valid Open Badges 2.0 assertion: " + "; ".join(problems),
                "invalid",
            )
        ]
    return [Check("structure", "pass", "an Open Badges 2.0 assertion with the required fields")]


def resolve_badge(
    assertion: Mapping[str, Any], trust: TrustStore | None
) -> Mapping[str, Any] | None:
    """The assertion's BadgeClass: embedded, or the cached copy of its URL."""
    return _resolve(assertion.get("badge"), trust)


def resolve_issuer(
    badge: Mapping[str, Any] | None, trust: TrustStore | None
) -> Mapping[str, Any] | None:
    """The BadgeClass's Issuer profile: embedded, or the cached copy of its URL."""
    return _resolve(badge.get("issuer"), trust) if badge else None


def _resolve(value: Any, trust: TrustStore | None) -> Mapping[str, Any] | None:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and trust is not None:
        cached = trust.hosted.get(value)
        return cached if isinstance(cached, Mapping) else None
    return None


def _id_of(value: Any) -> Any:
    return value.get("id") if isinstance(value, Mapping) else value


def verify_ob2(
    assertion: Mapping[str, Any], trust: TrustStore, *, jws_token: str | None = None
) -> list[Check]:
    """Structure, then hosted or signed verification, then the issuer's revocation list.

    `jws_token` is the signed form the assertion was read from (None when it came as JSON).
    Dates (issuedOn / expires) are left to the verifier's validity check.
    """
    checks = structure_checks(assertion)
    if checks[0].outcome == "fail":
        return checks
    badge = resolve_badge(assertion, trust)
    issuer = resolve_issuer(badge, trust)
    if _verification_type(assertion) == "hosted":
        checks.extend(_verify_hosted(assertion, issuer, trust))
    else:
        checks.extend(_verify_signed(assertion, issuer, trust, jws_token))
        checks.extend(_revocation_list_checks(assertion, issuer, trust))
    return checks


def _hosted_url(assertion: Mapping[str, Any]) -> Any:
    url = assertion.get("id")
    if not (isinstance(url, str) and url.startswith(("http://", "https://"))):
        url = _verification(assertion).get("url")
    return url


_COMPARED = ("id", "recipient", "badge", "issuedOn", "expires")


def _verify_hosted(
    assertion: Mapping[str, Any], issuer: Mapping[str, Any] | None, trust: TrustStore
) -> list[Check]:
    url = _hosted_url(assertion)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return [Check("proof", "fail", "a hosted assertion must have an HTTP(S) id", "invalid")]
    hosted = trust.hosted.get(url)
    if not isinstance(hosted, Mapping):
        return [
            Check(
                "proof",
                "warn",
                f"hosted verification needs the issuer's copy at {url}, which is not cached; "
                "add it to the trust folder to verify this assertion offline",
                "not_verifiable_offline",
            )
        ]
    if hosted.get("revoked") is True:
        reason = hosted.get("revocationReason")
        because = f": {reason}" if isinstance(reason, str) and reason else ""
        return [
            Check(
                "status",
                "fail",
                f"revoked by its issuer (hosted copy at {url}){because}",
                "revoked",
            )
        ]
    differing = [
        field for field in _COMPARED if not _same(field, assertion.get(field), hosted.get(field))
    ]
    if differing:
        return [
            Check(
                "proof",
                "fail",
                f"differs from the issuer's hosted copy at {url} in: {', '.join(differing)}",
                "failed_signature",
            )
        ]
    checks = [Check("proof", "pass", f"matches the issuer's hosted copy at {url}")]
    origin_problem = _origin_problem(url, issuer)
    if origin_problem:
        checks.append(Check("proof", "fail", origin_problem, "failed_signature"))
    elif issuer is None:
        checks.append(
            Check(
                "proof",
                "warn",
                "the issuer profile is not cached, so the assertion's origin was not checked",
            )
        )
    return checks


def _same(field: str, presented: Any, hosted: Any) -> bool:
    if field == "badge":
        return _id_of(presented) == _id_of(hosted)
    if field in ("issuedOn", "expires"):
        return parse_datetime(presented) == parse_datetime(hosted)
    return presented == hosted


def _origin_problem(url: str, issuer: Mapping[str, Any] | None) -> str | None:
    """OB 2.0: a hosted assertion must live at the issuer's origin (or an allowed one)."""
    if issuer is None:
        return None
    policy = issuer.get("verification") if isinstance(issuer.get("verification"), Mapping) else {}
    starts = policy.get("startsWith")
    starts = starts if isinstance(starts, list) else [starts] if isinstance(starts, str) else []
    if starts:
        if any(url.startswith(prefix) for prefix in starts):
            return None
        return f"the hosted assertion {url} is outside the issuer's allowed URLs"
    origins = policy.get("allowedOrigins")
    origins = (
        origins if isinstance(origins, list) else [origins] if isinstance(origins, str) else []
    )
    host = urlsplit(url).netloc.lower()
    if not origins:
        issuer_id = issuer.get("id")
        origins = [urlsplit(issuer_id).netloc] if isinstance(issuer_id, str) else []
    if host in {origin.lower() for origin in origins if isinstance(origin, str)}:
        return None
    return f"the hosted assertion {url} is not at the issuer's origin ({', '.join(origins)})"


def _verify_signed(
    assertion: Mapping[str, Any],
    issuer: Mapping[str, Any] | None,
    trust: TrustStore,
    jws_token: str | None,
) -> list[Check]:
    if jws_token is None:
        return [
            Check(
                "proof",
                "fail",
                "verification type is signed but the assertion came without its signature "
                "(JWS); ask for the signed assertion",
                "unsigned",
            )
        ]
    try:
        parsed = parse_jws(jws_token)
    except JwsFormatError as error:
        return [Check("jws", "fail", f"the signed assertion is not a JWS: {error}", "invalid")]
    alg = parsed.header.get("alg")
    if alg not in _SIGNED_ALGORITHMS:
        return [
            Check("jws", "fail", f"the JWS algorithm {alg!r} is not accepted", "failed_signature")
        ]
    creator = _verification(assertion).get("creator")
    key_document = trust.hosted.get(creator) if isinstance(creator, str) else None
    if not isinstance(key_document, Mapping):
        where = creator if isinstance(creator, str) else "verification.creator (not stated)"
        return [
            Check(
                "jws",
                "warn",
                f"the signing key {where} is not cached; add the issuer's CryptographicKey to "
                "the trust folder",
                "unresolved_key",
            )
        ]
    owner = key_document.get("owner")
    issuer_id = _id_of(issuer) if issuer else None
    if issuer_id and owner and owner != issuer_id:
        return [
            Check(
                "jws",
                "fail",
                f"the signing key {creator} belongs to {owner}, not to the issuer {issuer_id}",
                "failed_signature",
            )
        ]
    try:
        public_key = load_pem_public_key(str(key_document.get("publicKeyPem", "")).encode())
    except ValueError:
        return [
            Check(
                "jws", "fail", f"the key {creator} has no usable publicKeyPem", "failed_signature"
            )
        ]
    try:
        jwt.PyJWS().decode_complete(jws_token.strip(), key=public_key, algorithms=[alg])
    except jwt.InvalidSignatureError:
        return [
            Check(
                "jws",
                "fail",
                "the signature does not verify, so the assertion was changed after it was signed",
                "failed_signature",
            )
        ]
    except jwt.PyJWTError as error:
        return [
            Check("jws", "fail", f"the signature cannot be checked: {error}", "failed_signature")
        ]
    return [Check("jws", "pass", f"{alg} signature by {creator} verifies")]


def _revocation_list_checks(
    assertion: Mapping[str, Any], issuer: Mapping[str, Any] | None, trust: TrustStore
) -> list[Check]:
    url = issuer.get("revocationList") if issuer else None
    if not isinstance(url, str):
        return []
    document = trust.status_lists.get(url) or trust.hosted.get(url)
    if not isinstance(document, Mapping):
        return [
            Check(
                "status",
                "warn",
                f"revocation list {url} is not cached, so revocation was not checked; add it to "
                "the trust folder",
                "unchecked_status",
            )
        ]
    assertion_id = assertion.get("id")
    for entry in document.get("revokedAssertions") or []:
        revoked_id = _id_of(entry)
        if revoked_id is not None and revoked_id in (assertion_id, assertion.get("uid")):
            reason = entry.get("revocationReason") if isinstance(entry, Mapping) else None
            because = f": {reason}" if isinstance(reason, str) and reason else ""
            return [
                Check(
                    "status",
                    "fail",
                    f"revoked by its issuer (revocation list {url}){because}",
                    "revoked",
                )
            ]
    return [Check("status", "pass", f"not revoked (revocation list {url})")]
