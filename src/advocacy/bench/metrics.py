"""`advocacy bench metrics`: the full metric suite next to the practical limits, in one run.

One demo company is generated at the scale and imported once into a DuckDB workspace (timed, but
not part of any ratio). Then each measurement runs in its own process, so its peak memory is its
own, on the same data:

- ``full-suite``: every metric of the catalogue × segment × quarter over two years (the engine);
- ``engine-five``: the engine on the five headline metrics only (like for like with the next ones);
- ``bare-scan``: one DuckDB scan of every column the suite reads, the physical limit here;
- ``hand-sql``: the five headline metrics as one DuckDB query an analyst would write;
- ``pandas`` and ``polars``: the same five, as an analyst would write them, over the Parquet files.

The five (DESIGN §4–5): ``nps``, ``csat`` (top-2 box share), ``advocacy_rate`` (active accounts with
a counted action ÷ active accounts), ``reviews`` (count) and ``referral_new_arr`` (Σ 12 × MRR of the
first paid month of referred new logos, by the referrer's segment). Every implementation returns
the same long frame (metric, period_label, segment, value, numerator, denominator; segment null =
the total row), and the run checks that each equals the engine's numbers.

Two simplifications an analyst would make, exact here: segments are the accounts' current values
(the engine uses the value as of each period start, which is the current one after a single
import), and accounts that never paid are left out of the new logos (their referral ARR is 0).
The bench workspace has the default settings (UTC calendar, top-2 CSAT).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from importlib.metadata import version
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from rich.console import Console

from advocacy.bench.worker import MeasurementFailed, run_worker
from advocacy.cli.output import Format, emit

START = date(2024, 10, 1)
END = date(2026, 10, 1)
BY = "segment"
FIVE = ("nps", "csat", "advocacy_rate", "reviews", "referral_new_arr")
RESULT_COLUMNS = ["metric", "period_label", "segment", "value", "numerator", "denominator"]
DB_NAME = "bench.duckdb"

#: The canonical columns the metric catalogue reads, per table: what a bare scan must touch.
SCAN_COLUMNS: dict[str, tuple[str, ...]] = {
    "accounts": ("account_id", "segment", "is_test", "created_at", "churned_at",
                 "referred_by_account_id"),
    "revenue": ("account_id", "month", "mrr"),
    "survey_responses": ("response_id", "account_id", "survey", "score", "scale_min",
                         "scale_max", "responded_at"),
    "advocacy_actions": ("action_id", "account_id", "action_type", "occurred_at", "rating",
                         "sentiment", "referred_account_id"),
    "tickets": ("ticket_id", "account_id", "opened_at", "first_response_at", "resolved_at"),
    "asks": ("ask_id", "account_id", "contact_id", "ask_type", "asked_at", "expires_at"),
    "ask_outcomes": ("ask_id", "seq", "status", "at"),
    "rewards": ("reward_id", "account_id", "kind", "value", "given_at"),
}  # fmt: skip
FIVE_TABLES = ("accounts", "revenue", "survey_responses", "advocacy_actions")

KINDS = ("import", "full-suite", "engine-five", "bare-scan", "hand-sql", "pandas", "polars")
COMPARED = ("engine-five", "hand-sql", "pandas", "polars")
#: What each measurement reads (the rows it scans are those tables' rows).
READS = {
    "import": "Parquet → workspace (setup, not in ratios)",
    "full-suite": f"workspace, all metrics × {BY} × quarter",
    "engine-five": "workspace, engine, 5 metrics",
    "bare-scan": "workspace, every column the suite reads",
    "hand-sql": "workspace, hand-written DuckDB SQL, 5 metrics",
    "pandas": "Parquet, pandas, 5 metrics",
    "polars": "Parquet, Polars (lazy), 5 metrics",
}
#: Targets (from the issue) for `target_ratio`: the full suite's seconds ÷ this measurement's,
#: except Polars, whose target is the engine on the same five metrics ("ahead of Polars on the
#: same five"): engine-five seconds ÷ Polars seconds.
TARGETS: dict[str, tuple[float, str]] = {
    "hand-sql": (1.0, "suite < 1× at scale 100"),
    "bare-scan": (3.0, "suite ≤ 3× at scale 100"),
    "polars": (1.0, "engine-five < 1× at scale 10"),
}
#: The measurement each target's ratio divides (the full suite where not named).
TARGET_NUMERATOR = {"polars": "engine-five"}
PEAK_TARGET_MB = 4096.0


# -- the engine ------------------------------------------------------------------------------


def _cutoff(as_of: date) -> datetime:
    """The end of the as_of day (UTC business calendar): later rows are ignored."""
    return datetime.combine(as_of + timedelta(days=1), datetime.min.time())


def engine_rows(con: Any, as_of: date, metrics: tuple[str, ...] | list[str]) -> pd.DataFrame:
    """The engine's rows for `metrics` × segment × quarter over the two benchmark years.

    `con` is a DuckDB connection on the workspace file (read-only is enough); this is what
    ``Workspace.metrics`` runs, minus the migration check that needs a writable store.
    """
    import ibis

    from advocacy.config import Settings
    from advocacy.metrics.engine import query
    from advocacy.metrics.source import Source
    from advocacy.metrics.spec import MetricRequest

    request = MetricRequest.create(list(metrics), by=BY, start=START, end=END, as_of=as_of)
    return query(Source(ibis.duckdb.from_connection(con)), Settings(), request)


def as_result(frame: pd.DataFrame) -> pd.DataFrame:
    """Engine rows (of the five) in the shared long shape, sorted."""
    out = frame.loc[frame["metric"].isin(FIVE), RESULT_COLUMNS].copy()
    return _sorted(out)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[RESULT_COLUMNS].copy()
    out["segment"] = out["segment"].astype(object).where(out["segment"].notna(), None)
    for col in ("value", "numerator", "denominator"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    key = out["segment"].fillna("\uffff")
    out = out.assign(_k=key).sort_values(["metric", "period_label", "_k"], kind="stable")
    return out.drop(columns="_k").reset_index(drop=True)


def compare(expected: pd.DataFrame, actual: pd.DataFrame, *, rtol: float = 1e-9) -> list[str]:
    """Differences between two result frames (empty when they agree to `rtol`)."""
    keys = ["metric", "period_label", "segment"]
    e = _sorted(expected).fillna({"segment": "(total)"})
    a = _sorted(actual).fillna({"segment": "(total)"})
    merged = e.merge(a, on=keys, how="outer", suffixes=("_e", "_a"), indicator="side")
    side = {"left_only": "engine", "right_only": "other"}
    problems = [
        f"{r.metric} {r.period_label} {r.segment}: only in {side[str(r.side)]}"
        for r in merged[merged["side"] != "both"].itertuples()
    ]
    both = merged[merged["side"] == "both"]
    for col in ("value", "numerator", "denominator"):
        x = both[f"{col}_e"].to_numpy(dtype="float64")
        y = both[f"{col}_a"].to_numpy(dtype="float64")
        bad = ~np.isclose(x, y, rtol=rtol, atol=rtol, equal_nan=True)
        problems += [
            f"{r.metric} {r.period_label} {r.segment} {col}: engine {xv!r} vs {yv!r}"
            for r, xv, yv in zip(both[bad].itertuples(), x[bad], y[bad], strict=True)
        ]
    return problems


# -- hand-written DuckDB SQL -----------------------------------------------------------------

HAND_SQL = """
WITH quarters AS (
    SELECT q_start, q_start + INTERVAL 3 MONTH AS q_end,
           least(q_start + INTERVAL 3 MONTH, $cutoff) AS w_end,
           strftime(q_start, '%Y') || '-Q' || quarter(q_start) AS period_label
    FROM range($start, $end, INTERVAL 3 MONTH) AS t(q_start)
),
acc AS (
    SELECT account_id, coalesce(segment, '(none)') AS segment, created_at, churned_at,
           referred_by_account_id
    FROM accounts WHERE NOT coalesce(is_test, false)
),
billed AS (SELECT DISTINCT account_id FROM revenue),
active AS (   -- revenue decides; accounts never billed follow created_at / churned_at
    SELECT r.account_id, date_trunc('quarter', r.month) AS q_start
    FROM revenue r
    WHERE r.mrr > 0 AND r.month >= $start AND r.month < $end
    GROUP BY ALL
    UNION
    SELECT a.account_id, q.q_start
    FROM acc a CROSS JOIN quarters q
    WHERE a.account_id NOT IN (SELECT account_id FROM billed)
      AND a.created_at < q.w_end AND (a.churned_at IS NULL OR a.churned_at >= q.q_start)
),
actions AS (
    SELECT x.account_id, x.action_type, date_trunc('quarter', x.occurred_at) AS q_start,
           x.action_type <> 'other'
             AND (x.action_type <> 'review' OR x.rating IS NULL OR x.rating >= 4)
             AND (x.action_type <> 'social_mention' OR x.sentiment IS NULL OR x.sentiment >= 0)
             AS is_counted
    FROM advocacy_actions x SEMI JOIN acc USING (account_id)
    WHERE x.occurred_at >= $start AND x.occurred_at < least($end, $cutoff)
),
advocates AS (SELECT DISTINCT account_id, q_start FROM actions WHERE is_counted),
rate AS (
    SELECT q.period_label, a.segment, count(*) AS active_n, count(v.account_id) AS advocates
    FROM active t JOIN acc a USING (account_id) JOIN quarters q USING (q_start)
    LEFT JOIN advocates v USING (account_id, q_start)
    GROUP BY GROUPING SETS ((q.period_label, a.segment), (q.period_label))
),
reviews AS (
    SELECT q.period_label, a.segment, count(*) AS n
    FROM actions x JOIN acc a USING (account_id) JOIN quarters q USING (q_start)
    WHERE x.action_type = 'review'
    GROUP BY GROUPING SETS ((q.period_label, a.segment), (q.period_label))
),
surveys AS (
    SELECT q.period_label, a.segment,
           count(*) FILTER (WHERE s.survey = 'nps') AS nps_n,
           count(*) FILTER (WHERE s.survey = 'nps' AND s.score >= 9) AS promoters,
           count(*) FILTER (WHERE s.survey = 'nps' AND s.score <= 6) AS detractors,
           count(*) FILTER (WHERE s.survey = 'csat') AS csat_n,
           count(*) FILTER (WHERE s.survey = 'csat' AND s.score >= CASE
               WHEN s.scale_max - s.scale_min + 1 >= 5 THEN s.scale_max - 1 ELSE s.scale_max END
           ) AS satisfied
    FROM survey_responses s JOIN acc a USING (account_id)
    JOIN quarters q ON q.q_start = date_trunc('quarter', s.responded_at)
    WHERE s.survey IN ('nps', 'csat')
      AND s.responded_at >= $start AND s.responded_at < least($end, $cutoff)
    GROUP BY GROUPING SETS ((q.period_label, a.segment), (q.period_label))
),
first_paid AS (
    SELECT account_id, min(month) AS first_month, arg_min(mrr, month) AS first_mrr
    FROM revenue WHERE mrr > 0 AND month <= $as_of
    GROUP BY account_id
),
new_logos AS (
    SELECT f.account_id, f.first_month, f.first_mrr, a.referred_by_account_id
    FROM first_paid f JOIN acc a USING (account_id)
    WHERE f.first_month >= $start AND f.first_month < $end
),
referral_acts AS (   -- earliest referral naming the logo in [first month − 365 d, its end)
    SELECT n.account_id, arg_min(x.account_id, (x.occurred_at, x.action_id)) AS referrer
    FROM new_logos n
    JOIN advocacy_actions x ON x.referred_account_id = n.account_id
    WHERE x.action_type = 'referral' AND x.occurred_at < $cutoff
      AND x.account_id IN (SELECT account_id FROM acc)
      AND x.occurred_at >= n.first_month - INTERVAL 365 DAY
      AND x.occurred_at < n.first_month + INTERVAL 1 MONTH
    GROUP BY n.account_id
),
referral_arr AS (
    SELECT q.period_label, r.segment, sum(12 * n.first_mrr) AS arr
    FROM new_logos n LEFT JOIN referral_acts ra USING (account_id)
    JOIN acc r ON r.account_id = coalesce(n.referred_by_account_id, ra.referrer)
    JOIN quarters q ON q.q_start = date_trunc('quarter', n.first_month)
    GROUP BY GROUPING SETS ((q.period_label, r.segment), (q.period_label))
)
SELECT 'nps' AS metric, period_label, segment, 100.0 * (promoters - detractors) / nps_n AS value,
       promoters - detractors AS numerator, nps_n AS denominator
