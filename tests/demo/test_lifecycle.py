"""The chance that a drawn expansion really raises MRR, against the generator's own MRR update."""

from __future__ import annotations

import numpy as np
import pytest

from advocacy.demo.lifecycle import Lifecycle, _apply_change, raise_chance

TENS = np.arange(1, 8)  # MRR 10 .. 70
DRAWS = 40_000


def test_raise_chance_matches_the_mrr_update() -> None:
    """Apply an expansion to many accounts per MRR level and count those whose MRR rose."""
    rng = np.random.default_rng(3)
    mrr = np.repeat(10.0 * TENS, DRAWS)
    state = Lifecycle.start(len(mrr))
    state.alive[:], state.mrr[:] = True, mrr
    n = len(mrr)
    ones = np.ones(n, dtype=np.int64)
    _apply_change(rng, state, 0, ones, np.zeros(n, np.int64), np.ones(n, dtype=bool))
    observed = (state.mrr > mrr).reshape(len(TENS), DRAWS).mean(1)
    # By hand: 10·k·(1 + U(0.1, 0.5)) rounds above 10·k iff U ≥ 0.5 / k.
    by_hand = np.array([0.0, 0.625, 5 / 6, 0.9375, 1.0, 1.0, 1.0])
    assert raise_chance(10.0 * TENS) == pytest.approx(by_hand)
    se = np.sqrt(by_hand * (1 - by_hand) / DRAWS)
    assert np.all(np.abs(observed - by_hand) <= 4 * se + 1e-12)


def test_contraction_never_raises_mrr() -> None:
    rng = np.random.default_rng(4)
    mrr = np.repeat(10.0 * TENS, 1_000)
    state = Lifecycle.start(len(mrr))
    state.alive[:], state.mrr[:] = True, mrr
    n = len(mrr)
    down = np.full(n, -1, dtype=np.int64)
    _apply_change(rng, state, 0, down, np.zeros(n, np.int64), np.ones(n, dtype=bool))
    assert np.all(state.mrr <= mrr)
    assert np.all(state.mrr >= 10.0)
