"""`advocacy metrics`: the metric engine from the command line."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from advocacy.cli.output import Format, emit, stderr
from advocacy.errors import UserError

#: How the table view names a ticket median's tickets without a time yet (`extra.open_n`).
OPEN_WORDS = {"first_response_hours": "unanswered", "resolution_hours": "unresolved"}


def _filters(values: list[str]) -> dict[str, str]:
    out = {}
    for item in values:
        column, sep, value = item.partition("=")
        if not sep or not column:
            raise UserError(f"--filter takes COL=VALUE, not '{item}'")
        if column.strip() in out:
            raise UserError(
                f"--filter {column.strip()} is given twice: a filter keeps one value per column "
                "(use --by to see every value)"
            )
        out[column.strip()] = value.strip()
    return out


def _fmt(value: Any, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    match unit:
        case "fraction":
            return f"{100 * value:.1f}%"
        case "points":
            return f"{value:+.1f}"
        case "ratio":
            return f"{value:.3f}"
        case "currency":
            return f"{value:,.0f}"
        case "hours":
            return f"{value:.1f} h"
        case _:
            return f"{value:,.0f}"


def _fmt_delta(value: Any, unit: str) -> str:
    """A change, always signed; a change in a share is in percentage points."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "fraction":
        return f"{100 * value:+.1f} pp"
    text = _fmt(abs(value), unit).lstrip("+")  # points are already signed
    return ("-" if value < 0 else "+") + text


def readable(rows: pd.DataFrame, by: str | None) -> pd.DataFrame:
    """The table view: values in their units, intervals in brackets, flags spelled out."""
    from advocacy.metrics.catalog import BY_NAME

    units = [BY_NAME[m].unit.value if m in BY_NAME else "ratio" for m in rows["metric"]]
    flags = []
    for metric, low, partial, pending, extra in zip(
        rows["metric"], rows["low_n"], rows["partial"], rows["pending_n"], rows["extra"],
        strict=True,
    ):  # fmt: skip
        marks = [m for m, on in (("low n", low), ("partial", partial)) if on]
        if pending:
            marks.append(f"{pending} pending")
        # Tickets not yet answered (resolved) at as_of are outside a median that they will
        # move once they are, even in a closed period (DESIGN §5 keeps them in extra.open_n).
        open_n = json.loads(extra).get("open_n", 0) if isinstance(extra, str) else 0
        if open_n:
            marks.append(f"{open_n} {OPEN_WORDS.get(metric, 'open')}")
        flags.append(", ".join(marks))
    table = pd.DataFrame({"metric": rows["metric"], "period": rows["period_label"]})
    if by:
        table[by] = rows[by].fillna("(all)")
    table["value"] = [_fmt(v, u) for v, u in zip(rows["value"], units, strict=True)]
    table["95% interval"] = [
        ""
        if lo is None or (isinstance(lo, float) and math.isnan(lo))
        else f"[{_fmt(lo, u)}, {_fmt(hi, u)}]"
        for lo, hi, u in zip(rows["ci_low"], rows["ci_high"], units, strict=True)
    ]
    table["n"] = rows["n"]
    if "delta" in rows:
        table["Δ"] = [_fmt_delta(v, u) for v, u in zip(rows["delta"], units, strict=True)]
        table["p"] = [f"{p:.3g}" if p == p else "" for p in rows["p_value"]]
        if rows["q_value"].notna().any():  # --compare rest: Benjamini–Hochberg across groups
            table["q"] = [f"{q:.3g}" if q == q else "" for q in rows["q_value"]]
    table["notes"] = flags
    return table


def metrics_cmd(
    ctx: typer.Context,
    names: Annotated[
        list[str] | None, typer.Argument(help="metrics (default: the headline set)")
    ] = None,
    list_: Annotated[
        bool, typer.Option("--list", help="list every metric with its definition")
    ] = False,
    by: Annotated[
        str | None, typer.Option(help="an account column (as of period start) or cohort")
    ] = None,
    period: Annotated[str, typer.Option(help="month, quarter or year")] = "quarter",
    start: Annotated[str | None, typer.Option("--from", help="first day of the range")] = None,
    end: Annotated[str | None, typer.Option("--to", help="day after the range (exclusive)")] = None,
    window: Annotated[str, typer.Option(help="period or ttm")] = "period",
    basis: Annotated[str | None, typer.Option(help="response, logo or arr")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="ignore data after this day")] = None,
    filters: Annotated[
        list[str] | None, typer.Option("--filter", help="COL=VALUE on accounts")
    ] = None,
    segment_as_of: Annotated[str, typer.Option(help="period_start or current")] = "period_start",
    include_surveys: Annotated[
        bool, typer.Option("--include-surveys", help="count survey asks")
    ] = False,
    ci: Annotated[
        str, typer.Option(help="analytic, or bootstrap (account-cluster resampling)")
    ] = "analytic",
    compare: Annotated[
        str | None, typer.Option(help="previous (period before) or rest (other groups)")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table, json or csv")] = Format.TABLE,
    explain: Annotated[
        bool, typer.Option("--explain", help="print the SQL of the shared rollup, compute nothing")
    ] = False,
) -> None:
    """Compute metrics by period (and dimension) with intervals."""
    if list_:
        _list(fmt, ctx.obj.workspace)
        return
    options: dict[str, Any] = {
        "by": by, "period": period, "start": start, "end": end, "window": window,
        "basis": basis, "as_of": as_of, "filters": _filters(filters or []),
        "segment_as_of": segment_as_of, "include_surveys": include_surveys, "ci": ci,
        "compare": compare,
    }  # fmt: skip
    with ctx.obj.open() as ws:
        if explain:
            if fmt is not Format.TABLE:
                raise UserError("--explain prints SQL; --format json|csv does not apply to it")
            print(ws.explain_metrics(names or None, **options))
            return
        rows = ws.metrics(names or None, **options)
    for note in rows.attrs.get("notes", []):  # on stderr: json and csv keep stdout clean
        stderr.print(f"note: {note}")
    if fmt is not Format.TABLE:
        emit(rows, fmt)
        return
    if rows.empty:  # the engine's note, printed above, says which range gave no rows
        return
    as_of_day = rows["as_of"].iloc[0]
    emit(readable(rows, by), fmt, title=f"Metrics as of {as_of_day}")


def _list(fmt: Format, workspace: Path) -> None:
    from advocacy.config import load_settings
    from advocacy.metrics.catalog import CATALOG
    from advocacy.metrics.custom import custom_metrics

    custom = custom_metrics(load_settings(workspace).custom_metrics) if workspace.is_dir() else {}
    frame = pd.DataFrame([m.as_dict() for m in (*CATALOG, *custom.values())])
    frame["bases"] = [", ".join(b) for b in frame["bases"]]
    frame["params"] = [json.dumps(p) if p else "" for p in frame["params"]]
    cols = ["name", "unit", "bases", "interval", "description", "numerator", "denominator"]
    if fmt is Format.TABLE:
        cols = ["name", "unit", "bases", "description"]
    emit(frame[cols], fmt, title="Metrics")


def register(app: typer.Typer) -> None:
    app.command("metrics")(metrics_cmd)
