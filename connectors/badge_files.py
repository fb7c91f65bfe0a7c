"""A folder of badge files a district collects (exports from its platforms, badges learners hand
in): every file under it, read into one record each, for `raw.badge_files`.

`read_badge_folder(path)` yields `(key, record)` for every file under the folder, recursively,
in the order of their relative POSIX paths. The key is that path; a file that holds several
credentials (a JSON array, or a saved Open Badges 3.0 getCredentials answer) yields one record
per credential, keyed `<path>#1`, `<path>#2`, … The record:

- `path`: the file's path relative to the folder (POSIX);
- `format`: `ob2-json`, `ob3-json` (an Open Badges 2.0 assertion / a 3.0 or other Verifiable
  Credential as JSON), `ob3-jwt` (a VC-JWT compact JWS), `ob2-jws` (an OB 2.0 signed assertion:
  a JWS whose payload is a 2.0 assertion), `baked-png`, `baked-svg` (an image with a badge
  baked in), or `unknown`;
- `credential`: the credential's JSON object, or, for an OB 2.0 badge baked with only its
  hosted assertion's URL, that URL (a string); else null;
- `compactJws`: the compact JWS string of a signed credential, else null;
- `file_sha256`: the SHA-256 of the file's bytes (hex);
- `error`: null, or what is wrong with the file and what to do about it.

Nothing a district sent is dropped silently: a file that cannot be read, is damaged, or holds
no credential still yields a record, with its format (as far as known) and the error. Only
operating-system litter is skipped: `.DS_Store`, `Thumbs.db`, `desktop.ini`, `.localized`,
macOS resource forks (`._*`) and `__MACOSX` folders. Files larger than 32 MiB are not read
(a record says so). Symbolic links are never followed out of the folder (such a link gets a
record saying so), and links to folders are not descended.

What is read, from the baking specifications (1EdTech repository openbadges-specification,
ob_v2p0/baking/index.md for Open Badges 2.0 and ob_v3p0/docformat.md, "Baked Badge", for 3.0):

- PNG: the first `iTXt` chunk with keyword `openbadgecredential` (3.0: the credential's JSON, or
  its compact JWS), else `openbadges` (2.0: the assertion's JSON, or a signed assertion (JWS));
  a legacy `tEXt` chunk `openbadges` holds the hosted assertion's URL, and 2.0 platforms also
  bake just that URL in the iTXt chunk. Chunks are read with pypng without decoding pixels; the
  specs forbid compressed iTXt, but one is still decompressed and read.
- SVG (parsed with defusedxml, so no entity or DTD is expanded): the first
  `<openbadges:credential>` (namespace https://purl.imsglobal.org/ob/v3p0; 3.0: the compact JWS
  in its `verify` attribute, or the credential's JSON in its CDATA body), else the first
  `<openbadges:assertion>` (namespace http://openbadges.org; 2.0: the assertion's JSON in its
  body, or in `verify` a signed assertion or the hosted assertion's URL). An element of either
  name in either namespace is accepted.
- JSON and JWT files are recognized by their content, not their extension.

A JWS is decoded here only to tell 2.0 from 3.0; nothing is verified (`models.credentials`
does that). No network: a hosted URL is kept for the verifier to find in the trust folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as safe_xml
import png
from defusedxml import DefusedXmlException

from models.credentials.platforms import compact_jws_payload

FORMATS = ("ob2-json", "ob3-json", "ob3-jwt", "ob2-jws", "baked-png", "baked-svg", "unknown")
SKIPPED_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini", ".localized"})
SKIPPED_FOLDERS = frozenset({"__MACOSX"})
MAX_FILE_BYTES = 32 * 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OB3_PNG_KEYWORD = "openbadgecredential"
OB2_PNG_KEYWORD = "openbadges"
OB3_SVG_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"
OB2_SVG_NAMESPACE = "http://openbadges.org"
_SVG_NAMESPACES = frozenset({OB3_SVG_NAMESPACE, OB2_SVG_NAMESPACE, "https://openbadges.org"})
_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_VC_CONTEXTS = ("www.w3.org/ns/credentials/v2", "www.w3.org/2018/credentials/v1")
_OB2_CONTEXTS = ("w3id.org/openbadges/v2", "openbadgespec.org/v2", "w3id.org/openbadges/v1")
_VC_TYPES = frozenset(
    {"VerifiableCredential", "OpenBadgeCredential", "AchievementCredential", "ClrCredential"}
)
_STATUS_LIST_TYPES = frozenset(
    {"BitstringStatusListCredential", "StatusList2021Credential", "1EdTechRevocationList"}
)
# OB 2.0 documents a verifier looks up, not awarded badges.
_OB2_TRUST_TYPES = frozenset(
    {"BadgeClass", "Issuer", "Profile", "CryptographicKey", "RevocationList"}
)
_BINARY_KINDS = (
    (b"%PDF", "a PDF"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"RIFF", "a WebP or other RIFF file"),
)
TRUST_FOLDER_HINT = "it belongs in the verification trust folder (verification.trust_dir)"


def read_badge_folder(path: Path) -> Iterator[tuple[str, dict]]:
    """Every file under `path`, recursively, sorted by relative POSIX path: (key, record) as the
    module docstring describes, one per credential a file holds and at least one per file."""
    root = Path(path)
    if not root.is_dir():
        raise NotADirectoryError(
            f"the badge folder {root} does not exist or is not a folder; check `path` in "
            "pathways.yaml (and that the share is mounted)"
        )
    root = root.resolve()
    for relative, problem in _listing(root):
        if problem is not None:
            yield relative, _record(relative, "unknown", None, error=problem)
        else:
            yield from _read_file(root, relative)


def _listing(root: Path) -> list[tuple[str, str | None]]:
    """(relative path, problem or None) for every file to report, sorted by path."""
    found: list[tuple[str, str | None]] = []

    def unlistable(error: OSError) -> None:
        where = Path(error.filename or root)
        found.append(
            (
                _relative(root, where),
                f"this folder could not be listed ({type(error).__name__}); its files were not "
                "read. Check that Pathways may read it.",
            )
        )

    for folder, folders, files in os.walk(root, onerror=unlistable, followlinks=False):
        here = Path(folder)
        kept = []
        for name in sorted(folders):
            if name in SKIPPED_FOLDERS:
                continue
            if (here / name).is_symlink():
                found.append(
                    (
                        _relative(root, here / name),
                        "a link to a folder, which Pathways does not follow; copy the badges "
                        "into the badge folder instead.",
                    )
                )
                continue
            kept.append(name)
        folders[:] = kept
        for name in files:
            if name in SKIPPED_FILES or name.startswith("._"):
                continue
            found.append((_relative(root, here / name), None))
    return sorted(found)


def _relative(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _read_file(root: Path, relative: str) -> Iterator[tuple[str, dict]]:
    path = root / relative
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(root):
            yield (
                relative,
                _record(
                    relative,
                    "unknown",
                    None,
                    error="a link to a file outside the badge folder, which Pathways never "
                    "follows; copy the file into the folder instead.",
                ),
            )
            return
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            yield (
                relative,
                _record(
                    relative,
                    "unknown",
                    None,
                    error=f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB, so not read; a "
                    "badge file is far smaller: check that it belongs in the badge folder.",
                ),
            )
            return
        data = path.read_bytes()
    except OSError as exc:
        yield (
            relative,
            _record(
                relative,
                "unknown",
                None,
                error=f"could not be read ({type(exc).__name__}); check that the file exists and "
                "that Pathways may read it.",
            ),
        )
        return
    digest = hashlib.sha256(data).hexdigest()
    if not data.strip():
        yield relative, _record(relative, "unknown", digest, error="the file is empty.")
        return
    if data.startswith(PNG_SIGNATURE):
        yield relative, _baked_png(relative, digest, data)
        return
    for magic, kind in _BINARY_KINDS:
        if data.startswith(magic):
            yield (
                relative,
                _record(
                    relative,
                    "unknown",
                    digest,
                    error=f"{kind}, which cannot hold a badge; Pathways reads baked PNG and SVG "
                    "images, Open Badges JSON and signed credentials (JWT). Ask the platform for "
                    "one of those.",
                ),
            )
            return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        yield (
            relative,
            _record(
                relative,
                "unknown",
                digest,
                error="not a PNG, SVG, JSON or JWT file (its bytes are not text); Pathways reads "
                "baked PNG and SVG images, Open Badges JSON and signed credentials (JWT).",
            ),
        )
        return
    start = text.lstrip()[:1]
    if start == "<":
        yield relative, _baked_svg(relative, digest, data)
    elif start in ("{", "["):
        yield from _json_file(relative, digest, text)
    elif _COMPACT_JWS.match(text.strip()):
        yield relative, _jws_record(relative, digest, text.strip())
    else:
        yield (
            relative,
            _record(
                relative,
                "unknown",
                digest,
                error="text that is not JSON, SVG or a compact JWS, so no credential Pathways can "
                "read; remove it from the badge folder if it is not a badge.",
            ),
        )


def _record(
    relative: str,
    fmt: str,
    digest: str | None,
    *,
    credential: dict | str | None = None,
    jws: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "path": relative,
        "format": fmt,
        "credential": credential,
        "compactJws": jws,
        "file_sha256": digest,
        "error": error,
    }


# -- JSON and JWT files ---------------------------------------------------------------------


def _json_file(relative: str, digest: str, text: str) -> Iterator[tuple[str, dict]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        yield (
            relative,
            _record(
                relative,
                "unknown",
                digest,
                error=f"not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); the "
                "file may be cut off: export it again from the platform.",
            ),
        )
        return
    items = _several(document)
    if items is None:
        yield relative, _json_item(relative, digest, document)
        return
    if not items:
        yield (
            relative,
            _record(relative, "unknown", digest, error="an empty JSON list: no credential in it."),
        )
        return
    for number, item in enumerate(items, start=1):
        key = f"{relative}#{number}"
        if isinstance(item, str) and _COMPACT_JWS.match(item.strip()):
            yield key, _jws_record(relative, digest, item.strip())
        else:
            yield key, _json_item(relative, digest, item, f"item {number}: ")


def _several(document: Any) -> list[Any] | None:
    """The credentials of a file that holds several (a list, or a saved OB 3.0 getCredentials
    answer `{credential: [...], compactJwsString: [...]}`); None for a single document."""
    if isinstance(document, list):
        return document
    if (
        isinstance(document, dict)
        and "@context" not in document
        and ("credential" in document or "compactJwsString" in document)
    ):
        credentials = document.get("credential") or []
        signed = document.get("compactJwsString") or []
        if isinstance(credentials, list) and isinstance(signed, list):
            return [*credentials, *signed]
    return None


def _json_item(relative: str, digest: str, item: Any, where: str = "") -> dict[str, Any]:
    if not isinstance(item, dict):
        return _record(
            relative,
            "unknown",
            digest,
            error=f"{where}a JSON {type(item).__name__}, not a credential object.",
        )
    kind, problem = _json_kind(item)
    if problem is not None:
        return _record(relative, "unknown", digest, error=where + problem)
    return _record(relative, kind, digest, credential=item)


def _json_kind(document: dict) -> tuple[str, str | None]:
    """("ob3-json" | "ob2-json", None), or ("unknown", what the document is instead)."""
    contexts = " ".join(c for c in _strings(document.get("@context")))
    types = set(_strings(document.get("type")))
    subject = document.get("credentialSubject")
    subject_types = set(_strings(subject.get("type"))) if isinstance(subject, dict) else set()
    if types & _STATUS_LIST_TYPES or "BitstringStatusList" in subject_types:
        return "unknown", f"a status list credential, not an awarded badge; {TRUST_FOLDER_HINT}."
    if any(c in contexts for c in _VC_CONTEXTS) or types & _VC_TYPES:
        return "ob3-json", None
    if any(c in contexts for c in _OB2_CONTEXTS) or "Assertion" in types:
        if "Assertion" in types or {"recipient", "badge"} <= document.keys():
            return "ob2-json", None
        what = ", ".join(sorted(types & _OB2_TRUST_TYPES)) or "Open Badges 2.0 document"
        return "unknown", f"an Open Badges 2.0 {what}, not an awarded badge; {TRUST_FOLDER_HINT}."
    identifier = document.get("id")
    if isinstance(identifier, str) and identifier.startswith("did:"):
        return "unknown", f"a DID document, not an awarded badge; {TRUST_FOLDER_HINT}."
    if {"recipient", "badge"} <= document.keys() and ("verify" in document or "uid" in document):
        return "unknown", (
            "an Open Badges 1.0 assertion (no @context), which Pathways does not read; ask the "
            "issuer for the badge as Open Badges 2.0 or 3.0."
        )
    return "unknown", (
        "JSON that is not an Open Badges credential (no Open Badges 2.0 or Verifiable "
        "Credentials @context or type); remove it from the badge folder if it is not a badge."
    )


def _jws_record(relative: str, digest: str, token: str) -> dict[str, Any]:
    payload = compact_jws_payload(token)
    if payload is None:
        return _record(
            relative,
            "unknown",
            digest,
            error="looks like a compact JWS, but its payload is not base64url-encoded JSON; the "
            "file may be cut off: export it again from the platform.",
        )
    claims = payload.get("vc") if isinstance(payload.get("vc"), dict) else payload
    kind, _ = _json_kind(claims)
    if kind == "ob3-json" or isinstance(payload.get("vc"), dict):
        return _record(relative, "ob3-jwt", digest, jws=token)
    if kind == "ob2-json":
        return _record(relative, "ob2-jws", digest, jws=token)
    # Not kept: a stray JWT (a login token, say) may be a secret.
    return _record(
        relative,
        "unknown",
        digest,
        error="a JWT that carries no Open Badges credential (no `vc` claim, credential context "
        "or OB 2.0 assertion); remove it from the badge folder.",
    )


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


# -- baked images ---------------------------------------------------------------------------


def _baked_png(relative: str, digest: str, data: bytes) -> dict[str, Any]:
    found: dict[str, str] = {}
    try:
        for chunk_type, content in png.Reader(bytes=data).chunks():
            if chunk_type == b"iTXt":
                keyword, text = _itxt(content)
            elif chunk_type == b"tEXt":
                keyword, _, raw = content.partition(b"\0")
                keyword, text = keyword.decode("latin-1"), raw.decode("latin-1")
            else:
                continue
            if keyword in (OB3_PNG_KEYWORD, OB2_PNG_KEYWORD) and keyword not in found:
                found[keyword] = text
            if OB3_PNG_KEYWORD in found:
                break  # the 3.0 credential wins; the rest of the image does not matter
    except (png.Error, ValueError, zlib.error) as exc:
        return _record(
            relative,
            "baked-png",
            digest,
            error=f"the PNG is damaged ({type(exc).__name__}: {str(exc)[:120]}); ask the "
            "platform or the learner for the badge image again.",
        )
    text = found.get(OB3_PNG_KEYWORD, found.get(OB2_PNG_KEYWORD))
    if text is None:
        return _record(
            relative,
            "baked-png",
            digest,
            error="a PNG with no badge baked in (no iTXt chunk 'openbadgecredential' or "
            "'openbadges'); if it should be a badge, download the baked image from the "
            "platform again (a copied or resized image loses its badge).",
        )
    return _baked_content(relative, "baked-png", digest, text)


def _itxt(content: bytes) -> tuple[str, str]:
    """An iTXt chunk's (keyword, text): keyword NUL, compression flag and method, language tag
    NUL, translated keyword NUL, then UTF-8 text (PNG §11.3.4.5)."""
    keyword, _, rest = content.partition(b"\0")
    if len(rest) < 2:
        raise ValueError("an iTXt chunk cut short")
    compressed, rest = rest[0], rest[2:]
    _language, _, rest = rest.partition(b"\0")
    _translated, _, text = rest.partition(b"\0")
    if compressed:
        text = zlib.decompress(text)
    return keyword.decode("latin-1"), text.decode("utf-8")


def _baked_svg(relative: str, digest: str, data: bytes) -> dict[str, Any]:
    try:
        root = safe_xml.fromstring(data)
    except DefusedXmlException:
        return _record(
            relative,
            "unknown",
            digest,
            error="XML that declares entities or loads external content, which Pathways does "
            "not expand; ask the platform for the badge image again.",
        )
    except ParseError as exc:
        return _record(
            relative,
            "unknown",
            digest,
            error=f"not well-formed XML or SVG ({exc}); the file may be cut off.",
        )
    if _local(root.tag) != "svg":
        return _record(relative, "unknown", digest, error="XML, but not an SVG image; not a badge.")
    credential = assertion = None
    for element in root.iter():
        namespace, name = _namespace(element.tag), _local(element.tag)
        if namespace not in _SVG_NAMESPACES:
            continue
        if name == "credential" and credential is None:
            credential = element
            break  # the 3.0 credential wins
        if name == "assertion" and assertion is None:
            assertion = element
    if credential is not None:
        text = credential.get("verify") or _body(credential)
    elif assertion is not None:
        text = _body(assertion) or assertion.get("verify") or ""
    else:
        return _record(
            relative,
            "baked-svg",
            digest,
            error="an SVG with no badge baked in (no <openbadges:credential> or "
            "<openbadges:assertion>); if it should be a badge, download the baked image from "
            "the platform again.",
        )
    return _baked_content(relative, "baked-svg", digest, text)


def _body(element: Element) -> str:
    return "".join(element.itertext()).strip()


def _namespace(tag: Any) -> str:
    return tag[1:].partition("}")[0] if isinstance(tag, str) and tag.startswith("{") else ""


def _local(tag: Any) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _baked_content(relative: str, fmt: str, digest: str, text: str) -> dict[str, Any]:
    """What was baked in: a credential's JSON, a compact JWS, or a hosted assertion's URL."""
    text = text.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            return _record(
                relative,
                fmt,
                digest,
                error=f"the baked credential is not valid JSON ({exc.msg} at char {exc.pos}); "
                "ask the platform for the badge image again.",
            )
        if not isinstance(document, dict):
            return _record(relative, fmt, digest, error="the baked JSON is not an object.")
        return _record(relative, fmt, digest, credential=document)
    if _COMPACT_JWS.match(text):
        return _record(relative, fmt, digest, jws=text)
    if re.match(r"^https?://\S+$", text):
        return _record(relative, fmt, digest, credential=text)
    return _record(
        relative,
        fmt,
        digest,
        error="the baked text is neither a credential's JSON, a compact JWS nor a hosted "
        "assertion's URL; ask the platform for the badge image again.",
    )
