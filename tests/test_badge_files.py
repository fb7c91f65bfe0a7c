"""The badge folder reader, as a specification: every file a district drops in the folder comes
out as a record (baked PNG and SVG images, Open Badges 2.0 / 3.0 JSON, JWTs), and a file that is
broken or holds no badge comes out too, saying what is wrong."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
from pathlib import Path

import png
import pytest

from connectors.badge_files import read_badge_folder

OB3 = {
    "@context": [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ],
    "id": "urn:uuid:2f0c6b1e-7a47-4c56-9a53-4e0f7a1c9e11",
    "type": ["VerifiableCredential", "OpenBadgeCredential"],
    "issuer": {"id": "did:web:badges.example.edu", "type": ["Profile"], "name": "District"},
    "validFrom": "2026-05-01T00:00:00Z",
    "credentialSubject": {"type": ["AchievementSubject"], "achievement": {"id": "a1"}},
}
OB2 = {
    "@context": "https://w3id.org/openbadges/v2",
    "id": "https://badges.example.edu/assertions/123",
    "type": "Assertion",
    "recipient": {"type": "email", "hashed": True, "identity": "sha256$abc", "salt": "x"},
    "badge": "https://badges.example.edu/badges/5",
    "issuedOn": "2026-01-31T23:59:59+00:00",
    "verification": {"type": "hosted"},
}
BADGE_CLASS = {
    "@context": "https://w3id.org/openbadges/v2",
    "id": "https://badges.example.edu/badges/5",
    "type": "BadgeClass",
    "name": "3-D Printmaster",
}


def b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def jws(payload: dict) -> str:
    return f"{b64({'alg': 'EdDSA'})}.{b64(payload)}.c2lnbmF0dXJl"


def itxt(keyword: str, text: str) -> tuple[bytes, bytes]:
    """An uncompressed iTXt chunk, as the baking specs require."""
    return b"iTXt", keyword.encode("latin-1") + b"\0\0\0" + b"\0" + b"\0" + text.encode()


def baked_png(*chunks: tuple[bytes, bytes]) -> bytes:
    """A 1×1 PNG with `chunks` written before its IEND (pypng's write_chunks)."""
    plain = io.BytesIO()
    png.Writer(1, 1, greyscale=True).write(plain, [[0]])
    existing = list(png.Reader(bytes=plain.getvalue()).chunks())
    out = io.BytesIO()
    png.write_chunks(out, [*existing[:-1], *chunks, existing[-1]])
    return out.getvalue()


def svg(inner: str, namespace: str = "https://purl.imsglobal.org/ob/v3p0") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="{namespace}" '
        f'viewBox="0 0 512 512">{inner}<circle r="4"/></svg>'
    )


def read(folder: Path) -> dict[str, dict]:
    return dict(read_badge_folder(folder))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "badges"
    path.mkdir()
    return path


