"""`advocacy bench`: timings next to the practical limits, in one run (DESIGN §10)."""

from __future__ import annotations

from typing import Annotated

import typer


def bench_cmd(
    what: Annotated[str, typer.Argument(help="import or metrics")],
    scale: Annotated[float, typer.Option(help="demo company scale (1 ≈ 1M events)")] = 1.0,
    seed: Annotated[int, typer.Option()] = 7,
) -> None:
    """Measure imports or the metric suite next to the practical limits, in one run."""
    from advocacy.errors import UserError

    if what == "import":
        from advocacy.bench.imports import run_import_bench

        run_import_bench(scale=scale, seed=seed)
    elif what == "metrics":
        from advocacy.bench.metrics import run_metrics_bench

        run_metrics_bench(scale=scale, seed=seed)
    else:
        raise UserError(f"unknown benchmark '{what}'; available: import, metrics")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_cmd)
