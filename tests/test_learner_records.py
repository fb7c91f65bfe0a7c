"""Learner-record exports, for real: a generated district through the whole night into signed
CLR 2.0 records, partner bundles and status lists on disk, checked the way a college or an
employer would check them (`pathways verify`), then a second night that changes nothing, a
third in which a badge is revoked upstream, and a fourth in which the SIS withdraws a learner,
which dies half-way through its records and is run again."""

import csv
import errno
import hashlib
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import duckdb
import pytest
from oneroster_builders import write_package
from rich.console import Console

from models.config import ConfigError, load_config
from models.credentials import issue, jsonld, keys
from models.credentials.clr import nested_credentials
from models.credentials.schema import check_schema
from models.credentials.status import decode_status_list, status_bit
from pipelines import exports
from pipelines.cli import main, run_nightly
from pipelines.exports import LEARNER_RECORDS_KEY, RECORDS_VERIFY_CHECK
from sample_district.generate import EXPORT_SALT_FILE, generate_district

LEARNERS = 300
PARTNER = "state-university"


def hand_in_a_hashed_badge(district) -> str:
    """A learner hands in an OB 3.0 badge (signed by a did:key issuer) that names them by a
    salted hash of their email, as a privacy-minded platform would: it verifies on ingest and
    links to them, so their record embeds it as it is. Returns the learner's sourcedId."""
    # A learner who mastered a CASE competency (a score of 3.5 of 4 on it), which the badge is
    # aligned to, so the record links the two.
    with (district.oneroster_path / "resultLearningObjectiveIds.csv").open(encoding="utf-8") as fh:
        scored = next(r for r in csv.DictReader(fh) if r["score"] and float(r["score"]) >= 3.5)
    with (district.oneroster_path / "results.csv").open(encoding="utf-8") as fh:
        result = next(r for r in csv.DictReader(fh) if r["sourcedId"] == scored["resultSourcedId"])
    with (district.oneroster_path / "users.csv").open(encoding="utf-8") as fh:
        learner = next(
            u for u in csv.DictReader(fh) if u["sourcedId"] == result["studentSourcedId"]
        )
    case_uuid = scored["learningObjectiveId"].removeprefix("urn:uuid:")
    key = keys.generate_private_key()
    camp = {"id": keys.did_key(key.public_key()), "type": ["Profile"], "name": "Robotics Camp"}
    badge = {
        "@context": list(issue.OB3_CONTEXTS),
        "id": "urn:uuid:0f5b8f52-3c1e-4f5e-9a55-0c0ffee00001",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": camp,
        "validFrom": "2026-07-01T00:00:00Z",
        "name": "Robotics Camp Finisher",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [issue.identity_object("emailAddress", learner["email"], "c4mp")],
            "achievement": {
                "id": "https://camp.example/achievements/finisher",
                "type": ["Achievement"],
                "achievementType": "Badge",
                "name": "Robotics Camp Finisher",
                "description": "Built and programmed a robot in a week-long camp.",
                "criteria": {"narrative": "Completes every camp challenge."},
                "alignment": [
                    {
                        "type": ["Alignment"],
                        "targetType": "CFItem",
                        "targetName": "A district competency",
                        "targetUrl": f"https://case.sample-district.example/uri/{case_uuid}",
                    }
                ],
            },
        },
    }
    signed = issue.RecordSigner(
        key, keys.did_key_verification_method(key.public_key()), "2026-07-01T00:00:00Z"
    ).sign(badge)
    (district.out / "badges" / "robotics-camp.json").write_text(json.dumps(signed), "utf-8")
    return learner["sourcedId"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A 300-learner district after its first night, and the Dagster instance that ran it."""
    district = generate_district(LEARNERS, tmp_path_factory.mktemp("district") / "d", seed=7)
    hand_in_a_hashed_badge(district)
    with dg.DagsterInstance.ephemeral() as instance:
        summary = run_nightly(district.config_path, Console(width=120), instance=instance)
        assert summary.success, summary.failures
        config = load_config(district.config_path)
        first = config.exports.out_dir / "latest"
        yield district, config, instance, summary, first.resolve()


def materialization(instance, run_id: str) -> dict:
    for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION):
        found = event.dagster_event.event_specific_data.materialization
        if found.asset_key == LEARNER_RECORDS_KEY:
            return {key: value.value for key, value in found.metadata.items()}
    raise AssertionError("marts/learner_records was not materialized")


def check_result(instance, run_id: str):
    for event in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        data = event.dagster_event.event_specific_data
        if data.check_name == RECORDS_VERIFY_CHECK:
            return data
    raise AssertionError("the export check did not run")


def learner_key(district, sourced_id: str) -> str:
    secret = (district.out / EXPORT_SALT_FILE).read_text(encoding="utf-8").strip()
    return issue.learner_key(secret, sourced_id)


def verify(*args: str) -> int:
    return main(["verify", *args])


def test_every_exported_file_verifies_and_fits_the_official_schemas(exported, capsys):
    _, _, instance, summary, folder = exported
    records = sorted((folder / "learner-records").glob("*.json"))
    assert len(records) > 100
    status = str(folder / "status")
    trust = str(exported[1].verification.trust_dir)
    assert verify(*map(str, records), "--status-list", status, "--trust", trust) == 0
    out = capsys.readouterr().out
    assert f"{len(records)} of {len(records)} files verified" in out
    assert "FAIL" not in out
    for path in records[:40]:
        document = json.loads(path.read_bytes())
        assert [c for c in check_schema(document) if c.outcome != "pass"] == []
        for _, nested in nested_credentials(document):
            checks = check_schema(nested)
            assert [c for c in checks if c.outcome == "fail"] == []
            if nested["issuer"]["id"] == document["issuer"]["id"]:
                assert [c for c in checks if c.outcome != "pass"] == []
    check = check_result(instance, summary.run_id)
    assert check.passed, check.description


def test_the_records_were_signed_over_the_canonical_form_pyld_alone_gives(exported):
    # The signatures are made over `jsonld.canonize`, which memoizes what pyld would re-process;
    # every fifth record (the CLR and each credential in it, embedded ones too) checked against
    # pyld without the memos, byte for byte.
    records = sorted((exported[4] / "learner-records").glob("*.json"))[::5]
    assert len(records) > 20
    for path in records:
        record = json.loads(path.read_bytes())
        for document in [record, *(nested for _, nested in nested_credentials(record))]:
            unsigned = {key: value for key, value in document.items() if key != "proof"}
            assert jsonld.canonize(unsigned) == jsonld.canonize_uncached(unsigned), path.name


def test_a_record_holds_competencies_badges_and_their_associations(exported):
    folder = exported[4]
    kinds, associations, embedded, mastered = set(), 0, 0, 0
    for path in sorted((folder / "learner-records").glob("*.json")):
        document = json.loads(path.read_bytes())
        assert document["type"] == ["VerifiableCredential", "ClrCredential"]
        subject = document["credentialSubject"]
        associations += len(subject.get("association", []))
        for credential in subject["verifiableCredential"]:
            achievement = credential["credentialSubject"]["achievement"]
            kinds.add(achievement.get("achievementType"))
            if credential["issuer"]["id"] != document["issuer"]["id"]:
                embedded += 1
            elif "evidence" not in credential:  # a competency mastered, not a badge
                assert achievement["achievementType"] == "Competency"
                assert credential["credentialSubject"]["result"][0]["value"]
                mastered += 1
                alignment = achievement["alignment"][0]
                assert alignment["targetType"] == "CFItem"
    assert "Competency" in kinds and len(kinds) > 2
    assert mastered > 0
    assert embedded > 0, "verified OB 3.0 originals are embedded as they were received"
    assert associations > 0


def test_no_name_email_or_sourced_id_reaches_an_exported_file(exported):
    district, _, _, _, folder = exported
    with (district.oneroster_path / "users.csv").open(encoding="utf-8") as fh:
        users = list(csv.DictReader(fh))
    text = "\n".join(p.read_text(encoding="utf-8") for p in folder.rglob("*.json"))
    assert not [u["email"] for u in users if u["email"] and u["email"] in text]
    assert not [u for u in users if len(u["familyName"]) > 3 and f'"{u["familyName"]}' in text]
    assert '"stu-' not in text
    assert all(len(p.stem) == 32 for p in (folder / "learner-records").iterdir())


def test_changing_any_field_of_a_signed_record_makes_verify_fail(exported, tmp_path, capsys):
    folder = exported[4]
    original = json.loads(sorted((folder / "learner-records").glob("*.json"))[0].read_bytes())
    edits = {
        "outer-name": lambda d: d.update(name="Forged record"),
        "nested-identity": lambda d: d["credentialSubject"]["verifiableCredential"][0][
            "credentialSubject"
        ].update(identifier=[]),
        "valid-from": lambda d: d.update(validFrom="2020-01-01T00:00:00Z"),
    }
    for name, edit in edits.items():
        document = json.loads(json.dumps(original))
        edit(document)
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        assert verify(str(path), "--status-list", str(folder / "status")) == 1, name
        assert "FAIL  signature" in capsys.readouterr().out


def test_an_opted_out_learner_is_in_their_own_record_but_not_the_partner_bundle(exported):
    district, _, _, _, folder = exported
    with (district.oneroster_path / "users.csv").open(encoding="utf-8") as fh:
        opted_out = {
            u["sourcedId"] for u in csv.DictReader(fh) if u["metadata.partnerSharingOptOut"]
        }
    own = {p.stem for p in (folder / "learner-records").glob("*.json")}
    keys = {learner_key(district, s) for s in opted_out} & own
    assert keys, "some learner with a record opted out of partner sharing"
    manifest = json.loads((folder / "partners" / PARTNER / "manifest.json").read_bytes())
    shared = {m["learner_key"] for m in manifest["records"]}
    shared_files = {p.stem for p in (folder / "partners" / PARTNER).glob("*.json")} - {"manifest"}
    assert shared == shared_files
    assert not keys & shared
    assert own - keys == shared


def test_the_manifest_and_the_mart_list_every_record_with_its_hash(exported):
    _, config, _, _, folder = exported
    manifest = json.loads((folder / "manifest.json").read_bytes())
    with duckdb.connect(str(config.warehouse.published_path), read_only=True) as con:
        rows = con.execute(
            "SELECT learner_key, file, sha256, status, len(achievements) FROM marts.learner_records"
        ).fetchall()
    assert {r[0] for r in rows} == {r["learner_key"] for r in manifest["records"]}
    for _key, file, sha256, status, achievements in rows:
        assert status == "current" and achievements > 0
        path = folder / file
        assert hashlib.sha256(path.read_bytes()).hexdigest() == sha256


def test_an_unchanged_learner_is_not_signed_again_on_the_second_night(exported):
    district, config, instance, first_night, first = exported
    before = {p.name: p.stat().st_ino for p in (first / "learner-records").glob("*.json")}
    second = run_nightly(district.config_path, Console(width=120), instance=instance)
    assert second.success, second.failures
    counts = materialization(instance, second.run_id)
    assert counts["re_signed"] == 0 and counts["built"] == 0
    assert counts["unchanged"] == counts["records"] == len(before)
    # Only the status list is signed again.
    assert counts["credentials_signed"] == counts["status_lists"]
    folder = (config.exports.out_dir / "latest").resolve()
    assert folder != first
    after = {p.name: p.stat().st_ino for p in (folder / "learner-records").glob("*.json")}
    assert after == before  # the same files, hard-linked into tonight's folder
    assert materialization(instance, first_night.run_id)["re_signed"] == len(before)


def test_a_badge_revoked_upstream_shows_as_revoked_and_leaves_the_record(exported, capsys):
    district, config, instance, _, _ = exported
    latest = (config.exports.out_dir / "latest").resolve()
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        record_key, sourced_id, credential_key = con.execute(
            "SELECT record_key, learner_sourced_id, credential_key FROM core.credentials "
            "WHERE source_platform = 'badge_files' AND spec_version = '2.0' AND is_active "
            "AND learner_sourced_id IS NOT NULL AND record_key LIKE '%.json' ORDER BY 1 LIMIT 1"
        ).fetchone()
    key = learner_key(district, sourced_id)
    kept = latest.parent / "kept-before-revocation.json"
    shutil.copy(latest / "learner-records" / f"{key}.json", kept)
    old = json.loads(kept.read_bytes())
    attested = [
        c
        for _, c in nested_credentials(old)
        if any(e.get("description", "").startswith("Issued by") for e in c.get("evidence", []))
    ]
    assert attested

    badge = district.out / "badges" / record_key
    saved = badge.read_bytes()
    assertion = json.loads(saved)
    assertion["revoked"] = True
    assertion["revocationReason"] = "Awarded in error"
    badge.write_text(json.dumps(assertion), encoding="utf-8")
    try:
        night = run_nightly(district.config_path, Console(width=120), instance=instance)
        assert night.success, night.failures
        counts = materialization(instance, night.run_id)
        assert counts["re_signed"] == 1 and counts["revoked_tonight"] >= 1
        assert check_result(instance, night.run_id).passed
        folder = (config.exports.out_dir / "latest").resolve()
        new = json.loads((folder / "learner-records" / f"{key}.json").read_bytes())
        assert new["id"] == old["id"], "the record keeps its id"
        new_ids = {c["id"] for _, c in nested_credentials(new)}
        revoked_ids = {c["id"] for c in attested} - new_ids
        assert revoked_ids, "the revoked badge left the record"
        # The copy the learner already handed out now shows the badge as revoked.
        assert verify(str(kept), "--status-list", str(folder / "status")) == 1
        out = capsys.readouterr().out
        assert "revoked by its issuer" in out
        # And the new record verifies.
        assert (
            verify(
                str(folder / "learner-records" / f"{key}.json"),
                "--status-list",
                str(folder / "status"),
                "--trust",
                str(config.verification.trust_dir),
            )
            == 0
        )
        with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
            reason = con.execute(
                "SELECT reason FROM audit.export_credentials WHERE item = $item",
                {"item": f"held|{credential_key}"},
            ).fetchone()[0]
        assert reason == "revoked_upstream"
    finally:
        badge.write_bytes(saved)
        kept.unlink(missing_ok=True)


def test_status_list_indexes_are_never_reused(exported):
    config = exported[1]
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        total, distinct = con.execute(
            "SELECT count(status_index), count(DISTINCT status_index) FROM audit.export_credentials"
        ).fetchone()
        columns = {
            r[0]
            for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE schema_name = 'audit' "
                "AND table_name IN ('learner_records', 'export_credentials')"
            ).fetchall()
        }
    assert total == distinct > 0
    assert not {"learner_sourced_id", "sourced_id", "email", "name"} & columns


def test_the_key_never_reaches_the_warehouse_or_the_exports(exported):
    district, config, _, _, folder = exported
    secret_key = (district.out / "keys" / "issuer.key").read_text(encoding="utf-8").strip()
    salt = (district.out / EXPORT_SALT_FILE).read_text(encoding="utf-8").strip()
    assert oct(os.stat(district.out / "keys" / "issuer.key").st_mode)[-3:] == "600"
    for path in folder.rglob("*.json"):
        text = path.read_text(encoding="utf-8")
        assert secret_key not in text and salt not in text
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        dump = json.dumps(
            con.execute("SELECT list(summary) FROM audit.export_nights").fetchone()[0],
            default=str,
        )
    assert secret_key not in dump and salt not in dump
    assert Path(config.exports.out_dir, "status", "1.json").is_file()


# --- a learner withdrawn, on a night that dies half-way and is run again ----------------------


def district_status_entries(record: dict) -> list[dict]:
    """The status entries of a record the district signed: its own and those of the nested
    credentials it signed (credentials embedded as other issuers signed them answer to those
    issuers' lists)."""
    entries = []
    for document in [record, *(c for _, c in nested_credentials(record))]:
        if document["issuer"]["id"] != record["issuer"]["id"]:
            continue
        status = document.get("credentialStatus")
        entries += status if isinstance(status, list) else [status] if status else []
    return entries


def bits_set(status_folder: Path, entries: list[dict]) -> list[bool]:
    lists = {}
    for path in status_folder.glob("*.json"):
        document = json.loads(path.read_bytes())
        lists[document["id"]] = decode_status_list(document["credentialSubject"]["encodedList"])
    return [
        status_bit(lists[entry["statusListCredential"]], int(entry["statusListIndex"]))
        for entry in entries
    ]


def export_state(path: Path) -> dict[str, list]:
    """What a warehouse says was exported: the export audit tables and the mart, row for row."""
    with duckdb.connect(str(path), read_only=True) as con:
        present = {
            f"{schema}.{table}"
            for schema, table in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables()"
            ).fetchall()
        }
        return {
            table: con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            for table in (
                "audit.learner_records",
                "audit.export_credentials",
                "audit.export_nights",
                "marts.learner_records",
            )
            if table in present
        }


def incomplete(folder: Path) -> list[str]:
    """What a night folder lacks: a file its manifests list, or one the manifest hashed
    differently."""
    problems = []
    manifest = json.loads((folder / "manifest.json").read_bytes())
    for record in manifest["records"]:
        path = folder / record["file"]
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != record["sha256"]:
            problems.append(record["file"])
    partner = json.loads((folder / "partners" / PARTNER / "manifest.json").read_bytes())
    problems += [
        f"partners/{PARTNER}/{m['file']}"
        for m in partner["records"]
        if not (folder / "partners" / PARTNER / m["file"]).is_file()
    ]
    if not list((folder / "status").glob("*.json")):
        problems.append("status/")
    return problems if manifest["records"] else ["no records"]


def visible(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if not p.name.startswith("."))


@pytest.fixture(scope="module")
def withdrawn_after_a_crash(exported, tmp_path_factory):
    """A night in which the SIS withdraws a learner (its delta marks them tobedeleted) and three
    other learners each lose a badge upstream (its file is gone), which dies half-way through
    its records (the disk fills up once the first is written) and is then run again: what was
    on disk and in the warehouse before the night, after the crash and after the re-run. Both
    runs build one learner per chunk (`exports.CHUNK` = 1), so the night dies after chunks of
    it were saved."""
    district, config, instance, _, _ = exported
    out = config.exports.out_dir
    trust = str(config.verification.trust_dir)
    work = tmp_path_factory.mktemp("withdrawn-after-a-crash")
    before = (out / "latest").resolve()
    seen = SimpleNamespace(before=before)
    seen.own = {p.stem for p in (before / "learner-records").glob("*.json")}

    # The learner withdrawn: one with a record of several credentials, shared with the partner.
    with (district.oneroster_path / "users.csv").open(encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns, users = reader.fieldnames, list(reader)

    def several_credentials(key: str) -> bool:
        record = json.loads((before / "learner-records" / f"{key}.json").read_bytes())
        return len(list(nested_credentials(record))) >= 2

    sourced_id, seen.key = next(
        (user["sourcedId"], key)
        for user in sorted(users, key=lambda u: u["sourcedId"])
        if (key := learner_key(district, user["sourcedId"])) in seen.own
        and (before / "partners" / PARTNER / f"{key}.json").is_file()
        and several_credentials(key)
    )
    seen.kept = work / "last-record.json"  # the copy the learner handed out
    shutil.copy(before / "learner-records" / f"{seen.key}.json", seen.kept)
    seen.entries = district_status_entries(json.loads(seen.kept.read_bytes()))
    seen.bits_before = bits_set(out / "status", seen.entries)
    seen.verified_before = verify(
        str(seen.kept), "--status-list", str(before / "status"), "--trust", trust
    )
    seen.inodes = {p.name: p.stat().st_ino for p in (before / "learner-records").iterdir()}
    seen.visible = visible(out)
    seen.published_lists = {p.name: p.read_bytes() for p in (out / "status").glob("*.json")}
    seen.state = export_state(config.warehouse.path)
    seen.published_mart = export_state(config.warehouse.published_path)["marts.learner_records"]

    # The learners who lose a badge: one badge file each, of three other learners with records.
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        held = con.execute(
            "SELECT learner_sourced_id, min(record_key) FROM core.credentials "
            "WHERE source_platform = 'badge_files' AND is_active AND NOT link_ambiguous "
            "AND learner_sourced_id IS NOT NULL AND record_key LIKE '%.json' "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    badges = [
        (key, record_key)
        for learner, record_key in held
        if (key := learner_key(district, learner)) in seen.own and key != seen.key
    ][:3]
    seen.changed = {key for key, _ in badges}
    assert len(seen.changed) == 3

    sis = district.oneroster_path
    shutil.copytree(sis, work / "sis")
    aside = work / "badges"
    aside.mkdir()
    shutil.rmtree(sis)
    tombstone = dict.fromkeys(columns, "") | {
        "sourcedId": sourced_id,
        "status": "tobedeleted",
        "dateLastModified": "2026-11-25T18:00:00.000Z",
    }
    write_package(sis, {"users.csv": [tombstone]}, modes={"users.csv": "delta"})
    for n, (_, record_key) in enumerate(badges):
        shutil.move(district.out / "badges" / record_key, aside / f"{n}.json")

    # The fault: a real os.replace, until the second record of the night is renamed into place.
    replace = os.replace
    seen.written = []

    def disk_full_after_one_record(source, target, *args, **kwargs):
        path = Path(target)
        if path.parent.name == "learner-records" and path.parent.parent.name.endswith(".partial"):
            if seen.written:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            seen.written.append(path)
        return replace(source, target, *args, **kwargs)

    # Chunks saved: one learner each, so every record the night wrote was saved before it died.
    save = exports._save
    seen.saved = []

    def counted_save(*args, **kwargs):
        save(*args, **kwargs)
        seen.saved.append(len(seen.written))

    try:
        with pytest.MonkeyPatch.context() as chunks:
            chunks.setattr(exports, "CHUNK", 1)
            chunks.setattr(exports, "_save", counted_save)
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(os, "replace", disk_full_after_one_record)
                seen.crashed = run_nightly(
                    district.config_path, Console(width=120), instance=instance
                )
            seen.saved_before_crash = list(seen.saved)
            seen.latest_after_crash = (out / "latest").resolve()
            seen.incomplete_after_crash = incomplete(before)
            seen.visible_after_crash = visible(out)
            seen.hidden_after_crash = sorted(p.name for p in out.iterdir() if p.name[0] == ".")
            seen.lists_after_crash = {
                p.name: p.read_bytes() for p in (out / "status").glob("*.json")
            }
            seen.state_after_crash = export_state(config.warehouse.path)
            seen.published_mart_after_crash = export_state(config.warehouse.published_path)[
                "marts.learner_records"
            ]

            seen.night = run_nightly(district.config_path, Console(width=120), instance=instance)
    finally:
        shutil.rmtree(sis)
        shutil.copytree(work / "sis", sis)
        for n, (_, record_key) in enumerate(badges):
            shutil.move(aside / f"{n}.json", district.out / "badges" / record_key)
    seen.folder = (out / "latest").resolve()
    return seen


def test_a_night_that_dies_half_way_through_its_records_leaves_last_night_and_the_audit_intact(
    withdrawn_after_a_crash,
):
    seen = withdrawn_after_a_crash
    assert not seen.crashed.success
    assert [f for f in seen.crashed.failures if "learner_records" in f and "No space left" in f]
    assert len(seen.written) == 1, "the night died after writing one of its records"
    # ...and after the chunk that wrote it was saved (with the learners' audit rows it stages).
    assert seen.saved_before_crash and seen.saved_before_crash[-1] == 1
    # Last night is still the one published, whole; tonight's half is only in the hidden
    # .<night>.partial folder the exports' docstring describes, which nothing points at.
    assert seen.latest_after_crash == seen.before
    assert seen.incomplete_after_crash == []
    assert seen.visible_after_crash == seen.visible
    assert seen.hidden_after_crash == [seen.written[0].parent.parent.name]
    assert seen.lists_after_crash == seen.published_lists
    # Nothing of the dead night is recorded as exported, row for row: not the records of the
    # chunks it saved (no sha256 of a file only in the .partial folder), not their credentials'
    # new content hashes or revocations (bits never published), not the learner it was to
    # withdraw, not the night itself: the audit changes only when a night is published.
    assert seen.state_after_crash == seen.state
    assert seen.published_mart_after_crash == seen.published_mart


def test_running_the_night_again_after_a_crash_completes_it_with_every_record_verifying(
    exported, withdrawn_after_a_crash, capsys
):
    config, instance = exported[1], exported[2]
    seen = withdrawn_after_a_crash
    out = config.exports.out_dir
    assert seen.night.success, seen.night.failures
    assert check_result(instance, seen.night.run_id).passed
    folder = seen.folder
    assert folder != seen.before
    assert seen.hidden_after_crash == [f".{folder.name}.partial"]  # the night it left half-done
    assert not [p for p in out.iterdir() if p.name.endswith(".partial")]
    assert incomplete(folder) == []
    for key in seen.changed:
        assert (folder / "learner-records" / f"{key}.json").read_bytes() != (
            seen.before / "learner-records" / f"{key}.json"
        ).read_bytes()
    records = sorted((folder / "learner-records").glob("*.json"))
    trust = str(config.verification.trust_dir)
    assert (
        verify(*map(str, records), "--status-list", str(folder / "status"), "--trust", trust) == 0
    )
    assert f"{len(records)} of {len(records)} files verified" in capsys.readouterr().out
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        nights = con.execute(
            "SELECT list(DISTINCT night) FROM audit.learner_records WHERE status = 'current'"
        ).fetchone()[0]
        last = con.execute(
            "SELECT folder FROM audit.export_nights ORDER BY finished_at DESC LIMIT 1"
        ).fetchone()[0]
    assert nights == [folder.name] and Path(last) == folder


def test_a_learner_withdrawn_from_the_sis_is_no_longer_exported_and_their_last_record_is_revoked(
    exported, withdrawn_after_a_crash, capsys
):
    config, instance = exported[1], exported[2]
    seen = withdrawn_after_a_crash
    out, key, entries = config.exports.out_dir, seen.key, seen.entries
    assert len(entries) >= 3  # the record and at least two credentials the district signed
    assert seen.verified_before == 0 and not any(seen.bits_before)
    assert seen.night.success, seen.night.failures
    counts = materialization(instance, seen.night.run_id)
    assert counts["withdrawn"] == 1
    assert counts["records"] == len(seen.own) - 1
    assert counts["revoked_tonight"] >= len(entries)

    folder = seen.folder
    assert not list((folder / "learner-records").glob(f"{key}.*"))
    assert not (folder / "partners" / PARTNER / f"{key}.json").exists()
    manifest = json.loads((folder / "manifest.json").read_bytes())
    listed = {r["learner_key"] for r in manifest["records"]}
    assert key not in listed
    partner = json.loads((folder / "partners" / PARTNER / "manifest.json").read_bytes())
    assert key not in {m["learner_key"] for m in partner["records"]}

    with duckdb.connect(str(config.warehouse.published_path), read_only=True) as con:
        rows = {
            row[0]: row[1:]
            for row in con.execute(
                "SELECT learner_key, status, withdrawn_at, achievements FROM marts.learner_records"
            ).fetchall()
        }
    status, withdrawn_at, _ = rows[key]
    assert status == "withdrawn" and withdrawn_at is not None
    assert {k for k, (s, _, _) in rows.items() if s == "current"} == listed

    # Nobody is signed again for the withdrawal: the records signed tonight are those of the
    # three whose badges went and of anyone whose achievements changed since last night (a
    # badge an earlier night revoked, back); every other learner keeps last night's files,
    # hard-linked.
    after = {p.name: p.stat().st_ino for p in (folder / "learner-records").iterdir()}
    signed = {n.split(".")[0] for n, inode in after.items() if seen.inodes.get(n) != inode}
    assert counts["re_signed"] == len(signed)
    assert seen.changed <= signed
    achieved = {r[0]: r[2] for r in seen.state["marts.learner_records"]}
    assert [k for k in signed if rows[k][2] == achieved.get(k)] == []
    assert [n for n in seen.inodes if n not in after and not n.startswith(key)] == []

    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        reasons = dict(
            con.execute(
                "SELECT status_index, reason FROM audit.export_credentials "
                "WHERE learner_key = $key AND status_index IS NOT NULL",
                {"key": key},
            ).fetchall()
        )
    assert {reasons[int(e["statusListIndex"])] for e in entries} == {"withdrawn"}

    # Every credential of the last record has its bit set in the lists published tonight (the
    # night's copy and the district's published one), so the copy the learner handed out no
    # longer verifies.
    assert all(bits_set(folder / "status", entries))
    assert all(bits_set(out / "status", entries))
    trust = str(config.verification.trust_dir)
    assert verify(str(seen.kept), "--status-list", str(folder / "status"), "--trust", trust) == 1
    report = capsys.readouterr().out
    assert report.count("revoked by its issuer") >= len(entries)
    assert "NOT VERIFIED" in report


# --- configuration ------------------------------------------------------------------------------

EXPORTS_YAML = """
district: {id: lincoln, name: Lincoln Unified}
warehouse: {path: data/warehouse.duckdb, published_path: data/published/warehouse.duckdb}
sources:
  sis: {kind: oneroster_csv, path: data/sis}
exports:
  issuer: {name: Lincoln Unified, url: "https://www.lincoln.example"}
  key: %s
  salt: {env: PATHWAYS_RECORD_SALT}
  status_lists_url: https://www.lincoln.example/credentials/status
  partners:
    - {id: state-university, name: State University, opt_out_field: partnerSharingOptOut}
%s
"""


def write_config(tmp_path, key: str = "{path: keys/issuer.key}", extra: str = "") -> Path:
    path = tmp_path / "pathways.yaml"
    path.write_text(EXPORTS_YAML % (key, extra), encoding="utf-8")
    return path


def test_the_exports_section_loads_with_paths_relative_to_the_file(tmp_path):
    config = load_config(write_config(tmp_path))
    assert config.exports.out_dir == tmp_path / "exports"
    assert config.exports.key.path == tmp_path / "keys" / "issuer.key"
    assert not config.exports.include_name and not config.exports.include_email
    assert [p.id for p in config.exports.partners] == ["state-university"]


def test_a_key_takes_a_file_or_a_variable_not_both(tmp_path):
    with pytest.raises(ConfigError, match="exactly one of `path`"):
        load_config(write_config(tmp_path, "{path: k.key, env: SIGNING_KEY}"))


def test_a_key_pasted_where_its_variable_belongs_is_refused_without_echoing_it(tmp_path):
    secret = "zrv2bqTbNwCTsRrHFcJCPjVAduh4Ezcnoq1A3ZxH1GWTNkxipLVuaAoMFmze"
    with pytest.raises(ConfigError) as error:
        load_config(write_config(tmp_path, f"{{env: '{secret}+'}}"))
    assert "NAME of the environment variable" in str(error.value)
    assert secret not in str(error.value)


def test_two_partners_with_one_id_are_refused(tmp_path):
    extra = "    - {id: state-university, name: Again}"
    with pytest.raises(ConfigError, match="two partners have the id 'state-university'"):
        load_config(write_config(tmp_path, extra=extra))
