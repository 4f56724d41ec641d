"""Measurements run in their own process; a failed one says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from advocacy.bench.worker import MeasurementFailed, run_worker


def test_a_failed_measurement_reports_its_exit_and_last_error_line(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.json")
    with pytest.raises(MeasurementFailed) as failed:
        run_worker("json.tool", missing)
    assert f"{missing} failed with exit 2" in str(failed.value)
    assert "can't open" in failed.value.last_line
    assert "out of memory" not in str(failed.value)  # said only when the process was killed
