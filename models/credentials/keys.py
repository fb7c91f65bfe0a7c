"""Ed25519 keys as credentials name them: Multikey (`z6Mk…`), `did:key`, `did:web`, JWK.

A proof names its key by a verification method URL; `resolve_verification_method` turns that
into a public key without the network:

- `did:key:z6Mk…#z6Mk…` — the key is the DID itself;
- `https://example.edu/issuers/565049#z6Mk…` — the 1EdTech validator's convention: the fragment
  IS the key's `publicKeyMultibase` (how the 1EdTech test vectors are signed);
- `did:web:…#key-1` — looked up in the district's cached DID documents (`TrustStore`); the
  method must be listed under `assertionMethod`. An HTTPS controller whose controller document
  is cached there is looked up the same way.

did:key and the fragment form are self-certifying: they prove the document was not changed
since the holder of that key signed it. The proof verifier checks that the method's controller
is the credential's issuer, and warns when an HTTPS controller's key is only self-asserted.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import base58
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from models.credentials.record import TrustStore

# Multicodec prefixes (unsigned varints): ed25519-pub 0xed, ed25519-priv 0x1300.
ED25519_PUB_MULTICODEC = b"\xed\x01"
ED25519_PRIV_MULTICODEC = b"\x80\x26"

# Verification method types whose key is a `publicKeyMultibase` / a `publicKeyJwk`.
_MULTIBASE_TYPES = {"Multikey", "Ed25519VerificationKey2020"}
_JWK_TYPES = {"JsonWebKey", "JsonWebKey2020"}


class KeyResolutionError(Exception):
    """A verification method could not be turned into a usable Ed25519 public key."""


class UnresolvedKeyError(KeyResolutionError):
    """The key may well be fine, but what names it is not available offline (fix: cache it)."""


class InvalidKeyError(KeyResolutionError):
    """The key material is malformed, of the wrong kind, or not authorized for assertions."""


def generate_private_key() -> Ed25519PrivateKey:
    """A new random Ed25519 signing key."""
    return Ed25519PrivateKey.generate()


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes_raw()


def public_key_multibase(public_key: Ed25519PublicKey) -> str:
    """The key as a Multikey `publicKeyMultibase`: base58btc ('z') of 0xed01 ‖ 32 key bytes."""
    return "z" + base58.b58encode(ED25519_PUB_MULTICODEC + _raw_public(public_key)).decode()


def public_key_from_multibase(value: str) -> Ed25519PublicKey:
    """The Ed25519 public key a `z6Mk…` Multikey value encodes."""
    if not isinstance(value, str) or not value.startswith("z"):
        raise InvalidKeyError(f"{value!r} is not a base58btc multibase value (it must start z)")
    try:
        decoded = base58.b58decode(value[1:])
    except ValueError as error:
        raise InvalidKeyError(f"{value!r} is not valid base58btc") from error
    if not decoded.startswith(ED25519_PUB_MULTICODEC) or len(decoded) != 34:
        raise InvalidKeyError(f"{value!r} is not an Ed25519 public key (multicodec 0xed01)")
    return Ed25519PublicKey.from_public_bytes(decoded[2:])


def did_key(public_key: Ed25519PublicKey) -> str:
    """The `did:key` DID of a public key."""
    return f"did:key:{public_key_multibase(public_key)}"


def did_key_verification_method(public_key: Ed25519PublicKey) -> str:
    """The verification method URL of a `did:key` (`did:key:z6Mk…#z6Mk…`), for signing."""
    multibase = public_key_multibase(public_key)
    return f"did:key:{multibase}#{multibase}"


def secret_key_multibase(private_key: Ed25519PrivateKey) -> str:
    """The key as `secretKeyMultibase` (`zrv…`): 0x8026 ‖ seed ‖ public key, as the 1EdTech
    examples and Digital Bazaar's tools write it."""
    seed = private_key.private_bytes_raw()
    raw = ED25519_PRIV_MULTICODEC + seed + _raw_public(private_key.public_key())
    return "z" + base58.b58encode(raw).decode()


def private_key_from_multibase(value: str) -> Ed25519PrivateKey:
    """The Ed25519 signing key a `secretKeyMultibase` encodes (32-byte seed, or seed ‖ public)."""
    if not isinstance(value, str) or not value.startswith("z"):
        raise InvalidKeyError("a secretKeyMultibase value must start with z (base58btc)")
    try:
        decoded = base58.b58decode(value[1:])
    except ValueError as error:
        raise InvalidKeyError("secretKeyMultibase is not valid base58btc") from error
    if not decoded.startswith(ED25519_PRIV_MULTICODEC) or len(decoded) not in (34, 66):
        raise InvalidKeyError("secretKeyMultibase is not an Ed25519 secret key (0x8026)")
    private_key = Ed25519PrivateKey.from_private_bytes(decoded[2:34])
    if len(decoded) == 66 and decoded[34:] != _raw_public(private_key.public_key()):
        raise InvalidKeyError("secretKeyMultibase holds a public key that does not match its seed")
    return private_key


