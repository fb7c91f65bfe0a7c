"""The sync report district IT expect from a roster tool (as Clever and ClassLink send): per
OneRoster entity, one CSV of what tonight's SIS load did not take as sent.

`<exports>/sync/<night>/sync-report/<entity>.csv`, columns `sourced_id, entity, field, status,
message`, one row per:

- `rejected`: a field of a row that failed a check (`audit.rejected_rows`);
- `deleted`: a record the load removed (`audit.sis_deleted_records`);
- `held`: an entity whose deletions held the whole export, or a file held with it;
- `approved`: an entity whose deletions above its limit a person approved tonight;
- `failed-file`: a file that could not be loaded at all.

An entity loaded tonight with nothing to report gets a file with the header only. The value of
an offending field is never written, only its name: the message says what is wrong with it.
"""

import os
import shutil
import tempfile
from datetime import date
from pathlib import Path

import dagster as dg
import duckdb

from connectors.oneroster_csv import ensure_oneroster_tables, raw_table
from models.config import PathwaysConfig
from models.oneroster_spec import known_files
from pipelines.safeguards import night_folder, night_of
from pipelines.warehouse import WAREHOUSE_POOL, WarehouseResource

SYNC_REPORT_KEY = dg.AssetKey(["outputs", "sis_sync_report"])
SYNC_REPORT_FOLDER = "sync-report"

# The entity of a file as audit names it: `users.csv`, or a SIS database's `users (sis.students)`.
_ENTITY = "regexp_extract({}, '^[A-Za-z]+')"

# Every row of tonight's report, from the audit tables alone. A rejected row's reason starts
# with its (masked) value in quotes; the value is cut out of the message, the field names it.
_REPORT_ROWS = f"""
    SELECT sourced_id, {_ENTITY.format("file")} AS entity, column_name AS field,
           'rejected' AS status,
           CASE WHEN value IS NULL THEN reason
                ELSE replace(reason, '''' || value || '''', '''…''') END AS message,
           file, line
    FROM audit.rejected_rows WHERE run_id = $run_id
    UNION ALL
    SELECT sourced_id, {_ENTITY.format("file")}, NULL, 'deleted',
           CASE how WHEN 'absent' THEN 'not in tonight''s bulk file (or its row was rejected); '
                    || 'removed from the warehouse'
                ELSE 'marked tobedeleted; removed from the active records' END,
           file, NULL
    FROM audit.sis_deleted_records WHERE run_id = $run_id
    UNION ALL
    SELECT NULL, {_ENTITY.format("l.file")}, NULL,
           CASE l.status WHEN 'failed' THEN 'failed-file' ELSE 'held' END,
           CASE WHEN c.entity IS NOT NULL THEN
                    format('would remove {{:.0f}}% of the active records ({{:d}} of {{:d}}), above '
                           'the {{:.0f}}% limit; the whole export was held (batch {{}})',
                           100 * c.share, c.removed, c.active_before, 100 * c.limit_share,
                           l.batch_id)
                ELSE l.message END,
           l.file, NULL
    FROM audit.sis_loads AS l
    LEFT JOIN audit.sis_deletion_checks AS c
      ON c.run_id = l.run_id AND c.entity = {_ENTITY.format("l.file")} AND c.outcome = 'held'
    WHERE l.run_id = $run_id AND l.status IN ('held', 'failed')
    UNION ALL
    SELECT NULL, entity, NULL, 'approved',
           format('removed {{:.0f}}% of the active records ({{:d}} of {{:d}}), above the '
                  '{{:.0f}}% limit, approved for batch {{}} by {{}}',
                  100 * share, removed, active_before, 100 * limit_share, batch_id,
                  coalesce(approved_by, 'an operator')),
           NULL, NULL
    FROM audit.sis_deletion_checks
    WHERE run_id = $run_id AND outcome = 'approved' AND entity <> 'learners'
"""


def write_sync_report(con: duckdb.DuckDBPyConnection, run_id: str, folder: Path) -> dict[str, int]:
    """Write tonight's sync report of run `run_id` into `folder/sync-report/`, one CSV per
    entity, replacing any report there as a whole; returns the rows written per entity."""
    ensure_oneroster_tables(con)
    params = {"run_id": run_id}
    entities = [
        entity
        for (entity,) in con.execute(
            f"""
            SELECT DISTINCT entity FROM (
                SELECT {_ENTITY.format("file")} AS entity FROM audit.sis_loads
                WHERE run_id = $run_id AND status <> 'absent'
                UNION ALL SELECT entity FROM ({_REPORT_ROWS})
            ) WHERE entity <> '' ORDER BY 1
            """,
            params,
        ).fetchall()
    ]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / SYNC_REPORT_FOLDER
    partial = Path(tempfile.mkdtemp(prefix=f".{SYNC_REPORT_FOLDER}.", dir=folder))
    counts: dict[str, int] = {}
    try:
        for entity in entities:
            path = partial / f"{entity}.csv"
            con.execute(
                f"""
                COPY (
                    SELECT coalesce(sourced_id, '') AS sourced_id, entity,
                           coalesce(field, '') AS field, status, message
                    FROM ({_REPORT_ROWS}) WHERE entity = $entity
                    ORDER BY status, file, line NULLS LAST, sourced_id, field
                ) TO '{_quoted(path)}' (FORMAT csv, HEADER true)
                """,
                {**params, "entity": entity},
            ).fetchall()
            counts[entity] = con.execute(
                f"SELECT count(*) FROM ({_REPORT_ROWS}) WHERE entity = $entity",
                {**params, "entity": entity},
            ).fetchall()[0][0]
        _swap_in(partial, target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return counts


def _quoted(path: Path) -> str:
    # COPY takes no bound file name; the path is one Pathways made itself.
    return str(path).replace("'", "''")


def _swap_in(partial: Path, target: Path) -> None:
    """Replace `target` by `partial` whole: a reader sees last report or tonight's, never half."""
    os.chmod(partial, 0o755)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(partial, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def sync_report_folder(
    config: PathwaysConfig, instance: dg.DagsterInstance, run_id: str
) -> tuple[Path, date]:
    """The night folder a run's sync report goes to, and the night."""
    night = night_of(instance, run_id, config.district.timezone)
    return night_folder(config, night), night


def build_sync_report_asset(config: PathwaysConfig) -> dg.AssetsDefinition:
    """The sync report as an asset of its own, after the SIS load, so writing it never slows
    the load. (A held load fails the SIS step before this runs; that step writes the report of
    the held night itself.)"""

    @dg.asset(
        key=SYNC_REPORT_KEY,
        deps=[dg.AssetKey(raw_table(file).split(".")) for file in known_files()],
        group_name="outputs",
        kinds={"csv"},
        pool=WAREHOUSE_POOL,
        description="Tonight's SIS sync report for district IT, like Clever's and ClassLink's: "
        "per OneRoster entity, every rejected field, deleted record, held entity and file that "
        "failed, keyed by SIS sourcedId and field (never the field's value).",
    )
    def sis_sync_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        folder, night = sync_report_folder(config, context.instance, context.run.run_id)
        with warehouse.get_connection() as con:
            counts = write_sync_report(con, context.run.run_id, folder)
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(folder / SYNC_REPORT_FOLDER)),
                "night": night.isoformat(),
                "dagster/row_count": sum(counts.values()),
                "rows_by_entity": dg.MetadataValue.json(counts),
            }
        )

    return sis_sync_report
