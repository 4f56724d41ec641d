"""DDL rendered from the table specs, per dialect, so the schema is written down once."""

from __future__ import annotations

from advocacy.schema import TABLES, ColType, Table, TableKind
from advocacy.storage.store import Dialect

_TYPES: dict[Dialect, dict[ColType, str]] = {
    Dialect.DUCKDB: {
        ColType.STRING: "VARCHAR",
        ColType.TIMESTAMP: "TIMESTAMP",
        ColType.DATE: "DATE",
        ColType.FLOAT: "DOUBLE",
        ColType.INT: "BIGINT",
        ColType.BOOL: "BOOLEAN",
    },
    Dialect.POSTGRES: {
        ColType.STRING: "TEXT",
        ColType.TIMESTAMP: "TIMESTAMP",
        ColType.DATE: "DATE",
        ColType.FLOAT: "DOUBLE PRECISION",
        ColType.INT: "BIGINT",
        ColType.BOOL: "BOOLEAN",
    },
}


def sql_type(dialect: Dialect, col_type: ColType) -> str:
    return _TYPES[dialect][col_type]


def _keeps_primary_key(table: Table) -> bool:
    # Large fact tables carry no key index (it slows bulk loads); the staging anti-join
    # enforces their keys (DESIGN §2).
    return table.kind in (TableKind.ENTITY, TableKind.LEDGER)


def create_table(dialect: Dialect, table: Table) -> str:
    cols = []
    for c in table.columns:
        default = f" DEFAULT {c.default}" if c.default is not None else ""
        null = " NOT NULL" if c.required or c.default is not None else ""
        cols.append(f'"{c.name}" {sql_type(dialect, c.type)}{default}{null}')
    if _keeps_primary_key(table):
        cols.append("PRIMARY KEY (" + ", ".join(f'"{k}"' for k in table.key) + ")")
    return f'CREATE TABLE IF NOT EXISTS "{table.name}" (\n  ' + ",\n  ".join(cols) + "\n)"


def canonical_ddl(dialect: Dialect) -> list[str]:
    return [create_table(dialect, t) for t in TABLES.values()]


def internal_ddl(dialect: Dialect) -> list[str]:
    """Tables the system writes for itself: logs, quarantine, conflicts, history, audit."""
    text = _TYPES[dialect][ColType.STRING]
    big = "BIGINT"
    ts = "TIMESTAMP"
    counts = ", ".join(
        f"\"{c}\" {big} NOT NULL DEFAULT 0"
        for c in (
            "read", "inserted", "updated", "unchanged", "duplicate", "conflicting", "rejected",
            "orphan",
        )
    )  # fmt: skip
    return [
        f"""CREATE TABLE IF NOT EXISTS _imports (
  import_id {text} PRIMARY KEY, table_name {text} NOT NULL, source_file {text},
  file_sha256 {text}, mapping {text}, on_conflict {text}, started_at {ts} NOT NULL,
  finished_at {ts}, status {text} NOT NULL, {counts}, warnings {text})""",
        f"""CREATE TABLE IF NOT EXISTS _quarantine (
  import_id {text} NOT NULL, table_name {text} NOT NULL, source_file {text},
  row_number {big}, column_name {text}, reason {text} NOT NULL, raw {text})""",
        f"""CREATE TABLE IF NOT EXISTS _conflicts (
  import_id {text} NOT NULL, table_name {text} NOT NULL, row_key {text} NOT NULL,
  diff {text}, incoming {text}, status {text} NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS _revisions (
  import_id {text} NOT NULL, table_name {text} NOT NULL, row_key {text} NOT NULL,
  previous {text})""",
        f"""CREATE TABLE IF NOT EXISTS _account_history (
  account_id {text} NOT NULL, column_name {text} NOT NULL, value {text},
  valid_from {ts} NOT NULL, valid_to {ts} NOT NULL, import_id {text})""",
        f"""CREATE TABLE IF NOT EXISTS _suppressions (
  hash {text} PRIMARY KEY, kind {text} NOT NULL, added_at {ts} NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS _audit (
  happened_at {ts} NOT NULL, actor {text}, action {text} NOT NULL, target {text}, detail {text})""",
    ]
