"""SIS ingestion assets: a district's OneRoster export, or its SIS database, into
`raw.oneroster_*`."""

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb

from connectors.oneroster_csv import (
    OneRosterCsvSettings,
    OneRosterLoad,
    OneRosterPackageError,
    ensure_oneroster_tables,
    load_oneroster_csv,
    raw_table,
)
from connectors.sql_sis import SqlSisSettings, SqlSourceError, load_sql_sis
from models.config import OneRosterCsvSource, PathwaysConfig, SisSource, SqlSource
from models.oneroster_spec import known_files
from pipelines.sync_report import SYNC_REPORT_FOLDER, sync_report_folder, write_sync_report
from pipelines.warehouse import (
    WAREHOUSE_POOL,
    WarehouseResource,
    preview_markdown,
    table_row_count,
)

SIS_ASSET_NAME = "sis_oneroster_csv"
SIS_SQL_ASSET_NAME = "sis_sql"
FILE_CHECK = "export_file_loaded_cleanly"


# Who approved a held batch, as the CLI tags the run; the Dagster UI run is named by its id.
APPROVED_BY_TAG = "pathways/approved_by"


class SisExportConfig(dg.Config):
    """Run-time choice of export; the drop sensor sets it to the file that just landed.

    `approve_deletions_for_batch`: the batch id of an export held for a deletion spike, whose
    deletions a person approves for this run (any other batch id changes nothing)."""

    path: str | None = None
    approve_deletions_for_batch: str | None = None


class SisSqlConfig(dg.Config):
    """Run-time approval of a SIS database pull held for a deletion spike (its batch id)."""

    approve_deletions_for_batch: str | None = None


def _approval(context: dg.AssetExecutionContext, batch: str | None) -> dict[str, str | None]:
    """The approval settings of this run: the batch and who approved it, for the audit."""
    if not batch:
        return {}
    who = context.run.tags.get(APPROVED_BY_TAG, "the Dagster UI")
    return {
        "approve_deletions_for_batch": batch,
        "approved_by": f"{who} (run {context.run.run_id})",
    }


def raw_oneroster_key(file: str) -> dg.AssetKey:
    """`users.csv` → `raw/oneroster_users`: the asset key mirrors the connector's table."""
    return dg.AssetKey(raw_table(file).split("."))


def build_sis_assets(
    source: SisSource, district: PathwaysConfig | None = None
) -> dg.AssetsDefinition:
    """The SIS asset for the district's kind of SIS source: a OneRoster export or a database.
    Given the `district`'s config, a held load writes the night's sync report before failing."""
    if isinstance(source, SqlSource):
        return build_sql_sis_assets(source, district)
    return build_oneroster_csv_assets(source, district)


def _raw_specs(kind: str) -> tuple[list[dg.AssetSpec], list[dg.AssetCheckSpec]]:
    """One raw table per OneRoster file and its load check, whatever the source."""
    specs = [
        dg.AssetSpec(
            raw_oneroster_key(file),
            description=f"The district's OneRoster {file} as received, one row per sourcedId, "
            "validated; rows that failed are in audit.rejected_rows.",
            group_name="raw",
            kinds={"duckdb", kind},
        )
        for file in known_files()
    ]
    checks = [
        dg.AssetCheckSpec(
            FILE_CHECK,
            asset=spec.key,
            description="Tonight's file loaded without a file-level failure or rejected rows.",
        )
        for spec in specs
    ]
    return specs, checks


def build_oneroster_csv_assets(
    source: OneRosterCsvSource, district: PathwaysConfig | None = None
) -> dg.AssetsDefinition:
    """One multi-asset that validates and loads a whole export: the manifest governs every file,
    references cross files, and a held export must change nothing, so it loads as one unit."""
    specs, checks = _raw_specs("csv")

    @dg.multi_asset(
        name=SIS_ASSET_NAME,
        specs=specs,
        check_specs=checks,
        pool=WAREHOUSE_POOL,
        can_subset=False,
    )
    def _load(
        context: dg.AssetExecutionContext, config: SisExportConfig, warehouse: WarehouseResource
    ):
        settings = OneRosterCsvSettings(
            path=Path(config.path) if config.path else source.path,
            source="sis",
            max_deletion_share=source.max_deletion_share,
            max_deletion_shares=dict(source.max_deletion_shares),
            **_approval(context, config.approve_deletions_for_batch),
        )
        with warehouse.get_connection() as con:
            ensure_oneroster_tables(con)
            try:
                load = load_oneroster_csv(con, settings, context.run.run_id, datetime.now(UTC))
            except OneRosterPackageError as exc:
                raise dg.Failure(description=f"The SIS export could not be read: {exc}") from exc
            snapshots = _snapshots(con)
            _held_night_report(context, con, load, district)
        yield from _report(context, load, snapshots, config.approve_deletions_for_batch)

    return _load


