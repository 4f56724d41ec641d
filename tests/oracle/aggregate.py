"""Aggregations: a frame of units → value, numerator, denominator, n, pending_n, extra.

Each returns None when the population is empty: then there is no row (DESIGN §4).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .units import BRIDGE, NAN, Ctx

Result = dict[str, Any] | None


def mean(u: pd.DataFrame, ctx: Ctx, scale: float = 1.0) -> Result:
    """Σ w·x ÷ Σ w; on the arr basis, units without a weight are excluded and counted."""
    if u.empty:
        return None
    extra = None
    if ctx.basis == "arr":
        # CHOICE: the excluded accounts are reported as extra["arr_excluded"].
        extra = {"arr_excluded": int(u["w"].isna().sum())}
        u = u[u["w"].notna()]
        # CHOICE: when no unit has an arr weight the value is undefined: no row.
        if u.empty:
            return None
    num, den = float((u["w"] * u["x"]).sum()), float(u["w"].sum())
    return {"value": scale * num / den, "numerator": num, "denominator": den, "n": len(u),
            "extra": extra}  # fmt: skip


def nps(u: pd.DataFrame, ctx: Ctx) -> Result:
    """100 × (promoters − detractors) ÷ responses."""
    # CHOICE: numerator = (weighted) promoters − detractors, denominator = (weighted) responses;
    # value = 100 × numerator ÷ denominator.
    return mean(u, ctx, scale=100.0)


def count(u: pd.DataFrame, ctx: Ctx) -> Result:
    """Σ amount; n = events."""
    # CHOICE: numerator = value, denominator NaN; n = events (actions, new logos, referred new
    # logos, rewards, over-asked contacts).
    if u.empty:
        return None
    value = float(u["amount"].sum())
    return {"value": value, "numerator": value, "denominator": NAN, "n": int(u["ev"].sum())}


def closed(u: pd.DataFrame, ctx: Ctx) -> Result:
    """Units whose window closed by as_of count; the others are pending_n."""
    if u.empty:
        return None
    done = u[u["closed"].astype(bool)]
    num, den = float(done["x"].sum()), float(len(done))
    # CHOICE: a population of pending units only still has a row: value NaN, n = 0.
    return {"value": num / den if den else NAN, "numerator": num, "denominator": den,
            "n": len(done), "pending_n": len(u) - len(done)}  # fmt: skip


def per_contact(u: pd.DataFrame, ctx: Ctx) -> Result:
    """Asks ÷ distinct contacts asked."""
    # CHOICE: n = distinct contacts asked (the units of the ratio).
    if u.empty:
        return None
    contacts = int(u["contact"].nunique())
    return {"value": len(u) / contacts, "numerator": float(len(u)),
            "denominator": float(contacts), "n": contacts}  # fmt: skip


def gini(counts: list[float]) -> float:
    """Σ (2i − n − 1)·x_(i) ÷ (n·Σx), x ascending, i from 1."""
    # CHOICE: the population Gini, no n/(n − 1) small-sample correction; 0 for one advocate.
    x = sorted(counts)
    n, total = len(x), sum(x)
    return sum((2 * i - n - 1) * v for i, v in enumerate(x, start=1)) / (n * total)


def concentration(u: pd.DataFrame, ctx: Ctx) -> Result:
    """Share of counted actions by the top ⌈10% × advocate accounts⌉ advocate accounts."""
    if u.empty:
        return None
    counts = sorted(u.groupby("_ga").size().tolist(), reverse=True)
    top = (len(counts) + 9) // 10  # ⌈n/10⌉ in integers: 0.1 × 30 is 3.0000000000000004
    num, den = float(sum(counts[:top])), float(sum(counts))
    return {"value": num / den, "numerator": num, "denominator": den, "n": len(counts),
            "extra": {"gini": gini([float(c) for c in counts])}}  # fmt: skip


def grr(u: pd.DataFrame, ctx: Ctx) -> Result:
    """Σ min(MRR_end, MRR_start) ÷ Σ MRR_start over the starting base."""
    if u.empty:
        return None
    num, den = float(u[["start", "end"]].min(axis=1).sum()), float(u["start"].sum())
    return {"value": num / den, "numerator": num, "denominator": den, "n": len(u)}


def nrr(u: pd.DataFrame, ctx: Ctx) -> Result:
    """Σ MRR_end ÷ Σ MRR_start over the starting base."""
    if u.empty:
        return None
    num, den = float(u["end"].sum()), float(u["start"].sum())
    return {"value": num / den, "numerator": num, "denominator": den, "n": len(u)}


def share(u: pd.DataFrame, ctx: Ctx) -> Result:
    """Units with x = 1 ÷ units (logo retention)."""
    if u.empty:
        return None
    num, den = float(u["x"].sum()), float(len(u))
    return {"value": num / den, "numerator": num, "denominator": den, "n": len(u)}


def bridge(u: pd.DataFrame, ctx: Ctx) -> Result:
    """value = end MRR; the components in extra; n = accounts in the bridge."""
    if u.empty:
        return None
    parts = {c: float(u[c].sum()) for c in BRIDGE}
    # CHOICE: numerator = end MRR (the value), denominator = start MRR.
    return {"value": parts["end"], "numerator": parts["end"], "denominator": parts["start"],
            "n": len(u), "extra": parts}  # fmt: skip


def median(u: pd.DataFrame, ctx: Ctx) -> Result:
    """Median over the units that have a duration; extra.open_n = the others."""
    if u.empty:
        return None
    done = u["x"].dropna()
    # CHOICE: tickets in the window but none answered/resolved: a row with value NaN, n = 0.
    value = float(done.median()) if len(done) else NAN
    return {"value": value, "numerator": NAN, "denominator": NAN, "n": len(done),
            "extra": {"open_n": int(u["x"].isna().sum())}}  # fmt: skip
