"""The canonical data model: tables, columns, keys and vocabularies (DESIGN §3)."""

from __future__ import annotations

from advocacy.schema.tables import TABLES, Column, Table, get_table
from advocacy.schema.vocab import ColType, TableKind

__all__ = ["TABLES", "ColType", "Column", "Table", "TableKind", "get_table"]