def test_every_file_comes_out_once_sorted_by_path_with_its_sha256(folder: Path):
    (folder / "z.json").write_text(json.dumps(OB3))
    (folder / "grade9").mkdir()
    (folder / "grade9" / "a.json").write_text(json.dumps(OB2))
    (folder / "grade9" / "notes.txt").write_text("collected at the fall showcase")
    (folder / "a.json").write_text(json.dumps(OB2))
    # Operating-system litter is skipped.
    (folder / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (folder / "._a.json").write_bytes(b"\0\5\26\7")
    (folder / "__MACOSX").mkdir()
    (folder / "__MACOSX" / "x.json").write_text("{}")
    pairs = list(read_badge_folder(folder))
    assert [key for key, _ in pairs] == ["a.json", "grade9/a.json", "grade9/notes.txt", "z.json"]
    records = dict(pairs)
    assert (
        records["z.json"]["file_sha256"]
        == hashlib.sha256((folder / "z.json").read_bytes()).hexdigest()
    )
    assert records["z.json"]["path"] == "z.json"
    assert set(records["z.json"]) == {
        "path",
        "format",
        "credential",
        "compactJws",
        "file_sha256",
        "error",
    }


# -- baked PNG ----------------------------------------------------------------------------------


def test_a_png_baked_with_an_ob3_credential_yields_the_credential(folder: Path):
    (folder / "badge.png").write_bytes(baked_png(itxt("openbadgecredential", json.dumps(OB3))))
    record = read(folder)["badge.png"]
    assert record["format"] == "baked-png" and record["error"] is None
    assert record["credential"] == OB3 and record["compactJws"] is None


def test_a_png_baked_with_a_vc_jwt_yields_the_compact_jws(folder: Path):
    token = jws({"vc": OB3, "jti": OB3["id"]})
    (folder / "badge.png").write_bytes(baked_png(itxt("openbadgecredential", token)))
    record = read(folder)["badge.png"]
    assert (record["format"], record["compactJws"], record["credential"]) == (
        "baked-png",
        token,
        None,
    )


def test_an_ob2_png_keeps_its_assertion_or_its_hosted_url(folder: Path):
    url = "https://badges.example.edu/assertions/123"
    (folder / "assertion.png").write_bytes(baked_png(itxt("openbadges", json.dumps(OB2))))
    (folder / "hosted.png").write_bytes(baked_png(itxt("openbadges", url)))
    # Before 2013, the hosted URL went in a tEXt chunk.
    (folder / "legacy.png").write_bytes(baked_png((b"tEXt", b"openbadges\0" + url.encode())))
    records = read(folder)
    assert records["assertion.png"]["credential"] == OB2
    assert records["hosted.png"]["credential"] == url
    assert records["legacy.png"]["credential"] == url
    assert all(r["error"] is None and r["format"] == "baked-png" for r in records.values())


def test_a_png_with_both_keywords_yields_the_ob3_credential(folder: Path):
    chunks = (itxt("openbadges", json.dumps(OB2)), itxt("openbadgecredential", json.dumps(OB3)))
    (folder / "both.png").write_bytes(baked_png(*chunks))
    assert read(folder)["both.png"]["credential"] == OB3


def test_a_png_without_a_badge_and_a_damaged_png_are_kept_with_what_to_do(folder: Path):
    (folder / "plain.png").write_bytes(baked_png())
    damaged = bytearray(baked_png(itxt("openbadgecredential", json.dumps(OB3))))
    damaged[damaged.index(b"urn:uuid")] ^= 0xFF  # the chunk's CRC no longer matches
    (folder / "damaged.png").write_bytes(bytes(damaged))
    (folder / "cut.png").write_bytes(baked_png(itxt("openbadgecredential", json.dumps(OB3)))[:60])
    records = read(folder)
    plain = records["plain.png"]
    assert plain["format"] == "baked-png" and plain["credential"] is None
    assert "no badge baked in" in plain["error"] and "download the baked image" in plain["error"]
    for name in ("damaged.png", "cut.png"):
        assert records[name]["format"] == "baked-png" and records[name]["credential"] is None
        assert records[name]["error"].startswith("the PNG is damaged")


# -- baked SVG ----------------------------------------------------------------------------------


def test_an_ob3_svg_yields_the_jws_of_its_verify_attribute_or_its_cdata_json(folder: Path):
    token = jws({"vc": OB3, "jti": OB3["id"]})
    (folder / "signed.svg").write_text(
        svg(f'<openbadges:credential verify="{token}"></openbadges:credential>')
    )
    (folder / "embedded.svg").write_text(
        svg(f"<openbadges:credential><![CDATA[\n{json.dumps(OB3)}\n]]></openbadges:credential>")
    )
    records = read(folder)
    assert records["signed.svg"]["format"] == "baked-svg"
    assert records["signed.svg"]["compactJws"] == token
    assert records["embedded.svg"]["credential"] == OB3
    assert records["embedded.svg"]["error"] is None


def test_an_ob2_svg_yields_its_assertion_or_its_hosted_url(folder: Path):
    url = "https://badges.example.edu/assertions/123"
    (folder / "hosted.svg").write_text(
        svg(
            f'<openbadges:assertion verify="{url}"><![CDATA[{json.dumps(OB2)}]]>'
            "</openbadges:assertion>",
            "http://openbadges.org",
        )
    )
    (folder / "url.svg").write_text(
        svg(f'<openbadges:assertion verify="{url}"/>', "http://openbadges.org")
    )
    records = read(folder)
    assert records["hosted.svg"]["credential"] == OB2
    assert records["url.svg"]["credential"] == url


def test_an_svg_with_entities_is_refused_without_expanding_them(folder: Path):
    bomb = (
        '<?xml version="1.0"?>\n<!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>\n'
        '<svg xmlns="http://www.w3.org/2000/svg"><text>&b;</text></svg>'
    )
    (folder / "bomb.svg").write_text(bomb)
    (folder / "plain.svg").write_text(svg(""))
    (folder / "cut.svg").write_text(svg("")[:70])
    records = read(folder)
    assert "declares entities" in records["bomb.svg"]["error"]
    assert records["plain.svg"]["format"] == "baked-svg"
    assert "no badge baked in" in records["plain.svg"]["error"]
    assert "not well-formed" in records["cut.svg"]["error"]


# -- JSON and JWT files -------------------------------------------------------------------------


def test_json_files_are_told_apart_by_content_and_arrays_yield_one_record_each(folder: Path):
    (folder / "ob3.txt").write_text(json.dumps(OB3))  # the extension does not matter
    (folder / "ob2.json").write_text(json.dumps(OB2))
    token = jws({"vc": OB3, "jti": OB3["id"]})
    (folder / "export.json").write_text(json.dumps([OB3, OB2, token, 7]))
    (folder / "response.json").write_text(
        json.dumps({"credential": [OB3], "compactJwsString": [token]})
    )
    records = read(folder)
    assert (records["ob3.txt"]["format"], records["ob3.txt"]["credential"]) == ("ob3-json", OB3)
    assert (records["ob2.json"]["format"], records["ob2.json"]["credential"]) == ("ob2-json", OB2)
    assert [records[f"export.json#{n}"]["format"] for n in (1, 2, 3, 4)] == [
        "ob3-json",
        "ob2-json",
        "ob3-jwt",
        "unknown",
    ]
    assert records["export.json#3"]["compactJws"] == token
    assert records["export.json#4"]["error"] == "item 4: a JSON int, not a credential object."
    assert "export.json" not in records
    assert records["response.json#2"]["compactJws"] == token
    assert {r["path"] for k, r in records.items() if k.startswith("export")} == {"export.json"}


def test_jwt_files_are_filed_by_the_credential_in_their_payload(folder: Path):
    ob3_token = jws({"vc": OB3, "jti": OB3["id"], "iss": "did:web:badges.example.edu"})
    ob2_token = jws(OB2)
    login = jws({"sub": "teacher-7", "exp": 1900000000})
    (folder / "ob3.jwt").write_text(ob3_token + "\n")
    (folder / "ob2.jws").write_text(ob2_token)
    (folder / "session.jwt").write_text(login)
    records = read(folder)
    assert (records["ob3.jwt"]["format"], records["ob3.jwt"]["compactJws"]) == (
        "ob3-jwt",
        ob3_token,
    )
    assert (records["ob2.jws"]["format"], records["ob2.jws"]["compactJws"]) == (
        "ob2-jws",
        ob2_token,
    )
    # A JWT that is not a credential may be a secret: it is reported, not kept.
    assert records["session.jwt"]["format"] == "unknown"
    assert records["session.jwt"]["compactJws"] is None
    assert "no Open Badges credential" in records["session.jwt"]["error"]


def test_broken_and_non_credential_files_are_kept_with_what_to_do(folder: Path):
    (folder / "cut.json").write_text(json.dumps(OB3)[:40])
    (folder / "badgeclass.json").write_text(json.dumps(BADGE_CLASS))
    (folder / "roster.json").write_text(json.dumps({"students": 31}))
    (folder / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0\0\x10JFIF")
    (folder / "empty.json").write_text("")
    (folder / "notes.txt").write_text("badges from the robotics fair")
    records = read(folder)
    assert len(records) == 6
    assert all(r["format"] == "unknown" and r["credential"] is None for r in records.values())
    assert records["cut.json"]["error"].startswith("not valid JSON")
    assert "trust folder" in records["badgeclass.json"]["error"]
    assert "not an Open Badges credential" in records["roster.json"]["error"]
    assert records["photo.jpg"]["error"].startswith("a JPEG image, which cannot hold a badge")
    assert records["empty.json"]["error"] == "the file is empty."
    assert "remove it from the badge folder" in records["notes.txt"]["error"]


# -- links and the folder itself ----------------------------------------------------------------


def test_links_out_of_the_folder_are_reported_and_never_followed(folder: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.json").write_text(json.dumps(OB3))
    (folder / "inside.json").write_text(json.dumps(OB2))
    os.symlink(outside / "secret.json", folder / "link.json")
    os.symlink(outside, folder / "linked-folder")
    os.symlink(folder / "inside.json", folder / "alias.json")
    records = read(folder)
    assert records["link.json"]["credential"] is None
    assert "outside the badge folder" in records["link.json"]["error"]
    assert "does not follow" in records["linked-folder"]["error"]
    assert not any(key.startswith("linked-folder/") for key in records)
    # A link that stays inside the folder is read.
    assert records["alias.json"]["credential"] == OB2


def test_a_missing_folder_is_an_error_naming_it(tmp_path: Path):
    with pytest.raises(NotADirectoryError, match=r"badge folder .*nowhere does not exist"):
        list(read_badge_folder(tmp_path / "nowhere"))
