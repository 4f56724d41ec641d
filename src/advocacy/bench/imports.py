"""`advocacy bench import`: our import (validation, de-duplication, merge, log) vs a bare load.

Each measurement runs in its own process so its peak memory is its own.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from rich.console import Console

from advocacy.bench.metrics import peak_rss_mb
from advocacy.bench.worker import run_worker
from advocacy.cli.output import Format, emit

KINDS = ("import-parquet", "bare-parquet", "import-csv", "bare-csv")


def _files(data: Path, ext: str) -> dict[str, list[Path]]:
    manifest = json.loads((data / "manifest.json").read_text())
    return {t: sorted((data / ext / t).glob(f"*.{ext}")) for t in manifest}


def _write_csv_copies(data: Path, tables: list[str]) -> None:
    con = duckdb.connect()
    for table in tables:
        out = data / "csv" / table
        out.mkdir(parents=True, exist_ok=True)
        for part in sorted((data / "parquet" / table).glob("*.parquet")):
            target = out / (part.stem + ".csv")
            con.execute(f"COPY (SELECT * FROM read_parquet('{part}')) TO '{target}' (HEADER)")


def prepare(data: Path, *, scale: float, seed: int) -> int:
    """Generate the demo company as Parquet and CSV; returns the number of rows."""
    from advocacy.demo.generator import generate

    company = generate(data / "gen", scale=scale, seed=seed)
    for table, parts in company.files.items():
        target = data / "parquet" / table
        target.mkdir(parents=True, exist_ok=True)
        for i, part in enumerate(parts):
            part.rename(target / f"part-{i:05d}.parquet")
    (data / "manifest.json").write_text(json.dumps(list(company.files)))
    _write_csv_copies(data, list(company.files))
    return sum(company.rows.values())


def _worker(kind: str, data: Path, work: Path) -> dict[str, Any]:
    ext = "parquet" if kind.endswith("parquet") else "csv"
    files = _files(data, ext)
    start = time.perf_counter()
    rows = 0
    if kind.startswith("bare"):
        con = duckdb.connect(str(work / "bare.duckdb"))
        reader = "read_parquet" if ext == "parquet" else "read_csv"
        for table, parts in files.items():
            listing = "[" + ", ".join(f"'{p}'" for p in parts) + "]"
            con.execute(f'CREATE TABLE "{table}" AS SELECT * FROM {reader}({listing})')
            rows += int(con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # type: ignore[index]
        con.close()
    else:
        from advocacy.workspace import init_workspace

        with init_workspace(work / "ws") as ws:
            for table, parts in files.items():
                for report in ws.import_files([parts[0].parent], table=table):
                    rows += report.read
    seconds = time.perf_counter() - start
    peak = peak_rss_mb()
    return {"kind": kind, "rows": rows, "seconds": seconds, "peak_mb": peak}


def _measure(kind: str, data: Path, root: Path) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(dir=root, prefix=kind))
    return run_worker("advocacy.bench.imports", kind, str(data), str(work))


def run_import_bench(*, scale: float, seed: int) -> pd.DataFrame:
    """Print import and bare-load timings, rows/s, peak memory and the ratios."""
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="advocacy-bench-") as tmp:
        root = Path(tmp)
        console.print(f"generating the demo company at scale {scale:g} …")
        total = prepare(root / "data", scale=scale, seed=seed)
        results = []
        for kind in KINDS:
            console.print(f"measuring {kind} …")
            results.append(_measure(kind, root / "data", root))
    frame = pd.DataFrame(results)
    frame["rows_per_s"] = frame["rows"] / frame["seconds"]
    bare = {"parquet": frame.loc[frame.kind == "bare-parquet", "seconds"].iloc[0],
            "csv": frame.loc[frame.kind == "bare-csv", "seconds"].iloc[0]}  # fmt: skip
    frame["speed_vs_bare"] = [
        bare[k.split("-")[1]] / s if k.startswith("import") else 1.0
        for k, s in zip(frame["kind"], frame["seconds"], strict=True)
    ]
    frame["target"] = (
        frame["kind"].map({"import-parquet": "≥ 0.33", "import-csv": "≥ 0.50"}).fillna("")
    )
    console.print(f"{total:,} rows generated; duckdb {duckdb.__version__}, pandas {pd.__version__}")
    emit(frame, Format.TABLE, title=f"Import benchmark, scale {scale:g}")
    return frame


if __name__ == "__main__":
    print(json.dumps(_worker(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))))
