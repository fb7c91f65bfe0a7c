"""The sample badge platform's data: the credentials a generated district's learners earned on its
credential platforms, written once into the district folder.

`write_badge_folder(district_dir)` reads the district's learners (`sis/oneroster/users.csv`,
role student) and its competency framework and writes three folders:

- `badges/` — the district's badge folder, as learners hand badges in: Open Badges 2.0
  assertions as JSON, OB 3.0 credentials as JSON (Data Integrity proof) and as `.jwt` (VC-JWT),
  baked PNGs (iTXt `openbadges` for 2.0, `openbadgecredential` for 3.0) and baked SVGs
  (`<openbadges:assertion verify=…>` / `<openbadges:credential>`), one corrupt file and one image
  that is no badge at all. The pipeline reads it (`badge_files` source).
- `trust/` — what the district caches so verification needs no network: the `did:web` DID
  document of the partner issuer, the district's signed status list credentials, its 1EdTech
  revocation list, and the OB 2.0 hosted assertions, badge classes and issuers some of the
  folder's and Badgr's assertions point to. The pipeline reads it (`verification.trust_dir`).
- `badge_platform/` — the platforms' own records, which `SampleBadgePlatform` serves (the OB 3.0
  API's credentials, Badgr's issuers, badge classes and assertions, Credly's organization,
  templates and badges) and `expected_outcomes.json`, the ground truth: for every credential
  its platform, id, intended verification status, intended learner and how that learner is
  matched. The pipeline never reads this folder.

Issuers. The district issues OB 3.0 credentials (MicroCredential, Badge, and Competency aligned
to its competency framework's CASE items, `targetType` CFItem) as `did:key` from an Ed25519 key
derived from the seed; learners are named by IdentityObjects: `sisSourcedId` (plain), hashed
`emailAddress` (`sha256$…` with a salt), a few `userName` or plain email. A Credly-like career
consortium signs OB 3.0 exports as `did:web` (its DID document is in `trust/`); a summer camp
signs as another `did:web` whose document is not cached (so: unresolved_key). Badgr holds OB 2.0
assertions of two district issuers (plain and hashed emails); Credly the consortium's badges
(issuer_earner_id = the SIS sourcedId, or only recipient_email).

Size. Per platform a deterministic draw picks about 10–13% of the learners (Credly: mostly high
school), at most `MAX_AWARDED_LEARNERS`, each earning one or two credentials; the folder holds
about one file per hundred learners (at most `MAX_FOLDER_FILES`) besides its fixed cases. On top,
every platform always has its deliberate cases (expired, revoked, tampered, unsigned, unknown
context, unmatched recipients…), so even a one-learner district exercises every outcome. A
2,000-learner district gets about 770 credentials in under a second; at 100,000 learners the caps
hold it to about 18,500 in 3 seconds. A Data Integrity proof canonicalizes the document with pyld
(measured 2–3 ms with the bundled contexts cached; 10–50 ms is common without), so every other
routine API credential is signed that way, at most `MAX_DATA_INTEGRITY_SIGNED`, and the rest are
VC-JWTs (one Ed25519 signature, no canonicalization). Proofs are memoized per process, so a test
session that generates the same small district again does not sign it again.

Time. Every credential was issued between `ISSUED_FROM` and `ISSUED_UNTIL`; expired ones expired
before `OUTCOMES_HOLD_FROM`; none of the others expires before `OUTCOMES_HOLD_UNTIL`. The
intended statuses hold for any verification time in between. The same seed and district folder
always give the same bytes.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import io
import json
import random
import shutil
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import png
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.credentials.jws import sign_vc_jwt
from models.credentials.keys import did_key, did_key_verification_method, public_key_multibase
from models.credentials.ob2 import hash_identity
from models.credentials.proofs import sign_data_integrity
from models.credentials.status import bitstring_status_list_credential, encode_status_list
from sample_district.generate import COMPETENCY_SETS, FAMILY_NAMES, GIVEN_NAMES, sample_competencies

BADGE_FOLDER = "badges"
TRUST_FOLDER = "trust"
PLATFORM_FOLDER = "badge_platform"  # the platforms' records and the ground truth; never read
OUTCOMES_FILE = "expected_outcomes.json"
BADGE_FILES_SOURCE = "badge_folder"  # its source name in pathways.yaml
OB3_FILE = "ob3_credentials.json"
BADGR_FILE = "badgr.json"
CREDLY_FILE = "credly.json"

OB3_CONTEXTS = (
    "https://www.w3.org/ns/credentials/v2",
    "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
)
# Defines 1EdTechRevocationList (and 1EdTechCredentialRefresh); bundled.
OB3_EXTENSIONS_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
OB2_CONTEXT = "https://w3id.org/openbadges/v2"
DID_CONTEXTS = ("https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1")
OB2_SVG_NAMESPACE = "http://openbadges.org"
OB3_SVG_NAMESPACE = "https://purl.imsglobal.org/ob/v3p0"

ISSUED_FROM = datetime(2025, 9, 2, 14, tzinfo=UTC)
ISSUED_UNTIL = datetime(2026, 10, 28, 22, tzinfo=UTC)
OUTCOMES_HOLD_FROM = datetime(2026, 11, 1, tzinfo=UTC)
OUTCOMES_HOLD_UNTIL = datetime(2031, 1, 1, tzinfo=UTC)

# Share of learners each platform awards, by school level (elementary, middle, high).
AWARD_SHARES = {
    "ob3_api": (0.12, 0.12, 0.12),
    "badgr": (0.1, 0.1, 0.1),
    "credly": (0.0, 0.06, 0.3),  # industry badges: high school
}
MAX_AWARDED_LEARNERS = 5_000  # per platform, so a million-learner district stays quick
MAX_DATA_INTEGRITY_SIGNED = 1_000  # routine API credentials signed with a Data Integrity proof
MAX_FOLDER_FILES = 200  # routine files in the badge folder
STATUS_LIST_LENGTH = 131_072  # 16 KB uncompressed, the Bitstring Status List minimum


@dataclass(frozen=True)
class Learner:
    """A learner of the SIS export, as the platforms know them."""

    sourced_id: str
    username: str
    email: str
    given_name: str
    family_name: str
    grade: str


@dataclass(frozen=True)
class Outcome:
    """The ground truth for one generated credential."""

    platform: str  # ob3_api | badgr | credly | badge_files
    id: str  # credential id / Badgr entityId / Credly badge id / (files) the credential's id
    status: str  # intended verification status (one of VERIFICATION_STATUSES)
    learner: str | None  # intended learner's sourcedId; None when it matches no learner
    # sis_id | issuer_earner_id | username | email | hashed_email (as core.credentials.link_method
    # names them); None when it matches no learner
    match: str | None
    format: str  # json-ld | jws | badgr | credly | ob2-json | png (the image that is no badge)
    case: str  # why it is there, in a few words
    path: str | None = None  # badge_files: the file, relative to the district folder


@dataclass(frozen=True)
class BadgeFolderSummary:
    """What `write_badge_folder` wrote."""

    badge_dir: Path
    trust_dir: Path
    platform_dir: Path
    counts: dict[str, dict[str, int]]  # platform → intended status → credentials


def write_badge_folder(district_dir: Path, *, seed: int = 42) -> BadgeFolderSummary:
    """Write the district's badge folder, trust folder and badge platform records (see the
    module docstring), replacing any written before; deterministic for a seed."""
    district_dir = Path(district_dir)
    generator = _Generator(district_dir, seed)
    generator.run()
    counts: dict[str, dict[str, int]] = {}
    for outcome in generator.outcomes:
        per_status = counts.setdefault(outcome.platform, {})
        per_status[outcome.status] = per_status.get(outcome.status, 0) + 1
    return BadgeFolderSummary(
        badge_dir=district_dir / BADGE_FOLDER,
        trust_dir=district_dir / TRUST_FOLDER,
        platform_dir=district_dir / PLATFORM_FOLDER,
        counts=counts,
    )


def expected_outcomes(district_dir: Path) -> list[dict[str, Any]]:
    """The ground truth for every credential of the district's badge platforms and folder: dicts
    with platform, id, status, learner, match, format, case and path (see `Outcome`)."""
    path = Path(district_dir) / PLATFORM_FOLDER / OUTCOMES_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no badge data; run write_badge_folder first")
    return json.loads(path.read_text(encoding="utf-8"))


def badge_files_source() -> dict[str, Any]:
    """The `sources.credentials` entry of a generated district's badge folder."""
    return {"kind": "badge_files", "name": BADGE_FILES_SOURCE, "path": BADGE_FOLDER}


