"""The OneRoster CSV connector, as a specification: what a district's export becomes in raw and
in audit, file by file and row by row, on real DuckDB files."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
from oneroster_builders import (
    csv_text,
    district_1p1,
    district_1p2,
    write_package,
    zip_package,
)

from connectors.oneroster_csv import (
    OneRosterCsvSettings,
    OneRosterLoad,
    OneRosterPackageError,
    ensure_oneroster_tables,
    load_oneroster_csv,
    raw_table,
    side_by_side_readers,
)
from models.oneroster_spec import known_files, union_columns

TONIGHT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
TOMORROW = datetime(2026, 3, 3, 2, 0, tzinfo=UTC)


@pytest.fixture
def con(tmp_path: Path):
    connection = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    yield connection
    connection.close()


def load(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    run_id: str = "run-1",
    loaded_at: datetime = TONIGHT,
    max_deletion_share: float = 0.2,
) -> OneRosterLoad:
    settings = OneRosterCsvSettings(path=path, max_deletion_share=max_deletion_share)
    return load_oneroster_csv(con, settings, run_id, loaded_at)


def rejected(con: duckdb.DuckDBPyConnection, file: str) -> list[tuple]:
    """(line, column_name, value, reason) of a file's rejected rows, in line order."""
    return con.execute(
        "SELECT line, column_name, value, reason FROM audit.rejected_rows WHERE file = $file "
        "ORDER BY line, column_name",
        {"file": file},
    ).fetchall()


def ids(con: duckdb.DuckDBPyConnection, file: str) -> list[str]:
    return [
        row[0]
        for row in con.execute(f'SELECT "sourcedId" FROM {raw_table(file)} ORDER BY 1').fetchall()
    ]


def column(con: duckdb.DuckDBPyConnection, file: str, name: str, sourced_id: str):
    row = con.execute(
        f'SELECT "{name}" FROM {raw_table(file)} WHERE "sourcedId" = $id', {"id": sourced_id}
    ).fetchone()
    return row[0] if row else None


# --- a valid export ---------------------------------------------------------------------------


def test_a_valid_1p2_export_loads_every_row_with_where_it_came_from(tmp_path, con):
    package = write_package(tmp_path / "export", district_1p2())

    result = load(con, package)

    assert not result.held and result.message == ""
    assert result.version == "1.2" and result.rows_rejected == 0
    assert ids(con, "users.csv") == ["grd-1", "stu-1", "stu-2", "stu-3", "tch-1"]
    source, file, line, batch, loaded_at, version = con.execute(
        "SELECT _source, _file, _line, _batch_id, _loaded_at, _oneroster_version "
        "FROM raw.oneroster_users WHERE \"sourcedId\" = 'stu-1'"
    ).fetchone()
    assert (source, file, line, batch, version) == ("sis", "users.csv", 3, result.batch_id, "1.2")
    assert loaded_at == TONIGHT
    assert len(result.batch_id) == 16 and int(result.batch_id, 16) >= 0


def test_every_raw_table_exists_with_the_contract_columns_even_if_never_supplied(con):
    ensure_oneroster_tables(con)
    ensure_oneroster_tables(con)  # idempotent

    for file in known_files():
        described = con.execute(f"DESCRIBE {raw_table(file)}").fetchall()
        names = [row[0] for row in described]
        types = dict((row[0], row[1]) for row in described)
        assert names == [
            *union_columns(file),
            "metadata",
            "_source",
            "_file",
            "_line",
            "_batch_id",
            "_loaded_at",
            "_oneroster_version",
        ]
        assert {types[c] for c in union_columns(file)} == {"VARCHAR"}
        assert (types["metadata"], types["_line"], types["_loaded_at"]) == (
            "JSON",
            "BIGINT",
            "TIMESTAMP WITH TIME ZONE",
        )


def test_a_1p1_package_loads_with_its_own_columns(tmp_path, con):
    package = write_package(tmp_path / "export", district_1p1(), version="1.1")

    result = load(con, package)

    assert result.version == "1.1" and result.rows_rejected == 0, result.message
    assert column(con, "users.csv", "role", "stu-1") == "student"
    assert column(con, "users.csv", "orgSourcedIds", "stu-1") == "org-hs"
    assert column(con, "users.csv", "_oneroster_version", "stu-1") == "1.1"
    assert column(con, "lineItems.csv", "gradingPeriodSourcedId", "li-lab-1") == "as-fall"
    assert result.file("roles.csv") is None  # not a 1.1 file


def test_a_zip_with_its_files_in_one_top_folder_loads_like_the_folder(tmp_path, con):
    folder = write_package(tmp_path / "export", district_1p2())
    archive = zip_package(folder, tmp_path / "export.zip", top_folder="riverside-2026-03-02")

    result = load(con, archive)

    assert not result.failed_files and result.rows_rejected == 0
    assert ids(con, "enrollments.csv") == [
        "enr-stu-1",
        "enr-stu-2",
        "enr-stu-3",
        "enr-tch-1",
    ]


def test_a_package_without_a_manifest_is_a_package_error_naming_it(tmp_path, con):
    package = write_package(tmp_path / "export", district_1p2())
    (package / "manifest.csv").unlink()

    with pytest.raises(OneRosterPackageError, match=r"has no manifest\.csv"):
        load(con, package)


def test_an_unsupported_version_is_a_package_error(tmp_path, con):
    package = write_package(tmp_path / "export", district_1p2(), version="1.0")

    with pytest.raises(OneRosterPackageError, match=r"oneroster\.version is '1\.0'"):
        load(con, package)


def test_an_unreadable_zip_is_a_package_error(tmp_path, con):
    broken = tmp_path / "export.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")

    with pytest.raises(OneRosterPackageError, match=r"export\.zip"):
        load(con, broken)


