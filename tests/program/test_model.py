"""The acceptance model: AUC arithmetic, the logistic fit against statsmodels, the holdout on the
demo company (learned > hand-weighted > random) and the planted fatigue effect."""

from __future__ import annotations

import itertools
import math
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
import statsmodels.api as sm
from scipy.stats import mannwhitneyu

from advocacy.program.evaluate import FATIGUE_BUCKETS, Evaluation, evaluate
from advocacy.program.features import NAMES
from advocacy.program.model import ask_examples, auc, fit, fit_logistic
from advocacy.program.scoring import CandidateSettings
from tests.metrics.helpers import Company


def test_auc_by_hand_and_against_scipy() -> None:
    # Positives 0.9, 0.5, 0.5; negatives 0.5, 0.1: pairs won 1+1 + 0.5+1 + 0.5+1 = 5 of 6.
    assert auc([1, 1, 1, 0, 0], [0.9, 0.5, 0.5, 0.5, 0.1]) == pytest.approx(5 / 6)
    rng = np.random.default_rng(3)
    y = rng.random(400) < 0.3
    s = np.round(rng.normal(size=400) + y, 1)  # rounded: many ties
    u = mannwhitneyu(s[y], s[~y]).statistic
    assert auc(y, s) == pytest.approx(u / (y.sum() * (~y).sum()), rel=1e-12)
    pairs = np.mean([(a > b) + 0.5 * (a == b) for a in s[y] for b in s[~y]])
    assert auc(y, s) == pytest.approx(pairs, rel=1e-12)
    assert math.isnan(auc([1, 1], [0.2, 0.3]))


def test_logistic_matches_statsmodels_without_penalty() -> None:
    rng = np.random.default_rng(11)
    x = rng.normal(size=(3000, 3))
    eta = -0.4 + x @ np.array([0.8, -0.5, 0.0])
    y = (rng.random(3000) < 1 / (1 + np.exp(-eta))).astype(float)
    ours = fit_logistic(x, y, 0.0)
    theirs = sm.Logit(y, sm.add_constant(x)).fit(disp=0).params
    assert ours == pytest.approx(theirs, abs=1e-4)
    shrunk = fit_logistic(x, y, 500.0)
    assert np.all(np.abs(shrunk[1:]) < np.abs(ours[1:]))


@pytest.fixture(scope="module")
def evaluation(demo_company: Company) -> Evaluation:
    ws = demo_company.ws
    return evaluate(ws.source(), ws.settings, as_of=demo_company.as_of)


def test_learned_beats_hand_weighted_beats_random(evaluation: Evaluation) -> None:
    e = evaluation
    assert e.n_train > 5000
    assert e.n_test > 2000
    assert e.auc_model > e.auc_score + 0.03
    assert e.auc_score > 0.52
    assert abs(e.auc_random - 0.5) < 0.04
    # Calibrated: each decile's mean prediction within 0.06 of its observed rate, and overall.
    cal = e.calibration
    assert len(cal) == 10
    assert cal["n"].sum() == e.n_test
    assert (cal["predicted"] - cal["observed"]).abs().max() < 0.06
    overall = (cal["predicted"] * cal["n"]).sum() / e.n_test - (cal["observed"] * cal["n"]).sum() / e.n_test  # fmt: skip
    assert abs(overall) < 0.03
    assert list(cal["predicted"]) == sorted(cal["predicted"])


def test_fatigue_goes_the_planted_direction(evaluation: Evaluation, demo_truth: dict[str, Any]) -> None:  # fmt: skip
    truth = demo_truth["effects"]["ask_fatigue"]
    table = evaluation.fatigue.set_index("recent_asks")
    # The same asks as the generator's estimand: bucket by bucket.
    assert table["n"].to_dict() == truth["asks_by_prior_asks"]
    rates = table["value"]
    assert all(rates[a] > rates[b] for a, b in itertools.pairwise(FATIGUE_BUCKETS[:4]))
    assert rates["4+"] < rates["0"]
    for bucket, expected in truth["expected"]["acceptance_by_prior_asks"].items():
        se = math.sqrt(expected * (1 - expected) / table.loc[bucket, "n"])
        assert abs(rates[bucket] - expected) < 3.5 * se, bucket
    # The model's coefficient per recent ask is clearly negative (planted: × 0.8 then × 0.78 …).
    assert evaluation.model.coefficient("recent_asks") < -0.2
    assert evaluation.model.coefficient("promoter") > 0.2


def test_examples_have_no_leakage(demo_company: Company) -> None:
    """Labels as known at a cutoff, features as of each ask: moving the cutoff later changes
    labels of still-open asks only, never an earlier ask's features."""
    ws = demo_company.ws
    cs = CandidateSettings()
    early = ask_examples(ws.source(), ws.settings, cs, label_at=datetime(2025, 7, 1))
    late = ask_examples(ws.source(), ws.settings, cs, label_at=datetime(2026, 10, 1))
    assert early["asked_at"].max() < datetime(2025, 7, 1) - timedelta(days=30)
    both = early.merge(late, on="point_id", suffixes=("", "_late"))
    assert len(both) == len(early)
    for name in NAMES:
        assert (both[name] == both[f"{name}_late"]).all(), name
    assert (both["accepted"] == both["accepted_late"]).mean() > 0.99


def test_too_little_history_gives_no_model(demo_company: Company) -> None:
    ws = demo_company.ws
    few = ask_examples(
        ws.source(), ws.settings, CandidateSettings(), label_at=datetime(2022, 4, 15)
    )
    assert 20 < len(few) < 200
    assert 10 < few["accepted"].sum() < len(few) - 10
    assert fit(few, CandidateSettings()) is None
    lenient = CandidateSettings(min_asks=20, min_per_class=10)
    model = fit(few, lenient)
    assert model is not None
    assert model.n == len(few)
    assert model.predict(few, None) == pytest.approx(
        sum(w * model.predict(few, t) for t, w in model.type_mix.items())
    )
