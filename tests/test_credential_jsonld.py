"""JSON-LD offline: only bundled, hash-checked contexts load, and every term a credential uses
must be defined by them (pyld would silently drop the rest)."""

from __future__ import annotations

import copy
import hashlib
import random
import uuid

import pytest
from credential_builders import achievement_credential, vector, without_proof

from models.credentials import issue, jsonld, keys
from models.credentials.status import bitstring_status_entry

VC_V2 = "https://www.w3.org/ns/credentials/v2"
STATUS_LIST = "https://www.lincoln.example/credentials/status/1.json"


def test_every_bundled_context_loads_and_matches_its_pinned_hash():
    for url in jsonld.bundled_context_urls():
        loaded = jsonld.load_bundled_context(url)
        assert loaded["documentUrl"] == url
        assert "@context" in loaded["document"]


def test_a_context_file_that_does_not_match_its_pinned_hash_raises(tmp_path):
    tampered = tmp_path / "credentials-v2.jsonld"
    tampered.write_text('{"@context": {"@vocab": "https://evil.example/"}}')
    with pytest.raises(jsonld.ContextIntegrityError, match="expected"):
        jsonld.read_pinned_context(tampered, hashlib.sha256(b"the original").hexdigest())


def test_the_loader_refuses_any_url_that_is_not_bundled():
    with pytest.raises(jsonld.UnknownContextError) as raised:
        jsonld.load_bundled_context("https://www.w3.org/ns/activitystreams")
    assert raised.value.url == "https://www.w3.org/ns/activitystreams"


def test_canonizing_with_an_unknown_context_raises_with_its_url():
    document = {"@context": [VC_V2, "https://example.com/ctx.json"], "type": "VerifiableCredential"}
    with pytest.raises(jsonld.UnknownContextError) as raised:
        jsonld.canonize(document)
    assert raised.value.url == "https://example.com/ctx.json"


def test_an_unknown_context_nested_inside_a_credential_is_found():
    clr = vector("clr20-simple.json")
    nested = clr["credentialSubject"]["verifiableCredential"][0]
    nested["@context"].append("https://example.com/nested.json")
    assert jsonld.unknown_context_urls(clr) == ["https://example.com/nested.json"]


def test_canonical_n_quads_ignore_key_order():
    credential = without_proof(vector("ob30-simple.json"))
    reordered = dict(reversed(list(credential.items())))
    assert jsonld.canonize(reordered) == jsonld.canonize(credential)


def test_pyld_drops_an_undefined_property_silently_so_the_signed_form_does_not_change():
    credential = without_proof(vector("ob30-simple.json"))
    extended = {**credential, "creditHours": 3}
    assert jsonld.canonize(extended) == jsonld.canonize(credential)
    assert jsonld.undefined_terms(extended) == ["creditHours"]


def test_the_vectors_use_only_defined_terms():
    for name in ["ob30-simple.json", "ob30-simple-noproof.json", "clr20-simple.json"]:
        assert jsonld.undefined_terms(vector(name)) == [], name


def test_a_rich_district_credential_uses_only_defined_terms():
    assert jsonld.undefined_terms(achievement_credential()) == []


def test_undefined_properties_are_reported_with_their_json_paths():
    credential = vector("clr20-simple.json")
    credential["transcriptTerm"] = "Fall 2025"
    credential["credentialSubject"]["achievement"][1]["creditHours"] = 3
    nested = credential["credentialSubject"]["verifiableCredential"][0]
    nested["credentialSubject"]["achievement"]["criteria"]["rubric"] = "4-point"
    assert jsonld.undefined_terms(credential) == [
        "transcriptTerm",
        "credentialSubject.achievement[1].creditHours",
        "credentialSubject.verifiableCredential[0].credentialSubject.achievement.criteria.rubric",
    ]


def test_undefined_types_are_reported():
    credential = vector("ob30-simple.json")
    credential["credentialSubject"]["type"].append("HonorsSubject")
    credential["credentialSubject"]["achievement"]["type"] = ["Achievement", "ex:Honors"]
    assert jsonld.undefined_terms(credential) == [
        "credentialSubject.type=HonorsSubject",
        "credentialSubject.achievement.type=ex:Honors",
    ]


def test_a_term_defined_only_by_its_type_scoped_context_is_undefined_elsewhere():
    # `achievementType` is defined inside the OB context's Achievement scope only: fine on the
    # achievement, undefined on the AchievementSubject around it.
    credential = vector("ob30-simple.json")
    credential["credentialSubject"]["achievement"]["achievementType"] = "Competency"
    credential["credentialSubject"]["achievementType"] = "Competency"
    assert jsonld.undefined_terms(credential) == ["credentialSubject.achievementType"]


