"""`advocacy` entry point: global options, command registration, and the error contract.

Exit codes: 0 success; 1 a user-facing failure with one message on stderr; 2 a usage error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from advocacy.cli import analyze, bench, candidates, cohorts, demo, imports, metrics, program
from advocacy.cli.context import Globals
from advocacy.errors import UserError

app = typer.Typer(
    name="advocacy",
    help="Measure customer advocacy and run advocacy programs on your own data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def main(
    ctx: typer.Context,
    workspace: Annotated[Path, typer.Option("--workspace", "-w", help="workspace folder")] = Path(
        "."
    ),
    db: Annotated[
        str | None,
        typer.Option(
            "--db", envvar="ADVOCACY_DB", help="store URL (.duckdb path or postgresql://…)"
        ),
    ] = None,
) -> None:
    """Global options come before the command."""
    ctx.obj = Globals(workspace=workspace, db=db)


@app.command()
def init(
    ctx: typer.Context,
    folder: Annotated[
        Path | None, typer.Argument(help="workspace folder (default: --workspace)")
    ] = None,
) -> None:
    """Create a workspace: advocacy.toml and the store (a DuckDB file unless --db says otherwise)."""
    from advocacy.workspace import init_workspace

    target = folder or ctx.obj.workspace
    with init_workspace(target, db=ctx.obj.db) as ws:
        typer.echo(f"workspace ready: {target.resolve()} (store: {ws.store.dialect.value})")


imports.register(app, Globals)
demo.register(app)
bench.register(app)
metrics.register(app)
cohorts.register(app)
analyze.register(app)
program.register(app)
candidates.register(app)


def run() -> None:
    """Console-script entry: user mistakes end in one clear line, never a traceback.

    Typer's standalone mode already turns usage errors into exit 2 and Ctrl-C into exit 1.
    """
    try:
        app()
    except UserError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(1)
    except Exception as exc:  # last line of defence for the exit-code contract
        if os.environ.get("ADVOCACY_DEBUG"):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        typer.secho(f"error: unexpected {type(exc).__name__}: {first[:300]}", err=True, fg="red")
        typer.echo("This is a bug in advocacy; set ADVOCACY_DEBUG=1 for the traceback.", err=True)
        sys.exit(1)


if __name__ == "__main__":
    run()
