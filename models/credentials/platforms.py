"""What a credential platform's own record of an awarded badge says, in Pathways' shapes.

Badgr (Canvas Credentials) and Credly hand over their records of awarded badges, not signed
credentials: `normalize_badgr` and `normalize_credly` turn one record into the
`NormalizedCredential` that `core.credentials` is built from, keeping what the record states
(recipient identities, the platform's revoked flag, expiry, alignments, evidence) and inventing
nothing. The field names are those of the APIs as `connectors.badgr` and `connectors.credly`
describe them. `compact_jws_payload` reads the claims of a compact JWS without verifying it, for
connectors that must key a signed credential by its id. Plain data, no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from models.credentials.normalize import DATA_URI, alignment
from models.credentials.record import Alignment, NormalizedCredential, Recipient

# What an image embedded as a data: URI becomes (its bytes stay in the raw record): the marker
# models.credentials.normalize uses for Open Badges documents.
EMBEDDED_IMAGE = DATA_URI
_OB2_CONTEXT_MARKS = ("w3id.org/openbadges/v2", "openbadgespec.org/v2")
_VC_CONTEXT_MARKS = ("www.w3.org/ns/credentials/v2", "www.w3.org/2018/credentials/v1")


def compact_jws_payload(token: str) -> dict[str, Any] | None:
    """The JSON object in a compact JWS's payload (`header.payload.signature`), base64url-decoded
    and NOT verified; None when the token is not three segments or the payload is not a JSON
    object. Use it to file or key a credential, never to believe it."""
    parts = token.strip().split(".")
    if len(parts) != 3 or not parts[1]:
        return None
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def normalize_badgr(
    assertion: Mapping[str, Any],
    badgeclass: Mapping[str, Any] | None,
    issuer: Mapping[str, Any] | None,
) -> NormalizedCredential:
    """One Badgr v2 assertion (with its badge class and issuer when they were read) as a
    normalized credential. The assertion's own `revoked` flag and `expires` are kept as stated;
    the recipient is the identity Badgr states (hashed with its salt, or plain), plus the
    plaintext identity when Badgr also gives it."""
    badgeclass = badgeclass or {}
    issuer = issuer or {}
    evidence = [
        item["url"]
        for item in _objects(assertion.get("evidence"))
        if isinstance(item.get("url"), str) and item["url"]
    ]
    return NormalizedCredential(
        credential_id=_text(assertion.get("openBadgeId")) or _text(assertion.get("entityId")),
        spec_version=_spec_version(assertion),
        achievement_id=_text(badgeclass.get("openBadgeId"))
        or _text(assertion.get("badgeclassOpenBadgeId"))
        or _text(assertion.get("badgeclass")),
        achievement_name=_text(badgeclass.get("name")),
        achievement_type="Badge",
        achievement_description=_text(badgeclass.get("description")),
        criteria=_text(badgeclass.get("criteriaNarrative")) or _text(badgeclass.get("criteriaUrl")),
        # Badgr names a badge class's alignments as Open Badges does; its record's text is
        # read the platform way (trimmed, numbers kept as text).
        alignments=tuple(alignment(item, _text) for item in _objects(badgeclass.get("alignments"))),
        issuer_id=_text(issuer.get("openBadgeId"))
        or _text(assertion.get("issuerOpenBadgeId"))
        or _text(assertion.get("issuer")),
        issuer_name=_text(issuer.get("name")),
        awarded_at=_text(assertion.get("issuedOn")),
        valid_from=_text(assertion.get("issuedOn")),
        valid_until=_text(assertion.get("expires")),
        revoked=_flag(assertion.get("revoked")),
        revocation_reason=_text(assertion.get("revocationReason")),
        evidence=tuple(evidence),
        recipients=_badgr_recipients(assertion.get("recipient")),
        image=_image(assertion.get("image")),
    )


def _badgr_recipients(recipient: Any) -> tuple[Recipient, ...]:
    if not isinstance(recipient, Mapping):
        return ()
    # Badgr's recipient types: email (its default), openBadgeId, telephone, url.
    identity_type = _text(recipient.get("type")) or "email"
    identity = _text(recipient.get("identity"))
    recipients = []
    if identity:
        hashed = _flag(recipient.get("hashed")) or identity.lower().startswith(("sha256$", "md5$"))
        recipients.append(
            Recipient(identity_type, identity, hashed, _text(recipient.get("salt")) or None)
        )
    plain = _text(recipient.get("plaintextIdentity"))
    if plain and plain != identity:
        recipients.append(Recipient(identity_type, plain))
    return tuple(recipients)


def normalize_credly(badge: Mapping[str, Any]) -> NormalizedCredential:
    """One Credly issued badge as a normalized credential: the badge template is the achievement,
    its skills are alignments of type Skill, the recipients are the issuer's own earner id
    (`issuer_earner_id`) and the recipient email; revoked when Credly's state says so."""
    template = badge.get("badge_template")
    template = template if isinstance(template, Mapping) else {}
    issuer_id, issuer_name = _credly_issuer(badge.get("issuer"))
    alignments = [
        Alignment(
            target_url=_text(skill.get("url")) if isinstance(skill, Mapping) else None,
            target_name=_text(skill.get("name")) if isinstance(skill, Mapping) else _text(skill),
            target_type="Skill",
            target_framework=None,
            target_code=None,
        )
        for skill in _list(template.get("skills"))
        if (_text(skill.get("name")) if isinstance(skill, Mapping) else _text(skill))
    ]
    alignments += [
        Alignment(
            target_url=_text(item.get("url")),
            target_name=_text(item.get("name")),
            target_type=None,
            target_framework=None,
            target_code=None,
            target_description=_text(item.get("description")),
        )
        for item in _objects(template.get("alignments"))
    ]
    evidence = []
    for item in _objects(badge.get("evidence")):
        # A URL when the evidence has one, else its title (never its free-text description).
        shown = _text(item.get("url")) or _text(item.get("title")) or _text(item.get("name"))
        if shown:
            evidence.append(shown)
    recipients = []
    if earner_id := _text(badge.get("issuer_earner_id")):
        recipients.append(Recipient("issuerEarnerId", earner_id))
    if email := _text(badge.get("recipient_email")):
        recipients.append(Recipient("emailAddress", email))
    activities = [
        title
        for activity in _objects(template.get("badge_template_activities"))
        if (title := _text(activity.get("title")))
    ]
    state = (_text(badge.get("state")) or "").lower()
    image = badge.get("image")
    return NormalizedCredential(
        credential_id=_text(badge.get("id")),
        spec_version=_spec_version(badge),
        achievement_id=_text(template.get("id")),
        achievement_name=_text(template.get("name")),
        achievement_type="Badge",
        achievement_description=_text(template.get("description")),
        criteria="; ".join(activities) or None,
        alignments=tuple(alignments),
        issuer_id=issuer_id,
        issuer_name=issuer_name,
        awarded_at=_text(badge.get("issued_at")),
        valid_from=_text(badge.get("issued_at")),
        valid_until=_text(badge.get("expires_at")),
        revoked=state == "revoked" or bool(_text(badge.get("revoked_at"))),
        revocation_reason=_text(badge.get("revocation_reason")),
        evidence=tuple(evidence),
        recipients=tuple(recipients),
        image=_image(badge.get("image_url"))
        or _image(image.get("url") if isinstance(image, Mapping) else None),
    )


