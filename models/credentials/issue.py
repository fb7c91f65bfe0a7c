"""The learner records the district issues: Open Badges 3.0 credentials bundled in a CLR 2.0
`ClrCredential`, built from what the warehouse knows, and signed `eddsa-rdfc-2022`. No I/O.

What a record holds, for one learner:

- every credential the learner holds from a credential platform: the original Open Badges 3.0
  credential, embedded as it was received, when it verified on ingest as signed JSON-LD; else an
  OB 3.0 credential the district issues attesting it, whose subject's `source` names the original
  issuer and whose evidence names the platform it came through;
- every competency the learner mastered, as an Achievement of type Competency aligned to its
  learning objective (a CASE `CFItem` where the source gives one), with the result that showed
  mastery;
- `association`s from each competency to the credentials that certify it (a credential aligned
  to the same CASE item).

The learner is named by an `IdentityObject`: their SIS sourcedId hashed with a per-learner salt
(derived from the district's secret, so salts cannot be predicted); a plain name or email only
when the caller passes one. Ids are stable: a uuid5 of the district, the learner's key (a keyed
hash of the sourcedId) and what the credential is for, so the same credential keeps its id night
after night. `content_hash` leaves out what changes every time a document is signed (`validFrom`,
`proof`), so an unchanged credential is never signed again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import resource
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import base58
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.credentials import jsonld, keys
from models.credentials.proofs import CRYPTOSUITE, PROOF_TYPE, document_hash, proof_options
from models.credentials.status import VC_V2_CONTEXT

OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CLR_CONTEXT = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"
OB3_CONTEXTS = (VC_V2_CONTEXT, OB3_CONTEXT)
CLR_CONTEXTS = (VC_V2_CONTEXT, CLR_CONTEXT, OB3_CONTEXT)
# Bump when a builder changes what it writes: every record is rebuilt (and re-signed if it differs).
BUILDER_VERSION = "1"
# What a document's content hash leaves out: what signing it again would change by itself.
_VOLATILE = ("validFrom", "proof")
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://pathways.example/learner-records")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


@dataclass(frozen=True)
class Issuer:
    """The district as the issuer of learner records, and the key method that signs them."""

    id: str  # did:key:… or did:web:…
    name: str
    url: str
    verification_method: str

    def profile(self) -> dict[str, Any]:
        """The issuer as an OB 3.0 Profile."""
        return {"id": self.id, "type": ["Profile"], "name": self.name, "url": self.url}


def district_issuer(
    name: str, url: str, private_key: Ed25519PrivateKey, did_web: str | None = None
) -> Issuer:
    """The district as issuer: its `did:web` when it publishes one (key method `#key-1`, which
    its did.json must list), else the `did:key` of its signing key."""
    public = private_key.public_key()
    if did_web:
        return Issuer(did_web, name, url, f"{did_web}#key-1")
    return Issuer(keys.did_key(public), name, url, keys.did_key_verification_method(public))


def did_web_document(did_web: str, private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """The DID document a district publishes at its did:web URL for its signing key."""
    method = f"{did_web}#key-1"
    return {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"],
        "id": did_web,
        "verificationMethod": [
            {
                "id": method,
                "type": "Multikey",
                "controller": did_web,
                "publicKeyMultibase": keys.public_key_multibase(private_key.public_key()),
            }
        ],
        "assertionMethod": [method],
    }


# --- learners and ids ------------------------------------------------------------------------


def learner_key(secret: str, sourced_id: str) -> str:
    """A learner's key in file names and audit tables: a keyed hash of the SIS sourcedId, which
    cannot be reversed (or guessed from a list of ids) without the district's secret."""
    return hmac.new(secret.encode(), f"learner|{sourced_id}".encode(), "sha256").hexdigest()[:32]


def learner_salt(secret: str, sourced_id: str) -> str:
    """The salt of one learner's hashed identity: derived from the district's secret, so each
    learner has their own and nobody can compute it in advance."""
    return hmac.new(secret.encode(), f"salt|{sourced_id}".encode(), "sha256").hexdigest()[:24]


