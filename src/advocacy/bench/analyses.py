"""`advocacy bench analyses`: each analysis and program command, timed on one imported company.

Each measurement runs in its own process (peak memory is its own) against the same workspace,
imported once through the real import path.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from advocacy.analyses import ANALYSES
from advocacy.bench.metrics import DB_NAME, import_workspace, peak_rss_mb, prepare, versions
from advocacy.bench.worker import MeasurementFailed, run_worker
from advocacy.cli.output import Format, emit

PROGRAM = ("candidates", "recommend")
KINDS = tuple(f"analyze-{name}" for name in ANALYSES) + PROGRAM
TARGET_SECONDS = 30.0


def _work(kind: str, ws_dir: Path) -> int:
    """Run one measured command; returns the rows it produced."""
    from advocacy.workspace import open_workspace

    with open_workspace(ws_dir / DB_NAME) as ws:
        if kind.startswith("analyze-"):
            result = ws.analyze(kind.removeprefix("analyze-"))
            return sum(len(frame) for frame in result.parts.values())
        rows: pd.DataFrame = getattr(ws, kind)()
        return len(rows)


def _worker(kind: str, ws_dir: Path) -> dict[str, Any]:
    import advocacy.metrics.engine  # noqa: F401  (imports are not what we measure)

    start = time.perf_counter()
    rows = _work(kind, ws_dir)
    return {
        "kind": kind, "seconds": time.perf_counter() - start, "rows": rows,
        "peak_mb": peak_rss_mb(),
    }  # fmt: skip


def _measure(kind: str, ws_dir: Path) -> dict[str, Any]:
    try:
        return run_worker("advocacy.bench.analyses", kind, str(ws_dir))
    except MeasurementFailed as exc:
        return {"kind": kind, "seconds": float("nan"), "rows": 0, "peak_mb": float("nan"),
                "error": exc.last_line[:200]}  # fmt: skip


def run_analyses_bench(*, scale: float, seed: int) -> pd.DataFrame:
    """Print each analysis's time and peak memory against the 30 s target."""
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="advocacy-bench-") as tmp:
        root = Path(tmp)
        console.print(f"generating the demo company at scale {scale:g} …")
        _, counts = prepare(root, scale=scale, seed=seed)
        console.print(f"importing {sum(counts.values()):,} rows …")
        import_workspace(root / "data", root / "ws")
        results = []
        for kind in KINDS:
            console.print(f"measuring {kind} …")
            results.append(_measure(kind, root / "ws"))
    frame = pd.DataFrame(results)
    frame["target"] = f"< {TARGET_SECONDS:g} s"
    frame["met"] = ["yes" if s < TARGET_SECONDS else "NO" for s in frame["seconds"]]
    console.print(versions())
    emit(frame, Format.TABLE, title=f"Analyses benchmark, scale {scale:g}")
    return frame


if __name__ == "__main__":
    print(json.dumps(_worker(sys.argv[1], Path(sys.argv[2]))))
