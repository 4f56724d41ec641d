"""The demo company generator: a B2B SaaS company with planted, documented effects.

Accounts are simulated in chunks of ``CHUNK_ACCOUNTS``; each chunk is written as its own Parquet
part per table as soon as it is done, so memory is bounded by one chunk whatever the scale. Each
chunk draws from its own ``SeedSequence(seed)`` child, so a scale and seed always give the same
data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from advocacy.demo.calendar import AS_OF, HISTORY_START
from advocacy.demo.params import PRODUCT_CHANGES, Params
from advocacy.demo.simulate import ChunkSimulator
from advocacy.demo.truth import Truth
from advocacy.demo.writer import IMPORT_ORDER, Numbering, chunk_tables, product_changes_table

ACCOUNTS_PER_SCALE = 10_000
CHUNK_ACCOUNTS = 5_000
TRUTH_FILE = "demo_truth.json"

Progress = Callable[[str, int], None]


@dataclass(frozen=True)
class GeneratedCompany:
    """Where a generated company was written and what it holds."""

    directory: Path
    files: dict[str, list[Path]]  # canonical table -> parquet parts, tables in import order
    truth_path: Path
    rows: dict[str, int]
    as_of: date


def chunk_sizes(scale: float) -> list[int]:
    """Accounts per chunk: ``ACCOUNTS_PER_SCALE × scale`` (at least 50) split into full chunks."""
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    total = max(50, round(ACCOUNTS_PER_SCALE * scale))
    full, rest = divmod(total, CHUNK_ACCOUNTS)
    return [CHUNK_ACCOUNTS] * full + ([rest] if rest else [])


def _write(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, compression="zstd")


class _Sink:
    """Writes part files and keeps the file list and row counts."""

    def __init__(self, out_dir: Path, progress: Progress | None) -> None:
        self.out_dir, self.progress = out_dir, progress
        self.files: dict[str, list[Path]] = {name: [] for name in IMPORT_ORDER}
        self.rows: dict[str, int] = dict.fromkeys(IMPORT_ORDER, 0)

    def put(self, name: str, table: pa.Table) -> None:
        path = self.out_dir / name / f"part-{len(self.files[name]):05d}.parquet"
        _write(path, table)
        self.files[name].append(path)
        self.rows[name] += table.num_rows
        if self.progress is not None:
            self.progress(name, self.rows[name])


def generate(
    out_dir: Path,
    *,
    scale: float = 1.0,
    seed: int = 7,
    progress: Progress | None = None,
    drop_ratio: float = 0.7,
) -> GeneratedCompany:
    """Generate the demo company into ``out_dir`` and return where everything is.

    ``drop_ratio`` is the planted post-release multiplier of the scoped segment's counted-action
    rate (1.0 plants no drop). Example::

        company = generate(Path("/tmp/demo"), scale=0.05)
        company.files["accounts"]  # [Path("/tmp/demo/accounts/part-00000.parquet")]
    """
    out_dir = Path(out_dir)
    params = Params(drop_ratio=drop_ratio)
    sink, truth, numbering = _Sink(out_dir, progress), Truth(), Numbering()
    sink.put("product_changes", product_changes_table(PRODUCT_CHANGES))
    sizes = chunk_sizes(scale)
    for i, n in enumerate(sizes):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(i,)))
        chunk = ChunkSimulator(rng, n, params, truth).run()
        for name, table in chunk_tables(chunk, numbering).items():
            sink.put(name, table)
    truth_path = out_dir / TRUTH_FILE
    doc = _truth_document(truth, params, seed=seed, scale=scale, rows=sink.rows)
    truth_path.write_text(json.dumps(doc, indent=2) + "\n")
    return GeneratedCompany(out_dir, sink.files, truth_path, dict(sink.rows), AS_OF)


def _truth_document(
    truth: Truth, params: Params, *, seed: int, scale: float, rows: dict[str, int]
) -> dict[str, Any]:
    return {
        "generator": "advocacy.demo",
        "seed": seed,
        "scale": scale,
        "as_of": AS_OF.isoformat(),
        "history_start": HISTORY_START.isoformat(),
        "drop_ratio": params.drop_ratio,
        "rows": rows,
        "method": "expected values are exact expectations over the outcome draws given the "
        "generated latent state (frailty, activity spans, support bands, asks made), from the "
        "model's own probabilities; not estimated from the rows",
        "default_range": {"from": "2024-10-01", "to": "2026-10-01", "period": "quarter"},
        "counted_action_rule": "every action_type except other; reviews only with rating >= 4 or "
        "none; social mentions only with sentiment >= 0 or none",
        "effects": truth.report(params),
    }