def test_a_1p2_1_manifest_reads_as_1p2(tmp_path, con):
    package = write_package(tmp_path / "export", district_1p2(), version="1.2.1")

    assert load(con, package).version == "1.2"


# --- the manifest governs each file ---------------------------------------------------------


def test_a_file_listed_bulk_but_missing_fails_that_file_only(tmp_path, con):
    district = district_1p2()
    package = write_package(tmp_path / "export", district)
    (package / "results.csv").unlink()

    result = load(con, package)

    results = result.file("results.csv")
    assert (results.status, results.mode) == ("failed", "bulk")
    assert "no results.csv" in results.message
    assert result.failed_files == ["results.csv"]
    assert ids(con, "users.csv")  # the rest loaded


def test_a_file_present_but_marked_absent_is_not_loaded_and_says_so(tmp_path, con):
    package = write_package(
        tmp_path / "export", district_1p2(), modes={"demographics.csv": "absent"}
    )

    result = load(con, package)

    demographics = result.file("demographics.csv")
    assert demographics.status == "absent"
    assert "marks it absent" in demographics.message
    assert ids(con, "demographics.csv") == []


def test_a_file_that_is_not_a_oneroster_file_is_reported_not_loaded(tmp_path, con):
    district = district_1p2()
    district["user.csv"] = district["users.csv"]
    package = write_package(tmp_path / "export", district)

    result = load(con, package)

    stray = result.file("user.csv")
    assert stray.status == "failed"
    assert "not a OneRoster 1.2 file and was not loaded; did you mean 'users.csv'?" in (
        stray.message
    )
    row = con.execute(
        "SELECT status, message FROM audit.sis_loads WHERE file = 'user.csv'"
    ).fetchone()
    assert row[0] == "failed"


def test_sis_loads_records_one_row_per_data_file_including_absent_ones(tmp_path, con):
    package = write_package(tmp_path / "export", district_1p2())

    result = load(con, package)

    rows = con.execute(
        "SELECT file, mode, status, rows_read, rows_loaded, rows_rejected, oneroster_version "
        "FROM audit.sis_loads WHERE run_id = 'run-1' ORDER BY file"
    ).fetchall()
    assert len(rows) == len(result.files) == 21
    by_file = {r[0]: r for r in rows}
    assert by_file["users.csv"] == ("users.csv", "bulk", "loaded", 5, 5, 0, "1.2")
    assert by_file["categories.csv"][1:3] == ("absent", "absent")


# --- headers --------------------------------------------------------------------------------


def test_header_near_miss_is_a_file_failure_with_a_suggestion(tmp_path, con):
    load(con, write_package(tmp_path / "night-1", district_1p2()))
    district = district_1p2()
    for row in district["demographics.csv"]:
        row["stateofBirthAbbreviation"] = "CA"
    district["demographics.csv"][0]["sex"] = "male"

    result = load(con, write_package(tmp_path / "night-2", district), run_id="run-2")

    demographics = result.file("demographics.csv")
    assert demographics.status == "failed"
    assert demographics.message.startswith(
        "demographics.csv: column 'stateofBirthAbbreviation' is not a OneRoster 1.2 column; "
        "did you mean 'stateOfBirthAbbreviation'? Rename it, or prefix it with 'metadata.' "
        "if it is an extension."
    )
    # the previous snapshot stays; the other files load
    assert column(con, "demographics.csv", "sex", "stu-1") == "female"
    assert column(con, "users.csv", "_loaded_at", "stu-1") == TONIGHT
    assert result.file("users.csv").status == "loaded"


def test_header_missing_a_required_column_is_a_file_failure(tmp_path, con):
    district = district_1p2()
    for row in district["enrollments.csv"]:
        del row["classSourcedId"]

    result = load(con, write_package(tmp_path / "export", district))

    enrollments = result.file("enrollments.csv")
    assert enrollments.status == "failed"
    assert "required column 'classSourcedId' is missing" in enrollments.message
    assert ids(con, "enrollments.csv") == []


def test_header_names_are_case_sensitive(tmp_path, con):
    district = district_1p2()
    district["orgs.csv"] = [
        {("SourcedId" if k == "sourcedId" else k): v for k, v in row.items()}
        for row in district["orgs.csv"]
    ]

    result = load(con, write_package(tmp_path / "export", district))

    message = result.file("orgs.csv").message
    assert "column 'SourcedId' is not a OneRoster 1.2 column; did you mean 'sourcedId'?" in message
    assert "required column 'sourcedId' is missing" in message


def test_header_column_of_the_other_version_is_named_as_such(tmp_path, con):
    district = district_1p2()
    district["users.csv"][0]["orgSourcedIds"] = "org-hs"

    result = load(con, write_package(tmp_path / "export", district))

    assert "column 'orgSourcedIds' is a OneRoster 1.1 column, not 1.2" in (
        result.file("users.csv").message
    )


def test_metadata_columns_are_kept_in_the_metadata_json(tmp_path, con):
    district = district_1p2()
    for i, row in enumerate(district["demographics.csv"]):
        row["metadata.economicallyDisadvantaged"] = "true" if i == 0 else ""
        row["metadata.homeLanguage"] = "es"

    result = load(con, write_package(tmp_path / "export", district))

    assert result.rows_rejected == 0
    first, second = con.execute(
        "SELECT metadata->>'economicallyDisadvantaged', metadata->>'homeLanguage' "
        "FROM raw.oneroster_demographics ORDER BY _line"
    ).fetchall()[:2]
    assert first == ("true", "es")
    assert second == (None, "es")
    assert column(con, "users.csv", "metadata", "stu-1") is None


