"""Every metric equals the independent, literal pandas oracle (tests/oracle) on a demo company."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from advocacy.metrics.catalog import CATALOG
from tests.metrics.helpers import Company, canonical_frames, differences
from tests.oracle.metrics_oracle import CATALOGUE, compute

START, END = date(2024, 10, 1), date(2026, 10, 1)
NAMES = [m.name for m in CATALOG]


@pytest.fixture(scope="module")
def frames(company: Company) -> dict[str, object]:
    return canonical_frames(company.ws)  # type: ignore[return-value]


#: The metrics whose rows carry an `extra` in the oracle too: `differences` compares it.
WITH_EXTRA = ["advocate_concentration", "mrr_bridge", "first_response_hours", "resolution_hours"]


@pytest.mark.parametrize("metric", NAMES)
def test_by_segment_and_quarter(company: Company, frames: dict, metric: str) -> None:
    """Every field of every row, `extra` included (the oracle's keys of it: the Gini, the
    bridge's parts, the open tickets; the engine's `top_k` has no counterpart there)."""
    ours = company.ws.metrics(metric, by="segment", start=START, end=END, as_of=company.as_of)
    theirs = compute(frames, metric=metric, start=START, end=END, by="segment", as_of=company.as_of)
    assert not ours.empty
    if metric in WITH_EXTRA:
        assert theirs["extra"].map(bool).all(), f"the oracle gives {metric} no extra"
    assert differences(ours, theirs, "segment") == []


def _grid() -> list[Any]:
    """Every metric on each basis it takes (by segment), over a TTM window, by month and plan,
    and by yearly signup cohort: the request shapes all metrics share."""
    month = {"period": "month", "start": date(2026, 1, 1), "end": date(2026, 10, 1), "by": "plan"}
    year = {"period": "year", "start": date(2024, 1, 1), "end": date(2027, 1, 1), "by": "cohort"}
    grid = []
    for m in CATALOG:
        shapes = {b.value: {"basis": b.value, "by": "segment"} for b in m.bases}
        shapes |= {"ttm": {"window": "ttm", "by": "segment"}, "month-plan": month, "cohort": year}
        grid += [pytest.param(m.name, o, id=f"{m.name}-{k}") for k, o in shapes.items()]
    return grid


SHAPES = [
    *_grid(),
    pytest.param("csat", {"by": "plan"}, id="csat-by-plan"),
    pytest.param("grr", {"window": "ttm", "by": "region"}, id="grr-ttm-region"),
    pytest.param("advocacy_rate", {"by": "cohort"}, id="by-cohort"),
    pytest.param(
        "logo_retention",
        {"period": "year", "start": date(2024, 1, 1), "end": date(2027, 1, 1)},
        id="yearly",
    ),
    pytest.param("ask_acceptance_rate", {"as_of": date(2026, 5, 15)}, id="partial-period"),
    *(
        # A partial period on ttm: the revenue start month is 12 before the last complete
        # month, the arr weight still the month before the window.
        pytest.param(
            m,
            {"window": "ttm", "period": p, "as_of": date(2026, 8, 20), **b},
            id=f"{m}-ttm-partial-{p}",
        )
        for m, b in [
            ("grr", {}),
            ("nrr", {}),
            ("logo_retention", {}),
            ("mrr_bridge", {}),
            ("advocacy_rate", {"basis": "arr"}),
            ("nps", {"basis": "arr"}),
        ]
        for p in ("quarter", "year")
    ),
    pytest.param("ask_completion_rate", {"by": "ask_type"}, id="asks-by-type"),
    pytest.param(
        "ask_acceptance_rate", {"by": "channel", "include_surveys": True}, id="asks-by-channel"
    ),
]


@pytest.mark.parametrize(("metric", "options"), SHAPES)
def test_request_shapes(company: Company, frames: dict, metric: str, options: dict) -> None:
    opts = {"start": START, "end": END, "as_of": company.as_of, **options}
    ours = company.ws.metrics(metric, **opts)
    oracle_opts = {k: v for k, v in opts.items() if k != "by"}
    oracle_opts["period"] = oracle_opts.get("period", "quarter")
    if not CATALOGUE[metric].bases:  # counts, medians: the oracle takes no basis
        oracle_opts.pop("basis", None)
    theirs = compute(frames, metric=metric, by=opts.get("by"), **oracle_opts)
    assert not ours.empty
    assert differences(ours, theirs, opts.get("by")) == []


ZONED = ["advocacy_rate", "nps", "csat", "new_logos", "referred_new_logo_share", "referral_new_arr",
         "referral_conversion_rate", "say_do_gap", "ask_acceptance_rate", "nrr", "logo_retention",
         "first_response_hours", "over_asked_contacts"]  # fmt: skip


@pytest.mark.parametrize("metric", ZONED)
def test_business_time_zone_and_fiscal_quarters(
    company: Company, frames: dict, metric: str
) -> None:
    """Periods cut in New York with an April fiscal year: every boundary moves, both agree."""
    from dataclasses import replace

    from advocacy.config import CalendarSettings
    from tests.oracle.settings import OracleSettings

    saved = company.ws.settings
    company.ws.settings = replace(saved, calendar=CalendarSettings("America/New_York", 4, "end"))
    try:
        ours = company.ws.metrics(
            metric, by="segment", start=START, end=END, as_of=date(2026, 8, 20)
        )
    finally:
        company.ws.settings = saved
    theirs = compute(frames, metric=metric, start=START, end=END, by="segment", as_of=date(2026, 8, 20),
                     settings=OracleSettings(timezone="America/New_York", fiscal_start_month=4))  # fmt: skip
    assert not ours.empty
    assert differences(ours, theirs, "segment") == []
    assert ours["period_label"].str.startswith("FY").all()
