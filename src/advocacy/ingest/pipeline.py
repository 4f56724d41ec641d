"""Import orchestration: one transaction per file, stage → validate → quarantine → merge → log."""

from __future__ import annotations

import contextlib
import hashlib
import json
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import duckdb
import pyarrow as pa

from advocacy.config import Settings
from advocacy.errors import UserError
from advocacy.ingest.columns import parsed_types, quote_ident
from advocacy.ingest.mapping import Mapping, load_mapping, load_preset
from advocacy.ingest.merge import MergeJob, merge
from advocacy.ingest.readers import RawFile, dataset_files, open_raw, sql_str
from advocacy.ingest.replace import ConfirmationNeeded, replace_missing
from advocacy.ingest.report import ImportReport
from advocacy.ingest.stage import Staged, stage_output
from advocacy.ingest.suppress import suppress_staged, suppressed_note
from advocacy.ingest.validate import Context
from advocacy.schema import TABLES, Table, get_table
from advocacy.storage.ddl import sql_type
from advocacy.storage.store import Dialect, Store, Tx

Progress = Callable[[str], None]
_BATCH = 250_000
_READING = threading.Lock()  # reads of text files, which need preserve_insertion_order


@dataclass(frozen=True)
class ImportOptions:
    table: str | None = None
    mapping: Mapping | None = None
    file_format: str | None = None
    update_conflicts: bool = False
    replace: bool = False
    confirmed: bool = False


def resolve_mapping(table: str | None, mapping_path: Path | None, preset: str | None) -> Mapping:
    """The mapping an import uses: a file, a preset, or the canonical layout of `table`."""
    if mapping_path and preset:
        raise UserError("give either --mapping or --preset, not both")
    if mapping_path or preset:
        mapping = load_mapping(mapping_path) if mapping_path else load_preset(str(preset))
        if table and table not in mapping.outputs:
            raise UserError(f"the mapping {mapping.name} does not feed table '{table}'")
        return mapping
    if not table:
        raise UserError("name the table to import into (e.g. `advocacy import accounts FILE`)")
    get_table(table)
    return Mapping.identity(table)


def _sha256(path: Path) -> str:
    """The file's SHA-256; for a folder dataset, of its files' names and contents in order."""
    digest = hashlib.sha256()
    for file in dataset_files(path):
        if path.is_dir():
            digest.update(file.name.encode())
        with file.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _aliases(con: duckdb.DuckDBPyConnection, store: Store, source: str | None) -> None:
    """`_aliases`: the account crosswalk of the mapping's source, for staging."""
    if store.dialect is Dialect.DUCKDB:
        cond = f"source = {sql_str(source)}" if source else "false"
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _aliases AS SELECT external_id, account_id FROM account_aliases WHERE {cond}"
        )
        return
    rows = []
    if source:
        with store.transaction() as tx:
            rows = tx.fetchall(
                "SELECT external_id, account_id FROM account_aliases WHERE source = ?", (source,)
            )
    data = pa.table({"external_id": [r[0] for r in rows], "account_id": [r[1] for r in rows]},
                    schema=pa.schema([("external_id", pa.string()), ("account_id", pa.string())]))  # fmt: skip
    con.register("_aliases_arrow", data)
    con.execute("CREATE OR REPLACE TEMP VIEW _aliases AS SELECT * FROM _aliases_arrow")


def _to_store(con: duckdb.DuckDBPyConnection, tx: Tx, store: Store, staged: Staged) -> None:
    """Make `_stage` (valid rows) visible to the store connection."""
    cols = ", ".join(
        quote_ident(c) for c in ("_row", "_line", "_file", *staged.columns, *staged.extras)
    )
    select = f"SELECT {cols} FROM _typed WHERE _err IS NULL"
    if store.dialect is Dialect.DUCKDB:
        con.execute(f"CREATE OR REPLACE TEMP VIEW _stage AS {select}")
        return
    defs = ["_row BIGINT", "_line BIGINT", "_file TEXT"]
    defs += [
        f"{quote_ident(c)} {sql_type(store.dialect, staged.table.column(c).type)}"
        for c in staged.columns
    ]
    defs += [f"{quote_ident(c)} TEXT" for c in staged.extras]
    tx.execute("DROP TABLE IF EXISTS _stage")
    tx.execute(f"CREATE TEMP TABLE _stage ({', '.join(defs)})")
    reader = con.execute(select).to_arrow_reader(_BATCH)
    for batch in reader:
        store.copy_arrow(tx, "_stage", pa.Table.from_batches([batch]))


def _quarantine(
    con: duckdb.DuckDBPyConnection, tx: Tx, store: Store, staged: Staged, import_id: str, file: str
) -> int:
    select = (
        f"SELECT {sql_str(import_id)} AS import_id, {sql_str(staged.table.name)} AS table_name, "
        f"COALESCE(_file, {sql_str(file)}) AS source_file, _line AS row_number, _err_col AS column_name, "
        f"_err AS reason, CAST(_raw AS VARCHAR) AS raw FROM _typed WHERE _err IS NOT NULL ORDER BY _row"
    )
    if store.dialect is Dialect.DUCKDB:
        con.execute(f"INSERT INTO _quarantine {select}")
    else:
        for batch in con.execute(select).to_arrow_reader(_BATCH):
            store.copy_arrow(tx, "_quarantine", pa.Table.from_batches([batch]))
    return staged.rejected