def identity_object(identity_type: str, value: str, salt: str | None = None) -> dict[str, Any]:
    """An OB 3.0 IdentityObject: `sha256$hex(value ‖ salt)` when salted, else the plain value."""
    if salt is None:
        return {
            "type": "IdentityObject",
            "identityType": identity_type,
            "hashed": False,
            "identityHash": value,
        }
    digest = hashlib.sha256((value + salt).encode()).hexdigest()
    return {
        "type": "IdentityObject",
        "identityType": identity_type,
        "hashed": True,
        "identityHash": f"sha256${digest}",
        "salt": salt,
    }


@dataclass(frozen=True)
class LearnerIdentity:
    """How a record names its learner: the hashed sourcedId, and a plain name / email only when
    the district's config asks for them and the learner has no directory-information opt-out."""

    sourced_id_hash: Mapping[str, Any]
    name: str | None = None
    email: str | None = None

    def identifiers(self) -> list[dict[str, Any]]:
        """The subject's `identifier` list."""
        found = [dict(self.sourced_id_hash)]
        if self.name:
            found.append(identity_object("name", self.name))
        if self.email:
            found.append(identity_object("emailAddress", self.email))
        return found


def learner_identity(
    secret: str, sourced_id: str, name: str | None = None, email: str | None = None
) -> LearnerIdentity:
    """The identity a learner's record names: `sisSourcedId`, hashed with their salt."""
    return LearnerIdentity(
        identity_object("sisSourcedId", sourced_id, learner_salt(secret, sourced_id)),
        name=name,
        email=email,
    )


def stable_id(district_id: str, learner: str, item: str, generation: int = 0) -> str:
    """`urn:uuid:` of one credential the district issues a learner: the same every night for
    the same district, learner key and item; a new generation (after a revocation, which is
    final) gets a new id."""
    name = f"{district_id}|{learner}|{item}" + (f"|{generation}" if generation else "")
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, name)}"


def achievement_id(district_id: str, item: str) -> str:
    """`urn:uuid:` of an achievement the district defines (a competency, an attested badge
    without an id of its own); the same for every learner."""
    return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{district_id}|achievement|{item}')}"


def _uuid_of(value: str | None) -> str | None:
    found = _UUID.search(value or "")
    return found.group(0).lower() if found else None


def _is_uri(value: Any) -> bool:
    return isinstance(value, str) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$", value) is not None


# --- what the warehouse says a learner holds --------------------------------------------------


@dataclass(frozen=True)
class MasteredCompetency:
    """A learning objective a learner mastered, with the result that showed it."""

    learning_objective_id: str
    title: str | None
    is_case: bool  # the objective is a CASE item (learning_objective_source = 'case')
    source_system: str  # sis, oneroster_rest, canvas
    score: float
    value_min: float | None
    value_max: float | None
    mastery_threshold: float | None
    assessed_at: str | None  # ISO 8601

    @property
    def item(self) -> str:
        return f"competency|{self.learning_objective_id}"


@dataclass(frozen=True)
class HeldCredential:
    """A credential a learner holds from a credential platform (a row of core.credentials)."""

    credential_key: str
    source_platform: str  # ob3_api, badgr, credly, badge_files
    source: str
    credential_id: str | None
    achievement_id: str | None
    achievement_key: str | None
    achievement_name: str | None
    achievement_type: str | None
    achievement_description: str | None
    criteria: str | None
    alignments: Sequence[Mapping[str, Any]]
    issuer_id: str | None
    issuer_name: str | None
    awarded_at: str | None
    valid_until: str | None
    verification_status: str
    evidence: Sequence[str] = ()
    # The credential as received, when it verified as signed OB 3.0 JSON-LD: embedded as-is.
    original: Mapping[str, Any] | None = None

    @property
    def item(self) -> str:
        return f"held|{self.credential_key}"

    def case_item_uuids(self) -> set[str]:
        """The UUIDs of the CASE items it is aligned to."""
        return {
            found
            for alignment in self.alignments
            if alignment.get("target_type") == "CFItem"
            and (found := _uuid_of(alignment.get("target_url")))
        }


def embeddable(original: Any) -> bool:
    """Whether a received credential can go into a CLR as it is: VC 2.0 Open Badges 3.0 JSON-LD
    with a Data Integrity proof that names its learner only by hashed identities (a VC-JWT, a
    VC 1.1 credential, or one naming the learner by a plain email, name or id is attested
    instead, so a record never carries what the district would not write itself)."""
    if not isinstance(original, Mapping) or not original.get("proof"):
        return False
    contexts = original.get("@context")
    types = original.get("type")
    types = types if isinstance(types, list) else [types]
    return (
        isinstance(contexts, list)
        and contexts[:1] == [VC_V2_CONTEXT]
        and bool({"AchievementCredential", "OpenBadgeCredential"} & set(types))
        and _names_learner_by_hashes_only(original.get("credentialSubject"))
    )


