"""`--filter column=value` gives the rows `--by column` gives that value's group, for every
metric: a filter chooses the accounts whose rows count, never the facts about other accounts
(a referred account's first paid month, a new logo's referrer)."""

from __future__ import annotations

from advocacy.metrics.catalog import CATALOG
from tests.metrics.helpers import Company, row_differences


def test_a_filter_gives_the_group_row_of_every_metric(company: Company) -> None:
    # The demo company's segments do not change over time, so the group of an account as of
    # each period start is its current segment, the value a filter compares.
    names = [m.name for m in CATALOG]
    grouped = company.ws.metrics(names, by="segment", as_of=company.as_of)
    segments = sorted(grouped["segment"].dropna().unique())
    assert len(segments) >= 2
    problems = []
    for segment in segments:
        filtered = company.ws.metrics(names, filters={"segment": segment}, as_of=company.as_of)
        group = grouped[grouped["segment"] == segment].drop(columns="segment")
        problems += [
            f"{segment}: {p}"
            for p in row_differences(group, filtered, ["metric", "period_label"], ("by", "filter"))
        ]
    assert not problems, "\n".join(problems[:20])
    # The comparison reached the metrics that read other accounts' facts.
    referral = grouped[grouped["metric"].isin(["referral_conversion_rate", "referral_new_arr"])]
    assert (referral["segment"].notna() & (referral["numerator"] > 0)).sum() >= 4


def test_a_cohort_filter_gives_the_cohort_group_row_of_every_metric(company: Company) -> None:
    """`--filter cohort=…` keeps the accounts `--by cohort` puts in that cohort."""
    names = [m.name for m in CATALOG]
    grouped = company.ws.metrics(names, by="cohort", as_of=company.as_of)
    sizes = grouped[grouped["metric"] == "advocacy_rate"].groupby("cohort")["n"].max()
    cohorts = list(sizes.sort_values().index[-2:])  # the two largest: rows in most metrics
    problems = []
    for cohort in cohorts:
        filtered = company.ws.metrics(names, filters={"cohort": cohort}, as_of=company.as_of)
        assert not filtered.empty
        group = grouped[grouped["cohort"] == cohort].drop(columns="cohort")
        problems += [
            f"{cohort}: {p}"
            for p in row_differences(group, filtered, ["metric", "period_label"], ("by", "filter"))
        ]
    assert not problems, "\n".join(problems[:20])