def _credly_issuer(issuer: Any) -> tuple[str | None, str | None]:
    """The primary issuing entity (else the first) of Credly's `issuer.entities`."""
    if not isinstance(issuer, Mapping):
        return None, None
    entries = _objects(issuer.get("entities"))
    chosen = next((e for e in entries if e.get("primary") is True), entries[0] if entries else {})
    entity = chosen.get("entity")
    if not isinstance(entity, Mapping):
        return None, None
    return _text(entity.get("id")), _text(entity.get("name"))


def _spec_version(record: Mapping[str, Any]) -> str:
    """The spec version: "platform" for a platform's own record, "2.0" / "3.0" when it carries
    an Open Badges payload."""
    contexts = record.get("@context")
    contexts = contexts if isinstance(contexts, list) else [contexts]
    named = " ".join(c for c in contexts if isinstance(c, str))
    if any(mark in named for mark in _VC_CONTEXT_MARKS):
        return "3.0"
    if any(mark in named for mark in _OB2_CONTEXT_MARKS):
        return "2.0"
    return "platform"


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    return None


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return value is True or value == 1


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _objects(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in _list(value) if isinstance(item, Mapping)]


def _image(value: Any) -> str | None:
    url = _text(value)
    if url is None:
        return None
    return EMBEDDED_IMAGE if url.lower().startswith("data:") else url
