"""Candidates, the model and recommend give the same answers on PostgreSQL as on DuckDB."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from advocacy.demo import GeneratedCompany, generate
from advocacy.program.features import NAMES
from advocacy.workspace import Workspace
from tests.metrics.helpers import import_company

pytestmark = pytest.mark.postgres
AS_OF = "2026-06-30"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> GeneratedCompany:
    return generate(tmp_path_factory.mktemp("parity-data") / "data", scale=0.1, seed=11)


@pytest.fixture(scope="module")
def pair(
    small: GeneratedCompany, postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Workspace, Workspace]]:
    schema = f"advocacy_cand_{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in postgres_server_url else "?"
    duck = import_company(small, tmp_path_factory.mktemp("duck"))
    pg = import_company(small, Path(tmp_path_factory.mktemp("pg")),
                        db=f"{postgres_server_url}{sep}schema={schema}")  # fmt: skip
    yield duck, pg
    duck.close()
    pg.close()
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    key = frame["contact_id"].fillna("account:" + frame["account_id"])
    return frame.set_index(key).sort_index()


def test_candidates_agree(pair: tuple[Workspace, Workspace]) -> None:
    duck, pg = (_keyed(ws.candidates(limit=150, as_of=AS_OF)) for ws in pair)
    assert duck["eligible"].sum() == 150
    assert list(duck.index) == list(pg.index)
    assert (duck["eligible"] == pg["eligible"]).all()
    assert list(duck["reasons"]) == list(pg["reasons"])
    pd.testing.assert_series_equal(duck["score"], pg["score"], rtol=1e-9)
    pd.testing.assert_series_equal(duck["probability"], pg["probability"], rtol=1e-6)
    for a, b in zip(duck["contributions"], pg["contributions"], strict=True):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9)
        assert set(a) == set(NAMES)


def test_recommend_agrees(pair: tuple[Workspace, Workspace]) -> None:
    duck, pg = (ws.recommend(as_of=AS_OF) for ws in pair)
    assert len(duck) > 0
    cols = ["moment", "milestone_id", "contact_id", "account_id", "ask_type"]
    pd.testing.assert_frame_equal(duck[cols], pg[cols])
    pd.testing.assert_series_equal(duck["expected_value"], pg["expected_value"], rtol=1e-6)
