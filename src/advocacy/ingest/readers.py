"""Reading a user's file into a DuckDB relation, with the file-level checks that come first.

Every reader exposes the file as a temporary view with a `_row` column: the row number a
spreadsheet would show (the header is row 1), or the record number for JSON and Parquet.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, replace
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
    """A file exposed as a view. `overflow` holds the columns DuckDB invented for fields
    beyond the header (rows with values there are rejected; the columns themselves are not
    data)."""

    path: Path
    view: str
    file_format: str
    encoding: str | None
    columns: dict[str, str]
    overflow: tuple[str, ...] = ()


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


_NATIVE_ENCODINGS = ("utf-8", "utf-16", "latin-1")
_NOT_C1 = bytes(b for b in range(256) if not 0x80 <= b < 0xA0)


def detect_encoding(path: Path) -> str:
    """utf-8 (with or without BOM), utf-16 by BOM, else Windows-1252 or Latin-1.

    A non-UTF-8 file with bytes 0x80–0x9F is Windows-1252 (Excel's default: € ’ “ ”), where
    Latin-1 would read control characters; without them the two agree. NUL bytes mean binary.
    """
    with path.open("rb") as fh:
        head = fh.read(_CHUNK)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        if b"\x00" in head[:65536]:
            raise UserError(f"{path.name}: this is a binary file, not text (it contains NUL bytes)")
        decoder = codecs.getincrementaldecoder("utf-8")()
        utf8, c1 = True, False
        chunk = head
        while chunk:
            if utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    utf8 = False
            if not utf8:
                c1 = c1 or bool(chunk.translate(None, _NOT_C1))
            chunk = fh.read(_CHUNK)
    if utf8:
        return "utf-8"
    return "cp1252" if c1 else "latin-1"


def transcode(path: Path, encoding: str, scratch: Path) -> Path:
    """A UTF-8 copy of a file in an encoding DuckDB cannot read itself."""
    target = scratch / f"{path.stem}.utf8{path.suffix}"
    try:
        with (
            path.open("r", encoding=encoding, newline="") as src,
            target.open("w", encoding="utf-8", newline="") as dst,
        ):
            for block in iter(lambda: src.read(_CHUNK), ""):
                dst.write(block)
    except (UnicodeDecodeError, LookupError) as exc:
        raise UserError(f"{path.name}: cannot read as {encoding}: {exc}") from None
    return target


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
    if encoding.lower().replace("_", "-") not in _NATIVE_ENCODINGS:
        raise AssertionError("open_raw transcodes other encodings first")
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
    options: ReadOptions, scratch: Path,
) -> RawFile:  # fmt: skip
    """Expose `path` as the temporary view `view` and describe its columns."""
    _check_not_empty(path)
    fmt = detect_format(path, file_format or options.file_format)
    source, encoding = path, None
    if fmt == "csv":
        encoding = options.encoding or detect_encoding(path)
        if encoding.lower().replace("_", "-") not in _NATIVE_ENCODINGS:
            source = transcode(path, encoding, scratch)
            options = replace(options, encoding="utf-8")
        else:
            options = replace(options, encoding=encoding)
    relation, _, offset = _relation(source, fmt, options)
    try:
        try:
            _create_view(con, view, relation, offset, options.skip_after_header)
        except duckdb.Error as exc:
            # Padding short rows and quoted line breaks need the serial CSV reader.
            if fmt != "csv" or "parallel" not in str(exc):
                raise
            relation, _, offset = _relation(source, fmt, options, parallel=False)
            _create_view(con, view, relation, offset, options.skip_after_header)
        described = con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()
    except duckdb.Error as exc:
        raise UserError(f"{path.name}: cannot read as {fmt}: {short_error(exc)}") from None
    columns = {str(r[0]): str(r[1]) for r in described if r[0] != "_row"}
    overflow = _overflow_columns(source, columns) if fmt == "csv" else ()
    columns = {k: v for k, v in columns.items() if k not in overflow}
    if not columns:
        raise UserError(f"{path.name}: no columns found")
    return RawFile(path, view, fmt, encoding, columns, overflow)


def _overflow_columns(path: Path, columns: dict[str, str]) -> tuple[str, ...]:
    """Columns DuckDB named `columnN` because the header had no name there."""
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        header = fh.readline()
    return tuple(c for c in columns if re.fullmatch(r"column\d+", c) and c not in header)


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
