"""Credential status, offline: is the credential revoked or suspended by its issuer?

Two status methods:

- `BitstringStatusListEntry` (W3C Bitstring Status List v1.0; `StatusList2021Entry`, its
  predecessor, reads the same way): the entry names a status list credential
  (`statusListCredential`) and a bit (`statusListIndex`); the list's `encodedList` is the
  multibase base64url (`u…`) of the GZIP of a bitstring whose index 0 is the left-most bit of
  the first byte. A set bit means revoked or suspended, per `statusPurpose`.
- `1EdTechRevocationList` (1EdTech Revocation List Status Method 1.0): the entry's `id` is the
  list's URL; the list's `revokedCredentials` holds `{id, revoked?, revocationReason?}`; the
  credential is revoked when its id is listed and `revoked` is true or absent.

Lists come from the district's trust folder (`TrustStore.status_lists`, by URL); a list that
is not there leaves the status unchecked (a warning naming the URL to cache), never fetched.
A list's own proof is verified when it has one: a tampered list fails.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import zlib
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from models.credentials.jws import parse_datetime
from models.credentials.proofs import proofs_of, verify_data_integrity
from models.credentials.record import Check, TrustStore

# The Bitstring Status List's minimum length (131,072 entries, 16 KB), for group privacy.
MIN_STATUS_LIST_LENGTH = 131_072
VC_V2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
_BITSTRING_ENTRY_TYPES = ("BitstringStatusListEntry", "StatusList2021Entry")


class StatusListError(ValueError):
    """A status list whose encodedList cannot be decoded."""


def encode_status_list(revoked_indexes: Iterable[int], length: int = MIN_STATUS_LIST_LENGTH) -> str:
    """`encodedList` for a status list with these indexes set: 'u' + base64url(GZIP(bits))."""
    if length <= 0 or length % 8:
        raise ValueError("a status list's length must be a positive multiple of 8")
    bits = bytearray(length // 8)
    for index in revoked_indexes:
        if not 0 <= index < length:
            raise ValueError(f"status list index {index} is outside 0..{length - 1}")
        bits[index // 8] |= 0x80 >> (index % 8)
    # mtime=0 so the same list always encodes to the same string (stable nightly exports).
    compressed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode()


def decode_status_list(encoded_list: str) -> bytes:
    """The bitstring of an `encodedList` (multibase base64url; bare base64 as StatusList2021
    wrote it is read too)."""
    if not isinstance(encoded_list, str) or not encoded_list:
        raise StatusListError("encodedList is empty")
    text = encoded_list[1:] if encoded_list.startswith("u") else encoded_list
    try:
        compressed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return gzip.decompress(compressed)
    except (binascii.Error, ValueError, OSError, EOFError, zlib.error) as error:
        raise StatusListError("encodedList is not base64url-encoded GZIP data") from error


def status_bit(bitstring: bytes, index: int) -> bool:
    """Whether bit `index` is set (index 0 is the left-most bit of the first byte)."""
    if not 0 <= index < len(bitstring) * 8:
        raise IndexError(f"status list index {index} is outside the list's {len(bitstring) * 8}")
    return bool(bitstring[index // 8] & (0x80 >> (index % 8)))


def bitstring_status_list_credential(
    id: str,
    issuer: str | Mapping[str, Any],
    encoded_list: str,
    valid_from: str,
    purpose: str = "revocation",
) -> dict[str, Any]:
    """An unsigned BitstringStatusListCredential publishing `encoded_list` (the caller signs)."""
    return {
        "@context": [VC_V2_CONTEXT],
        "id": id,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": valid_from,
        "credentialSubject": {
            "id": f"{id}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encoded_list,
        },
    }


def bitstring_status_entry(
    status_list_id: str, index: int, purpose: str = "revocation"
) -> dict[str, Any]:
    """The `credentialStatus` entry pointing a credential at bit `index` of a status list."""
    return {
        "id": f"{status_list_id}#{index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": status_list_id,
    }


def check_status(
    credential: Mapping[str, Any], trust: TrustStore, *, now: datetime | None = None
) -> list[Check]:
    """One "status" check per `credentialStatus` entry (none: a single skip).

    `now`, when given, also flags a cached status list past its own validUntil as stale.
    """
    entries = credential.get("credentialStatus")
    if entries is None:
        return [Check("status", "skip", "no credentialStatus: the issuer publishes no status")]
    checks: list[Check] = []
    for entry in entries if isinstance(entries, list) else [entries]:
        if not isinstance(entry, Mapping):
            checks.append(Check("status", "fail", "credentialStatus is not an object", "invalid"))
            continue
        kind = entry.get("type")
        if kind in _BITSTRING_ENTRY_TYPES:
            checks.extend(_check_bitstring(entry, trust, now))
        elif kind == "1EdTechRevocationList":
            checks.extend(_check_revocation_list(credential, entry, trust, now))
        else:
            checks.append(
                Check(
                    "status",
                    "warn",
                    f"credentialStatus type {kind!r} is not supported, so revocation was not "
                    "checked (BitstringStatusListEntry and 1EdTechRevocationList are)",
                    "unchecked_status",
                )
            )
    return checks


def _cached_list(
    url: Any, trust: TrustStore, now: datetime | None
) -> tuple[Mapping[str, Any] | None, list[Check]]:
    """The cached status list at `url` with its proof verified, or None and why not."""
    if not isinstance(url, str) or not url:
        return None, [
            Check("status", "fail", "credentialStatus names no status list URL", "invalid")
        ]
    document = trust.status_lists.get(url)
    if document is None:
        return None, [
            Check(
                "status",
                "warn",
                f"status list {url} is not cached, so revocation was not checked; add it to "
                "the trust folder",
                "unchecked_status",
            )
        ]
    checks: list[Check] = []
    if proofs_of(document):
        proof_checks = verify_data_integrity(document, trust, verify_nested=False)
        failures = [check for check in proof_checks if check.status is not None]
        if failures:
            unresolved = all(check.status == "unresolved_key" for check in failures)
            return None, [
                Check(
                    "status",
                    "warn" if unresolved else "fail",
                    f"status list {url} could not be trusted: {failures[0].message}",
                    "unchecked_status" if unresolved else "failed_signature",
                )
            ]
        checks.extend(
            Check("status", "warn", f"status list {url}: {check.message}")
            for check in proof_checks
            if check.outcome == "warn"
        )
    else:
        checks.append(
            Check(
                "status",
                "warn",
                f"status list {url} is unsigned, so its content cannot be authenticated",
            )
        )
    valid_until = parse_datetime(document.get("validUntil", document.get("expirationDate")))
    if now is not None and valid_until is not None and valid_until < now:
        checks.append(
            Check(
                "status",
                "warn",
                f"status list {url} expired on {valid_until:%Y-%m-%d}; refresh the cached copy",
            )
        )
    return document, checks


def _check_bitstring(
    entry: Mapping[str, Any], trust: TrustStore, now: datetime | None
) -> list[Check]:
    url = entry.get("statusListCredential")
    purpose = entry.get("statusPurpose")
    try:
        index = int(entry.get("statusListIndex"))
    except (TypeError, ValueError):
        return [Check("status", "fail", "statusListIndex is not an integer", "invalid")]
    size = entry.get("statusSize", 1)
    if size != 1:
        return [
            Check(
                "status",
                "warn",
                f"status entries of {size} bits (status messages) are not supported",
                "unchecked_status",
            )
        ]
    document, checks = _cached_list(url, trust, now)
    if document is None:
        return checks
    subject = document.get("credentialSubject")
    if isinstance(subject, list) and subject:
        subject = subject[0]
    if not isinstance(subject, Mapping):
        return [*checks, _unreadable(url, "it has no credentialSubject")]
    list_purposes = subject.get("statusPurpose")
    list_purposes = list_purposes if isinstance(list_purposes, list) else [list_purposes]
    if purpose not in list_purposes:
        return [
            *checks,
            _unreadable(url, f"it lists statusPurpose {list_purposes}, the entry says {purpose!r}"),
        ]
    try:
        bitstring = decode_status_list(subject.get("encodedList"))
        is_set = status_bit(bitstring, index)
    except (StatusListError, IndexError) as error:
        return [*checks, _unreadable(url, str(error))]
    if len(bitstring) * 8 < MIN_STATUS_LIST_LENGTH:
        checks.append(
            Check(
                "status",
                "warn",
                f"status list {url} holds {len(bitstring) * 8} entries, fewer than the "
                f"{MIN_STATUS_LIST_LENGTH} the spec requires for privacy",
            )
        )
    where = f"status list {url}, index {index}"
    if not is_set:
        return [*checks, Check("status", "pass", f"not {_purpose_word(purpose)} ({where})")]
    if purpose == "revocation":
        return [*checks, Check("status", "fail", f"revoked by its issuer ({where})", "revoked")]
    if purpose == "suspension":
        return [*checks, Check("status", "fail", f"suspended by its issuer ({where})", "suspended")]
    return [*checks, Check("status", "warn", f"status bit for {purpose!r} is set ({where})")]


def _purpose_word(purpose: Any) -> str:
    return {"revocation": "revoked", "suspension": "suspended"}.get(purpose, f"flagged {purpose}")


def _unreadable(url: Any, why: str) -> Check:
    return Check(
        "status",
        "warn",
        f"status list {url} could not be read ({why}), so revocation was not checked",
        "unchecked_status",
    )


def _check_revocation_list(
    credential: Mapping[str, Any],
    entry: Mapping[str, Any],
    trust: TrustStore,
    now: datetime | None,
) -> list[Check]:
    url = entry.get("id")
    document, checks = _cached_list(url, trust, now)
    if document is None:
        return checks
    revoked = document.get("revokedCredentials")
    if not isinstance(revoked, list):
        return [*checks, _unreadable(url, "it has no revokedCredentials list")]
    credential_id = credential.get("id")
    for item in revoked:
        if not isinstance(item, Mapping) or item.get("id") != credential_id:
            continue
        if item.get("revoked", True) is False:
            continue
        reason = item.get("revocationReason")
        because = f": {reason}" if isinstance(reason, str) and reason else ""
        return [
            *checks,
            Check(
                "status",
                "fail",
                f"revoked by its issuer (revocation list {url}){because}",
                "revoked",
            ),
        ]
    return [*checks, Check("status", "pass", f"not revoked (revocation list {url})")]
