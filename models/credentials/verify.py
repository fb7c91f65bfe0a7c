"""One entry point to verify any credential a learner brings, offline: `verify_credential`.

Open Badges 3.0 and CLR 2.0 credentials (JSON-LD, or a compact JWS VC-JWT) and Open Badges
2.0 assertions (JSON, or a signed JWS), told apart by their `@context` and `type`. The checks,
in order:

structure → contexts (all bundled) → terms (all defined) → proof / JWS → status (revocation
lists) → validity dates against the night's `now` → the official 1EdTech schema.

Each check that does not pass carries the verification status it implies; the credential
gets the first of those in `VERIFICATION_STATUSES` order (most severe first), else "verified".
Bad input never raises: it is "invalid", with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any

from models.credentials import jsonld
from models.credentials.jws import (
    JwsFormatError,
    looks_like_jws,
    parse_datetime,
    parse_jws,
    verify_jws,
)
from models.credentials.ob2 import is_ob2, verify_ob2
from models.credentials.proofs import proofs_of, verify_data_integrity
from models.credentials.record import VERIFICATION_STATUSES, Check, TrustStore, Verification
from models.credentials.schema import check_schema
from models.credentials.status import check_status

VC_CONTEXTS = ("https://www.w3.org/ns/credentials/v2", "https://www.w3.org/2018/credentials/v1")
CREDENTIAL_TYPES = (
    "AchievementCredential",
    "OpenBadgeCredential",
    "EndorsementCredential",
    "ClrCredential",
)
# How many undefined terms a reason names before "and N more".
_TERMS_SHOWN = 3

_CHECK_LABELS = {
    "structure": "Structure check",
    "context": "Context check",
    "terms": "Term check",
    "proof": "Signature check",
    "jws": "Signature check",
    "status": "Status check",
    "validity": "Validity check",
    "schema": "Schema check",
    "recipient": "Recipient check",
}
_RANK = {status: rank for rank, status in enumerate(VERIFICATION_STATUSES)}


@cache
def _bundled_contexts_checked() -> bool:
    # Once per process: every bundled context against its pinned hash. A damaged installation
    # raises here, for the whole night, instead of marking each credential invalid.
    jsonld.preload_contexts()
    return True


def verify_credential(
    credential: Mapping[str, Any] | str | bytes, *, trust: TrustStore, now: datetime
) -> Verification:
    """Verify one credential offline against the district's trust store, as of `now`."""
    _bundled_contexts_checked()
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    try:
        return _verify(credential, trust, now)
    except jsonld.ContextIntegrityError:
        # A damaged installation, not a bad credential: fail the night loudly.
        raise
    except Exception as error:
        check = Check(
            "structure",
            "fail",
            f"the credential could not be read ({type(error).__name__}: {error})",
            "invalid",
        )
        return _verdict([check], spec_version="3.0", format="json-ld")


def _verify(credential: Any, trust: TrustStore, now: datetime) -> Verification:
    if isinstance(credential, bytes):
        try:
            credential = credential.decode("utf-8")
        except UnicodeDecodeError:
            return _invalid("it is not UTF-8 text", "json-ld")
    if isinstance(credential, str):
        text = credential.strip()
        if text.startswith("{"):
            try:
                credential = json.loads(text)
            except json.JSONDecodeError as error:
                return _invalid(
                    f"it is not valid JSON ({error.msg}, line {error.lineno})", "json-ld"
                )
        elif looks_like_jws(text):
            return _verify_jws(text, trust, now)
        else:
            return _invalid("it is neither a JSON credential nor a compact JWS", "json-ld")
    if not isinstance(credential, Mapping):
        return _invalid("it is not a JSON object", "json-ld")
    if is_ob2(credential):
        return _verify_ob2(credential, trust, now, jws_token=None)
    return _verify_vc(credential, trust, now, jws_token=None, jws_checks=[])


def _invalid(why: str, format: str, spec_version: str = "3.0") -> Verification:
    check = Check("structure", "fail", f"the credential is not readable: {why}", "invalid")
    return _verdict([check], spec_version=spec_version, format=format)


