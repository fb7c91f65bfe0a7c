"""Data Integrity proofs with the `eddsa-rdfc-2022` cryptosuite: signing and verifying, offline.

The suite 1EdTech conformance accepts for Open Badges 3.0 and CLR 2.0. The bytes signed are
SHA-256(canonical proof options) ‖ SHA-256(canonical document without its proof), both
canonicalized with RDFC-1.0 against the credential's own `@context`; the Ed25519 signature is
stored base58btc-encoded (`z…`) as `proofValue`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.credentials import jsonld
from models.credentials.keys import (
    InvalidKeyError,
    UnresolvedKeyError,
    controller_of,
    key_is_self_asserted,
    resolve_verification_method,
)
from models.credentials.record import Check, TrustStore

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"


def proofs_of(document: Mapping[str, Any]) -> list[Any]:
    """The document's proofs as a list (a single proof object counts as one)."""
    proof = document.get("proof")
    if proof is None:
        return []
    return list(proof) if isinstance(proof, list) else [proof]


def issuer_id(document: Mapping[str, Any]) -> str | None:
    """The credential's issuer id, whether `issuer` is a URI or a Profile object."""
    issuer = document.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) else None


def _unsecured(document: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key != "proof"}


def proof_options(document: Mapping[str, Any], proof: Mapping[str, Any]) -> dict[str, Any]:
    """The proof without its value, under the credential's @context: what the suite hashes."""
    options = {key: value for key, value in proof.items() if key != "proofValue"}
    options["@context"] = document.get("@context")
    return options


def _signed_bytes(proof_options: Mapping[str, Any], document_hash: bytes) -> bytes:
    options_hash = hashlib.sha256(jsonld.canonize(proof_options).encode()).digest()
    return options_hash + document_hash


def document_hash(document: Mapping[str, Any]) -> bytes:
    """SHA-256 of the document's canonical N-Quads, its proof left out."""
    return hashlib.sha256(jsonld.canonize(_unsecured(document)).encode()).digest()


def sign_data_integrity(
    document: Mapping[str, Any],
    private_key: Ed25519PrivateKey,
    verification_method: str,
    *,
    created: str,
    proof_purpose: str = "assertionMethod",
    proof_array: bool = False,
) -> dict[str, Any]:
    """A copy of the document with an `eddsa-rdfc-2022` proof added.

    Existing proofs are kept (each proof of a set signs the document without the others) and
    `proof` becomes an array; `proof_array=True` writes a single proof as a one-item array too,
    the shape the formal OB 3.0 schema expects.
    """
    proof = {
        "type": PROOF_TYPE,
        "created": created,
        "verificationMethod": verification_method,
        "cryptosuite": CRYPTOSUITE,
        "proofPurpose": proof_purpose,
    }
    signature = private_key.sign(
        _signed_bytes(proof_options(document, proof), document_hash(document))
    )
    proof["proofValue"] = "z" + base58.b58encode(signature).decode()
    existing = proofs_of(document)
    secured = dict(document)
    secured["proof"] = [*existing, proof] if existing or proof_array else proof
    return secured


def verify_data_integrity(
    document: Mapping[str, Any],
    trust: TrustStore,
    *,
    verify_nested: bool = True,
) -> list[Check]:
    """One "proof" check per proof of the document (every proof must verify), then the same for
    each credential nested in a CLR (`credentialSubject.verifiableCredential[*]`).

    No proof at all gives one failing check with status `unsigned`.
    """
    checks = _verify_proofs(document, trust, label="")
    if verify_nested:
        checks.extend(_verify_nested(document, trust))
    return checks


