"""The learned acceptance model: L2-regularised logistic regression on past advocacy asks.

Each settled ask is one example: its features computed as of its own `asked_at` (features.py
sees only earlier rows), its ask type, and whether it was accepted or completed (1) or declined,
expired or left unanswered (0) by the label instant. Withdrawn asks are left out. An ask is
settled once `response_days` have passed since it was made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd
from ibis import _
from scipy.optimize import minimize
from scipy.special import expit
from scipy.stats import rankdata

from advocacy.config import Settings
from advocacy.metrics.source import Source
from advocacy.program.features import NAMES, feature_frame
from advocacy.program.scoring import CandidateSettings

Array = npt.NDArray[np.float64]
ACCEPTED = ("accepted", "completed")


def auc(labels: npt.ArrayLike, scores: npt.ArrayLike) -> float:
    """Area under the ROC curve as the Mann–Whitney U ÷ (n₁ n₀), ties counting one half."""
    y = np.asarray(labels, dtype=bool)
    ranks = rankdata(np.asarray(scores, dtype=float))
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    u = float(ranks[y].sum()) - n1 * (n1 + 1) / 2.0
    return u / (n1 * n0)


def fit_logistic(x: Array, y: Array, l2: float) -> Array:
    """Coefficients (intercept first) minimising log-loss + l2/2 · ‖β‖² (intercept unpenalised)."""
    design = np.column_stack([np.ones(len(x)), x])
    penalty = np.r_[0.0, np.full(x.shape[1], l2)]

    def loss(beta: Array) -> tuple[float, Array]:
        eta = design @ beta
        value = np.sum(np.logaddexp(0.0, eta) - y * eta) + 0.5 * np.sum(penalty * beta**2)
        grad = design.T @ (expit(eta) - y) + penalty * beta
        return float(value), grad

    result = minimize(loss, np.zeros(design.shape[1]), jac=True, method="L-BFGS-B")
    return np.asarray(result.x, dtype=float)


@dataclass(frozen=True)
class AcceptanceModel:
    """A fitted model: standardised features plus ask-type indicators (reference = commonest)."""

    columns: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    reference_type: str
    type_mix: dict[str, float]
    n: int
    accepted: int

    def predict(self, features: pd.DataFrame, ask_type: str | Sequence[str] | None) -> Array:
        """P(accepted) for each row; without an ask type, averaged over the historical type mix."""
        if ask_type is None:
            parts = [w * self.predict(features, t) for t, w in self.type_mix.items()]
            return np.asarray(np.sum(parts, axis=0), dtype=float)
        types = [ask_type] * len(features) if isinstance(ask_type, str) else list(ask_type)
        x = (self._design(features, types) - np.asarray(self.mean)) / np.asarray(self.scale)
        beta = np.asarray(self.coef)
        return np.asarray(expit(beta[0] + x @ beta[1:]), dtype=float)

    def _design(self, features: pd.DataFrame, types: list[str]) -> Array:
        cols = [features[c].to_numpy(float) if c in NAMES else None for c in self.columns]
        kinds = np.asarray(types, dtype=object)
        out = [c if c is not None else (kinds == name[5:]).astype(float)
               for c, name in zip(cols, self.columns, strict=True)]  # fmt: skip
        return np.column_stack(out) if out else np.zeros((len(features), 0))

    def coefficient(self, column: str) -> float:
        """The coefficient per unit of the raw column (log-odds)."""
        i = self.columns.index(column)
        return float(self.coef[i + 1] / self.scale[i])

    def coefficients(self) -> dict[str, float]:
        return {c: self.coefficient(c) for c in self.columns}


def fit(examples: pd.DataFrame, cs: CandidateSettings) -> AcceptanceModel | None:
    """The model, or None when the history is too thin (fewer than `min_asks` settled asks or
    fewer than `min_per_class` accepted or not accepted)."""
    y = examples["accepted"].to_numpy(float)
    if len(y) < cs.min_asks or min(y.sum(), len(y) - y.sum()) < cs.min_per_class:
        return None
    counts = examples["ask_type"].value_counts()
    reference = str(sorted(counts.index, key=lambda t: (-counts[t], t))[0])
    columns = (*NAMES, *(f"type:{t}" for t in sorted(counts.index) if t != reference))
    probe = AcceptanceModel(columns, (0.0,) * len(columns), (1.0,) * len(columns), (), reference,
                            {}, 0, 0)  # fmt: skip
    x = probe._design(examples, examples["ask_type"].astype(str).tolist())
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    beta = fit_logistic((x - mean) / scale, y, cs.l2)
    mix = (counts / counts.sum()).sort_index()
    return AcceptanceModel(
        columns, tuple(map(float, mean)), tuple(map(float, scale)), tuple(map(float, beta)),
        reference, {str(k): float(v) for k, v in mix.items()}, len(y), int(y.sum()),
    )  # fmt: skip


def ask_examples(
    source: Source, settings: Settings, cs: CandidateSettings, *, label_at: datetime
) -> pd.DataFrame:
    """Advocacy asks of known accounts settled by `label_at`, with labels as known then and
    features as of each ask: point_id (= ask_id), ask_type, asked_at, accepted, to_contact
    (the ask names a contact), features."""
    known = source.table("accounts").filter(~_.is_test.fill_null(False)).select("account_id")
    asks = source.table("asks").filter(_.ask_type != "survey").semi_join(known, "account_id")
    asks = asks.filter(asks.asked_at < label_at - timedelta(days=cs.response_days))
    seen = source.table("ask_outcomes").filter(_.at < label_at)
    per_ask = seen.group_by(o_ask=_.ask_id).agg(
        pos=_.status.isin(ACCEPTED).ifelse(1, 0).max(),
        withdrawn=(_.status == "withdrawn").ifelse(1, 0).max(),
    )
    joined = asks.left_join(per_ask, asks.ask_id == per_ask.o_ask)
    pos = joined.pos.fill_null(0)
    labelled = joined.filter((pos == 1) | (joined.withdrawn.fill_null(0) == 0))
    labelled = labelled.select(
        point_id=_.ask_id, account_id=_.account_id, contact_id=_.contact_id, at=_.asked_at,
        ask_type=_.ask_type, accepted=pos,
    )  # fmt: skip
    meta = labelled.select(
        "point_id", "ask_type", "at", "accepted", to_contact=labelled.contact_id.notnull()
    ).execute()
    meta["point_id"] = meta["point_id"].astype(str)
    features = feature_frame(source, settings, labelled)
    out = meta.rename(columns={"at": "asked_at"}).merge(features, on="point_id", validate="1:1")
    ordered: pd.DataFrame = out.sort_values(["asked_at", "point_id"], kind="stable")
    return ordered.reset_index(drop=True)