@dataclass(frozen=True)
class PlatformRecords:
    """What the sample badge platform serves, as `write_badge_folder` stored it."""

    ob3: list[dict[str, Any]]  # {"issued": ISO, "credential": {...}} or {"issued", "compactJws"}
    badgr: dict[str, Any]  # {"issuers": [...], "badgeclasses": [...], "assertions": [...]}
    credly: dict[str, Any]  # {"organization": {...}, "badge_templates": [...], "badges": [...]}


def load_platform_records(district_dir: Path, *, seed: int = 42) -> PlatformRecords:
    """The stored platform records of a district, written first if the folder has none (a
    district generated before the badge platform existed)."""
    folder = Path(district_dir) / PLATFORM_FOLDER
    if not all((folder / name).is_file() for name in (OB3_FILE, BADGR_FILE, CREDLY_FILE)):
        write_badge_folder(district_dir, seed=seed)

    def read(name: str) -> Any:
        return json.loads((folder / name).read_text(encoding="utf-8"))

    return PlatformRecords(ob3=read(OB3_FILE), badgr=read(BADGR_FILE), credly=read(CREDLY_FILE))


# Keys, signing -------------------------------------------------------------------------------


def sample_private_key(seed: int, district_id: str, name: str) -> Ed25519PrivateKey:
    """The Ed25519 key of a sample issuer: a pure function of the seed, district and issuer (for
    sample data only: anyone can derive it)."""
    material = f"pathways-sample-badges/{seed}/{district_id}/{name}".encode()
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(material).digest())


# Proofs by (document, key, method): a test session generates the same small districts often.
_PROOF_CACHE: dict[str, Any] = {}
_PROOF_CACHE_LIMIT = 20_000


def _data_integrity(
    document: Mapping[str, Any], key: Ed25519PrivateKey, method: str, created: str
) -> dict[str, Any]:
    digest = hashlib.sha256(
        json.dumps([document, method, created, public_key_multibase(key.public_key())]).encode()
    ).hexdigest()
    proof = _PROOF_CACHE.get(digest)
    if proof is None:
        proof = sign_data_integrity(document, key, method, created=created)["proof"]
        if len(_PROOF_CACHE) >= _PROOF_CACHE_LIMIT:
            _PROOF_CACHE.clear()
        _PROOF_CACHE[digest] = proof
    return {**document, "proof": copy.deepcopy(proof)}


@dataclass
class _Ob3Issuer:
    """An OB 3.0 issuer: its DID, key and Profile."""

    did: str
    key: Ed25519PrivateKey
    method: str  # verification method URL
    profile: dict[str, Any]


# Catalogues ----------------------------------------------------------------------------------

# (slug, achievementType, name, description, criteria)
DISTRICT_ACHIEVEMENTS = (
    ("digital-literacy", "MicroCredential", "Digital Literacy Foundations",
     "Uses devices, files, search and online safety practices independently.",
     "Completes the six digital literacy modules and a practical assessment."),
    ("financial-literacy", "MicroCredential", "Personal Finance Essentials",
     "Builds a budget, compares credit options and explains saving and investing.",
     "Completes the personal finance unit with a passing capstone budget."),
    ("intro-coding", "MicroCredential", "Introduction to Programming",
     "Writes, tests and explains small programs using variables, loops and functions.",
     "Submits three working programs reviewed by a computer science teacher."),
    ("workplace-safety", "MicroCredential", "Workplace Safety Basics",
     "Identifies hazards and follows safety procedures in a shop or lab setting.",
     "Passes the district safety assessment with 80% or more."),
    ("peer-tutor", "Badge", "Peer Tutor",
     "Tutored younger learners for a semester.",
     "Logs twenty tutoring sessions confirmed by the supervising teacher."),
    ("reading-challenge", "Badge", "Reading Challenge",
     "Read and reflected on twenty-five books in a school year.",
     "Completes the reading log with teacher sign-off."),
    ("science-fair", "Badge", "Science Fair Presenter",
     "Designed an investigation and presented it at the district science fair.",
     "Presents a complete project to the judging panel."),
    ("student-leadership", "Badge", "Student Leadership",
     "Served on student council or led a school club for a full year.",
     "Nominated by the club or council advisor."),
)  # fmt: skip

# (slug, name, description, skills) of the career consortium's Credly templates.
CONSORTIUM_TEMPLATES = (
    ("safety-awareness-10", "Industry Safety Awareness (10-hour)",
     "Completed ten hours of general industry safety awareness training.",
     ("Hazard Recognition", "Personal Protective Equipment")),
    ("customer-service", "Customer Service Fundamentals",
     "Demonstrated customer service skills in a work-based learning placement.",
     ("Communication", "Problem Solving")),
    ("welding-entry", "Entry-Level Welding",
     "Passed the consortium's entry-level welding practical.",
     ("Welding", "Blueprint Reading")),
    ("health-careers", "Health Careers Pathway Completer",
     "Completed the health science pathway with a clinical observation.",
     ("Patient Care", "Medical Terminology")),
    ("it-support", "IT Support Essentials",
     "Troubleshot hardware, software and network problems in a help desk rotation.",
     ("Troubleshooting", "Networking")),
)  # fmt: skip

# (issuer index, slug, name, description, criteria) of the district's Badgr badge classes.
BADGR_BADGECLASSES = (
    (0, "culinary-sanitation", "Culinary Sanitation",
     "Applies safe food handling and kitchen sanitation practices.",
     "Passes the sanitation practical in the culinary arts lab."),
    (0, "automotive-basics", "Automotive Service Basics",
     "Performs routine vehicle inspections and maintenance tasks.",
     "Completes the inspection checklist on three vehicles."),
    (0, "graphic-design", "Graphic Design Portfolio",
     "Created a portfolio of print and digital design work.",
     "Portfolio reviewed by the CTE design instructor."),
    (1, "research-skills", "Research Skills",
     "Finds, evaluates and cites sources for a research project.",
     "Completes the library research unit with a cited paper."),
    (1, "media-production", "Media Production",
     "Planned, recorded and edited a short video or podcast.",
     "Publishes a finished piece on the school media channel."),
)  # fmt: skip

OB2_READING_BADGES = (
    ("summer-reader", "Summer Reader", "Read ten books over the summer break."),
    ("library-explorer", "Library Explorer", "Visited five branches of the state library."),
)

CAMP_ACHIEVEMENT = (
    "robotics-camp",
    "Badge",
    "Summer Robotics Camp",
    "Built and programmed a robot over a two-week summer camp.",
    "Attends the full camp and demonstrates a working robot.",
)


# How routine API credentials name their learner: (cumulative share, recipient).
ROUTINE_OB3_RECIPIENTS = (
    (0.65, "sis_id"),
    (0.9, "hashed_email"),
    (0.95, "username"),
    (1.1, "email"),
)

# The OB 3.0 API's deliberate cases, present whatever the district's size:
# (recipient, a known learner?, achievementType, fate, format, intended status, why).
# Fates: expired (validUntil passed), revoked (its Bitstring status list bit set),
# revocation_list (listed in the 1EdTech revocation list), tampered (changed after signing),
# unsigned (no proof), unknown_context (a context Pathways does not bundle), uncached_status
# (its status list is not in the trust folder).
OB3_API_CASES = (
    ("sis_id", True, "MicroCredential", "expired", "json-ld", "expired", "expired"),
    ("sis_id", True, "Competency", "revoked", "json-ld", "revoked",
     "revoked in the Bitstring status list"),
    ("hashed_email", True, "Badge", "revocation_list", "json-ld", "revoked",
     "revoked in the 1EdTech revocation list"),
    ("sis_id", True, "Competency", "tampered", "json-ld", "failed_signature",
     "changed after it was signed"),
    ("hashed_email", True, "MicroCredential", "tampered", "jws", "failed_signature",
     "VC-JWT payload changed after it was signed"),
    ("sis_id", True, "Badge", "unsigned", "json-ld", "unsigned", "no proof"),
    ("sis_id", True, "Badge", "unknown_context", "json-ld", "unknown_context",
     "names a JSON-LD context that is not bundled"),
    ("sis_id", True, "MicroCredential", "uncached_status", "json-ld", "unchecked_status",
     "its status list is not in the trust folder"),
    ("sis_id", False, "Badge", None, "json-ld", "verified", "a sisSourcedId the SIS lacks"),
    ("hashed_email", False, "MicroCredential", None, "jws", "verified",
     "a hashed email no learner has"),
    ("username", True, "Badge", None, "jws", "verified", "identified by userName"),
    ("email", True, "Competency", None, "json-ld", "verified", "identified by a plain email"),
    ("sis_id", True, "Competency", None, "jws", "verified", "a competency as a VC-JWT"),
)  # fmt: skip

