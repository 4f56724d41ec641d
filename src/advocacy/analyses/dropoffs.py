"""Drop-offs after product changes (DESIGN §6): did advocacy fall after a release, and where?

For each change and each value of its scope (every segment when unscoped), plus all accounts, the
8 weeks before the release are compared with the 8 weeks after (cut at as_of) on four signals:
counted actions and counted referrals per active account-week (rate ratio, quasi-Poisson), NPS and
review rating (difference, cluster-robust z). A scoped change is compared against the accounts out
of its scope (difference-in-differences). p-values are one-sided (H1: a drop), since only drops are
flagged; intervals are two-sided. Benjamini–Hochberg runs across every test; the same tests at
Mondays without a release give the false-alarm rate this data actually produces.

Options (``ws.analyze("dropoffs", min_effect=0.2, ...)``): ``min_effect``, ``window_weeks`` (8),
``placebo_dates`` (60), ``placebo_seed`` (0), ``tolerance_weeks`` (3, change points).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from advocacy.analyses import AnalysisOptions, AnalysisResult
from advocacy.analyses.changepoints import change_points
from advocacy.analyses.common import checked_as_of
from advocacy.analyses.dropoff_data import (
    Accounts,
    Panel,
    SlotSums,
    active_spans,
    first_data_day,
    load_accounts,
    slot_sums,
    week_grid,
    weekly_slots,
)
from advocacy.analyses.dropoff_family import (
    RATIO_SIGNALS,
    GroupStats,
    Method,
    Signal,
    WindowSums,
    is_drop,
    run_signal,
)
from advocacy.analyses.dropoff_placebo import (
    Calibration,
    GroupSpec,
    calibrate,
    candidate_weeks,
    dimension_codes,
    pick_dates,
)
from advocacy.analyses.dropoff_quiet import ChangeWindows, quiet_accounts
from advocacy.config import Settings
from advocacy.errors import UserError
from advocacy.metrics.calendar import end_of_day, utc_instant
from advocacy.metrics.source import Source
from advocacy.metrics.stats import benjamini_hochberg

COLUMNS = [
    "change_id", "released_at", "dimension", "value", "signal", "method", "pre_value",
    "post_value", "ratio", "diff", "ci_low", "ci_high", "p_value", "q_value", "flagged",
    "placebo_false_alarm_rate", "placebo_dates", "pre_n", "post_n", "notes",
]  # fmt: skip
Q_LEVEL = 0.05
SEGMENT = "segment"


@dataclass(frozen=True)
class DropoffConfig:
    min_effect: float = 0.2
    window_weeks: int = 8
    placebo_dates: int = 60
    placebo_seed: int = 0
    tolerance_weeks: int = 3

    @classmethod
    def create(cls, extra: dict[str, Any]) -> DropoffConfig:
        known = set(cls.__dataclass_fields__)
        unknown = set(extra) - known
        if unknown:
            raise UserError(f"dropoffs: unknown option(s) {', '.join(sorted(unknown))}")
        cfg = cls(**extra)
        if not 0 < cfg.min_effect < 1:
            raise UserError("dropoffs: min_effect must be between 0 and 1")
        if cfg.window_weeks < 1 or cfg.placebo_dates < 0:
            raise UserError("dropoffs: window_weeks must be ≥ 1 and placebo_dates ≥ 0")
        return cfg


@dataclass(frozen=True)
class Change:
    change_id: str
    name: str
    released_at: datetime
    scope_dimension: str | None
    scope_value: str | None


def run(source: Source, settings: Settings, options: AnalysisOptions) -> AnalysisResult:
    """Rows of DESIGN §8 plus parts ``changepoints`` and ``quiet``.

    Example: ``ws.analyze("dropoffs").part("quiet")``; ``--from/--to`` keep the changes released
    in that range.
    """
    cfg = DropoffConfig.create(dict(options.extra))
    as_of = checked_as_of(source, settings, options)
    cutoff = end_of_day(as_of, settings.calendar)
    tz = ZoneInfo(settings.calendar.timezone)
    changes = _changes(source, options, cutoff, tz)
    panel = _panel(source, changes, as_of, cutoff, tz)
    width = timedelta(weeks=cfg.window_weeks)
    windows = _windows(source, panel, changes, width)
    conf = settings.stats.confidence
    rows = [
        row
        for change, w in zip(changes, windows, strict=True)
        for row in _change_rows(
            change, w.sums, panel, conf, _overlap_note(change, changes, width, cutoff)
        )
    ]
    main = flag_rows(pd.DataFrame(rows, columns=COLUMNS), cfg)
    calibration = _calibrate(panel, changes, main, cfg, conf)
    main["placebo_false_alarm_rate"] = [
        calibration.rate(Signal(s), Method(m))
        for s, m in zip(main["signal"], main["method"], strict=True)
    ]
    main["placebo_dates"] = len(calibration.dates)
    releases = {c.change_id: c.released_at for c in changes}
    parts = {
        "main": main,
        "changepoints": change_points(panel, releases, cfg.tolerance_weeks, SEGMENT),
        "quiet": quiet_accounts(panel.accounts, windows),
    }
    sentence = _sentence(main, calibration, _scope_notes(changes, panel.accounts))
    return AnalysisResult("dropoffs", sentence, parts)


def _panel(
    source: Source, changes: list[Change], as_of: date, cutoff: datetime, tz: ZoneInfo
) -> Panel:
    """The per-account aggregates every test reads, pulled once."""
    dims = sorted({SEGMENT} | {c.scope_dimension for c in changes if c.scope_dimension})
    accounts = load_accounts(source, cutoff, dims)
    weeks = week_grid(first_data_day(source, cutoff), cutoff, tz)
    spans = active_spans(source, accounts, weeks, cutoff, as_of, tz)
    weekly = slot_sums(source, accounts, cutoff, weekly_slots(weeks))
    return Panel(accounts, weeks, spans, weekly, cutoff)


def _windows(
    source: Source, panel: Panel, changes: list[Change], width: timedelta
) -> list[ChangeWindows]:
    """Per-account sums of each change's exact pre and post windows."""
    exact = slot_sums(
        source, panel.accounts, panel.cutoff, _window_slots(changes, width, panel.cutoff)
    )
    return [
        ChangeWindows(c.change_id, c.released_at, c.scope_dimension, c.scope_value,
                      _change_sums(panel, exact, i, c, width))
        for i, c in enumerate(changes)
    ]  # fmt: skip