def _names_learner_by_hashes_only(subject: Any) -> bool:
    if isinstance(subject, list):
        return all(_names_learner_by_hashes_only(s) for s in subject)
    if not isinstance(subject, Mapping):
        return False
    subject_id = subject.get("id")
    if isinstance(subject_id, str) and not subject_id.startswith("did:"):
        return False
    identifiers = subject.get("identifier") or []
    identifiers = identifiers if isinstance(identifiers, list) else [identifiers]
    return all(isinstance(i, Mapping) and i.get("hashed") is True for i in identifiers)


# --- builders ---------------------------------------------------------------------------------


def _number(value: float | None) -> str | None:
    if value is None:
        return None
    return f"{value:g}"


def competency_credential(
    *,
    id: str,
    district_id: str,
    issuer: Issuer,
    identity: LearnerIdentity,
    competency: MasteredCompetency,
    status: Mapping[str, Any] | None,
    valid_from: str,
) -> dict[str, Any]:
    """An OB 3.0 AchievementCredential: the learner mastered this competency, with the result."""
    achievement = achievement_id(district_id, competency.item)
    title = competency.title or competency.learning_objective_id
    threshold = _number(competency.mastery_threshold)
    value_max = _number(competency.value_max)
    result_description = {
        "id": f"{achievement}:mastery",
        "type": ["ResultDescription"],
        "name": "Mastery score",
        "resultType": "RawScore",
    }
    if competency.value_min is not None:
        result_description["valueMin"] = _number(competency.value_min)
    if value_max is not None:
        result_description["valueMax"] = value_max
    if threshold is not None:
        result_description["requiredValue"] = threshold
    criteria = "A fully graded result at or above the mastery threshold"
    if threshold is not None and value_max is not None:
        criteria += f" ({threshold} of {value_max})"
    definition: dict[str, Any] = {
        "id": achievement,
        "type": ["Achievement"],
        "achievementType": "Competency",
        "name": title,
        "description": f"Mastery of the learning objective {title}, shown by assessed evidence.",
        "criteria": {"narrative": f"{criteria}."},
        "creator": issuer.profile(),
        "resultDescription": [result_description],
    }
    if _is_uri(competency.learning_objective_id):
        alignment = {
            "type": ["Alignment"],
            "targetName": title,
            "targetUrl": competency.learning_objective_id,
        }
        if competency.is_case:
            alignment["targetType"] = "CFItem"
        definition["alignment"] = [alignment]
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": identity.identifiers(),
        "achievement": definition,
        "result": [
            {
                "type": ["Result"],
                "resultDescription": result_description["id"],
                "value": _number(competency.score),
                "status": "Completed",
            }
        ],
    }
    credential: dict[str, Any] = {
        "@context": list(OB3_CONTEXTS),
        "id": id,
        "type": ["VerifiableCredential", "AchievementCredential"],
        "name": f"Competency: {title}",
        "issuer": issuer.profile(),
        "validFrom": valid_from,
        "credentialSubject": subject,
    }
    if competency.assessed_at:
        credential["awardedDate"] = competency.assessed_at
    if status is not None:
        credential["credentialStatus"] = dict(status)
    return credential


_PLATFORM_NAMES = {
    "ob3_api": "an Open Badges 3.0 platform",
    "badgr": "Badgr / Canvas Credentials",
    "credly": "Credly",
    "badge_files": "the district's badge folder",
}


