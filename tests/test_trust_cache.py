"""The trust folder, as a specification: cached documents are filed by what they are (DID
documents, status lists, OB 2.0 hosted documents), and a file that cannot be used is reported by
name with what to fix, never raised."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from connectors.trust_cache import load_trust_store
from models.credentials.record import TrustStore

DID = {
    "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
    "id": "did:web:badges.example.edu",
    "verificationMethod": [
        {
            "id": "did:web:badges.example.edu#key-1",
            "type": "Multikey",
            "controller": "did:web:badges.example.edu",
            "publicKeyMultibase": "z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        }
    ],
}
BITSTRING = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "id": "https://badges.example.edu/status/3",
    "type": ["VerifiableCredential", "BitstringStatusListCredential"],
    "issuer": "did:web:badges.example.edu",
    "credentialSubject": {
        "id": "https://badges.example.edu/status/3#list",
        "type": "BitstringStatusList",
        "statusPurpose": "revocation",
        "encodedList": "uH4sIAAAAAAAAA-3BMQEAAADCoPVPbQwfoAAAAAAAAAAAAAAAAAAAAIC3AYbSVKsAQAAA",
    },
}
# A status list whose type names only its subject's type.
SUBJECT_TYPED = {
    "id": "https://badges.example.edu/status/4",
    "type": ["VerifiableCredential"],
    "credentialSubject": {"type": "BitstringStatusList", "encodedList": "uH4sI"},
}
REVOCATION_LIST = {
    "id": "https://badges.example.edu/revocations/1",
    "type": ["1EdTechRevocationList"],
    "revokedCredentials": [],
}
ASSERTION = {
    "@context": "https://w3id.org/openbadges/v2",
    "id": "https://badges.example.edu/assertions/123",
    "type": "Assertion",
    "badge": "https://badges.example.edu/badges/5",
}
BADGE_CLASS = {
    "@context": "https://w3id.org/openbadges/v2",
    "id": "https://badges.example.edu/badges/5",
    "type": "BadgeClass",
    "issuer": "https://badges.example.edu/issuer",
}
ISSUER = {
    "@context": "https://w3id.org/openbadges/v2",
    "id": "https://badges.example.edu/issuer",
    "type": "Issuer",
    "publicKey": "https://badges.example.edu/issuer/key",
}
KEY = {
    "@context": "https://w3id.org/openbadges/v2",
    "id": "https://badges.example.edu/issuer/key",
    "type": "CryptographicKey",
    "publicKeyPem": "-----BEGIN PUBLIC KEY-----\n…",
}


def write(folder: Path, name: str, document: object) -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document), encoding="utf-8")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "trust"
    path.mkdir()
    return path


def test_documents_are_filed_by_what_they_are_not_by_file_name(folder: Path):
    write(folder, "badges.example.edu.json", DID)  # a name that says nothing
    write(folder, "lists/status-3.json", BITSTRING)
    write(folder, "lists/status-4.json", SUBJECT_TYPED)
    write(folder, "lists/revocations.json", REVOCATION_LIST)
    write(folder, "ob2/assertion.json", ASSERTION)
    write(folder, "ob2/badge.json", BADGE_CLASS)
    write(folder, "ob2/issuer-and-key.json", [ISSUER, KEY])  # a list of documents is fine
    (folder / "README.txt").write_text("not JSON, and not *.json: ignored")
    store, problems = load_trust_store(folder)
    assert problems == []
    assert dict(store.did_documents) == {DID["id"]: DID}
    assert dict(store.status_lists) == {
        BITSTRING["id"]: BITSTRING,
        SUBJECT_TYPED["id"]: SUBJECT_TYPED,
        REVOCATION_LIST["id"]: REVOCATION_LIST,
    }
    assert dict(store.hosted) == {
        ASSERTION["id"]: ASSERTION,
        BADGE_CLASS["id"]: BADGE_CLASS,
        ISSUER["id"]: ISSUER,
        KEY["id"]: KEY,
    }


def test_a_malformed_file_is_reported_by_name_and_the_rest_still_loads(folder: Path):
    write(folder, "did.json", DID)
    (folder / "broken.json").write_text('{"id": "https://badges.example.edu/x", ', encoding="utf-8")
    (folder / "latin1.json").write_bytes(b'{"id": "caf\xe9"}')
    store, problems = load_trust_store(folder)
    assert list(store.did_documents) == [DID["id"]]
    assert len(problems) == 2
    broken = next(p for p in problems if p.startswith("broken.json"))
    assert "not valid JSON" in broken and "line 1" in broken and "fix it" in broken
    assert any(p.startswith("latin1.json: not UTF-8") for p in problems)


def test_documents_without_a_usable_id_and_duplicates_are_reported(folder: Path):
    write(folder, "a.json", ASSERTION)
    write(folder, "b-copy.json", ASSERTION)
    write(folder, "no-id.json", {"type": "BadgeClass", "name": "Nameless"})
    write(folder, "urn.json", {"id": "urn:uuid:1234", "type": "Assertion"})
    write(folder, "numbers.json", [1, 2])
    store, problems = load_trust_store(folder)
    assert list(store.hosted) == [ASSERTION["id"]]
    assert any(p.startswith("b-copy.json: holds") and "a.json already holds" in p for p in problems)
    assert any(p.startswith("no-id.json: not a DID document") for p in problems)
    assert any(p.startswith("urn.json: not a DID document") for p in problems)
    assert any(p.startswith("numbers.json (item 1): a JSON int") for p in problems)
    # Only names reach the messages, never the documents' content.
    assert not any("Nameless" in p for p in problems)


def test_no_folder_configured_is_an_empty_store_and_a_missing_one_is_a_problem(tmp_path: Path):
    assert load_trust_store(None) == (TrustStore(), [])
    store, problems = load_trust_store(tmp_path / "missing")
    assert store == TrustStore()
    assert len(problems) == 1 and "does not exist" in problems[0]
    assert "verification.trust_dir" in problems[0]


def test_a_link_out_of_the_trust_folder_is_not_followed(folder: Path, tmp_path: Path):
    (tmp_path / "elsewhere.json").write_text(json.dumps(DID))
    os.symlink(tmp_path / "elsewhere.json", folder / "did.json")
    store, problems = load_trust_store(folder)
    assert store.did_documents == {}
    assert problems and problems[0].startswith("did.json: a link to a file outside")
