"""Eligibility on a hand-built workspace: the policy's reasons and dates reach the candidates,
recommend only picks eligible asks, and the CLI keeps its contract."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from advocacy.cli.main import app
from advocacy.errors import UserError
from advocacy.workspace import init_workspace, open_workspace
from tests.cli import ADVOCACY

FILES = {
    "accounts": "account_id,name,segment,created_at,is_test\n"
    "A1,Alpha,enterprise,2025-01-01,false\nA2,Beta,smb,2025-02-01,false\n"
    "A3,Test,smb,2025-01-01,true\n",
    "contacts": "contact_id,account_id,email,advocacy_opt_out\n"
    "C1,A1,c1@example.com,false\nC2,A1,c2@example.com,false\nC3,A1,c3@example.com,true\n"
    "C9,A3,c9@example.com,false\n",
    "asks": "ask_id,account_id,contact_id,ask_type,asked_at\nK1,A1,C1,review,2026-06-20T10:00:00\n",
    "milestones": "milestone_id,account_id,milestone_type,occurred_at\n"
    "M1,A2,onboarding_complete,2026-06-25T09:00:00\nM2,A1,go_live,2026-06-26T09:00:00\n",
    "survey_responses": "response_id,account_id,contact_id,survey,score,responded_at\n"
    "R1,A1,C2,nps,10,2026-06-28T12:00:00\n",
}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("small-program")
    with init_workspace(root / "ws") as ws:
        for table, text in FILES.items():
            path = root / f"{table}.csv"
            path.write_text(text, encoding="utf-8")
            ws.import_files([path], table=table)
    return root / "ws"


def _rows(folder: Path, **options: object) -> pd.DataFrame:
    with open_workspace(folder) as ws:
        rows = ws.candidates(**options)
    return rows.set_index(rows["contact_id"].fillna("(account)"))


def test_reasons_name_each_blocking_rule_and_when_it_lapses(folder: Path) -> None:
    rows = _rows(folder, ask_type="review", as_of="2026-06-30")
    assert set(rows.index) == {"C1", "C2", "C3", "(account)"}  # no test account, no C9
    assert rows.loc["(account)", "account_id"] == "A2"
    assert rows.loc["(account)", "eligible"]
    assert not rows[["eligible"]].loc[["C1", "C2", "C3"]].any().any()
    c1 = " | ".join(rows.loc["C1", "reasons"])
    # Asked on 2026-06-20: 30 days of contact spacing and a 90-day cap window.
    assert "blocked by contact_spacing (eligible from 2026-07-20)" in c1
    assert "blocked by advocacy_cap (eligible from 2026-09-18)" in c1
    assert "blocked by account_spacing (eligible from 2026-07-04)" in c1
    c2 = " | ".join(rows.loc["C2", "reasons"])
    assert "blocked by account_spacing (eligible from 2026-07-04)" in c2
    assert "contact_spacing" not in c2
    assert "blocked by opt_out (no end date)" in " | ".join(rows.loc["C3", "reasons"])
    assert rows["probability"].isna().all()  # one ask: no model
    # Ten days later the account spacing has lapsed for C2, not C1's own rules.
    later = _rows(folder, ask_type="review", as_of="2026-07-10")
    assert later.loc["C2", "eligible"]
    assert not later.loc["C1", "eligible"]
    assert later.loc["C2", "reasons"][0].startswith("promoter +1.50")


def test_without_ask_type_a_consent_gap_is_named(folder: Path) -> None:
    rows = _rows(folder, as_of="2026-07-10")
    assert rows.loc["C2", "eligible"]
    assert all("[for" not in r for r in rows.loc["C1", "reasons"])  # blocks every type


def test_segment_filter(folder: Path) -> None:
    rows = _rows(folder, segment="smb", as_of="2026-06-30")
    assert list(rows["account_id"]) == ["A2"]
    with pytest.raises(UserError, match="no active account"):
        _rows(folder, segment="nope", as_of="2026-06-30")


def test_limit_counts_eligible_candidates(folder: Path) -> None:
    rows = _rows(folder, ask_type="review", as_of="2026-06-30", limit=1)
    assert rows["eligible"].sum() == 1
    assert (rows.loc[~rows["eligible"], "score"] >= rows.loc[rows["eligible"], "score"].min()).all()


def test_recommend_only_eligible_and_account_level(folder: Path) -> None:
    with open_workspace(folder) as ws:
        early = ws.recommend(as_of="2026-06-30")
        late = ws.recommend(as_of="2026-07-10")
    # 06-30: A1's contacts are all blocked; A2 has no contact, so the ask names the account.
    assert list(early["account_id"]) == ["A2"]
    assert early["contact_id"].isna().all()
    assert early.loc[0, "moment"] == "onboarding_complete"
    assert early.loc[0, "milestone_id"] == "M1"
    assert "stand-in" in early.loc[0, "reasons"][1]
    # 07-10: C2's promoter answer of 06-28 is the one moment left in the 14-day window.
    assert list(late["contact_id"]) == ["C2"]
    assert late.loc[0, "moment"] == "promoter_response"
    value = {"review": 2.0, "referral": 4.0, "case_study": 5.0, "testimonial": 2.0,
             "reference_call": 3.0}[late.loc[0, "ask_type"]]  # fmt: skip
    assert late.loc[0, "expected_value"] == pytest.approx(late.loc[0, "probability"] * value)


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ADVOCACY), "--workspace", str(folder), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_cli_errors_are_one_line(folder: Path) -> None:
    bad = _cli(folder, "candidates", "--ask-type", "banner_ad")
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1
    assert "banner_ad" in bad.stderr


def test_cli_in_process(folder: Path) -> None:
    runner = CliRunner()
    thin = runner.invoke(app, ["--workspace", str(folder), "candidates", "--evaluate"])
    assert thin.exit_code == 1
    assert isinstance(thin.exception, UserError)
    assert "not enough ask history" in str(thin.exception)
    table = runner.invoke(
        app,
        ["--workspace", str(folder), "candidates", "--as-of", "2026-06-30", "--ask-type", "review"],
    )
    assert table.exit_code == 0, table.output
    assert "blocked by opt_out (no end date)" in table.stdout