def test_terms_an_inline_context_defines_and_absolute_iris_are_defined():
    credential = vector("ob30-simple.json")
    credential["@context"].append(
        {"district": "https://pathways.example.org/vocab#", "gradeLevel": "district:gradeLevel"}
    )
    credential["gradeLevel"] = "9"
    credential["district:school"] = "Lincoln High"
    credential["https://pathways.example.org/vocab#cohort"] = "2029"
    assert jsonld.undefined_terms(credential) == []


def test_a_term_only_an_at_vocab_maps_counts_as_undefined():
    credential = vector("ob30-simple.json")
    credential["@context"].append({"@vocab": "https://www.w3.org/ns/credentials/issuer-dependent#"})
    credential["gradeLevel"] = "9"
    assert jsonld.undefined_terms(credential) == ["gradeLevel"]


def test_keywords_are_not_terms():
    document = {
        "@context": VC_V2,
        "@id": "urn:uuid:1",
        "@type": "VerifiableCredential",
        "name": {"@value": "Teamwork", "@language": "en"},
    }
    assert jsonld.undefined_terms(document) == []


def test_a_vocabulary_value_that_is_not_defined_is_reported():
    credential = vector("ob30-simple.json")
    credential["proof"][0]["proofPurpose"] = "assertMethod"
    assert jsonld.undefined_terms(credential) == ["proof[0].proofPurpose=assertMethod"]


def test_a_key_that_looks_like_a_keyword_but_is_not_one_is_reported():
    credential = vector("ob30-simple.json")
    credential["credentialSubject"]["@grade"] = "A"
    assert jsonld.undefined_terms(credential) == ["credentialSubject.@grade"]


def test_an_unknown_context_hidden_in_an_inline_scoped_context_still_fails_closed():
    credential = vector("ob30-simple.json")
    credential["@context"].append(
        {
            "Transcript": {
                "@id": "https://example.com/Transcript",
                "@context": "https://example.com/t.json",
            }
        }
    )
    credential["credentialSubject"]["type"].append("Transcript")
    assert jsonld.unknown_context_urls(credential) == []
    with pytest.raises(jsonld.UnknownContextError) as raised:
        jsonld.undefined_terms(credential)
    assert raised.value.url == "https://example.com/t.json"


# Canonical N-Quads through the memos (`canonize`) against pyld alone (`canonize_uncached`).


def test_the_1edtech_vectors_canonize_byte_for_byte_as_pyld_alone_does():
    documents = []
    for name in ["ob30-simple.json", "ob30-simple-noproof.json", "clr20-simple.json"]:
        signed = vector(name)
        documents += [signed, without_proof(signed)]
    clr = vector("clr20-simple.json")
    documents += clr["credentialSubject"]["verifiableCredential"]
    # Twice: the second round meets every memo warm.
    for document in documents + documents:
        assert jsonld.canonize(document) == jsonld.canonize_uncached(document)


