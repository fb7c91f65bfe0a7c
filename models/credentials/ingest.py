"""One received credential record → what Pathways knows about it: its normalized columns and
what verifying it found.

Every credential platform hands its credentials over in its own shape: the Open Badges 3.0 API
and the badge folder give the credentials themselves (JSON-LD, or compact JWS), Badgr gives its
record of an Open Badges 2.0 assertion, Credly its record of an issued badge. `check_record`
takes any of them as stored in `raw.*` and returns a `NormalizedCredential` (None when nothing
in the record can be read) and a `Verification`. It never raises on bad input: a record that
cannot be read is `invalid`, with the reason, and is kept.

A platform's own record (Badgr, Credly) is the platform's word, not a signed credential: it is
`not_verifiable_offline` unless the district caches the hosted assertion it stands for (then
that is verified), and its own revoked / expired state still counts. No I/O: the caller passes
the trust store and the time.
"""

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from models.credentials.jws import parse_datetime
from models.credentials.normalize import normalize_ob2, normalize_ob3
from models.credentials.platforms import compact_jws_payload, normalize_badgr, normalize_credly
from models.credentials.record import (
    VERIFICATION_STATUSES,
    Check,
    NormalizedCredential,
    TrustStore,
    Verification,
)
from models.credentials.verify import verify_credential

# The kinds of credential source (the `kind` in pathways.yaml) and the raw table each writes
# its credentials to (Badgr's issuers and badge classes are read alongside its assertions).
CREDENTIAL_TABLES: dict[str, str] = {
    "ob3_api": "ob3_api_credentials",
    "badgr": "badgr_assertions",
    "credly": "credly_badges",
    "badge_files": "badge_files",
}


def check_record(
    kind: str,
    record: Mapping[str, Any],
    *,
    trust: TrustStore,
    now: datetime,
    badgeclass: Mapping[str, Any] | None = None,
    issuer: Mapping[str, Any] | None = None,
) -> tuple[NormalizedCredential | None, Verification]:
    """Normalize and verify one record of `raw.<CREDENTIAL_TABLES[kind]>`."""
    try:
        if kind == "ob3_api":
            return _check_document(record.get("compactJws") or record, trust, now)
        if kind == "badge_files":
            return _check_file(record, trust, now)
        if kind == "badgr":
            return _check_badgr(record, badgeclass, issuer, trust, now)
        if kind == "credly":
            return _check_credly(record, trust, now)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # A record whose shape our normalizers did not expect: kept, and said so.
        return None, _invalid(f"the record could not be read ({type(exc).__name__}: {exc})")
    raise ValueError(f"unknown credential source kind {kind!r}")


def _check_document(
    document: Mapping[str, Any] | str, trust: TrustStore, now: datetime
) -> tuple[NormalizedCredential | None, Verification]:
    """A credential itself: OB 3.0 / CLR JSON-LD, an OB 3.0 compact JWS, or an OB 2.0 assertion."""
    verification = verify_credential(document, trust=trust, now=now)
    payload = _jws_payload(document) if isinstance(document, str) else document
    if not isinstance(payload, Mapping):
        return None, verification
    try:
        if _is_ob2(payload):
            return normalize_ob2(payload, trust), verification
        return normalize_ob3(payload), verification
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return None, _downgrade(verification, f"its content could not be read ({exc})")


def _check_file(
    record: Mapping[str, Any], trust: TrustStore, now: datetime
) -> tuple[NormalizedCredential | None, Verification]:
    """A file of the badge folder, as `connectors.badge_files` read it."""
    if record.get("error"):
        return None, _invalid(f"{record.get('path')}: {record['error']}")
    document = record.get("compactJws") or record.get("credential")
    if isinstance(document, str) and document.startswith(("http://", "https://")):
        # A badge baked with only its hosted URL: verifiable when the district cached it.
        hosted = trust.hosted.get(document)
        if hosted is None:
            return None, Verification(
                status="not_verifiable_offline",
                reason=f"{record.get('path')} holds only the URL {document}; cache the assertion "
                "it points to in the trust folder to verify it offline",
                checks=(Check("hosted", "skip", "hosted assertion not cached"),),
                spec_version="2.0",
                format="ob2-json",
            )
        document = hosted
    if not document:
        return None, _invalid(f"{record.get('path')}: the file holds no credential")
    return _check_document(document, trust, now)