def build_sql_sis_assets(
    source: SqlSource, district: PathwaysConfig | None = None
) -> dg.AssetsDefinition:
    """The same raw tables and checks, pulled from the SIS's database through the column map;
    like an export, the whole pull is validated and applied (or held) as one unit."""
    specs, checks = _raw_specs("sql")

    @dg.multi_asset(
        name=SIS_SQL_ASSET_NAME,
        specs=specs,
        check_specs=checks,
        pool=WAREHOUSE_POOL,
        can_subset=False,
    )
    def _load(
        context: dg.AssetExecutionContext, config: SisSqlConfig, warehouse: WarehouseResource
    ):
        def progress(entity: str, batch_rows: int, rows_so_far: int) -> None:
            context.log.debug(f"{entity}: {rows_so_far:,} rows read")

        try:
            # Read at run time: the URL (and its password) lives only in the environment.
            settings = replace(
                SqlSisSettings.from_source(source),
                **_approval(context, config.approve_deletions_for_batch),
            )
            with warehouse.get_connection() as con:
                load = load_sql_sis(
                    con, settings, context.run.run_id, datetime.now(UTC), on_batch=progress
                )
                snapshots = _snapshots(con)
                _held_night_report(context, con, load, district)
        except SqlSourceError as exc:
            # Not chained: the message already says what to check, with the password masked.
            raise dg.Failure(description=f"The SIS database could not be read: {exc}") from None
        yield from _report(context, load, snapshots, config.approve_deletions_for_batch)

    return _load


def _snapshots(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, str]]:
    """Each raw table's rows and preview after the load."""
    return {
        file: (
            table_row_count(con, *raw_oneroster_key(file).path),
            preview_markdown(con, *raw_oneroster_key(file).path),
        )
        for file in known_files()
    }


def _held_night_report(
    context: dg.AssetExecutionContext,
    con: duckdb.DuckDBPyConnection,
    load: OneRosterLoad,
    district: PathwaysConfig | None,
) -> None:
    """A held load fails this step, so the sync report asset downstream never runs: the report
    of the night IT most need to read is written here instead (from the audit tables, small)."""
    if not load.held or district is None:
        return
    folder, _ = sync_report_folder(district, context.instance, context.run.run_id)
    try:
        write_sync_report(con, context.run.run_id, folder)
    except OSError as exc:
        # The hold must still be what fails the step, not the report of it.
        context.log.error(f"the sync report of the held night could not be written: {exc}")
        return
    context.log.info(f"sync report of the held night written to {folder / SYNC_REPORT_FOLDER}")


def _report(
    context: dg.AssetExecutionContext,
    load: OneRosterLoad,
    snapshots: dict[str, tuple[int, str]],
    approval: str | None = None,
):
    """One materialization and one check result per raw table; snapshots are (rows, preview)."""
    if approval and approval != load.batch_id:
        context.log.warning(
            f"approve_deletions_for_batch names batch {approval!r}, but tonight's batch is "
            f"{load.batch_id!r}: the approval does nothing (approve the batch a hold names)."
        )
    elif approval and not load.approved:
        context.log.info(f"batch {approval} removes no more than the limits; nothing to approve")
    if load.approved:
        context.log.warning(
            f"deletions above the limit approved for batch {load.batch_id} were applied: "
            + "; ".join(
                f"{c.entity} {c.share:.0%} ({c.removed:,} of {c.active_before:,})"
                for c in load.deletions
                if c.over
            )
        )
    removed = {c.entity: c.removed for c in load.deletions}
    if load.held:
        raise dg.Failure(
            description=f"The SIS export was held and nothing was applied: {load.message}",
            metadata={
                "batch_id": load.batch_id,
                "oneroster_version": load.version,
                "status": "held",
                "files": dg.MetadataValue.json(
                    {
                        f.file: {
                            "status": f.status,
                            "rows_read": f.rows_read,
                            "rows_rejected": f.rows_rejected,
                        }
                        for f in load.files
                    }
                ),
                "deletions": dg.MetadataValue.json(
                    [
                        {
                            "entity": c.entity,
                            "active_before": c.active_before,
                            "removed": c.removed,
                            "limit": c.limit,
                            "held": c.over,
                        }
                        for c in load.deletions
                    ]
                ),
            },
        )
    by_file = {f.file: f for f in load.files}
    for file in known_files():
        file_load = by_file.get(file)
        status = file_load.status if file_load else "absent"
        message = file_load.message if file_load else "not in this export; last snapshot kept"
        rejected = file_load.rows_rejected if file_load else 0
        if status == "failed":
            context.log.error(f"{file} was not loaded: {message}")
        elif rejected:
            context.log.warning(
                f"{file}: {rejected:,} row(s) rejected; "
                "see audit.rejected_rows for the line, column and reason"
            )
        # Every raw table is reported, loaded or not, so the models downstream always run on
        # the latest good snapshot; the check says whether tonight's file made it.
        yield dg.MaterializeResult(
            asset_key=raw_oneroster_key(file),
            metadata={
                "dagster/row_count": snapshots[file][0],
                "preview": dg.MetadataValue.md(snapshots[file][1]),
                "status": status,
                "mode": file_load.mode if file_load else "absent",
                "rows_read": file_load.rows_read if file_load else 0,
                "rows_loaded": file_load.rows_loaded if file_load else 0,
                "rows_rejected": rejected,
                "rows_deleted": removed.get(file.removesuffix(".csv"), 0),
                "oneroster_version": load.version,
                "batch_id": load.batch_id,
                "message": message,
            },
            check_results=[
                dg.AssetCheckResult(
                    asset_key=raw_oneroster_key(file),
                    check_name=FILE_CHECK,
                    passed=status != "failed" and rejected == 0,
                    severity=dg.AssetCheckSeverity.ERROR
                    if status == "failed"
                    else dg.AssetCheckSeverity.WARN,
                    metadata={"status": status, "rows_rejected": rejected, "message": message},
                )
            ],
        )