def _log(tx: Tx, report: ImportReport, *, path: Path, sha: str, mapping: Mapping, started: datetime,
         update_conflicts: bool, status: str = "ok") -> None:  # fmt: skip
    tx.execute(
        "INSERT INTO _imports (import_id, table_name, source_file, file_sha256, mapping, on_conflict, "
        'started_at, finished_at, status, "read", inserted, updated, unchanged, duplicate, '
        "conflicting, rejected, orphan, warnings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            report.import_id, report.table, str(path), sha, mapping.name,
            "update" if update_conflicts else "skip", started, _utcnow(), status, report.read,
            report.inserted, report.updated, report.unchanged, report.duplicate,
            report.conflicting, report.rejected, report.orphan, json.dumps(report.warnings),
        ),
    )  # fmt: skip


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _open_inputs(con: duckdb.DuckDBPyConnection, paths: Sequence[Path], mapping: Mapping,
                 file_format: str | None, scratch: Path, typed: bool) -> RawFile:  # fmt: skip
    """Views over the files: `raw`, or one per name of `[read] inputs` (the first is also `raw`).

    `typed`: CSV columns are typed as they are parsed where the mapping allows it."""
    names = mapping.read.inputs or ("raw",)
    if len(paths) != len(names):
        raise UserError(
            f"the mapping {mapping.name} reads {len(names)} file(s) ({', '.join(names)}), "
            f"but {len(paths)} were given"
        )
    hints = partial(parsed_types, mapping) if typed else None
    raws = [
        open_raw(con, p, view=n, file_format=file_format, options=mapping.read, scratch=scratch,
                 hints=hints)
        for n, p in zip(names, paths, strict=True)
    ]  # fmt: skip
    if names[0] != "raw":
        con.execute(f"CREATE OR REPLACE TEMP VIEW raw AS SELECT * FROM {names[0]}")
    return raws[0]


@dataclass(frozen=True)
class _Prepared:
    """One output of a file, staged before the transaction: `_typed` kept as `held`."""

    table: Table
    staged: Staged
    held: str
    seconds: float


def _stage_all(con: duckdb.DuckDBPyConnection, store: Store, ctx: Context, paths: Sequence[Path],
               opts: ImportOptions, mapping: Mapping, progress: Progress,
               scratch: Path) -> list[_Prepared]:  # fmt: skip
    """Read, validate and de-duplicate every output into temp tables, outside the transaction.

    Nothing here touches stored data, so a killed process loses nothing; and tables built in
    autocommit are scanned about twice as fast as ones built inside a DuckDB transaction.
    """
    path = paths[0]

    def read(typed: bool) -> RawFile:
        # The setting is database-wide: no other import may switch it off mid-read.
        with _READING:
            con.execute("SET preserve_insertion_order = true")  # text rows are numbered by rowid
            raw = _open_inputs(con, paths, mapping, opts.file_format, scratch, typed)
            # From here on rows are identified by _row, never by position: let DuckDB write
            # staging tables and the store's table in parallel, unordered (a quarter faster).
            con.execute("SET preserve_insertion_order = false")
        return raw

    progress(f"reading {path.name}")
    raw = read(True)
    _aliases(con, store, mapping.source)
    identity = mapping.name.startswith("canonical:")
    prepared = []
    for n, out in enumerate(mapping.outputs.values()):
        if opts.table and out.table != opts.table:
            continue
        t0 = time.perf_counter()
        table = TABLES[out.table]
        progress(f"validating {path.name} → {table.name}")
        staged = stage_output(
            con, raw=raw, mapping=mapping, out=out, table=table, ctx=ctx, identity=identity
        )
        if raw.parsed and staged.rejected:
            # Rejects keep the file's own strings and messages: read it as text instead.
            raw = read(False)
            staged = stage_output(
                con, raw=raw, mapping=mapping, out=out, table=table, ctx=ctx, identity=identity
            )
        held = f"_typed_{n}"
        con.execute(f"DROP TABLE IF EXISTS {held}")
        con.execute(f"ALTER TABLE _typed RENAME TO {held}")
        prepared.append(_Prepared(table, staged, held, time.perf_counter() - t0))
    return prepared


