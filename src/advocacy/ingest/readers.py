"""Reading a user's file into a DuckDB relation, with the file-level checks that come first.

Every reader exposes the file as a temporary view with a `_row` column: the row number a
spreadsheet would show (the header is row 1), or the record number for JSON and Parquet.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
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
    parsed: bool = False  # a CSV whose number, date and time columns the reader typed


#: Given a CSV's header, the columns to type while parsing (see `columns.parsed_types`).
TypeHints = Callable[[list[str]], dict[str, str]]


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


def dataset_files(path: Path) -> list[Path]:
    """The files of an import: the file itself, or every data file of a folder (a dataset)."""
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in _EXTENSIONS)
        if not files:
            raise UserError(f"{path}: the folder holds no .csv, .parquet, .json or .ndjson files")
    else:
        files = [path]
    for file in files:
        if file.stat().st_size == 0:
            raise UserError(f"{file.name}: the file is empty")
    return files


def _check_parquet(files: list[Path]) -> None:
    for file in files:
        with file.open("rb") as fh:
            if fh.read(4) != b"PAR1":
                raise UserError(f"{file.name}: not a Parquet file (no PAR1 signature)")


def _relation(
    files: list[Path], fmt: str, opts: ReadOptions, *, parallel: bool = True
) -> tuple[str, int]:
    """The table function reading the files (with `_file`), and the header rows before data."""
    listing = "[" + ", ".join(sql_str(str(f)) for f in files) + "]"
    by_name = ", union_by_name=true" if len(files) > 1 else ""
    if fmt == "parquet":
        _check_parquet(files)
        return f"read_parquet({listing}, filename='_file', file_row_number=true{by_name})", 0
    if fmt in ("json", "ndjson"):
        for file in files:
            encoding = detect_encoding(file)
            if encoding != "utf-8":
                raise UserError(f"{file.name}: JSON must be UTF-8 (this file looks {encoding})")
        layout = "newline_delimited" if fmt == "ndjson" else "auto"
        return (
            f"read_json({listing}, format='{layout}', maximum_object_size={MAX_LINE_BYTES}, filename='_file'{by_name})",
            0,
        )
    args = [listing, "all_varchar=true", *_csv_options(opts)]
    if not parallel:
        args.append("parallel=false")
    if by_name:
        args.append("union_by_name=true")
    return f"read_csv({', '.join(args)})", 1


def _csv_options(opts: ReadOptions, *, filename: bool = True) -> list[str]:
    options = [
        "header=true", "null_padding=true", *(["filename='_file'"] if filename else []),
        f"encoding={sql_str(opts.encoding or 'utf-8')}", f"max_line_size={MAX_LINE_BYTES}",
        # DuckDB's default buffer is 16 × max_line_size (1 GiB each, two at a time): more than
        # the store's memory limit allows.
        f"buffer_size={2 * MAX_LINE_BYTES}",
    ]  # fmt: skip
    if opts.delimiter:
        options.append(f"delim={sql_str(opts.delimiter)}")
    return options


def _file_case(values: dict[str, int], default: str = "0") -> str:
    """A CASE over `_file` (few files: the listing) mapping each to a number."""
    whens = " ".join(f"WHEN {sql_str(f)} THEN {n}" for f, n in values.items())
    return f"(CASE _file {whens} ELSE {default} END)" if values else default


def _row_order(con: duckdb.DuckDBPyConnection, data: str) -> str | None:
    """`rowid` made 0-based, if the table's rowids number its rows without gaps."""
    if any(str(r[0]).lower() == "rowid" for r in con.execute(f"DESCRIBE {data}").fetchall()):
        return None
    row = con.execute(f"SELECT min(rowid), max(rowid), count(*) FROM {data}").fetchone()
    if row is None or row[2] == 0:
        return "rowid"
    low, high, n = (int(v) for v in row)
    return f"(rowid - {low})" if high - low + 1 == n else None


