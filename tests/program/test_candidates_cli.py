"""The `candidates` and `recommend` commands end to end (console script, JSON contract) on a
small demo company with enough ask history for the model."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from advocacy.demo import generate
from tests.cli import ADVOCACY
from tests.metrics.helpers import import_company

CANDIDATE_FIELDS = ["contact_id", "account_id", "score", "probability", "eligible", "reasons",
                    "contributions"]  # fmt: skip


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-program")
    generated = generate(root / "data", scale=0.1, seed=7)
    import_company(generated, root / "ws").close()
    return root / "ws"


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    out = subprocess.run(
        [str(ADVOCACY), "--workspace", str(folder), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out


def test_candidates_json(folder: Path) -> None:
    rows = json.loads(_cli(folder, "candidates", "--limit", "5", "--format", "json").stdout)
    assert all(list(r) == CANDIDATE_FIELDS for r in rows)
    eligible = [r for r in rows if r["eligible"]]
    assert len(eligible) == 5
    assert all(0 < r["probability"] < 1 for r in rows)
    assert all(abs(sum(r["contributions"].values()) - r["score"]) < 1e-4 for r in rows)
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)


def test_evaluate_prints_the_aucs(folder: Path) -> None:
    text = _cli(folder, "candidates", "--evaluate").stdout
    for name in ("learned", "hand_weighted", "random"):
        assert f"AUC {name}" in text
    assert "Calibration" in text
    assert "fatigue" in text


def test_recommend_json(folder: Path) -> None:
    rows = json.loads(_cli(folder, "recommend", "--format", "json").stdout)
    assert rows
    assert all(
        {
            "moment",
            "milestone_id",
            "contact_id",
            "account_id",
            "ask_type",
            "expected_value",
            "reasons",
        }
        <= set(r)
        for r in rows
    )
    accounts = [r["account_id"] for r in rows]
    contacts = [r["contact_id"] for r in rows if r["contact_id"] is not None]
    assert len(set(accounts)) == len(accounts)
    assert len(set(contacts)) == len(contacts)
    values = [r["expected_value"] for r in rows]
    assert values == sorted(values, reverse=True)
