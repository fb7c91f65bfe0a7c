"""Credentials for the credential tests: the 1EdTech vectors, the 1EdTech test key, and small
realistic credentials a district issues and signs with fresh keys."""

from __future__ import annotations

import copy
import hashlib
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

VECTORS = Path(__file__).resolve().parent / "credential_vectors"
VECTOR_SHA256 = {
    "clr20-simple.json": "4fd7f54091366344ffd1a18dfe2fee65049c47dd711347bfd1fa890730d0ad27",
    "ob30-simple-err-proof-value.json": (
        "cbbe337c63fc6e4960155f6517534d4885db6e410e57fe63fe6b60ca4a71b116"
    ),
    "ob30-simple-noproof.json": "66d441a63e1386d7464dfdf3d695c4ac970b52c85e64eba3f3f9a573120c4613",
    "ob30-simple.json": "942a869e6292a49344cc7d5280652db64a62b1cc3477927925eee1226c2af3d1",
}

# The 1EdTech test key pair (OB 3.0 implementation guide, linked-data-proof-ob); test use only.
TEST_KEY_SEED = bytes.fromhex("6241a409e6707bb640a0140a8a32bc3d193c33a661747284d6adfa4ed4180be4")
TEST_PUBLIC_KEY_HEX = "4bdeafde2ea8beefadd8c699b5c7e0704cf51154d52e17b20b71337ca04cc5a5"
TEST_MULTIKEY = "z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi"
TEST_SECRET_MULTIBASE = (
    "zrv2bqTbNwCTsRrHFcJCPjVAduh4Ezcnoq1A3ZxH1GWTNkxipLVuaAoMFmze2gFN9oNXfJjufxSHWVZzsJiUsMHFMcx"
)

NOW = datetime(2026, 6, 15, 2, 0, tzinfo=UTC)
OB3_CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
]
DISTRICT = "https://badges.lincoln-unified.example.org/issuers/district"
DID_WEB = "did:web:badges.lincoln-unified.example.org"


def edtech_test_key() -> Ed25519PrivateKey:
    """The 1EdTech test key (private key hex from the implementation guide)."""
    return Ed25519PrivateKey.from_private_bytes(TEST_KEY_SEED)


@cache
def _vector_text(name: str) -> str:
    raw = (VECTORS / name).read_bytes()
    assert hashlib.sha256(raw).hexdigest() == VECTOR_SHA256[name], f"{name} was modified"
    return raw.decode("utf-8")


def vector(name: str) -> dict[str, Any]:
    """A fresh copy of a 1EdTech test vector (hash-checked)."""
    return json.loads(_vector_text(name))


def without_proof(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "proof"}


def achievement_credential(
    issuer: str | dict[str, Any] = DISTRICT, **fields: Any
) -> dict[str, Any]:
    """An unsigned OB 3.0 AchievementCredential a district would issue for a competency."""
    credential: dict[str, Any] = {
        "@context": list(OB3_CONTEXT),
        "id": "urn:uuid:3f0c3c1e-6f59-4d7e-9d57-1e1d0a3c9b21",
        "type": ["VerifiableCredential", "AchievementCredential"],
        "issuer": issuer
        if isinstance(issuer, dict)
        else {"id": issuer, "type": ["Profile"], "name": "Lincoln Unified School District"},
        "validFrom": "2026-05-30T00:00:00Z",
        "name": "Algebra I: Linear Equations",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "emailAddress",
                    "identityHash": "sha256$"
                    + hashlib.sha256(b"maya@lincoln.example.orgpepper").hexdigest(),
                    "hashed": True,
                    "salt": "pepper",
                }
            ],
            "achievement": {
                "id": "https://badges.lincoln-unified.example.org/achievements/alg1-linear",
                "type": ["Achievement"],
                "achievementType": "Competency",
                "name": "Solve linear equations in one variable",
                "description": "Solves linear equations and inequalities in one variable.",
                "criteria": {"narrative": "Scores 80% or more on the unit performance task."},
                "alignment": [
                    {
                        "type": ["Alignment"],
                        "targetName": "HSA-REI.B.3",
                        "targetUrl": "https://case.example.org/uri/6b9c7d2e-3c2a-11e7-a7f1-0242ac110002",
                        "targetType": "CFItem",
                        "targetFramework": "Common Core State Standards for Mathematics",
                        "targetCode": "HSA-REI.B.3",
                    }
                ],
                "image": {"id": "data:image/png;base64,iVBORw0KGgo=", "type": "Image"},
            },
        },
    }
    credential.update(fields)
    return copy.deepcopy(credential)


# Open Badges 2.0

OB2_ASSERTION_URL = "https://example.org/beths-robotics-badge.json"
OB2_BADGE_URL = "https://example.org/robotics-badge.json"
OB2_ISSUER_URL = "https://example.org/organization.json"
OB2_KEY_URL = "https://example.org/public-key.json"
OB2_REVOCATIONS_URL = "https://example.org/revocations.json"

# 1EdTech/openbadges-validator-core, tests/testfiles/test_components.py, '2_0_basic_*':
# "Assertion awarded to nobody@example.org".
OB2_ASSERTION = {
    "@context": "https://w3id.org/openbadges/v2",
    "type": "Assertion",
    "id": OB2_ASSERTION_URL,
    "recipient": {
        "type": "email",
        "hashed": True,
        "salt": "deadsea",
        "identity": "sha256$ecf5409f3f4b91ab60cc5ef4c02aef7032354375e70cf4d8e43f6a1d29891942",
    },
    "image": "https://example.org/beths-robot-badge.png",
    "evidence": "https://example.org/beths-robot-work.html",
    "issuedOn": "2016-12-31T23:59:59Z",
    "badge": OB2_BADGE_URL,
    "verification": {"type": "hosted"},
}
OB2_BADGE = {
    "@context": "https://w3id.org/openbadges/v2",
    "type": "BadgeClass",
    "id": OB2_BADGE_URL,
    "name": "Awesome Robotics Badge",
    "description": "For doing awesome things with robots that people think is pretty great.",
    "image": "https://example.org/robotics-badge.png",
    "criteria": "https://example.org/robotics-badge.html",
    "issuer": OB2_ISSUER_URL,
}
OB2_ISSUER = {
    "@context": "https://w3id.org/openbadges/v2",
    "type": "Issuer",
    "id": OB2_ISSUER_URL,
    "name": "An Example Badge Issuer",
    "url": "https://example.org",
    "email": "contact@example.org",
}