def _verify_jws(token: str, trust: TrustStore, now: datetime) -> Verification:
    try:
        parsed = parse_jws(token)
    except JwsFormatError as error:
        return _invalid(str(error), "jws")
    if is_ob2(parsed.payload):
        return _verify_ob2(parsed.payload, trust, now, jws_token=token)
    credential, jws_checks = verify_jws(token, trust)
    if credential is None:
        return _verdict(jws_checks, spec_version="3.0", format="jws")
    exp = parse_datetime(parsed.payload.get("exp"))
    return _verify_vc(credential, trust, now, jws_token=token, jws_checks=jws_checks, exp=exp)


def _verify_ob2(
    assertion: Mapping[str, Any], trust: TrustStore, now: datetime, jws_token: str | None
) -> Verification:
    format = "jws" if jws_token else "ob2-json"
    checks = verify_ob2(assertion, trust, jws_token=jws_token)
    if checks[0].outcome == "fail":
        return _verdict(checks, spec_version="2.0", format=format)
    checks.append(
        Check(
            "context",
            "skip",
            "Open Badges 2.0 is verified by its hosted copy or its JWS, not by JSON-LD proofs",
        )
    )
    checks.extend(
        _validity_checks(assertion.get("issuedOn"), assertion.get("expires"), now, "issuedOn")
    )
    checks.append(Check("schema", "skip", "no official Open Badges 2.0 schema is bundled"))
    return _verdict(checks, spec_version="2.0", format=format)


def _verify_vc(
    credential: Mapping[str, Any],
    trust: TrustStore,
    now: datetime,
    *,
    jws_token: str | None,
    jws_checks: list[Check],
    exp: datetime | None = None,
) -> Verification:
    format = "jws" if jws_token else "json-ld"
    structure = _structure_check(credential)
    if structure.outcome == "fail":
        return _verdict([structure, *jws_checks], spec_version="3.0", format=format)
    checks = [structure]

    unknown = jsonld.unknown_context_urls(credential)
    readable_json_ld = not unknown
    if unknown:
        checks.append(
            Check(
                "context",
                "fail",
                f"it names the JSON-LD context {unknown[0]}, which is not bundled, so its "
                "meaning cannot be checked offline; ask the issuer for a credential that uses "
                "the published Open Badges / CLR contexts",
                "unknown_context",
            )
        )
        checks.append(Check("terms", "skip", "not checked: a context is unknown"))
    else:
        checks.append(Check("context", "pass", "every JSON-LD context is bundled and hash-checked"))
        checks.append(_terms_check(credential))
        readable_json_ld = checks[-1].status != "invalid"

    checks.extend(jws_checks)
    if readable_json_ld and (jws_token is None or proofs_of(credential)):
        checks.extend(verify_data_integrity(credential, trust, verify_nested=True))
    elif jws_token is None:
        checks.append(Check("proof", "skip", "not checked: the JSON-LD cannot be processed"))

    checks.extend(check_status(credential, trust, now=now))
    valid_until = credential.get("validUntil", credential.get("expirationDate"))
    if valid_until is None and exp is not None:
        # OB 3.0 §8.2: a VC-JWT's exp claim sets the credential's validUntil.
        valid_until = exp.isoformat()
    checks.extend(
        _validity_checks(
            credential.get("validFrom", credential.get("issuanceDate")),
            valid_until,
            now,
            "validFrom",
        )
    )
    checks.extend(check_schema(credential))
    return _verdict(checks, spec_version="3.0", format=format)


