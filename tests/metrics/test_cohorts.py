"""Cohort retention curves (DESIGN §5 `advocacy cohorts`): hand-computed tiny companies, the
literal oracle (tests/oracle/cohorts.py) on the demo company, PostgreSQL, and CDNOW."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from advocacy.cli import cohorts as cohorts_cli
from advocacy.cli.context import Globals
from advocacy.config import CalendarSettings, Settings
from advocacy.errors import UserError
from advocacy.metrics.cohorts import cohort_curves
from advocacy.metrics.source import Source
from advocacy.workspace import Workspace, init_workspace
from tests.metrics.helpers import Company, canonical_frames
from tests.oracle.cohorts import cohorts as oracle_cohorts
from tests.oracle.settings import OracleSettings

Rows = list[dict[str, Any]]
EXTERNAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "external"
MAPPINGS = Path(__file__).resolve().parents[1] / "external" / "mappings"


def curves(ws: Workspace, **options: Any) -> pd.DataFrame:
    return cohort_curves(Source(ws.store.ibis()), ws.settings, **options)


def paid(account_id: str, months: dict[str, float]) -> Rows:
    """Revenue rows from {"2026-01": mrr}."""
    return [{"account_id": account_id, "month": f"{m}-01", "mrr": v} for m, v in months.items()]


def build(folder: Path, tables: dict[str, Rows]) -> Workspace:
    """A workspace holding these rows, imported through the real import path."""
    ws = init_workspace(folder / "ws")
    for name in ("accounts", "revenue", "advocacy_actions"):
        if name in tables:
            path = folder / f"{name}.csv"
            pd.DataFrame(tables[name]).to_csv(path, index=False)
            ws.import_files([path], table=name)
    return ws


def curve(frame: pd.DataFrame, cohort: str, column: str = "value", **group: Any) -> list[Any]:
    rows = frame[frame["cohort"] == cohort]
    for key, value in group.items():
        rows = rows[rows[key].isna()] if value is None else rows[rows[key] == value]
    assert list(rows["k"]) == list(range(len(rows)))
    return list(rows[column])


# --- hand-computed tiny company -------------------------------------------------------------

ACCOUNTS = [
    {"account_id": "A", "created_at": "2025-12-01T00:00:00"},
    {"account_id": "B", "created_at": "2025-12-01T00:00:00"},
    {"account_id": "C", "created_at": "2025-12-01T00:00:00", "referred_by_account_id": "F"},
    {"account_id": "D", "created_at": "2025-12-01T00:00:00"},
    {"account_id": "E", "created_at": "2025-12-01T00:00:00"},
    {"account_id": "F", "created_at": "2025-11-01T00:00:00"},
    {"account_id": "G", "created_at": "2026-05-01T00:00:00"},
    {"account_id": "H", "created_at": "2026-05-01T00:00:00"},
    {"account_id": "T", "created_at": "2025-12-01T00:00:00", "is_test": "true"},
]
REVENUE = (
    paid("A", {"2026-01": 100, "2026-02": 0})  # churns in its first month
    + paid("B", {"2026-01": 100, "2026-02": 0, "2026-04": 50, "2026-05": 50, "2026-06": 0})
    + paid("C", {"2026-02": 100, "2026-03": 150, "2026-04": 300, "2026-05": 400, "2026-06": 400})
    + paid("D", {"2026-01": 0, "2026-02": 0})  # never paid: no curve
    + paid("F", dict.fromkeys(pd.period_range("2025-12", "2026-07", freq="M").astype(str), 100))
    + paid("G", {"2026-06": 80, "2026-07": 80})  # June: complete only at the end of June
    + paid("H", {"2026-07": 60})  # after as_of
    + paid("T", {"2026-01": 999})  # a test account
)
ACTIONS = [
    # names B 7 months before its first paid month: B is referred (window: 365 days)
    {"action_id": "R1", "account_id": "F", "action_type": "referral",
     "occurred_at": "2025-06-01T00:00:00", "referred_account_id": "B"},
    # names A too early (more than 365 days before January 2026): A is not referred
    {"action_id": "R2", "account_id": "F", "action_type": "referral",
     "occurred_at": "2024-06-01T00:00:00", "referred_account_id": "A"},
]  # fmt: skip
TINY = {"accounts": ACCOUNTS, "revenue": REVENUE, "advocacy_actions": ACTIONS}
AS_OF = date(2026, 6, 30)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    ws = build(tmp_path_factory.mktemp("tiny"), TINY)
    yield ws
    ws.close()


def test_accounts_curve_churn_reactivation_and_cut(tiny: Workspace) -> None:
    out = curves(tiny, as_of=AS_OF)
    assert list(out.columns) == ["cohort", "k", "base", "retained", "value"]
    assert out.attrs["as_of"] == AS_OF
    # D never paid, E has no revenue, H first pays after as_of, T is a test account.
    assert list(dict.fromkeys(out["cohort"])) == ["2025-Q4", "2026-Q1", "2026-Q2"]
    # 2026-Q1 = A, B (first paid January) and C (February). A churns after its first month;
    # B pays nothing in February and March and is retained again from April (k = 3).
    # June is the last complete month: C (fpm February) reaches k = 4, so k = 5 is absent
    # for the whole cohort, although A and B have a complete June at k = 5.
    assert curve(out, "2026-Q1", "base") == [3] * 5
    assert curve(out, "2026-Q1", "retained") == [3, 1, 1, 2, 2]
    assert curve(out, "2026-Q1") == pytest.approx([1, 1 / 3, 1 / 3, 2 / 3, 2 / 3])
    assert curve(out, "2025-Q4") == [1.0] * 7  # F: December to June, k = 0..6
    assert curve(out, "2026-Q2") == [1.0]  # G: its June is complete on June 30
    assert out["base"].dtype == "int64"


def test_mrr_curve_is_net_and_may_exceed_one(tiny: Workspace) -> None:
    out = curves(tiny, measure="mrr", as_of=AS_OF)
    # base = MRR of each account's own first paid month: 100 + 100 + 100
    assert curve(out, "2026-Q1", "base") == [300.0] * 5
    # k = 1: A 0, B 0, C 150; k = 2: 0, 0 (missing March), 300; k = 3: 0, 50, 400; k = 4: 0, 50, 400
    assert curve(out, "2026-Q1", "retained") == [300.0, 150.0, 300.0, 450.0, 450.0]
    assert curve(out, "2026-Q1") == pytest.approx([1.0, 0.5, 1.0, 1.5, 1.5])


def test_a_cohort_is_cut_by_as_of(tiny: Workspace) -> None:
    out = curves(tiny, as_of=date(2026, 6, 15))
    # June is in progress: May is the last complete month. G's first paid month (June) is
    # visible but not complete, so 2026-Q2 has no point at all; 2026-Q1 stops at k = 3 (C).
    assert list(dict.fromkeys(out["cohort"])) == ["2025-Q4", "2026-Q1"]
    assert curve(out, "2026-Q1", "retained") == [3, 1, 1, 2]
    assert curve(out, "2025-Q4") == [1.0] * 6
    early = curves(tiny, as_of=date(2026, 1, 30))  # nothing complete but December
    assert list(early["cohort"]) == ["2025-Q4"]
    assert list(early["k"]) == [0]


def test_referred_split(tiny: Workspace) -> None:
    out = curves(tiny, by="referred", as_of=AS_OF)
    assert list(out.columns) == ["cohort", "k", "referred", "base", "retained", "value"]
    q1 = out[out["cohort"] == "2026-Q1"]
    # the total curve comes first, then False, then True
    assert [None if g is None else bool(g) for g in dict.fromkeys(q1["referred"])] == [
        None, False, True,
    ]  # fmt: skip
    assert curve(out, "2026-Q1", "retained", referred=None) == [3, 1, 1, 2, 2]
    # C (referred_by_account_id) and B (a referral action within 365 days) are referred
    assert curve(out, "2026-Q1", "base", referred=True) == [2] * 5
    assert curve(out, "2026-Q1", referred=True) == [1.0, 0.5, 0.5, 1.0, 1.0]
    # A alone (its referral is too old): first paid in January, so its curve reaches k = 5
    assert curve(out, "2026-Q1", referred=False) == [1.0, 0, 0, 0, 0, 0]
    mrr = curves(tiny, by="referred", measure="mrr", as_of=AS_OF)
    assert curve(mrr, "2026-Q1", "retained", referred=True) == [200.0, 150.0, 300.0, 450.0, 450.0]


def test_tiny_company_matches_the_oracle(tiny: Workspace) -> None:
    frames = canonical_frames(tiny)
    for measure in ("accounts", "mrr"):
        for by in (None, "referred", "segment"):
            for as_of in (AS_OF, date(2026, 6, 15)):
                ours = curves(tiny, measure=measure, by=by, as_of=as_of)
                theirs = oracle_cohorts(frames, measure=measure, by=by, as_of=as_of)
                assert_same(ours, theirs, by)


def test_no_paying_account_gives_no_rows(tmp_path: Path) -> None:
    ws = build(tmp_path, {"accounts": ACCOUNTS[:1], "revenue": paid("A", {"2026-01": 0})})
    try:
        out = curves(ws, by="segment", as_of=AS_OF)
        assert out.empty
        assert list(out.columns) == ["cohort", "k", "segment", "base", "retained", "value"]
    finally:
        ws.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"measure": "logos"}, "--measure"),
        ({"by": "colour"}, "no such column"),
        ({"by": "cohort"}, "already one per cohort"),
        ({"as_of": "June"}, "--as-of"),
    ],
)
def test_refusals(tiny: Workspace, options: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError, match=message):
        curves(tiny, **options)


def test_cli_json_and_table(tiny: Workspace, tmp_path: Path) -> None:
    app = typer.Typer()
    cohorts_cli.register(app)
    app.callback()(lambda: None)  # a group, so the command is addressed by name
    runner = CliRunner()
    ws_folder = tmp_path / "cli"
    ws = build(ws_folder, TINY)
    ws.close()
    globals_ = Globals(workspace=ws_folder / "ws", db=None)
    args = ["cohorts", "--by", "referred", "--measure", "mrr", "--as-of", "2026-06-30"]
    result = runner.invoke(app, [*args, "--format", "json"], obj=globals_)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    expected = curves(tiny, by="referred", measure="mrr", as_of=AS_OF)
    assert len(rows) == len(expected)
    assert rows[0] == {"cohort": "2025-Q4", "k": 0, "referred": None, "base": 100.0,
                       "retained": 100.0, "value": 1.0}  # fmt: skip
    table = runner.invoke(app, ["cohorts", "--as-of", "2026-06-30"], obj=globals_)
    assert table.exit_code == 0, table.output
    assert "Cohort retention (accounts) as of" in table.stdout
    assert "2026-06-30" in table.stdout
    assert "33.3%" in table.stdout


# --- the demo company against the oracle ----------------------------------------------------


def assert_same(
    ours: pd.DataFrame, theirs: pd.DataFrame, by: str | None, rel: float = 1e-9
) -> None:
    """Same rows in the same order (cohort, group, k) and the same numbers."""
    keys = ["cohort", "k"] + ([by] if by else [])

    def key_rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
        cols = [frame[c].astype(object).where(frame[c].notna(), None) for c in keys]
        return list(zip(*cols, strict=True))

    assert key_rows(ours) == key_rows(theirs)
    for col in ("base", "retained", "value"):
        for x, y in zip(ours[col].astype(float), theirs[col].astype(float), strict=True):
            assert abs(x - y) <= rel * max(1.0, abs(y)), (col, x, y)


@pytest.fixture(scope="module")
def frames(company: Company) -> dict[str, pd.DataFrame]:
    return canonical_frames(company.ws)


@pytest.mark.parametrize("by", [None, "segment", "referred"])
@pytest.mark.parametrize("measure", ["accounts", "mrr"])
def test_demo_company_matches_the_oracle(
    company: Company, frames: dict[str, pd.DataFrame], measure: str, by: str | None
) -> None:
    ours = curves(company.ws, measure=measure, by=by, as_of=company.as_of)
    theirs = oracle_cohorts(frames, measure=measure, by=by, as_of=company.as_of)
    assert len(ours) > 100
    assert_same(ours, theirs, by)


def test_demo_company_mid_month_and_fiscal_calendar(
    company: Company, frames: dict[str, pd.DataFrame]
) -> None:
    """A fiscal year from April, a business time zone, and an as_of in the middle of a month."""
    as_of = date(2026, 5, 15)
    calendar = CalendarSettings(timezone="America/New_York", fiscal_start_month=4)
    settings = Settings(calendar=calendar)
    oracle = OracleSettings(timezone="America/New_York", fiscal_start_month=4)
    for measure, by in (("accounts", "referred"), ("mrr", "region")):
        ours = cohort_curves(
            Source(company.ws.store.ibis()), settings, measure=measure, by=by, as_of=as_of
        )
        theirs = oracle_cohorts(frames, measure=measure, by=by, as_of=as_of, settings=oracle)
        assert ours["cohort"].str.startswith("FY").all()
        assert_same(ours, theirs, by)


def test_demo_company_default_as_of(company: Company) -> None:
    out = curves(company.ws)
    assert out.attrs["as_of"] == company.as_of
    assert (out.loc[out["k"] == 0, "value"] == 1.0).all()
    assert out["value"].between(0, 1).all()


# --- PostgreSQL -----------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("by", [None, "segment", "referred"])
@pytest.mark.parametrize("measure", ["accounts", "mrr"])
def test_postgres_matches_duckdb(
    company: Company, postgres_company: Workspace, measure: str, by: str | None
) -> None:
    duck = curves(company.ws, measure=measure, by=by, as_of=company.as_of)
    pg = curves(postgres_company, measure=measure, by=by, as_of=company.as_of)
    assert not duck.empty
    assert_same(pg, duck, by)


# --- CDNOW: real 1997–98 purchases ----------------------------------------------------------


@pytest.mark.external
def test_cdnow_first_cohort_matches_pandas(tmp_path: Path) -> None:
    from advocacy.ingest import ImportOptions, import_file
    from advocacy.ingest.mapping import load_mapping
    from advocacy.storage import Store, migrate

    path = EXTERNAL / "cdnow" / "CDNOW_master.txt"
    if not path.is_file():
        pytest.skip(f"external data set not available: {path}")
    raw = pd.read_csv(path, sep=r"\s+", dtype={"customer_id": str, "date": str})
    raw["month"] = pd.to_datetime(raw["date"], format="%Y%m%d").dt.to_period("M")
    monthly = raw.groupby(["customer_id", "month"])["dollar_value"].sum()
    paying = monthly[monthly > 0].reset_index()
    first = paying.groupby("customer_id")["month"].min()
    cohort = first[first.dt.qyear.eq(1997) & first.dt.quarter.eq(1)]
    pays = set(zip(paying["customer_id"], paying["month"], strict=True))

    def share(k: int) -> float:
        return sum((c, m + k) in pays for c, m in cohort.items()) / len(cohort)

    def net(k: int) -> float:
        at = [monthly.get((c, m + k), 0.0) for c, m in cohort.items()]
        return float(sum(at) / sum(monthly[(c, m)] for c, m in cohort.items()))

    store = Store("duckdb://:memory:")
    try:
        migrate(store)
        for mapping in ("cdnow_accounts", "cdnow_revenue"):
            opts = ImportOptions(mapping=load_mapping(MAPPINGS / f"{mapping}.toml"))
            for report in import_file(store, Settings(), path, opts):
                assert report.balanced, report
        source = Source(store.ibis())
        accounts = cohort_curves(source, Settings())
        mrr = cohort_curves(source, Settings(), measure="mrr")
    finally:
        store.close()
    assert accounts.attrs["as_of"] == date(1998, 6, 30)
    assert accounts["cohort"].iloc[0] == "1997-Q1"
    q1 = accounts[accounts["cohort"] == "1997-Q1"].set_index("k")
    assert q1["base"].iloc[0] == len(cohort)
    assert list(q1.index) == list(range(16))  # March 1997 + 15 = June 1998, the last month
    for k in (1, 12):
        assert math.isclose(q1.at[k, "value"], share(k), rel_tol=1e-12)
    q1_mrr = mrr[mrr["cohort"] == "1997-Q1"].set_index("k")
    assert math.isclose(q1_mrr.at[12, "value"], net(12), rel_tol=1e-9)
