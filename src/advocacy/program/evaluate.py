"""`advocacy candidates --evaluate`: the acceptance model on a time-based holdout.

Train on the asks settled by a cutoff (labels as known at the cutoff), test on the asks made at
or after it (labels as known at as_of), and compare the AUC of the learned model with the
hand-weighted score and with a random score; plus a calibration table and the fatigue evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from advocacy.config import Settings
from advocacy.errors import UserError
from advocacy.metrics.calendar import end_of_day
from advocacy.metrics.context import latest_data_date
from advocacy.metrics.source import Source
from advocacy.metrics.stats.proportions import wilson
from advocacy.program.model import AcceptanceModel, ask_examples, auc, fit
from advocacy.program.scoring import CandidateSettings, hand_score

FATIGUE_BUCKETS = ("0", "1", "2", "3", "4+")


@dataclass(frozen=True)
class Evaluation:
    """Holdout results; `fatigue` pools every settled ask, `model` is fitted on all of them."""

    cutoff: datetime
    n_train: int
    n_test: int
    auc_model: float
    auc_score: float
    auc_random: float
    calibration: pd.DataFrame
    fatigue: pd.DataFrame
    model: AcceptanceModel

    def rows(self) -> pd.DataFrame:
        """One frame for `--format json|csv`: AUC rows, then calibration and fatigue rows."""
        aucs = pd.DataFrame({
            "part": "auc", "name": ["learned", "hand_weighted", "random"],
            "value": [self.auc_model, self.auc_score, self.auc_random],
            "n": self.n_test, "detail": f"train {self.n_train} asks before {self.cutoff:%Y-%m-%d}",
        })  # fmt: skip
        cal = self.calibration.assign(part="calibration", name=self.calibration["decile"])
        cal = cal.drop(columns="decile").astype({"name": str})
        fat = self.fatigue.rename(columns={"recent_asks": "name"}).assign(part="fatigue")
        coef = pd.DataFrame({"part": ["fatigue"], "name": ["coefficient_per_recent_ask"],
                             "value": [self.model.coefficient("recent_asks")]})  # fmt: skip
        return pd.concat([aucs, cal, fat, coef], ignore_index=True)


def evaluate(
    source: Source, settings: Settings, *, as_of: date | None = None, seed: int = 0
) -> Evaluation:
    """The holdout evaluation as of the end of `as_of` (default: the latest data)."""
    cs = CandidateSettings.from_settings(settings)
    cutoff = end_of_day(as_of or latest_data_date(source, settings), settings.calendar)
    everything = ask_examples(source, settings, cs, label_at=cutoff)
    model = fit(everything, cs)
    if model is None:
        raise UserError(_thin(everything, cs))
    asked = sorted(pd.to_datetime(everything["asked_at"]))
    split = asked[int(len(asked) * (1 - cs.holdout_share))].to_pydatetime()
    split = split.replace(hour=0, minute=0, second=0, microsecond=0)
    train_model = fit(ask_examples(source, settings, cs, label_at=split), cs)
    test = everything[everything["asked_at"] >= split]
    if train_model is None or test["accepted"].nunique() < 2:
        raise UserError(f"the holdout split at {split:%Y-%m-%d} leaves too few asks on one side")
    y = test["accepted"].to_numpy(bool)
    predicted = train_model.predict(test, test["ask_type"].astype(str).tolist())
    random = np.random.default_rng(seed).random(len(test))
    return Evaluation(
        split, train_model.n, len(test), auc(y, predicted),
        auc(y, hand_score(test, cs.weights).to_numpy()), auc(y, random),
        calibration(y, predicted), fatigue_table(everything), model,
    )  # fmt: skip


def _thin(examples: pd.DataFrame, cs: CandidateSettings) -> str:
    n, k = len(examples), int(examples["accepted"].sum()) if len(examples) else 0
    return (
        f"not enough ask history for the acceptance model: {n} settled advocacy asks "
        f"({k} accepted); it needs {cs.min_asks} with at least {cs.min_per_class} of each outcome"
    )


def calibration(y: np.ndarray[Any, Any], predicted: np.ndarray[Any, Any]) -> pd.DataFrame:
    """Deciles of the predicted probability: mean predicted vs observed acceptance."""
    frame = pd.DataFrame({"y": y.astype(float), "p": predicted})
    frame["decile"] = pd.qcut(frame["p"].rank(method="first"), 10, labels=False) + 1
    out = frame.groupby("decile").agg(
        n=("y", "size"), predicted=("p", "mean"), observed=("y", "mean")
    )
    return out.reset_index()


def fatigue_table(examples: pd.DataFrame) -> pd.DataFrame:
    """Acceptance of asks to a contact by asks to that contact in the prior 180 days (survey
    invitations included): the estimand of demo_truth.json's `ask_fatigue`."""
    examples = examples[examples["to_contact"].astype(bool)]
    bucket = np.minimum(examples["recent_asks"].to_numpy(int), len(FATIGUE_BUCKETS) - 1)
    frame = pd.DataFrame({"b": bucket, "y": examples["accepted"].to_numpy(float)})
    agg = (
        frame.groupby("b")
        .agg(n=("y", "size"), accepted=("y", "sum"))
        .reindex(range(len(FATIGUE_BUCKETS)), fill_value=0)
    )
    lo, hi = wilson(agg["accepted"].to_numpy(float), agg["n"].to_numpy(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = agg["accepted"].to_numpy(float) / agg["n"].to_numpy(float)
    return pd.DataFrame({
        "recent_asks": FATIGUE_BUCKETS, "n": agg["n"].to_numpy(int), "value": rate,
        "ci_low": lo, "ci_high": hi,
    })  # fmt: skip
