"""`advocacy demo`: a sample company generated and imported through the normal import path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from advocacy.cli.output import Format, emit, stderr


def demo_cmd(
    ctx: typer.Context,
    scale: Annotated[float, typer.Option(help="1 ≈ 10k accounts and ~1M events")] = 1.0,
    seed: Annotated[
        int, typer.Option(help="random seed; the same seed gives the same company")
    ] = 7,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="do not start the dashboard")] = True,
    fmt: Annotated[Format, typer.Option("--format")] = Format.TABLE,
) -> None:
    """Generate a demo company into the workspace, import it, and print the headline numbers."""
    from advocacy.cli.metrics import readable
    from advocacy.demo.generator import generate
    from advocacy.workspace import init_workspace

    folder: Path = ctx.obj.workspace
    data_dir = folder / "demo_data"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=stderr, transient=True, disable=not stderr.is_terminal) as bar:  # fmt: skip
        task = bar.add_task("generating the demo company", total=None)
        company = generate(data_dir, scale=scale, seed=seed,
                           progress=lambda t, n: bar.update(task, description=f"generating {t}: {n:,} rows"))  # fmt: skip
        (folder / "demo_truth.json").write_text(
            company.truth_path.read_text(encoding="utf-8"), encoding="utf-8"
        )
        with init_workspace(folder, db=ctx.obj.db) as ws:
            # Each table's part files form one dataset: one folder, one transaction.
            files = [(t, paths[0].parent) for t, paths in company.files.items() if paths]
            bar.update(task, total=len(files), completed=0)
            for i, (table, path) in enumerate(files):
                bar.update(task, description=f"importing {table}", completed=i)
                reports = ws.import_files([path], table=table)
                bad = [r for r in reports if r.rejected or r.conflicting]
                if bad:
                    stderr.print(
                        f"[yellow]warning[/]: {table}: {bad[0].rejected} rejected rows in the demo data"
                    )
            bar.update(task, completed=len(files), description="computing headline numbers")
            frame = ws.metrics(["advocacy_rate", "nps"], by="segment", as_of=company.as_of)
    if fmt is not Format.TABLE:
        emit(frame, fmt)
        return
    rows = sum(company.rows.values())
    stderr.print(f"Demo company: {rows:,} rows in {len(company.rows)} tables, as of {company.as_of}; "
                 f"workspace {folder.resolve()}; planted effects in demo_truth.json.")  # fmt: skip
    emit(readable(frame, "segment"), fmt, title="Advocacy rate and NPS by segment and quarter")
    truth = json.loads((folder / "demo_truth.json").read_text(encoding="utf-8"))
    stderr.print(f"Planted effects: {', '.join(truth.get('effects', {}))}.")
    cmd = f"advocacy --workspace {folder}"
    stderr.print(
        "Next: see whether the analyses find them and run the program:\n"
        f"  {cmd} analyze support      # does good support make advocates?\n"
        f"  {cmd} analyze dropoffs     # did a product change cost advocacy?\n"
        f"  {cmd} analyze leading      # do advocates retain and expand more?\n"
        f"  {cmd} candidates --limit 10   # who to ask next, and why"
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
