"""Running an Ibis expression inside an open write transaction.

The policy must read the ledger inside the transaction that holds the guard rows, so the very
expression candidates use is compiled to the store's SQL over unbound canonical tables and run
on the transaction's cursor. Small inputs (the request being decided) become literal CTEs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import ibis

from advocacy.metrics.source import Source
from advocacy.schema import TABLES, ColType
from advocacy.storage.store import Dialect, Tx

_IBIS_TYPES = {
    ColType.STRING: "string",
    ColType.TIMESTAMP: "timestamp",
    ColType.DATE: "date",
    ColType.FLOAT: "float64",
    ColType.INT: "int64",
    ColType.BOOL: "boolean",
}
_SQL_TYPES = {"string": "VARCHAR", "timestamp": "TIMESTAMP", "date": "DATE", "int64": "BIGINT"}


class _Unbound:
    """An Ibis "connection" whose tables are the canonical tables, unbound (for compiling)."""

    def __init__(self, backend: str) -> None:
        self.name = backend

    def table(self, name: str) -> Any:
        spec = TABLES[name]
        return ibis.table({c.name: _IBIS_TYPES[c.type] for c in spec.columns}, name=name)

    def list_tables(self) -> list[str]:
        return list(TABLES)


def tx_source(dialect: Dialect) -> Source:
    """A Source over the store's own tables, for expressions compiled into a transaction."""
    return Source(_Unbound("postgres" if dialect is Dialect.POSTGRES else "duckdb"))


def literal_table(name: str, schema: Mapping[str, str]) -> Any:
    """An unbound table standing for rows given to `fetch` as a CTE of the same name."""
    return ibis.table(dict(schema), name=name)


def compile_sql(expr: Any, dialect: Dialect) -> str:
    """The SQL of `expr` for the store's dialect (compile before a transaction: it is slow)."""
    return str(ibis.to_sql(expr, dialect="postgres" if dialect is Dialect.POSTGRES else "duckdb"))


def fetch(
    tx: Tx,
    sql: str,
    inputs: Mapping[str, tuple[Mapping[str, str], Sequence[Sequence[Any]]]] | None = None,
) -> list[dict[str, Any]]:
    """Rows of compiled SQL, run on the transaction's cursor; `inputs` are literal tables."""
    if inputs:
        ctes = ", ".join(
            f'"{name}" AS ({_rows_sql(schema, rows)})' for name, (schema, rows) in inputs.items()
        )
        sql = f"WITH {ctes} SELECT * FROM ({sql}) AS _q"
    tx.execute(sql)
    names = [d[0] for d in tx.cursor.description]
    return [dict(zip(names, row, strict=True)) for row in tx.cursor.fetchall()]


def _rows_sql(schema: Mapping[str, str], rows: Sequence[Sequence[Any]]) -> str:
    selects = []
    for row in rows or [[None] * len(schema)]:
        cols = [
            f'CAST({_literal(v)} AS {_SQL_TYPES[t]}) AS "{c}"'
            for (c, t), v in zip(schema.items(), row, strict=True)
        ]
        selects.append("SELECT " + ", ".join(cols) + ("" if rows else " WHERE 1 = 0"))
    return " UNION ALL ".join(selects)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, datetime):
        return "'" + value.isoformat(sep=" ") + "'"
    if isinstance(value, date):
        return "'" + value.isoformat() + "'"
    return "'" + str(value).replace("'", "''") + "'"
