"""JSON-LD offline: only bundled, hash-checked contexts load, and every term a credential uses
must be defined by them (pyld would silently drop the rest)."""

from __future__ import annotations

import hashlib

import pytest
from credential_builders import achievement_credential, vector, without_proof

from models.credentials import jsonld

VC_V2 = "https://www.w3.org/ns/credentials/v2"


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
