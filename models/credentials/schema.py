"""Validation against the official 1EdTech JSON schemas bundled in `schemas/` (Draft 2019-09).

Schemas are registered by the URL `schemas/index.json` gives them, never by their declared
`$id`: the JSON-LD variants declare the formal schemas' `/json/` URLs, so registering by `$id`
would silently swap one for the other. Nothing is fetched: an unknown `$ref` fails.

Which schema: AchievementCredential / OpenBadgeCredential → the formal OB 3.0 schema;
EndorsementCredential → the formal endorsement schema; ClrCredential → the CLR 2.0 JSON-LD
schema (the formal CLR schema was not found). The formal schemas want `proof` as an array; a
single proof object (valid JSON-LD, accepted by the JSON-LD variants) is only a warning.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft201909Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT201909

from models.credentials.record import Check

SCHEMAS_DIR = Path(__file__).parent / "schemas"
_BASE = "https://purl.imsglobal.org/spec"
ACHIEVEMENT_SCHEMA = f"{_BASE}/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
ENDORSEMENT_SCHEMA = f"{_BASE}/ob/v3p0/schema/json/ob_v3p0_endorsementcredential_schema.json"
CLR_SCHEMA = f"{_BASE}/clr/v2p0/schema/json/clr_v2p0_clrcredential_schema.json"
VC_V1_CONTEXT = "https://www.w3.org/2018/credentials/v1"

# How many schema errors a check message lists before "and N more".
_ERRORS_SHOWN = 3


@cache
def _registry() -> Registry:
    index = json.loads((SCHEMAS_DIR / "index.json").read_text(encoding="utf-8"))
    resources = [
        (url, Resource.from_contents(_load(entry["file"]), default_specification=DRAFT201909))
        for url, entry in index.items()
    ]
    return Registry().with_resources(resources)


@cache
def _load(file: str) -> dict[str, Any]:
    return json.loads((SCHEMAS_DIR / file).read_text(encoding="utf-8"))


@cache
def validator(schema_url: str) -> Draft201909Validator:
    """A compiled validator for a bundled schema, by its URL in `schemas/index.json`."""
    schema = _registry().contents(schema_url)
    return Draft201909Validator(schema, registry=_registry())


def schema_for(credential: Mapping[str, Any]) -> str | None:
    """The URL of the bundled schema a credential's type calls for, or None."""
    types = credential.get("type")
    types = set(types) if isinstance(types, list) else {types}
    if "ClrCredential" in types:
        return CLR_SCHEMA
    if "EndorsementCredential" in types:
        return ENDORSEMENT_SCHEMA
    if types & {"AchievementCredential", "OpenBadgeCredential"}:
        return ACHIEVEMENT_SCHEMA
    return None


def schema_errors(credential: Mapping[str, Any], schema_url: str) -> list[str]:
    """Every schema error as "path: message", most specific first."""
    errors = sorted(
        validator(schema_url).iter_errors(credential),
        key=lambda error: (list(error.absolute_path) == [], str(list(error.absolute_path))),
    )
    return [f"{_path(error.absolute_path)}: {_short(error.message)}" for error in errors]


def _path(parts: Any) -> str:
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def _short(message: str, limit: int = 160) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


def _summary(errors: list[str]) -> str:
    shown = "; ".join(errors[:_ERRORS_SHOWN])
    more = len(errors) - _ERRORS_SHOWN
    return f"{shown}; and {more} more" if more > 0 else shown


def check_schema(credential: Mapping[str, Any]) -> list[Check]:
    """The "schema" check of a credential against its official 1EdTech schema."""
    schema_url = schema_for(credential)
    if schema_url is None:
        return [Check("schema", "skip", "no bundled 1EdTech schema for this credential type")]
    name = schema_url.rsplit("/", 1)[-1]
    errors = schema_errors(credential, schema_url)
    if not errors:
        return [Check("schema", "pass", f"valid against the official schema {name}")]
    contexts = credential.get("@context")
    if isinstance(contexts, list) and contexts and contexts[0] == VC_V1_CONTEXT:
        # OB 3.0 final is built on VC 2.0; a credential made under VC 1.1 (issuanceDate, the
        # 2018 context) predates the schema, so its differences are reported, not held against it.
        return [
            Check(
                "schema",
                "warn",
                f"uses the VC 1.1 data model, which predates the official schema {name}; "
                f"differences: {_summary(errors)}",
            )
        ]
    proof = credential.get("proof")
    if isinstance(proof, Mapping) and schema_url != CLR_SCHEMA:
        as_array = schema_errors({**credential, "proof": [proof]}, schema_url)
        if not as_array:
            return [
                Check(
                    "schema",
                    "warn",
                    f"proof is a single object where the official schema {name} wants an array "
                    "(valid JSON-LD; the schema's JSON-LD variant accepts it)",
                )
            ]
        errors = as_array
    return [
        Check(
            "schema",
            "fail",
            f"does not match the official schema {name}: {_summary(errors)}",
            "schema_invalid",
        )
    ]