def _merge_all(tx: Tx, con: duckdb.DuckDBPyConnection, store: Store, prepared: list[_Prepared],
               path: Path, sha: str, opts: ImportOptions, mapping: Mapping, progress: Progress,
               started: datetime) -> list[ImportReport]:  # fmt: skip
    """Inside the transaction: quarantine, merge and log each staged output."""
    reports = []
    for p in prepared:
        t0 = time.perf_counter()
        table, staged = p.table, p.staged
        con.execute(f"ALTER TABLE {p.held} RENAME TO _typed")  # undone if the transaction fails
        import_id = f"imp_{started:%Y%m%d%H%M%S}_{uuid.uuid4().hex[:8]}"
        suppressed = suppress_staged(con, tx, table, staged.columns)
        rejected = _quarantine(con, tx, store, staged, import_id, path.name)
        progress(f"merging {staged.read:,} rows into {table.name}")
        _to_store(con, tx, store, staged)
        counts = merge(tx, MergeJob(table, staged.columns, staged.extras, import_id, path.name,
                                    opts.update_conflicts, started))  # fmt: skip
        if opts.replace:
            deleted = replace_missing(
                tx, table=table, import_id=import_id, confirmed=opts.confirmed, now=started
            )
            counts.warnings.append(f"--mode replace deleted {deleted} row(s) not in the file")
        report = ImportReport(
            import_id, table.name, str(path), read=staged.read, inserted=counts.inserted,
            updated=counts.updated, unchanged=counts.unchanged,
            duplicate=counts.duplicate + staged.duplicates, conflicting=counts.conflicting,
            rejected=rejected + counts.rejected, orphan=counts.orphan,
            warnings=counts.warnings,
        )  # fmt: skip
        if suppressed:
            report.warnings.append(suppressed_note(suppressed))
        if staged.ignored:
            report.warnings.append(
                f"ignored column(s) not in {table.name}: {', '.join(staged.ignored)}"
            )
        report.seconds = p.seconds + time.perf_counter() - t0
        _log(tx, report, path=path, sha=sha, mapping=mapping, started=started,
             update_conflicts=opts.update_conflicts)  # fmt: skip
        con.execute(f"ALTER TABLE _typed RENAME TO {p.held}")  # rolled back (a retry needs it)
        reports.append(report)
    return reports


def _import(store: Store, settings: Settings, paths: Sequence[Path], opts: ImportOptions,
            mapping: Mapping, progress: Progress) -> list[ImportReport]:  # fmt: skip
    started = _utcnow()
    ctx = Context(now=started, source_timezone=mapping.source_timezone,
                  business_timezone=settings.calendar.timezone, currency=settings.currency)  # fmt: skip
    duck = store.dialect is Dialect.DUCKDB
    # DuckDB stages on a cursor of the store (the merge reads its temp tables); PostgreSQL in
    # a DuckDB of its own, copied over inside the transaction.
    con = store.cursor() if duck else duckdb.connect()
    try:
        if not duck:
            con.execute("SET TimeZone='UTC'")
            con.execute("SET enable_progress_bar=false")
        sha = ",".join(_sha256(p) for p in paths)
        with tempfile.TemporaryDirectory(prefix="advocacy-import-") as scratch:
            prepared = _stage_all(con, store, ctx, paths, opts, mapping, progress, Path(scratch))
        return store.run(
            lambda tx: _merge_all(
                tx, con, store, prepared, paths[0], sha, opts, mapping, progress, started
            ),
            cursor=con if duck else None,
        )
    finally:
        if duck:
            # The setting is database-wide: restore it even when the import failed.
            with contextlib.suppress(duckdb.Error):
                con.execute("SET preserve_insertion_order = true")
        con.close()


def _log_failure(store: Store, path: Path, table: str, mapping: Mapping, message: str) -> None:
    report = ImportReport(f"imp_{_utcnow():%Y%m%d%H%M%S}_{uuid.uuid4().hex[:8]}", table, str(path))
    report.warnings.append(message)
    try:
        with store.transaction() as tx:
            _log(tx, report, path=path, sha="", mapping=mapping, started=_utcnow(),
                 update_conflicts=False, status="failed")  # fmt: skip
    except Exception:
        pass


def import_file(store: Store, settings: Settings, path: Path | Sequence[Path], opts: ImportOptions,
                progress: Progress | None = None) -> list[ImportReport]:  # fmt: skip
    """Import one file (or one mapping's group of inputs) atomically: all valid rows or none."""
    paths = [path] if isinstance(path, Path) else list(path)
    mapping = opts.mapping or resolve_mapping(opts.table, None, None)
    say = progress or (lambda _msg: None)
    try:
        return _import(store, settings, paths, opts, mapping, say)
    except ConfirmationNeeded:
        raise
    except UserError as exc:
        _log_failure(store, paths[0], opts.table or ",".join(mapping.outputs), mapping, str(exc))
        raise


def import_files(store: Store, settings: Settings, paths: Sequence[Path], opts: ImportOptions,
                 progress: Progress | None = None) -> list[ImportReport]:  # fmt: skip
    """Import several files, each in its own transaction, stopping at the first unusable one."""
    mapping = opts.mapping
    if mapping is not None and mapping.read.inputs:
        return import_file(store, settings, list(paths), opts, progress)
    reports: list[ImportReport] = []
    for path in paths:
        reports.extend(import_file(store, settings, path, opts, progress))
    return reports