def _create_view(
    con: duckdb.DuckDBPyConnection, view: str, relation: str, *, header: int, skip: int,
    files: list[Path], shown: list[str],
) -> None:  # fmt: skip
    """The view over the files, with `_row` (unique across the files: it identifies a row
    during the import) and `_line` (the row number within its own file, as a spreadsheet shows
    it). Parquet numbers rows itself; text formats are parsed once, into a temp table, which
    both surfaces parse errors and gives each file's row offset."""
    names = [str(f) for f in files]
    if "file_row_number" in relation:
        # The reader's `_file` is constant within a chunk: functions of it cost nothing per row.
        index = _file_case({n: i for i, n in enumerate(names)})
        row = f"{index} * 4294967296 + file_row_number + 1"
        inner = (
            f"SELECT CAST({row} AS BIGINT) AS _row, CAST(file_row_number + 1 AS BIGINT) AS _line, "
            f"regexp_extract(_file, '[^/]*$') AS _file, * EXCLUDE (file_row_number, _file) "
            f"FROM {relation}"
        )
    else:
        # One parse: the rows land in a temp table in file order (insertion order is preserved),
        # so its rowid numbers them; a window function would serialise the parallel reader.
        # Each row keeps its file's position in the listing, not its path: `_file` and `_line`
        # are looked up from it.
        data = f"{view}_data"
        paths = "[" + ", ".join(sql_str(n) for n in names) + "]"
        columns = f"* EXCLUDE (_file), CAST(list_position({paths}, _file) AS INTEGER) AS _advocacy_file_no"
        con.execute(f"DROP TABLE IF EXISTS {data}")
        con.execute(f"CREATE TEMP TABLE {data} AS SELECT {columns} FROM {relation}")
        order = _row_order(con, data)
        if order is None:
            # A column named rowid hides the pseudo-column (or rowids have gaps): number the
            # rows explicitly instead.
            order = "_advocacy_seq"
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {data} AS SELECT row_number() OVER () - 1 AS "
                f"{order}, {columns} FROM {relation}"
            )
        counts = dict(
            con.execute(
                f"SELECT _advocacy_file_no, count(*) FROM {data} GROUP BY _advocacy_file_no"
            ).fetchall()
        )
        offsets = [
            sum(int(counts.get(k, 0)) for k in range(1, i)) for i in range(1, len(names) + 1)
        ]
        row = f"{order} + 1 + {header}"
        own = ", _advocacy_seq" if order == "_advocacy_seq" else ""
        short = "[" + ", ".join(sql_str(name) for name in shown) + "]"
        inner = (
            f"SELECT CAST({row} AS BIGINT) AS _row, "
            f"CAST({row} - {offsets}[_advocacy_file_no] AS BIGINT) AS _line, {short}[_advocacy_file_no] AS _file, "
            f"* EXCLUDE (_advocacy_file_no{own}) FROM {data}"
        )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT _row, _line, _file, "
        f"* EXCLUDE (_row, _line, _file) FROM ({inner}) WHERE _line > {header + skip}"
    )


def _csv_encoding(files: list[Path], options: ReadOptions, scratch: Path) -> tuple[list[Path], str]:
    """The files as DuckDB can read them: non-native encodings transcoded to UTF-8."""
    encodings = {options.encoding or detect_encoding(f) for f in files}
    if len(encodings) > 1:
        raise UserError(f"the files are in different encodings ({', '.join(sorted(encodings))})")
    encoding = encodings.pop()
    if encoding.lower().replace("_", "-") in _NATIVE_ENCODINGS:
        return files, encoding
    return [transcode(f, encoding, scratch) for f in files], encoding


def _plain_view(
    con: duckdb.DuckDBPyConnection, view: str, files: list[Path], fmt: str, options: ReadOptions,
    shown: list[str],
) -> None:  # fmt: skip
    relation, header = _relation(files, fmt, options)
    skip = options.skip_after_header
    try:
        _create_view(con, view, relation, header=header, skip=skip, files=files, shown=shown)
    except duckdb.Error as exc:
        # Padding short rows and quoted line breaks need the serial CSV reader.
        if fmt != "csv" or "parallel" not in str(exc):
            raise
        relation, header = _relation(files, fmt, options, parallel=False)
        _create_view(con, view, relation, header=header, skip=skip, files=files, shown=shown)