FROM surveys WHERE nps_n > 0
UNION ALL
SELECT 'csat', period_label, segment, satisfied / csat_n, satisfied, csat_n
FROM surveys WHERE csat_n > 0
UNION ALL
SELECT 'advocacy_rate', period_label, segment, advocates / active_n, advocates, active_n FROM rate
UNION ALL
SELECT 'reviews', coalesce(r.period_label, v.period_label), coalesce(r.segment, v.segment),
       coalesce(v.n, 0), coalesce(v.n, 0), NULL
FROM rate r FULL JOIN reviews v   -- counts are 0 where there are active accounts
  ON r.period_label = v.period_label AND r.segment IS NOT DISTINCT FROM v.segment
UNION ALL
SELECT 'referral_new_arr', coalesce(r.period_label, v.period_label),
       coalesce(r.segment, v.segment), coalesce(v.arr, 0), coalesce(v.arr, 0), NULL
FROM rate r FULL JOIN referral_arr v
  ON r.period_label = v.period_label AND r.segment IS NOT DISTINCT FROM v.segment
"""


def five_sql(con: duckdb.DuckDBPyConnection, as_of: date) -> pd.DataFrame:
    """The five headline metrics by segment × quarter as one hand-written DuckDB query."""
    params = {"start": START, "end": END, "as_of": as_of, "cutoff": _cutoff(as_of)}
    return _sorted(con.execute(HAND_SQL, params).df())


# -- pandas ----------------------------------------------------------------------------------


def _quarter_label(ts: pd.Series) -> pd.Series:
    label: pd.Series = ts.dt.year.astype(str) + "-Q" + ts.dt.quarter.astype(str)
    return label


def _with_total(frame: pd.DataFrame, agg: Callable[[Any], pd.DataFrame]) -> pd.DataFrame:
    """`agg` over period × segment and over period alone (segment null = total)."""
    by_segment = agg(frame.groupby(["period_label", "segment"], sort=False)).reset_index()
    total = agg(frame.groupby("period_label", sort=False)).reset_index()
    return pd.concat([by_segment, total.assign(segment=None)], ignore_index=True)


def five_pandas(data: Path, as_of: date) -> pd.DataFrame:
    """The five headline metrics with pandas over the demo company's Parquet folders."""
    start, end, cutoff = pd.Timestamp(START), pd.Timestamp(END), pd.Timestamp(_cutoff(as_of))
    stop = min(end, cutoff)
    acc = pd.read_parquet(
        data / "accounts",
        columns=["account_id", "segment", "is_test", "created_at", "churned_at",
                 "referred_by_account_id"],
    )  # fmt: skip
    acc = acc[~acc["is_test"].fillna(False).astype(bool)].drop(columns="is_test")
    acc["segment"] = acc["segment"].fillna("(none)")
    segment = acc[["account_id", "segment"]]
    rev = pd.read_parquet(data / "revenue", columns=["account_id", "month", "mrr"])
    rev["month"] = pd.to_datetime(rev["month"])
    all_acts = pd.read_parquet(
        data / "advocacy_actions",
        columns=["action_id", "account_id", "action_type", "occurred_at", "rating", "sentiment",
                 "referred_account_id"],
    )  # fmt: skip
    all_acts = all_acts[all_acts["account_id"].isin(acc["account_id"])]
    resp = pd.read_parquet(
        data / "survey_responses",
        columns=["account_id", "survey", "score", "scale_min", "scale_max", "responded_at"],
    )

    # active accounts per quarter: revenue decides, else created_at / churned_at
    quarters = pd.DataFrame({"q_start": pd.date_range(start, end, freq="QS", inclusive="left")})
    quarters["q_end"] = quarters["q_start"] + pd.offsets.QuarterBegin(startingMonth=1)
    quarters["period_label"] = _quarter_label(quarters["q_start"])
    paying = rev[(rev["mrr"] > 0) & (rev["month"] >= start) & (rev["month"] < end)]
    by_revenue = paying.assign(period_label=_quarter_label(paying["month"]))[
        ["account_id", "period_label"]
    ].drop_duplicates()
    unbilled = acc[~acc["account_id"].isin(rev["account_id"].unique())]
    dated = unbilled.merge(quarters, how="cross")
    dated = dated[
        (dated["created_at"] < dated["q_end"].where(dated["q_end"] < cutoff, cutoff))
        & (dated["churned_at"].isna() | (dated["churned_at"] >= dated["q_start"]))
    ][["account_id", "period_label"]]
    active = pd.concat([by_revenue, dated]).merge(segment, on="account_id")

    # actions of known accounts in the range
    acts = all_acts[(all_acts["occurred_at"] >= start) & (all_acts["occurred_at"] < stop)]
    acts = acts.assign(period_label=_quarter_label(acts["occurred_at"]))
    kind = acts["action_type"]
    counted = (
        (kind != "other")
        & ((kind != "review") | acts["rating"].isna() | (acts["rating"] >= 4))
        & ((kind != "social_mention") | acts["sentiment"].isna() | (acts["sentiment"] >= 0))
    )
    advocates = acts.loc[counted, ["account_id", "period_label"]].drop_duplicates()
    active = active.merge(advocates.assign(advocate=1), on=["account_id", "period_label"],
                          how="left")  # fmt: skip
    active["advocate"] = active["advocate"].fillna(0)
    rate = _with_total(active, lambda g: g.agg(active_n=("account_id", "size"),
                                               advocates=("advocate", "sum")))  # fmt: skip
    rate_rows = rate.assign(
        metric="advocacy_rate", value=rate["advocates"] / rate["active_n"],
        numerator=rate["advocates"], denominator=rate["active_n"],
    )  # fmt: skip

    reviews = acts[kind == "review"].merge(segment, on="account_id")
    review_n = _with_total(reviews, lambda g: g.agg(n=("account_id", "size")))
    review_rows = rate[["period_label", "segment"]].merge(
        review_n, on=["period_label", "segment"], how="outer"
    )
    review_rows["n"] = review_rows["n"].fillna(0).astype("float64")
    review_rows = review_rows.assign(
        metric="reviews", value=review_rows["n"], numerator=review_rows["n"], denominator=np.nan
    )

    # surveys
    resp = resp[resp["account_id"].isin(acc["account_id"])]
    resp = resp[(resp["responded_at"] >= start) & (resp["responded_at"] < stop)]
    resp = resp.merge(segment, on="account_id")
    resp["period_label"] = _quarter_label(resp["responded_at"])
    nps = resp[resp["survey"] == "nps"]
    nps = nps.assign(promoter=nps["score"] >= 9, detractor=nps["score"] <= 6)
    nps_g = _with_total(nps, lambda g: g.agg(n=("score", "size"), p=("promoter", "sum"),
                                             d=("detractor", "sum")))  # fmt: skip
    nps_rows = nps_g.assign(
        metric="nps", value=100.0 * (nps_g["p"] - nps_g["d"]) / nps_g["n"],
        numerator=nps_g["p"] - nps_g["d"], denominator=nps_g["n"],
    )  # fmt: skip
    csat = resp[resp["survey"] == "csat"]
    points = csat["scale_max"] - csat["scale_min"] + 1
    threshold = np.where(points >= 5, csat["scale_max"] - 1, csat["scale_max"])
    csat = csat.assign(satisfied=csat["score"] >= threshold)
    csat_g = _with_total(csat, lambda g: g.agg(n=("score", "size"), x=("satisfied", "sum")))
    csat_rows = csat_g.assign(
        metric="csat", value=csat_g["x"] / csat_g["n"], numerator=csat_g["x"],
        denominator=csat_g["n"],
    )  # fmt: skip

    # referral revenue: referred new logos' first paid month, by the referrer's segment
    paid = rev[(rev["mrr"] > 0) & (rev["month"] <= pd.Timestamp(as_of))].sort_values("month")
    first = paid.groupby("account_id", sort=False).head(1)
    logos = first.rename(columns={"month": "first_month", "mrr": "first_mrr"}).merge(
        acc[["account_id", "referred_by_account_id"]], on="account_id"
    )
    logos = logos[(logos["first_month"] >= start) & (logos["first_month"] < end)]
    refs = all_acts[
        (all_acts["action_type"] == "referral")
        & all_acts["referred_account_id"].notna()
        & (all_acts["occurred_at"] < cutoff)
    ][["action_id", "account_id", "occurred_at", "referred_account_id"]]
    hits = logos[["account_id", "first_month"]].merge(
        refs.rename(columns={"account_id": "referrer", "referred_account_id": "account_id"}),
        on="account_id",
    )
    month_end = (hits["first_month"].dt.to_period("M") + 1).dt.to_timestamp()
    hits = hits[
        (hits["occurred_at"] >= hits["first_month"] - pd.Timedelta(days=365))
        & (hits["occurred_at"] < month_end)
    ]
    earliest = hits.sort_values(["occurred_at", "action_id"]).drop_duplicates("account_id")
    logos = logos.merge(earliest[["account_id", "referrer"]], on="account_id", how="left")
    logos["referrer"] = logos["referred_by_account_id"].fillna(logos["referrer"])
    referred = logos.merge(segment.rename(columns={"account_id": "referrer"}), on="referrer")
    referred = referred.assign(
        arr=12 * referred["first_mrr"], period_label=_quarter_label(referred["first_month"])
    )
    arr = _with_total(referred, lambda g: g.agg(arr=("arr", "sum")))
    arr_rows = rate[["period_label", "segment"]].merge(
        arr, on=["period_label", "segment"], how="outer"
    )
    arr_rows["arr"] = arr_rows["arr"].fillna(0.0)
    arr_rows = arr_rows.assign(
        metric="referral_new_arr", value=arr_rows["arr"], numerator=arr_rows["arr"],
        denominator=np.nan,
    )  # fmt: skip
    frames = [nps_rows, csat_rows, rate_rows, review_rows, arr_rows]
    return _sorted(pd.concat([f[RESULT_COLUMNS] for f in frames], ignore_index=True))


