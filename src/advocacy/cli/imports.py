"""Commands that bring data in and show what happened to it."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from advocacy.cli.context import Globals
from advocacy.cli.output import Format, emit, stderr
from advocacy.ingest.delete import delete_rows
from advocacy.ingest.report import COUNT_FIELDS

FormatOpt = Annotated[Format, typer.Option("--format", help="table, json or csv")]


def _progress(enabled: bool) -> Progress | None:
    if not enabled:
        return None
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
        console=stderr, transient=True,
    )  # fmt: skip


def import_cmd(
    ctx: typer.Context,
    target: Annotated[list[str], typer.Argument(help="[TABLE] PATH...: the table, then files")],
    file_format: Annotated[
        str | None, typer.Option("--file-format", help="csv, parquet, json, ndjson")
    ] = None,
    mapping: Annotated[Path | None, typer.Option(help="a mapping file (TOML or YAML)")] = None,
    preset: Annotated[
        str | None, typer.Option(help="a shipped mapping, e.g. zendesk_tickets")
    ] = None,
    on_conflict: Annotated[str, typer.Option(help="skip (default) or update")] = "skip",
    mode: Annotated[
        str, typer.Option(help="append (default) or replace (entity tables)")
    ] = "append",
    yes: Annotated[
        bool, typer.Option("--yes", help="confirm the deletions of --mode replace")
    ] = False,
    fmt: FormatOpt = Format.TABLE,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress, no summary")] = False,
) -> None:
    """Import files: stage, validate, quarantine bad rows, merge, log; one transaction per file."""
    from advocacy.schema import get_table

    table = target[0] if len(target) > 1 and not Path(target[0]).exists() else None
    if table is not None:
        get_table(table)
    paths = [Path(p) for p in (target[1:] if table else target)]
    if not paths:
        raise typer.BadParameter("give at least one file to import")
    bar = _progress(fmt is Format.TABLE and not quiet and stderr.is_terminal)
    with bar or nullcontext():
        task = bar.add_task("starting", total=None) if bar else None

        def say(message: str) -> None:
            if bar is not None and task is not None:
                bar.update(task, description=message)

        with ctx.obj.open() as ws:
            reports = ws.import_files(
                paths, table=table, mapping=mapping, preset=preset, file_format=file_format,
                on_conflict=on_conflict, mode=mode, confirmed=yes, progress=say,
            )  # fmt: skip
    frame = pd.DataFrame([r.as_dict() for r in reports])
    if fmt is not Format.TABLE:
        emit(frame, fmt)
        return
    if not quiet:
        frame["file"] = [Path(f).name for f in frame["file"]]
        emit(frame[["table", "file", *COUNT_FIELDS]], fmt, title="Import summary")
        for r in reports:
            for warning in r.warnings:
                stderr.print(f"[yellow]warning[/]: {r.table}: {warning}")
            if r.rejected:
                stderr.print(
                    f"{r.rejected} row(s) quarantined: see `advocacy rejects --import {r.import_id}`"
                )


def imports_cmd(ctx: typer.Context, fmt: FormatOpt = Format.TABLE) -> None:
    """The import log: one row per file and table, with its counts."""
    with ctx.obj.open() as ws:
        emit(ws.imports(), fmt, title="Imports")


def rejects_cmd(
    ctx: typer.Context,
    import_id: Annotated[str | None, typer.Option("--import", help="only this import")] = None,
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """Quarantined rows: file, row number, column, reason and the raw row."""
    with ctx.obj.open() as ws:
        emit(ws.rejects(import_id), fmt, title="Quarantine")


def conflicts_cmd(ctx: typer.Context, fmt: FormatOpt = Format.TABLE) -> None:
    """Rows that differ from what is stored under the same key, kept with their differences."""
    with ctx.obj.open() as ws:
        emit(ws.conflicts(), fmt, title="Conflicts")


def delete_cmd(
    ctx: typer.Context,
    table: Annotated[str, typer.Argument(help="the canonical table")],
    ids: Annotated[
        Path, typer.Option("--ids", help="CSV with the key column(s), or one id per line")
    ],
    yes: Annotated[bool, typer.Option("--yes", help="delete; without it, only preview")] = False,
) -> None:
    """Delete rows by key: previewed first, audited when done."""
    with ctx.obj.open() as ws:
        result = delete_rows(ws.store, table=table, ids_file=ids, apply=yes)
    verb = "deleted" if yes else "would delete"
    typer.echo(
        f"{verb} {result.matched} row(s) of {table} ({result.requested} id(s) in {ids.name})."
    )
    if not yes and result.matched:
        typer.echo("Nothing was deleted. Re-run with --yes to delete them.")


def register(app: typer.Typer, ctx_type: type[Globals]) -> None:
    app.command("import")(import_cmd)
    app.command("imports")(imports_cmd)
    app.command("rejects")(rejects_cmd)
    app.command("conflicts")(conflicts_cmd)
    app.command("delete")(delete_cmd)
