"""Read-only warehouse sources (DESIGN §2): canonical tables mapped onto a warehouse's own tables.

The `[source]` section of `advocacy.toml` names the engine and renames physical tables and columns
to canonical ones; metrics then run on the warehouse through Ibis, never writing to it::

    config = load_source_config(Path("."))
    source = warehouse_source(config)
    query(source, settings, MetricRequest.create("nps", by="segment"))
"""

from __future__ import annotations

from advocacy.warehouse.config import (
    SourceBackend,
    SourceConfig,
    load_source_config,
    parse_source_config,
)
from advocacy.warehouse.source import (
    QualifiedTables,
    check_source,
    connect_backend,
    mapped_source,
    warehouse_source,
)
from advocacy.warehouse.spark import connect_spark

__all__ = [
    "QualifiedTables",
    "SourceBackend",
    "SourceConfig",
    "check_source",
    "connect_backend",
    "connect_spark",
    "load_source_config",
    "mapped_source",
    "parse_source_config",
    "warehouse_source",
]
