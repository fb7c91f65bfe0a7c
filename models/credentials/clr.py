"""What a verifier checks in a CLR 2.0 record beyond the outer credential: each credential it
carries, on its own.

`verify_credential` checks a CLR's proofs all the way down but its status, validity dates and
schema only at the top. A learner record bundles credentials that are revoked, expire or are
issued one by one, so `verify_record` adds, for every nested credential, the checks a verifier
would make of it alone — its status list, its dates, its official schema — each labelled with
where the credential sits. No I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from models.credentials.jws import looks_like_jws, parse_jws
from models.credentials.record import Check, TrustStore, Verification
from models.credentials.verify import verify_credential


@dataclass(frozen=True)
class RecordVerification:
    """The outer credential's verification and the checks of each credential it carries."""

    outer: Verification
    nested: tuple[tuple[str, Verification], ...]

    @property
    def passed(self) -> bool:
        """Every check of every credential passed (warnings allowed, failures not)."""
        return self.outer.status == "verified" and all(
            v.status == "verified" for _, v in self.nested
        )

    def checks(self) -> list[tuple[str, Check]]:
        """(where, check) for every check, outer first."""
        found = [("", check) for check in self.outer.checks]
        for where, verification in self.nested:
            found.extend((where, check) for check in verification.checks)
        return found


def nested_credentials(document: Any) -> list[tuple[str, Any]]:
    """(path, credential) of every credential nested in a CLR, depth first."""
    if not isinstance(document, Mapping):
        return []
    subject = document.get("credentialSubject")
    if isinstance(subject, list) and subject:
        subject = subject[0]
    if not isinstance(subject, Mapping):
        return []
    nested = subject.get("verifiableCredential")
    if nested is None:
        return []
    found: list[tuple[str, Any]] = []
    for index, credential in enumerate(nested if isinstance(nested, list) else [nested]):
        path = f"credentialSubject.verifiableCredential[{index}]"
        found.append((path, credential))
        if isinstance(credential, Mapping):
            found.extend((f"{path}.{inner}", c) for inner, c in nested_credentials(credential))
    return found


def verify_record(
    document: Mapping[str, Any] | str | bytes, *, trust: TrustStore, now: datetime
) -> RecordVerification:
    """Verify a credential and, if it is a CLR, every credential it carries, as of `now`."""
    outer = verify_credential(document, trust=trust, now=now)
    payload: Any = document
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8", errors="replace")
    if isinstance(payload, str):
        text = payload.strip()
        if looks_like_jws(text):
            try:
                payload = parse_jws(text).payload
            except ValueError:
                payload = None
        else:
            import json

            try:
                payload = json.loads(text)
            except ValueError:
                payload = None
    nested = tuple(
        (path, verify_credential(credential, trust=trust, now=now))
        for path, credential in nested_credentials(payload)
    )
    return RecordVerification(outer=outer, nested=nested)
