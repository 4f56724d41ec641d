"""`advocacy candidates` and `advocacy recommend`: who to ask for advocacy (DESIGN §7-8)."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from advocacy.cli.output import Format, emit, records, stderr

AS_OF = typer.Option("--as-of", help="as of the end of this day (default: the latest data)")
FORMAT = typer.Option("--format", help="table, json or csv")


def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """CSV cells: lists and objects as JSON text."""
    out = frame.copy()
    for col in ("reasons", "contributions"):
        if col in out:
            out[col] = [json.dumps(v, ensure_ascii=False) for v in out[col]]
    return out


def _pct(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{100 * float(value):.0f}%"


def _print(table: Table) -> None:
    console = Console()
    (console if console.is_terminal else Console(width=200)).print(table)


def show(rows: pd.DataFrame, title: str) -> None:
    """The table view: one block per candidate, every reason on its own line (never cut)."""
    table = Table(title=title, show_lines=True)
    for name in ("contact", "account", "score", "P(accept)", "eligible", "why / why not"):
        table.add_column(name, overflow="fold")
    for r in records(rows):
        table.add_row(
            r["contact_id"] or "(account)", r["account_id"], f"{r['score']:.2f}",
            _pct(r["probability"]), "yes" if r["eligible"] else "no", "\n".join(r["reasons"]),
        )  # fmt: skip
    _print(table)


def _show_evaluation(rows: pd.DataFrame) -> None:
    aucs = rows[rows["part"] == "auc"]
    typer.echo(f"Acceptance model, time-based holdout ({aucs['detail'].iloc[0]}; "
               f"test {int(aucs['n'].iloc[0])} asks)")  # fmt: skip
    for name, value in zip(aucs["name"], aucs["value"], strict=True):
        typer.echo(f"  AUC {name:<14} {value:.3f}")
    cal = rows[rows["part"] == "calibration"]
    emit(pd.DataFrame({"decile": cal["name"].astype(int), "asks": cal["n"].astype(int),
                       "predicted": [f"{p:.3f}" for p in cal["predicted"]],
                       "observed": [f"{o:.3f}" for o in cal["observed"]]}),
         Format.TABLE, title="Calibration on the holdout (deciles of the predicted probability)")  # fmt: skip
    fat = rows[(rows["part"] == "fatigue") & rows["n"].notna()]
    emit(pd.DataFrame({"asks to the contact in 180 days": fat["name"], "asks": fat["n"].astype(int),
                       "accepted": [_pct(v) for v in fat["value"]],
                       "95% interval": [f"[{_pct(lo)}, {_pct(hi)}]" for lo, hi in
                                        zip(fat["ci_low"], fat["ci_high"], strict=True)]}),
         Format.TABLE, title="Acceptance by recent asks (fatigue), all settled asks")  # fmt: skip
    coef = rows[(rows["part"] == "fatigue") & rows["n"].isna()]["value"].iloc[0]
    typer.echo(
        f"Model coefficient per recent ask: {coef:+.3f} log-odds (odds × {math.exp(coef):.2f})"
    )


def candidates_cmd(
    ctx: typer.Context,
    ask_type: Annotated[
        str | None, typer.Option("--ask-type", help="an ask type, e.g. review")
    ] = None,
    segment: Annotated[str | None, typer.Option(help="only accounts of this segment")] = None,
    limit: Annotated[int | None, typer.Option(help="eligible candidates to show")] = 50,
    as_of: Annotated[str | None, AS_OF] = None,
    evaluate: Annotated[
        bool, typer.Option("--evaluate", help="evaluate the acceptance model")
    ] = False,
    fmt: Annotated[Format, FORMAT] = Format.TABLE,
) -> None:
    """Advocacy candidates by score, with why (contributions) and why not (policy).

    `--limit N` shows the N best eligible candidates and, with them, the ineligible ones that
    score as high, each with the blocking rules and the day they lapse. Without `--ask-type`, a
    candidate is eligible when some ask type is allowed, and P(accept) averages the ask types in
    their historical mix. `--evaluate` instead prints the AUC of the learned acceptance model, of
    the hand-weighted score and of a random score on a time-based holdout of all settled advocacy
    asks, a calibration table and acceptance by recent asks (the other filters do not apply).
    """
    with ctx.obj.open() as ws:
        rows = ws.candidates(
            ask_type=ask_type, segment=segment, limit=limit, as_of=as_of, evaluate=evaluate
        )
    if evaluate:
        if fmt is Format.TABLE:
            _show_evaluation(rows)
        else:
            emit(rows, fmt)
        return
    if fmt is not Format.TABLE:
        emit(_flat(rows) if fmt is Format.CSV else rows, fmt)
        return
    if rows["probability"].isna().all():
        stderr.print("no acceptance model yet (too little settled ask history): probability empty")
    show(rows, f"Advocacy candidates{f' for {ask_type}' if ask_type else ''}")


def recommend_cmd(
    ctx: typer.Context,
    as_of: Annotated[str | None, AS_OF] = None,
    fmt: Annotated[Format, FORMAT] = Format.TABLE,
) -> None:
    """The best eligible ask for each moment of the last 14 days, by expected value.

    Moments: onboarding complete, go-live, a completed renewal, an expansion, a satisfied CSAT on
    a resolved ticket, a promoter answer. An account gets at most one recommendation and a contact
    at most one; expected value = P(accept) × the ask type's value (`[candidates.values]`).
    """
    with ctx.obj.open() as ws:
        rows = ws.recommend(as_of=as_of)
    if fmt is not Format.TABLE:
        emit(_flat(rows) if fmt is Format.CSV else rows, fmt)
        return
    if rows.empty:
        stderr.print("no eligible ask for any moment of the lookback window")
        return
    table = Table(title="Recommended asks", show_lines=True)
    for name in ("moment", "contact", "account", "ask", "expected value", "why"):
        table.add_column(name, overflow="fold")
    for r in records(rows):
        table.add_row(
            r["moment"], r["contact_id"] or "(account)", r["account_id"], r["ask_type"],
            f"{r['expected_value']:.2f}", "\n".join(r["reasons"]),
        )  # fmt: skip
    _print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `advocacy` app."""
    app.command("candidates")(candidates_cmd)
    app.command("recommend")(recommend_cmd)
