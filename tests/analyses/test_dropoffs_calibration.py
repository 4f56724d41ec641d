"""A loose run of the calibration benchmark: few seeds, loose bounds (the full run is
`advocacy bench dropoffs --seeds 20 --scale 2`)."""

from __future__ import annotations

import pytest

from advocacy.bench.dropoff_calibration import calibrate_dropoffs

SEEDS = 3
SCALE = 2.0  # the smallest scale where the planted drop was found in ≥ 90% of seeds


@pytest.mark.slow
def test_null_companies_rarely_flag_and_planted_drops_are_found() -> None:
    report = calibrate_dropoffs(seeds=SEEDS, scale=SCALE, first_seed=1)
    assert len(report.runs) == 2 * SEEDS
    assert all(r.changes == 8 for r in report.runs)
    assert report.null_false_alarm_share <= 0.2
    assert report.planted_found_share >= 0.6
    assert max(r.seconds_analysis for r in report.runs) < 30
