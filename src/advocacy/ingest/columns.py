"""Where each canonical column of an output comes from in the raw file."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

import duckdb

from advocacy.errors import UserError
from advocacy.ingest.mapping import ColumnRule, Mapping, OutputSpec, normalise_header
from advocacy.ingest.readers import sql_str
from advocacy.schema import TABLES, ColType, Table
from advocacy.schema.tables import RESERVED_RESULT_FIELDS


@dataclass(frozen=True)
class Source:
    """A canonical column's raw SQL expression, its DuckDB type, and how to read it."""

    sql: str
    duck_type: str
    rule: ColumnRule


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _find(columns: dict[str, str], wanted: str) -> str | None:
    if "*" in wanted:
        pattern = wanted.strip().lower()
        hits = [c for c in columns if fnmatch.fnmatch(c.strip().lower(), pattern)]
        return hits[0] if hits else None
    target = normalise_header(wanted)
    hits = [c for c in columns if normalise_header(c) == target]
    return hits[0] if hits else None


def _describe(con: duckdb.DuckDBPyConnection, view: str, expr: str, where: str) -> str:
    try:
        row = con.execute(f"DESCRIBE SELECT {expr} AS x FROM {view} {where}").fetchone()
    except duckdb.Error as exc:
        raise UserError(f"mapping expression {expr!r} is not valid SQL here: {exc}") from None
    assert row is not None
    return str(row[1])


def resolve_sources(
    con: duckdb.DuckDBPyConnection, *, view: str, columns: dict[str, str], output: OutputSpec,
    table: Table, where: str, file_name: str,
) -> dict[str, Source]:  # fmt: skip
    """The source of every canonical column the file provides; missing required ones fail."""
    sources: dict[str, Source] = {}
    for col in table.columns:
        rule = output.columns.get(col.name)
        if rule is None:
            raw = _find(columns, col.name)
            if raw is not None:
                sources[col.name] = Source(quote_ident(raw), columns[raw], ColumnRule(column=raw))
            continue
        if rule.column is not None:
            raw = _find(columns, rule.column)
            if raw is None:
                raise UserError(
                    f"{file_name}: the mapping reads column '{rule.column}' for {col.name}, but "
                    f"the file has no such column; it has: {', '.join(columns)}"
                )
            sources[col.name] = Source(quote_ident(raw), columns[raw], rule)
        elif rule.value is not None:
            sources[col.name] = Source(sql_str(rule.value), "VARCHAR", rule)
        else:
            assert rule.sql is not None
            expr = f"({rule.sql})"
            sources[col.name] = Source(expr, _describe(con, view, expr, where), rule)
    missing = [c for c in table.required if c not in sources]
    if missing:
        raise UserError(
            f"{file_name}: missing required column(s) for {table.name}: {', '.join(missing)}; "
            f"the file has: {', '.join(columns)}"
        )
    return sources


_PARSED_TYPES = {
    ColType.FLOAT: "DOUBLE", ColType.INT: "DOUBLE", ColType.BOOL: "BOOLEAN", ColType.DATE: "DATE",
}  # fmt: skip


def parsed_types(mapping: Mapping, header: list[str]) -> dict[str, str]:
    """Raw CSV columns the reader may type as it parses (much faster than casting text later).

    Only columns that feed a number, date or flag by plain rename, and nothing else as text:
    value maps, formats, defaults, SQL and extra account columns read the text itself. Times
    stay text: DuckDB's CSV reader turns a time it cannot parse into NULL instead of failing,
    and reads an offset without applying it. The caller falls back to text when a value does
    not parse, and when any row is rejected, so rejects keep the file's own strings.
    """
    columns = dict.fromkeys(header, "VARCHAR")
    wanted: dict[str, set[str]] = {}
    for out in mapping.outputs.values():
        if out.sql or out.where:
            return {}
        table = TABLES[out.table]
        used = set()
        for col in table.columns:
            rule = out.columns.get(col.name) or ColumnRule(column=col.name)
            if rule.sql is not None:
                return {}
            raw = _find(columns, rule.column) if rule.column is not None else None
            if raw is None:
                continue
            used.add(raw)
            kind = _PARSED_TYPES.get(col.type)
            if rule.values or rule.formats or rule.default is not None:
                kind = None
            wanted.setdefault(raw, set()).add(kind or "VARCHAR")
        if table.extensible:
            kept = [c for c in header if c not in used] if out.keep_extras else out.extras
            for name in kept:
                raw = _find(columns, name)
                if raw is not None:
                    wanted.setdefault(raw, set()).add("VARCHAR")
    return {
        raw: kinds.pop()
        for raw, kinds in wanted.items()
        if kinds != {"VARCHAR"} and len(kinds) == 1
    }


def snake_case(name: str) -> str:
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip())
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()


def extra_account_columns(
    *, columns: dict[str, str], output: OutputSpec, used: set[str], identity: bool,
    file_name: str,
) -> dict[str, str]:  # fmt: skip
    """Extra account attributes kept from the file: snake-case name -> raw column."""
    if identity or output.keep_extras:
        candidates = [c for c in columns if c not in used]
    else:
        candidates = []
        for wanted in output.extras:
            raw = _find(columns, wanted)
            if raw is None:
                raise UserError(f"{file_name}: extra column '{wanted}' is not in the file")
            candidates.append(raw)
    extras: dict[str, str] = {}
    for raw in candidates:
        name = snake_case(raw)
        if not name or not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise UserError(f"{file_name}: extra column '{raw}' has no usable name")
        if name in RESERVED_RESULT_FIELDS:
            raise UserError(
                f"{file_name}: extra account column '{raw}' would be named '{name}', which is "
                "reserved for result fields; rename it or map it in a mapping file"
            )
        extras[name] = raw
    return extras