# -- Polars ----------------------------------------------------------------------------------


def five_polars(data: Path, as_of: date) -> pd.DataFrame:
    """The five headline metrics with Polars (lazy) over the demo company's Parquet folders."""
    import polars as pl

    start, end, cutoff = (
        datetime.combine(START, datetime.min.time()),
        datetime.combine(END, datetime.min.time()),
        _cutoff(as_of),
    )
    stop = min(end, cutoff)

    def scan(table: str) -> pl.LazyFrame:
        return pl.scan_parquet(data / table / "*.parquet")

    def label(col: str) -> pl.Expr:
        return pl.format("{}-Q{}", pl.col(col).dt.year(), pl.col(col).dt.quarter())

    def with_total(frame: pl.LazyFrame, *aggs: pl.Expr) -> pl.LazyFrame:
        by_segment = frame.group_by("period_label", "segment").agg(*aggs)
        total = frame.group_by("period_label").agg(*aggs)
        total = total.with_columns(segment=pl.lit(None, pl.String))
        return pl.concat([by_segment, total], how="diagonal")

    acc = (
        scan("accounts")
        .filter(~pl.col("is_test").fill_null(False))
        .select("account_id", pl.col("segment").fill_null("(none)"), "created_at", "churned_at",
                "referred_by_account_id")
    )  # fmt: skip
    segment = acc.select("account_id", "segment")
    rev = scan("revenue").select("account_id", pl.col("month").cast(pl.Datetime("us")), "mrr")

    quarters = pl.LazyFrame(
        {"q_start": pl.datetime_range(start, end, "3mo", closed="left", eager=True)}
    ).with_columns(q_end=pl.col("q_start").dt.offset_by("3mo"), period_label=label("q_start"))
    by_revenue = (
        rev.filter((pl.col("mrr") > 0) & pl.col("month").is_between(start, end, closed="left"))
        .select("account_id", period_label=label("month"))
        .unique()
    )
    billed = rev.select("account_id").unique()
    dated = (
        acc.join(billed, on="account_id", how="anti")
        .join(quarters, how="cross")
        .filter(
            (pl.col("created_at") < pl.min_horizontal(pl.col("q_end"), pl.lit(cutoff)))
            & (pl.col("churned_at").is_null() | (pl.col("churned_at") >= pl.col("q_start")))
        )
        .select("account_id", "period_label")
    )
    active = pl.concat([by_revenue, dated]).join(segment, on="account_id")

    kind = pl.col("action_type")
    acts = (
        scan("advocacy_actions")
        .join(segment, on="account_id")
        .filter((pl.col("occurred_at") >= start) & (pl.col("occurred_at") < stop))
        .with_columns(
            period_label=label("occurred_at"),
            counted=(kind != "other")
            & ((kind != "review") | pl.col("rating").is_null() | (pl.col("rating") >= 4))
            & (
                (kind != "social_mention")
                | pl.col("sentiment").is_null()
                | (pl.col("sentiment") >= 0)
            ),
        )
    )
    advocates = (
        acts.filter("counted").select("account_id", "period_label").unique()
        .with_columns(advocate=pl.lit(1))
    )  # fmt: skip
    active = active.join(advocates, on=["account_id", "period_label"], how="left")
    rate = with_total(active, pl.len().alias("active_n"), pl.col("advocate").sum().alias("adv"))
    rate_rows = rate.select(
        "period_label", "segment", metric=pl.lit("advocacy_rate"),
        value=pl.col("adv") / pl.col("active_n"), numerator=pl.col("adv").cast(pl.Float64),
        denominator=pl.col("active_n").cast(pl.Float64),
    )  # fmt: skip
    cells = rate.select("period_label", "segment")

    review_n = with_total(acts.filter(kind == "review"), pl.len().alias("n"))
    review_rows = cells.join(
        review_n, on=["period_label", "segment"], how="full", coalesce=True, nulls_equal=True
    ).select(
        "period_label", "segment", metric=pl.lit("reviews"),
        value=pl.col("n").fill_null(0).cast(pl.Float64),
        numerator=pl.col("n").fill_null(0).cast(pl.Float64), denominator=pl.lit(None, pl.Float64),
    )  # fmt: skip

    resp = (
        scan("survey_responses")
        .join(segment, on="account_id")
        .filter((pl.col("responded_at") >= start) & (pl.col("responded_at") < stop))
        .with_columns(period_label=label("responded_at"))
    )
    nps = with_total(
        resp.filter(pl.col("survey") == "nps"),
        pl.len().alias("n"),
        (pl.col("score") >= 9).sum().alias("p"),
        (pl.col("score") <= 6).sum().alias("d"),
    )
    net = pl.col("p").cast(pl.Float64) - pl.col("d").cast(pl.Float64)
    nps_rows = nps.select(
        "period_label", "segment", metric=pl.lit("nps"), value=100.0 * net / pl.col("n"),
        numerator=net, denominator=pl.col("n").cast(pl.Float64),
    )  # fmt: skip
    points = pl.col("scale_max") - pl.col("scale_min") + 1
    threshold = pl.when(points >= 5).then(pl.col("scale_max") - 1).otherwise(pl.col("scale_max"))
    csat = with_total(
        resp.filter(pl.col("survey") == "csat"),
        pl.len().alias("n"),
        (pl.col("score") >= threshold).sum().alias("x"),
    )
    csat_rows = csat.select(
        "period_label", "segment", metric=pl.lit("csat"), value=pl.col("x") / pl.col("n"),
        numerator=pl.col("x").cast(pl.Float64), denominator=pl.col("n").cast(pl.Float64),
    )  # fmt: skip

    first = (
        rev.filter((pl.col("mrr") > 0) & (pl.col("month") <= datetime.combine(as_of, datetime.min.time())))
        .group_by("account_id")
        .agg(pl.col("month").min().alias("first_month"),
             pl.col("mrr").sort_by("month").first().alias("first_mrr"))
    )  # fmt: skip
    logos = first.join(acc.select("account_id", "referred_by_account_id"), on="account_id").filter(
        pl.col("first_month").is_between(start, end, closed="left")
    )
    refs = (
        scan("advocacy_actions")
        .filter(
            (kind == "referral")
            & pl.col("referred_account_id").is_not_null()
            & (pl.col("occurred_at") < cutoff)
        )
        .join(segment.select("account_id"), on="account_id", how="semi")
        .select("action_id", "occurred_at", referrer="account_id", account_id="referred_account_id")
    )
    earliest = (
        logos.select("account_id", "first_month")
        .join(refs, on="account_id")
        .filter(
            (pl.col("occurred_at") >= pl.col("first_month") - timedelta(days=365))
            & (pl.col("occurred_at") < pl.col("first_month").dt.offset_by("1mo"))
        )
        .sort("occurred_at", "action_id")
        .group_by("account_id")
        .agg(pl.col("referrer").first())
    )
    referred = (
        logos.join(earliest, on="account_id", how="left")
        .with_columns(referrer=pl.coalesce("referred_by_account_id", "referrer"))
        .join(segment.rename({"account_id": "referrer"}), on="referrer")
        .with_columns(arr=12 * pl.col("first_mrr"), period_label=label("first_month"))
    )
    arr = with_total(referred, pl.col("arr").sum())
    arr_rows = cells.join(
        arr, on=["period_label", "segment"], how="full", coalesce=True, nulls_equal=True
    ).select(
        "period_label", "segment", metric=pl.lit("referral_new_arr"),
        value=pl.col("arr").fill_null(0.0), numerator=pl.col("arr").fill_null(0.0),
        denominator=pl.lit(None, pl.Float64),
    )  # fmt: skip
    parts = [nps_rows, csat_rows, rate_rows, review_rows, arr_rows]
    frames = pl.collect_all([p.select(RESULT_COLUMNS) for p in parts])
    return _sorted(pd.concat([f.to_pandas() for f in frames], ignore_index=True))


