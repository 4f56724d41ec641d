"""The `[source]` section of `advocacy.toml`: where a read-only warehouse keeps the canonical tables.

Example::

    [source]
    backend = "spark"                 # or "postgres", "duckdb"
    [source.tables.survey_responses]
    table = "crm.nps_answers"         # the physical name, optionally database-qualified
    columns = { response_id = "answer_id", account_id = "acct", score = "nps_score" }

A canonical table not listed is read under its canonical name; a column not renamed is read under
its canonical name. Names are checked here, against the canonical model (DESIGN §3), so a typo is a
clear error before any query runs.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from advocacy.config import CONFIG_NAME
from advocacy.errors import UserError
from advocacy.metrics.source import TableMap
from advocacy.schema import TABLES
from advocacy.schema.tables import RESERVED_RESULT_FIELDS

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_PHYSICAL = re.compile(r"^[^.\s]+(\.[^.\s]+){0,2}$")


class SourceBackend(StrEnum):
    """Engines a warehouse source can be read from (never written to)."""

    SPARK = "spark"
    POSTGRES = "postgres"
    DUCKDB = "duckdb"


#: Connection keys each backend accepts in `[source]`, besides `backend` and `tables`.
OPTIONS: dict[SourceBackend, frozenset[str]] = {
    SourceBackend.SPARK: frozenset({"master", "app_name", "conf"}),
    SourceBackend.POSTGRES: frozenset({"url"}),
    SourceBackend.DUCKDB: frozenset({"path"}),
}


@dataclass(frozen=True)
class SourceConfig:
    """A parsed `[source]` section: the engine, its connection options and the table mapping."""

    backend: SourceBackend
    options: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, TableMap] = field(default_factory=dict)


def parse_source_config(raw: dict[str, Any]) -> SourceConfig:
    """Validate a `[source]` section (as parsed from TOML) into a `SourceConfig`.

    Raises `UserError` naming the offending key for an unknown backend, option, canonical table or
    canonical column, or a physical name that is not a plain (optionally qualified) identifier.
    """
    section = dict(raw)
    backend = _backend(section.pop("backend", None))
    tables = section.pop("tables", {})
    unknown = set(section) - OPTIONS[backend]
    if unknown:
        allowed = ", ".join(sorted(OPTIONS[backend] | {"backend", "tables"}))
        raise UserError(
            f"unknown key(s) in [source] for backend {backend.value}: "
            f"{', '.join(sorted(unknown))}; allowed: {allowed}"
        )
    if not isinstance(tables, dict):
        raise UserError("[source.tables] must be a table of canonical table names")
    if not isinstance(section.get("conf", {}), dict):
        raise UserError(
            '[source] conf must be a table, e.g. conf = { "spark.executor.memory" = "4g" }'
        )
    mapped = {name: _table_map(name, spec) for name, spec in tables.items()}
    return SourceConfig(backend, section, mapped)


def load_source_config(workspace: Path) -> SourceConfig | None:
    """The workspace's `[source]` section, or None when it reads from its own store."""
    path = workspace / CONFIG_NAME
    if not path.exists():
        return None
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path} is not valid TOML: {exc}") from None
    section = raw.get("source")
    return None if section is None else parse_source_config(section)


def _backend(value: Any) -> SourceBackend:
    allowed = ", ".join(b.value for b in SourceBackend)
    if value is None:
        raise UserError(f"[source] needs a backend: one of {allowed}")
    try:
        return SourceBackend(str(value).strip().lower())
    except ValueError:
        raise UserError(f"[source] backend must be one of {allowed}, not '{value}'") from None


def _table_map(name: str, spec: Any) -> TableMap:
    where = f"[source.tables.{name}]"
    if name not in TABLES:
        raise UserError(
            f"{where}: '{name}' is not a canonical table; they are: {', '.join(TABLES)}"
        )
    if not isinstance(spec, dict):
        raise UserError(f"{where} must be a table with `table` and optional `columns`")
    unknown = set(spec) - {"table", "columns"}
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; use table, columns")
    physical = str(spec.get("table", name)).strip()
    if not _PHYSICAL.match(physical):
        raise UserError(f"{where}: table = '{physical}' is not a table name like db.table")
    columns = spec.get("columns", {})
    if not isinstance(columns, dict):
        raise UserError(f"{where}: columns must map canonical names to physical ones")
    return TableMap(physical, _columns(name, where, columns))


def _columns(table: str, where: str, columns: dict[str, Any]) -> dict[str, str]:
    spec = TABLES[table]
    out: dict[str, str] = {}
    for canonical, physical in columns.items():
        if canonical not in spec.names and not _extra_column(table, canonical):
            raise UserError(
                f"{where}: '{canonical}' is not a column of {table}; "
                f"its columns are: {', '.join(spec.names)}"
            )
        if not isinstance(physical, str) or not physical.strip():
            raise UserError(f"{where}: column {canonical} must name a physical column")
        out[canonical] = physical.strip()
    _no_duplicates(where, out)
    return out


def _extra_column(table: str, name: str) -> bool:
    """Accounts are extensible: any snake_case name that is not a result field is a dimension."""
    spec = TABLES[table]
    return spec.extensible and bool(_IDENTIFIER.match(name)) and name not in RESERVED_RESULT_FIELDS


def _no_duplicates(where: str, columns: dict[str, str]) -> None:
    seen: dict[str, str] = {}
    for canonical, physical in columns.items():
        if physical in seen:
            raise UserError(
                f"{where}: {seen[physical]} and {canonical} both map to the column '{physical}'"
            )
        seen[physical] = canonical