def test_generated_learner_records_canonize_byte_for_byte_as_pyld_alone_does():
    # Learners drawn from a small pool of competencies and badges, so achievements, issuers and
    # contexts recur across records the way they do in a night's export.
    pick = random.Random(7)
    key = keys.generate_private_key()
    district = issue.district_issuer("Lincoln Unified", "https://www.lincoln.example", key)
    signer = issue.RecordSigner(key, district.verification_method, "2026-11-26T08:00:00Z")
    objectives = [f"urn:uuid:{uuid.UUID(int=pick.getrandbits(128))}" for _ in range(4)]
    for learner in range(8):
        sourced_id = f"stu-{learner:04d}"
        identity = issue.learner_identity("district secret salt", sourced_id)
        mastered = [
            issue.MasteredCompetency(
                learning_objective_id=objective,
                title=pick.choice([None, 'Écrire « un "récit" »', "Tab\there\\"]),
                is_case=pick.random() < 0.5,
                source_system=pick.choice(["sis", "canvas", "oneroster_rest"]),
                score=pick.choice([3, 3.5, 4.0]),
                value_min=0.0,
                value_max=4.0,
                mastery_threshold=pick.choice([None, 3.0]),
                assessed_at="2026-10-01T00:00:00Z",
            )
            for objective in pick.sample(objectives, pick.randint(1, 3))
        ]
        held = issue.HeldCredential(
            credential_key=f"c{learner}",
            source_platform="credly",
            source="credly",
            credential_id=f"https://credly.example/badges/{learner}",
            achievement_id=None,
            achievement_key="urn:pathways:achievement:teamwork",
            achievement_name=pick.choice(["Teamwork", "Algebra Ready"]),
            achievement_type="MicroCredential",
            achievement_description="Works well in a team.",
            criteria="Completes the pathway.",
            alignments=[{"target_url": objectives[0], "target_name": "Linear equations"}],
            issuer_id="https://career-consortium.example",
            issuer_name="Career Consortium",
            awarded_at="2026-09-01T00:00:00Z",
            valid_until=None,
            verification_status="not_verifiable_offline",
        )
        nested = [
            issue.competency_credential(
                id=issue.stable_id("lincoln", sourced_id, competency.item),
                district_id="lincoln",
                issuer=district,
                identity=identity,
                competency=competency,
                status=bitstring_status_entry(STATUS_LIST, 2 * learner),
                valid_from="2026-11-26T08:00:00Z",
            )
            for competency in mastered
        ]
        nested.append(
            issue.attestation_credential(
                id=issue.stable_id("lincoln", sourced_id, held.item),
                district_id="lincoln",
                issuer=district,
                identity=identity,
                held=held,
                status=bitstring_status_entry(STATUS_LIST, 2 * learner + 1),
                valid_from="2026-11-26T08:00:00Z",
            )
        )
        clr = issue.clr_credential(
            id=issue.stable_id("lincoln", sourced_id, "clr"),
            issuer=district,
            identity=identity,
            credentials=[signer.sign(credential) for credential in nested],
            association=[],
            status=None,
            valid_from="2026-11-26T08:00:00Z",
            name="Lincoln Unified: learner record",
        )
        for document in [*nested, clr, dict(reversed(list(clr.items())))]:
            assert jsonld.canonize(document) == jsonld.canonize_uncached(document), sourced_id


def test_a_value_seen_under_one_context_is_expanded_afresh_under_another():
    # The same achievement JSON in two credentials whose contexts differ by one inline term: the
    # memos must not carry the first credential's processed contexts or expansion into the
    # second (where `creditHours` is defined, so it is signed), in either order.
    plain = achievement_credential()
    plain["credentialSubject"]["achievement"]["creditHours"] = 3
    extended = copy.deepcopy(plain)
    extended["@context"].append({"creditHours": "https://pathways.example.org/vocab#creditHours"})
    for document in [plain, extended, plain, extended]:
        assert jsonld.canonize(document) == jsonld.canonize_uncached(document)
    assert "vocab#creditHours" not in jsonld.canonize(plain)
    assert "vocab#creditHours" in jsonld.canonize(extended)


def test_a_document_that_is_not_plain_json_is_canonized_by_pyld_alone():
    # A tuple and a list have the same JSON text, which the memos key by; pyld tells them apart.
    as_list = achievement_credential()
    as_list["credentialSubject"]["achievement"]["name"] = ["Algebra I", "Linear Equations"]
    as_tuple = copy.deepcopy(as_list)
    as_tuple["credentialSubject"]["achievement"]["name"] = ("Algebra I", "Linear Equations")
    for document in [as_list, as_tuple]:
        assert jsonld.canonize(document) == jsonld.canonize_uncached(document)
    assert jsonld.canonize(as_tuple) != jsonld.canonize(as_list)


def test_the_memos_stay_within_their_bounds(monkeypatch):
    for name in ["_PROCESSED", "_TERM_IRIS", "_EXPANDED"]:
        monkeypatch.setattr(jsonld, name, jsonld._LruCache(maxsize=4))
    for n in range(10):
        document = achievement_credential()
        document["@context"].append({f"term{n}": f"https://pathways.example.org/vocab#{n}"})
        document["credentialSubject"]["achievement"][f"term{n}"] = n
        assert jsonld.canonize(document) == jsonld.canonize_uncached(document)
    for name in ["_PROCESSED", "_TERM_IRIS", "_EXPANDED"]:
        assert 0 < len(getattr(jsonld, name)) <= 4, name


def test_the_memos_do_not_change_what_the_term_audit_reports():
    credential = vector("clr20-simple.json")
    credential["credentialSubject"]["achievement"][1]["creditHours"] = 3
    expected = ["credentialSubject.achievement[1].creditHours"]
    assert jsonld.undefined_terms(credential) == expected
    assert jsonld.undefined_terms(credential) == expected
