"""One measurement in a fresh Python process, so its time and peak memory are its own."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any


class MeasurementFailed(RuntimeError):
    """The measurement's process failed; `last_line` is the last line it wrote to stderr."""

    def __init__(self, kind: str, returncode: int, stderr: str) -> None:
        killed = " (killed: out of memory?)" if returncode in (-9, 137) else ""
        lines = stderr.strip().splitlines()
        self.last_line = lines[-1] if lines else "(no output)"
        super().__init__(f"{kind} failed with exit {returncode}{killed}: {stderr.strip()[-2000:]}")


def run_worker(module: str, kind: str, *args: str) -> dict[str, Any]:
    """Run `python -m module kind args…` and return the JSON its last stdout line holds."""
    proc = subprocess.run(
        [sys.executable, "-m", module, kind, *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise MeasurementFailed(kind, proc.returncode, proc.stderr)
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))