def _scope_notes(changes: list[Change], accounts: Accounts) -> list[str]:
    return [
        f"{c.change_id}: scope '{c.scope_dimension}' is not an account column, tested per segment."
        for c in changes
        if c.scope_dimension and c.scope_dimension not in accounts.current
    ]


def _changes(
    source: Source, options: AnalysisOptions, cutoff: datetime, tz: ZoneInfo
) -> list[Change]:
    """Changes released before as_of (within --from/--to when given)."""
    if not source.has("product_changes"):
        raise UserError("dropoffs need product changes: import a product_changes file first")
    frame = source.table("product_changes").to_pandas()
    out = []
    for row in frame.sort_values(["released_at", "change_id"]).itertuples(index=False):
        released = pd.Timestamp(row.released_at).to_pydatetime()
        if options.start and released < utc_instant(options.start, tz):
            continue
        if (options.end and released >= utc_instant(options.end, tz)) or released >= cutoff:
            continue
        dim = row.scope_dimension if isinstance(row.scope_dimension, str) else None
        value = row.scope_value if isinstance(row.scope_value, str) else None
        out.append(Change(str(row.change_id), str(row.name), released, dim, value if dim else None))
    if not out:
        raise UserError("no product change was released in the range before as_of")
    return out


def _window_slots(changes: list[Change], width: timedelta, cutoff: datetime) -> pd.DataFrame:
    """Slot 2i is change i's pre window, 2i + 1 its post window (cut at as_of)."""
    rows = []
    for i, c in enumerate(changes):
        rows.append((2 * i, c.released_at - width, c.released_at))
        rows.append((2 * i + 1, c.released_at, min(c.released_at + width, cutoff)))
    frame = pd.DataFrame(rows, columns=["slot", "s_start", "s_end"])
    frame["s_start"] = pd.to_datetime(frame["s_start"])
    frame["s_end"] = pd.to_datetime(frame["s_end"])
    return frame


def _change_sums(
    panel: Panel, exact: SlotSums, i: int, change: Change, width: timedelta
) -> WindowSums:
    n, weeks = panel.accounts.n, panel.weeks
    r = change.released_at
    pre = exact.window(2 * i, 2 * i + 1, n)
    post = exact.window(2 * i + 1, 2 * i + 2, n)
    pre["exposure"] = panel.spans.exposure(weeks.index_of(r - width), weeks.index_of(r), n)
    end = min(r + width, panel.cutoff)
    post["exposure"] = panel.spans.exposure(weeks.index_of(r), weeks.index_of(end), n)
    return WindowSums(pre, post)


def _specs(change: Change, accounts: Accounts) -> list[GroupSpec]:
    out = [GroupSpec(None, None, Method.PRE_POST)]
    dim, value = change.scope_dimension, change.scope_value
    if dim and value is not None and dim in accounts.current:
        out.append(GroupSpec(dim, value, Method.DID))
    elif SEGMENT in accounts.current:
        segments = sorted(set(accounts.as_of(SEGMENT, change.released_at).astype(str)))
        out += [GroupSpec(SEGMENT, v, Method.PRE_POST) for v in segments]
    return out