def _same_header(files: list[Path]) -> bool:
    """Whether the files start with the same line (the typed reader cannot union by name)."""
    firsts = set()
    for file in files:
        with file.open("rb") as fh:
            firsts.add(fh.readline(MAX_LINE_BYTES))
    return len(firsts) == 1


def _sniffed_once(
    con: duckdb.DuckDBPyConnection, files: list[Path], *, view: str, options: ReadOptions,
    hints: TypeHints, shown: list[str],
) -> bool | None:  # fmt: skip
    """The fast path: the first file sniffed once (sniffing each file costs more than reading
    a small one), every file read with its dialect and header, and the columns `hints` names
    typed as they are parsed. Returns whether any column was typed, or None when the fast path
    does not apply or a value fails to parse (the text path then reads the files and words the
    errors)."""
    if not _same_header(files):
        return None
    args = [sql_str(str(files[0])), "all_varchar=true", *_csv_options(options, filename=False)]
    try:
        row = con.execute(
            "SELECT Delimiter, Quote, Escape, Columns, SkipRows, Comment "
            f"FROM sniff_csv({', '.join(args)})"
        ).fetchone()
        assert row is not None
        delim, quote, escape, sniffed, skip, comment = row
        if skip or comment != "(empty)":  # lines before the header or comments: the text path
            return None
        names = [str(c["name"]) for c in sniffed]
        types = hints(names)
        quote = '"' if quote == "(empty)" else quote
        escape = quote if escape == "(empty)" else escape
        columns = ", ".join(f"{sql_str(n)}: {sql_str(types.get(n, 'VARCHAR'))}" for n in names)
        listing = "[" + ", ".join(sql_str(str(f)) for f in files) + "]"
        read = [
            listing, "auto_detect=false", f"delim={sql_str(delim)}", f"quote={sql_str(quote)}",
            f"escape={sql_str(escape)}", f"columns={{{columns}}}",
            *(o for o in _csv_options(options) if not o.startswith("delim=")),
        ]  # fmt: skip
        _create_view(
            con, view, f"read_csv({', '.join(read)})", header=1,
            skip=options.skip_after_header, files=files, shown=shown,
        )  # fmt: skip
    except duckdb.Error:
        return None
    return bool(types)


def open_raw(
    con: duckdb.DuckDBPyConnection, path: Path, *, view: str, file_format: str | None,
    options: ReadOptions, scratch: Path, hints: TypeHints | None = None,
) -> RawFile:  # fmt: skip
    """Expose a file (or a folder of files of one format) as the view `view`.

    With `hints`, a CSV is first tried on the fast path, with typed columns where the hints
    allow (`RawFile.parsed`).
    """
    files = dataset_files(path)
    shown = [f.name for f in files]  # rejects name the user's files, not transcoded copies
    formats = {detect_format(f, file_format or options.file_format) for f in files}
    if len(formats) > 1:
        raise UserError(f"{path.name}: the folder mixes formats ({', '.join(sorted(formats))})")
    fmt = formats.pop()
    encoding = None
    if fmt == "csv":
        files, encoding = _csv_encoding(files, options, scratch)
        options = replace(
            options, encoding="utf-8" if encoding not in _NATIVE_ENCODINGS else encoding
        )
    fast = None
    if fmt == "csv" and hints is not None:
        fast = _sniffed_once(con, files, view=view, options=options, hints=hints, shown=shown)
    try:
        if fast is None:
            _plain_view(con, view, files, fmt, options, shown)
        described = con.execute(f"DESCRIBE SELECT * FROM {view}").fetchall()
    except duckdb.Error as exc:
        raise UserError(f"{path.name}: cannot read as {fmt}: {short_error(exc)}") from None
    columns = {str(r[0]): str(r[1]) for r in described if r[0] not in ("_row", "_line", "_file")}
    overflow = _overflow_columns(files[0], columns) if fmt == "csv" else ()
    columns = {k: v for k, v in columns.items() if k not in overflow}
    if not columns:
        raise UserError(f"{path.name}: no columns found")
    return RawFile(path, view, fmt, encoding, columns, overflow, parsed=bool(fast))


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
