"""`advocacy cohorts`: cohort retention curves (DESIGN §5)."""

from __future__ import annotations

import math
from typing import Annotated, Any

import pandas as pd
import typer

from advocacy.cli.output import Format, emit, stderr


def _fmt(value: Any, measure: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{100 * value:.1f}%" if measure == "accounts" else f"{value:.3f}"


def _amount(value: Any, measure: str) -> str:
    return f"{value:,.0f}" if measure == "mrr" else str(int(value))


def readable(rows: pd.DataFrame, by: str | None, measure: str) -> pd.DataFrame:
    """The table view: the share (accounts) or the net ratio (mrr), group totals spelled out."""
    table = pd.DataFrame({"cohort": rows["cohort"], "k": rows["k"]})
    if by:
        table[by] = ["(all)" if v is None else str(v) for v in rows[by]]
    table["base"] = [_amount(v, measure) for v in rows["base"]]
    table["retained"] = [_amount(v, measure) for v in rows["retained"]]
    table["value"] = [_fmt(v, measure) for v in rows["value"]]
    return table


def cohorts_cmd(
    ctx: typer.Context,
    by: Annotated[
        str | None,
        typer.Option(help="an account column (as of the cohort quarter's start) or referred"),
    ] = None,
    measure: Annotated[
        str,
        typer.Option(help="accounts (share with MRR > 0 at k) or mrr (Σ MRR at k ÷ Σ MRR at 0)"),
    ] = "accounts",
    as_of: Annotated[str | None, typer.Option("--as-of", help="ignore data after this day")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table, json or csv")] = Format.TABLE,
) -> None:
    """Cohort retention curves: k months after each account's first paid month.

    A cohort is the fiscal quarter of the first month with MRR > 0. Points whose month is not yet
    complete (by as_of) for every account of the cohort are left out, not shown as zero.
    """
    from advocacy.metrics.cohorts import cohort_curves
    from advocacy.metrics.source import Source

    with ctx.obj.open() as ws:
        rows = cohort_curves(
            Source(ws.store.ibis()), ws.settings, measure=measure, by=by, as_of=as_of
        )
    for note in rows.attrs.get("notes", []):  # on stderr: json and csv keep stdout clean
        stderr.print(f"note: {note}")
    if fmt is not Format.TABLE:
        emit(rows, fmt)
        return
    if rows.empty:
        stderr.print("no cohort points: no account has a complete month with MRR > 0 yet")
        return
    title = f"Cohort retention ({measure}) as of {rows.attrs.get('as_of')}"
    emit(readable(rows, by, measure), fmt, title=title)


def register(app: typer.Typer) -> None:
    app.command("cohorts")(cohorts_cmd)