# The badge folder's deliberate cases: (file kind, recipient, a known learner?, fate, intended
# status, why). Kinds: <issuer>-<form>, issuer district / consortium (did:web, cached) / camp
# (did:web, not cached) for OB 3.0, ob2 for the State Library's hosted OB 2.0 assertions; forms
# json, jwt, png (JSON baked), png-jwt, svg (JSON baked), svg-jwt; ob2-png-url bakes only the
# hosted URL. Fates as OB3_API_CASES, plus uncached (OB 2.0 hosted copy not in the trust
# folder) and cut (a PNG cut off inside its badge chunk).
BADGE_FILE_CASES = (
    ("district-json", "sis_id", True, None, "verified", "OB 3.0 JSON"),
    ("district-jwt", "hashed_email", True, None, "verified", "OB 3.0 VC-JWT file"),
    ("district-png-jwt", "sis_id", True, None, "verified", "OB 3.0 VC-JWT baked in a PNG"),
    ("district-png", "username", True, None, "verified",
     "OB 3.0 JSON baked in a PNG, identified by userName"),
    ("district-svg-jwt", "hashed_email", True, None, "verified", "OB 3.0 VC-JWT baked in an SVG"),
    ("district-svg", "sis_id", True, None, "verified", "OB 3.0 JSON baked in an SVG"),
    ("consortium-json", "email", True, None, "verified", "OB 3.0 signed by a cached did:web"),
    ("consortium-json", "email", True, "tampered", "failed_signature",
     "changed after it was signed"),
    ("camp-json", "hashed_email", True, None, "unresolved_key",
     "signed by a did:web whose document is not cached"),
    ("ob2-json", "hashed_email", True, None, "verified", "OB 2.0 JSON, hosted copy cached"),
    ("ob2-png-url", "hashed_email", True, None, "verified",
     "OB 2.0 hosted URL baked in a PNG, cached"),
    ("ob2-svg", "email", True, None, "verified", "OB 2.0 baked in an SVG, cached"),
    ("ob2-json", "email", True, "uncached", "not_verifiable_offline",
     "OB 2.0 hosted assertion not cached"),
    ("ob2-png-json", "hashed_email", True, "expired", "expired",
     "OB 2.0 JSON baked in a PNG, expired"),
    ("ob2-json", "hashed_email", True, "revoked", "revoked",
     "OB 2.0 whose hosted copy says revoked"),
    ("ob2-json", "hashed_email", False, None, "verified", "OB 2.0 for an email no learner has"),
    ("district-png-jwt", "sis_id", True, "cut", "invalid", "a PNG cut off inside its badge chunk"),
    ("plain-png", "", False, None, "invalid", "an image with no badge baked in"),
)  # fmt: skip

# Routine files, by turns: (file kind, recipient).
ROUTINE_BADGE_FILES = (
    ("district-json", "sis_id"),
    ("district-jwt", "hashed_email"),
    ("district-png-jwt", "sis_id"),
    ("ob2-png-url", "hashed_email"),
    ("ob2-svg", "email"),
    ("ob2-json", "hashed_email"),
    ("district-svg-jwt", "hashed_email"),
    ("consortium-json", "email"),
)

CONSORTIUM_ORIGIN = "https://badges.career-consortium.example"
READING_ORIGIN = "https://badges.state-library.example"
READING_ISSUER = f"{READING_ORIGIN}/issuers/summer-reading"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IHDR_CHUNK_LENGTH = 25  # length, type, 13 data bytes, CRC


# The generator -------------------------------------------------------------------------------


