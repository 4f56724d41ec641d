"""The drop-off rows are the same on PostgreSQL as on DuckDB (DESIGN §11)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from advocacy.demo import GeneratedCompany, generate
from advocacy.workspace import Workspace
from tests.metrics.helpers import import_company, postgres_company

pytestmark = pytest.mark.postgres
KEYS = ["change_id", "dimension", "value", "signal"]
NUMBERS = ["pre_value", "post_value", "ratio", "diff", "ci_low", "ci_high", "p_value", "q_value",
           "placebo_false_alarm_rate", "pre_n", "post_n"]  # fmt: skip


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> GeneratedCompany:
    return generate(tmp_path_factory.mktemp("dropoff-pg-data"), scale=0.1, seed=13)


@pytest.fixture(scope="module")
def postgres_ws(
    postgres_server_url: str, company: GeneratedCompany, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workspace]:
    folder = tmp_path_factory.mktemp("dropoff-pg")
    with postgres_company(company, folder, postgres_server_url, "advocacy_dropoffs") as ws:
        yield ws


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(**{k: frame[k].fillna("-") for k in KEYS}).set_index(KEYS).sort_index()


def test_main_rows_match_duckdb(
    postgres_ws: Workspace, company: GeneratedCompany, tmp_path: Path
) -> None:
    with import_company(company, tmp_path / "duck") as duck:
        expected = _keyed(duck.analyze("dropoffs").main)
        quiet_duck = duck.analyze("dropoffs").part("quiet")
    result = postgres_ws.analyze("dropoffs")
    got = _keyed(result.main)
    assert list(got.index) == list(expected.index)
    assert len(got) >= 8 * 4
    for col in NUMBERS:
        a, b = got[col].to_numpy(float), expected[col].to_numpy(float)
        assert np.allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True), col
    assert (got["flagged"] == expected["flagged"]).all()
    assert (got["method"] == expected["method"]).all()
    quiet = result.part("quiet").sort_values(["change_id", "account_id"]).reset_index(drop=True)
    quiet_duck = quiet_duck.sort_values(["change_id", "account_id"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(quiet, quiet_duck)
