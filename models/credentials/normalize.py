"""Open Badges 2.0 / 3.0 credentials as `NormalizedCredential` rows (core.credentials).

What a credential states, in one shape whatever its spec: the achievement (name, type,
criteria, alignments to frameworks such as CASE items), the issuer, the dates, the evidence and
every identity it names for its recipient. `revoked` is only what the document itself says;
status lists are the verifier's business. Images that are data: URIs become "data-uri".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Any

from models.credentials.jws import parse_datetime
from models.credentials.ob2 import resolve_badge, resolve_issuer
from models.credentials.record import Alignment, NormalizedCredential, Recipient, TrustStore

DATA_URI = "data-uri"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _first(value: Any) -> Any:
    items = _list(value)
    return items[0] if items else None


def _id(value: Any) -> str | None:
    return _text(value.get("id")) if isinstance(value, Mapping) else _text(value)


def _image(value: Any) -> str | None:
    image = _id(value)
    return DATA_URI if image and image.startswith("data:") else image


def _date(value: Any) -> str | None:
    """A date as stated; NumericDates (OB 1.x) become ISO 8601 UTC."""
    if isinstance(value, str):
        return value or None
    parsed = parse_datetime(value)
    return parsed.astimezone(UTC).isoformat().replace("+00:00", "Z") if parsed else None


def _criteria(criteria: Any) -> str | None:
    """The criteria narrative, else the criteria URL."""
    if isinstance(criteria, Mapping):
        return _text(criteria.get("narrative")) or _text(criteria.get("id"))
    return _text(criteria)


def alignment(item: Mapping[str, Any], text: Callable[[Any], str | None] = _text) -> Alignment:
    """An Open Badges alignment object (`targetUrl`, `targetName`, `targetType`,
    `targetFramework`, `targetCode`, `targetDescription`, as OB 2.0, OB 3.0 and Badgr's badge
    classes all name them) as an `Alignment`; `text` reads each field (by default: a non-empty
    string as stated, anything else None)."""
    return Alignment(
        target_url=text(item.get("targetUrl")),
        target_name=text(item.get("targetName")),
        target_type=text(item.get("targetType")),
        target_framework=text(item.get("targetFramework")),
        target_code=text(item.get("targetCode")),
        target_description=text(item.get("targetDescription")),
    )


def _alignments(values: Any) -> tuple[Alignment, ...]:
    return tuple(alignment(item) for item in _list(values) if isinstance(item, Mapping))


def _evidence(values: Any) -> tuple[str, ...]:
    found = []
    for item in _list(values):
        if isinstance(item, Mapping):
            value = _text(item.get("id")) or _text(item.get("name"))
        else:
            value = _text(item)
        if value:
            found.append(value)
    return tuple(found)


def _subject_kind(subject_id: str) -> str:
    if subject_id.startswith("did:"):
        return "did"
    if subject_id.startswith(("http://", "https://")):
        return "url"
    return "id"


def normalize_ob3(credential: Mapping[str, Any]) -> NormalizedCredential:
    """An OB 3.0 AchievementCredential / OpenBadgeCredential (VC 2.0 or VC 1.1 dates)."""
    subject = _first(credential.get("credentialSubject"))
    subject = subject if isinstance(subject, Mapping) else {}
    achievement = subject.get("achievement")
    achievement = achievement if isinstance(achievement, Mapping) else {}
    issuer = credential.get("issuer")
    valid_from = _date(credential.get("validFrom", credential.get("issuanceDate")))
    recipients = [
        Recipient(
            identity_type=_text(item.get("identityType")) or "unknown",
            identity=item["identityHash"],
            hashed=item.get("hashed") is True,
            salt=_text(item.get("salt")),
        )
        for item in _list(subject.get("identifier"))
        if isinstance(item, Mapping) and _text(item.get("identityHash"))
    ]
    subject_id = _text(subject.get("id"))
    if subject_id:
        recipients.append(Recipient(identity_type=_subject_kind(subject_id), identity=subject_id))
    return NormalizedCredential(
        credential_id=_text(credential.get("id")),
        spec_version="3.0",
        achievement_id=_text(achievement.get("id")),
        achievement_name=_text(achievement.get("name")),
        achievement_type=_text(achievement.get("achievementType")),
        achievement_description=_text(achievement.get("description")),
        criteria=_criteria(achievement.get("criteria")),
        alignments=_alignments(achievement.get("alignment")),
        issuer_id=_id(issuer),
        issuer_name=_text(issuer.get("name")) if isinstance(issuer, Mapping) else None,
        # awardedDate (OB 3.0.3) when stated; otherwise the credential was awarded when it
        # became valid.
        awarded_at=_date(credential.get("awardedDate")) or valid_from,
        valid_from=valid_from,
        valid_until=_date(credential.get("validUntil", credential.get("expirationDate"))),
        revoked=False,
        revocation_reason=None,
        evidence=_evidence(credential.get("evidence")),
        recipients=tuple(recipients),
        subject_id=subject_id,
        image=_image(achievement.get("image")) or _image(credential.get("image")),
    )


def normalize_clr(clr: Mapping[str, Any]) -> list[NormalizedCredential]:
    """The OB 3.0 credentials a CLR 2.0 carries as JSON (JWS-encoded ones are skipped)."""
    subject = _first(clr.get("credentialSubject"))
    nested = subject.get("verifiableCredential") if isinstance(subject, Mapping) else None
    return [normalize_ob3(item) for item in _list(nested) if isinstance(item, Mapping)]


def normalize_ob2(
    assertion: Mapping[str, Any], trust: TrustStore | None = None
) -> NormalizedCredential:
    """An OB 2.0 (or 1.1) assertion; its BadgeClass and Issuer embedded or, when given as
    URLs, taken from the cached hosted documents."""
    badge = resolve_badge(assertion, trust) or {}
    issuer = resolve_issuer(badge, trust) or {}
    recipient = assertion.get("recipient")
    recipients = ()
    if isinstance(recipient, Mapping) and _text(recipient.get("identity")):
        identity = recipient["identity"]
        hashed = recipient.get("hashed")
        if hashed is None:
            hashed = identity.partition("$")[0].lower() in ("sha256", "md5")
        recipients = (
            Recipient(
                identity_type=_text(recipient.get("type")) or "unknown",
                identity=identity,
                hashed=bool(hashed),
                salt=_text(recipient.get("salt")),
            ),
        )
    issued_on = _date(assertion.get("issuedOn"))
    revoked = assertion.get("revoked") is True
    return NormalizedCredential(
        credential_id=_text(assertion.get("id")) or _text(assertion.get("uid")),
        spec_version="2.0",
        achievement_id=_id(assertion.get("badge")),
        achievement_name=_text(badge.get("name")),
        achievement_type=None,
        achievement_description=_text(badge.get("description")),
        criteria=_criteria(badge.get("criteria")),
        alignments=_alignments(badge.get("alignment")),
        issuer_id=_id(badge.get("issuer")),
        issuer_name=_text(issuer.get("name")),
        awarded_at=issued_on,
        # OB 2.0 has no separate start of validity: an assertion is valid once issued.
        valid_from=issued_on,
        valid_until=_date(assertion.get("expires")),
        revoked=revoked,
        revocation_reason=_text(assertion.get("revocationReason")) if revoked else None,
        evidence=_evidence(assertion.get("evidence")),
        recipients=recipients,
        image=_image(assertion.get("image")) or _image(badge.get("image")),
    )
