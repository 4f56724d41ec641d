"""`--filter column=value` gives the rows `--by column` gives that value's group, for every
metric: a filter chooses the accounts whose rows count, never the facts about other accounts
(a referred account's first paid month, a new logo's referrer)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from advocacy.metrics.catalog import CATALOG
from tests.metrics.helpers import Company

FIELDS = ["value", "numerator", "denominator", "n", "ci_low", "ci_high", "pending_n", "extra"]


def _same(a: object, b: object) -> bool:
    if pd.isna(a) and pd.isna(b):  # type: ignore[call-overload]
        return True
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return bool(np.isclose(float(a), float(b), rtol=1e-9, atol=0))  # type: ignore[arg-type]


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
        group = grouped[grouped["segment"] == segment]
        merged = group.merge(
            filtered, on=["metric", "period_label"], how="outer", suffixes=("_by", "_filter"),
            indicator=True,
        )  # fmt: skip
        for row in merged.to_dict("records"):
            where = f"{row['metric']} {row['period_label']} {segment}"
            if row["_merge"] != "both":
                problems.append(f"{where}: only in the {row['_merge']} rows")
                continue
            problems += [
                f"{where} {f}: --by {row[f + '_by']}, --filter {row[f + '_filter']}"
                for f in FIELDS
                if not _same(row[f + "_by"], row[f + "_filter"])
            ]
    assert not problems, "\n".join(problems[:20])
    # The comparison reached the metrics that read other accounts' facts.
    referral = grouped[grouped["metric"].isin(["referral_conversion_rate", "referral_new_arr"])]
    assert (referral["segment"].notna() & (referral["numerator"] > 0)).sum() >= 4
