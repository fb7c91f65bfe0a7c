"""The standards data shipped in the package are byte-exact copies of the pinned originals."""

import hashlib
import json
from pathlib import Path

import pytest

MODELS = Path(__file__).resolve().parents[1] / "models"
CREDENTIALS = MODELS / "credentials"

# SHA-256 of the files as published in the project's standards reference: OneRoster 1.1 / 1.2.1
# column lists, enumerations and manifest properties; the JSON-LD contexts, 1EdTech JSON schemas
# and license texts credentials are verified with. A change here is a change of standard.
PINNED = {
    "oneroster/enumerations.csv": (
        "73b546d1b2c1a03e41ef8324cf1765e6de507b16bf04b1665987aef081ec6616"
    ),
    "oneroster/manifest_properties.csv": (
        "8303b2d0bfbe0fc648a0932a097fa2e7276abfeba3f6df0c9740d3f4fd6519c2"
    ),
    "oneroster/v1p1_columns.csv": (
        "d606713aa3d16c8961bf2e655748f7cbea4ee2cf98416df273d65371b506f462"
    ),
    "oneroster/v1p2_columns.csv": (
        "0c7756bb784b26274d06e913c4385d57d4e6c1a4cdc6b47730fc3015444a3db8"
    ),
    "credentials/LICENSES/1EdTech-IMS-specification-license.md": (
        "c443abf513b17d0baf044ddd52cc0ceaa298e107afdf6e50751a2afbaacd20fc"
    ),
    "credentials/LICENSES/Apache-2.0.txt": (
        "c71d239df91726fc519c6eb72d318ec65820627232b2f796219e87dcf35d0ab4"
    ),
    "credentials/LICENSES/BSD-3-Clause-digitalbazaar-multikey-context.txt": (
        "928d52e299e915ddca2b8932b5d9bb9e81762c39545c9f49e59e69bb1279d9a0"
    ),
    "credentials/contexts/2018-credentials-v1.jsonld": (
        "3d0b277522ed24385c850b9882b9688687189b8f37a9bd9f1577e348b1019c44"
    ),
    "credentials/contexts/clr-v2p0-2.0.1.json": (
        "880f1902d4158f2f33ce06af41b90719977cd1ea337a9de2e41edb3ff5e543d6"
    ),
    "credentials/contexts/clr-v2p0.json": (
        "e198d7b517d74c5036434ce495086f67b10244709e9a3df9dcb7f8b1579b6167"
    ),
    "credentials/contexts/credentials-v2.jsonld": (
        "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734"
    ),
    "credentials/contexts/data-integrity-v1.jsonld": (
        "c6e5073f4bd4bf6d08f245736e6f32c29b012860b18583644b2d71e1de862669"
    ),
    "credentials/contexts/did-v1.jsonld": (
        "adefa50311393eb1bd788a38ac9fe2696c65367928f6996812cd54577394f4da"
    ),
    "credentials/contexts/index.json": (
        "ad4410ba8c5908c73acd20b15a734957167ebbf4efc3337de2299ffde90e78d7"
    ),
    "credentials/contexts/multikey-v1.jsonld": (
        "c5f3806f8286920573221938917988a18a4cc5a09e968d29649613c7a1c2b1f6"
    ),
    "credentials/contexts/ob-v2p0.json": (
        "393a890d7d95eb3a86f5f12309648a64c2d0676e5270e2967b5341a2dcea13d2"
    ),
    "credentials/contexts/ob-v3p0-3.0.1.json": (
        "cfc147db5fd5e3575b06bd471fe04784e92de69296f64a351b8dff0ec3372e9c"
    ),
    "credentials/contexts/ob-v3p0-3.0.2.json": (
        "bba433989e1e700ca60838a3c22378e7d8381aeb0c9590f9ddf84d1714f10296"
    ),
    "credentials/contexts/ob-v3p0-3.0.3.json": (
        "3d34f4d4ef1bce691106e63798beb5e7b862ba841423f5ee1e53ab7ddf3bca84"
    ),
    "credentials/contexts/ob-v3p0-extensions.json": (
        "146f85aa16effd7ca1da8056eb443f53ce1eca8a34186cb062832c0a97d889c3"
    ),
    "credentials/contexts/ob-v3p0.json": (
        "b077fa134d909d92c1dcd1c153f2af1b244aeb415967fdc1467d7fc5dd48ac10"
    ),
    "credentials/contexts/obv2x.jsonld": (
        "393a890d7d95eb3a86f5f12309648a64c2d0676e5270e2967b5341a2dcea13d2"
    ),
    "credentials/contexts/security-suites-ed25519-2020-v1.jsonld": (
        "67646fbc0d6582ad7fbf08ccf0d3a4bedbb4177fd2d63385de52dc1b092ed6c5"
    ),
    "credentials/contexts/security-v1.jsonld": (
        "abaf97e107d1925503c433dcaf3ffd2831697cacc1ed2a293e1bc8030d5bcb47"
    ),
    "credentials/contexts/security-v2.jsonld": (
        "611bd81151d5efe53ec9aed78f5a813e577287bc9451ee26d6879b1b8b46bc3b"
    ),
    "credentials/schemas/index.json": (
        "129c4a8c263a39d2a296baf368bb4c046c859f90509db47bf89490ad40467a7e"
    ),
    "credentials/schemas/json-ld/clr_v2p0_clrcredential_schema.json": (
        "59d778659204b0bd593e9e2ab1683fb6f688e339885c44019f606ed6feb4caee"
    ),
    "credentials/schemas/json-ld/ob_v3p0_achievementcredential_schema.json": (
        "b7358e895f492e74055dc6bfc7ffc420d0e497f90c4579fb83d9519b86d393ea"
    ),
    "credentials/schemas/json-ld/ob_v3p0_endorsementcredential_schema.json": (
        "786b1190ea97e7e339d8057f02414603c0e2b8b1cbe46fd72165c73f39a256c6"
    ),
    "credentials/schemas/ob_v3p0_achievementcredential_schema.json": (
        "5753fb3ecf7d024ed273dd364bd683f483eb47257e718e6618832cf89eb2083a"
    ),
    "credentials/schemas/ob_v3p0_endorsementcredential_schema.json": (
        "4627e1878848d0192c3f9e26f09ef88a96ad48a46f5fca11b80b679ece0de345"
    ),
}


@pytest.mark.parametrize("relative", sorted(PINNED))
def test_shipped_standards_file_matches_its_pinned_hash(relative):
    digest = hashlib.sha256((MODELS / relative).read_bytes()).hexdigest()
    assert digest == PINNED[relative]


@pytest.mark.parametrize("folder", ["contexts", "schemas", "LICENSES"])
def test_every_shipped_credential_standards_file_is_pinned(folder):
    shipped = {
        path.relative_to(MODELS).as_posix()
        for path in (CREDENTIALS / folder).rglob("*")
        if path.is_file()
    }
    assert shipped <= set(PINNED), f"unpinned files: {sorted(shipped - set(PINNED))}"


@pytest.mark.parametrize("index", ["contexts/index.json", "schemas/index.json"])
def test_each_index_entry_names_a_shipped_file_with_its_hash(index):
    entries = json.loads((CREDENTIALS / index).read_text(encoding="utf-8"))
    folder = CREDENTIALS / index.split("/")[0]
    for url, entry in entries.items():
        digest = hashlib.sha256((folder / entry["file"]).read_bytes()).hexdigest()
        assert digest == entry["sha256"], url