def _structure_check(credential: Mapping[str, Any]) -> Check:
    problems = []
    contexts = credential.get("@context")
    contexts = contexts if isinstance(contexts, list) else [contexts]
    if not contexts or contexts[0] not in VC_CONTEXTS:
        problems.append("the first @context is not the W3C credentials context")
    types = credential.get("type")
    types = types if isinstance(types, list) else [types]
    if "VerifiableCredential" not in types:
        problems.append("type does not include VerifiableCredential")
    issuer = credential.get("issuer")
    if not (isinstance(issuer, str) and issuer) and not (
        isinstance(issuer, Mapping) and isinstance(issuer.get("id"), str)
    ):
        problems.append("issuer is missing (a URI, or a Profile with an id)")
    subject = credential.get("credentialSubject")
    subjects = subject if isinstance(subject, list) else [subject]
    if not subjects or not all(isinstance(item, Mapping) for item in subjects):
        problems.append("credentialSubject is missing")
    if problems:
        return Check(
            "structure",
            "fail",
            "not a verifiable credential: " + "; ".join(problems),
            "invalid",
        )
    kind = next((name for name in CREDENTIAL_TYPES if name in types), "VerifiableCredential")
    return Check("structure", "pass", f"{kind} with an issuer and a credentialSubject")


def _terms_check(credential: Mapping[str, Any]) -> Check:
    try:
        undefined = jsonld.undefined_terms(credential)
    except jsonld.UnknownContextError as error:
        return Check("terms", "fail", str(error), "unknown_context")
    except jsonld.JsonLdProcessingError as error:
        return Check("terms", "fail", f"the credential is not valid JSON-LD: {error}", "invalid")
    if not undefined:
        return Check("terms", "pass", "every property and type is defined by its contexts")
    shown = ", ".join(undefined[:_TERMS_SHOWN])
    more = len(undefined) - _TERMS_SHOWN
    listed = f"{shown} and {more} more" if more > 0 else shown
    return Check(
        "terms",
        "fail",
        f"it uses terms its contexts do not define ({listed}), which a signature would not "
        "cover; ask the issuer to define them in a context or leave them out",
        "undefined_terms",
    )


def _validity_checks(
    valid_from: Any, valid_until: Any, now: datetime, from_name: str
) -> list[Check]:
    starts = parse_datetime(valid_from)
    ends = parse_datetime(valid_until)
    if valid_from is not None and starts is None:
        return [Check("validity", "fail", f"{from_name} is not a date", "invalid")]
    if valid_until is not None and ends is None:
        return [Check("validity", "fail", "its expiry date is not a date", "invalid")]
    if starts is not None and now < starts:
        return [
            Check(
                "validity",
                "fail",
                f"it is not valid before {starts:%Y-%m-%d %H:%M} UTC; check it again then",
                "not_yet_valid",
            )
        ]
    if ends is not None and now > ends:
        return [Check("validity", "fail", f"it expired on {ends:%Y-%m-%d}", "expired")]
    until = f" until {ends:%Y-%m-%d}" if ends else ""
    return [Check("validity", "pass", f"valid on {now:%Y-%m-%d}{until}")]


def _verdict(checks: list[Check], *, spec_version: str, format: str) -> Verification:
    """The status and reason the checks add up to."""
    flagged = [
        check
        for check in checks
        if check.outcome in ("fail", "warn")
        and check.status in _RANK
        and check.status != "verified"
    ]
    if flagged:
        worst = min(flagged, key=lambda check: _RANK[check.status])
        return Verification(
            status=worst.status,
            reason=_sentence(worst),
            checks=tuple(checks),
            spec_version=spec_version,
            format=format,
        )
    passed = [check for check in checks if check.outcome == "pass"]
    names = []
    for check in passed:
        label = _CHECK_LABELS.get(check.name, check.name).removesuffix(" check").lower()
        if label not in names:
            names.append(label)
    warnings = sum(1 for check in checks if check.outcome == "warn")
    noted = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
    return Verification(
        status="verified",
        reason=f"Verified offline: {', '.join(names)} checks pass{noted}.",
        checks=tuple(checks),
        spec_version=spec_version,
        format=format,
    )


def _sentence(check: Check) -> str:
    verb = "failed" if check.outcome == "fail" else "incomplete"
    message = check.message.rstrip(".")
    return f"{_CHECK_LABELS.get(check.name, check.name)} {verb}: {message}."
