"""The shapes every credential takes inside Pathways, whatever platform or spec it came from.

A connector stores a credential as received (raw.*). The verifier (`models.credentials.verify`)
turns it into a `Verification`; the normalizers (`models.credentials.normalize` for Open Badges
2.0 / 3.0, `models.credentials.platforms` for Badgr and Credly records) turn it into a
`NormalizedCredential`, the row `core.credentials` is built from. Plain data, no I/O.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

CheckOutcome = Literal["pass", "fail", "warn", "skip"]

# Verification statuses, most severe first. A credential gets the first that applies.
VERIFICATION_STATUSES: tuple[str, ...] = (
    "invalid",  # not a credential we can read (bad JSON, bad JWS, missing required structure)
    "unknown_context",  # names a JSON-LD context that is not bundled: fails closed
    "undefined_terms",  # uses properties its contexts do not define (would be dropped silently)
    "failed_signature",  # a proof or JWS signature does not verify (tampered, wrong key)
    "revoked",  # its status list says revoked (or the platform record says so)
    "suspended",  # its status list says suspended
    "expired",  # validUntil / expires is in the past
    "not_yet_valid",  # validFrom / issuedOn is in the future
    "schema_invalid",  # fails the official 1EdTech JSON schema
    "unresolved_key",  # signed, but the key could not be resolved offline (did:web not cached)
    "unchecked_status",  # signed and valid, but its status list is not supplied / cached
    "unsigned",  # no proof at all (an OB3 credential without proof, a platform record)
    "not_verifiable_offline",  # OB 2.0 hosted verification whose assertion is not cached
    "verified",  # every check passed
)


@dataclass(frozen=True)
class Check:
    """One check made on one credential, e.g. ("proof", "fail", "signature does not verify")."""

    name: str  # context | terms | proof | jws | schema | validity | status | recipient | structure
    outcome: CheckOutcome
    message: str  # plain words a data person can act on; no personal data
    # The verification status (one of VERIFICATION_STATUSES) this check gives the credential when
    # its outcome is "fail" or "warn"; None for a plain warning that leaves the status alone.
    status: str | None = None


@dataclass(frozen=True)
class Verification:
    """What checking one credential found."""

    status: str  # one of VERIFICATION_STATUSES
    reason: str  # why, in one sentence (for `verified`: what was checked)
    checks: tuple[Check, ...]
    spec_version: str  # "2.0" | "3.0" | "platform" (a Badgr/Credly record with no OB payload)
    format: str  # "json-ld" | "jws" | "ob2-json" | "badgr" | "credly"

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.outcome == "warn")


@dataclass(frozen=True)
class TrustStore:
    """What the district supplies or caches so verification needs no network.

    Keyed by the exact URL / DID the credential names. Loaded by `connectors.trust_cache`.
    """

    # DID → DID document (did:web documents; did:key needs none). Also an HTTPS issuer URL → its
    # controller document, which binds keys named `https://issuer#…` to that issuer.
    did_documents: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # statusListCredential URL → the status list credential (BitstringStatusListCredential or
    # 1EdTechRevocationList document).
    status_lists: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # OB 2.0 hosted verification: URL → the cached assertion / BadgeClass / Issuer document.
    hosted: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Alignment:
    """An achievement's alignment to a framework item (a CASE CFItem, a standard, a skill)."""

    target_url: str | None
    target_name: str | None
    target_type: str | None  # e.g. "CFItem", "ceasn:Competency", "Skill"
    target_framework: str | None
    target_code: str | None
    target_description: str | None = None


@dataclass(frozen=True)
class Recipient:
    """One identity the credential names for its recipient, as the credential states it."""

    # emailAddress | email | sisSourcedId | issuerEarnerId | username | did | url | studentId | …
    identity_type: str
    identity: str  # the value; for hashed identities the "sha256$<hex>" string
    hashed: bool = False
    salt: str | None = None


@dataclass(frozen=True)
class NormalizedCredential:
    """One credential a learner holds, in the columns of core.credentials (less the learner link
    and verification, which the pipeline adds)."""

    credential_id: str | None  # the credential's / assertion's own id (URL, urn:uuid, platform id)
    spec_version: str  # "2.0" | "3.0" | "platform"
    achievement_id: str | None
    achievement_name: str | None
    # MicroCredential | Badge | Competency | Certificate | … (OB3 achievementType)
    achievement_type: str | None
    achievement_description: str | None
    criteria: str | None  # the criteria narrative, else the criteria URL
    alignments: tuple[Alignment, ...]
    issuer_id: str | None
    issuer_name: str | None
    awarded_at: str | None  # ISO 8601 as stated (awardedDate / issuedOn / issued_at)
    valid_from: str | None  # ISO 8601 (validFrom / issuanceDate)
    valid_until: str | None  # ISO 8601 (validUntil / expirationDate / expires)
    # As the record itself states (Badgr `revoked`, Credly state); status lists are the verifier's.
    revoked: bool
    revocation_reason: str | None
    evidence: tuple[str, ...]  # evidence URLs (or names when there is no URL)
    recipients: tuple[Recipient, ...]
    subject_id: str | None = None  # credentialSubject.id (a DID or URL) when stated
    image: str | None = None  # badge image URL (never a data: URI; those are dropped to a marker)
