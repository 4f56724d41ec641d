"""`advocacy bench dropoffs`: how often the drop-off analysis cries wolf, and how often it finds a wolf.

Over N seeds, a demo company with no planted drop (``drop_ratio=1.0``) and one with the planted 30%
drop (``drop_ratio=0.7``: change PC07, segment mid_market) are generated, imported into a temporary
DuckDB workspace (only the tables the analysis reads) and analysed. Reported: the share of product
changes with any flagged row in the null companies (target ≤ 5%), the share of planted drops found —
the PC07 row of segment mid_market on counted actions flagged — (target ≥ 90%), and timings.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from rich.console import Console

from advocacy.demo import generate
from advocacy.demo.params import Params
from advocacy.workspace import init_workspace

TABLES = ("accounts", "product_changes", "revenue", "advocacy_actions", "survey_responses")
PLANTED = Params().drop_change


@dataclass(frozen=True)
class CompanyRun:
    seed: int
    drop_ratio: float
    changes: int
    flagged_changes: tuple[str, ...]
    found: bool
    seconds_generate: float
    seconds_import: float
    seconds_analysis: float


@dataclass
class CalibrationReport:
    scale: float
    runs: list[CompanyRun] = field(default_factory=list)

    def _of(self, ratio: float) -> list[CompanyRun]:
        return [r for r in self.runs if r.drop_ratio == ratio]

    @property
    def null_false_alarm_share(self) -> float:
        runs = self._of(1.0)
        total = sum(r.changes for r in runs)
        return sum(len(r.flagged_changes) for r in runs) / total if total else float("nan")

    @property
    def planted_found_share(self) -> float:
        runs = self._of(0.7)
        return sum(r.found for r in runs) / len(runs) if runs else float("nan")

    @property
    def planted_other_false_alarm_share(self) -> float:
        """Changes other than the planted one flagged in the planted companies."""
        runs = self._of(0.7)
        total = sum(r.changes - 1 for r in runs)
        wrong = sum(len(set(r.flagged_changes) - {PLANTED.change_id}) for r in runs)
        return wrong / total if total else float("nan")


def run_company(seed: int, scale: float, drop_ratio: float, folder: Path) -> CompanyRun:
    """Generate, import and analyse one company."""
    t0 = time.perf_counter()
    company = generate(folder / "data", scale=scale, seed=seed, drop_ratio=drop_ratio)
    t1 = time.perf_counter()
    with init_workspace(folder / "ws") as ws:
        for table in TABLES:
            ws.import_files([company.files[table][0].parent], table=table)
        t2 = time.perf_counter()
        main = ws.analyze("dropoffs").main
    t3 = time.perf_counter()
    flagged = tuple(sorted(set(main.loc[main["flagged"], "change_id"])))
    hit = main[
        (main["change_id"] == PLANTED.change_id)
        & (main["dimension"] == PLANTED.scope_dimension)
        & (main["value"] == PLANTED.scope_value)
        & (main["signal"] == "actions")
    ]
    found = bool(hit["flagged"].any())
    changes = int(main["change_id"].nunique())
    return CompanyRun(seed, drop_ratio, changes, flagged, found, t1 - t0, t2 - t1, t3 - t2)


def calibrate_dropoffs(
    *, seeds: int = 20, scale: float = 2.0, first_seed: int = 1,
    progress: Callable[[CompanyRun], None] | None = None,
) -> CalibrationReport:  # fmt: skip
    """Null and planted companies over ``seeds`` seeds; each company in a fresh temp folder."""
    report = CalibrationReport(scale)
    for seed in range(first_seed, first_seed + seeds):
        for ratio in (1.0, 0.7):
            with tempfile.TemporaryDirectory(prefix="advocacy-dropoff-bench-") as tmp:
                run = run_company(seed, scale, ratio, Path(tmp))
            report.runs.append(run)
            if progress is not None:
                progress(run)
    return report


def run_dropoff_bench(
    *, seeds: int, scale: float, console: Console | None = None
) -> CalibrationReport:
    """The CLI's view: one line per company, then both rates against their targets."""
    out = console or Console(soft_wrap=True)

    def show(run: CompanyRun) -> None:  # one line per company
        kind = "null   " if run.drop_ratio == 1.0 else "planted"
        flagged = ", ".join(run.flagged_changes) or "none"
        out.print(
            f"seed {run.seed:>3} {kind} flagged: {flagged:<20} analysis {run.seconds_analysis:5.1f}s "
            f"(generate {run.seconds_generate:.1f}s, import {run.seconds_import:.1f}s)"
        )

    report = calibrate_dropoffs(seeds=seeds, scale=scale, progress=show)
    frame = pd.DataFrame([r.__dict__ for r in report.runs])
    out.print(f"\nscale {scale}, {seeds} seeds per arm")
    out.print(
        f"null companies: product changes flagged {report.null_false_alarm_share:.1%} (target ≤ 5%)"
    )
    out.print(
        f"planted drop (PC07, segment mid_market) found {report.planted_found_share:.1%} "
        f"(target ≥ 90%); other changes flagged in planted companies "
        f"{report.planted_other_false_alarm_share:.1%}"
    )
    out.print(
        f"analysis time: median {frame['seconds_analysis'].median():.2f}s, "
        f"max {frame['seconds_analysis'].max():.2f}s"
    )
    return report