def attestation_credential(
    *,
    id: str,
    district_id: str,
    issuer: Issuer,
    identity: LearnerIdentity,
    held: HeldCredential,
    status: Mapping[str, Any] | None,
    valid_from: str,
) -> dict[str, Any]:
    """An OB 3.0 AchievementCredential by which the district attests a credential the learner
    holds from elsewhere; the subject's `source` names the original issuer, the evidence the
    platform it came through and how it was checked."""
    name = held.achievement_name or "Credential"
    original_achievement = held.achievement_id if _is_uri(held.achievement_id) else None
    definition: dict[str, Any] = {
        "id": original_achievement or achievement_id(district_id, f"held|{held.achievement_key}"),
        "type": ["Achievement"],
        "achievementType": held.achievement_type or "Badge",
        "name": name,
        "description": held.achievement_description or name,
        "criteria": _criteria(held.criteria),
    }
    original_issuer = _original_issuer(held)
    definition["creator"] = original_issuer
    alignments = [_alignment(a) for a in held.alignments]
    alignments = [a for a in alignments if a]
    if alignments:
        definition["alignment"] = alignments
    platform = _PLATFORM_NAMES.get(held.source_platform, held.source_platform)
    evidence: dict[str, Any] = {
        "type": ["Evidence"],
        "name": f"Received through {platform} ({held.source})",
        "description": (
            f"Issued by {held.issuer_name or held.issuer_id or 'an unnamed issuer'}"
            + (f" on {held.awarded_at[:10]}" if held.awarded_at else "")
            + f"; received through {platform}, and found "
            + held.verification_status.replace("_", " ")
            + " when the district checked it."
        ),
    }
    if _is_uri(held.credential_id):
        evidence["id"] = held.credential_id
    subject: dict[str, Any] = {
        "type": ["AchievementSubject"],
        "identifier": identity.identifiers(),
        "achievement": definition,
        "source": original_issuer,
    }
    credential: dict[str, Any] = {
        "@context": list(OB3_CONTEXTS),
        "id": id,
        "type": ["VerifiableCredential", "AchievementCredential"],
        "name": name,
        "issuer": issuer.profile(),
        "validFrom": valid_from,
        "credentialSubject": subject,
        "evidence": [evidence],
    }
    if held.awarded_at:
        credential["awardedDate"] = held.awarded_at
    if held.valid_until:
        credential["validUntil"] = held.valid_until
    if status is not None:
        credential["credentialStatus"] = dict(status)
    return credential


def _criteria(criteria: str | None) -> dict[str, str]:
    if criteria and _is_uri(criteria) and criteria.startswith(("http://", "https://")):
        return {"id": criteria}
    return {"narrative": criteria or "As set by the original issuer."}


def _original_issuer(held: HeldCredential) -> dict[str, Any]:
    issuer_id = held.issuer_id if _is_uri(held.issuer_id) else None
    profile: dict[str, Any] = {
        "id": issuer_id
        or f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'issuer|{held.issuer_name}|{held.source}')}",
        "type": ["Profile"],
    }
    if held.issuer_name:
        profile["name"] = held.issuer_name
    return profile


def _alignment(alignment: Mapping[str, Any]) -> dict[str, Any] | None:
    url, name = alignment.get("target_url"), alignment.get("target_name")
    if not _is_uri(url) or not name:
        return None
    out: dict[str, Any] = {"type": ["Alignment"], "targetName": name, "targetUrl": url}
    for key, field_name in (
        ("target_type", "targetType"),
        ("target_framework", "targetFramework"),
        ("target_code", "targetCode"),
        ("target_description", "targetDescription"),
    ):
        if alignment.get(key):
            out[field_name] = alignment[key]
    if out.get("targetType") not in (
        None,
        "CFItem",
        "CFRubric",
        "CFRubricCriterion",
        "CFRubricCriterionLevel",
        "CTDL",
    ) and not str(out.get("targetType", "")).startswith("ext:"):
        out["targetType"] = f"ext:{re.sub(r'[^A-Za-z0-9._-]', '', str(out['targetType']))}"
    return out


def achievement_id_of(credential: Mapping[str, Any]) -> str | None:
    """The id of the achievement an OB 3.0 credential is for."""
    subject = credential.get("credentialSubject")
    if isinstance(subject, list) and subject:
        subject = subject[0]
    achievement = subject.get("achievement") if isinstance(subject, Mapping) else None
    if isinstance(achievement, Mapping) and isinstance(achievement.get("id"), str):
        return achievement["id"]
    return None


