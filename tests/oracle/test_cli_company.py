"""A company the tests have not seen, as a new user would bring it: CSV files imported with
`advocacy import`, every metric read back from `advocacy metrics --format json`, and each value
compared with the oracle computed from the same files (not from the store, so the import is
checked too)."""

from __future__ import annotations

import json
import subprocess
from datetime import date
from pathlib import Path

import pandas as pd

from advocacy.demo import generate
from advocacy.metrics.catalog import CATALOG
from tests.cli import ADVOCACY
from tests.metrics.helpers import differences
from tests.oracle.metrics_oracle import compute

START, END = date(2024, 10, 1), date(2026, 10, 1)
# Parents before children, as a user would import them (orphans are counted, not lost).
ORDER = ["accounts", "account_aliases", "contacts", "product_changes", "revenue", "usage",
         "milestones", "tickets", "asks", "ask_outcomes", "survey_responses", "advocacy_actions",
         "rewards"]  # fmt: skip


def _cli(*args: str) -> str:
    done = subprocess.run([ADVOCACY, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_every_metric_through_the_cli_equals_the_oracle_on_the_files(tmp_path: Path) -> None:
    company = generate(tmp_path / "parquet", scale=0.05, seed=99)
    raw: dict[str, pd.DataFrame] = {}
    ws = str(tmp_path / "ws")
    _cli("init", ws)
    assert set(ORDER) == set(company.files)
    for table in ORDER:
        raw[table] = pd.read_parquet(company.files[table][0].parent)
        path = tmp_path / f"{table}.csv"
        raw[table].to_csv(path, index=False)
        _cli("-w", ws, "import", table, str(path), "-q")
    names = [m.name for m in CATALOG]
    out = _cli("-w", ws, "metrics", *names, "--by", "segment", "--from", START.isoformat(),
               "--to", END.isoformat(), "--as-of", company.as_of.isoformat(), "--format", "json")  # fmt: skip
    rows = pd.DataFrame(json.loads(out))
    # The files hold each account's current attributes only: no history.
    raw["_account_history"] = pd.DataFrame(
        columns=["account_id", "column", "value", "valid_from", "valid_to"]
    )
    problems = {}
    for name in names:
        ours = rows[rows["metric"] == name]
        theirs = compute(raw, metric=name, start=START, end=END, by="segment", as_of=company.as_of)
        assert not ours.empty, name
        if found := differences(ours, theirs, "segment"):
            problems[name] = found[:3]
    assert problems == {}
