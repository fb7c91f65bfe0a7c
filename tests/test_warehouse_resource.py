"""The warehouse resource: the steps of an in-process run share one connection, each left clean."""

import dagster as dg
import duckdb
import pytest

from pipelines.warehouse import WarehouseResource


def temporary_objects(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal"
        ).fetchall()
    ]


def test_the_steps_of_an_in_process_run_share_one_connection_and_close_it_at_the_end(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    seen: list[duckdb.DuckDBPyConnection] = []  # kept, so no object is freed and its id reused
    found: dict[str, object] = {}

    @dg.asset
    def first(warehouse: WarehouseResource) -> None:
        with warehouse.get_connection() as con:
            seen.append(con)
            con.execute("CREATE TABLE kept AS SELECT 1 AS x")
            # A step that leaves a transaction open and scratch tables behind.
            con.execute("BEGIN TRANSACTION")
            con.execute("CREATE TABLE uncommitted AS SELECT 2 AS x")
            con.execute("CREATE TEMP TABLE scratch AS SELECT 3 AS x")
            con.execute("CREATE TEMP VIEW scratch_view AS SELECT 4 AS x")

    @dg.asset(deps=[first])
    def second(warehouse: WarehouseResource) -> None:
        with warehouse.get_connection() as con:
            seen.append(con)
            found["temporary"] = temporary_objects(con)
            found["tables"] = sorted(
                name
                for (name,) in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE NOT temporary"
                ).fetchall()
            )
            # A new transaction can start: none is left open.
            con.execute("BEGIN TRANSACTION")
            con.execute("COMMIT")

    result = dg.materialize(
        [first, second], resources={"warehouse": WarehouseResource(database=str(database))}
    )

    assert result.success
    assert len(seen) == 2 and seen[0] is seen[1]
    assert found == {"temporary": [], "tables": ["kept"]}
    # Closed when the run's resources were torn down: the file opens again, even read-only.
    with pytest.raises(duckdb.ConnectionException):
        seen[0].execute("SELECT 1")
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT x FROM kept").fetchall() == [(1,)]


def test_a_step_that_fails_mid_transaction_leaves_the_next_one_a_clean_connection(tmp_path):
    warehouse = WarehouseResource(database=str(tmp_path / "warehouse.duckdb"))
    context = dg.build_init_resource_context()
    warehouse.setup_for_execution(context)
    try:
        with (
            pytest.raises(RuntimeError, match="the step failed"),
            warehouse.get_connection() as con,
        ):
            con.execute("BEGIN TRANSACTION")
            con.execute("CREATE TABLE half_built AS SELECT 1 AS x")
            con.execute("CREATE TEMP TABLE scratch AS SELECT 1 AS x")
            raise RuntimeError("the step failed")
        with warehouse.get_connection() as again:
            assert again is con
            assert temporary_objects(again) == []
            assert again.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'half_built'"
            ).fetchone() == (0,)
    finally:
        warehouse.teardown_after_execution(context)
    with pytest.raises(duckdb.ConnectionException):
        con.execute("SELECT 1")


def test_outside_a_run_every_connection_is_opened_and_closed(tmp_path):
    warehouse = WarehouseResource(database=str(tmp_path / "warehouse.duckdb"))
    with warehouse.get_connection() as first:
        first.execute("CREATE TABLE t AS SELECT 1 AS x")
    with warehouse.get_connection() as second:
        assert second is not first
        assert second.execute("SELECT x FROM t").fetchall() == [(1,)]
    for con in (first, second):
        with pytest.raises(duckdb.ConnectionException):
            con.execute("SELECT 1")
