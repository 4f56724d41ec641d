"""Metric families that need event-level rows: logos, referrals, say–do, asks, tickets, rewards."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import ibis
import numpy as np
import pandas as pd
from ibis import _

from advocacy.metrics import intervals as iv
from advocacy.metrics.context import (
    ASK_DIMENSIONS,
    Context,
    first_paid,
    in_months,
    unbilled_accounts,
)
from advocacy.metrics.frames import f64, ratio, result
from advocacy.metrics.grouping import GROUP_KEYS, Work, attach_group, drop_right, request
from advocacy.metrics.order_stats import order_statistics
from advocacy.metrics.rollup import counted, in_window
from advocacy.metrics.spec import Basis, Family, MetricDef

Frame = pd.DataFrame
DAY = 86400


def seconds(ts: Any) -> Any:
    """Epoch seconds with milliseconds, alike on every backend (DESIGN §11: durations).

    Spark's epoch_seconds() truncates fractions, and `3600.0` becomes a DECIMAL there; whole
    seconds plus milliseconds as float64 give the same number everywhere.
    """
    return ts.epoch_seconds().floor().cast("float64") + ts.millisecond().cast("float64") / 1000


def _new_logos(ctx: Context) -> Any:
    """New accounts per period: first paid month in the window, or created_at without revenue.

    `first_start`/`first_end` bound that first month as local-midnight UTC instants (for an
    account without revenue, the month of its created_at).
    """
    months = ctx.month_instants()
    paid = in_months(ctx, first_paid(ctx), "first_month", "w_start_date", "w_end_date")
    paid = paid.join(months, paid.first_month == months.m_month)
    paid = paid.select(
        "account_id",
        "period_label",
        "first_month",
        "first_mrr",
        first_start=paid.m_start,
        first_end=paid.m_end,
    )
    dated = unbilled_accounts(ctx)
    dated = in_window(ctx, dated, "created_at", known_only=False)
    # A range join: only the months the windows span can hold such a created_at.
    spanned = months.filter(
        (months.m_month >= min(p.window_start_date for p in ctx.periods))
        & (months.m_month < max(p.end_date for p in ctx.periods))
    )
    dated = dated.join(
        spanned, (dated.created_at >= spanned.m_start) & (dated.created_at < spanned.m_end)
    )
    dated = dated.select("account_id", "period_label", first_month=dated.m_month, first_mrr=ibis.literal(0.0),
                         first_start=dated.m_start, first_end=dated.m_end)  # fmt: skip
    return paid.union(dated)


def _referrers(ctx: Context, logos: Any) -> Any:
    """Referred new logos with their referrer (DESIGN §5 referred_new_logo_share)."""
    # Known accounts, not the filtered ones: a new logo is referred whoever referred it, and
    # referral_new_arr applies the filters to the referrer when it gives rows their group.
    accounts = ctx.known.select("account_id", "referred_by_account_id")
    acts = ctx.source.table("advocacy_actions").filter(
        (_.action_type == "referral") & _.referred_account_id.notnull()
    )
    acts = acts.filter(acts.occurred_at < ctx.cutoff).semi_join(
        ctx.known.select("account_id"), "account_id"
    )
    x = logos.join(accounts, "account_id")
    refs = acts.select(
        ref_acc=_.referred_account_id, referrer=_.account_id, at=_.occurred_at, aid=_.action_id
    )
    hits = x.join(refs, x.account_id == refs.ref_acc)
    lookback = seconds(hits.first_start) - 365 * DAY
    hits = hits.filter((seconds(hits.at) >= lookback) & (hits.at < hits.first_end))
    rank = ibis.row_number().over(
        group_by=[hits.account_id, hits.period_label], order_by=[hits.at, hits.aid]
    )
    earliest = (
        hits.mutate(rk=rank)
        .filter(_.rk == 0)
        .select("account_id", "period_label", act_referrer=_.referrer)
    )
    out = drop_right(x.left_join(earliest, ["account_id", "period_label"]))
    return out.mutate(referrer=ibis.coalesce(out.referred_by_account_id, out.act_referrer))


def new_logos(ctx: Context, m: MetricDef, basis: Basis) -> Work:
    part = m.param("part")
    ref = ctx.memo(
        "new_logos",
        lambda: _referrers(ctx, _new_logos(ctx)).mutate(referred=_.referrer.notnull().ifelse(1, 0)),
    )
    if part == "count":
        g = yield request(attach_group(ctx, ref), x=_.count())
        return result(g, value=g.x, numerator=g.x, n=g.x)
    if part == "referred_share":
        g = yield request(attach_group(ctx, ref), n=_.count(), x=_.referred.sum())
        lo, hi = iv.wilson(f64(g, "x"), f64(g, "n"), ctx.settings.stats.confidence)
        return result(
            g, value=ratio(g.x, g.n), numerator=g.x, denominator=g.n, n=g.n, ci_low=lo, ci_high=hi
        )
    referred = ref.filter(ref.referrer.notnull()).mutate(arr=12 * _.first_mrr)
    by_referrer = referred.select(account_id=_.referrer, period_label=_.period_label, arr=_.arr)
    g = yield request(attach_group(ctx, by_referrer), n=_.count(), x=_.arr.sum())
    return result(g, value=g.x, numerator=g.x, n=g.n)


def referral_conversion(ctx: Context, m: MetricDef, basis: Basis) -> Work:
    """Referrals converted within the window; open windows pending; already-paying excluded."""
    days = int(m.param("window_days", 180))
    referrals = ctx.source.table("advocacy_actions").filter(_.action_type == "referral")
    acts = in_window(ctx, referrals, "occurred_at", known_only=False)  # attach_group filters
    months = ctx.month_instants()
    first = first_paid(ctx)
    first = first.join(months, first.first_month == months.m_month)
    first = first.select(ref_acc=first.account_id, first_start=first.m_start, first_end=first.m_end)
    x = acts.left_join(first, acts.referred_account_id == first.ref_acc)
    # Already paying: the first paid month ended before the referral. A first paid month that
    # holds the referral day counts as converted (refer on the 10th, sign on the 20th).
    before = x.first_end.notnull() & (x.first_end <= x.occurred_at)
    x = x.filter(~before)
    closed = (seconds(x.occurred_at) + days * DAY) <= seconds(ibis.literal(ctx.cutoff))
    converted = x.first_start.notnull() & (
        seconds(x.first_start) < seconds(x.occurred_at) + days * DAY
    )
    t = attach_group(
        ctx, x.mutate(closed=closed.ifelse(1, 0), conv=(closed & converted).ifelse(1, 0))
    )
    g = yield request(t, total=_.count(), n=_.closed.sum(), x=_.conv.sum())
    lo, hi = iv.wilson(f64(g, "x"), f64(g, "n"), ctx.settings.stats.confidence)
    return result(g, value=ratio(g.x, g.n), numerator=g.x, denominator=g.n, n=g.n,
                  pending_n=g.total - g.n, ci_low=lo, ci_high=hi)  # fmt: skip


def say_do(ctx: Context, m: MetricDef, basis: Basis) -> Work:
    """Promoter responses whose account did no counted action in [responded_at, +90 days)."""
    days = int(m.param("days", 90))
    resp = in_window(
        ctx,
        ctx.source.table("survey_responses").filter((_.survey == "nps") & (_.score >= 9)),
        "responded_at",
        known_only=False,  # attach_group keeps the request's accounts
    )
    acts = ctx.source.table("advocacy_actions")
    acts = acts.filter(counted(acts) & (acts.occurred_at < ctx.cutoff)).select(
        a_acc=_.account_id, at=_.occurred_at
    )
    hit = resp.join(acts, (resp.account_id == acts.a_acc) & (acts.at >= resp.responded_at)
                    & (seconds(acts.at) < seconds(resp.responded_at) + days * DAY))  # fmt: skip
    did = hit.select("response_id").distinct().mutate(did=ibis.literal(1))
    x = drop_right(resp.left_join(did, "response_id"))
    closed = (seconds(x.responded_at) + days * DAY) <= seconds(ibis.literal(ctx.cutoff))
    x = attach_group(
        ctx, x.mutate(closed=closed.ifelse(1, 0), gap=(closed & x.did.isnull()).ifelse(1, 0))
    )
    per_acc = x.group_by(["account_id", "period_label", "grp"]).agg(
        nc=_.closed.sum(), y=_.gap.sum(), total=_.count()
    )
    g = yield request(per_acc, total=_.total.sum(), n=_.nc.sum(), x=_.y.sum(), clusters=(_.nc > 0).ifelse(1, 0).sum(),
                  yy=(_.y * _.y).sum(), yn=(_.y * _.nc).sum(), nn=(_.nc * _.nc).sum())  # fmt: skip
    value, lo, hi, se = iv.share_clustered(g, ctx.settings.stats.confidence)
    return result(g, value=value, numerator=g.x, denominator=g.n, n=g.n, pending_n=g.total - g.n,
                  ci_low=lo, ci_high=hi, se=se)  # fmt: skip


def _asks(ctx: Context, *, surveys: bool) -> Any:
    # attach_group keeps the request's accounts; grouped by an ask column, the window must.
    by_ask = ctx.request.by in ASK_DIMENSIONS
    asks = in_window(ctx, ctx.source.table("asks"), "asked_at", known_only=by_ask)
    if not surveys:
        asks = asks.filter(asks.ask_type != "survey")
    if by_ask:
        return asks.mutate(grp=asks[ctx.request.by].fill_null("(none)"))
    return attach_group(ctx, asks)


def asks_metric(ctx: Context, m: MetricDef, basis: Basis) -> Work:
    part = m.param("part")
    if part == "per_contact":
        asks = _asks(ctx, surveys=False).filter(_.contact_id.notnull())
        g = yield request(asks, x=_.count(), n=_.contact_id.nunique())
        return result(g, value=ratio(g.x, g.n), numerator=g.x, denominator=g.n, n=g.n)
    if part == "over_asked":
        return (yield from _over_asked(ctx))
    surveys = ctx.request.include_surveys
    x = ctx.memo(f"asks_settled_{surveys}", lambda: _asks_with_outcomes(ctx, surveys=surveys))
    expired = x.expires_at.notnull() & (x.expires_at <= ctx.cutoff)
    settled = (x.settled.fill_null(0) == 1) | expired
    hit = x.accepted if part == "accepted" else x.completed
    t = x.mutate(s=settled.ifelse(1, 0), h=(settled & (hit.fill_null(0) == 1)).ifelse(1, 0))
    g = yield request(t, total=_.count(), n=_.s.sum(), x=_.h.sum())
    lo, hi = iv.wilson(f64(g, "x"), f64(g, "n"), ctx.settings.stats.confidence)
    return result(g, value=ratio(g.x, g.n), numerator=g.x, denominator=g.n, n=g.n,
                  pending_n=g.total - g.n, ci_low=lo, ci_high=hi)  # fmt: skip


def _asks_with_outcomes(ctx: Context, *, surveys: bool) -> Any:
    """Asks of the period windows with their latest outcome and settled/accepted flags."""
    asks = _asks(ctx, surveys=surveys)
    # Only the outcomes of these asks are ranked: the request's windows hold a few of them.
    out = ctx.source.table("ask_outcomes").filter(_.at < ctx.cutoff)
    ids = asks.select(o_ask=asks.ask_id)
    out = out.semi_join(ids, out.ask_id == ids.o_ask)
    rank = ibis.row_number().over(
        group_by=out.ask_id, order_by=[ibis.desc(out.at), ibis.desc(out.seq)]
    )
    latest = out.mutate(rk=rank).filter(_.rk == 0).select(l_ask=_.ask_id, latest=_.status)
    flags = (
        out.group_by("ask_id")
        .agg(
            settled=out.status.isin(["completed", "declined", "expired"]).ifelse(1, 0).max(),
            accepted=out.status.isin(["accepted", "completed"]).ifelse(1, 0).max(),
            completed=(out.status == "completed").ifelse(1, 0).max(),
        )
        .rename(f_ask="ask_id")
    )
    j = asks.left_join(latest, asks.ask_id == latest.l_ask)
    x = j.left_join(flags, j.ask_id == flags.f_ask)
    x = x.filter(x.latest.isnull() | (x.latest != "withdrawn"))
    # Only what the ask metrics read: the materialised table stays narrow.
    return x.select(
        "account_id", "period_label", "grp", "expires_at", "settled", "accepted", "completed"
    )


def _over_asked(ctx: Context, cap: int = 1, days: int = 90) -> Work:
    """Contacts for whom some window (t − 90 days, t] overlapping the period holds > cap asks.

    Asks a_i ≤ a_k (k = i + cap) fit one such window iff a_k − a_i < 90 days, a_i > start − 90
    days and a_k < end + 90 days. A contact is grouped by the account of its latest ask.
    """
    asks = ctx.source.table("asks").filter(
        (_.ask_type != "survey") & _.contact_id.notnull() & (_.asked_at < ctx.cutoff)
    )
    asks = asks.semi_join(ctx.accounts.select("account_id"), "account_id")
    # One ordering for both (one sort): the frame is the contact's every ask, so the last is
    # the latest ask.
    order = ibis.window(group_by=asks.contact_id, order_by=[asks.asked_at, asks.ask_id])
    x = asks.mutate(
        nxt=asks.asked_at.lead(cap).over(order), home=asks.account_id.last().over(order)
    )
    span = days * DAY
    x = x.filter(x.nxt.notnull() & (seconds(x.nxt) - seconds(x.asked_at) < span))
    cal = ctx.cal
    hit = x.join(
        cal,
        (seconds(x.asked_at) > seconds(cal.w_start) - span)
        & (seconds(x.nxt) < seconds(cal.p_end) + span),
    )
    per_contact = hit.select("contact_id", "period_label", account_id=hit.home).distinct()
    g = yield request(attach_group(ctx, per_contact), x=_.count())
    _note_open_windows(ctx, days)
    extra = [{"cap": cap, "window_days": days}] * len(g)
    return result(g, value=g.x, numerator=g.x, n=g.x, extra=extra)


def _note_open_windows(ctx: Context, days: int) -> None:
    """Say which closed periods can still gain over-asked contacts: a window overlapping a
    period reaches `days` past its end, so later asks can still fill one. DESIGN §4 lists no
    unit whose pending_n could count this (any contact may yet be asked twice), so it is a note."""
    reach = timedelta(days=days)
    open_ = [p for p in ctx.periods if p.end <= ctx.cutoff < p.end + reach]
    if open_:
        labels = ", ".join(p.label for p in open_)
        until = (max(p.end_date for p in open_) + reach).isoformat()
        note = (
            f"over_asked_contacts: {labels} can still rise with asks made before {until} (a "
            f"{days}-day window overlapping a period reaches past its end)"
        )
        if note not in ctx.notes:  # `--ci bootstrap` computes the metric again per chunk
            ctx.notes.append(note)


def ticket_median(ctx: Context, m: MetricDef, basis: Basis) -> Work:
    """Median hours (epoch-second differences) with a distribution-free interval.

    The counts join the request's batched round; then the middle order statistics (the
    median, the mean of the two middle ones for an even count) and the interval's (the ranks
    from `intervals.median_ranks`) are picked per group (`order_stats`).
    """
    tickets = ctx.memo("tickets", lambda: _tickets(ctx))
    t = tickets.select(*GROUP_KEYS, h=tickets[m.param("column")])
    g = yield request(t, n=_.h.count(), total=_.count())
    picked = _median_and_bounds(ctx, t, g)
    extra = [{"open_n": int(a - b)} for a, b in zip(g.total, g.n, strict=True)]
    return result(
        g, value=picked["value"], n=g.n, ci_low=picked["lo"], ci_high=picked["hi"], extra=extra
    )


def _tickets(ctx: Context) -> Any:
    """Tickets opened in the period windows, in their account's group, with the hours to each
    milestone reached before as_of (NULL otherwise): what both medians read, and only that."""
    tickets = in_window(ctx, ctx.source.table("tickets"), "opened_at", known_only=False)
    opened = seconds(tickets.opened_at)

    def hours(column: str) -> Any:
        done = tickets[column].notnull() & (tickets[column] < ctx.cutoff)
        return done.ifelse((seconds(tickets[column]) - opened) / 3600.0, ibis.null("float64"))

    rows = tickets.select(
        "account_id",
        "period_label",
        first_response_at=hours("first_response_at"),
        resolved_at=hours("resolved_at"),
    )
    return attach_group(ctx, rows).drop("account_id")


def _median_and_bounds(ctx: Context, t: Any, g: Frame) -> Frame:
    """(value, lo, hi) per row of g: the median and the interval's order statistics of `h`."""
    n = f64(g, "n")
    ranks = iv.median_ranks(n, ctx.settings.stats.confidence)
    wanted = {"l": ranks[0], "u": ranks[1], "m1": np.floor((n + 1) / 2), "m2": np.floor(n / 2) + 1}
    keys = g[GROUP_KEYS].reset_index(drop=True)
    long = pd.concat(
        [keys.assign(which=name, r=np.where(n > 0, r, np.nan)) for name, r in wanted.items()],
        ignore_index=True,
    )
    # NaN marks a rank the level doesn't reach (small n) or an empty group.
    long = long[long["r"].notna()].astype({"r": "int64"})
    picked = order_statistics(t, long, with_total=ctx.request.by is not None)
    merged = keys
    for name in wanted:
        part = picked.loc[picked["which"] == name, [*GROUP_KEYS, "value"]]
        merged = merged.merge(part.rename(columns={"value": name}), on=GROUP_KEYS, how="left")
    merged["value"] = (f64(merged, "m1") + f64(merged, "m2")) / 2
    return merged.rename(columns={"l": "lo", "u": "hi"})[[*GROUP_KEYS, "value", "lo", "hi"]]


def rewards(ctx: Context, m: MetricDef, basis: Basis) -> Work:
    given = in_window(ctx, ctx.source.table("rewards"), "given_at", known_only=False)
    rows = attach_group(ctx, given)
    g = yield request(
        rows, n=_.count(), cost=_.value.sum(), x=(_.kind == "monetary").ifelse(1, 0).sum()
    )
    if m.param("part") == "cost":
        return result(g, value=g.cost, numerator=g.cost, n=g.n)
    lo, hi = iv.wilson(f64(g, "x"), f64(g, "n"), ctx.settings.stats.confidence)
    return result(
        g, value=ratio(g.x, g.n), numerator=g.x, denominator=g.n, n=g.n, ci_low=lo, ci_high=hi
    )


EVENT_FAMILIES: dict[Family, Callable[[Context, MetricDef, Basis], Work | Frame]] = {
    Family.NEW_LOGOS: new_logos,
    Family.REFERRAL: referral_conversion,
    Family.SAY_DO: say_do,
    Family.ASKS: asks_metric,
    Family.TICKET_MEDIAN: ticket_median,
    Family.REWARDS: rewards,
}
