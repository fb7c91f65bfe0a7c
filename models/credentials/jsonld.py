"""JSON-LD for credentials, offline: the bundled contexts, RDFC-1.0 canonical N-Quads, and the
terms a document uses that its contexts do not define.

Only the contexts shipped in `contexts/` (listed with their SHA-256 in `contexts/index.json`) are
ever loaded; any other URL raises `UnknownContextError`, so verification fails closed instead of
reaching for the network. Each file's hash is checked the first time it is served, once per
process, and the resolved contexts are cached in a cache of our own (never pyld's global one,
which other code in the process may fill through another loader). So are the processed
(active) contexts: see `_ContextMemo`.
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
from pyld.canon import URDNA2015
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


class _LruCache:
    """A bounded, thread-safe LRU cache, private to this module.

    Bounded because inline (object) contexts are cached too, keyed by their JSON, and a night of
    credentials from many platforms must not grow it without limit.
    """

    def __init__(self, maxsize: int = 256):
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._maxsize = maxsize

    def get(self, key: Any, default: Any = None) -> Any:
        with self._lock:
            if key not in self._items:
                return default
            self._items.move_to_end(key)
            return self._items[key]

    def __len__(self) -> int:
        return len(self._items)

    def __setitem__(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._maxsize:
                self._items.popitem(last=False)


_RESOLVED = _LruCache()
# The type pyld freezes a finished active context to (frozendict, a dependency of pyld's).
_FROZEN_CONTEXT = type(jsonld.freeze({}))
# Processed contexts: a few dozen distinct (active context, local context) pairs cover a night's
# credentials; each entry holds one active context (a dict of term definitions shared with its
# parent's), so this bounds memory to a few MB.
_PROCESSED = _LruCache(maxsize=512)
# Property and type names expanded to IRIs, per active context: (context, {(name, base): IRI}).
# A context's vocabulary is small, but a document may use any key: each map is capped.
_TERM_IRIS = _LruCache(maxsize=512)
_TERM_IRIS_PER_CONTEXT = 4096
# Expanded values of the properties whose values recur across a night's credentials: the
# district's Profile as `issuer` or `creator`, an `achievement` many learners hold.
_SHARED_PROPERTIES = frozenset({"issuer", "creator", "achievement"})
_EXPANDED = _LruCache(maxsize=2048)


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
    """The document's canonical N-Quads (RDFC-1.0, i.e. URDNA2015), from bundled contexts only.

    What `pyld.jsonld.normalize` does (JSON-LD to an RDF dataset, then URDNA2015), with the
    memos of `_Canonizer` and cheaper copies; `canonize_uncached` is the reference it is tested
    against, byte for byte.
    """
    plain = _plain_json(document)
    if plain is None:
        # The memos key values by their JSON text, which only plain JSON maps one to one.
        return canonize_uncached(document)
    try:
        dataset = _Canonizer().to_rdf(_PrivateCopy(plain), _options(produceGeneralizedRdf=False))
        return _Rdfc10().main(dataset, {"format": "application/n-quads"})
    except jsonld.JsonLdError as error:
        _raise_plainly(error)


def canonize_uncached(document: Mapping[str, Any]) -> str:
    """`canonize` as pyld alone does it (`jsonld.normalize`): slower, the reference."""
    try:
        return jsonld.JsonLdProcessor().normalize(
            dict(document),
            _options(algorithm="URDNA2015", format="application/n-quads"),
        )
    except jsonld.JsonLdError as error:
        _raise_plainly(error)


class _ContextMemo(jsonld.JsonLdProcessor):
    """A JSON-LD processor that processes each (active context, local context) pair once per
    process instead of at every node.

    pyld re-processes a type-scoped context (OB 3.0's `Achievement`, `AchievementSubject`, …) at
    every node of that type: with `propagate=False` it first clones the active context under a
    fresh `_uuid`, so its own processed-context cache, keyed by that id, never hits. Processing
    is a pure function of the active context, the local context and a few options, and pyld
    never changes an active context once built (it is a frozendict whose term definitions are
    never edited), so the result can be shared. An entry is keyed by the active context's
    identity (the entry holds it, so its id cannot be reused), the local context's JSON text (in
    its key order), the flags and the options that matter; only the top-level call, with the
    bundled-only loader, for an immutable active context is memoized. Errors are not cached.
    Relies on pyld 3.3's `_process_context` signature (pyproject pins pyld <3.4).
    """

    def __init__(self, memoize: bool = True) -> None:
        super().__init__()
        # False for a document that is not plain JSON (see `_plain_json`): pyld alone.
        self._memoize = memoize
        # The last context names were expanded against (most lookups repeat it) and its map.
        self._iris_context: Any = None
        self._iris: dict[tuple[str, Any], Any] = {}

    def _process_context(
        self,
        active_ctx,
        local_ctx,
        options,
        override_protected=False,
        propagate=True,
        validate_scoped=True,
        cycles=None,
    ):
        key = self._memoize and _memo_key(
            active_ctx, local_ctx, options, override_protected, propagate, validate_scoped, cycles
        )
        if key:
            entry = _PROCESSED.get(key)
            if entry is not None and entry[0] is active_ctx:
                return entry[1]
        processed = super()._process_context(
            active_ctx,
            local_ctx,
            options,
            override_protected=override_protected,
            propagate=propagate,
            validate_scoped=validate_scoped,
            cycles=cycles,
        )
        if key and isinstance(processed, _FROZEN_CONTEXT):
            _PROCESSED[key] = (active_ctx, processed)
        return processed

    def _expand_iri(self, active_ctx, value, base=None, vocab=False, local_ctx=None, defined=None):
        # Outside context processing (no local context, which would define terms on the way),
        # expanding a name against a finished context is a pure function of the two; ids and
        # other values (vocab false) are left alone: they differ in every document.
        if (
            not vocab
            or local_ctx
            or not self._memoize
            or not isinstance(active_ctx, _FROZEN_CONTEXT)
        ):
            return super()._expand_iri(active_ctx, value, base, vocab, local_ctx, defined)
        if active_ctx is self._iris_context:
            iris = self._iris
        else:
            entry = _TERM_IRIS.get(id(active_ctx))
            if entry is None or entry[0] is not active_ctx:
                entry = (active_ctx, {})
                _TERM_IRIS[id(active_ctx)] = entry
            self._iris_context, self._iris = entry
            iris = self._iris
        key = (value, base)
        try:
            return iris[key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value (not a name): nothing to remember
            return super()._expand_iri(active_ctx, value, base, vocab)
        iri = super()._expand_iri(active_ctx, value, base, vocab)
        if len(iris) < _TERM_IRIS_PER_CONTEXT:
            iris[key] = iri
        return iri


class _Canonizer(_ContextMemo):
    """The processor `canonize` uses: the context memo, plus the expansion of recurring values
    (`_SHARED_PROPERTIES`) remembered, keyed by their JSON text and everything else expansion
    depends on: the active and type-scoped contexts (by identity, held by the entry), the
    flags and the options that matter. Each use gets its own copy of the expanded value."""

    def _expand(
        self,
        active_ctx,
        active_property,
        element,
        options,
        inside_list=False,
        inside_index=False,
        type_scoped_ctx=None,
    ):
        key = None
        if (
            active_property in _SHARED_PROPERTIES
            and self._memoize
            and isinstance(element, dict)
            and isinstance(active_ctx, _FROZEN_CONTEXT)
            and (type_scoped_ctx is None or isinstance(type_scoped_ctx, _FROZEN_CONTEXT))
            and options.get("documentLoader") is load_bundled_context
        ):
            try:
                text = json.dumps(element, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError):
                text = None
            if text is not None:
                key = (
                    id(active_ctx),
                    id(type_scoped_ctx),
                    active_property,
                    text,
                    bool(inside_list),
                    bool(inside_index),
                    options.get("base"),
                    options.get("isFrame"),
                    options.get("keepFreeFloatingNodes"),
                    options.get("processingMode"),
                )
                entry = _EXPANDED.get(key)
                if entry is not None and entry[0] is active_ctx and entry[1] is type_scoped_ctx:
                    return _json_copy(entry[2])
        expanded = super()._expand(
            active_ctx,
            active_property,
            element,
            options,
            inside_list=inside_list,
            inside_index=inside_index,
            type_scoped_ctx=type_scoped_ctx,
        )
        if key is not None:
            _EXPANDED[key] = (active_ctx, type_scoped_ctx, _json_copy(expanded))
        return expanded


class _Rdfc10(URDNA2015):
    """pyld's URDNA2015 (RDFC-1.0), copying blank-node components the cheap way."""

    def modify_first_degree_component(self, id_, component, key):
        # A blank-node component is a flat dict of strings: a shallow copy is a deep one.
        if component["type"] != "blank node":
            return component
        return {**component, "value": "_:a" if component["value"] == id_ else "_:z"}


