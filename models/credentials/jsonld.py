"""JSON-LD for credentials, offline: the bundled contexts, RDFC-1.0 canonical N-Quads, and the
terms a document uses that its contexts do not define.

Only the contexts shipped in `contexts/` (listed with their SHA-256 in `contexts/index.json`) are
ever loaded; any other URL raises `UnknownContextError`, so verification fails closed instead of
reaching for the network. Each file's hash is checked the first time it is served, once per
process, and the resolved contexts are cached in a cache of our own (never pyld's global one,
which other code in the process may fill through another loader).
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any, NoReturn

from pyld import jsonld
from pyld.context_resolver import ContextResolver

CONTEXTS_DIR = Path(__file__).parent / "contexts"
# The index pins every context file's hash; this pins the index (standards README, SHA-256 list).
CONTEXT_INDEX_SHA256 = "ad4410ba8c5908c73acd20b15a734957167ebbf4efc3337de2299ffde90e78d7"

# Absolute IRIs accepted as property or type names without a term definition. A key such as
# "ex:foo" is an IRI to a JSON-LD processor (scheme "ex"), but in a credential it is a compact
# IRI whose prefix no context defines: reported, not trusted.
_IRI_SCHEMES = ("http://", "https://", "urn:", "did:", "tag:")


class UnknownContextError(Exception):
    """A document names a JSON-LD context that is not bundled (verification fails closed)."""

    def __init__(self, url: str):
        super().__init__(f"JSON-LD context {url} is not bundled")
        self.url = url


class ContextIntegrityError(Exception):
    """A bundled context file does not match the SHA-256 pinned in contexts/index.json."""


class JsonLdProcessingError(Exception):
    """The document is not valid JSON-LD (e.g. it redefines a protected term)."""


@cache
def context_index() -> Mapping[str, Mapping[str, str]]:
    """Bundled context URL → {file, sha256, source}, as `contexts/index.json` lists them."""
    return read_pinned_context(CONTEXTS_DIR / "index.json", CONTEXT_INDEX_SHA256)


@cache
def bundled_context_urls() -> frozenset[str]:
    """Every context URL this package can serve offline."""
    return frozenset(context_index())


def read_pinned_context(path: Path, sha256: str) -> Any:
    """A bundled JSON file, after checking its bytes against the pinned SHA-256."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != sha256:
        raise ContextIntegrityError(
            f"bundled context file {path.name} has SHA-256 {digest}, expected {sha256}: "
            "the installation is damaged; reinstall the package"
        )
    return json.loads(raw)


@cache
def _bundled_context(url: str) -> Any:
    """The parsed context served for `url`, its file hash-checked once per process."""
    entry = context_index().get(url)
    if entry is None:
        raise UnknownContextError(url)
    return read_pinned_context(CONTEXTS_DIR / entry["file"], entry["sha256"])


def preload_contexts() -> None:
    """Load and hash-check every bundled context now (a damaged installation fails at once)."""
    for url in context_index():
        _bundled_context(url)


def load_bundled_context(url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """pyld document loader serving only the bundled contexts; any other URL raises.

    Tagged "static" so our resolver cache keeps the processed context across documents.
    """
    return {
        "contentType": "application/ld+json",
        "contextUrl": None,
        "documentUrl": url,
        # pyld may rewrite a context in place while resolving it: hand out a copy.
        "document": copy.deepcopy(_bundled_context(url)),
        "tag": "static",
    }


class _ResolvedContexts:
    """A bounded, thread-safe LRU cache of resolved contexts, private to this module.

    Bounded because inline (object) contexts are cached too, keyed by their JSON, and a night of
    credentials from many platforms must not grow it without limit.
    """

    def __init__(self, maxsize: int = 256):
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._maxsize = maxsize

    def get(self, key: str, default: Any = None) -> Any:
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def __setitem__(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)


_RESOLVED = _ResolvedContexts()


def _options(**extra: Any) -> dict[str, Any]:
    # A resolver per operation (its per-operation cache is unbounded), sharing our cache.
    return {
        "documentLoader": load_bundled_context,
        "contextResolver": ContextResolver(_RESOLVED, load_bundled_context),
        **extra,
    }


def _raise_plainly(error: jsonld.JsonLdError) -> NoReturn:
    """Re-raise what pyld wrapped: an unknown context or a context hash mismatch as itself, any
    other JSON-LD error as `JsonLdProcessingError` with its innermost message."""
    cause: BaseException | None = error
    innermost: BaseException = error
    while cause is not None:
        if isinstance(cause, UnknownContextError | ContextIntegrityError):
            raise cause from None
        innermost = cause
        cause = cause.__cause__
    message = innermost.args[0] if innermost.args else type(innermost).__name__
    code = getattr(innermost, "code", None)
    raise JsonLdProcessingError(f"{message} ({code})" if code else str(message)) from error


def context_urls(document: Any) -> list[str]:
    """Every context URL a document names, at the top level or on nested objects, in order."""
    found: list[str] = []

    def collect(context: Any) -> None:
        for entry in context if isinstance(context, list) else [context]:
            if isinstance(entry, str) and entry not in found:
                found.append(entry)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "@context" in node:
                collect(node["@context"])
            for key, value in node.items():
                if key != "@context":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document)
    return found


