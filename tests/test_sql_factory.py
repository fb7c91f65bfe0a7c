"""The asset factory: every SQL file becomes an asset keyed [layer, table] with parsed deps."""

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.credential_assets import CHECKS_KEY
from pipelines.sql_models import (
    SQL_DIR,
    SqlModelError,
    build_sql_asset,
    discover_sql_models,
    read_sql_model,
)
from pipelines.warehouse import WarehouseResource


def write_model(root: Path, layer: str, name: str, text: str) -> Path:
    path = root / layer / f"{name}.sql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


LEARNERS = """\
-- One row per active learner, as the SIS knows them.
-- Read by every dashboard.
--
-- learner_sourced_id: the SIS sourcedId
WITH students AS (
    SELECT sourced_id FROM staging.stg_users WHERE role = 'student'
)
SELECT s.sourced_id AS learner_sourced_id, o.name AS school_name
FROM students AS s
LEFT JOIN staging.stg_orgs AS o ON o.sourced_id = s.sourced_id
"""


def test_dependencies_are_the_qualified_tables_read_and_not_the_ctes(tmp_path):
    model = read_sql_model(write_model(tmp_path, "core", "learners", LEARNERS), "core")
    assert model.upstream == (("staging", "stg_orgs"), ("staging", "stg_users"))
    assert model.key == dg.AssetKey(["core", "learners"])


def test_description_is_the_leading_comment_and_column_docs_are_kept(tmp_path):
    model = read_sql_model(write_model(tmp_path, "core", "learners", LEARNERS), "core")
    assert (
        model.description
        == "One row per active learner, as the SIS knows them. Read by every dashboard."
    )
    assert model.column_docs == {"learner_sourced_id": "the SIS sourcedId"}


def test_an_unqualified_table_is_refused_with_the_fix(tmp_path):
    path = write_model(tmp_path, "core", "x", "-- x\nSELECT * FROM stg_users\n")
    with pytest.raises(SqlModelError, match=r"write e\.g\. staging\.stg_users"):
        read_sql_model(path, "core")


def test_a_file_without_a_leading_comment_is_refused(tmp_path):
    path = write_model(tmp_path, "core", "x", "SELECT 1 AS one\n")
    with pytest.raises(SqlModelError, match="start the file with a `--` comment"):
        read_sql_model(path, "core")


def test_a_file_with_two_statements_is_refused(tmp_path):
    path = write_model(tmp_path, "core", "x", "-- x\nSELECT 1; SELECT 2;\n")
    with pytest.raises(SqlModelError, match="exactly one SELECT"):
        read_sql_model(path, "core")


def test_every_model_in_the_repository_parses_and_reads_only_known_tables():
    models = discover_sql_models()
    assert {m.layer for m in models} >= {"staging", "core"}
    # Verified credentials are the one staging table Python writes (cryptography, not SQL).
    produced = {(m.layer, m.table) for m in models} | {tuple(CHECKS_KEY.path)}
    for model in models:
        for schema, table in model.upstream:
            assert schema in {"raw", "staging", "core", "marts"}, (model.path, schema)
            if schema != "raw":
                assert (schema, table) in produced, f"{model.path} reads unknown {schema}.{table}"
    assert SQL_DIR.name == "dbt_like_sql"


def _materialize(asset, db: Path):
    return dg.materialize(
        [asset], resources={"warehouse": WarehouseResource(database=str(db))}, raise_on_error=False
    )


def test_a_model_materializes_with_row_count_and_a_preview_without_personal_columns(tmp_path):
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA staging")
    con.execute(
        "CREATE TABLE staging.people AS SELECT 'u1' AS sourced_id, 'Zoë' AS given_name, "
        "'zoe@example.org' AS email, 'school-1' AS school"
    )
    con.close()
    text = (
        "-- People by school.\nSELECT sourced_id, given_name, email, school FROM staging.people\n"
    )
    asset = build_sql_asset(read_sql_model(write_model(tmp_path, "core", "people", text), "core"))
    result = _materialize(asset, db)
    assert result.success
    metadata = result.asset_materializations_for_node("core__people")[0].metadata
    assert metadata["dagster/row_count"].value == 1
    preview = metadata["preview"].value
    assert "school-1" in preview
    assert "Zoë" not in preview and "zoe@example.org" not in preview
    con = duckdb.connect(str(db), read_only=True)
    comment = con.execute(
        "SELECT comment FROM duckdb_tables() WHERE schema_name='core' AND table_name='people'"
    ).fetchone()[0]
    con.close()
    assert comment == "People by school."


def test_a_failing_model_leaves_the_previous_table_in_place(tmp_path):
    db = tmp_path / "w.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA core")
    con.execute("CREATE SCHEMA staging")
    con.execute("CREATE TABLE staging.n AS SELECT 1 AS v")
    con.execute("CREATE TABLE core.totals AS SELECT 41 AS total")
    con.close()
    # Fails at run time (division by zero raises in DuckDB), after CREATE OR REPLACE has begun.
    text = "-- Totals.\nSELECT CAST('not a number' AS INTEGER) AS total FROM staging.n\n"
    asset = build_sql_asset(read_sql_model(write_model(tmp_path, "core", "totals", text), "core"))
    result = _materialize(asset, db)
    assert not result.success
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT total FROM core.totals").fetchall() == [(41,)]
    con.close()
