"""Column batches: a dict of equally long numpy arrays, the unit events are built and joined in."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from advocacy.demo.calendar import IntArr

Cols = dict[str, npt.NDArray[Any]]


def n_rows(cols: Cols) -> int:
    """Length of a batch (0 for an empty dict)."""
    return len(next(iter(cols.values()))) if cols else 0


def concat(parts: list[Cols]) -> Cols:
    """Stack batches with the same columns; parts may be empty dicts, which are skipped."""
    parts = [p for p in parts if p]
    if not parts:
        return {}
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def repeat_index(counts: IntArr) -> IntArr:
    """Owner index of each of ``counts.sum()`` items: [0]*counts[0] + [1]*counts[1] + ..."""
    return np.repeat(np.arange(len(counts), dtype=np.int64), counts)
