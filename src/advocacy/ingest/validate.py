"""Typed, validated projection of raw rows, written as one DuckDB SELECT.

Each canonical column yields a typed value and an error text; a row with any error is rejected
with the first failing column and every reason. All of it runs in SQL, vectorised.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from advocacy.ingest.columns import Source, quote_ident
from advocacy.ingest.readers import sql_str
from advocacy.schema import ColType, Column, Table
from advocacy.schema.tables import SCALE_DEFAULTS
from advocacy.schema.vocab import PRIORITY_SYNONYMS, STATUS_SYNONYMS

MAX_ID_CHARS = 512
MAX_TEXT_CHARS = 100_000
_BIGINT_LIMIT = 9.2e18  # just under 2^63
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_NUMBERS = (
    "DOUBLE", "FLOAT", "DECIMAL", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT",
    "UBIGINT", "UINTEGER", "USMALLINT", "UTINYINT",
)  # fmt: skip
#: Source types a canonical column's validation can test as they are, without text.
_NATIVE: dict[ColType, tuple[str, ...]] = {
    ColType.FLOAT: _NUMBERS,
    ColType.INT: _NUMBERS,
    ColType.BOOL: ("BOOLEAN",),
    ColType.DATE: ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE"),
    ColType.TIMESTAMP: ("TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "DATE"),
}


@dataclass(frozen=True)
class Context:
    """What validation needs besides the columns: the clock and the time zones."""

    now: datetime
    source_timezone: str | None
    business_timezone: str
    currency: str


def _preview(v: str) -> str:
    text = f"CAST({v} AS VARCHAR)"  # a no-op on text; native values are shown as DuckDB prints them
    return f"'\"' || left({text}, 40) || CASE WHEN length({text}) > 40 THEN '…' ELSE '' END || '\"'"


def _err(col: str, cond: str, message_sql: str) -> str:
    return f"CASE WHEN {cond} THEN {sql_str(col + ': ')} || {message_sql} END"


def _value_map(sql: str, src: Source) -> str:
    if not src.rule.values:
        return sql
    whens = " ".join(
        f"WHEN {sql_str(k)} THEN {'NULL' if v is None else sql_str(v)}" for k, v in src.rule.values
    )
    return f"CASE lower(trim({sql})) {whens} ELSE {sql} END"


def text_of(src: Source) -> str:
    """The trimmed text of a source, value-mapped, empty as NULL, defaulted."""
    raw = src.sql if src.duck_type == "VARCHAR" else f"CAST({src.sql} AS VARCHAR)"
    text = f"NULLIF(trim({_value_map(raw, src)}), '')"
    if src.rule.default is not None:
        text = f"COALESCE({text}, {sql_str(src.rule.default)})"
    return text


def is_native(col: Column, src: Source) -> bool:
    """Whether the source already holds the column's kind of value (a typed Parquet or CSV
    column) and nothing rewrites it as text: then it is validated as it is."""
    kind = src.duck_type.split("(")[0]
    return (
        kind in _NATIVE.get(col.type, ())
        and not src.rule.values
        and src.rule.default is None
        and not src.rule.formats
    )


def value_of(col: Column, src: Source) -> str:
    """What a column's checks test: the native value when there is one (no per-row text
    conversion), else the trimmed text."""
    return src.sql if is_native(col, src) else text_of(src)


def _synonyms(col: Column) -> dict[str, str]:
    return {"priority": PRIORITY_SYNONYMS, "status": STATUS_SYNONYMS}.get(col.name, {})


def _string(col: Column, v: str) -> tuple[str, str]:
    limit = MAX_ID_CHARS if col.name.endswith("_id") else MAX_TEXT_CHARS
    errors = [
        _err(col.name, f"length({v}) > {limit}",
             f"'value is ' || length({v}) || ' characters; the limit is {limit}'"),
    ]  # fmt: skip
    if not col.vocab and col.name != "platform":
        return v, errors[0]
    if col.multi:
        parts = f"list_distinct(list_transform(string_split(lower({v}), ','), x -> trim(x)))"
        typed = f"array_to_string(list_sort(list_filter({parts}, x -> x <> '')), ',')"
        allowed = ", ".join(sql_str(x) for x in col.vocab)
        bad = f"len(list_filter({parts}, x -> x <> '' AND x NOT IN ({allowed}))) > 0"
        errors.append(
            _err(col.name, bad, f"{_preview(v)} || ' is not a subset of: {', '.join(col.vocab)}'")
        )
        return typed, "coalesce(" + ", ".join(errors) + ")"
    lowered = f"lower({v})"
    syn = _synonyms(col)
    if syn:
        whens = " ".join(f"WHEN {sql_str(k)} THEN {sql_str(t)}" for k, t in syn.items())
        lowered = f"CASE lower({v}) {whens} ELSE lower({v}) END"
    if col.name == "platform":
        return lowered, errors[0]
    allowed = ", ".join(sql_str(x) for x in col.vocab)
    errors.append(
        _err(col.name, f"{v} IS NOT NULL AND {lowered} NOT IN ({allowed})",
             f"{_preview(v)} || ' is not one of: {', '.join(col.vocab)}'")
    )  # fmt: skip
    return lowered, "coalesce(" + ", ".join(errors) + ")"


def _number(col: Column, src: Source, v: str) -> tuple[str, str]:
    # From `v`, never the source's own name: the checks run where that name is the typed
    # (rounded) column, and a value map rewrites the text.
    num = f"CAST({v} AS DOUBLE)" if is_native(col, src) else f"TRY_CAST({v} AS DOUBLE)"
    bad = f"{v} IS NOT NULL AND ({num} IS NULL OR isnan({num}) OR isinf({num}))"
    errors = [_err(col.name, bad, f"{_preview(v)} || ' is not a number'")]
    if col.type is ColType.INT:
        errors.append(
            _err(col.name, f"{num} <> round({num})", f"{_preview(v)} || ' is not a whole number'")
        )
        too_large = f"abs({num}) >= {_BIGINT_LIMIT:.1e}"
        errors.append(_err(col.name, too_large, f"{_preview(v)} || ' is too large'"))
    if src.rule.scale is not None:
        lo, hi = src.rule.scale
        errors.append(
            _err(col.name, f"{num} < {lo} OR {num} > {hi}",
                 f"{_preview(v)} || ' is outside the source scale {lo:g}–{hi:g}'")
        )  # fmt: skip
        num = f"(1 + 4 * ({num} - {lo}) / ({hi - lo}))"
    if col.minimum is not None:
        errors.append(
            _err(
                col.name, f"{num} < {col.minimum}", f"{_preview(v)} || ' is below {col.minimum:g}'"
            )
        )
    if col.maximum is not None:
        errors.append(
            _err(
                col.name, f"{num} > {col.maximum}", f"{_preview(v)} || ' is above {col.maximum:g}'"
            )
        )
    typed = num
    if col.type is ColType.INT:  # out of BIGINT's range the cast would fail the whole file
        typed = f"CASE WHEN abs({num}) < {_BIGINT_LIMIT:.1e} THEN CAST({num} AS BIGINT) END"
    return f"CASE WHEN {bad} THEN NULL ELSE {typed} END", "coalesce(" + ", ".join(errors) + ")"


def _bool(col: Column, src: Source, v: str) -> tuple[str, str]:
    if src.duck_type == "BOOLEAN" and not src.rule.values:
        return src.sql, "NULL"
    t = ", ".join(sql_str(x) for x in _TRUE)
    f = ", ".join(sql_str(x) for x in _FALSE)
    typed = f"CASE WHEN lower({v}) IN ({t}) THEN true WHEN lower({v}) IN ({f}) THEN false END"
    bad = f"{v} IS NOT NULL AND {typed} IS NULL"
    return typed, _err(col.name, bad, f"{_preview(v)} || ' is not true/false (or yes/no, 1/0)'")


def _zone(expr: str, tz: str | None) -> str:
    """A naive local timestamp in zone `tz` as a naive UTC timestamp."""
    if tz is None or tz == "UTC":
        return expr
    return f"timezone('UTC', timezone({sql_str(tz)}, {expr}))"


def _parse_timestamp(src: Source, v: str, ctx: Context) -> str:
    formats = src.rule.formats
    kind = src.duck_type
    if kind.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"timezone('UTC', {src.sql})"
    if kind.startswith("TIMESTAMP") and not src.rule.values:
        return _zone(f"CAST({src.sql} AS TIMESTAMP)", ctx.source_timezone)
    if kind == "DATE":
        return _zone(f"CAST({src.sql} AS TIMESTAMP)", ctx.business_timezone)
    if formats in (("epoch",), ("epoch_ms",)):
        div = " / 1000.0" if "epoch_ms" in formats else ""
        return f"timezone('UTC', to_timestamp(TRY_CAST({v} AS DOUBLE){div}))"
    if formats:
        fmts = "[" + ", ".join(sql_str(f) for f in formats) + "]"
        parsed = f"try_strptime({v}, {fmts})"
        if any("%z" in f or "%Z" in f for f in formats):
            return f"timezone('UTC', {parsed})"
        return _zone(parsed, ctx.source_timezone)
    date_only = f"regexp_full_match({v}, '\\d{{4}}-\\d{{2}}-\\d{{2}}')"
    as_date = _zone(f"CAST(TRY_CAST({v} AS DATE) AS TIMESTAMP)", ctx.business_timezone)
    # A cast to TIMESTAMP ignores an offset, and the zoned cast is slow: use it only for
    # strings that carry one (cheap string tests, no regex).
    ends_in_letter = f"upper(right({v}, 1)) <> lower(right({v}, 1))"  # Z, UTC, GMT, a zone name
    offset = f"(strpos({v}, '+') > 0 OR {ends_in_letter} OR strpos(substr({v}, 11), '-') > 0)"
    zoned = f"timezone('UTC', TRY_CAST({v} AS TIMESTAMPTZ))"
    local = _zone(f"TRY_CAST({v} AS TIMESTAMP)", ctx.source_timezone)
    general = f"CASE WHEN {offset} THEN {zoned} ELSE {local} END"
    if ctx.business_timezone == "UTC" and ctx.source_timezone in (None, "UTC"):
        return general
    return f"CASE WHEN {date_only} THEN {as_date} ELSE {general} END"


def _bounds(col: Column, typed: str, ctx: Context) -> list[str]:
    latest = ctx.now + timedelta(days=col.future_days)
    lit = f"TIMESTAMP '{latest:%Y-%m-%d %H:%M:%S}'"
    ahead = "1 day" if col.future_days == 1 else f"{col.future_days} days"
    return [
        _err(col.name, f"{typed} < TIMESTAMP '1990-01-01'", f"{typed}::VARCHAR || ' is before 1990-01-01'"),
        _err(col.name, f"{typed} > {lit}", f"{typed}::VARCHAR || ' is more than {ahead} after the import'"),
    ]  # fmt: skip


def _timestamp(col: Column, src: Source, v: str, ctx: Context) -> tuple[str, str]:
    typed = _parse_timestamp(src, v, ctx)
    bad = f"{v} IS NOT NULL AND {typed} IS NULL"
    hint = f" (expected formats: {', '.join(src.rule.formats)})" if src.rule.formats else ""
    errors = [
        _err(col.name, bad, f"{_preview(v)} || ' is not a timestamp{hint}'"),
        *_bounds(col, typed, ctx),
    ]
    return typed, "coalesce(" + ", ".join(errors) + ")"


def _date(col: Column, src: Source, v: str, ctx: Context) -> tuple[str, str]:
    if src.duck_type == "DATE":
        typed = src.sql
    elif src.duck_type.startswith("TIMESTAMP"):
        typed = f"CAST({src.sql} AS DATE)"
    elif src.rule.formats:
        fmts = "[" + ", ".join(sql_str(f) for f in src.rule.formats) + "]"
        typed = f"CAST(try_strptime({v}, {fmts}) AS DATE)"
    else:
        typed = (
            f"COALESCE(TRY_CAST({v} AS DATE), CAST(TRY_CAST({v} AS TIMESTAMP) AS DATE), "
            f"CAST(try_strptime({v}, '%Y-%m') AS DATE))"
        )
    if col.name == "month":
        typed = f"CAST(date_trunc('month', {typed}) AS DATE)"
    elif col.name == "week":
        typed = f"CAST(date_trunc('week', {typed}) AS DATE)"
    bad = f"{v} IS NOT NULL AND {typed} IS NULL"
    errors = [_err(col.name, bad, f"{_preview(v)} || ' is not a date'"), *_bounds(col, typed, ctx)]
    return typed, "coalesce(" + ", ".join(errors) + ")"


def typed_column(col: Column, src: Source, ctx: Context, v: str | None = None) -> tuple[str, str]:
    """(typed SQL, error SQL) of one column; `v` is its text form (or a column holding it)."""
    v = v or value_of(col, src)
    match col.type:
        case ColType.STRING:
            typed, err = _string(col, v)
        case ColType.FLOAT | ColType.INT:
            typed, err = _number(col, src, v)
        case ColType.BOOL:
            typed, err = _bool(col, src, v)
        case ColType.TIMESTAMP:
            typed, err = _timestamp(col, src, v, ctx)
        case ColType.DATE:
            typed, err = _date(col, src, v, ctx)
    if col.default is not None:
        typed = f"COALESCE({typed}, {col.default})"
    elif col.required:
        missing = _err(col.name, f"{v} IS NULL", "'required value is missing'")
        err = f"coalesce({missing}, {err})"
    return typed, err


def row_checks(table: Table, provided: set[str], ctx: Context) -> list[tuple[str, str]]:
    """Checks across columns of one row: (column, error SQL over typed columns)."""
    checks: list[tuple[str, str]] = []
    if table.name == "survey_responses":
        checks += [
            ("scale_max", _err("scale_max", "survey = 'nps' AND (scale_min <> 0 OR scale_max <> 10)",
                               "'NPS must be on the 0–10 scale, not ' || scale_min || '–' || scale_max")),
            ("scale_max", _err("scale_max", "scale_min >= scale_max", "'scale_min must be below scale_max'")),
            ("score", _err("score", "score < scale_min OR score > scale_max",
                           "score || ' is outside the scale ' || scale_min || '–' || scale_max")),
        ]  # fmt: skip
    if table.name == "tickets":
        for col in ("first_response_at", "resolved_at"):
            if col in provided:
                checks.append((col, _err(col, f"{col} < opened_at", "'is before opened_at'")))
    if "_currency" in provided:
        checks.append(
            ("currency", _err("currency", f"upper(_currency) <> {sql_str(ctx.currency)}",
                              f"_currency || ' is not the workspace currency {ctx.currency}'"))
        )  # fmt: skip
    return checks


def scale_defaults(survey_sql: str) -> tuple[str, str]:
    lows = " ".join(f"WHEN {sql_str(s)} THEN {lo:g}" for s, (lo, _) in SCALE_DEFAULTS.items())
    highs = " ".join(f"WHEN {sql_str(s)} THEN {hi:g}" for s, (_, hi) in SCALE_DEFAULTS.items())
    return f"CASE {survey_sql} {lows} END", f"CASE {survey_sql} {highs} END"


def build_select(
    *, table: Table, sources: dict[str, Source], extras: dict[str, str], view: str,
    where: str, ctx: Context, raw_columns: list[str], overflow: list[str] | None = None,
) -> str:  # fmt: skip
    """One SELECT yielding typed columns, `_row`, `_err`, `_err_col` and `_raw` (rejects only)."""
    # Three layers, so each value is parsed once: the trimmed text of every source (`_v{i}`),
    # then the typed values, then the error texts that refer to both by name.
    texts: dict[str, str] = {}
    typed: dict[str, str] = {}
    errors: list[tuple[str, str]] = []
    error_sql: dict[str, str] = {}
    for i, (name, src) in enumerate(sources.items()):
        texts[f"_v{i}"] = value_of(table.column(name), src)
        value, err = typed_column(table.column(name), src, ctx, v=f"_v{i}")
        typed[name] = value
        # The error text repeats the typed expression; refer to the typed column instead (it
        # only mentions this column's own `_v{i}`, so the replacement cannot touch another).
        reuse = value != f"_v{i}"
        error_sql[f"_e{i}"] = err.replace(value, quote_ident(name)) if reuse else err
        errors.append((name, f"_e{i}"))
    if table.name == "survey_responses":
        lo, hi = scale_defaults(typed["survey"])
        typed["scale_min"] = f"COALESCE({typed.get('scale_min', 'NULL')}, {lo})"
        typed["scale_max"] = f"COALESCE({typed.get('scale_max', 'NULL')}, {hi})"
    for name, raw in extras.items():
        typed[name] = f"NULLIF(trim(CAST({quote_ident(raw)} AS VARCHAR)), '')"
    currency = next((c for c in raw_columns if c.strip().lower() == "currency"), None)
    if currency is not None:
        typed["_currency"] = f"NULLIF(trim(CAST({quote_ident(currency)} AS VARCHAR)), '')"
    errors += row_checks(table, set(typed), ctx)
    if overflow:
        spill = (
            "coalesce(" + ", ".join(f"NULLIF(trim({quote_ident(c)}), '')" for c in overflow) + ")"
        )
        typed["_overflow"] = spill
        errors.append(
            (
                "_row",
                _err(
                    "row",
                    "_overflow IS NOT NULL",
                    "'has more fields than the header (extra: ' || _overflow || ')'",
                ),
            )
        )
        raw_columns = [*raw_columns, *overflow]
    # Raw columns travel as plain references (_r0, _r1, …): the JSON of the original row is
    # built only for rejected rows, never for every row.
    refs = [f"{quote_ident(c)} AS _r{i}" for i, c in enumerate(raw_columns)]
    fields = ", ".join(f"{quote_ident(c)} := _r{i}" for i, c in enumerate(raw_columns))
    raw_names = ", ".join(f"_r{i}" for i in range(len(raw_columns)))
    text_layer = ", ".join(["*", *(f"{sql} AS {n}" for n, sql in texts.items())])
    typed_layer = ", ".join(
        [
            "_row",
            "_line",
            "_file",
            *texts,
            *(f"{sql} AS {quote_ident(n)}" for n, sql in typed.items()),
            *refs,
        ]
    )
    names = ", ".join(
        ["_row", "_line", "_file", *texts, *(quote_ident(n) for n in typed)]
        + ([raw_names] if raw_names else [])
    )
    error_layer = ", ".join([names, *(f"{sql} AS {n}" for n, sql in error_sql.items())])
    err_text = f"NULLIF(concat_ws('; ', {', '.join(e for _, e in errors) or 'NULL'}), '')"
    first = " ".join(f"WHEN {e} IS NOT NULL THEN {sql_str(c)}" for c, e in errors)
    out = ", ".join(quote_ident(c) for c in [*provided_order(table, set(typed)), *extras])
    checked = (
        f"SELECT _row, _line, _file, {out}, {err_text} AS _err, "
        f"CASE {first or 'WHEN false THEN NULL'} END AS _err_col, {raw_names} "
        f"FROM (SELECT {error_layer} FROM (SELECT {typed_layer} FROM "
        f"(SELECT {text_layer} FROM {view} {where}) AS _a) AS _b) AS _t"
    )
    return (
        f"SELECT _row, _line, _file, {out}, _err, _err_col, "
        f"CASE WHEN _err IS NOT NULL THEN to_json(struct_pack({fields})) END AS _raw FROM ({checked}) AS _c"
    )


def provided_order(table: Table, provided: set[str]) -> list[str]:
    return [c for c in table.names if c in provided]
