"""A real third-party company end to end: RavenStack's accounts, subscriptions and support
tickets imported with `advocacy import --mapping`, every metric read back from
`advocacy metrics --format json`, each value compared with the oracle on the stored tables.

No advocacy actions, asks, NPS or rewards exist in these files: those metrics must come out as
zero counts and empty rates exactly where the oracle says so, next to real revenue, tickets and
CSAT. The import itself is checked against the raw files in test_external.py.
"""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from advocacy.metrics.catalog import CATALOG
from advocacy.workspace import open_workspace
from tests.cli import ADVOCACY
from tests.external.test_external import MAPPINGS, data_file
from tests.metrics.helpers import canonical_frames, differences
from tests.oracle.metrics_oracle import compute

pytestmark = pytest.mark.external

START, END = date(2023, 1, 1), date(2025, 1, 1)
FILES = ["accounts", "subscriptions", "support_tickets"]


def _cli(*args: str) -> str:
    done = subprocess.run([ADVOCACY, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_every_metric_on_ravenstack_equals_the_oracle(tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    _cli("init", ws)
    for name in FILES:
        path = data_file(f"ravenstack/ravenstack_{name}.csv")
        _cli(
            "-w",
            ws,
            "import",
            str(path),
            "--mapping",
            str(MAPPINGS / f"ravenstack_{name}.toml"),
            "-q",
        )
    names = [m.name for m in CATALOG]
    out = _cli("-w", ws, "metrics", *names, "--by", "plan", "--from", START.isoformat(),
               "--to", END.isoformat(), "--format", "json")  # fmt: skip
    rows = pd.DataFrame(json.loads(out))
    as_of = date.fromisoformat(str(rows["as_of"].iloc[0])[:10])
    assert as_of == date(2024, 12, 31)  # the data's last day: the CLI's default
    with open_workspace(Path(ws)) as workspace:
        frames = canonical_frames(workspace)
    problems, empty = {}, []
    for name in names:
        ours = rows[rows["metric"] == name]
        theirs = compute(frames, metric=name, start=START, end=END, by="plan", as_of=as_of)
        if theirs.empty:
            empty.append(name)
        if found := differences(ours, theirs, "plan"):
            problems[name] = found[:3]
    assert problems == {}
    # What the files hold is measured; what they lack has no rows (rates) or zeros (counts).
    for name in ("grr", "nrr", "logo_retention", "mrr_bridge", "csat", "csat_mean",
                 "first_response_hours", "resolution_hours", "new_logos", "advocacy_rate"):  # fmt: skip
        assert name not in empty, name
    counted = rows[rows["metric"] == "advocacy_actions"]
    assert len(counted)
    assert (counted["value"] == 0).all()
