"""`pathways verify` and `pathways keys generate`: anyone can check an Open Badges 3.0 or CLR 2.0
file offline, with a report of every check, and exit 0 only when every check passes."""

import json
import os
from pathlib import Path

import pytest
from credential_builders import VECTORS

from models.credentials import issue, keys
from models.credentials.jws import sign_vc_jwt
from models.credentials.status import (
    bitstring_status_entry,
    bitstring_status_list_credential,
    encode_status_list,
)
from pipelines.cli import main

CREATED = "2026-11-26T08:00:00Z"
STATUS = "https://www.lincoln.example/credentials/status/1.json"


@pytest.mark.parametrize(
    ("vector", "exit_code", "says"),
    [
        ("ob30-simple.json", 0, "PASS  signature"),
        ("clr20-simple.json", 0, "VERIFIED (2 credentials)"),
        ("ob30-simple-err-proof-value.json", 1, "the signature does not verify"),
        ("ob30-simple-noproof.json", 1, "has no proof"),
    ],
)
def test_the_1edtech_vectors_verify_as_expected(vector, exit_code, says, capsys):
    assert main(["verify", str(VECTORS / vector), "--at", "2026-11-26"]) == exit_code
    out = capsys.readouterr().out
    assert says in out
    assert ("NOT VERIFIED" in out) == bool(exit_code)


def test_the_report_names_every_check(capsys):
    main(["verify", str(VECTORS / "ob30-simple.json"), "--at", "2026-11-26"])
    out = capsys.readouterr().out
    for label in ("structure", "contexts", "terms", "signature", "status", "dates", "schema"):
        assert f"  {label}" in out, label


@pytest.fixture
def district_files(tmp_path):
    """A signed competency credential, its VC-JWT, and two status lists (one revoking it)."""
    key = keys.generate_private_key()
    issuer = issue.district_issuer("Lincoln Unified", "https://www.lincoln.example", key)
    signer = issue.RecordSigner(key, issuer.verification_method, CREATED)
    credential = issue.competency_credential(
        id=issue.stable_id("lincoln", "k1", "competency|x"),
        district_id="lincoln",
        issuer=issuer,
        identity=issue.learner_identity("district secret salt", "stu-0001"),
        competency=issue.MasteredCompetency(
            "urn:uuid:6b9c7d2e-3c2a-11e7-a7f1-0242ac110002",
            "Solve linear equations",
            True,
            "sis",
            3.5,
            0.0,
            4.0,
            3.0,
            "2026-10-01T00:00:00Z",
        ),
        status=bitstring_status_entry(STATUS, 7),
        valid_from=CREATED,
    )
    signed = signer.sign(credential)
    (tmp_path / "credential.json").write_text(json.dumps(signed), encoding="utf-8")
    token = sign_vc_jwt(credential, key, issuer.verification_method)
    (tmp_path / "credential.jwt").write_text(token, encoding="utf-8")
    for name, revoked in (("clear", []), ("revoked", [7])):
        folder = tmp_path / name
        folder.mkdir()
        status_list = bitstring_status_list_credential(
            STATUS, issuer.id, encode_status_list(revoked), CREATED
        )
        (folder / "1.json").write_text(json.dumps(signer.sign(status_list)), encoding="utf-8")
    return tmp_path


def test_a_signed_credential_and_its_jwt_verify_against_the_status_list(district_files, capsys):
    files = [str(district_files / "credential.json"), str(district_files / "credential.jwt")]
    args = ["verify", *files, "--status-list", str(district_files / "clear"), "--at", "2026-11-27"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "2 of 2 files verified" in out
    assert "PASS  status     not revoked" in out


def test_a_revoked_credential_fails_with_the_reason(district_files, capsys):
    path = str(district_files / "credential.json")
    revoked = str(district_files / "revoked" / "1.json")
    assert main(["verify", path, "--status-list", revoked, "--at", "2026-11-27"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  status     revoked by its issuer" in out


def test_without_its_status_list_revocation_is_not_checked_and_verify_fails(district_files, capsys):
    assert main(["verify", str(district_files / "credential.json"), "--at", "2026-11-27"]) == 1
    assert "is not cached" in capsys.readouterr().out


def test_a_credential_before_its_validity_fails(district_files, capsys):
    path = str(district_files / "credential.json")
    clear = str(district_files / "clear")
    assert main(["verify", path, "--status-list", clear, "--at", "2026-01-01"]) == 1
    assert "FAIL  dates" in capsys.readouterr().out


def test_a_changed_field_fails_the_signature(district_files, capsys):
    document = json.loads((district_files / "credential.json").read_text(encoding="utf-8"))
    document["credentialSubject"]["result"][0]["value"] = "4"
    changed = district_files / "changed.json"
    changed.write_text(json.dumps(document), encoding="utf-8")
    clear = str(district_files / "clear")
    assert main(["verify", str(changed), "--status-list", clear, "--at", "2026-11-27"]) == 1
    assert "FAIL  signature" in capsys.readouterr().out


def test_an_unreadable_file_fails(tmp_path, capsys):
    (tmp_path / "x.json").write_text("{not json", encoding="utf-8")
    assert main(["verify", str(tmp_path / "x.json"), str(tmp_path / "missing.json")]) == 1
    assert "cannot be read" in capsys.readouterr().out


def test_keys_generate_writes_a_private_key_file_and_prints_only_public_parts(tmp_path, capsys):
    out = tmp_path / "keys" / "issuer.key"
    assert (
        main(["keys", "generate", "--out", str(out), "--did-web", "did:web:lincoln.example"]) == 0
    )
    secret = out.read_text(encoding="utf-8").strip()
    assert oct(os.stat(out).st_mode)[-3:] == "600"
    private_key = keys.private_key_from_multibase(secret)
    printed = capsys.readouterr().out
    assert secret not in printed
    assert keys.did_key(private_key.public_key()) in printed
    document = json.loads(Path(tmp_path / "keys" / "did.json").read_text(encoding="utf-8"))
    assert document["assertionMethod"] == ["did:web:lincoln.example#key-1"]
    # An existing key is never overwritten by accident.
    assert main(["keys", "generate", "--out", str(out)]) == 2
    assert out.read_text(encoding="utf-8").strip() == secret
