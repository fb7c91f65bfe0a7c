"""Data-collection transparency: the data inventory, its blocking check, the public notice and the
data dictionary, on real nights of a generated district in a temporary DuckDB."""

import hashlib
import itertools
import json
import re
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from browser import heading_levels, open_page
from rich.console import Console

from models.config import load_config
from models.data_inventory import INVENTORY_PATH, InventoryError, load_inventory
from pipelines.api_sources import ensure_raw_tables
from pipelines.cli import run_nightly
from pipelines.credential_assets import ensure_credential_tables
from pipelines.transparency import (
    DECLARED_CHECK,
    DICTIONARY_HTML,
    DICTIONARY_JSON,
    NOTICE_HTML,
    NOTICE_JSON,
    PUBLIC_NOTICE_KEY,
    notice_dir,
    observe_raw,
)
from sample_district.generate import generate_district

NEW_FIELD = "metadata.someNewField"


def without_exports(config_path: Path) -> None:
    """Leave the signed learner records out of a night: tests/test_learner_records.py signs."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config.pop("exports", None)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def night_of(config_path: Path, instance: dg.DagsterInstance):
    """One nightly run: its summary and its events."""
    summary = run_nightly(config_path, Console(quiet=True), instance=instance)
    return summary, instance.all_logs(summary.run_id)


def materialized(events) -> set[str]:
    return {
        e.dagster_event.asset_key.to_user_string()
        for e in events
        if e.dagster_event and e.dagster_event.event_type_value == "ASSET_MATERIALIZATION"
    }


def check_passed(events, name: str) -> bool:
    [evaluation] = [
        e.dagster_event.event_specific_data
        for e in events
        if e.dagster_event
        and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.dagster_event.event_specific_data.check_name == name
    ]
    return evaluation.passed


def rows(con: duckdb.DuckDBPyConnection, sql: str, params=None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """A 120-learner district after one clean night."""
    district = generate_district(120, tmp_path_factory.mktemp("district") / "d", seed=11)
    without_exports(district.config_path)
    with dg.DagsterInstance.ephemeral() as instance:
        summary, events = night_of(district.config_path, instance)
    config = load_config(district.config_path)
    return district, config, summary, events


@pytest.fixture(scope="module")
def failing_night(tmp_path_factory):
    """A district after a clean night, then a night whose export carries an extension field
    nobody declared and whose inventory lost the purpose of a field."""
    root = tmp_path_factory.mktemp("failing")
    district = generate_district(40, root / "d", seed=5)
    without_exports(district.config_path)
    config = load_config(district.config_path)
    with dg.DagsterInstance.ephemeral() as instance:
        first, _ = night_of(district.config_path, instance)
        folder = notice_dir(config)
        before = {
            name: ((folder / name).read_bytes(), (folder / name).stat().st_mtime_ns)
            for name in (NOTICE_HTML, NOTICE_JSON, DICTIONARY_HTML, DICTIONARY_JSON)
        }
        with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
            seen_first = dict(
                con.execute(
                    "SELECT column_name, first_seen FROM audit.collected_columns "
                    "WHERE raw_table = 'raw.oneroster_users'"
                ).fetchall()
            )
        _add_column(district.oneroster_path / "users.csv", NEW_FIELD, "yes")
        inventory = root / "inventory.yaml"
        inventory.write_text(_without_purpose(INVENTORY_PATH.read_text(), "givenName"))
        settings = yaml.safe_load(district.config_path.read_text(encoding="utf-8"))
        settings["transparency"] = {"inventory_path": str(inventory)}
        district.config_path.write_text(yaml.safe_dump(settings), encoding="utf-8")
        second, events = night_of(district.config_path, instance)
    return district, config, first, second, events, before, seen_first


def _add_column(path: Path, name: str, value: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text(
        "\n".join([f"{lines[0]},{name}", *(f"{line},{value}" for line in lines[1:])]) + "\n",
        encoding="utf-8",
    )


def _without_purpose(text: str, column: str) -> str:
    """The inventory with the purpose of a raw.oneroster_users column taken out."""
    pattern = re.compile(rf"^(\s+{column}: \{{label: [^,]+, )purpose: [^,]+, ", re.MULTILINE)
    changed, count = pattern.subn(r"\1", text)
    assert count == 1
    return changed


# ---------------------------------------------------------------------------------------------
# A clean night


def test_a_clean_night_declares_every_collected_field_and_publishes_the_notice(night):
    _, config, summary, events = night
    assert summary.success, summary.failures
    assert check_passed(events, DECLARED_CHECK)
    assert PUBLIC_NOTICE_KEY.to_user_string() in materialized(events)
    folder = notice_dir(config)
    html = (folder / NOTICE_HTML).read_bytes()
    notice = json.loads((folder / NOTICE_JSON).read_text(encoding="utf-8"))
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        findings = rows(con, "SELECT * FROM marts.transparency_findings")
        [published] = rows(con, "SELECT * FROM audit.public_notices")
    assert findings == []
    assert published["html_path"] == str(folder / NOTICE_HTML)
    assert published["json_path"] == str(folder / NOTICE_JSON)
    assert published["sha256"] == hashlib.sha256(html).hexdigest()
    assert published["fields"] == notice["summary"]["fields"] > 50
    assert published["run_id"] == summary.run_id


def test_the_data_inventory_joins_declarations_with_what_was_collected(night):
    _, config, _, _ = night
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        inventory = {
            (r["raw_table"], r["column_name"]): r
            for r in rows(con, "SELECT * FROM marts.data_inventory")
        }
        users = con.execute("SELECT count(*) FROM raw.oneroster_users").fetchall()[0][0]
        opted_out = con.execute(
            "SELECT count(*) FROM raw.oneroster_users "
            "WHERE metadata->>'directoryInformationOptOut' IS NOT NULL"
        ).fetchall()[0][0]
    given = inventory[("raw.oneroster_users", "givenName")]
    assert given["system"] == "oneroster"
    assert given["category"] == "Student Name"
    assert given["declared"] and given["complete"] and given["collected"]
    assert given["row_count"] == users
    assert given["first_seen"] is not None and given["last_seen"] == given["first_seen"]
    # District extension fields are found in the metadata JSON, with their own counts.
    opt_out = inventory[("raw.oneroster_users", "metadata.directoryInformationOptOut")]
    assert opt_out["collected"] and opt_out["row_count"] == opted_out
    # Lineage columns are declared once and appear for every table that has them.
    assert inventory[("raw.oneroster_orgs", "_batch_id")]["declared"]
    assert inventory[("raw.canvas_courses", "_content_hash")]["declared"]
    assert all(r["declared"] for r in inventory.values() if r["collected"])


def test_the_notice_opens_in_chromium_with_and_without_javascript(night):
    _, config, _, _ = night
    path = notice_dir(config) / NOTICE_HTML
    notice = json.loads((notice_dir(config) / NOTICE_JSON).read_text(encoding="utf-8"))
    categories = [c["name"] for c in notice["categories"]]
    assert {"Student Name", "Demographics", "Special Indicator", "Transcript"} <= set(categories)
    for javascript in (True, False):
        with open_page(path.as_uri(), javascript=javascript) as (page, log):
            assert page.get_attribute("html", "lang") == "en"
            levels = heading_levels(page)
            assert levels.count(1) == 1 and levels[0] == 1
            assert all(b - a <= 1 for a, b in itertools.pairwise(levels))
            text = page.inner_text("body")
            for category in categories:
                assert page.get_by_role("heading", name=category, exact=True).count() == 1
                assert category in text
            for system in notice["systems"]:
                assert system["title"] in text
            # Printed, the page keeps its content and drops the navigation.
            page.emulate_media(media="print")
            assert not page.locator("nav").first.is_visible()
            assert page.locator("main").is_visible()
        assert log.problems == []
        assert log.requests == [path.as_uri()]


def test_the_notice_holds_no_student_value(night):
    _, config, _, _ = night
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        people = con.execute(
            "SELECT sourcedId, givenName || ' ' || familyName, email, username, identifier "
            "FROM raw.oneroster_users WHERE sourcedId IN "
            "(SELECT userSourcedId FROM raw.oneroster_roles WHERE role = 'student') "
            "ORDER BY sourcedId LIMIT 25"
        ).fetchall()
        births = [
            b for (b,) in con.execute("SELECT birthDate FROM raw.oneroster_demographics").fetchall()
        ]
    assert len(people) == 25
    for name in (NOTICE_HTML, NOTICE_JSON):
        text = (notice_dir(config) / name).read_text(encoding="utf-8")
        for values in people:
            for value in values:
                assert not value or value not in text, name
        assert not any(b and b in text for b in births[:50]), name


def test_the_data_dictionary_documents_every_marts_column(night):
    _, config, _, _ = night
    dictionary = json.loads((notice_dir(config) / DICTIONARY_JSON).read_text(encoding="utf-8"))
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        columns = con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() "
            "WHERE database_name = current_database() AND schema_name = 'marts'"
        ).fetchall()
    documented = {
        (t["name"], c["name"]): c["description"] for t in dictionary["tables"] for c in t["columns"]
    }
    assert {f"marts.{t}" for t, _, _ in columns} >= {
        "marts.data_inventory",
        "marts.transparency_findings",
        "marts.learner_records",
    }
    assert set(documented) == {(f"marts.{t}", c) for t, c, _ in columns}
    undocumented = sorted(f"marts.{t}.{c}" for t, c, comment in columns if not comment)
    assert undocumented == []
    assert all(documented.values())
    assert all(t["description"] for t in dictionary["tables"])
    with open_page((notice_dir(config) / DICTIONARY_HTML).as_uri(), javascript=False) as (
        page,
        log,
    ):
        for table in dictionary["tables"]:
            assert page.get_by_role("heading", name=table["name"], exact=True).count() == 1
    assert log.problems == []


def test_the_published_copy_keeps_what_each_marts_column_means(night):
    _, config, _, _ = night
    query = (
        "SELECT table_name, column_name, comment FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'marts' ORDER BY 1, 2"
    )
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        live = con.execute(query).fetchall()
    with duckdb.connect(str(config.warehouse.published_path), read_only=True) as con:
        published = con.execute(query).fetchall()
        [(inventory_doc,)] = con.execute(
            "SELECT comment FROM duckdb_tables() "
            "WHERE schema_name = 'marts' AND table_name = 'data_inventory'"
        ).fetchall()
    # marts.transparency_findings may be built after the copy (it is not waited for, so a
    # failing check never holds the published warehouse); every other table is in both.
    assert set(published) <= set(live)
    assert {t for t, _, _ in live} - {t for t, _, _ in published} <= {"transparency_findings"}
    assert all(comment for _, _, comment in published)
    assert "declared in the data inventory" in inventory_doc


# ---------------------------------------------------------------------------------------------
# A night that fails the check


def test_an_extension_field_nobody_declared_fails_the_check_and_the_finding_names_it(
    failing_night,
):
    _, config, first, second, events, _, _ = failing_night
    assert first.success, first.failures
    assert not second.success
    assert not check_passed(events, DECLARED_CHECK)
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        findings = rows(
            con,
            "SELECT * FROM marts.transparency_findings WHERE column_name = ?",
            [NEW_FIELD],
        )
    [finding] = findings
    assert finding["severity"] == "error"
    assert finding["raw_table"] == "raw.oneroster_users"
    assert NEW_FIELD in finding["problem"] and NEW_FIELD in finding["what_to_do"]


def test_a_declared_field_without_a_purpose_fails_the_check(failing_night):
    _, config, _, _, _, _, _ = failing_night
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        [finding] = rows(
            con,
            "SELECT * FROM marts.transparency_findings WHERE column_name = 'givenName'",
        )
        [row] = rows(
            con,
            "SELECT * FROM marts.data_inventory WHERE raw_table = 'raw.oneroster_users' "
            "AND column_name = 'givenName'",
        )
    assert finding["severity"] == "error"
    assert "without a purpose" in finding["problem"]
    assert "inventory.yaml" in finding["what_to_do"]
    assert row["declared"] and not row["complete"] and row["purpose"] is None


def test_the_notice_is_not_rewritten_while_the_check_fails(failing_night):
    _, config, _, second, events, before, _ = failing_night
    folder = notice_dir(config)
    for name, (content, mtime) in before.items():
        assert (folder / name).read_bytes() == content, name
        assert (folder / name).stat().st_mtime_ns == mtime, name
    assert PUBLIC_NOTICE_KEY.to_user_string() not in materialized(events)
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        published = con.execute("SELECT count(*) FROM audit.public_notices").fetchall()[0][0]
    assert published == 1
    # Only the notice is held: the inventory the scorecard reads was still built tonight.
    assert "marts/data_inventory" in materialized(events)
    assert any("transparency_findings" in f for f in second.failures)


def test_first_seen_survives_from_night_to_night(failing_night):
    _, config, _, _, _, _, seen_first = failing_night
    with duckdb.connect(str(config.warehouse.path), read_only=True) as con:
        seen = {
            r["column_name"]: r
            for r in rows(
                con,
                "SELECT * FROM audit.collected_columns WHERE raw_table = 'raw.oneroster_users'",
            )
        }
    assert seen["givenName"]["first_seen"] == seen_first["givenName"]
    assert seen["givenName"]["last_seen"] > seen_first["givenName"]
    assert NEW_FIELD not in seen_first
    assert seen[NEW_FIELD]["first_seen"] == seen[NEW_FIELD]["last_seen"]


# ---------------------------------------------------------------------------------------------
# The inventory file


def write_inventory(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "inventory.yaml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = """
categories:
  Student Name: First and last names.
  Enrollment: Schools and grades.