def _change_rows(
    change: Change, sums: WindowSums, panel: Panel, conf: float, note: str | None
) -> list[dict[str, Any]]:
    rows = []
    stats: dict[str | None, tuple[GroupStats, list[str]]] = {}
    for spec in _specs(change, panel.accounts):
        if spec.dimension not in stats:
            codes, values = dimension_codes(panel, spec.dimension, change.released_at)
            stats[spec.dimension] = (GroupStats.of(sums, codes, len(values)), values)
        group, values = stats[spec.dimension]
        if (spec.value or "") not in values:
            continue
        code = values.index(spec.value or "")
        for signal in Signal:
            o = run_signal(signal, group, code, spec.method is Method.DID, conf)
            ratio = signal in RATIO_SIGNALS
            rows.append({
                "change_id": change.change_id, "released_at": change.released_at,
                "dimension": spec.dimension, "value": spec.value, "signal": signal.value,
                "method": spec.method.value, "pre_value": o.pre, "post_value": o.post,
                "ratio": o.estimate if ratio else None, "diff": None if ratio else o.estimate,
                "ci_low": o.lo, "ci_high": o.hi, "p_value": o.p_value, "pre_n": o.pre_n,
                "post_n": o.post_n, "notes": note,
            })  # fmt: skip
    return rows


def _overlap_note(
    change: Change, changes: list[Change], width: timedelta, cutoff: datetime
) -> str | None:
    near = [
        c.change_id
        for c in changes
        if c is not change and abs(c.released_at - change.released_at) < 2 * width
    ]
    parts = [f"windows overlap {', '.join(near)}"] if near else []
    if change.released_at + width > cutoff:
        days = (cutoff - change.released_at).days
        parts.append(f"post window cut at as_of ({days} days)")
    return "; ".join(parts) or None


def flag_rows(main: pd.DataFrame, cfg: DropoffConfig) -> pd.DataFrame:
    """q-values by Benjamini–Hochberg across every test, and the flag rule of DESIGN §6."""
    for col in ("pre_value", "post_value", "ratio", "diff", "ci_low", "ci_high", "p_value"):
        main[col] = pd.to_numeric(main[col], errors="coerce").astype("float64")
    main["q_value"] = benjamini_hochberg(main["p_value"].to_numpy())
    est = main["ratio"].where(main["ratio"].notna(), main["diff"])
    main["flagged"] = [
        bool(q < Q_LEVEL and is_drop(Signal(s), float(e), cfg.min_effect))
        for q, s, e in zip(
            main["q_value"].fillna(1.0), main["signal"], est.fillna(math.nan), strict=True
        )
    ]
    return main


def _calibrate(
    panel: Panel, changes: list[Change], main: pd.DataFrame, cfg: DropoffConfig, conf: float
) -> Calibration:
    specs = {
        GroupSpec(d if isinstance(d, str) else None, v if isinstance(v, str) else None, Method(m))
        for d, v, m in zip(main["dimension"], main["value"], main["method"], strict=True)
    }
    releases = [c.released_at for c in changes]
    strict, relaxed = candidate_weeks(panel, releases, cfg.window_weeks)
    dates = pick_dates(strict, relaxed, cfg.placebo_dates, cfg.placebo_seed)
    ordered = sorted(specs, key=lambda g: (g.dimension or "", g.value or "", g.method.value))
    return calibrate(
        panel, dates, ordered, weeks=cfg.window_weeks, conf=conf, min_effect=cfg.min_effect
    )


def _describe(row: Any) -> str:
    where = "all accounts" if pd.isna(row.dimension) else f"{row.dimension} = {row.value}"
    if row.signal in (Signal.ACTIONS, Signal.REFERRALS):
        what = (
            f"counted {'actions' if row.signal == Signal.ACTIONS else 'referrals'} per active "
            f"account-week ×{row.ratio:.2f} (95% CI {row.ci_low:.2f}–{row.ci_high:.2f})"
        )
    else:
        unit = "points" if row.signal == Signal.NPS else "stars"
        label = "NPS" if row.signal == Signal.NPS else "review rating"
        what = f"{label} {row.diff:+.1f} {unit} ({row.ci_low:+.1f} to {row.ci_high:+.1f})"
    method = "vs out-of-scope accounts" if row.method == Method.DID else "vs the weeks before"
    return f"{row.change_id} in {where}, {what} {method}, q = {row.q_value:.2g}"


def _sentence(main: pd.DataFrame, calibration: Calibration, notes: list[str]) -> str:
    flagged = main[main["flagged"]]
    rate = calibration.rate(Signal.ACTIONS, Method.PRE_POST)
    rate_did = calibration.rate(Signal.ACTIONS, Method.DID)
    placebo = (
        f"at {len(calibration.dates)} dates without a release the same test of counted actions "
        f"flagged a drop {_pct(rate)} of the time (pre/post)"
        + ("" if math.isnan(rate_did) else f", {_pct(rate_did)} (difference-in-differences)")
    )
    if flagged.empty:
        head = (
            f"No product change was followed by a drop that passes the false-discovery control "
            f"(q < {Q_LEVEL}) and the minimum effect, across {len(main)} tests"
        )
    else:
        head = "Drops after product changes: " + "; ".join(
            _describe(r) for r in flagged.itertuples()
        )
    tail = " ".join(notes)
    return f"{head}; {placebo}." + (f" {tail}" if tail else "")


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}%"
