"""User-defined metrics in advocacy.toml compute exactly like the built-in ones they mirror."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from advocacy.config import parse_settings
from advocacy.errors import UserError
from tests.metrics.helpers import Company, differences

START, END = date(2025, 1, 1), date(2026, 10, 1)
CUSTOM = {
    "my_referral_rate": {"kind": "account_rate", "action_types": ["referral"]},
    "all_reviews": {"kind": "event_count", "action_types": ["review"], "counted": False},
    "review_or_case_study_rate": {"kind": "account_rate", "action_types": ["review", "case_study"]},
}


@pytest.fixture
def custom(company: Company) -> Company:
    settings = parse_settings({"metrics": CUSTOM})
    company.ws.settings, saved = (
        replace(company.ws.settings, custom_metrics=settings.custom_metrics),
        company.ws.settings,
    )
    yield company  # type: ignore[misc]
    company.ws.settings = saved


@pytest.mark.parametrize(
    ("mine", "builtin"), [("my_referral_rate", "referral_rate"), ("all_reviews", "reviews")]
)
def test_a_custom_metric_equals_its_builtin_twin(custom: Company, mine: str, builtin: str) -> None:
    options = {"by": "segment", "start": START, "end": END, "as_of": custom.as_of}
    ours = custom.ws.metrics(mine, **options)
    twin = custom.ws.metrics(builtin, **options)
    assert not ours.empty
    assert differences(ours, twin, "segment") == []
    assert set(ours.fingerprint).isdisjoint(twin.fingerprint)


@pytest.mark.parametrize("compare", ["previous", "rest"])
def test_a_custom_metric_is_compared_like_its_builtin_twin(custom: Company, compare: str) -> None:
    options = {"by": "segment", "start": START, "end": END, "as_of": custom.as_of,
               "compare": compare}  # fmt: skip
    ours = custom.ws.metrics("my_referral_rate", **options)
    twin = custom.ws.metrics("referral_rate", **options)
    compared = ["delta", "delta_ci_low", "delta_ci_high", "p_value", "q_value"]
    assert ours[compared].notna().any().any()
    assert ours[compared].fillna(-1).to_numpy() == pytest.approx(
        twin[compared].fillna(-1).to_numpy(), rel=1e-12
    )


def test_a_two_type_rate_lies_between_its_parts(custom: Company) -> None:
    options = {"start": START, "end": END, "as_of": custom.as_of}
    both = custom.ws.metrics("review_or_case_study_rate", **options).set_index("period_start")[
        "value"
    ]
    review = custom.ws.metrics("review_rate", **options).set_index("period_start")["value"]
    case = custom.ws.metrics("case_study_rate", **options).set_index("period_start")["value"]
    assert ((both >= review.combine(case, max) - 1e-12) & (both <= review + case + 1e-12)).all()
    assert (both > review).any()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"x": {"kind": "ratio"}}, "kind must be one of"),
        ({"x": {"kind": "account_rate", "action_types": ["tweet"]}}, "action_types must list"),
        ({"nps": {"kind": "account_rate", "action_types": ["review"]}}, "built-in metric"),
        ({"x": {"kind": "event_count", "action_types": ["review"], "weight": 2}}, "unknown key"),
    ],
)
def test_bad_definitions_are_refused_with_a_reason(
    company: Company, raw: dict, message: str
) -> None:
    settings = parse_settings({"metrics": raw})
    saved = company.ws.settings
    company.ws.settings = replace(saved, custom_metrics=settings.custom_metrics)
    try:
        with pytest.raises(UserError, match=message):
            company.ws.metrics("advocacy_rate", start=START, end=END, as_of=company.as_of)
    finally:
        company.ws.settings = saved
