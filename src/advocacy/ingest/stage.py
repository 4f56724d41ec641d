"""Phase A of an import: raw file → typed, validated, de-duplicated rows, all in DuckDB."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from advocacy.errors import UserError
from advocacy.ingest.columns import extra_account_columns, quote_ident, resolve_sources
from advocacy.ingest.mapping import Mapping, OutputSpec
from advocacy.ingest.readers import RawFile, short_error, sql_str
from advocacy.ingest.validate import Context, build_select, provided_order
from advocacy.schema import Table


@dataclass(frozen=True)
class Staged:
    """The DuckDB temp tables of one output: `_typed` (all rows) split into valid and rejects."""

    table: Table
    columns: tuple[str, ...]
    extras: tuple[str, ...]
    read: int
    duplicates: int
    ignored: tuple[str, ...]
    rejected: int


def _source_view(
    con: duckdb.DuckDBPyConnection, raw: RawFile, out: OutputSpec
) -> tuple[str, dict[str, str]]:
    if out.sql is None:
        return raw.view, raw.columns
    view = f"_src_{out.table}"
    try:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {out.sql}")
        described = con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()
    except duckdb.Error as exc:
        raise UserError(f"the mapping's SQL for {out.table} failed: {short_error(exc)}") from None
    names = {str(r[0]) for r in described}
    # Without the file's row numbers, rejects are numbered by the mapping's output rows.
    row = "_row" if "_row" in names else "CAST(row_number() OVER () AS BIGINT)"
    line = "_line" if "_line" in names else "CAST(NULL AS BIGINT)"
    file = "_file" if "_file" in names else "CAST(NULL AS VARCHAR)"
    own = [n for n in ("_row", "_line", "_file") if n in names]
    exclude = f" EXCLUDE ({', '.join(own)})" if own else ""
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT _r AS _row, COALESCE(_l, _r) AS _line, "
        f"_f AS _file, * EXCLUDE (_r, _l, _f) FROM (SELECT {row} AS _r, {line} AS _l, {file} AS _f, "
        f"*{exclude} FROM ({out.sql}))"
    )
    return view, {str(r[0]): str(r[1]) for r in described if r[0] not in ("_row", "_line", "_file")}


def _resolve_aliases(
    con: duckdb.DuckDBPyConnection, table: Table, columns: tuple[str, ...]
) -> None:
    for col in table.columns:
        if col.account_ref and col.name in columns:
            c = quote_ident(col.name)
            con.execute(
                f"UPDATE _typed SET {c} = a.account_id FROM _aliases a "
                f"WHERE a.external_id = _typed.{c} AND _typed._err IS NULL"
            )


def _split_duplicates(
    con: duckdb.DuckDBPyConnection, table: Table, columns: tuple[str, ...], *, view: str,
    raw_columns: list[str],
) -> int:  # fmt: skip
    """Mark conflicting copies of a key as errors; drop extra identical copies. Returns dropped.

    A cheap GROUP BY finds repeated keys first; only those are examined further.
    """
    keys = ", ".join(quote_ident(k) for k in table.key)
    # Group on one 64-bit hash of the key first (cheap); only colliding hashes are checked by key.
    key_hash = f"hash({keys})"
    repeated = con.execute(
        f"SELECT count(*) - count(DISTINCT {key_hash}) FROM _typed WHERE _err IS NULL"
    ).fetchone()
    if not repeated or not repeated[0]:
        return 0  # distinct hashes: no key repeats (the usual case, one pass)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _dupkeys AS SELECT {keys} FROM _typed "
        f"WHERE _err IS NULL AND {key_hash} IN (SELECT {key_hash} FROM _typed WHERE _err IS NULL "
        f"GROUP BY ALL HAVING count(*) > 1) GROUP BY {keys} HAVING count(*) > 1"
    )
    count = con.execute("SELECT count(*) FROM _dupkeys").fetchone()
    if not count or not count[0]:
        return 0

    def match(left: str) -> str:
        return " AND ".join(f"d.{quote_ident(k)} = {left}.{quote_ident(k)}" for k in table.key)

    row_hash = "hash(" + ", ".join(f"t.{quote_ident(c)}" for c in columns) + ")"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _dupkeys AS SELECT {', '.join(f'd.{quote_ident(k)}' for k in table.key)}, "
        f"count(DISTINCT {row_hash}) AS variants, min(t._row) AS first_row, "
        f"string_agg(CAST(t._row AS VARCHAR), ', ' ORDER BY t._row) AS rows "
        f"FROM _dupkeys d JOIN _typed t ON {match('t')} WHERE t._err IS NULL GROUP BY ALL"
    )
    con.execute(
        f"UPDATE _typed SET _err = 'conflicting copies of this key in the file (rows ' || d.rows || ')', "
        f"_err_col = {sql_str(table.key[0])} "
        f"FROM _dupkeys d WHERE {match('_typed')} AND d.variants > 1 AND _typed._err IS NULL"
    )
    # Quarantine keeps the file's own strings: fetch them back for these rows only.
    fields = ", ".join(f"{quote_ident(c)} := v.{quote_ident(c)}" for c in raw_columns)
    con.execute(
        f"UPDATE _typed SET _raw = to_json(struct_pack({fields})) FROM {view} v "
        "WHERE v._row = _typed._row AND _typed._raw IS NULL AND _typed._err IS NOT NULL"
    )
    extra_copy = "d.variants = 1 AND _typed._row <> d.first_row AND _typed._err IS NULL"
    dropped = con.execute(
        f"SELECT count(*) FROM _typed JOIN _dupkeys d ON {match('_typed')} WHERE {extra_copy}"
    ).fetchone()
    con.execute(
        f"DELETE FROM _typed WHERE EXISTS (SELECT 1 FROM _dupkeys d WHERE {match('_typed')} AND {extra_copy})"
    )
    return int(dropped[0]) if dropped else 0


def stage_output(
    con: duckdb.DuckDBPyConnection, *, raw: RawFile, mapping: Mapping, out: OutputSpec,
    table: Table, ctx: Context, identity: bool,
) -> Staged:  # fmt: skip
    """Build `_typed` for one output of the file; the caller moves it into the store."""
    view, columns = _source_view(con, raw, out)
    where = f"WHERE {out.where}" if out.where else ""
    sources = resolve_sources(
        con, view=view, columns=columns, output=out, table=table, where=where,
        file_name=raw.path.name,
    )  # fmt: skip
    used = {s.rule.column for s in sources.values() if s.rule.column}
    used_raw = {
        c for c in columns if c in used or quote_ident(c) in {s.sql for s in sources.values()}
    }
    extras: dict[str, str] = {}
    if table.extensible:
        extras = extra_account_columns(
            columns=columns, output=out, used=used_raw | {"currency"}, identity=identity,
            file_name=raw.path.name,
        )  # fmt: skip
    ignored = (
        tuple(c for c in columns if c not in used_raw and c not in extras.values())
        if identity
        else ()
    )
    sql = build_select(
        table=table, sources=sources, extras=extras, view=view, where=where, ctx=ctx,
        raw_columns=list(columns), overflow=list(raw.overflow) if view == raw.view else [],
    )  # fmt: skip
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _typed AS {sql}")
    except duckdb.Error as exc:
        raise UserError(f"{raw.path.name}: cannot read the file: {short_error(exc)}") from None
    provided = set(sources) | (
        {"scale_min", "scale_max"} if table.name == "survey_responses" else set()
    )
    cols = tuple(provided_order(table, provided))
    _resolve_aliases(con, table, cols)
    read_row = con.execute("SELECT count(*) FROM _typed").fetchone()
    dropped = _split_duplicates(con, table, (*cols, *extras), view=view, raw_columns=list(columns))
    rejected = con.execute("SELECT count(*) FROM _typed WHERE _err IS NOT NULL").fetchone()
    return Staged(
        table, cols, tuple(extras), int(read_row[0]) if read_row else 0, dropped, ignored,
        int(rejected[0]) if rejected else 0,
    )  # fmt: skip