class _Generator:
    """Builds every platform's records and the ground truth for one district and seed."""

    def __init__(self, district_dir: Path, seed: int) -> None:
        self.district_dir = district_dir
        self.seed = seed
        config = _district_config(district_dir)
        self.district_id: str = config.get("id") or "district"
        self.district_name: str = config.get("name") or "District"
        self.host = f"badges.{self.district_id}.example"
        self.outcomes: list[Outcome] = []
        self.trust: dict[str, dict[str, Any]] = {}  # file name → document
        self.files: dict[str, bytes] = {}  # badge folder file name → bytes
        self.ob3_records: list[dict[str, Any]] = []
        self.badgr: dict[str, Any] = {}
        self.credly: dict[str, Any] = {}
        # The district's revocation status list: index → revoked?
        self.status_list_url = f"https://{self.host}/status/1"
        self.uncached_status_list_url = f"https://{self.host}/status/0"
        self.revocation_list_url = f"https://{self.host}/revocations/1"
        self.status_indexes = 0
        self.revoked_indexes: list[int] = []
        self.revocation_list: list[dict[str, str]] = []
        self.competencies = sample_competencies()
        key = sample_private_key(seed, self.district_id, "district")
        self.district = _Ob3Issuer(
            did=did_key(key.public_key()),
            key=key,
            method=did_key_verification_method(key.public_key()),
            profile={
                "id": did_key(key.public_key()),
                "type": ["Profile"],
                "name": self.district_name,
                "url": f"https://www.{self.district_id}.example",
                "email": f"credentials@{self.district_id}.example",
            },
        )
        self.consortium = self._did_web_issuer(
            "consortium", "badges.career-consortium.example", "Regional Career Pathways Consortium"
        )
        self.camp = self._did_web_issuer(
            "camp", "credentials.summer-stem-camp.example", "Summer STEM Camp"
        )

    def _did_web_issuer(self, name: str, host: str, title: str) -> _Ob3Issuer:
        key = sample_private_key(self.seed, self.district_id, name)
        did = f"did:web:{host}"
        return _Ob3Issuer(
            did=did,
            key=key,
            method=f"{did}#key-1",
            profile={"id": did, "type": ["Profile"], "name": title, "url": f"https://{host}"},
        )

    # Driving ----------------------------------------------------------------------------------

    def run(self) -> None:
        with duckdb.connect() as con:
            con.execute("SET enable_progress_bar = false")
            self.con = con
            self._load_learners()
            self._ob3_api()
            self._badgr()
            self._credly()
            self._badge_files()
        self._trust_documents()
        self._write()

    def _rng(self, salt: str) -> random.Random:
        return random.Random(f"{self.seed}/{self.district_id}/{salt}")

    def _uuid(self, *parts: object) -> str:
        name = "/".join(str(p) for p in (self.seed, self.district_id, *parts))
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://{self.host}/{name}"))

    def _token(self, *parts: object, length: int = 22) -> str:
        """A platform-style opaque id (Badgr's entityIds are 22 URL-safe characters)."""
        digest = hashlib.sha256("/".join(str(p) for p in (self.seed, *parts)).encode()).digest()
        return (
            base64.urlsafe_b64encode(digest).decode().replace("-", "x").replace("_", "y")[:length]
        )

    def _salt(self, *parts: object) -> str:
        return hashlib.sha256("/".join(str(p) for p in (self.seed, *parts)).encode()).hexdigest()[
            :16
        ]

    # Learners ---------------------------------------------------------------------------------

    def _load_learners(self) -> None:
        oneroster = self.district_dir / "sis" / "oneroster"
        users = oneroster / "users.csv"
        if not users.is_file():
            raise FileNotFoundError(f"no OneRoster export under {self.district_dir}")
        options = "header = true, all_varchar = true, delim = ',', quote = '\"', escape = '\"'"
        columns = [
            row[0]
            for row in self.con.execute(
                f"DESCRIBE SELECT * FROM read_csv(?, {options})", [str(users)]
            ).fetchall()
        ]
        if "role" in columns:  # OneRoster 1.1: the role is a users column
            students = "SELECT sourcedId FROM read_csv($users, {o}) WHERE role = 'student'"
            params = {"users": str(users)}
        else:
            students = (
                "SELECT userSourcedId FROM read_csv($roles, {o}) "
                "WHERE role = 'student' AND roleType = 'primary'"
            )
            params = {"users": str(users), "roles": str(oneroster / "roles.csv")}
        self.con.execute(
            "CREATE TEMP TABLE learners AS "
            "SELECT sourcedId AS sourced_id, username, email, givenName AS given_name, "
            "familyName AS family_name, coalesce(grades, '') AS grade "
            f"FROM read_csv($users, {options}) "
            f"WHERE sourcedId IN ({students.format(o=options)}) AND email IS NOT NULL",
            params,
        )
        self.learner_count = self.con.execute("SELECT count(*) FROM learners").fetchall()[0][0]
        if self.learner_count == 0:
            raise ValueError(f"{users}: no learners (users with role student) to award badges to")

    def _pick(self, salt: str, shares: tuple[float, float, float], cap: int) -> list[Learner]:
        """Learners a platform awards: each drawn with its level's share, at most `cap` (the
        lowest draws), in sourcedId order."""
        rows = self.con.execute(
            """
            SELECT sourced_id, username, email, given_name, family_name, grade FROM (
                SELECT *, hash($seed, sourced_id, $salt) % 1000000 AS draw,
                       CASE WHEN grade IN ('09', '10', '11', '12') THEN $high
                            WHEN grade IN ('06', '07', '08') THEN $middle
                            ELSE $elementary END AS share
                FROM learners)
            WHERE draw < share * 1000000
            ORDER BY draw, sourced_id LIMIT $cap
            """,
            {
                "seed": self.seed,
                "salt": salt,
                "elementary": shares[0],
                "middle": shares[1],
                "high": shares[2],
                "cap": cap,
            },
        ).fetchall()
        return sorted((Learner(*row) for row in rows), key=lambda x: x.sourced_id)

    def _special(self, salt: str, count: int) -> list[Learner]:
        """`count` learners for a platform's deliberate cases (repeating in a tiny district)."""
        rows = self.con.execute(
            "SELECT sourced_id, username, email, given_name, family_name, grade FROM learners "
            "ORDER BY hash($seed, sourced_id, $salt), sourced_id LIMIT $count",
            {"seed": self.seed, "salt": salt, "count": count},
        ).fetchall()
        learners = [Learner(*row) for row in rows]
        return [learners[n % len(learners)] for n in range(count)]

    def _stranger(self, rng: random.Random, domain: str) -> tuple[str, str, str]:
        """A person the SIS has never heard of: given name, family name, email."""
        given = rng.choice(GIVEN_NAMES)
        family = rng.choice(FAMILY_NAMES)
        slug = f"{_ascii(given)}.{_ascii(family)}.{rng.randrange(100, 999)}"
        return given, family, f"{slug}@{domain}"

    def _instant(self, rng: random.Random) -> datetime:
        span = int((ISSUED_UNTIL - ISSUED_FROM).total_seconds() // 3600)
        return ISSUED_FROM + timedelta(hours=rng.randrange(span))

    def _expired_until(self, issued: datetime, rng: random.Random) -> datetime:
        """An expiry after issue and before OUTCOMES_HOLD_FROM."""
        latest = OUTCOMES_HOLD_FROM - timedelta(days=2)  # after ISSUED_UNTIL
        span = int((latest - issued).total_seconds() // 3600)
        return issued + timedelta(hours=1 + rng.randrange(span))

    def _outcome(self, **fields: Any) -> None:
        self.outcomes.append(Outcome(**fields))

    # OB 3.0 documents -------------------------------------------------------------------------

    def _district_achievement(self, rng: random.Random, kind: str | None = None) -> dict:
        """One of the district's achievements: a catalogue one, or a competency (aligned to
        its CASE item) when `kind` is Competency or the draw says so."""
        if kind == "Competency" or (kind is None and rng.random() < 0.35):
            competency = rng.choice(self.competencies)
            return self._competency_achievement(competency)
        choices = [a for a in DISTRICT_ACHIEVEMENTS if kind is None or a[1] == kind]
        slug, achievement_type, name, description, criteria = rng.choice(choices)
        return {
            "id": f"https://{self.host}/achievements/{slug}",
            "type": ["Achievement"],
            "achievementType": achievement_type,
            "name": name,
            "description": description,
            "criteria": {"narrative": criteria},
        }

    def _competency_achievement(self, competency: Any) -> dict:
        uuid_part = competency.id.removeprefix("urn:uuid:")
        framework = f"{self.district_name} {COMPETENCY_SETS[competency.competency_set]}"
        return {
            "id": f"https://{self.host}/achievements/competency/{competency.code.lower()}",
            "type": ["Achievement"],
            "achievementType": "Competency",
            "name": competency.title,
            "description": f"Demonstrated mastery of {competency.title} ({competency.code}).",
            "criteria": {
                "narrative": "Scores 3 (proficient) or better on two aligned performance tasks."
            },
            "alignment": [
                {
                    "type": ["Alignment"],
                    "targetType": "CFItem",
                    "targetName": competency.title,
                    "targetCode": competency.code,
                    "targetFramework": framework,
                    # The CASE URI of the competency; its UUID is the learning objective id
                    # the OneRoster export's results carry.
                    "targetUrl": f"https://case.{self.district_id}.example/uri/{uuid_part}",
                }
            ],
        }

    def _ob2_alignment(self, key: str) -> dict[str, str]:
        """An OB 2.0 / Badgr alignment to one of the district's ELA competencies."""
        ela = [c for c in self.competencies if c.competency_set == "ela"]
        competency = ela[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(ela)]
        aligned = self._competency_achievement(competency)["alignment"][0]
        return {k: aligned[k] for k in ("targetName", "targetUrl", "targetFramework", "targetCode")}

    def _identity(self, learner: Learner, how: str, salt_key: str) -> list[dict[str, Any]]:
        """The IdentityObjects naming a learner: `how` is sis_id, hashed_email, email or
        username."""
        if how == "sis_id":
            return [_identity_object("sisSourcedId", learner.sourced_id)]
        if how == "username":
            return [_identity_object("userName", learner.username)]
        if how == "email":
            return [_identity_object("emailAddress", learner.email)]
        salt = self._salt("identity", salt_key)
        return [
            {
                "type": "IdentityObject",
                "identityHash": hash_identity(learner.email.lower(), salt),
                "identityType": "emailAddress",
                "hashed": True,
                "salt": salt,
            }
        ]

    def _ob3(
        self,
        issuer: _Ob3Issuer,
        credential_id: str,
        achievement: dict[str, Any],
        identifier: list[dict[str, Any]],
        issued: datetime,
        *,
        valid_until: datetime | None = None,
        status: dict[str, Any] | None = None,
        contexts: Iterable[str] = OB3_CONTEXTS,
        credential_type: str = "AchievementCredential",
    ) -> dict[str, Any]:
        """An unsigned OB 3.0 credential."""
        document: dict[str, Any] = {
            "@context": list(contexts),
            "id": credential_id,
            "type": ["VerifiableCredential", credential_type],
            "issuer": issuer.profile,
            "validFrom": _iso(issued),
        }
        if valid_until is not None:
            document["validUntil"] = _iso(valid_until)
        document["awardedDate"] = _iso(issued)
        document["name"] = achievement["name"]
        document["credentialSubject"] = {
            "type": ["AchievementSubject"],
            "identifier": identifier,
            "achievement": achievement,
        }
        if status is not None:
            document["credentialStatus"] = status
        return document

    def _status_entry(self, revoked: bool = False, url: str | None = None) -> dict[str, Any]:
        """A BitstringStatusListEntry in the district's revocation list (flipped if revoked)."""
        index = self.status_indexes
        self.status_indexes += 1
        if revoked:
            self.revoked_indexes.append(index)
        url = url or self.status_list_url
        return {
            "id": f"{url}#{index}",
            "type": "BitstringStatusListEntry",
            "statusPurpose": "revocation",
            "statusListIndex": str(index),
            "statusListCredential": url,
        }

    def _sign(self, document: dict[str, Any], issuer: _Ob3Issuer) -> dict[str, Any]:
        return _data_integrity(document, issuer.key, issuer.method, document["validFrom"])

    def _jwt(self, document: dict[str, Any], issuer: _Ob3Issuer) -> str:
        return sign_vc_jwt(document, issuer.key, issuer.method)

    # The OB 3.0 API --------------------------------------------------------------------------

    def _ob3_api(self) -> None:
        rng = self._rng("ob3_api")
        awards: list[tuple[Learner, int]] = []
        for learner in self._pick("ob3_api", AWARD_SHARES["ob3_api"], MAX_AWARDED_LEARNERS):
            awards += [(learner, n) for n in range(1 + (rng.random() < 0.3))]
        # Every other routine credential carries a Data Integrity proof, within a budget; the
        # rest are VC-JWTs (see the module docstring: canonicalization is the cost).
        budget = min(MAX_DATA_INTEGRITY_SIGNED, len(awards) // 2)
        for n, (learner, k) in enumerate(awards):
            draw, fate_draw = rng.random(), rng.random()
            how = next(h for share, h in ROUTINE_OB3_RECIPIENTS if draw < share)
            fate = "expired" if fate_draw < 0.05 else "revoked" if fate_draw < 0.08 else None
            status = fate or "verified"
            fmt = "json-ld" if n % 2 == 0 and n // 2 < budget else "jws"
            self._api_credential(
                rng, ("ob3", learner.sourced_id, k), learner, how, None, fate, fmt, status,
                f"routine, {status}",
            )  # fmt: skip
        who = self._special("ob3_api/cases", len(OB3_API_CASES))
        for n, (how, known, kind, fate, fmt, status, why) in enumerate(OB3_API_CASES):
            learner = who[n] if known else None
            self._api_credential(rng, ("ob3-case", n), learner, how, kind, fate, fmt, status, why)

    def _api_credential(
        self,
        rng: random.Random,
        key: tuple[object, ...],
        learner: Learner | None,
        how: str,
        kind: str | None,
        fate: str | None,
        fmt: str,
        status: str,
        why: str,
    ) -> None:
        """One of the district's credentials on its OB 3.0 API, and its ground truth. `fate` is
        what happens to it (see OB3_API_CASES); `learner` None names someone the SIS lacks."""
        issued = self._instant(rng)
        credential_id = f"urn:uuid:{self._uuid(*key)}"
        contexts: tuple[str, ...] = OB3_CONTEXTS
        valid_until, entry = None, None
        if fate == "expired":
            valid_until = self._expired_until(issued, rng)
        if fate == "revocation_list":
            contexts += (OB3_EXTENSIONS_CONTEXT,)
            entry = {"id": self.revocation_list_url, "type": "1EdTechRevocationList"}
            self.revocation_list.append(
                {"id": credential_id, "revoked": True, "revocationReason": "Awarded in error."}
            )
        elif fate == "uncached_status":
            entry = self._status_entry(url=self.uncached_status_list_url)
        elif fate == "unknown_context":
            contexts += (f"https://contexts.{self.district_id}.example/badges/v1.json",)
        elif fate == "revoked" or rng.random() < 0.8:
            entry = self._status_entry(revoked=fate == "revoked")
        document = self._ob3(
            self.district,
            credential_id,
            self._district_achievement(rng, kind),
            self._identity(learner or self._nobody(how, key), how, credential_id),
            issued,
            valid_until=valid_until,
            status=entry,
            contexts=contexts,
        )
        record: dict[str, Any] = {"issued": _iso(issued)}
        if fate == "unsigned":
            record["credential"] = document
        elif fate == "unknown_context":
            # Signed by a system that knows the context; Pathways cannot even canonicalize it.
            record["credential"] = {**document, "proof": self._unverifiable_proof(document)}
        elif fmt == "json-ld":
            record["credential"] = self._sign(document, self.district)
            if fate == "tampered":
                record["credential"]["credentialSubject"]["achievement"]["name"] += " (honors)"
        else:
            record["compactJws"] = self._jwt(document, self.district)
            if fate == "tampered":
                record["compactJws"] = _tampered_jws(record["compactJws"])
        self.ob3_records.append(record)
        self._outcome(
            platform="ob3_api",
            id=credential_id,
            status=status,
            learner=learner.sourced_id if learner else None,
            match=how if learner else None,
            format=fmt,
            case=why,
        )

    def _nobody(self, how: str, key: tuple[object, ...]) -> Learner:
        """Someone the SIS has never heard of: a departed learner's id, an outsider's email."""
        rng = self._rng(f"nobody/{key}")
        token = self._token("nobody", *key, length=6).lower()
        _, _, email = self._stranger(rng, f"alumni.{self.district_id}.example")
        return Learner(f"stu-9{token}", f"former.{token}", email, "", "", "")

    def _unverifiable_proof(self, document: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-rdfc-2022",
            "created": document["validFrom"],
            "verificationMethod": self.district.method,
            "proofPurpose": "assertionMethod",
            "proofValue": "z" + _base58_like(self._token("proof", document["id"], length=86)),
        }

    # Badgr -----------------------------------------------------------------------------------

    def _badgr(self) -> None:
        rng = self._rng("badgr")
        origin = "https://api.badgr.example"
        created = ISSUED_FROM - timedelta(days=120)
        issuers = []
        for n, (title, description) in enumerate(
            (
                ("Career and Technical Education", "Badges for CTE labs and pathways."),
                ("Library and Media Services", "Badges for research and media projects."),
            )
        ):
            entity_id = self._token("badgr-issuer", self.district_id, n)
            issuers.append(
                {
                    "entityType": "Issuer",
                    "entityId": entity_id,
                    "openBadgeId": f"{origin}/public/issuers/{entity_id}",
                    "createdAt": _iso(created),
                    "createdBy": self._token("badgr-user", self.district_id),
                    "name": f"{self.district_name} {title}",
                    "image": None,
                    "email": f"badges@{self.district_id}.example",
                    "description": description,
                    "url": f"https://www.{self.district_id}.example",
                    "staff": [],
                    "extensions": {},
                    "badgrDomain": "badgr.example",
                }
            )
        badgeclasses = []
        for n, (issuer_n, slug, name, description, criteria) in enumerate(BADGR_BADGECLASSES):
            issuer = issuers[issuer_n]
            entity_id = self._token("badgr-badgeclass", self.district_id, slug)
            badgeclasses.append(
                {
                    "entityType": "BadgeClass",
                    "entityId": entity_id,
                    "openBadgeId": f"{origin}/public/badges/{entity_id}",
                    "createdAt": _iso(created + timedelta(days=n)),
                    "createdBy": issuer["createdBy"],
                    "issuer": issuer["entityId"],
                    "issuerOpenBadgeId": issuer["openBadgeId"],
                    "name": name,
                    "image": f"{origin}/public/badges/{entity_id}/image",
                    "description": description,
                    "criteriaUrl": None,
                    "criteriaNarrative": criteria,
                    # The library's badges are aligned to an ELA competency, as Badgr states it.
                    "alignments": [self._ob2_alignment(slug)] if issuer_n == 1 else [],
                    "tags": ["cte" if issuer_n == 0 else "library"],
                    "expires": {"amount": None, "duration": None},
                    "extensions": {},
                }
            )
        self.badgr = {"issuers": issuers, "badgeclasses": badgeclasses, "assertions": []}
        for issuer in issuers:
            self.trust[f"ob2-issuer-{issuer['entityId']}.json"] = _ob2_issuer(
                issuer["openBadgeId"], issuer["name"], issuer["url"], issuer["email"]
            )
        for badgeclass in badgeclasses:
            self.trust[f"ob2-badgeclass-{badgeclass['entityId']}.json"] = _ob2_badgeclass(
                badgeclass["openBadgeId"],
                badgeclass["name"],
                badgeclass["description"],
                badgeclass["criteriaNarrative"],
                badgeclass["issuerOpenBadgeId"],
                badgeclass["image"],
                badgeclass["alignments"],
            )
        for learner in self._pick("badgr", AWARD_SHARES["badgr"], MAX_AWARDED_LEARNERS):
            for k in range(1 + (rng.random() < 0.2)):
                fate = rng.random()
                self._badgr_assertion(
                    rng,
                    learner,
                    learner.email,
                    hashed=rng.random() < 0.5,
                    cached=rng.random() < 0.6,
                    expired=fate < 0.06,
                    revoked=0.06 <= fate < 0.1,
                    key=(learner.sourced_id, k),
                    case="routine",
                )
        who = self._special("badgr/cases", 6)
        cases = (
            (who[0], dict(hashed=True, cached=True), "hashed email, hosted assertion cached"),
            (who[1], dict(hashed=False, cached=False), "plain email, not cached"),
            (who[2], dict(hashed=True, cached=True, expired=True), "expired"),
            (who[3], dict(hashed=False, cached=False, revoked=True), "revoked on Badgr"),
            (None, dict(hashed=False, cached=True), "an email no learner has"),
            (None, dict(hashed=True, cached=False), "a hashed email no learner has"),
        )
        for n, (learner, options, case) in enumerate(cases):
            email = (
                learner.email
                if learner
                else self._stranger(rng, f"alumni.{self.district_id}.example")[2]
            )
            self._badgr_assertion(
                rng, learner, email, key=("case", n), case=case, **{"expired": False, **options}
            )

    def _badgr_assertion(
        self,
        rng: random.Random,
        learner: Learner | None,
        email: str,
        *,
        hashed: bool,
        cached: bool,
        expired: bool,
        key: tuple[object, ...],
        case: str,
        revoked: bool = False,
    ) -> None:
        badgeclass = rng.choice(self.badgr["badgeclasses"])
        entity_id = self._token("badgr-assertion", self.district_id, *key)
        issued = self._instant(rng)
        expires = self._expired_until(issued, rng) if expired else None
        salt = self._salt("badgr", entity_id) if hashed else None
        identity = hash_identity(email.lower(), salt) if hashed else email
        recipient = {
            "identity": identity,
            "hashed": hashed,
            "type": "email",
            "plaintextIdentity": email,
        }
        if hashed:
            recipient["salt"] = salt
        narrative = f"Earned in {badgeclass['name']}."
        evidence_url = f"https://www.{self.district_id}.example/portfolio/{entity_id}"
        assertion = {
            "entityType": "Assertion",
            "entityId": entity_id,
            "openBadgeId": f"https://api.badgr.example/public/assertions/{entity_id}",
            "createdAt": _iso(issued),
            "createdBy": badgeclass["createdBy"],
            "badgeclass": badgeclass["entityId"],
            "badgeclassOpenBadgeId": badgeclass["openBadgeId"],
            "issuer": badgeclass["issuer"],
            "issuerOpenBadgeId": badgeclass["issuerOpenBadgeId"],
            "image": f"https://api.badgr.example/public/assertions/{entity_id}/image",
            "recipient": recipient,
            "issuedOn": _iso(issued),
            "narrative": narrative,
            "evidence": [{"url": evidence_url, "narrative": "Project portfolio."}],
            "revoked": revoked,
            "revocationReason": "Issued in error." if revoked else None,
            "acceptance": "Accepted",
            "expires": _iso(expires) if expires else None,
            "extensions": {},
        }
        self.badgr["assertions"].append(assertion)
        if cached and not revoked:
            ob2_recipient = {"type": "email", "hashed": hashed, "identity": identity}
            if hashed:
                ob2_recipient["salt"] = salt
            hosted = _ob2_assertion(
                assertion["openBadgeId"],
                badgeclass["openBadgeId"],
                ob2_recipient,
                issued,
                expires,
                evidence_url,
                narrative,
            )
            self.trust[f"ob2-assertion-{entity_id}.json"] = hosted
        status = (
            "revoked"
            if revoked
            else "expired"
            if expired
            else "verified"
            if cached
            else "not_verifiable_offline"
        )
        # Badgr always gives the plaintext identity beside a hashed one, so the email links.
        self._outcome(
            platform="badgr",
            id=entity_id,
            status=status,
            learner=learner.sourced_id if learner else None,
            match="email" if learner else None,
            format="badgr",
            case=case if case != "routine" else f"routine, {status}",
        )

    # Credly ----------------------------------------------------------------------------------

    def _credly(self) -> None:
        rng = self._rng("credly")
        organization_id = self._uuid("credly-organization")
        org_name = self.consortium.profile["name"]
        vanity = "regional-career-pathways-consortium"
        organization = {
            "id": organization_id,
            "name": org_name,
            "website_url": "https://www.career-consortium.example",
            "contact_email": "badges@career-consortium.example",
            "vanity_slug": vanity,
            "vanity_url": f"https://www.credly.example/org/{vanity}",
            "verified": True,
            "created_at": "2024-05-01T15:00:00.000Z",
            "updated_at": "2025-08-01T15:00:00.000Z",
        }
        templates = []
        for slug, name, description, skills in CONSORTIUM_TEMPLATES:
            template_id = self._uuid("credly-template", slug)
            templates.append(
                {
                    "id": template_id,
                    "name": name,
                    "description": description,
                    "state": "active",
                    "public": True,
                    "url": f"https://www.credly.example/org/{vanity}/badge/{slug}",
                    "image_url": f"https://images.credly.example/{template_id}/image.png",
                    "skills": [
                        {
                            "id": self._uuid("credly-skill", skill),
                            "name": skill,
                            "vanity_slug": _ascii(skill).replace(" ", "-"),
                        }
                        for skill in skills
                    ],
                    "badge_template_activities": [
                        {
                            "id": self._uuid("credly-activity", slug),
                            "activity_type": "Assessment",
                            "title": f"Pass the {name} assessment",
                            "url": None,
                        }
                    ],
                    "created_at": "2024-05-01T15:00:00.000Z",
                    "updated_at": "2025-08-01T15:00:00.000Z",
                }
            )
        self.credly = {"organization": organization, "badge_templates": templates, "badges": []}
        for learner in self._pick("credly", AWARD_SHARES["credly"], MAX_AWARDED_LEARNERS):
            for k in range(1 + (rng.random() < 0.15)):
                draw, fate = rng.random(), rng.random()
                state = (
                    "revoked"
                    if fate < 0.03
                    else "rejected"
                    if fate < 0.05
                    else "pending"
                    if fate < 0.2
                    else "accepted"
                )
                self._credly_badge(
                    rng,
                    learner,
                    earner_id=learner.sourced_id if draw < 0.75 else None,
                    email=learner.email,
                    names=(learner.given_name, learner.family_name),
                    state=state,
                    expired=0.2 <= fate < 0.25,
                    key=(learner.sourced_id, k),
                    case="routine",
                )
        who = self._special("credly/cases", 6)
        given, family, stranger = self._stranger(rng, "mail.example")
        cases = (
            (who[0], dict(earner_id=who[0].sourced_id), "accepted", "issuer_earner_id"),
            (who[1], dict(earner_id=None), "accepted", "only recipient_email"),
            (who[2], dict(earner_id=who[2].sourced_id), "revoked", "revoked"),
            (who[3], dict(earner_id=None, expired=True), "accepted", "expired"),
            (who[4], dict(earner_id=who[4].sourced_id), "pending", "pending acceptance"),
            (who[5], dict(earner_id=None), "rejected", "rejected by the earner"),
            (
                None,
                dict(earner_id=None, email=stranger, names=(given, family)),
                "accepted",
                "an email no learner has",
            ),
            (
                None,
                dict(
                    earner_id=f"stu-9{self._token('credly-gone', length=6).lower()}",
                    email=stranger,
                    names=(given, family),
                ),
                "accepted",
                "an issuer_earner_id the SIS does not have",
            ),
        )
        for n, (learner, options, state, case) in enumerate(cases):
            fields: dict[str, Any] = {"expired": False}
            if learner is not None:
                fields |= {
                    "email": learner.email,
                    "names": (learner.given_name, learner.family_name),
                }
            fields |= options
            self._credly_badge(rng, learner, state=state, key=("case", n), case=case, **fields)

    def _credly_badge(
        self,
        rng: random.Random,
        learner: Learner | None,
        *,
        earner_id: str | None,
        email: str,
        names: tuple[str, str],
        state: str,
        expired: bool,
        key: tuple[object, ...],
        case: str,
    ) -> None:
        template = rng.choice(self.credly["badge_templates"])
        organization = self.credly["organization"]
        badge_id = self._uuid("credly-badge", *key)
        issued = self._instant(rng)
        expires = self._expired_until(issued, rng) if expired else None
        changed = issued + timedelta(days=rng.randrange(1, 20))
        if state == "pending":
            changed = issued
        revoked_at = _credly_time(changed) if state == "revoked" else None
        badge = {
            "id": badge_id,
            "accepted_at": _credly_time(changed) if state == "accepted" else None,
            "badge_template": {
                k: template[k] for k in ("id", "name", "description", "url", "image_url", "skills")
            },
            "evidence": [
                {
                    "type": "UrlEvidence",
                    "title": "Skills demonstration",
                    "url": f"https://www.career-consortium.example/evidence/{badge_id}",
                    "description": "Recorded practical assessment.",
                }
            ],
            "expires_at": _credly_time(expires) if expires else None,
            "image": {"id": template["id"], "url": template["image_url"]},
            "image_url": template["image_url"],
            "issued_at": _credly_time(issued),
            "issued_at_date": issued.date().isoformat(),
            "issued_to": f"{names[0]} {names[1]}",
            "issued_to_first_name": names[0],
            "issued_to_last_name": names[1],
            "issuer": {
                "summary": f"issued by {organization['name']}",
                "entities": [
                    {
                        "label": "Issued by",
                        "primary": True,
                        "entity": {
                            "type": "Organization",
                            "id": organization["id"],
                            "name": organization["name"],
                            "url": organization["website_url"],
                            "vanity_url": organization["vanity_url"],
                            "verified": True,
                        },
                    }
                ],
            },
            "issuer_earner_id": earner_id,
            "locale": "en",
            "public": state == "accepted",
            "recipient_email": email,
            "state": state,
            "state_updated_at": _credly_time(changed),
            "created_at": _credly_time(issued),
            "updated_at": _credly_time(changed),
            "revoked_at": revoked_at,
            "revocation_reason": "Assessment result withdrawn." if revoked_at else None,
        }
        self.credly["badges"].append(badge)
        status = (
            "revoked" if state == "revoked" else "expired" if expired else "not_verifiable_offline"
        )
        match = None
        if learner is not None:
            match = "issuer_earner_id" if earner_id == learner.sourced_id else "email"
        self._outcome(
            platform="credly",
            id=badge_id,
            status=status,
            learner=learner.sourced_id if learner else None,
            match=match,
            format="credly",
            case=case if case != "routine" else f"routine, {state}, {status}",
        )

    # The badge folder ------------------------------------------------------------------------

    def _badge_files(self) -> None:
        rng = self._rng("badge_files")
        self.trust["ob2-issuer-state-library.json"] = _ob2_issuer(
            READING_ISSUER,
            "State Library Summer Reading Program",
            "https://www.state-library.example",
            "reading@state-library.example",
        )
        for slug, name, description in OB2_READING_BADGES:
            self.trust[f"ob2-badgeclass-{slug}.json"] = _ob2_badgeclass(
                f"{READING_ORIGIN}/badges/{slug}",
                name,
                description,
                description,
                READING_ISSUER,
                f"{READING_ORIGIN}/images/{slug}.png",
            )
        who = self._special("badge_files/cases", len(BADGE_FILE_CASES))
        for n, (kind, how, known, fate, status, why) in enumerate(BADGE_FILE_CASES):
            learner = who[n] if known else None
            self._badge_file(rng, f"case-{n}", kind, learner, how, fate, status, why)
        # About one learner in a hundred hands a badge in, in every routine format by turns.
        routine = self._pick("badge_files", (0.01, 0.01, 0.01), MAX_FOLDER_FILES)
        for n, learner in enumerate(routine):
            kind, how = ROUTINE_BADGE_FILES[n % len(ROUTINE_BADGE_FILES)]
            self._badge_file(rng, f"routine-{n}", kind, learner, how, None, "verified", "routine")

    def _badge_file(
        self,
        rng: random.Random,
        key: str,
        kind: str,
        learner: Learner | None,
        how: str,
        fate: str | None,
        status: str,
        why: str,
    ) -> None:
        """One file of the badge folder, and its ground truth. `kind` says who issued what and
        how it is stored (see BADGE_FILE_CASES)."""
        person = learner or self._nobody(how, (key,))
        fmt = "ob2-json" if kind.startswith("ob2") else "jws" if "jwt" in kind else "json-ld"
        if kind == "plain-png":
            path = self._file("school-logo.png", _badge_image("logo"))
            self._folder_outcome(path, "school-logo.png", status, None, None, "png", why)
            return
        if kind.startswith("ob2"):
            assertion = self._reading_assertion(rng, key, person, how, fate)
            credential_id = assertion["id"]
            name = f"reading-{_short(credential_id)}"
            if kind == "ob2-json":
                path = self._file(f"{name}.json", _json_bytes(assertion))
            elif kind == "ob2-png-url":
                path = self._file(
                    f"{name}.png", bake_png(_badge_image(key), "openbadges", assertion["id"])
                )
            elif kind == "ob2-png-json":
                path = self._file(
                    f"{name}.png", bake_png(_badge_image(key), "openbadges", json.dumps(assertion))
                )
            else:
                path = self._file(f"{name}.svg", bake_svg_ob2(assertion))
        else:
            issuer = {"consortium": self.consortium, "camp": self.camp}.get(
                kind.split("-")[0], self.district
            )
            document = self._file_credential(rng, key, issuer, person, how)
            credential_id = document["id"]
            name = _short(credential_id)
            if issuer is not self.district:
                name = f"{kind.split('-')[0]}-{name}"
            if "jwt" in kind:
                payload: dict[str, Any] | str = self._jwt(document, issuer)
            else:
                payload = self._sign(document, issuer)
                if fate == "tampered":
                    payload["credentialSubject"]["achievement"]["name"] += " (Advanced)"
            if kind.endswith("-png") or kind.endswith("-png-jwt"):
                text = payload if isinstance(payload, str) else json.dumps(payload)
                data = bake_png(_badge_image(key), "openbadgecredential", text)
                if fate == "cut":
                    # A broken download: cut off inside the badge chunk, which follows IHDR.
                    data = data[: len(PNG_SIGNATURE) + IHDR_CHUNK_LENGTH + 40]
                    name = "badge-download"
                path = self._file(f"{name}.png", data)
            elif kind.endswith("-svg") or kind.endswith("-svg-jwt"):
                path = self._file(f"{name}.svg", bake_svg_ob3(payload))
            elif isinstance(payload, str):
                path = self._file(f"{name}.jwt", payload.encode())
            else:
                path = self._file(f"{name}.json", _json_bytes(payload))
        self._folder_outcome(path, credential_id, status, learner, how, fmt, why)

    def _file(self, name: str, data: bytes) -> str:
        self.files[name] = data
        return f"{BADGE_FOLDER}/{name}"

    def _folder_outcome(
        self,
        path: str,
        credential_id: str,
        status: str,
        learner: Learner | None,
        how: str | None,
        fmt: str,
        why: str,
    ) -> None:
        self._outcome(
            platform="badge_files",
            id=credential_id,
            status=status,
            learner=learner.sourced_id if learner and status != "invalid" else None,
            match=how if learner and status != "invalid" else None,
            format=fmt,
            case=why,
            path=path,
        )

    def _file_credential(
        self, rng: random.Random, key: str, issuer: _Ob3Issuer, learner: Learner, how: str
    ) -> dict[str, Any]:
        """An OB 3.0 credential a learner saved: the district's, the consortium's or the
        camp's."""
        issued = self._instant(rng)
        if issuer is self.district:
            return self._ob3(
                issuer,
                f"urn:uuid:{self._uuid('file', key)}",
                self._district_achievement(rng),
                self._identity(learner, how, key),
                issued,
            )
        if issuer is self.consortium:
            slug, name, description, _skills = rng.choice(CONSORTIUM_TEMPLATES)
            kind, criteria = "MicroCredential", f"Pass the {name} assessment."
            credential_id = f"{CONSORTIUM_ORIGIN}/credentials/{self._uuid('consortium', key)}"
        else:
            slug, kind, name, description, criteria = CAMP_ACHIEVEMENT
            credential_id = f"urn:uuid:{self._uuid('camp', key)}"
        achievement = {
            "id": f"{issuer.profile['url']}/achievements/{slug}",
            "type": ["Achievement"],
            "achievementType": kind,
            "name": name,
            "description": description,
            "criteria": {"narrative": criteria},
        }
        return self._ob3(
            issuer,
            credential_id,
            achievement,
            self._identity(learner, how, key),
            issued,
            credential_type="OpenBadgeCredential",
        )

    def _reading_assertion(
        self, rng: random.Random, key: str, learner: Learner, how: str, fate: str | None
    ) -> dict[str, Any]:
        """A State Library OB 2.0 hosted assertion, cached in the trust folder unless `fate` is
        uncached (its hosted copy says revoked when `fate` is revoked)."""
        issued = self._instant(rng)
        expires = self._expired_until(issued, rng) if fate == "expired" else None
        assertion_id = f"{READING_ORIGIN}/assertions/{self._uuid('reading', key)}"
        email = learner.email.lower()
        if how == "hashed_email":
            salt = self._salt("reading", key)
            recipient = {
                "type": "email",
                "hashed": True,
                "salt": salt,
                "identity": hash_identity(email, salt),
            }
        else:
            recipient = {"type": "email", "hashed": False, "identity": email}
        slug = rng.choice(OB2_READING_BADGES)[0]
        assertion = _ob2_assertion(
            assertion_id, f"{READING_ORIGIN}/badges/{slug}", recipient, issued, expires, None, None
        )
        if fate != "uncached":
            hosted = dict(assertion)
            if fate == "revoked":
                hosted |= {"revoked": True, "revocationReason": "Reading log not verified."}
            self.trust[f"ob2-assertion-reading-{_short(assertion_id)}.json"] = hosted
        return assertion

    # Trust documents and writing -------------------------------------------------------------

    def _trust_documents(self) -> None:
        issued = _iso(ISSUED_FROM - timedelta(days=30))
        status_list = bitstring_status_list_credential(
            self.status_list_url,
            self.district.did,
            encode_status_list(self.revoked_indexes, length=STATUS_LIST_LENGTH),
            issued,
            purpose="revocation",
        )
        self.trust["status-list-1.json"] = _data_integrity(
            status_list, self.district.key, self.district.method, issued
        )
        self.trust["revocation-list-1.json"] = {
            "id": self.revocation_list_url,
            # How the trust folder tells a revocation list from a hosted OB 2.0 document.
            "type": "1EdTechRevocationList",
            "issuer": self.district.did,
            "revokedCredentials": self.revocation_list,
        }
        did = self.consortium.did
        self.trust["did-web-badges.career-consortium.example.json"] = {
            "@context": list(DID_CONTEXTS),
            "id": did,
            "verificationMethod": [
                {
                    "id": self.consortium.method,
                    "type": "Multikey",
                    "controller": did,
                    "publicKeyMultibase": public_key_multibase(self.consortium.key.public_key()),
                }
            ],
            "assertionMethod": [self.consortium.method],
        }

    def _write(self) -> None:
        folders = {
            name: self.district_dir / name for name in (BADGE_FOLDER, TRUST_FOLDER, PLATFORM_FOLDER)
        }
        for folder in folders.values():
            # Rewritten whole: a file left from an earlier run would contradict the outcomes.
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        for name, data in sorted(self.files.items()):
            (folders[BADGE_FOLDER] / name).write_bytes(data)
        for name, document in sorted(self.trust.items()):
            (folders[TRUST_FOLDER] / name).write_bytes(_json_bytes(document))
        platform = folders[PLATFORM_FOLDER]
        (platform / OB3_FILE).write_bytes(_json_bytes(self.ob3_records))
        (platform / BADGR_FILE).write_bytes(_json_bytes(self.badgr))
        (platform / CREDLY_FILE).write_bytes(_json_bytes(self.credly))
        (platform / OUTCOMES_FILE).write_bytes(
            _json_bytes([asdict(outcome) for outcome in self.outcomes])
        )
        (platform / "README.md").write_text(
            "The sample badge platform's own records (served by `pathways sample-badges`) and\n"
            "`expected_outcomes.json`, the ground truth for tests. Pathways never reads this\n"
            "folder; the district's badge folder is `badges/`, its trust folder `trust/`.\n",
            encoding="utf-8",
        )


# Documents -----------------------------------------------------------------------------------


def _identity_object(identity_type: str, value: str) -> dict[str, Any]:
    return {
        "type": "IdentityObject",
        "identityHash": value,
        "identityType": identity_type,
        "hashed": False,
    }


def _ob2_issuer(issuer_id: str, name: str, url: str, email: str) -> dict[str, Any]:
    return {
        "@context": OB2_CONTEXT,
        "type": "Issuer",
        "id": issuer_id,
        "name": name,
        "url": url,
        "email": email,
    }


def _ob2_badgeclass(
    badge_id: str,
    name: str,
    description: str,
    criteria: str,
    issuer: str,
    image: str,
    alignment: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    badgeclass = {
        "@context": OB2_CONTEXT,
        "type": "BadgeClass",
        "id": badge_id,
        "name": name,
        "description": description,
        "image": image,
        "criteria": {"narrative": criteria},
        "issuer": issuer,
    }
    if alignment:
        badgeclass["alignment"] = alignment
    return badgeclass


def _ob2_assertion(
    assertion_id: str,
    badge: str,
    recipient: dict[str, Any],
    issued: datetime,
    expires: datetime | None,
    evidence: str | None,
    narrative: str | None,
) -> dict[str, Any]:
    assertion: dict[str, Any] = {
        "@context": OB2_CONTEXT,
        "type": "Assertion",
        "id": assertion_id,
        "recipient": recipient,
        "badge": badge,
        "issuedOn": _iso(issued),
        "verification": {"type": "HostedBadge"},
    }
    if expires is not None:
        assertion["expires"] = _iso(expires)
    if evidence is not None:
        assertion["evidence"] = {"id": evidence, "narrative": "Project portfolio."}
    if narrative is not None:
        assertion["narrative"] = narrative
    return assertion


# Baking --------------------------------------------------------------------------------------


def bake_png(image: bytes, keyword: str, text: str) -> bytes:
    """A PNG with an uncompressed iTXt chunk `keyword` holding `text`, right after IHDR (OB 2.0
    baking uses keyword `openbadges`, OB 3.0 `openbadgecredential`)."""
    chunks = list(png.Reader(bytes=image).chunks())
    data = keyword.encode("latin-1") + b"\x00\x00\x00" + b"\x00" + b"\x00" + text.encode("utf-8")
    chunks.insert(1, (b"iTXt", data))
    out = io.BytesIO()
    png.write_chunks(out, chunks)
    return out.getvalue()


def bake_svg_ob2(assertion: Mapping[str, Any]) -> bytes:
    """An SVG badge with an OB 2.0 assertion baked in: `verify` names the hosted assertion and
    the CDATA holds its JSON (OB 2.0 baking)."""
    body = json.dumps(assertion, indent=2, ensure_ascii=False)
    return _svg(
        f'xmlns:openbadges="{OB2_SVG_NAMESPACE}"',
        f'<openbadges:assertion verify="{_xml_attr(assertion["id"])}">'
        f"<![CDATA[\n{body}\n]]></openbadges:assertion>",
    )


def bake_svg_ob3(credential: Mapping[str, Any] | str) -> bytes:
    """An SVG badge with an OB 3.0 credential baked in: a VC-JWT in the `verify` attribute, an
    embedded-proof credential as CDATA JSON (OB 3.0 §5.3.2)."""
    if isinstance(credential, str):
        element = (
            f'<openbadges:credential verify="{_xml_attr(credential)}"></openbadges:credential>'
        )
    else:
        body = json.dumps(credential, indent=2, ensure_ascii=False)
        element = f"<openbadges:credential><![CDATA[\n{body}\n]]></openbadges:credential>"
    return _svg(f'xmlns:openbadges="{OB3_SVG_NAMESPACE}"', element)


def _svg(namespace: str, element: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" {namespace} viewBox="0 0 120 120" '
        'width="120" height="120">\n'
        f"{element}\n"
        '<circle cx="60" cy="60" r="54" fill="#1f6f8b" stroke="#f2c14e" stroke-width="8"/>\n'
        '<path d="M38 62 l14 14 l30 -32" fill="none" stroke="#ffffff" stroke-width="10"/>\n'
        "</svg>\n"
    ).encode()


def _badge_image(key: str, size: int = 48) -> bytes:
    """A small round badge image, its colour drawn from `key`."""
    colour = hashlib.sha256(key.encode()).digest()[:3]
    rows = []
    centre, radius = (size - 1) / 2, size / 2 - 2
    for y in range(size):
        row = []
        for x in range(size):
            inside = (x - centre) ** 2 + (y - centre) ** 2 <= radius**2
            row += [*colour, 255] if inside else [0, 0, 0, 0]
        rows.append(row)
    out = io.BytesIO()
    png.Writer(size, size, greyscale=False, alpha=True).write(out, rows)
    return out.getvalue()


# Small helpers -------------------------------------------------------------------------------


def _district_config(district_dir: Path) -> dict[str, Any]:
    config_path = district_dir / "pathways.yaml"
    if not config_path.is_file():
        return {}
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    district = config.get("district")
    return district if isinstance(district, dict) else {}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _credly_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _json_bytes(value: Any) -> bytes:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def _short(credential_id: str) -> str:
    return hashlib.sha256(credential_id.encode()).hexdigest()[:12]


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.replace("ø", "o").replace("Ø", "O"))
    return "".join(c for c in folded if c.isascii() and (c.isalnum() or c == " ")).lower()


def _tampered_jws(token: str) -> str:
    """A VC-JWT whose payload was changed after signing (the signature left as it was)."""
    header, payload, signature = token.split(".")
    claims = json.loads(_b64url_decode(payload))
    target = claims["vc"] if isinstance(claims.get("vc"), dict) else claims
    target["name"] += " (Level 2)"
    return ".".join((header, _b64url(json.dumps(claims).encode()), signature))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _base58_like(text: str) -> str:
    alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
    return "".join(alphabet[b % 58] for b in text.encode())


def _xml_attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