# -- the bare scan ---------------------------------------------------------------------------


def _touch(column: str, kind: str) -> str:
    col = f'"{column}"'
    if kind in ("VARCHAR", "BLOB"):
        return f"sum(length({col}))"
    if kind == "BOOLEAN":
        return f"sum({col}::INTEGER)"
    if kind.startswith(("TIMESTAMP", "DATE")):
        return f"max({col})"
    return f"sum({col})"


def bare_scan_sql(con: duckdb.DuckDBPyConnection) -> str:
    """One query touching every column the suite reads, once (count + a cheap aggregate each)."""
    parts = []
    for table, columns in SCAN_COLUMNS.items():
        types = dict(
            con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = ?",
                [table],
            ).fetchall()
        )
        aggs = ", ".join(f"{_touch(c, types[c])} AS c{i}" for i, c in enumerate(columns))
        parts.append(f'(SELECT count(*) AS n, {aggs} FROM "{table}") AS "{table}"')
    return "SELECT * FROM " + " CROSS JOIN ".join(parts)


# -- measurements (each in its own process) --------------------------------------------------


def _connect(ws: Path) -> duckdb.DuckDBPyConnection:
    """The workspace's DuckDB file, read-only, in UTC (DESIGN §11), with the memory limit
    the workspace's store would have."""
    from advocacy.config import load_settings

    con = duckdb.connect(str(ws / DB_NAME), read_only=True)
    con.execute("SET TimeZone='UTC'")
    con.execute("SET enable_progress_bar=false")
    limit = load_settings(ws).memory_limit
    if limit:
        con.execute(f"SET memory_limit = '{limit}'")
    return con


