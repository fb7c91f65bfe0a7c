"""The standards data shipped in the package are byte-exact copies of the pinned originals."""

import hashlib
from pathlib import Path

import pytest

ONEROSTER = Path(__file__).resolve().parents[1] / "models" / "oneroster"

# SHA-256 of the files as published in the project's standards reference (OneRoster 1.1 / 1.2.1
# column lists, enumerations and manifest properties). A change here is a change of standard.
PINNED = {
    "enumerations.csv": "73b546d1b2c1a03e41ef8324cf1765e6de507b16bf04b1665987aef081ec6616",
    "manifest_properties.csv": "8303b2d0bfbe0fc648a0932a097fa2e7276abfeba3f6df0c9740d3f4fd6519c2",
    "v1p1_columns.csv": "d606713aa3d16c8961bf2e655748f7cbea4ee2cf98416df273d65371b506f462",
    "v1p2_columns.csv": "0c7756bb784b26274d06e913c4385d57d4e6c1a4cdc6b47730fc3015444a3db8",
}


@pytest.mark.parametrize("relative", sorted(PINNED))
def test_shipped_standards_file_matches_its_pinned_hash(relative):
    digest = hashlib.sha256((ONEROSTER / relative).read_bytes()).hexdigest()
    assert digest == PINNED[relative]