def associations(
    district_id: str,
    competencies: Iterable[MasteredCompetency],
    held: Iterable[tuple[HeldCredential, str | None]],
) -> list[dict[str, Any]]:
    """CLR associations from each mastered competency to the credentials certifying it: a held
    credential aligned to the same CASE item. `held` pairs each credential with the id of the
    achievement it appears under in the record. A certifying Competency credential is an exact
    match; a broader badge is the competency's parent."""
    by_case: dict[str, list[tuple[HeldCredential, str]]] = {}
    for credential, achievement in held:
        if achievement:
            for case_uuid in credential.case_item_uuids():
                by_case.setdefault(case_uuid, []).append((credential, achievement))
    found: list[dict[str, Any]] = []
    for competency in competencies:
        case_uuid = _uuid_of(competency.learning_objective_id)
        source = achievement_id(district_id, competency.item)
        for credential, target in by_case.get(case_uuid or "", []):
            kind = "exactMatchOf" if credential.achievement_type == "Competency" else "isChildOf"
            entry = {
                "type": "Association",
                "associationType": kind,
                "sourceId": source,
                "targetId": target,
            }
            if entry not in found:
                found.append(entry)
    return found


def clr_credential(
    *,
    id: str,
    issuer: Issuer,
    identity: LearnerIdentity,
    credentials: Sequence[Mapping[str, Any]],
    association: Sequence[Mapping[str, Any]],
    status: Mapping[str, Any] | None,
    valid_from: str,
    name: str,
) -> dict[str, Any]:
    """The CLR 2.0 ClrCredential of one learner, holding their OB 3.0 credentials (signed)."""
    subject: dict[str, Any] = {
        "type": ["ClrSubject"],
        "identifier": identity.identifiers(),
        "verifiableCredential": [dict(c) for c in credentials],
    }
    if association:
        subject["association"] = [dict(a) for a in association]
    credential: dict[str, Any] = {
        "@context": list(CLR_CONTEXTS),
        "id": id,
        "type": ["VerifiableCredential", "ClrCredential"],
        "name": name,
        "issuer": issuer.profile(),
        "validFrom": valid_from,
        "credentialSubject": subject,
    }
    if status is not None:
        credential["credentialStatus"] = dict(status)
    return credential


# --- content hashes ---------------------------------------------------------------------------


def _canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def content_hash(document: Mapping[str, Any]) -> str:
    """SHA-256 of a credential as the district would sign it, less what signing changes by
    itself (`validFrom`, `proof`). A CLR's nested credentials count by their own content hash,
    so re-signing a nested credential does not change its CLR's. A credential issued by someone
    else counts whole (its proof is part of what it is)."""
    return hashlib.sha256(_canonical_json(_content(document))).hexdigest()


def original_content_hash(document: Mapping[str, Any]) -> str:
    """SHA-256 of a credential received from elsewhere, proof included."""
    return hashlib.sha256(_canonical_json(document)).hexdigest()


def _content(document: Mapping[str, Any]) -> dict[str, Any]:
    content = {k: v for k, v in document.items() if k not in _VOLATILE}
    subject = content.get("credentialSubject")
    if isinstance(subject, Mapping) and isinstance(subject.get("verifiableCredential"), list):
        nested = [
            original_content_hash(c)
            if isinstance(c, Mapping) and proof_issuer_differs(c, document)
            else content_hash(c)
            for c in subject["verifiableCredential"]
        ]
        content["credentialSubject"] = {**subject, "verifiableCredential": nested}
    return content


def proof_issuer_differs(credential: Mapping[str, Any], outer: Mapping[str, Any]) -> bool:
    """Whether a nested credential was issued by someone other than the CLR's issuer."""
    return _issuer_id(credential) != _issuer_id(outer)


def _issuer_id(document: Mapping[str, Any]) -> Any:
    issuer = document.get("issuer")
    return issuer.get("id") if isinstance(issuer, Mapping) else issuer


# --- signing ----------------------------------------------------------------------------------