def import_workspace(data: Path, ws_dir: Path) -> int:
    """Import every table folder of a prepared company into a new workspace; rows read."""
    from advocacy.workspace import init_workspace

    tables = json.loads((data / "manifest.json").read_text())["tables"]
    rows = 0
    with init_workspace(ws_dir, db=f"duckdb:///{(ws_dir / DB_NAME).resolve()}") as ws:
        for table in tables:
            for report in ws.import_files([data / table], table=table):
                rows += report.read
    return rows


def _warm_up(kind: str) -> None:
    """Import what a measurement needs before its clock starts (and nothing else)."""
    if kind == "polars":
        import polars  # noqa: F401
    elif kind in ("full-suite", "engine-five", "breakdown"):
        import ibis  # noqa: F401

        import advocacy.metrics.engine
    elif kind == "import":
        import advocacy.workspace  # noqa: F401


def _run(kind: str, data: Path, ws: Path, as_of: date) -> pd.DataFrame | None:
    """One measured computation; returns the five-metric rows where there are any."""
    if kind == "pandas":
        return five_pandas(data, as_of)
    if kind == "polars":
        return five_polars(data, as_of)
    con = _connect(ws)
    try:
        if kind == "full-suite":
            from advocacy.metrics.catalog import CATALOG

            return as_result(engine_rows(con, as_of, [m.name for m in CATALOG]))
        if kind == "engine-five":
            return as_result(engine_rows(con, as_of, FIVE))
        if kind == "hand-sql":
            return five_sql(con, as_of)
        if kind == "bare-scan":
            con.execute(bare_scan_sql(con)).fetchall()
            return None
    finally:
        con.close()
    raise ValueError(f"unknown measurement '{kind}'")