sensitivities:
  directory: Not about a person.
  personal: About a person.
  sensitive: Needs the most care.
systems:
  sis:
    title: Student information system
    description: The roster.
    retention: Replaced each night.
    tables:
      raw.oneroster_users:
        title: People
        columns:
"""


def test_the_bundled_inventory_declares_every_raw_column_of_every_source():
    inventory = load_inventory()
    con = duckdb.connect()
    ensure_raw_tables(con)
    ensure_credential_tables(con)
    observed = observe_raw(con)
    assert len(observed) > 300
    undeclared = [
        f"{o.raw_table}.{o.column_name}"
        for o in observed
        if inventory.declaration(o.raw_table, o.column_name) is None
    ]
    assert undeclared == []
    assert [f for f in inventory.fields if not f.complete] == []


def test_a_field_left_without_a_purpose_loads_and_says_what_it_lacks(tmp_path):
    path = write_inventory(
        tmp_path,
        BASE + "          givenName: {category: Student Name, sensitivity: personal}\n",
    )
    [field] = load_inventory(path).fields
    assert field.retention == "Replaced each night."  # from its system
    assert field.missing == ("purpose",)
    assert not field.complete


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        (
            "givenName: {purpose: Names., category: Names, sensitivity: personal}",
            [
                "raw.oneroster_users > columns > givenName",
                "category 'Names' is not listed under categories",
                "Student Name",
            ],
        ),
        (
            "givenName: {purpose: Names., category: Student Name, sensitivity: secret}",
            ["givenName > sensitivity", "'secret' is not one of directory, personal, sensitive"],
        ),
        (
            "givenName: {purpose: Names., category: Student Name, sensitivty: personal}",
            ["givenName > sensitivty", "unknown key 'sensitivty'", "check its spelling"],
        ),
        (
            "givenName: {purpose: Names., category: Student Name, sensitivity: directory}",
            ["givenName", "models/personal_data.py", "declare sensitivity personal or sensitive"],
        ),
        (
            "givenName: {purpose: Names, first and last., category: Student Name}",
            ["unknown key 'first and last.'"],
        ),
    ],
    ids=["category-not-listed", "sensitivity", "misspelt-key", "personal-as-directory", "comma"],
)
def test_an_inventory_mistake_is_named_with_what_to_do(tmp_path, field, expected):
    path = write_inventory(tmp_path, BASE + f"          {field}\n")
    with pytest.raises(InventoryError) as error:
        load_inventory(path)
    message = str(error.value)
    assert str(path) in message
    for part in expected:
        assert part in message


def test_a_category_outside_the_sdpc_schedule_is_refused(tmp_path):
    text = BASE.replace("  Enrollment: Schools and grades.", "  Hobbies: What a learner likes.")
    path = write_inventory(tmp_path, text + "          role: {purpose: R., category: Hobbies}\n")
    with pytest.raises(InventoryError, match="Hobbies: not a category of the SDPC schedule"):
        load_inventory(path)


def test_a_table_declared_under_two_systems_or_misnamed_is_refused(tmp_path):
    text = BASE + (
        "          role: {purpose: R., category: Enrollment, sensitivity: personal}\n"
        "  lms:\n    title: LMS\n    description: Another.\n    tables:\n"
        "      raw.oneroster_users: {title: Again}\n"
        "      canvas_courses: {title: Courses}\n"
    )
    with pytest.raises(InventoryError) as error:
        load_inventory(write_inventory(tmp_path, text))
    message = str(error.value)
    assert "raw.oneroster_users: already declared under sis" in message
    assert "canvas_courses: a table is named raw.<table>" in message


def test_a_missing_inventory_file_says_where_to_point(tmp_path):
    with pytest.raises(InventoryError, match=r"transparency\.inventory_path"):
        load_inventory(tmp_path / "nope.yaml")