def _verify_proofs(document: Mapping[str, Any], trust: TrustStore, label: str) -> list[Check]:
    """Checks of every proof of one credential; `label` names a nested credential ("" if not)."""
    proofs = proofs_of(document)
    if not proofs:
        who = label or "the credential"
        return [
            Check(
                "proof",
                "fail",
                f"{who} has no proof, so nothing shows who issued it or that it is unchanged; "
                "ask the issuer for the signed credential",
                "unsigned",
            )
        ]
    checks: list[Check] = []
    digest: bytes | None = None
    for index, proof in enumerate(proofs):
        where = f"{label}: " if label else ""
        if len(proofs) > 1:
            where = f"{where}proof {index + 1} of {len(proofs)}: "
        problem = _unsupported(proof)
        if problem:
            checks.append(Check("proof", "fail", f"{where}{problem}", "failed_signature"))
            continue
        try:
            signature = base58.b58decode(proof["proofValue"][1:])
        except ValueError:
            signature = b""
        if not proof["proofValue"].startswith("z") or len(signature) != 64:
            checks.append(
                Check(
                    "proof",
                    "fail",
                    f"{where}proofValue is not a base58btc (z…) 64-byte Ed25519 signature",
                    "failed_signature",
                )
            )
            continue
        method = proof["verificationMethod"]
        try:
            public_key = resolve_verification_method(method, trust)
        except UnresolvedKeyError as error:
            checks.append(Check("proof", "warn", f"{where}{error}", "unresolved_key"))
            continue
        except InvalidKeyError as error:
            checks.append(Check("proof", "fail", f"{where}{error}", "failed_signature"))
            continue
        issuer = issuer_id(document)
        if controller_of(method) != issuer:
            checks.append(
                Check(
                    "proof",
                    "fail",
                    f"{where}it is signed with a key of {controller_of(method)}, not of its "
                    f"issuer {issuer}, so nothing shows the issuer signed it",
                    "failed_signature",
                )
            )
            continue
        try:
            if digest is None:
                digest = document_hash(document)
            signed = _signed_bytes(proof_options(document, proof), digest)
        except jsonld.UnknownContextError as error:
            checks.append(Check("proof", "fail", f"{where}{error}", "unknown_context"))
            continue
        except jsonld.JsonLdProcessingError as error:
            checks.append(Check("proof", "fail", f"{where}not valid JSON-LD: {error}", "invalid"))
            continue
        try:
            public_key.verify(signature, signed)
        except InvalidSignature:
            checks.append(
                Check(
                    "proof",
                    "fail",
                    f"{where}the signature does not verify, so the credential was changed after "
                    "it was signed (or signed with another key)",
                    "failed_signature",
                )
            )
            continue
        checks.append(
            Check("proof", "pass", f"{where}{CRYPTOSUITE} signature by {method} verifies")
        )
        if key_is_self_asserted(method, trust):
            checks.append(_self_asserted(where, method, issuer))
    return checks


def _self_asserted(where: str, method: str, issuer: str | None) -> Check:
    return Check(
        "proof",
        "warn",
        f"{where}the key is read from the method URL itself ({controller_of(method)}#"
        f"publicKeyMultibase), and no cached controller document confirms it is {issuer}'s; "
        "add one to the trust folder to bind the key to the issuer",
    )


def _unsupported(proof: Any) -> str | None:
    """Why a proof cannot be verified by this suite, or None if it has the right shape."""
    if not isinstance(proof, Mapping):
        return "the proof is not an object"
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        return (
            f"proof type {proof.get('type')!r} with cryptosuite {proof.get('cryptosuite')!r} is "
            f"not supported; only {PROOF_TYPE} with {CRYPTOSUITE} is verified"
        )
    if proof.get("proofPurpose") != "assertionMethod":
        return f"proofPurpose is {proof.get('proofPurpose')!r}, expected 'assertionMethod'"
    for field in ("verificationMethod", "proofValue"):
        if not isinstance(proof.get(field), str) or not proof.get(field):
            return f"the proof has no {field}"
    return None


def _verify_nested(document: Mapping[str, Any], trust: TrustStore) -> list[Check]:
    """Checks of the credentials a CLR carries, each labelled with its path."""
    # Imported here: jws imports this module (for issuer_id).
    from models.credentials.jws import verify_jws

    subject = document.get("credentialSubject")
    if not isinstance(subject, Mapping):
        return []
    nested = subject.get("verifiableCredential")
    if nested is None:
        return []
    checks: list[Check] = []
    for index, credential in enumerate(nested if isinstance(nested, list) else [nested]):
        label = f"nested credential credentialSubject.verifiableCredential[{index}]"
        if isinstance(credential, str):
            _, jws_checks = verify_jws(credential, trust)
            checks.extend(
                Check(c.name, c.outcome, f"{label}: {c.message}", c.status) for c in jws_checks
            )
        elif isinstance(credential, Mapping):
            checks.extend(_verify_proofs(credential, trust, label=label))
            checks.extend(_verify_nested(credential, trust))
        else:
            checks.append(
                Check("proof", "fail", f"{label} is neither an object nor a JWS", "invalid")
            )
    return checks
