"""support, leading, segments and program through the CLI, and alike on DuckDB and PostgreSQL.

Both use a small company of their own: the session workspace of the other analysis tests holds the
DuckDB lock, so a CLI subprocess could not open it.
"""

from __future__ import annotations

import json
import math
import subprocess
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest

from advocacy.demo import GeneratedCompany, generate
from advocacy.workspace import Workspace, open_workspace
from tests.cli import ADVOCACY as CLI
from tests.metrics.helpers import import_company

FIELDS = {
    "support": {"band", "segment", "accounts", "advocates", "advocacy_rate", "ci_low", "ci_high",
                "risk_ratio", "rr_ci_low", "rr_ci_high"},
    "leading": {"period_start", "group", "accounts", "next_logo_retention", "next_grr", "next_nrr",
                "next_expansion_rate", "next_logo_retention_ci_low", "next_nrr_ci_high"},
    "segments": {"dimension", "value", "accounts", "advocacy_rate", "ci_low", "ci_high",
                 "differs_from_rest", "p_value", "q_value"},
    "program": {"measure", "segment", "value", "n", "detail"},
}  # fmt: skip
NAMES = sorted(FIELDS)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> GeneratedCompany:
    return generate(tmp_path_factory.mktemp("analyses-small") / "data", scale=0.1, seed=3)


@pytest.fixture(scope="module")
def small_folder(small: GeneratedCompany, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("analyses-small-ws")
    import_company(small, folder).close()
    return folder


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "--workspace", str(folder), "analyze", *args],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_cli_prints_json_rows_with_the_contract_fields(small_folder: Path, name: str) -> None:
    out = _cli(small_folder, name, "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert rows
    assert FIELDS[name] <= set(rows[0])
    assert all(set(r) == set(rows[0]) for r in rows)
    for r in rows:
        for value in r.values():
            assert not (isinstance(value, float) and math.isnan(value))  # NaN is null in JSON


@pytest.mark.parametrize("name", NAMES)
def test_cli_bad_option_is_one_line_and_exit_1(small_folder: Path, name: str) -> None:
    out = _cli(small_folder, name, "--from", "notadate")
    assert out.returncode == 1
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "notadate" in lines[0]
    assert "Traceback" not in out.stderr


@pytest.fixture(scope="module")
def postgres_small(
    postgres_server_url: str, small: GeneratedCompany, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workspace]:
    schema = f"advocacy_analyses_{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in postgres_server_url else "?"
    ws = import_company(
        small,
        tmp_path_factory.mktemp("pg-analyses"),
        db=f"{postgres_server_url}{sep}schema={schema}",
    )
    yield ws
    ws.close()
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int) and not isinstance(a, bool):
        if math.isnan(a) and math.isnan(b):
            return True
        return abs(a - b) <= 1e-9 * max(1.0, abs(b))
    if pd.isna(a) and pd.isna(b):  # type: ignore[arg-type]
        return True
    return bool(a == b)


@pytest.mark.postgres
@pytest.mark.parametrize("name", NAMES)
def test_same_numbers_on_postgres(
    small: GeneratedCompany, small_folder: Path, postgres_small: Workspace, name: str
) -> None:
    with open_workspace(small_folder) as duck:
        expected = duck.analyze(name, as_of=small.as_of)
    got = postgres_small.analyze(name, as_of=small.as_of)
    assert got.sentence == expected.sentence
    assert set(got.parts) == set(expected.parts)
    for part, frame in expected.parts.items():
        other = got.parts[part]
        assert list(other.columns) == list(frame.columns), part
        assert len(other) == len(frame), part
        problems = [
            f"{part} row {i} {col}: {x!r} != {y!r}"
            for i, (left, right) in enumerate(zip(frame.to_dict("records"), other.to_dict("records"), strict=True))
            for col, x in left.items()
            if not _same(x, (y := right[col]))
        ]  # fmt: skip
        assert problems == []


@pytest.mark.parametrize("name", NAMES)
def test_an_as_of_after_the_latest_data_is_refused(
    small: GeneratedCompany, small_folder: Path, name: str
) -> None:
    """Outcome windows past the data would look closed with no events: one line, exit 1."""
    late = small.as_of + timedelta(days=1)
    out = _cli(small_folder, name, "--as-of", str(late))
    assert out.returncode == 1, out.stdout
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"--as-of {late} is after the latest data ({small.as_of})" in lines[0]
    fine = _cli(small_folder, name, "--as-of", str(small.as_of), "--format", "json")
    assert fine.returncode == 0, fine.stderr


def test_support_json_counts_are_integers(small_folder: Path) -> None:
    out = _cli(small_folder, "support", "--format", "json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert all(isinstance(r["distinct_accounts"], int) for r in rows)
    assert all(isinstance(r["accounts"], int) for r in rows)
