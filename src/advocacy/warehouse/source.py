"""A `Source` over a read-only warehouse: connect as configured, resolve qualified table names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

from advocacy.errors import UserError
from advocacy.metrics.source import Source
from advocacy.schema import TABLES
from advocacy.warehouse.config import SourceBackend, SourceConfig
from advocacy.warehouse.spark import connect_spark


@dataclass(frozen=True)
class QualifiedTables:
    """An Ibis backend whose `table()` also takes `database.table` (and `catalog.db.table`).

    `Source` asks its connection for `table(name)` and `list_tables()` only; everything else is
    passed through to the wrapped backend.
    """

    backend: Any
    databases: tuple[str, ...] = ()

    def table(self, name: str) -> Any:
        database, _, table = name.rpartition(".")
        if not database:
            return self.backend.table(table)
        return self.backend.table(table, database=database)

    def list_tables(self) -> list[str]:
        names: list[str] = list(self.backend.list_tables())
        for database in self.databases:
            names += [f"{database}.{t}" for t in self.backend.list_tables(database=database)]
        return names

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)


def warehouse_source(config: SourceConfig, *, workspace: Path | None = None) -> Source:
    """Connect to the configured warehouse and return a `Source` reading its mapped tables."""
    return mapped_source(connect_backend(config, workspace=workspace), config)


def mapped_source(backend: Any, config: SourceConfig) -> Source:
    """A `Source` over an already connected Ibis backend, renamed by the config's mapping."""
    databases = {m.table.rpartition(".")[0] for m in config.tables.values()} - {""}
    return Source(QualifiedTables(backend, tuple(sorted(databases))), dict(config.tables))


def connect_backend(config: SourceConfig, *, workspace: Path | None = None) -> Any:
    """An Ibis backend for the configured engine, in UTC (a DuckDB file is opened read-only)."""
    import ibis

    options = config.options
    match config.backend:
        case SourceBackend.SPARK:
            return connect_spark(
                master=str(options.get("master", "local[2]")),
                app_name=str(options.get("app_name", "advocacy")),
                conf=options.get("conf"),
            )
        case SourceBackend.POSTGRES:
            return ibis.connect(_utc_postgres_url(_required(options, "url")))
        case SourceBackend.DUCKDB:
            path = Path(_required(options, "path"))
            path = path if path.is_absolute() or workspace is None else workspace / path
            if not path.exists():
                raise UserError(f"[source] path {path} does not exist")
            con = ibis.duckdb.connect(str(path), read_only=True)
            con.raw_sql("SET TimeZone = 'UTC'")
            return con


def _required(options: dict[str, Any], key: str) -> str:
    value = options.get(key)
    if not isinstance(value, str) or not value.strip():
        raise UserError(f'[source] needs {key} = "…" for this backend')
    return value.strip()


def _utc_postgres_url(url: str) -> str:
    """The URL with every session in UTC (DESIGN §11).

    The session is not made read-only: Ibis keeps the engine's small in-memory tables (the
    calendar) and cached intermediates in session-temporary tables, which PostgreSQL refuses in a
    read-only transaction. Grant the role SELECT on the mapped tables and TEMP on the database.
    """
    parts = urlparse(url)
    pairs = parse_qsl(parts.query)
    given = " ".join(v for k, v in pairs if k == "options")
    query = [(k, v) for k, v in pairs if k != "options"]
    query.append(("options", f"{given} -c TimeZone=UTC".strip()))
    return urlunparse(parts._replace(query=urlencode(query)))


def check_source(source: Source) -> None:
    """Check that every mapped table and physical column exists, before any metric runs.

    Raises `UserError` listing every missing table or column, and any unmapped physical column
    whose name a rename would duplicate (rename `x` to `account_id` where `account_id` exists).
    """
    problems: list[str] = []
    for name, mapped in sorted(source.tables.items()):
        try:
            physical = source.con.table(mapped.table)
        except Exception as exc:
            problems.append(f"{name}: table '{mapped.table}' not found ({exc})")
            continue
        columns = set(physical.columns)
        missing = [p for p in mapped.columns.values() if p not in columns]
        problems += [f"{name}: column '{p}' not found in '{mapped.table}'" for p in missing]
        renamed = set(mapped.columns.values())
        problems += [
            f"{name}: '{mapped.table}' already has a column '{c}'; map it too or rename it"
            for c in sorted(set(mapped.columns) & (columns - renamed))
        ]
        problems += _missing_required(name, columns, mapped.columns)
    if problems:
        raise UserError(
            "the warehouse mapping does not match the tables:\n  " + "\n  ".join(problems)
        )


def _missing_required(name: str, columns: set[str], renames: dict[str, str]) -> list[str]:
    if name not in TABLES:
        return []
    present = (columns - set(renames.values())) | set(renames)
    return [
        f"{name}: required column '{c}' is neither mapped nor present"
        for c in TABLES[name].required
        if c not in present
    ]