def suite_breakdown(ws: Path, as_of: date) -> dict[str, float]:
    """Where one full-suite run spends its time: shared parts, then the metrics.

    Mirrors the engine's own loop (`advocacy.metrics.engine._compute`): the context, the
    cached account × period rollup, then every metric's computation together with the active
    accounts per group, their aggregations batched one query a round (``all metrics``).
    Rows ``alone: …`` time each family again on its own, one query per aggregation: where the
    batched time goes, not part of the sum. Result rows (pandas) are not included.
    """
    import ibis

    from advocacy.config import Settings
    from advocacy.metrics.catalog import CATALOG
    from advocacy.metrics.context import build_context
    from advocacy.metrics.families_events import EVENT_FAMILIES
    from advocacy.metrics.families_rollup import ROLLUP_FAMILIES
    from advocacy.metrics.grouping import run, run_all
    from advocacy.metrics.rollup import build_rollup
    from advocacy.metrics.source import Source
    from advocacy.metrics.spec import MetricRequest

    out: dict[str, float] = {}

    def timed(key: str, work: Callable[[], Any]) -> Any:
        t0 = time.perf_counter()
        value = work()
        out[key] = out.get(key, 0.0) + time.perf_counter() - t0
        return value

    con = _connect(ws)
    try:
        engine_rows(con, as_of, ["nps"])  # warm the connection, the data and the lazy imports
        names = [m.name for m in CATALOG]
        request = MetricRequest.create(names, by=BY, start=START, end=END, as_of=as_of)
        source = Source(ibis.duckdb.from_connection(con))
        ctx = timed("shared: context", lambda: build_context(source, Settings(), request))
        in_rollup = [m for m in CATALOG if m.family in ROLLUP_FAMILIES]
        rollup = timed(
            "shared: account × period rollup", lambda: build_rollup(ctx, in_rollup).cache()
        )

        def work(m: Any) -> Any:
            basis = request.basis or m.default_basis
            if m.family in ROLLUP_FAMILIES:
                return ROLLUP_FAMILIES[m.family](ctx, rollup, m, basis)
            return EVENT_FAMILIES[m.family](ctx, m, basis)

        try:
            timed(
                "all metrics, batched",
                lambda: run_all(ctx, [*map(work, CATALOG), ctx.population_work(rollup)]),
            )
            for m in CATALOG:
                timed(f"alone: {m.family.value}", partial(lambda m: run(ctx, work(m)), m))
        finally:
            rollup.release()
            ctx.release()
    finally:
        con.close()
    return out