def unknown_context_urls(document: Any) -> list[str]:
    """The context URLs a document names that are not bundled (so cannot be used offline)."""
    known = bundled_context_urls()
    return [url for url in context_urls(document) if url not in known]


def canonize(document: Mapping[str, Any]) -> str:
    """The document's canonical N-Quads (RDFC-1.0, i.e. URDNA2015), from bundled contexts only."""
    try:
        return jsonld.normalize(
            dict(document),
            _options(algorithm="URDNA2015", format="application/n-quads"),
        )
    except jsonld.JsonLdError as error:
        _raise_plainly(error)


def undefined_terms(document: Mapping[str, Any]) -> list[str]:
    """JSON paths of the properties and types the document's contexts do not define.

    pyld has no safe mode: a property no context defines is dropped from the RDF without a word
    (so it is not covered by a signature), and an undefined type becomes a made-up IRI. This
    expands the document while checking every key and `type` value against the context that is
    active at that node — after embedded, property-scoped and type-scoped contexts — and reports
    e.g. `credentialSubject.achievement.foo` or `credentialSubject.type=Foo`. A term that only
    an `@vocab` maps (VC 2.0's "issuer-dependent" namespace) counts as undefined.
    """
    processor = _TermAuditor()
    try:
        processor.expand(dict(document), _options())
    except jsonld.JsonLdError as error:
        _raise_plainly(error)
    return processor.undefined


def _object_paths(document: Any) -> dict[int, str]:
    """id(object) → JSON path of every object in the (copied) document pyld is expanding."""
    paths: dict[int, str] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            paths[id(node)] = path
            for key, value in node.items():
                if key != "@context":
                    walk(value, f"{path}.{key}" if path else key)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{path}[{index}]")

    walk(document, "")
    return paths


def _is_defined(active_ctx: Mapping[str, Any], term: str) -> bool:
    """Whether a key or type name is defined by the active context (not only via @vocab)."""
    mappings = active_ctx["mappings"]
    if term in mappings:
        # A term mapped to null is explicitly dropped: as good as undefined.
        return mappings[term] is not None
    prefix, colon, suffix = term.partition(":")
    if colon and prefix:
        if prefix == "_" or suffix.startswith("//"):
            return True
        mapping = mappings.get(prefix)
        if mapping and mapping.get("_prefix"):
            return True
        return term.startswith(_IRI_SCHEMES)
    return False


class _TermAuditor(jsonld.JsonLdProcessor):
    """A JSON-LD processor that records undefined terms while it expands.

    Relies on pyld 3.3 internals (`_expand`, `_expand_object`, the active context's `mappings`);
    pyproject pins pyld <3.4 and the tests exercise every branch.
    """

    def __init__(self) -> None:
        super().__init__()
        self.undefined: list[str] = []
        self._paths: dict[int, str] | None = None

    def _expand(self, active_ctx, active_property, element, options, *args, **kwargs):
        if self._paths is None:
            # The first call gets pyld's private deep copy of the document, the objects the
            # rest of the expansion walks: map them to their JSON paths.
            self._paths = _object_paths(element)
        return super()._expand(active_ctx, active_property, element, options, *args, **kwargs)

    def _expand_object(
        self,
        active_ctx,
        active_property,
        expanded_active_property,
        element,
        expanded_parent,
        options,
        inside_list=False,
        type_key=None,
        type_scoped_ctx=None,
    ):
        path = (self._paths or {}).get(id(element), active_property or "")
        for key, value in element.items():
            if key == "@context":
                continue
            if key.startswith("@"):
                if key == "@type":
                    self._check_types(type_scoped_ctx or active_ctx, value, path)
                elif key not in jsonld.KEYWORDS:
                    # Looks like a keyword but is not one: JSON-LD ignores it.
                    self._record(f"{path}.{key}" if path else key)
                continue
            if not _is_defined(active_ctx, key):
                self._record(f"{path}.{key}" if path else key)
                continue
            mapping = active_ctx["mappings"].get(key)
            if mapping and mapping.get("@id") == "@type":
                self._check_types(type_scoped_ctx or active_ctx, value, path)
            elif mapping and mapping.get("@type") == "@vocab":
                # Values coerced to vocabulary terms (e.g. proofPurpose) must be terms too, in
                # the context the value is expanded with: the property's own scoped context.
                term_ctx = active_ctx
                if mapping.get("@context") is not None:
                    term_ctx = self._process_context(
                        active_ctx,
                        mapping["@context"],
                        options,
                        propagate=True,
                        override_protected=True,
                    )
                for term in value if isinstance(value, list) else [value]:
                    if isinstance(term, str) and not _is_defined(term_ctx, term):
                        self._record(f"{path}.{key}={term}" if path else f"{key}={term}")
        return super()._expand_object(
            active_ctx,
            active_property,
            expanded_active_property,
            element,
            expanded_parent,
            options,
            inside_list,
            type_key,
            type_scoped_ctx,
        )

    def _check_types(self, context: Mapping[str, Any], value: Any, path: str) -> None:
        for type_name in value if isinstance(value, list) else [value]:
            if isinstance(type_name, str) and not _is_defined(context, type_name):
                self._record(f"{path}.type={type_name}" if path else f"type={type_name}")

    def _record(self, entry: str) -> None:
        if entry not in self.undefined:
            self.undefined.append(entry)