def public_key_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The public key as an OKP JWK (RFC 8037)."""
    x = base64.urlsafe_b64encode(_raw_public(public_key)).rstrip(b"=").decode()
    return {"kty": "OKP", "crv": "Ed25519", "x": x}


def public_key_from_jwk(jwk: Mapping[str, Any]) -> Ed25519PublicKey:
    """The Ed25519 public key of an OKP JWK; a JWK holding a private part (`d`) is refused."""
    if not isinstance(jwk, Mapping) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise InvalidKeyError("the JWK is not an Ed25519 key (kty OKP, crv Ed25519)")
    if "d" in jwk:
        raise InvalidKeyError("the JWK contains a private key ('d'); refusing to use it")
    x = jwk.get("x")
    try:
        raw = base64.urlsafe_b64decode(str(x) + "=" * (-len(str(x)) % 4))
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as error:
        raise InvalidKeyError("the JWK's x is not a 32-byte base64url Ed25519 key") from error


def did_web_document_url(did: str) -> str:
    """Where a `did:web` DID document lives (did:web method spec: colons are path separators,
    `%3A` encodes a port's colon, no path means `/.well-known`)."""
    if not did.startswith("did:web:"):
        raise ValueError(f"{did!r} is not a did:web DID")
    did = did.split("#", 1)[0]
    parts = did.removeprefix("did:web:").split(":")
    host = unquote(parts[0])
    if not host or "/" in host:
        raise ValueError(f"{did!r} has no valid host")
    path = "/".join(unquote(part) for part in parts[1:])
    return f"https://{host}/{path}/did.json" if path else f"https://{host}/.well-known/did.json"


def controller_of(verification_method: str) -> str:
    """The controller a verification method URL belongs to: the URL without its fragment."""
    return verification_method.split("#", 1)[0]


def resolve_verification_method(verification_method: str, trust: TrustStore) -> Ed25519PublicKey:
    """The Ed25519 public key a proof's `verificationMethod` names, resolved offline.

    Raises `UnresolvedKeyError` when the method needs a document the trust store lacks (a
    did:web with no cached DID document), `InvalidKeyError` when the key is malformed or not
    authorized for assertions. An HTTPS controller whose controller document is cached in
    `trust.did_documents` is looked up there like a did:web, even when the fragment is a key.
    """
    if not isinstance(verification_method, str) or not verification_method:
        raise InvalidKeyError("the proof names no verificationMethod")
    controller, _, fragment = verification_method.partition("#")
    if controller.startswith("did:key:"):
        multibase = controller.removeprefix("did:key:")
        if fragment and fragment != multibase:
            raise InvalidKeyError(f"{verification_method} names a key other than its did:key")
        return public_key_from_multibase(multibase)
    if controller.startswith("did:web:") or controller in trust.did_documents:
        method = cached_verification_method(verification_method, trust)
        return _public_key_of(method, verification_method)
    if controller.startswith("did:"):
        did_method = controller.split(":")[1]
        raise UnresolvedKeyError(
            f"{controller} uses the did:{did_method} method, which cannot be resolved offline; "
            "only did:key and cached did:web documents are supported"
        )
    if fragment.startswith("z6Mk"):
        return public_key_from_multibase(fragment)
    raise UnresolvedKeyError(
        f"{verification_method} is neither a DID nor a URL whose fragment is the key "
        f"(controller#publicKeyMultibase); add the controller document of {controller} to the "
        "trust folder"
    )


def key_is_self_asserted(verification_method: str, trust: TrustStore) -> bool:
    """Whether the key was read from the method URL itself (`https://…#z6Mk…`) with no cached
    controller document to confirm it: it proves the credential unchanged, not who signed."""
    controller = controller_of(verification_method)
    return not controller.startswith("did:") and controller not in trust.did_documents


def cached_verification_method(verification_method: str, trust: TrustStore) -> Mapping[str, Any]:
    """The entry for a verification method in its controller's cached document (a did:web
    DID document, or an HTTPS controller document), which must list it under
    `assertionMethod`."""
    controller = controller_of(verification_method)
    document = trust.did_documents.get(controller)
    where = (
        f"its did.json ({did_web_document_url(controller)})"
        if controller.startswith("did:web:")
        else "its controller document"
    )
    if document is None:
        raise UnresolvedKeyError(
            f"{controller} is not in the cached DID documents; add {where} to the trust folder"
        )
    method = _verification_methods(document, controller).get(verification_method)
    if method is None:
        raise UnresolvedKeyError(
            f"{verification_method} is not in the cached document of {controller}; refresh "
            f"{where} in the trust folder"
        )
    authorized = {
        _absolute(entry if isinstance(entry, str) else str(entry.get("id", "")), controller)
        for entry in document.get("assertionMethod", []) or []
        if isinstance(entry, str | Mapping)
    }
    if verification_method not in authorized:
        raise InvalidKeyError(
            f"{verification_method} is not listed under assertionMethod in the document "
            f"of {controller}, so it may not sign credentials"
        )
    return method


def _absolute(method_id: str, did: str) -> str:
    return f"{did}{method_id}" if method_id.startswith("#") else method_id


def _verification_methods(document: Mapping[str, Any], did: str) -> dict[str, Mapping[str, Any]]:
    """Every verification method a DID document defines, by absolute id (including those
    embedded under assertionMethod)."""
    methods: dict[str, Mapping[str, Any]] = {}
    for section in ("verificationMethod", "assertionMethod"):
        for entry in document.get(section, []) or []:
            if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
                methods[_absolute(entry["id"], did)] = entry
    return methods


def _public_key_of(method: Mapping[str, Any], verification_method: str) -> Ed25519PublicKey:
    method_type = method.get("type")
    if method_type in _MULTIBASE_TYPES and "publicKeyMultibase" in method:
        return public_key_from_multibase(method["publicKeyMultibase"])
    if method_type in _JWK_TYPES and "publicKeyJwk" in method:
        return public_key_from_jwk(method["publicKeyJwk"])
    raise InvalidKeyError(
        f"{verification_method} is a {method_type} method; expected Multikey or "
        "Ed25519VerificationKey2020 (publicKeyMultibase) or JsonWebKey (Ed25519 publicKeyJwk)"
    )
