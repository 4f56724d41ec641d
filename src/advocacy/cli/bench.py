"""`advocacy bench`: timings next to the practical limits, in one run (DESIGN §10)."""

from __future__ import annotations

from typing import Annotated

import typer

from advocacy.errors import UserError

BENCHES = ("import", "metrics", "analyses", "dropoffs")
# The drop-off detector reaches its power target (≥ 90% of planted drops) from scale 2.
DEFAULT_SCALE = {"dropoffs": 2.0}


def bench_cmd(
    what: Annotated[str, typer.Argument(help=", ".join(BENCHES))],
    scale: Annotated[
        float | None,
        typer.Option(help="demo company scale (1 ≈ 1M events; default 1, dropoffs 2)"),
    ] = None,
    seed: Annotated[int, typer.Option()] = 7,
    seeds: Annotated[int, typer.Option(help="dropoffs: seeds per arm (null, planted)")] = 20,
    repeats: Annotated[
        int | None,
        typer.Option(
            help="metrics: best of N runs, each in a fresh process (default 3 up to scale 10, else 1)"
        ),
    ] = None,
) -> None:
    """Measure imports, the metric suite or the analyses next to their targets, in one run."""
    if what not in BENCHES:
        raise UserError(f"unknown benchmark '{what}'; available: {', '.join(BENCHES)}")
    size = scale if scale is not None else DEFAULT_SCALE.get(what, 1.0)
    if size <= 0:
        raise UserError("--scale must be positive")
    if repeats is not None and repeats < 1:
        raise UserError("--repeats must be at least 1")
    if repeats is not None and what != "metrics":
        raise UserError(f"--repeats applies to `bench metrics` only, not `bench {what}`")
    if what == "import":
        from advocacy.bench.imports import run_import_bench

        run_import_bench(scale=size, seed=seed)
    elif what == "metrics":
        from advocacy.bench.metrics import run_metrics_bench

        # Short runs vary by a tenth from one process to the next; the best of three is steadier.
        runs = repeats if repeats is not None else (3 if size <= 10 else 1)
        run_metrics_bench(scale=size, seed=seed, repeats=runs)
    elif what == "analyses":
        from advocacy.bench.analyses import run_analyses_bench

        run_analyses_bench(scale=size, seed=seed)
    else:
        from advocacy.bench.dropoff_calibration import run_dropoff_bench

        if seeds < 1:
            raise UserError("--seeds must be at least 1")
        run_dropoff_bench(seeds=seeds, scale=size)


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_cmd)
