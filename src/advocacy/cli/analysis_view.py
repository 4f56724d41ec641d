"""The terminal view of analysis rows: the columns that answer the question, in their units.

JSON and CSV keep every column; a terminal gets a readable subset, rates as percentages and
intervals in brackets (as `advocacy metrics` does).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

# (column, unit, interval columns or None) per analysis; units: pct, ratio, num, int, text, pp.
Spec = list[tuple[str, str, tuple[str, str] | None]]
VIEWS: dict[str, Spec] = {
    "support": [
        ("band", "text", None), ("segment", "text", None), ("accounts", "int", None),
        ("advocates", "int", None), ("advocacy_rate", "pct", ("ci_low", "ci_high")),
        ("risk_ratio", "ratio", ("rr_ci_low", "rr_ci_high")),
    ],
    "leading": [
        ("period_label", "text", None), ("group", "text", None), ("comparison", "text", None),
        ("accounts", "int", None),
        ("next_logo_retention", "pct", ("next_logo_retention_ci_low", "next_logo_retention_ci_high")),
        ("next_grr", "pct", ("next_grr_ci_low", "next_grr_ci_high")),
        ("next_nrr", "pct", ("next_nrr_ci_low", "next_nrr_ci_high")),
        ("next_expansion_rate", "pct", ("next_expansion_rate_ci_low", "next_expansion_rate_ci_high")),
    ],
    "segments": [
        ("dimension", "text", None), ("value", "text", None), ("rank", "int", None),
        ("accounts", "int", None), ("advocacy_rate", "pct", ("ci_low", "ci_high")),
        ("rest_rate", "pct", None), ("q_value", "num", None), ("differs_from_rest", "text", None),
    ],
    "program": [
        ("measure", "text", None), ("segment", "text", None), ("value", "num", ("ci_low", "ci_high")),
        ("n", "int", None), ("detail", "text", None),
    ],
    "dropoffs": [
        ("change_id", "text", None), ("dimension", "text", None), ("value", "text", None),
        ("signal", "text", None), ("method", "text", None), ("pre_value", "num", None),
        ("post_value", "num", None), ("ratio", "ratio", ("ci_low", "ci_high")),
        ("diff", "num", None), ("q_value", "num", None), ("flagged", "text", None),
        ("placebo_false_alarm_rate", "pct", None),
    ],
}  # fmt: skip


_TOTAL_WHEN_EMPTY = ("segment", "dimension")  # null there means "all accounts"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _fmt(value: Any, unit: str) -> str:
    if _missing(value):
        return "—"
    if unit == "text":
        return str(value)
    number = float(value)
    match unit:
        case "pct":
            return f"{100 * number:.1f}%"
        case "int":
            return f"{number:,.0f}"
        case "ratio":
            return f"{number:.2f}"
        case _:
            return f"{number:,.0f}" if abs(number) >= 1000 else f"{number:.3g}"


def readable(name: str, part: str, rows: pd.DataFrame) -> pd.DataFrame:
    """The rows to print for `advocacy analyze NAME` in a terminal."""
    spec = VIEWS.get(name) if part == "main" else None
    if spec is None:
        return rows.map(lambda v: _fmt(v, "num") if isinstance(v, float) else v)
    if name == "dropoffs" and {"flagged", "q_value"} <= set(rows.columns):
        # What needs attention first: flagged drops, then the strongest evidence.
        rows = rows.sort_values(["flagged", "q_value"], ascending=[False, True], kind="stable")
    table = pd.DataFrame(index=rows.index)
    for column, unit, interval in spec:
        if column not in rows:
            continue
        table[column] = [
            "(all)" if column in _TOTAL_WHEN_EMPTY and _missing(v) else _fmt(v, unit)
            for v in rows[column]
        ]
        if interval and all(c in rows for c in interval):
            lows, highs = rows[interval[0]], rows[interval[1]]
            if not (lows.isna().all() and highs.isna().all()):
                table["95% interval"] = [
                    "" if _missing(lo) else f"[{_fmt(lo, unit)}, {_fmt(hi, unit)}]"
                    for lo, hi in zip(lows, highs, strict=True)
                ]
                table = table.rename(columns={"95% interval": f"{column} 95% CI"})
    if name == "dropoffs":
        # One interval per row: of the ratio (actions, referrals) or of the difference (levels).
        table = table.rename(columns={"ratio 95% CI": "95% CI (ratio or diff)"})
    return table.reset_index(drop=True)
