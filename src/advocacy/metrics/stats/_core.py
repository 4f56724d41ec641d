"""Result types and array helpers shared by the statistics modules.

Every function in `advocacy.metrics.stats` takes per-row aggregates as array-likes (one element per
result row; scalars broadcast) and returns float64 arrays of the broadcast shape. Undefined results
are NaN — never a warning — so the engine can fill result rows without special cases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats as sps

Array = npt.NDArray[np.float64]


class Interval(NamedTuple):
    """Lower and upper confidence bounds, one element per result row."""

    lo: Array
    hi: Array


class Estimate(NamedTuple):
    """A point estimate with its standard error and confidence bounds."""

    value: Array
    se: Array
    lo: Array
    hi: Array


class Comparison(NamedTuple):
    """A difference (first minus second) with its SE, confidence bounds and two-sided p-value."""

    delta: Array
    se: Array
    lo: Array
    hi: Array
    p_value: Array


def as_float(*values: npt.ArrayLike) -> tuple[Array, ...]:
    """The inputs as float64 arrays broadcast to one shape."""
    arrays = [np.asarray(v, dtype=np.float64) for v in values]
    return tuple(np.broadcast_arrays(*arrays))


def check_conf(conf: float) -> float:
    if not 0.0 < conf < 1.0:
        raise ValueError(f"confidence level must be in (0, 1), got {conf}")
    return conf


def z_value(conf: float) -> float:
    """The two-sided standard-normal critical value for confidence level `conf`."""
    return float(sps.norm.ppf(0.5 + check_conf(conf) / 2.0))


def where_valid(mask: npt.NDArray[np.bool_], fn: Callable[..., Array], *args: Array) -> Array:
    """`fn(*args)` where `mask` holds, NaN elsewhere; `fn` never sees the masked-out elements."""
    out = np.full(mask.shape, np.nan)
    if mask.any():
        out[mask] = fn(*(np.broadcast_to(a, mask.shape)[mask] for a in args))
    return out


def two_sided_p(z: Array) -> Array:
    """Two-sided normal p-value of z; NaN stays NaN."""
    return np.asarray(2.0 * sps.norm.sf(np.abs(z)), dtype=np.float64)


def normal_estimate(value: Array, var: Array, conf: float) -> Estimate:
    """value ± z·√var as an `Estimate`; a NaN variance gives NaN SE and bounds."""
    se = np.sqrt(np.maximum(var, 0.0))
    half = z_value(conf) * se
    return Estimate(value, se, value - half, value + half)