# --- encodings and CSV quoting ------------------------------------------------------------------


def test_a_utf8_bom_and_crlf_line_endings_are_read(tmp_path, con):
    district = district_1p2()
    users = "\ufeff" + csv_text(district.pop("users.csv"), newline="\r\n")
    district_files = {**district, "users.csv": users}

    result = load(con, write_package(tmp_path / "export", district_files))

    assert result.file("users.csv").rows_loaded == 5
    assert column(con, "users.csv", "_line", "grd-1") == 6
    assert column(con, "users.csv", "familyName", "tch-1") == "Rivera"
    assert column(con, "users.csv", "agentSourcedIds", "stu-1") == "grd-1"  # no stray \r


def test_a_row_that_is_not_utf8_is_rejected_and_the_rest_of_the_file_loads(tmp_path, con):
    district = district_1p2()
    text = csv_text(district.pop("users.csv")).encode()
    latin1 = text.replace(b"Ana2", "Ana\xe92".encode("latin-1"))
    assert latin1 != text

    result = load(con, write_package(tmp_path / "export", {**district, "users.csv": latin1}))

    assert [r[:3] for r in rejected(con, "users.csv")] == [(4, None, "stu-2")]
    assert "not valid UTF-8" in rejected(con, "users.csv")[0][3]
    assert result.file("users.csv").rows_loaded == 4


def test_quoted_commas_and_line_breaks_stay_in_one_value(tmp_path, con):
    district = district_1p2()
    district["results.csv"][0]["comment"] = 'Good work, "careful" lab;\nredo section 2'

    result = load(con, write_package(tmp_path / "export", district))

    assert result.rows_rejected == 0
    assert column(con, "classes.csv", "title", "cls-bio-1") == "Biology, Period 1"
    assert column(con, "results.csv", "comment", "res-stu-1") == (
        'Good work, "careful" lab;\nredo section 2'
    )
    # a quoted line break does not make a new record: the next row is line 3
    assert column(con, "results.csv", "_line", "res-stu-2") == 3


def test_non_ascii_names_round_trip(tmp_path, con):
    district = district_1p2()
    district["users.csv"][1].update(givenName="José", familyName="Nguyễn")

    load(con, write_package(tmp_path / "export", district))

    assert column(con, "users.csv", "givenName", "stu-1") == "José"
    assert column(con, "users.csv", "familyName", "stu-1") == "Nguyễn"


# --- bulk, delta, absent ------------------------------------------------------------------------


def test_bulk_after_bulk_replaces_the_snapshot(tmp_path, con):
    load(con, write_package(tmp_path / "night-1", district_1p2(students=10)))
    district = district_1p2(students=10)
    district["users.csv"] = [u for u in district["users.csv"] if u["sourcedId"] != "stu-10"]
    for file in ("roles.csv", "demographics.csv", "enrollments.csv", "results.csv"):
        district[file] = [r for r in district[file] if "stu-10" not in r.values()]

    result = load(con, write_package(tmp_path / "night-2", district), loaded_at=TOMORROW)

    assert not result.held
    assert "stu-10" not in ids(con, "users.csv")
    assert len(ids(con, "users.csv")) == 11  # 9 learners, a teacher, a guardian
    assert con.execute("SELECT DISTINCT _loaded_at FROM raw.oneroster_users").fetchall() == [
        (TOMORROW,)
    ]


def test_an_absent_file_keeps_its_previous_snapshot(tmp_path, con):
    load(con, write_package(tmp_path / "night-1", district_1p2()))
    district = district_1p2()
    del district["demographics.csv"]

    result = load(con, write_package(tmp_path / "night-2", district), loaded_at=TOMORROW)

    assert result.file("demographics.csv").status == "absent"
    assert ids(con, "demographics.csv") == ["stu-1", "stu-2", "stu-3"]


def _delta(rows: list[dict[str, str]], when: str = "2026-03-02T18:00:00Z") -> list[dict]:
    return [{"status": "active", "dateLastModified": when, **row} for row in rows]


def test_delta_upserts_by_sourced_id_and_keeps_tombstones(tmp_path, con):
    load(con, write_package(tmp_path / "night-1", district_1p2()))
    users = {u["sourcedId"]: u for u in district_1p2()["users.csv"]}
    changed = {**users["stu-1"], "familyName": "García-López"}
    new = {**users["stu-3"], "sourcedId": "stu-4", "username": "learner4", "agentSourcedIds": ""}
    gone = {"sourcedId": "stu-2", "status": "tobedeleted"}
    delta = write_package(
        tmp_path / "delta",
        {"users.csv": _delta([changed, new]) + _delta([gone])},
        modes={"users.csv": "delta"},
    )

    result = load(con, delta, loaded_at=TOMORROW)

    assert result.file("users.csv").rows_loaded == 3, result.message
    assert column(con, "users.csv", "familyName", "stu-1") == "García-López"
    assert column(con, "users.csv", "username", "stu-4") == "learner4"
    assert column(con, "users.csv", "status", "stu-2") == "tobedeleted"
    assert column(con, "users.csv", "familyName", "tch-1") == "Rivera"  # untouched
    assert ids(con, "users.csv").count("stu-1") == 1


