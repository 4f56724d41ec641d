"""`advocacy bench`: timings next to the practical limits, in one run (DESIGN §10)."""

from __future__ import annotations

from typing import Annotated

import typer


def bench_cmd(
    what: Annotated[str, typer.Argument(help="import")],
    scale: Annotated[float, typer.Option(help="demo company scale (1 ≈ 1M events)")] = 1.0,
    seed: Annotated[int, typer.Option()] = 7,
) -> None:
    """Measure imports against a bare DuckDB load of the same files."""
    from advocacy.bench.imports import run_import_bench
    from advocacy.errors import UserError

    if what != "import":
        raise UserError(f"unknown benchmark '{what}'; available: import")
    run_import_bench(scale=scale, seed=seed)


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_cmd)
