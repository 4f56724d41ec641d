"""Reading a user's file into a DuckDB relation, with the file-level checks that come first.

Every reader exposes the file as a temporary view with a `_row` column: the row number a
spreadsheet would show (the header is row 1), or the record number for JSON and Parquet.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from advocacy.errors import UserError
from advocacy.ingest.mapping import ReadOptions

FORMATS = ("csv", "parquet", "json", "ndjson")
_EXTENSIONS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
    ".json": "json", ".ndjson": "ndjson", ".jsonl": "ndjson",
}  # fmt: skip
MAX_LINE_BYTES = 64 * 1024 * 1024
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RawFile:
    path: Path
    view: str
    file_format: str
    encoding: str | None
    columns: dict[str, str]


def sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def detect_format(path: Path, requested: str | None) -> str:
    if requested:
        if requested not in FORMATS:
            raise UserError(f"unknown --file-format '{requested}'; use one of {', '.join(FORMATS)}")
        return requested
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".zst")]
    fmt = _EXTENSIONS.get(suffixes[-1] if suffixes else "")
    if fmt is None:
        raise UserError(
            f"{path.name}: cannot tell the file format from its name; pass --file-format"
        )
    return fmt


def detect_encoding(path: Path) -> str:
    """utf-8 (with or without BOM), utf-16 by BOM, else latin-1; NUL bytes mean binary."""
    with path.open("rb") as fh:
        head = fh.read(_CHUNK)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        if b"\x00" in head[:65536]:
            raise UserError(f"{path.name}: this is a binary file, not text (it contains NUL bytes)")
        decoder = codecs.getincrementaldecoder("utf-8")()
        chunk = head
        while chunk:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError:
                return "latin-1"
            chunk = fh.read(_CHUNK)
    return "utf-8"


def _check_not_empty(path: Path) -> None:
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if not path.is_file():
        raise UserError(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise UserError(f"{path.name}: the file is empty")


def _relation(
    path: Path, fmt: str, opts: ReadOptions, *, parallel: bool = True
) -> tuple[str, str | None, str]:
    """The table function reading the file, its encoding, and the row-number offset."""
    p = sql_str(str(path))
    if fmt == "parquet":
        with path.open("rb") as fh:
            if fh.read(4) != b"PAR1":
                raise UserError(f"{path.name}: not a Parquet file (no PAR1 signature)")
        return f"read_parquet({p})", None, "0"
    if fmt in ("json", "ndjson"):
        encoding = detect_encoding(path)
        if encoding != "utf-8":
            raise UserError(f"{path.name}: JSON must be UTF-8 (this file looks {encoding})")
        layout = "newline_delimited" if fmt == "ndjson" else "auto"
        return f"read_json({p}, format='{layout}', maximum_object_size={MAX_LINE_BYTES})", None, "0"
    encoding = opts.encoding or detect_encoding(path)
    args = [
        p, "header=true", "all_varchar=true", "null_padding=true",
        f"encoding={sql_str(encoding)}", f"max_line_size={MAX_LINE_BYTES}",
    ]  # fmt: skip
    if opts.delimiter:
        args.append(f"delim={sql_str(opts.delimiter)}")
    if not parallel:
        args.append("parallel=false")
    return f"read_csv({', '.join(args)})", encoding, "1"


def _create_view(
    con: duckdb.DuckDBPyConnection, view: str, relation: str, offset: str, skip: int
) -> None:
    """The view over the file, then one full scan so that parse errors surface here."""
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM ("
        f"SELECT CAST(row_number() OVER () + {offset} AS BIGINT) AS _row, * FROM {relation}"
        f") WHERE _row > {int(offset) + skip}"
    )
    con.execute(f"SELECT count(*) FROM {view}").fetchone()


def open_raw(
    con: duckdb.DuckDBPyConnection, path: Path, *, view: str, file_format: str | None,
    options: ReadOptions,
) -> RawFile:  # fmt: skip
    """Expose `path` as the temporary view `view` and describe its columns."""
    _check_not_empty(path)
    fmt = detect_format(path, file_format or options.file_format)
    relation, encoding, offset = _relation(path, fmt, options)
    try:
        try:
            _create_view(con, view, relation, offset, options.skip_after_header)
        except duckdb.Error as exc:
            # Padding short rows and quoted line breaks need the serial CSV reader.
            if fmt != "csv" or "parallel" not in str(exc):
                raise
            relation, encoding, offset = _relation(path, fmt, options, parallel=False)
            _create_view(con, view, relation, offset, options.skip_after_header)
        described = con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()
    except duckdb.Error as exc:
        raise UserError(f"{path.name}: cannot read as {fmt}: {short_error(exc)}") from None
    columns = {str(r[0]): str(r[1]) for r in described if r[0] != "_row"}
    if not columns:
        raise UserError(f"{path.name}: no columns found")
    return RawFile(path, view, fmt, encoding, columns)


def short_error(exc: BaseException, limit: int = 600) -> str:
    """A database error made readable: its message lines without the option dump, elided."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines()]
    kept = [
        ln
        for ln in lines
        if ln and "(Auto-Detected)" not in ln and not ln.startswith(("file =", "Possible"))
    ]
    kept = [re.sub(r"(\S{60})\S{20,}", r"\1…", ln)[:200] for ln in kept[:4]]
    text = "; ".join(kept) or type(exc).__name__
    return text[:limit]