def peak_rss_mb() -> float:
    """This process's peak resident memory (MB).

    Linux: ``VmHWM`` of /proc/self/status, the high-water mark of this program's own memory.
    Not ``ru_maxrss``: the kernel carries the parent's peak over into a child across
    (v)fork + exec, so a worker started by a parent that has just generated data would report
    the parent's peak.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def _worker(kind: str, root: Path, as_of: date, repeats: int) -> dict[str, Any]:
    data, ws, out = root / "data", root / "ws", root / "out"
    _warm_up(kind)
    extra: dict[str, Any] = {}
    times = []
    if kind == "import":
        t0 = time.perf_counter()
        extra["rows"] = import_workspace(data, ws)
        times.append(time.perf_counter() - t0)
    elif kind == "breakdown":
        extra["parts"] = suite_breakdown(ws, as_of)
        times.append(sum(v for k, v in extra["parts"].items() if not k.startswith("alone: ")))
    else:
        for _ in range(repeats):
            t0 = time.perf_counter()
            rows = _run(kind, data, ws, as_of)
            times.append(time.perf_counter() - t0)
        if rows is not None:
            rows.to_parquet(out / f"{kind}.parquet")
    return {"kind": kind, "seconds": min(times), "peak_mb": peak_rss_mb(), **extra}


def _measure(kind: str, root: Path, as_of: date, repeats: int = 1) -> dict[str, Any]:
    return run_worker("advocacy.bench.metrics", kind, str(root), as_of.isoformat(), str(repeats))


def prepare(root: Path, *, scale: float, seed: int) -> tuple[date, dict[str, int]]:
    """Generate the demo company into root/data (one folder of parts per table)."""
    from advocacy.demo import generate

    company = generate(root / "data", scale=scale, seed=seed)
    manifest = {"tables": list(company.files), "as_of": company.as_of.isoformat()}
    (root / "data" / "manifest.json").write_text(json.dumps(manifest))
    return company.as_of, dict(company.rows)


def versions() -> str:
    names = ("advocacy", "duckdb", "ibis-framework", "pandas", "polars", "pyarrow", "numpy")
    found = []
    for name in names:
        try:
            found.append(f"{name} {version(name)}")
        except Exception:
            found.append(f"{name} ?")
    machine = f"{os.cpu_count()} CPUs, {platform.machine()}"
    return f"Python {platform.python_version()} on {machine}; " + ", ".join(found)


def _agreement(root: Path, kind: str) -> str:
    path = root / "out" / f"{kind}.parquet"
    engine = root / "out" / "full-suite.parquet"
    if not path.exists() or not engine.exists():
        return ""
    problems = compare(pd.read_parquet(engine), pd.read_parquet(path))
    return "yes" if not problems else f"NO ({len(problems)}): {problems[0]}"


def run_metrics_bench(
    *, scale: float, seed: int, repeats: int = 1, breakdown: bool | None = None
) -> pd.DataFrame:
    """Time the full metric suite against a bare scan, hand SQL, pandas and Polars; print it.

    Returns one row per measurement (`KINDS`): what it reads, seconds (best of `repeats`, each
    measurement in a fresh process), rows scanned and rows/s, peak RSS (MB), whether its
    five-metric numbers equal the engine's, ``suite_over_this`` (full-suite seconds ÷ this
    measurement's), ``target_ratio`` (the ratio a target is about: `TARGETS`), the target and
    whether it is met. With ``breakdown`` (by
    default: when the suite misses a time target) it adds where one full-suite run spends its
    time: rows ``shared: …`` and ``family: …`` with ``share_of_suite``.
    """
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="advocacy-bench-metrics-") as tmp:
        root = Path(tmp)
        (root / "out").mkdir()
        console.print(f"generating the demo company at scale {scale:g} …")
        t0 = time.perf_counter()
        as_of, rows = prepare(root, scale=scale, seed=seed)
        console.print(f"{sum(rows.values()):,} rows generated in {time.perf_counter() - t0:.1f} s")
        results = []
        for kind in KINDS:
            console.print(f"measuring {kind} …")
            try:
                results.append(_measure(kind, root, as_of, repeats))
            except MeasurementFailed as exc:
                if kind in ("import", "full-suite"):
                    raise
                # A comparison that cannot run here (pandas out of memory at scale 100) is
                # reported as failed; the others still count.
                console.print(f"[yellow]{exc}[/]")
                results.append({"kind": kind, "seconds": float("nan"), "peak_mb": float("nan"),
                                "failed": str(exc).splitlines()[0][:200]})  # fmt: skip
        frame = _frame(results, rows, {kind: _agreement(root, kind) for kind in COMPARED})
        if breakdown is None:
            breakdown = bool((frame["met"].isin(["no"]) & frame["kind"].isin(TARGETS)).any())
        parts = pd.DataFrame()
        if breakdown:
            console.print("measuring where the full suite's time goes …")
            parts = _parts(_measure("breakdown", root, as_of)["parts"])
    console.print(versions())
    console.print(
        f"scale {scale:g}, seed {seed}: {rows['accounts']:,} accounts, "
        f"{sum(rows[t] for t in SCAN_COLUMNS if t != 'accounts'):,} events in the tables the "
        f"suite reads; as_of {as_of}; {BY} × quarter {START} … {END}"
    )
    emit(frame, Format.TABLE, title=f"Metric benchmark, scale {scale:g}")
    if parts.empty:
        return frame
    emit(parts, Format.TABLE, title=f"Where one full-suite run spends its time, scale {scale:g}")
    return pd.concat([frame, parts], ignore_index=True)


def _met(kind: str, ratio: float, peak_mb: float) -> str:
    if kind == "full-suite":
        return "yes" if peak_mb <= PEAK_TARGET_MB else "no"
    if kind not in TARGETS:
        return ""
    limit = TARGETS[kind][0]
    return "yes" if (ratio <= limit if kind == "bare-scan" else ratio < limit) else "no"


def _frame(
    results: list[dict[str, Any]], rows: dict[str, int], agree: dict[str, str]
) -> pd.DataFrame:
    suite_rows = sum(rows[t] for t in SCAN_COLUMNS)
    five_rows = sum(rows[t] for t in FIVE_TABLES)
    scanned = {"import": sum(rows.values()), "full-suite": suite_rows, "bare-scan": suite_rows}
    times = {str(r["kind"]): float(r["seconds"]) for r in results}
    suite = times["full-suite"]
    records = []
    for r in results:
        kind, seconds, peak = str(r["kind"]), float(r["seconds"]), float(r["peak_mb"])
        ratio = float("nan") if kind == "import" else suite / seconds
        numerator = times.get(TARGET_NUMERATOR.get(kind, "full-suite"), float("nan"))
        target_ratio = numerator / seconds if kind in TARGETS else float("nan")
        target = TARGETS[kind][1] if kind in TARGETS else ""
        if kind == "full-suite":
            target = f"peak ≤ {PEAK_TARGET_MB / 1024:g} GB at scale 100"
        records.append({
            "kind": kind, "reads": READS[kind], "seconds": seconds,
            "rows_scanned": scanned.get(kind, five_rows),
            "rows_per_s": scanned.get(kind, five_rows) / seconds, "peak_mb": peak,
            "equals_engine": r.get("failed") or agree.get(kind, ""), "suite_over_this": ratio,
            "target_ratio": target_ratio, "target": target,
            "met": "failed" if r.get("failed") else _met(kind, target_ratio, peak),
        })  # fmt: skip
    return pd.DataFrame.from_records(records)


def _parts(parts: dict[str, float]) -> pd.DataFrame:
    total = sum(v for k, v in parts.items() if not k.startswith("alone: "))
    records = [
        {"kind": name, "seconds": seconds,
         "reads": "workspace, engine: " + (
             "the family on its own" if name.startswith("alone: ") else "part of one full-suite run"),
         "share_of_suite": float("nan") if name.startswith("alone: ") else seconds / total}
        for name, seconds in sorted(parts.items(), key=lambda kv: -kv[1])
    ]  # fmt: skip
    return pd.DataFrame.from_records(records)


if __name__ == "__main__":
    _kind, _root, _as_of, _repeats = sys.argv[1:5]
    print(json.dumps(_worker(_kind, Path(_root), date.fromisoformat(_as_of), int(_repeats))))