class _PrivateCopy(dict):
    """A document already copied for pyld (by `_plain_json`), so its deep copy before expanding
    need not walk it again: pyld's expansion reads its input, never changes it."""

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return dict(self)


class _NotPlainJson(Exception):
    pass


def _plain_json(document: Mapping[str, Any]) -> dict[str, Any] | None:
    """A copy of the document if it is plain JSON — objects with string keys, arrays, strings,
    numbers, booleans and null, of exactly those types, as read from a file — else None (e.g. a
    tuple, which JSON text would not tell from a list, but pyld does)."""
    try:
        return {_plain_key(key): _plain_value(value) for key, value in document.items()}
    except _NotPlainJson:
        return None


_PLAIN_SCALARS = (str, int, float, bool, type(None))


def _plain_key(key: Any) -> str:
    if type(key) is not str:
        raise _NotPlainJson
    return key


def _plain_value(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return value
    if kind is dict:
        return {_plain_key(key): _plain_value(item) for key, item in value.items()}
    if kind is list:
        return [_plain_value(item) for item in value]
    raise _NotPlainJson


def _json_copy(value: Any) -> Any:
    """A deep copy of an expanded value (JSON, as pyld builds it from a plain document)."""
    if isinstance(value, dict):
        return {key: _json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_copy(item) for item in value]
    if value is None or isinstance(value, str | int | float):
        return value
    return copy.deepcopy(value)


def _memo_key(
    active_ctx: Any,
    local_ctx: Any,
    options: Mapping[str, Any],
    override_protected: bool,
    propagate: bool,
    validate_scoped: bool,
    cycles: Any,
) -> tuple[Any, ...] | None:
    """The memo key of one context-processing call, or None when it must not be memoized: a
    nested call (scoped-context validation inside a context being built, whose active context is
    still being filled), a mutable active context, another document loader, or a local context
    that is not plain JSON."""
    if (
        cycles is not None
        or not isinstance(active_ctx, _FROZEN_CONTEXT)
        or options.get("documentLoader") is not load_bundled_context
    ):
        return None
    try:
        local = json.dumps(local_ctx, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return (
        id(active_ctx),
        local,
        bool(override_protected),
        bool(propagate),
        bool(validate_scoped),
        options.get("base"),
        options.get("processingMode"),
    )


def undefined_terms(document: Mapping[str, Any]) -> list[str]:
    """JSON paths of the properties and types the document's contexts do not define.

    pyld has no safe mode: a property no context defines is dropped from the RDF without a word
    (so it is not covered by a signature), and an undefined type becomes a made-up IRI. This
    expands the document while checking every key and `type` value against the context that is
    active at that node — after embedded, property-scoped and type-scoped contexts — and reports
    e.g. `credentialSubject.achievement.foo` or `credentialSubject.type=Foo`. A term that only
    an `@vocab` maps (VC 2.0's "issuer-dependent" namespace) counts as undefined.
    """
    plain = _plain_json(document)
    processor = _TermAuditor(memoize=plain is not None)
    try:
        processor.expand(dict(document) if plain is None else _PrivateCopy(plain), _options())
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


class _TermAuditor(_ContextMemo):
    """A JSON-LD processor that records undefined terms while it expands.

    Relies on pyld 3.3 internals (`_expand`, `_expand_object`, the active context's `mappings`);
    pyproject pins pyld <3.4 and the tests exercise every branch.
    """

    def __init__(self, memoize: bool = True) -> None:
        super().__init__(memoize)
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
