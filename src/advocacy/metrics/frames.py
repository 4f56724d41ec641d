"""Small helpers over result frames: safe division and the standard result columns."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

RESULT = [
    "period_label",
    "grp",
    "value",
    "numerator",
    "denominator",
    "n",
    "pending_n",
    "ci_low",
    "ci_high",
    "extra",
    "se",  # the estimate's standard error, for --compare; not a row field of DESIGN §4
]


def ratio(num: Any, den: Any) -> Any:
    num = np.asarray(num, dtype="float64")
    den = np.asarray(den, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def result(frame: pd.DataFrame, **columns: Any) -> pd.DataFrame:
    """A frame with the standard result columns, defaults filled."""
    out = pd.DataFrame({"period_label": frame["period_label"], "grp": frame["grp"]})
    defaults: dict[str, Any] = {"pending_n": 0, "ci_low": np.nan, "ci_high": np.nan, "extra": None,
                                "numerator": np.nan, "denominator": np.nan, "se": np.nan}  # fmt: skip
    for name in RESULT[2:]:
        value = columns.get(name, defaults.get(name))
        out[name] = value if not isinstance(value, pd.Series) else value.to_numpy()
    return out


def f64(frame: pd.DataFrame, column: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    return frame[column].to_numpy(dtype="float64", na_value=np.nan)
