"""Canonical tables as Ibis expressions, from the store or a mapped read-only warehouse source."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from advocacy.errors import UserError
from advocacy.schema import TABLES


@dataclass(frozen=True)
class TableMap:
    """Where a canonical table lives in a warehouse: its name there and column renames."""

    table: str
    columns: dict[str, str] = field(default_factory=dict)  # canonical -> physical


@dataclass(frozen=True)
class Source:
    """Reads canonical tables; a warehouse source renames physical tables and columns."""

    con: Any
    tables: dict[str, TableMap] = field(default_factory=dict)
    #: Table expressions already looked up (each lookup asks the backend for the schema);
    #: only on the copy one request uses (`for_request`), so a long-lived source sees new
    #: columns after an import.
    seen: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def for_request(self) -> Source:
        return Source(self.con, self.tables, {})

    def table(self, name: str) -> Any:
        if self.seen is None:
            return self._lookup(name)
        if name not in self.seen:
            self.seen[name] = self._lookup(name)
        return self.seen[name]

    def _lookup(self, name: str) -> Any:
        mapped = self.tables.get(name)
        physical = mapped.table if mapped else name
        try:
            expr = self.con.table(physical)
        except Exception as exc:
            raise UserError(f"the source has no table '{physical}' for {name}: {exc}") from None
        if mapped and mapped.columns:
            expr = expr.rename(dict(mapped.columns))
        wanted = [c for c in TABLES[name].names if c in expr.columns] if name in TABLES else []
        expr = expr if name == "accounts" or not wanted else expr.select(*wanted)
        if self.tables and name == "revenue":
            # A warehouse table may hold several rows per account and month (one per
            # subscription line); the store's import keeps that key unique. Metrics read the
            # month's MRR as their sum.
            expr = expr.group_by(["account_id", "month"]).agg(mrr=expr.mrr.sum())
        return expr

    def has(self, name: str) -> bool:
        mapped = self.tables.get(name)
        try:
            return (mapped.table if mapped else name) in self.con.list_tables()
        except Exception:
            return False
