"""Signing credentials the way 1EdTech's published examples are signed, and the key encodings
(Multikey, did:key, secretKeyMultibase, did:web URLs) proofs name keys by."""

from __future__ import annotations

import hashlib

import pytest
from credential_builders import (
    TEST_MULTIKEY,
    TEST_PUBLIC_KEY_HEX,
    TEST_SECRET_MULTIBASE,
    edtech_test_key,
    vector,
    without_proof,
)

from models.credentials import jsonld
from models.credentials.keys import (
    InvalidKeyError,
    UnresolvedKeyError,
    did_key,
    did_key_verification_method,
    did_web_document_url,
    generate_private_key,
    private_key_from_multibase,
    public_key_from_jwk,
    public_key_from_multibase,
    public_key_jwk,
    public_key_multibase,
    resolve_verification_method,
    secret_key_multibase,
)
from models.credentials.proofs import (
    document_hash,
    proof_options,
    sign_data_integrity,
    verify_data_integrity,
)
from models.credentials.record import TrustStore

ISSUER_565049 = "https://example.edu/issuers/565049"


@pytest.mark.parametrize("name", ["ob30-simple.json", "clr20-simple.json"])
def test_resigning_a_1edtech_vector_with_the_test_key_reproduces_its_proof_value(name):
    signed = vector(name)
    published = signed["proof"][0]
    resigned = sign_data_integrity(
        without_proof(signed),
        edtech_test_key(),
        published["verificationMethod"],
        created=published["created"],
    )
    assert resigned["proof"]["proofValue"] == published["proofValue"]
    assert resigned["proof"] == published


def test_the_published_teamwork_badge_example_is_reproduced_hash_for_hash():
    # OB 3.0 implementation guide, "Linked Data Proof Test Vector": the simple vector issued by
    # https://example.edu/issuers/565049 with a url, signed on 2010-01-01T19:23:24Z.
    credential = without_proof(vector("ob30-simple.json"))
    credential["issuer"] = {
        "id": ISSUER_565049,
        "type": ["Profile"],
        "url": "https://www.imsglobal.org",
        "name": "Example Corp",
    }
    method = f"{ISSUER_565049}#{TEST_MULTIKEY}"
    signed = sign_data_integrity(
        credential, edtech_test_key(), method, created="2010-01-01T19:23:24Z"
    )
    canonical = jsonld.canonize(credential)
    assert len(canonical.splitlines()) == 16
    assert document_hash(credential).hex() == (
        "87f65a76d40146205e3b3e06cb0fbd153f97f9ce70372390f52566bb7f9e0773"
    )
    proof_canonical = jsonld.canonize(proof_options(credential, signed["proof"]))
    assert hashlib.sha256(proof_canonical.encode()).hexdigest() == (
        "d34009cea0dbc1ca941e09dc01c8c9d3e3ce3c5b853f67ee44698dcea10f5d19"
    )
    assert signed["proof"]["proofValue"] == (
        "z5x9aCBYovW3CQCbKdNyhEm7ffYSw1YpEdPywQJoNbzDD2gkzQDKJ1sYKJaWvqZtkMtSbz35HcbgXVEDYHxCzgkCr"
    )


def test_signing_does_not_change_the_document_it_is_given():
    credential = without_proof(vector("ob30-simple.json"))
    before = repr(credential)
    sign_data_integrity(
        credential,
        edtech_test_key(),
        f"{ISSUER_565049}#{TEST_MULTIKEY}",
        created="2026-01-01T00:00:00Z",
    )
    assert repr(credential) == before


def test_a_second_proof_turns_proof_into_a_list_and_both_verify():
    key = generate_private_key()
    credential = without_proof(vector("ob30-simple.json"))
    credential["issuer"] = did_key(key.public_key())
    method = did_key_verification_method(key.public_key())
    once = sign_data_integrity(credential, key, method, created="2026-01-01T00:00:00Z")
    assert isinstance(once["proof"], dict)
    twice = sign_data_integrity(once, key, method, created="2026-02-01T00:00:00Z")
    assert [proof["created"] for proof in twice["proof"]] == [
        "2026-01-01T00:00:00Z",
        "2026-02-01T00:00:00Z",
    ]
    checks = verify_data_integrity(twice, TrustStore())
    assert [check.outcome for check in checks] == ["pass", "pass"]


def test_the_1edtech_test_key_encodes_to_its_published_multikey_and_secret_key():
    key = edtech_test_key()
    assert key.public_key().public_bytes_raw().hex() == TEST_PUBLIC_KEY_HEX
    assert public_key_multibase(key.public_key()) == TEST_MULTIKEY
    assert secret_key_multibase(key) == TEST_SECRET_MULTIBASE


def test_multikey_and_secret_key_multibase_decode_back_to_the_same_keys():
    key = generate_private_key()
    public = public_key_from_multibase(public_key_multibase(key.public_key()))
    assert public.public_bytes_raw() == key.public_key().public_bytes_raw()
    again = private_key_from_multibase(secret_key_multibase(key))
    assert again.private_bytes_raw() == key.private_bytes_raw()
    assert private_key_from_multibase(TEST_SECRET_MULTIBASE).private_bytes_raw() == (
        edtech_test_key().private_bytes_raw()
    )


def test_a_did_key_names_its_key_twice_and_resolves_without_any_document():
    key = generate_private_key()
    method = did_key_verification_method(key.public_key())
    assert method == f"{did_key(key.public_key())}#{public_key_multibase(key.public_key())}"
    assert method.startswith("did:key:z6Mk")
    resolved = resolve_verification_method(method, TrustStore())
    assert resolved.public_bytes_raw() == key.public_key().public_bytes_raw()


def test_the_validator_convention_reads_the_key_from_the_method_fragment():
    resolved = resolve_verification_method(f"{ISSUER_565049}#{TEST_MULTIKEY}", TrustStore())
    assert resolved.public_bytes_raw().hex() == TEST_PUBLIC_KEY_HEX


def test_an_ed25519_jwk_round_trips_and_a_private_jwk_is_refused():
    key = generate_private_key()
    jwk = public_key_jwk(key.public_key())
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519"
    assert public_key_from_jwk(jwk).public_bytes_raw() == key.public_key().public_bytes_raw()
    with pytest.raises(InvalidKeyError):
        public_key_from_jwk({**jwk, "d": "secret"})


@pytest.mark.parametrize(
    "bad",
    ["6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi", "z0OIl", TEST_SECRET_MULTIBASE],
)
def test_a_value_that_is_not_an_ed25519_multikey_is_refused(bad):
    with pytest.raises(InvalidKeyError):
        public_key_from_multibase(bad)


@pytest.mark.parametrize(
    ("did", "url"),
    [
        ("did:web:w3c-ccg.github.io", "https://w3c-ccg.github.io/.well-known/did.json"),
        ("did:web:w3c-ccg.github.io:user:alice", "https://w3c-ccg.github.io/user/alice/did.json"),
        ("did:web:example.com%3A3000", "https://example.com:3000/.well-known/did.json"),
        ("did:web:example.com%3A3000:badges", "https://example.com:3000/badges/did.json"),
        ("did:web:example.com#key-1", "https://example.com/.well-known/did.json"),
    ],
)
def test_did_web_documents_live_where_the_did_web_method_says(did, url):
    assert did_web_document_url(did) == url


def test_a_method_of_an_unsupported_did_method_is_unresolved():
    with pytest.raises(UnresolvedKeyError, match="did:ion"):
        resolve_verification_method("did:ion:EiA#key-1", TrustStore())
