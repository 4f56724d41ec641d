"""`advocacy bench`: timings next to the practical limits, in one run (DESIGN §10)."""

from __future__ import annotations

from typing import Annotated

import typer


def bench_cmd(
    what: Annotated[str, typer.Argument(help="import, metrics, analyses or dropoffs")],
    scale: Annotated[float, typer.Option(help="demo company scale (1 ≈ 1M events)")] = 1.0,
    seed: Annotated[int, typer.Option()] = 7,
    seeds: Annotated[int, typer.Option(help="dropoffs: seeds per arm (null, planted)")] = 20,
) -> None:
    """Measure imports, the metric suite or the analyses next to their targets, in one run."""
    from advocacy.errors import UserError

    if what == "import":
        from advocacy.bench.imports import run_import_bench

        run_import_bench(scale=scale, seed=seed)
    elif what == "metrics":
        from advocacy.bench.metrics import run_metrics_bench

        run_metrics_bench(scale=scale, seed=seed)
    elif what == "analyses":
        from advocacy.bench.analyses import run_analyses_bench

        run_analyses_bench(scale=scale, seed=seed)
    elif what == "dropoffs":
        from advocacy.bench.dropoff_calibration import run_dropoff_bench

        if seeds < 1:
            raise UserError("--seeds must be at least 1")
        run_dropoff_bench(seeds=seeds, scale=scale)
    else:
        raise UserError(f"unknown benchmark '{what}'; available: import, metrics, analyses, dropoffs")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_cmd)
