"""The last step of the night: a consistent, read-only copy of the warehouse for dashboards."""

import dagster as dg

from models.config import WarehouseSettings
from pipelines.warehouse import PUBLISHED_SCHEMAS, WAREHOUSE_POOL, WarehouseResource, publish_copy

PUBLISHED_KEY = dg.AssetKey(["published", "warehouse"])


def build_publish_asset(
    warehouse_settings: WarehouseSettings, upstream: list[dg.AssetKey]
) -> dg.AssetsDefinition:
    """The published warehouse file, rebuilt after every model it copies."""

    @dg.asset(
        key=PUBLISHED_KEY,
        deps=upstream,
        group_name="published",
        kinds={"duckdb"},
        pool=WAREHOUSE_POOL,
        description=(
            "The read-only copy of the core, marts and audit tables that dashboards (Metabase, "
            "Superset, Evidence, Power BI) open. Swapped in atomically at the end of the night, "
            "in a storage format DuckDB 1.x readers can open; it holds no names or emails."
        ),
    )
    def published_warehouse(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.get_connection() as con:
            counts = publish_copy(
                con,
                warehouse_settings.published_path,
                warehouse_settings.published_storage_version,
            )
        context.log.info(
            f"published {len(counts)} tables to {warehouse_settings.published_path.name}"
        )
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(warehouse_settings.published_path)),
                "schemas": ", ".join(PUBLISHED_SCHEMAS),
                "storage_version": warehouse_settings.published_storage_version,
                "tables": dg.MetadataValue.json(counts),
            }
        )

    return published_warehouse
