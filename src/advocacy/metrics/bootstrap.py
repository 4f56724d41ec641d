"""`--ci bootstrap`: account-cluster Poisson bootstrap of any metric whose sums go through
`grouping.aggregate`.

The point estimate runs as usual while each aggregate is also recorded per account (the cluster:
the same account answers, acts and pays again). Replicates then replay the family's own pandas
arithmetic on the per-account sums reweighted by Poisson(1) draws, so every metric gets its
bootstrap from the code that computes its value, and no replicate touches the database. A chunk
of replicates is replayed at once, each replicate's groups tagged into `grp`, so the family's
merges on (period, group) keep replicates apart. Weights are drawn per account in account_id
order from a fixed seed: the same on every backend and every re-run.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from advocacy.metrics.grouping import GROUP_KEYS
from advocacy.metrics.grouping import REPLICATE_TAG as _TAG

_CHUNK = 50  # replicates replayed together (memory: chunk × per-account rows)
Floats = npt.NDArray[np.float64]


class NotBootstrappable(Exception):
    """The family computes something other than per-account sums (medians, ranks)."""


@dataclass
class _Recorded:
    """One aggregate's per-account sums, sorted by group so groups are contiguous slices."""

    keys: pd.DataFrame  # one row per (period_label, grp), in slice order
    starts: npt.NDArray[np.intp]
    account: npt.NDArray[np.object_]
    values: dict[str, Floats]
    account_index: npt.NDArray[np.intp] | None = None


@dataclass
class Replay:
    """The state `grouping.aggregate` consults: recording, or replaying a chunk of weights."""

    recorded: list[_Recorded] = field(default_factory=list)
    weights: Floats | None = None  # replicates × accounts of the chunk being replayed
    first: int = 0  # number of the chunk's first replicate
    position: int = 0

    @property
    def replaying(self) -> bool:
        return self.weights is not None

    def record(self, per_account: pd.DataFrame, names: list[str]) -> None:
        rows = per_account.sort_values(GROUP_KEYS, kind="stable").reset_index(drop=True)
        change = (rows[GROUP_KEYS].shift() != rows[GROUP_KEYS]).any(axis=1).to_numpy()
        starts = np.flatnonzero(change)
        keys = rows.loc[starts, GROUP_KEYS].reset_index(drop=True)
        values = {n: rows[n].to_numpy(dtype="float64", na_value=0.0) for n in names}
        account = rows["account_id"].astype(str).to_numpy(dtype=object)
        self.recorded.append(_Recorded(keys, starts, account, values))

    def index_accounts(self, accounts: npt.NDArray[np.object_]) -> None:
        for rec in self.recorded:
            rec.account_index = np.searchsorted(accounts, rec.account)

    def replay(self) -> pd.DataFrame:
        """The family's next aggregate for every replicate of the chunk, groups tagged."""
        if self.weights is None or self.position >= len(self.recorded):
            raise NotBootstrappable("the family ran SQL outside its recorded aggregates")
        rec = self.recorded[self.position]
        self.position += 1
        assert rec.account_index is not None
        reps = self.weights.shape[0]
        w = self.weights[:, rec.account_index]
        tags = np.repeat(np.arange(self.first, self.first + reps), len(rec.keys)).astype(str)
        out = pd.DataFrame(
            {
                "period_label": np.tile(rec.keys["period_label"].to_numpy(), reps),
                "grp": np.char.add(
                    np.tile(rec.keys["grp"].astype(str).to_numpy(), reps).astype(str),
                    np.char.add(_TAG, tags),
                ).astype(object),
            }
        )
        for name, values in rec.values.items():
            if len(values):
                sums = np.add.reduceat(w * values, rec.starts, axis=1)
            else:
                sums = np.zeros((reps, 0))
            out[name] = sums.reshape(-1)
        return out


def replicate_weights(accounts: int, replicates: int, seed: int) -> Floats:
    """Poisson(1) weights, replicates × accounts (accounts in sorted id order)."""
    rng = np.random.default_rng(seed)
    return rng.poisson(1.0, size=(replicates, accounts)).astype(np.float64)


def bootstrap_interval(
    run: Callable[[Replay], pd.DataFrame], *, replicates: int, seed: int, confidence: float
) -> pd.DataFrame:
    """The point result of `run` with percentile intervals from `replicates` replays.

    `run(replay)` computes the metric's result frame; it is called once recording and then once
    per chunk of replicates. Raises NotBootstrappable when the family cannot be replayed.
    """
    state = Replay()
    point = run(state)
    if not state.recorded:
        raise NotBootstrappable("the family recorded no aggregates")
    accounts = np.array(sorted({a for rec in state.recorded for a in rec.account}), dtype=object)
    state.index_accounts(accounts)
    weights = replicate_weights(len(accounts), replicates, seed)
    index = pd.MultiIndex.from_frame(point[GROUP_KEYS].astype({"grp": str}))
    draws = np.full((replicates, len(point)), np.nan)
    for first in range(0, replicates, _CHUNK):
        state.weights, state.first, state.position = weights[first : first + _CHUNK], first, 0
        rep = run(state)
        if rep.empty:  # no rows to resample (no responses, say): the point result is empty too
            continue
        group, _, number = rep["grp"].astype(str).str.rpartition(_TAG).T.to_numpy()
        keys = pd.MultiIndex.from_arrays([rep["period_label"].to_numpy(), group])
        at = index.get_indexer(keys)
        values = pd.to_numeric(rep["value"], errors="coerce").to_numpy(dtype="float64")
        keep = at >= 0
        draws[number[keep].astype(int), at[keep]] = values[keep]
    return _with_percentiles(point, draws, confidence)


def _with_percentiles(point: pd.DataFrame, draws: Floats, confidence: float) -> pd.DataFrame:
    """Percentile interval per row; none where fewer than half the replicates are defined."""
    alpha = (1 - confidence) / 2
    low, high = np.full(draws.shape[1], np.nan), np.full(draws.shape[1], np.nan)
    for j in range(draws.shape[1]):
        column = draws[:, j][np.isfinite(draws[:, j])]
        if len(column) >= max(10, draws.shape[0] // 2):
            low[j], high[j] = np.quantile(column, [alpha, 1 - alpha])
    out = point.copy()
    out["ci_low"], out["ci_high"] = low, high
    if "se" in out:  # the replicates' spread, what --compare then tests a difference with
        with warnings.catch_warnings():  # a row without finite replicates gets NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            spread = np.nanstd(np.where(np.isfinite(draws), draws, np.nan), axis=0, ddof=1)
        out["se"] = np.where(np.isnan(low), np.nan, spread)
    return out
