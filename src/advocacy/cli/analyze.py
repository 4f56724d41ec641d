"""`advocacy analyze NAME`: the analyses of DESIGN §6 with their one-sentence reading."""

from __future__ import annotations

from typing import Annotated

import typer

from advocacy.analyses import ANALYSES
from advocacy.cli.analysis_view import readable
from advocacy.cli.output import Format, emit, stderr
from advocacy.errors import UserError


def analyze_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=" | ".join(ANALYSES))],
    period: Annotated[str, typer.Option(help="month, quarter or year")] = "quarter",
    start: Annotated[str | None, typer.Option("--from", help="first day of the range")] = None,
    end: Annotated[str | None, typer.Option("--to", help="day after the range (exclusive)")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="ignore data after this day")] = None,
    part: Annotated[
        str, typer.Option(help="main, or an extra output (dropoffs: changepoints, quiet)")
    ] = "main",
    fmt: Annotated[Format, typer.Option("--format", help="table, json or csv")] = Format.TABLE,
) -> None:
    """Answer one of the program's questions, with intervals and a plain-words reading."""
    if name not in ANALYSES:
        raise UserError(f"unknown analysis '{name}'; choose one of: {', '.join(ANALYSES)}")
    with ctx.obj.open() as ws:
        result = ws.analyze(name, period=period, start=start, end=end, as_of=as_of)
    rows = result.part(part)
    if fmt is not Format.TABLE:
        emit(rows, fmt)
        return
    if rows.empty:
        stderr.print("no rows for this range")
    else:
        title = f"analyze {name}" + ("" if part == "main" else f" ({part})")
        emit(readable(name, part, rows), fmt, title=title)
    typer.echo(result.sentence)


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze_cmd)
