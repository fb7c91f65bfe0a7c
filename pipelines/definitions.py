"""The one Dagster code location of Pathways (`dagster dev -w workspace.yaml`), for the
district named in `$PATHWAYS_CONFIG` (default: `pathways.yaml` in the working directory)."""

import os

from models.config import load_config
from pipelines.nightly import build_definitions

defs = build_definitions(load_config(os.environ.get("PATHWAYS_CONFIG", "pathways.yaml")))