def test_a_delta_after_a_bulk_keeps_the_bulk_rows_lineage_and_adds_its_own(tmp_path, con):
    load(con, write_package(tmp_path / "night-1", district_1p2()))
    first_batch = column(con, "users.csv", "_batch_id", "stu-2")
    users = {u["sourcedId"]: u for u in district_1p2()["users.csv"]}
    delta = write_package(
        tmp_path / "delta",
        {"users.csv": _delta([{**users["stu-1"], "familyName": "Okafor"}])},
        modes={"users.csv": "delta"},
    )

    result = load(con, delta, run_id="run-2", loaded_at=TOMORROW)

    lineage = "_source, _file, _line, _batch_id, _loaded_at, _oneroster_version"
    rows = dict(
        (sourced_id, rest)
        for sourced_id, *rest in con.execute(
            f'SELECT "sourcedId", {lineage} FROM raw.oneroster_users'
        ).fetchall()
    )
    assert rows["stu-1"] == ["sis", "users.csv", 2, result.batch_id, TOMORROW, "1.2"]
    assert rows["stu-2"] == ["sis", "users.csv", 4, first_batch, TONIGHT, "1.2"]
    assert first_batch != result.batch_id
    described = con.execute("DESCRIBE raw.oneroster_users").fetchall()
    assert [(name, kind) for name, kind, *_ in described] == [
        *((c, "VARCHAR") for c in union_columns("users.csv")),
        ("metadata", "JSON"),
        ("_source", "VARCHAR"),
        ("_file", "VARCHAR"),
        ("_line", "BIGINT"),
        ("_batch_id", "VARCHAR"),
        ("_loaded_at", "TIMESTAMP WITH TIME ZONE"),
        ("_oneroster_version", "VARCHAR"),
    ]


def test_delta_rows_need_a_status_and_inactive_is_not_one(tmp_path, con):
    load(con, write_package(tmp_path / "night-1", district_1p2()))
    user = district_1p2()["users.csv"][1]
    rows = _delta([{**user, "status": ""}, {**user, "sourcedId": "stu-9", "status": "inactive"}])
    delta = write_package(tmp_path / "delta", {"users.csv": rows}, modes={"users.csv": "delta"})

    load(con, delta)

    assert rejected(con, "users.csv") == [
        (
            2,
            "status",
            None,
            "required value is blank; every row of a delta file needs a status "
            "(active or tobedeleted)",
        ),
        (
            3,
            "status",
            "inactive",
            "'inactive' is not a OneRoster status value; use tobedeleted to delete a record "
            "(or active)",
        ),
    ]


def test_a_replayed_older_delta_does_not_overwrite_a_newer_row(tmp_path, con):
    load(con, write_package(tmp_path / "night-1", district_1p2()))
    user = district_1p2()["users.csv"][1]
    newer = write_package(
        tmp_path / "newer",
        {"users.csv": _delta([{**user, "familyName": "Newer"}], "2026-03-02T18:00:00Z")},
        modes={"users.csv": "delta"},
    )
    older = write_package(
        tmp_path / "older",
        {"users.csv": _delta([{**user, "familyName": "Older"}], "2026-03-01T18:00:00Z")},
        modes={"users.csv": "delta"},
    )
    load(con, newer)

    result = load(con, older, run_id="run-3")

    assert column(con, "users.csv", "familyName", "stu-1") == "Newer"
    assert "older than the warehouse's copy" in result.file("users.csv").message


# --- safeguards -----------------------------------------------------------------------------------


