"""A small driver for import tests: write a file, import it, read back what the store holds."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from advocacy.config import Settings
from advocacy.ingest import ImportOptions, ImportReport, import_file
from advocacy.ingest.mapping import Mapping
from advocacy.schema import TABLES
from advocacy.storage import Store

Content = str | bytes | list[str] | Path
Row = dict[str, Any]

#: Tables an import may write besides its target.
INTERNAL_TABLES = ("_quarantine", "_conflicts", "_revisions", "_account_history")


@dataclass(frozen=True)
class Rejected:
    """One `_quarantine` row, with `raw` parsed from its JSON."""

    import_id: str
    table_name: str
    source_file: str
    row_number: int
    column_name: str
    reason: str
    raw: Row


@dataclass
class Harness:
    store: Store
    settings: Settings
    write_file: Callable[..., Path]

    # -- importing --------------------------------------------------------------------------
    def file(self, content: Content, name: str = "data.csv", encoding: str = "utf-8") -> Path:
        if isinstance(content, Path):
            return content
        return self.write_file(content, name=name, encoding=encoding)

    def load(self, table: str | None, content: Content, *, name: str = "data.csv",
             encoding: str = "utf-8", mapping: Mapping | None = None,
             file_format: str | None = None, update_conflicts: bool = False) -> ImportReport:  # fmt: skip
        """Import one file into one table and return its report."""
        reports = self.load_all(
            table, content, name=name, encoding=encoding, mapping=mapping,
            file_format=file_format, update_conflicts=update_conflicts,
        )  # fmt: skip
        assert len(reports) == 1, reports
        return reports[0]

    def load_all(self, table: str | None, content: Content, *, name: str = "data.csv",
                 encoding: str = "utf-8", mapping: Mapping | None = None,
                 file_format: str | None = None,
                 update_conflicts: bool = False) -> list[ImportReport]:  # fmt: skip
        path = self.file(content, name=name, encoding=encoding)
        opts = ImportOptions(table=table, mapping=mapping, file_format=file_format,
                             update_conflicts=update_conflicts)  # fmt: skip
        return import_file(self.store, self.settings, path, opts)

    # -- reading ----------------------------------------------------------------------------
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.store.transaction() as tx:
            return tx.fetchall(sql, params)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self.store.transaction() as tx:
            tx.execute(sql, params)

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.store.transaction() as tx:
            return tx.scalar(sql, params)

    def count(self, table: str) -> int:
        return int(self.scalar(f'SELECT count(*) FROM "{table}"'))

    def table(self, name: str) -> list[Row]:
        """Every row of a table as dicts, in a total order (by every column)."""
        with self.store.transaction() as tx:
            tx.execute(f'SELECT * FROM "{name}"')
            columns = [d[0] for d in tx.cursor.description]
            data = list(tx.cursor.fetchall())
        rows = [dict(zip(columns, r, strict=True)) for r in data]
        return sorted(rows, key=lambda r: [(v is None, str(v)) for v in r.values()])

    def by_key(self, name: str) -> dict[Any, Row]:
        """A canonical table's rows by key (a tuple for compound keys)."""
        key = TABLES[name].key
        out: dict[Any, Row] = {}
        for row in self.table(name):
            out[row[key[0]] if len(key) == 1 else tuple(row[k] for k in key)] = row
        return out

    def columns(self, name: str) -> list[str]:
        with self.store.transaction() as tx:
            tx.execute(f'SELECT * FROM "{name}" WHERE 1 = 0')
            return [d[0] for d in tx.cursor.description]

    def quarantine(self) -> list[Rejected]:
        rows = self.rows(
            "SELECT import_id, table_name, source_file, row_number, column_name, reason, raw "
            "FROM _quarantine ORDER BY row_number, reason"
        )
        return [
            Rejected(import_id=r[0], table_name=r[1], source_file=r[2], row_number=r[3],
                     column_name=r[4], reason=r[5], raw=json.loads(r[6]) if r[6] else {})
            for r in rows
        ]  # fmt: skip

    def snapshot(self, *tables: str) -> dict[str, list[Row]]:
        """Full contents of `tables` (default: every canonical and internal table but logs)."""
        names = tables or (*TABLES, *INTERNAL_TABLES)
        return {name: self.table(name) for name in names}


def csv(*lines: str) -> str:
    """CSV text from lines, "\\n"-terminated."""
    return "\n".join(lines) + "\n"


def parse_json_ts(value: str) -> datetime:
    """A timestamp rendered in a JSON column (either "YYYY-MM-DD HH:MM:SS" or ISO "T")."""
    return datetime.fromisoformat(value)
