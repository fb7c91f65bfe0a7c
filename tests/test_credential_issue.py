"""The credentials the district issues in learner records: built from what the warehouse knows,
signed eddsa-rdfc-2022 exactly as the suite specifies, valid against the official schemas, with
stable ids and content hashes that ignore only what signing changes."""

import hashlib
import json
from datetime import UTC, datetime

import pytest
from credential_builders import edtech_test_key, vector, without_proof

from models.credentials import issue, keys
from models.credentials.proofs import sign_data_integrity
from models.credentials.record import TrustStore
from models.credentials.schema import check_schema
from models.credentials.status import (
    bitstring_status_entry,
    bitstring_status_list_credential,
    encode_status_list,
)
from models.credentials.verify import verify_credential

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
CREATED = "2026-11-26T08:00:00Z"
STATUS = "https://www.lincoln.example/credentials/status/1.json"
CASE_UUID = "6b9c7d2e-3c2a-11e7-a7f1-0242ac110002"


@pytest.fixture(scope="module")
def key():
    return keys.generate_private_key()


@pytest.fixture(scope="module")
def issuer(key):
    return issue.district_issuer("Lincoln Unified", "https://www.lincoln.example", key)


def competency(**changes) -> issue.MasteredCompetency:
    fields = dict(
        learning_objective_id=f"urn:uuid:{CASE_UUID}",
        title="Solve linear equations",
        is_case=True,
        source_system="sis",
        score=3.5,
        value_min=0.0,
        value_max=4.0,
        mastery_threshold=3.0,
        assessed_at="2026-10-01T00:00:00Z",
    )
    fields.update(changes)
    return issue.MasteredCompetency(**fields)


def held(**changes) -> issue.HeldCredential:
    fields = dict(
        credential_key="c0ffee",
        source_platform="credly",
        source="credly",
        credential_id="https://credly.example/badges/1",
        achievement_id=None,
        achievement_key="urn:pathways:achievement:teamwork",
        achievement_name="Algebra Ready",
        achievement_type="MicroCredential",
        achievement_description="Ready for Algebra I.",
        criteria="Completes the algebra readiness pathway.",
        alignments=[
            {
                "target_url": f"https://case.lincoln.example/uri/{CASE_UUID}",
                "target_name": "Linear equations",
                "target_type": "CFItem",
            }
        ],
        issuer_id="https://career-consortium.example",
        issuer_name="Career Consortium",
        awarded_at="2026-09-01T00:00:00Z",
        valid_until=None,
        verification_status="not_verifiable_offline",
    )
    fields.update(changes)
    return issue.HeldCredential(**fields)


def identity(name=None, email=None):
    return issue.learner_identity("district secret salt", "stu-0001", name=name, email=email)


def built(issuer, **changes):
    comp = issue.competency_credential(
        id=issue.stable_id("lincoln", "k1", competency().item),
        district_id="lincoln",
        issuer=issuer,
        identity=identity(),
        competency=competency(**changes),
        status=bitstring_status_entry(STATUS, 1),
        valid_from=CREATED,
    )
    badge = issue.attestation_credential(
        id=issue.stable_id("lincoln", "k1", held().item),
        district_id="lincoln",
        issuer=issuer,
        identity=identity(),
        held=held(),
        status=bitstring_status_entry(STATUS, 2),
        valid_from=CREATED,
    )
    return comp, badge


def record(issuer, signer, comp, badge):
    association = issue.associations(
        "lincoln", [competency()], [(held(), issue.achievement_id_of(badge))]
    )
    return signer.sign(
        issue.clr_credential(
            id=issue.stable_id("lincoln", "k1", "clr"),
            issuer=issuer,
            identity=identity(),
            credentials=[signer.sign(comp), signer.sign(badge)],
            association=association,
            status=bitstring_status_entry(STATUS, 0),
            valid_from=CREATED,
            name="Lincoln Unified: learner record",
        )
    )


def trust_with(signer, issuer, revoked=()) -> TrustStore:
    status_list = bitstring_status_list_credential(
        STATUS, issuer.id, encode_status_list(revoked), CREATED
    )
    return TrustStore(status_lists={STATUS: signer.sign(status_list)})


def test_the_signer_reproduces_the_1edtech_vectors_proof_values():
    for name in ("ob30-simple.json", "clr20-simple.json"):
        signed = vector(name)
        proof = signed["proof"][0] if isinstance(signed["proof"], list) else signed["proof"]
        signer = issue.RecordSigner(
            edtech_test_key(), proof["verificationMethod"], proof["created"]
        )
        assert signer.sign(without_proof(signed))["proof"][0]["proofValue"] == proof["proofValue"]


def test_the_signer_signs_exactly_as_sign_data_integrity(key, issuer):
    comp, _ = built(issuer)
    signer = issue.RecordSigner(key, issuer.verification_method, CREATED)
    assert signer.sign(comp) == sign_data_integrity(
        comp, key, issuer.verification_method, created=CREATED, proof_array=True
    )
    # The proof options are canonicalized once per @context, not once per credential.
    signer.sign(comp)
    assert len(signer._options_hashes) == 1


def test_competency_badge_and_record_verify_and_fit_the_official_schemas(key, issuer):
    signer = issue.RecordSigner(key, issuer.verification_method, CREATED)
    comp, badge = built(issuer)
    clr = record(issuer, signer, comp, badge)
    trust = trust_with(signer, issuer)
    for document in (signer.sign(comp), signer.sign(badge), clr):
        assert [c for c in check_schema(document) if c.outcome != "pass"] == []
        verification = verify_credential(document, trust=trust, now=NOW)
        assert verification.status == "verified", verification.reason