@dataclass
class RecordSigner:
    """Signs the night's credentials `eddsa-rdfc-2022` with one key, one `created` time and one
    verification method, so the canonical hash of the proof options (the same for every
    credential with the same @context) is computed once per context, not once per credential.
    Produces exactly what `proofs.sign_data_integrity(..., proof_array=True)` would."""

    private_key: Ed25519PrivateKey
    verification_method: str
    created: str
    _options_hashes: dict[tuple[str, ...], bytes] = field(default_factory=dict, repr=False)
    signed: int = 0

    def _proof(self) -> dict[str, Any]:
        return {
            "type": PROOF_TYPE,
            "created": self.created,
            "verificationMethod": self.verification_method,
            "cryptosuite": CRYPTOSUITE,
            "proofPurpose": "assertionMethod",
        }

    def _options_hash(self, document: Mapping[str, Any]) -> bytes:
        context = document.get("@context")
        key = tuple(context) if isinstance(context, list) else (json.dumps(context),)
        cached = self._options_hashes.get(key)
        if cached is None:
            options = proof_options(document, self._proof())
            cached = hashlib.sha256(jsonld.canonize(options).encode()).digest()
            self._options_hashes[key] = cached
        return cached

    def sign(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of the (unsigned) document with its proof, as a one-item array."""
        unsigned = {k: v for k, v in document.items() if k != "proof"}
        signature = self.private_key.sign(self._options_hash(unsigned) + document_hash(unsigned))
        proof = self._proof()
        proof["proofValue"] = "z" + base58.b58encode(signature).decode()
        self.signed += 1
        return {**unsigned, "proof": [proof]}


@dataclass
class RecordJob:
    """What signing one learner's record takes, as handed to a signing process."""

    key: str
    nested: list[tuple[dict[str, Any], bool]]  # (credential, needs signing)
    clr: dict[str, Any] | None  # unsigned, its nested credentials left out; None: not re-signed
    partners: list[tuple[str, dict[str, Any], list[int]]]  # (partner, unsigned CLR, nested idx)
    vc_jwt: bool


class RecordJobSigner:
    """Signs learner records: the nested credentials that changed, then the CLR around them
    (and each partner's CLR), optionally as a VC-JWT too. Returns the files' text."""

    def __init__(self, private_key: Ed25519PrivateKey, verification_method: str, created: str):
        self.signer = RecordSigner(private_key, verification_method, created)
        self.private_key = private_key
        self.verification_method = verification_method

    def run(self, job: RecordJob) -> dict[str, Any]:
        """The signed record of one learner: `clr` (JSON text), `clr_jwt`, `partners`
        (partner id → JSON text) and how many `signatures` it took."""
        # Imported here: jws imports proofs, which this module's signing path does not need.
        from models.credentials.jws import sign_vc_jwt

        before, started = self.signer.signed, time.process_time()
        nested = [self.signer.sign(doc) if needs else doc for doc, needs in job.nested]
        result: dict[str, Any] = {"key": job.key, "partners": {}}
        if job.clr is not None:
            subject = {**job.clr["credentialSubject"], "verifiableCredential": nested}
            signed = self.signer.sign({**job.clr, "credentialSubject": subject})
            result["clr"] = record_text(signed)
            if job.vc_jwt:
                unsigned = {k: v for k, v in signed.items() if k != "proof"}
                result["clr_jwt"] = sign_vc_jwt(
                    unsigned, self.private_key, self.verification_method
                )
        for partner_id, partner_clr, picked in job.partners:
            subject = {
                **partner_clr["credentialSubject"],
                "verifiableCredential": [nested[i] for i in picked],
            }
            signed = self.signer.sign({**partner_clr, "credentialSubject": subject})
            result["partners"][partner_id] = record_text(signed)
        result["signatures"] = self.signer.signed - before
        # CPU seconds, so throughput per core can be told apart from a busy machine's wall time;
        # and this process's peak memory, since the parent cannot see it.
        result["cpu"] = time.process_time() - started
        result["peak_kib"] = _peak_memory_kib()
        return result


def _peak_memory_kib() -> int:
    """This process's peak resident memory. Linux's VmHWM, where there is one: ru_maxrss keeps
    the peak of the process a spawned worker was forked from before it exec'd."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def record_text(document: Mapping[str, Any]) -> str:
    """A signed credential as the file that holds it."""
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


# One signer per signing process (`init_signing_worker`), so the proof options are hashed once.
_WORKER: RecordJobSigner | None = None


def init_signing_worker(secret_key: str, verification_method: str, created: str) -> None:
    """Set up a signing process with the night's key, method and `created` time."""
    global _WORKER
    _WORKER = RecordJobSigner(
        keys.private_key_from_multibase(secret_key), verification_method, created
    )


def sign_record_jobs(jobs: list[RecordJob]) -> list[dict[str, Any]]:
    """Sign a batch of learner records in a signing process."""
    if _WORKER is None:
        raise RuntimeError("init_signing_worker was not called in this process")
    return [_WORKER.run(job) for job in jobs]
