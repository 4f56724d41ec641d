"""The transparent candidate score and its knobs (`[candidates]` in advocacy.toml).

The score is Σ weight × feature; each term is reported as that feature's contribution, so the
contributions of a candidate always add up to its score ("why this advocate").

```toml
[candidates]
min_asks = 200            # settled advocacy asks needed before the acceptance model is fitted
holdout_share = 0.25      # share of the latest settled asks held out by `--evaluate`
moment_days = 14          # `recommend`: moments in the last 14 days
response_days = 30        # an ask is settled this many days after it was made
[candidates.weights]      # any feature of `advocacy candidates`; unnamed ones keep their default
promoter = 1.5
[candidates.values]       # value of an accepted ask of each type, for `recommend`
case_study = 5.0
```
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from advocacy.config import Settings
from advocacy.errors import UserError
from advocacy.program.features import FEATURES, NAMES
from advocacy.schema.vocab import ActionType

# Ask types a candidate can be asked for: every action type (survey invitations are not chosen).
ASKABLE: tuple[str, ...] = tuple(a.value for a in ActionType)
DEFAULT_VALUES: dict[str, float] = {
    "case_study": 5.0, "referral": 4.0, "reference_call": 3.0, "speaking": 3.0,
    "advisory_board": 3.0, "review": 2.0, "testimonial": 2.0, "community_post": 1.0,
    "social_mention": 0.5, "other": 0.5,
}  # fmt: skip
_SCALARS = {"min_asks": 200, "min_per_class": 20, "holdout_share": 0.25, "moment_days": 14,
            "response_days": 30, "l2": 1.0}  # fmt: skip
_INTS = ("min_asks", "min_per_class", "moment_days", "response_days")


@dataclass(frozen=True)
class CandidateSettings:
    """Validated `[candidates]`: weights of the score, values of ask types, model thresholds."""

    weights: dict[str, float] = field(default_factory=lambda: {f.name: f.weight for f in FEATURES})
    values: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_VALUES))
    min_asks: int = 200
    min_per_class: int = 20
    holdout_share: float = 0.25
    moment_days: int = 14
    response_days: int = 30
    l2: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> CandidateSettings:
        raw = dict(getattr(settings, "candidates", {}) or {})
        weights = _floats(raw.pop("weights", {}), NAMES, "candidates.weights", "feature")
        values = _floats(raw.pop("values", {}), ASKABLE, "candidates.values", "ask type")
        unknown = sorted(set(raw) - set(_SCALARS))
        if unknown:
            raise UserError(f"unknown setting(s) in [candidates]: {', '.join(unknown)}")
        try:
            n = {k: int(raw.get(k, _SCALARS[k])) for k in _INTS}
            share, l2 = float(raw.get("holdout_share", 0.25)), float(raw.get("l2", 1.0))
        except (TypeError, ValueError):
            raise UserError("[candidates] settings must be numbers") from None
        if not 0 < share < 1:
            raise UserError("candidates.holdout_share must be between 0 and 1")
        if min(n.values()) <= 0 or l2 < 0:
            raise UserError("[candidates] counts and days must be positive, l2 not negative")
        base = cls()
        return cls(
            weights=base.weights | weights, values=base.values | values, min_asks=n["min_asks"],
            min_per_class=n["min_per_class"], holdout_share=share, moment_days=n["moment_days"],
            response_days=n["response_days"], l2=l2,
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        return {"weights": self.weights, "values": self.values} | {
            k: getattr(self, k) for k in _SCALARS
        }


def _floats(raw: Any, known: tuple[str, ...], section: str, what: str) -> dict[str, float]:
    if not isinstance(raw, dict):
        raise UserError(f"[{section}] must be a table of numbers")
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise UserError(
            f"[{section}]: unknown {what}(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    try:
        return {str(k): float(v) for k, v in raw.items()}
    except (TypeError, ValueError):
        raise UserError(f"[{section}] values must be numbers") from None


def contributions(features: pd.DataFrame, weights: dict[str, float]) -> pd.DataFrame:
    """weight × feature for every feature (columns of FEATURES order)."""
    return pd.DataFrame({n: features[n].astype(float) * weights[n] for n in NAMES})


def hand_score(features: pd.DataFrame, weights: dict[str, float]) -> pd.Series:
    """The score: the sum of the contributions."""
    return contributions(features, weights).sum(axis=1)
