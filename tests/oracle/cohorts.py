"""Cohort retention curves (DESIGN §5, `advocacy cohorts`)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from .data import Data
from .settings import DEFAULT_SETTINGS, OracleSettings
from .timegrid import add_months, months_between, period_label, period_start_containing


def cohorts(
    tables: dict[str, pd.DataFrame],
    *,
    measure: str = "accounts",
    by: str | None = None,
    as_of: date,
    settings: OracleSettings = DEFAULT_SETTINGS,
) -> pd.DataFrame:
    """Rows ``cohort, k, base, retained, value[, by]``.

    A cohort is the fiscal quarter (label) of the accounts' first month with MRR > 0; k counts
    months from each account's first paid month. ``accounts``: share with MRR > 0 at k; ``mrr``:
    Σ MRR at k ÷ Σ MRR at k = 0. ``by`` is an account column or ``referred`` (True/False); with
    ``by``, each cohort also has its total rows (``by`` = None).
    """
    if measure not in ("accounts", "mrr"):
        raise ValueError(f"unknown measure {measure!r}")
    # CHOICE: with ``by``, each cohort keeps its total curve (``by`` = None) and each group's curve
    # is cut at its own last complete point; cohort labels are the quarter period labels.
    d = Data(tables, as_of, settings)
    members: dict[date, list[str]] = {}
    for a in d.accounts.index:
        fpm = d.first_paid_month(a)
        # Accounts that never paid have no curve (there is no month 0).
        if fpm is not None:
            members.setdefault(
                period_start_containing(fpm, "quarter", settings.fiscal_start_month), []
            ).append(a)
    rows: list[dict[str, Any]] = []
    for q in sorted(members):
        label, accs = period_label(q, "quarter", settings), members[q]
        rows += _curve(d, label, accs, measure, by, None)
        if by is not None:
            key = _keys(d, accs, by, q)
            for k in sorted(set(key.values()), key=str):
                rows += _curve(d, label, [a for a in accs if key[a] == k], measure, by, k)
    cols = ["cohort", "k", "base", "retained", "value"] + ([by] if by is not None else [])
    return pd.DataFrame(rows, columns=cols)


def _keys(d: Data, accs: list[str], by: str, quarter: date) -> dict[str, Any]:
    if by == "referred":
        return {a: d.referral(a)[0] for a in accs}
    # CHOICE: a cohort's dimension value is the attribute as of the cohort quarter's start.
    attrs = d.attributes(by, d.month_utc(quarter))
    return {a: attrs[a] for a in accs}


def _curve(
    d: Data, label: str, accs: list[str], measure: str, by: str | None, key: Any
) -> list[dict[str, Any]]:
    fpm = {a: m for a in accs if (m := d.first_paid_month(a)) is not None}
    # CHOICE: a point (cohort, k) exists only when month fpm + k is complete by as_of for *every*
    # account of the cohort: points past as_of are absent, and the base stays the whole cohort.
    last_k = min(months_between(m, d.last_complete_month) for m in fpm.values())
    rows = []
    for k in range(last_k + 1):
        at_k = [d.mrr(a, add_months(m, k)) for a, m in fpm.items()]
        if measure == "accounts":
            base, kept = float(len(fpm)), float(sum(v > 0 for v in at_k))
        else:
            base, kept = sum(d.mrr(a, m) for a, m in fpm.items()), sum(at_k)
        row = {"cohort": label, "k": k, "base": base, "retained": kept, "value": kept / base}
        rows.append(row | ({by: key} if by is not None else {}))
    return rows