def _check_badgr(
    assertion: Mapping[str, Any],
    badgeclass: Mapping[str, Any] | None,
    issuer: Mapping[str, Any] | None,
    trust: TrustStore,
    now: datetime,
) -> tuple[NormalizedCredential | None, Verification]:
    """Badgr's record of an OB 2.0 assertion; the cached hosted assertion is verified if any."""
    normalized = normalize_badgr(dict(assertion), _dict(badgeclass), _dict(issuer))
    hosted_id = assertion.get("openBadgeId")
    hosted = trust.hosted.get(hosted_id) if isinstance(hosted_id, str) else None
    if hosted is not None:
        verification = verify_credential(hosted, trust=trust, now=now)
    else:
        verification = Verification(
            status="not_verifiable_offline",
            reason="Badgr's record of an Open Badges 2.0 hosted assertion; verifying it means "
            f"fetching {hosted_id or 'its openBadgeId'}: cache that assertion in the trust "
            "folder to verify it offline",
            checks=(Check("hosted", "skip", "hosted assertion not cached"),),
            spec_version="platform",
            format="badgr",
        )
    return normalized, _platform_state(normalized, verification, now, "Badgr")


def _check_credly(
    badge: Mapping[str, Any], trust: TrustStore, now: datetime
) -> tuple[NormalizedCredential | None, Verification]:
    """Credly's record of an issued badge: the platform's word, with its own state."""
    normalized = normalize_credly(dict(badge))
    verification = Verification(
        status="not_verifiable_offline",
        reason="Credly's record of an issued badge carries no proof; Credly's signed Open Badges "
        "3.0 credential (did:web) can be verified when the district exports it to the badge "
        "folder",
        checks=(Check("proof", "skip", "a platform record has no proof"),),
        spec_version="platform",
        format="credly",
    )
    state = badge.get("state")
    if state in ("pending", "rejected"):
        verification = replace(
            verification,
            checks=(
                *verification.checks,
                Check("acceptance", "warn", f"the earner has not accepted it (state {state})"),
            ),
        )
    return normalized, _platform_state(normalized, verification, now, "Credly")


def _platform_state(
    normalized: NormalizedCredential, verification: Verification, now: datetime, platform: str
) -> Verification:
    """A platform's own revoked / expired state overrides a weaker status."""
    if normalized.revoked:
        reason = f"{platform} says it is revoked"
        if normalized.revocation_reason:
            reason += f": {normalized.revocation_reason}"
        return _worse(verification, Check("status", "fail", reason), "revoked")
    until = parse_datetime(normalized.valid_until)
    if until is not None and until < now:
        return _worse(
            verification,
            Check("validity", "fail", f"{platform} says it expired on {normalized.valid_until}"),
            "expired",
        )
    return verification


def _worse(verification: Verification, check: Check, status: str) -> Verification:
    """`verification` with `check` added, its status the more severe of the two."""
    order = VERIFICATION_STATUSES.index
    if order(status) < order(verification.status):
        return replace(
            verification, status=status, reason=check.message, checks=(*verification.checks, check)
        )
    return replace(verification, checks=(*verification.checks, check))


def _downgrade(verification: Verification, reason: str) -> Verification:
    return _worse(verification, Check("structure", "fail", reason), "invalid")


def _invalid(reason: str) -> Verification:
    return Verification(
        status="invalid",
        reason=reason,
        checks=(Check("structure", "fail", reason),),
        spec_version="unknown",
        format="unknown",
    )


def _is_ob2(document: Mapping[str, Any]) -> bool:
    contexts = document.get("@context")
    contexts = contexts if isinstance(contexts, list) else [contexts]
    return (
        any(
            isinstance(c, str) and ("openbadges/v2" in c or "openbadgespec.org/v2" in c)
            for c in contexts
        )
        or document.get("type") == "Assertion"
    )


def _jws_payload(token: str) -> Mapping[str, Any] | None:
    """The credential inside a compact JWS, unverified (for its columns only:
    `verify_credential` says whether to believe it). A VC-JWT may wrap it in a `vc` claim."""
    payload = compact_jws_payload(token)
    if payload is not None and isinstance(payload.get("vc"), dict):
        return payload["vc"]
    return payload


def _dict(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(value) if value is not None else None