def _raw_snapshot(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {
        file: con.execute(f"SELECT * FROM {raw_table(file)} ORDER BY ALL").fetchall()
        for file in known_files()
    }


def test_a_deletion_spike_is_held_and_changes_nothing(tmp_path, con):
    load(con, write_package(tmp_path / "night-1", district_1p2(students=10)))
    before = _raw_snapshot(con)
    district = district_1p2(students=10)
    keep = {"tch-1", "grd-1", "stu-1", "stu-2", "stu-3", "stu-4", "stu-5", "stu-6"}
    district["users.csv"] = [u for u in district["users.csv"] if u["sourcedId"] in keep]
    district["users.csv"][0]["familyName"] = "Changed"

    result = load(con, write_package(tmp_path / "night-2", district), run_id="run-2")

    assert result.held
    assert result.message.startswith(
        "this bulk export would remove 40% of active learners (4 of 10), above the 20% limit; "
        "33% of active users (4 of 12), above the 20% limit; "
    )
    assert result.message.endswith(
        "Nothing was applied. If this is expected (e.g. end of year), approve this batch once: "
        f"`pathways run --approve-deletions {result.batch_id}`, or in the Dagster UI run config "
        f'approve_deletions_for_batch: "{result.batch_id}" on the SIS asset; or raise '
        "sources.sis.max_deletion_shares for the entity."
    )
    assert _raw_snapshot(con) == before
    statuses = con.execute(
        "SELECT DISTINCT status, message FROM audit.sis_loads "
        "WHERE run_id = 'run-2' AND file = 'users.csv'"
    ).fetchall()
    assert statuses == [("held", result.message)]
    # the rows the spike orphaned are still on record, so the cause can be traced
    assert any("stu-9" in r[2] for r in rejected(con, "roles.csv"))


def test_a_larger_deletion_share_lets_an_expected_drop_through(tmp_path, con):
    load(con, write_package(tmp_path / "night-1", district_1p2(students=10)))
    district = district_1p2(students=6)

    result = load(con, write_package(tmp_path / "night-2", district), max_deletion_share=0.5)

    assert not result.held
    assert len(ids(con, "users.csv")) == 8


@pytest.mark.parametrize(
    "empty_users", ["sourcedId,enabledUser,username,givenName,familyName\n", ""]
)
def test_an_empty_users_file_holds_the_export(tmp_path, con, empty_users):
    load(con, write_package(tmp_path / "night-1", district_1p2()))
    before = _raw_snapshot(con)
    district = district_1p2()
    district["users.csv"] = empty_users

    result = load(con, write_package(tmp_path / "night-2", district), run_id="run-2")

    assert result.held
    assert result.message == (
        "users.csv is empty; an empty export would delete every learner. Check the SIS export "
        "job; nothing was applied."
    )
    assert _raw_snapshot(con) == before
    assert con.execute(
        "SELECT count(*) FROM audit.sis_loads WHERE run_id = 'run-2' AND status = 'held'"
    ).fetchone() == (10,)


def test_an_export_with_no_data_rows_at_all_is_held_even_on_the_first_night(tmp_path, con):
    headers_only = {
        file: csv_text([], columns=list(rows[0])) for file, rows in district_1p2().items()
    }

    result = load(con, write_package(tmp_path / "export", headers_only))

    assert result.held
    assert ids(con, "users.csv") == [] and ids(con, "orgs.csv") == []


# --- rejected rows: file, line, column, masked value, reason -------------------------------------


def test_a_blank_required_value_is_rejected_with_its_line_and_column(tmp_path, con):
    district = district_1p2()
    district["enrollments.csv"][2]["classSourcedId"] = ""

    result = load(con, write_package(tmp_path / "export", district))

    assert rejected(con, "enrollments.csv") == [
        (
            4,
            "classSourcedId",
            None,
            "required value is blank; every enrollment needs a classSourcedId",
        )
    ]
    assert result.file("enrollments.csv").rows_rejected == 1
    assert "enr-stu-2" not in ids(con, "enrollments.csv")


def test_an_enumeration_value_outside_the_spec_is_rejected_with_personal_data_masked(tmp_path, con):
    district = district_1p2()
    district["demographics.csv"][1]["sex"] = "Femal"

    load(con, write_package(tmp_path / "export", district))

    assert rejected(con, "demographics.csv") == [
        (
            3,
            "sex",
            "F***",
            "'F***' is not a OneRoster 1.2 sex value (male, female, unspecified, other, or ext:…)",
        )
    ]


def test_booleans_are_literal_lowercase_true_or_false(tmp_path, con):
    district = district_1p2()
    district["users.csv"][0]["enabledUser"] = "TRUE"

    load(con, write_package(tmp_path / "export", district))

    assert rejected(con, "users.csv") == [
        (
            2,
            "enabledUser",
            "TRUE",
            "'TRUE' is not a OneRoster 1.2 boolean value (true or false, in lowercase)",
        )
    ]


def test_ext_values_are_allowed_in_1p2_extensible_enumerations(tmp_path, con):
    district = district_1p2()
    district["orgs.csv"][2]["type"] = "ext:campus"

    result = load(con, write_package(tmp_path / "export", district))

    assert result.rows_rejected == 0
    assert column(con, "orgs.csv", "type", "org-ms") == "ext:campus"


def test_ext_values_are_rejected_in_1p1(tmp_path, con):
    district = district_1p1()
    district["orgs.csv"][2]["type"] = "ext:campus"

    load(con, write_package(tmp_path / "export", district, version="1.1"))

    assert rejected(con, "orgs.csv") == [
        (
            4,
            "type",
            "ext:campus",
            "'ext:campus' is not a OneRoster 1.1 orgType value (department, school, district, "
            "local, state, national); ext: values are a OneRoster 1.2 extension, and this "
            "export is 1.1",
        )
    ]


def test_an_enumeration_list_checks_every_item(tmp_path, con):
    district = district_1p2()
    district["resources.csv"] = [
        {"sourcedId": "rsc-1", "vendorResourceId": "v-1", "roles": "student,ext:mentor"},
        {"sourcedId": "rsc-2", "vendorResourceId": "v-2", "roles": "student, pupil"},
    ]

    load(con, write_package(tmp_path / "export", district))

    assert [r[:3] for r in rejected(con, "resources.csv")] == [(3, "roles", "student, pupil")]
    assert ids(con, "resources.csv") == ["rsc-1"]


def test_an_impossible_date_is_rejected_and_a_birth_date_is_fully_masked(tmp_path, con):
    district = district_1p2()
    district["academicSessions.csv"][1]["startDate"] = "2024-13-01"
    district["demographics.csv"][0]["birthDate"] = "03/14/2009"

    load(con, write_package(tmp_path / "export", district))

    assert rejected(con, "academicSessions.csv") == [
        (3, "startDate", "2024-13-01", "'2024-13-01' is not a date (YYYY-MM-DD)")
    ]
    assert rejected(con, "demographics.csv") == [
        (2, "birthDate", "***", "'***' is not a date (YYYY-MM-DD)")
    ]


def test_date_times_accept_iso_8601_with_or_without_millis_and_reject_others(tmp_path, con):
    load(con, write_package(tmp_path / "night-1", district_1p2()))
    orgs = {o["sourcedId"]: o for o in district_1p2()["orgs.csv"]}
    rows = [
        {**orgs["org-hs"], "status": "active", "dateLastModified": "2026-03-02T18:00:00Z"},
        {**orgs["org-ms"], "status": "active", "dateLastModified": "2026-03-02T18:00:00.123Z"},
        {**orgs["org-district"], "status": "active", "dateLastModified": "03/02/2026 6pm"},
    ]
    delta = write_package(tmp_path / "delta", {"orgs.csv": rows}, modes={"orgs.csv": "delta"})

    load(con, delta)

    assert rejected(con, "orgs.csv") == [
        (
            4,
            "dateLastModified",
            "03/02/2026 6pm",
            "'03/02/2026 6pm' is not a date and time (ISO 8601, e.g. 2024-08-15T13:45:00Z)",
        )
    ]


def test_a_score_that_is_not_a_number_is_rejected(tmp_path, con):
    district = district_1p2()
    district["results.csv"][2]["score"] = "A-"

    load(con, write_package(tmp_path / "export", district))

    assert rejected(con, "results.csv") == [(4, "score", "A-", "'A-' is not a number (e.g. 87.5)")]


def test_a_duplicate_sourced_id_keeps_the_first_row(tmp_path, con):
    district = district_1p2()
    first = district["courses.csv"][0]
    district["courses.csv"].append({**first, "title": "Biology (copy)"})

    load(con, write_package(tmp_path / "export", district))

    assert rejected(con, "courses.csv") == [
        (
            3,
            "sourcedId",
            "crs-bio",
            "duplicate sourcedId: first seen on line 2; this row was not loaded",
        )
    ]
    assert column(con, "courses.csv", "title", "crs-bio") == "Biology"


@pytest.mark.parametrize(
    ("file", "index", "reference", "bad", "missing", "target", "noun"),
    [
        ("orgs.csv", 1, "parentSourcedId", "org-nope", "org-nope", "orgs.csv", "org"),
        ("courses.csv", 0, "orgSourcedId", "org-nope", "org-nope", "orgs.csv", "org"),
        (
            "classes.csv",
            0,
            "termSourcedIds",
            "as-fall, as-nope",
            "as-nope",
            "academicSessions.csv",
            "academic session",
        ),
        ("users.csv", 1, "agentSourcedIds", "grd-nope", "grd-nope", "users.csv", "user"),
        ("roles.csv", 1, "userSourcedId", "stu-nope", "stu-nope", "users.csv", "user"),
        ("demographics.csv", 0, "sourcedId", "stu-nope", "stu-nope", "users.csv", "user"),
        ("enrollments.csv", 1, "schoolSourcedId", "org-nope", "org-nope", "orgs.csv", "org"),
        (
            "lineItems.csv",
            0,
            "academicSessionSourcedId",
            "as-nope",
            "as-nope",
            "academicSessions.csv",
            "academic session",
        ),
        ("results.csv", 0, "lineItemSourcedId", "li-nope", "li-nope", "lineItems.csv", "line item"),
    ],
)
def test_a_reference_to_a_record_that_does_not_exist_is_rejected(
    tmp_path, con, file, index, reference, bad, missing, target, noun
):
    district = district_1p2()
    district[file][index][reference] = bad

    result = load(con, write_package(tmp_path / "export", district))

    assert rejected(con, file) == [
        (
            index + 2,
            reference,
            missing,
            f"{reference} '{missing}' is not in {target} (or the warehouse); load the {noun} "
            "or fix the reference",
        )
    ]
    assert result.file(file).rows_rejected == 1


def test_a_rejected_class_cascades_to_its_enrollments(tmp_path, con):
    district = district_1p2()
    district["classes.csv"][0]["classType"] = "lecture"

    result = load(con, write_package(tmp_path / "export", district))

    enrollment_reasons = rejected(con, "enrollments.csv")
    assert len(enrollment_reasons) == 4
    assert enrollment_reasons[0] == (
        2,
        "classSourcedId",
        "cls-bio-1",
        "classSourcedId 'cls-bio-1' was rejected in classes.csv, so this row was not loaded "
        "either; fix that class first (see its rejected rows)",
    )
    assert ids(con, "enrollments.csv") == []
    assert result.file("lineItems.csv").rows_rejected == 1
    assert result.file("results.csv").rows_rejected == 3  # their line item went with the class


def test_a_reference_to_a_tombstone_counts_as_unknown(tmp_path, con):
    load(con, write_package(tmp_path / "night-1", district_1p2()))
    course = district_1p2()["courses.csv"][0]
    gone = write_package(
        tmp_path / "delta-1",
        {"courses.csv": _delta([{**course, "status": "tobedeleted"}])},
        modes={"courses.csv": "delta"},
    )
    load(con, gone, run_id="run-2")
    new_class = {**district_1p2()["classes.csv"][0], "sourcedId": "cls-bio-2"}
    delta = write_package(
        tmp_path / "delta-2", {"classes.csv": _delta([new_class])}, modes={"classes.csv": "delta"}
    )

    load(con, delta, run_id="run-3")

    assert rejected(con, "classes.csv") == [
        (
            2,
            "courseSourcedId",
            "crs-bio",
            "courseSourcedId 'crs-bio' is marked tobedeleted in courses.csv; restore the course "
            "or fix the reference",
        )
    ]


def test_a_guardian_later_in_the_file_satisfies_an_agent_reference(tmp_path, con):
    district = district_1p2()
    users = district["users.csv"]
    assert users[1]["agentSourcedIds"] == "grd-1" and users[-1]["sourcedId"] == "grd-1"

    result = load(con, write_package(tmp_path / "export", district))

    assert result.file("users.csv").rows_rejected == 0
    assert column(con, "users.csv", "agentSourcedIds", "stu-1") == "grd-1"


def test_a_category_reference_is_checked_only_when_categories_are_supplied(tmp_path, con):
    without = load(con, write_package(tmp_path / "without", district_1p2()))
    district = district_1p2()
    district["categories.csv"] = [{"sourcedId": "cat-quizzes", "title": "Quizzes"}]

    load(con, write_package(tmp_path / "with", district), run_id="run-2")

    assert without.file("lineItems.csv").rows_rejected == 0
    assert rejected(con, "lineItems.csv")[0][1:3] == ("categorySourcedId", "cat-labs")


def test_a_row_with_the_wrong_number_of_values_is_rejected_and_later_lines_keep_their_numbers(
    tmp_path, con
):
    courses = "\n".join(
        [
            "sourcedId,title,orgSourcedId,courseCode",
            "crs-bio,Biology,org-hs,BIO",
            "crs-chem,Chemistry,org-hs",  # line 3: a value short
            "crs-phys,Physics,org-hs,PHY",
            "crs-art,Art, Studio,org-hs,ART",  # line 5: an unquoted comma
            "crs-math,Math,org-hs,MTH",
        ]
    )
    district = {**district_1p2(), "courses.csv": courses + "\n"}

    result = load(con, write_package(tmp_path / "export", district))

    assert rejected(con, "courses.csv") == [
        (
            3,
            None,
            "crs-chem",
            "row has 3 values but the header has 4 columns; a value or a comma is missing",
        ),
        (
            5,
            None,
            "crs-art",
            "row has 5 values but the header has 4 columns; quote values that contain a "
            'comma (e.g. "Smith, Jr.")',
        ),
    ]
    assert column(con, "courses.csv", "_line", "crs-phys") == 4
    assert column(con, "courses.csv", "_line", "crs-math") == 6
    courses_load = result.file("courses.csv")
    assert (courses_load.rows_read, courses_load.rows_loaded) == (5, 3)


def test_files_read_side_by_side_or_one_at_a_time_give_the_same_lines_and_rejects(tmp_path):
    """A balanced export is read side by side, each file on one thread numbering its own rows;
    on one DuckDB thread the files are read in turn and numbered from their rowids. Every
    line, raw row and rejected row must come out the same either way."""
    district = district_1p2(students=12)
    district["users.csv"][4]["enabledUser"] = "yes"  # a row check: line 6
    district["results.csv"][0]["comment"] = 'Good work;\nredo "section" 2'  # a quoted newline
    courses = csv_text(district.pop("courses.csv")).splitlines()
    courses.insert(1, "crs-bad,,,as-2025,Chemistry,CHEM")  # too many values: line 2
    export = write_package(tmp_path / "export", {**district, "courses.csv": "\n".join(courses)})
    sizes = [f.stat().st_size for f in export.glob("*.csv") if f.name != "manifest.csv"]
    assert side_by_side_readers(sizes, 2) == 2  # the export is balanced enough on 2 threads

    warehouses = {}
    for threads in (1, 2):
        con = duckdb.connect(str(tmp_path / f"threads-{threads}.duckdb"))
        con.execute(f"SET threads = {threads}").fetchall()
        load(con, export)
        warehouses[threads] = (
            {
                file: con.execute(
                    f'SELECT _line, "sourcedId" FROM {raw_table(file)} ORDER BY _line'
                ).fetchall()
                for file in known_files()
            },
            con.execute(
                "SELECT file, line, sourced_id, column_name, reason FROM audit.rejected_rows "
                "ORDER BY ALL"
            ).fetchall(),
        )
        con.close()

    assert warehouses[1] == warehouses[2]
    lines, rejects = warehouses[2]
    assert {r[:4] for r in rejects if r[0] in ("courses.csv", "users.csv")} == {
        ("courses.csv", 2, "crs-bad", None),
        ("users.csv", 6, "stu-4", "enabledUser"),
    }
    assert lines["courses.csv"] == [(3, "crs-bio")]
    assert [line for line, _ in lines["users.csv"]][3:6] == [5, 7, 8]  # line 6 was rejected
    # a quoted line break does not make a new record: the next row is line 3
    assert [line for line, _ in lines["results.csv"][:2]] == [2, 3]


def test_files_are_read_side_by_side_only_when_the_threads_would_share_them_evenly():
    assert side_by_side_readers([400, 380, 350, 300, 100, 80, 20], 2) == 2
    # One file holds most of the export: read each on all threads, one after another.
    assert side_by_side_readers([900, 50, 40, 10], 2) == 1
    assert side_by_side_readers([500, 400, 300], 1) == 1
    assert side_by_side_readers([500], 4) == 1
    # Enough files for 4 threads only if none is much bigger than a quarter of the bytes.
    assert side_by_side_readers([250, 240, 230, 220, 30, 20, 10], 4) == 4
    assert side_by_side_readers([400, 240, 230, 120], 4) == 1


def test_an_unterminated_quote_is_rejected_with_its_line(tmp_path, con):
    text = csv_text(district_1p2()["courses.csv"])
    broken = text + 'crs-chem,,,as-2025,"Chemistry,CHEM,09,org-hs,,\n'

    load(con, write_package(tmp_path / "export", {**district_1p2(), "courses.csv": broken}))

    ((line, column_name, value, reason),) = rejected(con, "courses.csv")
    assert (line, column_name, value) == (3, None, "crs-chem")
    assert reason.startswith('a quote (") in this row is never closed')


def test_line_numbers_hold_when_the_connection_does_not_preserve_insertion_order(tmp_path, con):
    con.execute("SET preserve_insertion_order = false").fetchall()
    district = district_1p2(students=5)
    district["users.csv"][3]["enabledUser"] = "yes"

    load(con, write_package(tmp_path / "export", district))

    assert rejected(con, "users.csv")[0][:2] == (5, "enabledUser")
    assert column(con, "users.csv", "_line", "stu-5") == 7


# --- idempotence -------------------------------------------------------------------------------


def test_the_same_export_twice_gives_the_same_warehouse_and_no_duplicate_rejects(tmp_path, con):
    district = district_1p2()
    district["results.csv"][0]["score"] = "n/a"
    district["users.csv"][0]["enabledUser"] = "yes"
    package = write_package(tmp_path / "export", district)
    first = load(con, package)
    snapshot = {
        file: con.execute(
            f"SELECT * EXCLUDE (_loaded_at) FROM {raw_table(file)} ORDER BY ALL"
        ).fetchall()
        for file in known_files()
    }
    rejects = con.execute(
        "SELECT * EXCLUDE (run_id, rejected_at) FROM audit.rejected_rows ORDER BY ALL"
    ).fetchall()

    second = load(con, package, run_id="run-2", loaded_at=TOMORROW)

    assert second.batch_id == first.batch_id
    assert {
        file: con.execute(
            f"SELECT * EXCLUDE (_loaded_at) FROM {raw_table(file)} ORDER BY ALL"
        ).fetchall()
        for file in known_files()
    } == snapshot
    assert (
        con.execute(
            "SELECT * EXCLUDE (run_id, rejected_at) FROM audit.rejected_rows ORDER BY ALL"
        ).fetchall()
        == rejects
    )
    assert len(rejects) == second.rows_rejected


def _schema(con: duckdb.DuckDBPyConnection, defaults: bool = True) -> list[tuple]:
    """Every table and column of the warehouse (temp ones too), in order, with its type (and
    its default or generating expression)."""
    default = "column_default" if defaults else "NULL"
    return con.execute(
        "SELECT database_name, schema_name, table_name, column_index, column_name, data_type, "
        f"{default}, is_nullable FROM duckdb_columns() ORDER BY ALL"
    ).fetchall()


def test_a_bulk_night_keeps_the_raw_tables_as_they_are_and_leaves_nothing_else_behind(
    tmp_path, con
):
    ensure_oneroster_tables(con)
    schema = _schema(con, defaults=False)

    load(con, write_package(tmp_path / "night-1", district_1p2(students=10)))
    load(con, write_package(tmp_path / "night-2", district_1p2(students=10)), run_id="run-2")

    # Same tables, columns, order and types; a bulk snapshot declares the values all its rows
    # share (where the load came from, columns the file leaves empty) as generated columns.
    assert _schema(con, defaults=False) == schema


def test_a_bulk_snapshot_declares_the_lineage_its_rows_share_once(tmp_path, con):
    result = load(con, write_package(tmp_path / "export", district_1p2()))

    generated = dict(
        con.execute(
            "SELECT column_name, generation_expression FROM information_schema.columns "
            "WHERE table_schema = 'raw' AND table_name = 'oneroster_users' "
            "AND is_generated = 'ALWAYS'"
        ).fetchall()
    )

    assert {"_source", "_file", "_batch_id", "_loaded_at", "_oneroster_version"} <= set(generated)
    assert result.batch_id in generated["_batch_id"]
    assert "password" in generated and "metadata" in generated  # empty in this export
    assert not {"sourcedId", "_line"} & set(generated)  # differ row by row: stored


def test_a_held_or_failed_load_leaves_no_staged_rows_behind(tmp_path, con, monkeypatch):
    load(con, write_package(tmp_path / "night-1", district_1p2(students=10)))
    schema, before = _schema(con), _raw_snapshot(con)
    district = district_1p2(students=10)
    district["users.csv"] = [u for u in district["users.csv"] if u["sourcedId"] in {"stu-1"}]

    assert load(con, write_package(tmp_path / "held", district), run_id="run-2").held
    assert (_schema(con), _raw_snapshot(con)) == (schema, before)

    def fails(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr("connectors.oneroster_csv._ExportLoad._hold_reason", fails)
    with pytest.raises(RuntimeError, match="the disk is full"):
        load(con, write_package(tmp_path / "failed", district_1p2(students=9)), run_id="run-3")
    assert (_schema(con), _raw_snapshot(con)) == (schema, before)


def test_the_batch_id_follows_the_content_not_the_folder(tmp_path, con):
    one = load(con, write_package(tmp_path / "a", district_1p2()))
    same = load(con, write_package(tmp_path / "b", district_1p2()), run_id="run-2")
    district = district_1p2()
    district["users.csv"][0]["familyName"] = "Rivera-Soto"
    changed = load(con, write_package(tmp_path / "c", district), run_id="run-3")

    assert one.batch_id == same.batch_id != changed.batch_id


def test_a_zip_is_cleaned_up_after_loading(tmp_path, con, monkeypatch):
    folder = write_package(tmp_path / "export", district_1p2())
    archive = zip_package(folder, tmp_path / "export.zip")
    shutil.rmtree(folder)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    load(con, archive)

    assert list(scratch.iterdir()) == []


def test_passwords_in_an_export_are_never_stored(tmp_path, con):
    district = district_1p2()
    district["users.csv"][1].update(password="hunter2")

    result = load(con, write_package(tmp_path / "export", district))

    assert result.file("users.csv").status == "loaded"
    assert column(con, "users.csv", "password", "stu-1") is None
    assert column(con, "users.csv", "givenName", "stu-1") is not None


def test_a_delta_row_marked_tobedeleted_is_filed_as_a_deleted_record(tmp_path, con):
    load(con, write_package(tmp_path / "night-1", district_1p2()))
    users = {u["sourcedId"]: u for u in district_1p2()["users.csv"]}
    rows = _delta([{**users["stu-1"], "familyName": "Okafor"}]) + _delta(
        [
            {"sourcedId": "stu-2", "status": "tobedeleted"},
            # Never in the warehouse: deleting it removes nothing.
            {"sourcedId": "stu-77", "status": "tobedeleted"},
        ]
    )
    delta = write_package(tmp_path / "delta", {"users.csv": rows}, modes={"users.csv": "delta"})

    result = load(con, delta, run_id="run-2", loaded_at=TOMORROW)
    again = load(con, delta, run_id="run-3", loaded_at=TOMORROW)

    assert not result.held and result.deletions == [], result.message
    assert con.execute(
        "SELECT run_id, file, sourced_id, how FROM audit.sis_deleted_records ORDER BY run_id"
    ).fetchall() == [("run-2", "users.csv", "stu-2", "tobedeleted")]
    assert not again.held  # the second time stu-2 is already deleted: nothing new is filed
