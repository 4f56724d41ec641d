"""`advocacy bench metrics`: its hand-written five metrics equal the engine's; a smoke run.

Correctness only: speed is what the benchmark itself reports, never asserted here.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from advocacy.bench import metrics as mb
from advocacy.workspace import Workspace, open_workspace
from tests.cli import ADVOCACY

SCALE = 0.02


@dataclass
class Company:
    data: Path
    ws: Workspace
    as_of: date
    engine: pd.DataFrame


@pytest.fixture(scope="module", params=[3, 11], ids=lambda s: f"seed{s}")
def company(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Company]:
    root = tmp_path_factory.mktemp(f"bench-metrics-{request.param}")
    as_of, _ = mb.prepare(root, scale=SCALE, seed=request.param)
    mb.import_workspace(root / "data", root / "ws")
    ws = open_workspace(root / "ws" / mb.DB_NAME)
    engine = ws.metrics(list(mb.FIVE), by=mb.BY, start=mb.START, end=mb.END, as_of=as_of)
    yield Company(root / "data", ws, as_of, mb.as_result(engine))
    ws.close()


def _sql(c: Company) -> pd.DataFrame:
    return mb.five_sql(c.ws.store.duckdb_connection(), c.as_of)


def _pandas(c: Company) -> pd.DataFrame:
    return mb.five_pandas(c.data, c.as_of)


def _polars(c: Company) -> pd.DataFrame:
    return mb.five_polars(c.data, c.as_of)


IMPLEMENTATIONS: dict[str, Callable[[Company], pd.DataFrame]] = {
    "hand-sql": _sql, "pandas": _pandas, "polars": _polars,
}  # fmt: skip


def test_engine_rows_are_not_trivial(company: Company) -> None:
    """The comparison means something: every metric, quarter and segment is there, with data."""
    e = company.engine
    assert set(e["metric"]) == set(mb.FIVE)
    for metric, rows in e.groupby("metric"):
        assert rows["period_label"].nunique() == 8, metric
        assert rows["segment"].isna().sum() == 8, f"{metric}: one total row per quarter"
        assert rows["segment"].nunique() >= 2, metric
    totals = e[e["segment"].isna()].set_index(["metric", "period_label"])["value"]
    assert (totals.loc["advocacy_rate"] > 0).all()
    assert (totals.loc["reviews"] > 0).any()
    assert (totals.loc["referral_new_arr"] > 0).any()


@pytest.mark.parametrize("name", list(IMPLEMENTATIONS))
def test_hand_written_five_equal_the_engine(company: Company, name: str) -> None:
    other = IMPLEMENTATIONS[name](company)
    assert mb.compare(company.engine, other, rtol=1e-9) == []
    assert len(other) == len(company.engine)


def test_compare_reports_differences(company: Company) -> None:
    other = company.engine.copy()
    other.loc[0, "value"] = float(other["value"].iloc[0]) * (1 + 1e-6) + 1e-6
    dropped = other.drop(index=len(other) - 1)
    problems = mb.compare(company.engine, dropped)
    assert any(" value: " in p for p in problems)
    assert any("only in engine" in p for p in problems)


def test_bare_scan_touches_every_suite_column(company: Company) -> None:
    con = company.ws.store.duckdb_connection()
    row = con.execute(mb.bare_scan_sql(con)).fetchone()
    assert row is not None
    assert len(row) == sum(len(c) + 1 for c in mb.SCAN_COLUMNS.values())
    counts = dict(zip(mb.SCAN_COLUMNS, [row[i] for i in _count_positions()], strict=True))
    assert all(n > 0 for n in counts.values()), counts


def _count_positions() -> list[int]:
    positions, at = [], 0
    for columns in mb.SCAN_COLUMNS.values():
        positions.append(at)
        at += len(columns) + 1
    return positions


def test_smoke_run(capsys: pytest.CaptureFixture[str]) -> None:
    frame = mb.run_metrics_bench(scale=SCALE, seed=3, breakdown=True)
    measured = frame[frame["kind"].isin(mb.KINDS)]
    assert list(measured["kind"]) == list(mb.KINDS)
    assert (measured["seconds"] > 0).all()
    assert (measured["peak_mb"] > 0).all()
    assert (measured["rows_scanned"] > 0).all()
    compared = measured.set_index("kind").loc[list(mb.COMPARED), "equals_engine"]
    assert (compared == "yes").all(), compared.to_dict()
    targets = set(measured.loc[measured["target"] != "", "kind"])
    assert targets == {"full-suite", "hand-sql", "bare-scan", "polars"}
    assert set(measured.loc[measured["target"] != "", "met"]) <= {"yes", "no"}

    parts = frame[~frame["kind"].isin(mb.KINDS)]
    assert {
        "shared: account × period rollup",
        "all metrics, batched",
        "alone: nps",
        "alone: asks",
    } <= set(parts["kind"])
    assert (parts["seconds"] > 0).all()
    assert parts["share_of_suite"].sum() == pytest.approx(1.0)

    out = capsys.readouterr().out
    assert "Metric benchmark, scale 0.02" in out
    assert "Where one full-suite run spends its time" in out


def test_a_comparison_that_fails_is_reported_not_fatal() -> None:
    rows = dict.fromkeys(mb.SCAN_COLUMNS, 10) | {"usage": 5}
    results = [
        {"kind": "full-suite", "seconds": 2.0, "peak_mb": 100.0},
        {"kind": "hand-sql", "seconds": 4.0, "peak_mb": 50.0},
        {"kind": "pandas", "seconds": float("nan"), "peak_mb": float("nan"),
         "failed": "pandas failed with exit -9 (killed: out of memory?)"},
    ]  # fmt: skip
    frame = mb._frame(results, rows, {"hand-sql": "yes"}).set_index("kind")
    assert frame.loc["hand-sql", "suite_over_this"] == 0.5
    assert frame.loc["hand-sql", "target_ratio"] == 0.5
    assert frame.loc["hand-sql", "met"] == "yes"
    assert frame.loc["pandas", "met"] == "failed"
    assert "out of memory" in frame.loc["pandas", "equals_engine"]


def test_the_polars_target_is_the_engine_on_the_same_five() -> None:
    rows = dict.fromkeys(mb.SCAN_COLUMNS, 10) | {"usage": 5}
    results = [
        {"kind": "full-suite", "seconds": 4.0, "peak_mb": 100.0},
        {"kind": "engine-five", "seconds": 0.9, "peak_mb": 50.0},
        {"kind": "polars", "seconds": 1.0, "peak_mb": 50.0},
        {"kind": "bare-scan", "seconds": 1.0, "peak_mb": 50.0},
    ]
    frame = mb._frame(results, rows, {}).set_index("kind")
    assert frame.loc["polars", "suite_over_this"] == 4.0
    assert frame.loc["polars", "target_ratio"] == pytest.approx(0.9)
    assert frame.loc["polars", "met"] == "yes"
    assert frame.loc["bare-scan", "target_ratio"] == 4.0
    assert frame.loc["bare-scan", "met"] == "no"
    assert pd.isna(frame.loc["engine-five", "target_ratio"])  # no target of its own
    slower = [r | {"seconds": 1.1} if r["kind"] == "engine-five" else r for r in results]
    assert mb._frame(slower, rows, {}).set_index("kind").loc["polars", "met"] == "no"


def test_bad_repeats_are_refused_with_a_message() -> None:
    out = subprocess.run([ADVOCACY, "bench", "metrics", "--scale", "0.01", "--repeats", "0"],
                         capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert out.returncode == 1
    assert "--repeats must be at least 1" in out.stderr
    assert "Traceback" not in out.stderr
    other = subprocess.run([ADVOCACY, "bench", "import", "--scale", "0.01", "--repeats", "2"],
                           capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert other.returncode == 1
    assert "--repeats applies to `bench metrics` only" in other.stderr