def test_a_competency_is_aligned_to_its_case_item_with_its_result(issuer):
    comp, _ = built(issuer)
    achievement = comp["credentialSubject"]["achievement"]
    assert achievement["achievementType"] == "Competency"
    assert achievement["alignment"] == [
        {
            "type": ["Alignment"],
            "targetName": "Solve linear equations",
            "targetUrl": f"urn:uuid:{CASE_UUID}",
            "targetType": "CFItem",
        }
    ]
    description = achievement["resultDescription"][0]
    assert (description["valueMax"], description["requiredValue"]) == ("4", "3")
    result = comp["credentialSubject"]["result"][0]
    assert (result["value"], result["resultDescription"]) == ("3.5", description["id"])


def test_an_attested_badge_names_its_original_issuer_and_platform(issuer):
    _, badge = built(issuer)
    subject = badge["credentialSubject"]
    assert badge["issuer"]["id"] == issuer.id
    assert subject["source"]["id"] == "https://career-consortium.example"
    assert subject["achievement"]["creator"]["name"] == "Career Consortium"
    assert "Credly" in badge["evidence"][0]["name"]
    assert badge["evidence"][0]["id"] == "https://credly.example/badges/1"


def test_the_record_links_the_competency_to_the_badge_certifying_it(key, issuer):
    signer = issue.RecordSigner(key, issuer.verification_method, CREATED)
    comp, badge = built(issuer)
    clr = record(issuer, signer, comp, badge)
    assert clr["credentialSubject"]["association"] == [
        {
            "type": "Association",
            "associationType": "isChildOf",
            "sourceId": issue.achievement_id_of(comp),
            "targetId": issue.achievement_id_of(badge),
        }
    ]


def test_the_learner_is_a_salted_hash_of_their_sourced_id_and_no_plain_name_by_default():
    plain = identity().identifiers()
    assert len(plain) == 1
    [hashed] = plain
    assert hashed["identityType"] == "sisSourcedId" and hashed["hashed"] is True
    assert "stu-0001" not in str(plain)
    expected = hashlib.sha256(("stu-0001" + hashed["salt"]).encode()).hexdigest()
    assert hashed["identityHash"] == f"sha256${expected}"
    named = identity(name="Zoë Nguyễn", email="zoe@students.lincoln.example").identifiers()
    assert [i["identityType"] for i in named] == ["sisSourcedId", "name", "emailAddress"]


def test_learner_keys_and_salts_depend_on_the_district_secret():
    assert issue.learner_key("a" * 16, "stu-1") == issue.learner_key("a" * 16, "stu-1")
    assert issue.learner_key("a" * 16, "stu-1") != issue.learner_key("b" * 16, "stu-1")
    assert issue.learner_salt("a" * 16, "stu-1") != issue.learner_salt("a" * 16, "stu-2")


def test_ids_are_stable_and_a_new_generation_gets_a_new_one():
    first = issue.stable_id("lincoln", "k1", "competency|x")
    assert first == issue.stable_id("lincoln", "k1", "competency|x")
    assert first != issue.stable_id("lincoln", "k1", "competency|x", generation=1)
    assert first != issue.stable_id("lincoln", "k2", "competency|x")
    assert first.startswith("urn:uuid:")


def test_the_content_hash_ignores_what_signing_changes_and_nothing_else(key, issuer):
    signer = issue.RecordSigner(key, issuer.verification_method, CREATED)
    comp, _ = built(issuer)
    later = issue.RecordSigner(key, issuer.verification_method, "2026-12-01T08:00:00Z")
    moved = {**comp, "validFrom": "2026-12-01T08:00:00Z"}
    assert issue.content_hash(signer.sign(comp)) == issue.content_hash(later.sign(moved))
    changed, _ = built(issuer, score=3.75)
    assert issue.content_hash(changed) != issue.content_hash(comp)


def test_a_record_keeps_its_content_hash_when_a_nested_credential_is_re_signed(key, issuer):
    signer = issue.RecordSigner(key, issuer.verification_method, CREATED)
    later = issue.RecordSigner(key, issuer.verification_method, "2026-12-01T08:00:00Z")
    comp, badge = built(issuer)
    assert issue.content_hash(record(issuer, signer, comp, badge)) == issue.content_hash(
        record(issuer, later, comp, badge)
    )


def test_only_signed_vc2_open_badges_naming_the_learner_by_hashes_are_embedded_as_received():
    signed = vector("ob30-simple.json")
    assert issue.embeddable(signed)
    assert not issue.embeddable(vector("ob30-simple-noproof.json"))
    assert not issue.embeddable(vector("clr20-simple.json"))
    plain = json.loads(json.dumps(signed))
    plain["credentialSubject"]["identifier"] = [
        issue.identity_object("emailAddress", "maya@lincoln.example")
    ]
    assert not issue.embeddable(plain)


def test_a_did_web_issuer_names_its_key_in_its_did_document(key):
    did_web = "did:web:www.lincoln.example"
    web = issue.district_issuer("Lincoln", "https://www.lincoln.example", key, did_web)
    assert web.id == did_web and web.verification_method == f"{did_web}#key-1"
    document = issue.did_web_document(did_web, key)
    signer = issue.RecordSigner(key, web.verification_method, CREATED)
    comp, _ = built(web)
    verification = verify_credential(
        signer.sign(comp),
        trust=TrustStore(
            did_documents={did_web: document},
            status_lists={
                STATUS: signer.sign(
                    bitstring_status_list_credential(
                        STATUS, did_web, encode_status_list([]), CREATED
                    )
                )
            },
        ),
        now=NOW,
    )
    assert verification.status == "verified", verification.reason
