"""The district's trust folder: cached JSON documents that let credentials be verified with no
network (`verification.trust_dir` in pathways.yaml).

`load_trust_store(path)` reads every `*.json` file under the folder (recursively, in path
order) and files each document by what it is, not by its file name:

- a status list credential (its `type` names BitstringStatusListCredential,
  StatusList2021Credential or 1EdTechRevocationList, or its credentialSubject's type is
  BitstringStatusList) → `status_lists[<its id>]`, the URL credentials name in
  `credentialStatus.statusListCredential`;
- a DID document (an `id` starting with `did:`, e.g. a did:web issuer's did.json) →
  `did_documents[<its id>]`;
- anything else with an http(s) `id` (an Open Badges 2.0 hosted Assertion, BadgeClass, Issuer
  profile, CryptographicKey or RevocationList) → `hosted[<its id>]`.

A file may hold one document or a JSON list of them. Problems (unreadable or invalid JSON, a
document with no usable id, the same id in two files) come back as messages naming the file and
what to fix, never raised: a bad cache file costs the credentials that need it their offline
verification ("unresolved" / "not verifiable offline"), not the night. Documents are kept as
given; nothing here fetches anything or checks a signature. Only the file names appear in the
messages: cached assertions hold learners' identities.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from models.credentials.record import TrustStore

_STATUS_LIST_TYPES = frozenset(
    {"BitstringStatusListCredential", "StatusList2021Credential", "1EdTechRevocationList"}
)
_STATUS_LIST_SUBJECT_TYPES = frozenset({"BitstringStatusList", "StatusList2021"})


def load_trust_store(path: Path | None) -> tuple[TrustStore, list[str]]:
    """The trust store the folder holds, and the problems found (one message per problem). No
    folder configured (None): an empty store and no problems."""
    if path is None:
        return TrustStore(), []
    root = Path(path)
    if not root.is_dir():
        return TrustStore(), [
            f"the trust folder {root} does not exist or is not a folder: credentials that need "
            "cached documents cannot be verified offline. Create it, or set "
            "verification.trust_dir to null in pathways.yaml."
        ]
    did_documents: dict[str, Mapping[str, Any]] = {}
    status_lists: dict[str, Mapping[str, Any]] = {}
    hosted: dict[str, Mapping[str, Any]] = {}
    first_seen: dict[str, str] = {}  # id → the file that holds it
    problems: list[str] = []
    resolved_root = root.resolve()
    for file in sorted(root.rglob("*.json")):
        name = file.relative_to(root).as_posix()
        if not file.is_file():
            continue
        if not file.resolve().is_relative_to(resolved_root):
            problems.append(
                f"{name}: a link to a file outside the trust folder, which Pathways does not "
                "follow; copy the file into the folder instead."
            )
            continue
        try:
            document = json.loads(file.read_text(encoding="utf-8-sig"))
        except OSError as exc:
            problems.append(
                f"{name}: could not be read ({type(exc).__name__}); check that Pathways may read "
                "it."
            )
            continue
        except UnicodeDecodeError:
            problems.append(f"{name}: not UTF-8 text; save it again as UTF-8 JSON.")
            continue
        except json.JSONDecodeError as exc:
            problems.append(
                f"{name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                "fix it or download the document again."
            )
            continue
        documents = document if isinstance(document, list) else [document]
        for number, item in enumerate(documents, start=1):
            where = f"{name} (item {number})" if isinstance(document, list) else name
            if not isinstance(item, dict):
                problems.append(
                    f"{where}: a JSON {type(item).__name__}, not a document; remove it or "
                    "replace it with the JSON object the URL or DID serves."
                )
                continue
            filed = _file_of(item)
            if filed is None:
                problems.append(
                    f"{where}: not a DID document, a status list credential or an Open Badges "
                    "2.0 hosted document: it has no `id` starting with did: or http(s)://. Save "
                    "the document exactly as its URL or DID serves it, or remove the file."
                )
                continue
            kind, identifier = filed
            if identifier in first_seen:
                problems.append(
                    f"{where}: holds {identifier}, which {first_seen[identifier]} already "
                    "holds; the first one (in path order) is used. Remove the stale copy."
                )
                continue
            first_seen[identifier] = where
            {"did": did_documents, "status": status_lists, "hosted": hosted}[kind][identifier] = (
                item
            )
    return TrustStore(did_documents, status_lists, hosted), problems


def _file_of(document: dict[str, Any]) -> tuple[str, str] | None:
    """("status" | "did" | "hosted", id) for a document, or None when it has no usable id."""
    identifier = document.get("id")
    if not isinstance(identifier, str) or not identifier.strip():
        return None
    identifier = identifier.strip()
    types = set(_strings(document.get("type")))
    subject = document.get("credentialSubject")
    subject_types = set(_strings(subject.get("type"))) if isinstance(subject, dict) else set()
    if types & _STATUS_LIST_TYPES or subject_types & _STATUS_LIST_SUBJECT_TYPES:
        return "status", identifier
    if identifier.startswith("did:"):
        return "did", identifier
    if identifier.lower().startswith(("http://", "https://")):
        return "hosted", identifier
    return None


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []
