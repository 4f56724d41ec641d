"""Hand-sized companies for rules the demo data never exercises, checked against the oracle."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date
from pathlib import Path

import pytest

from advocacy.errors import UserError
from advocacy.metrics.catalog import CATALOG
from advocacy.metrics.context import build_context
from advocacy.metrics.spec import MetricRequest
from advocacy.workspace import Workspace
from tests.cli import ADVOCACY
from tests.metrics.helpers import canonical_frames, differences, small_workspace
from tests.oracle.metrics_oracle import compute

START, END, AS_OF = date(2026, 1, 1), date(2026, 4, 1), date(2026, 6, 30)


@pytest.fixture
def churned_responder(tmp_path: Path) -> Workspace:
    """A1 pays all quarter; A2 stopped paying in 2025 but still answers the NPS survey."""
    files = {
        "accounts": "account_id,segment,created_at\nA1,smb,2024-01-01\nA2,smb,2024-01-01\n",
        "revenue": "account_id,month,mrr\nA1,2026-01-01,100\nA1,2026-02-01,100\nA1,2026-03-01,100\nA2,2025-06-01,50\n",
        "survey_responses": (
            "response_id,account_id,survey,score,responded_at\n"
            "r1,A1,nps,10,2026-02-01\nr2,A1,nps,3,2026-03-01\nr3,A2,nps,9,2026-02-15\n"
        ),
    }
    return small_workspace(tmp_path, files)


@pytest.mark.parametrize("basis", ["response", "logo"])
def test_survey_metrics_count_inactive_respondents(
    churned_responder: Workspace, basis: str
) -> None:
    ours = churned_responder.metrics("nps", basis=basis, start=START, end=END, as_of=AS_OF)
    theirs = compute(
        canonical_frames(churned_responder),
        metric="nps",
        basis=basis,
        start=START,
        end=END,
        as_of=AS_OF,
    )
    assert differences(ours, theirs, None) == []
    # logo: A1's latest answer is a detractor (3), A2's a promoter (9): NPS 0 over 2 accounts.
    expected = {"response": (100 * (2 - 1) / 3, 3), "logo": (0.0, 2)}[basis]
    assert (ours.loc[0, "value"], ours.loc[0, "n"]) == pytest.approx(expected)


def test_over_asked_contacts_say_when_a_closed_period_can_still_rise(tmp_path: Path) -> None:
    """A window overlapping Q4 reaches 90 days past its end: an ask in January can still make
    a December contact over-asked in Q4, and until 90 days after Q4 a note says so."""
    files = {
        "accounts": "account_id,created_at\nA1,2024-01-01\nA2,2024-01-01\n",
        "contacts": "contact_id,account_id,email\nC1,A1,c1@example.com\nC2,A2,c2@example.com\n",
        "asks": (
            "ask_id,account_id,contact_id,ask_type,asked_at\n"
            "k1,A1,C1,review,2025-12-20T10:00:00\nk2,A1,C1,case_study,2026-01-10T10:00:00\n"
            "k3,A2,C2,review,2025-11-02T10:00:00\nk4,A2,C2,referral,2026-03-15T10:00:00\n"
        ),
    }
    ws = small_workspace(tmp_path, files)
    q4 = {"start": date(2025, 10, 1), "end": date(2026, 1, 1)}
    early = ws.metrics("over_asked_contacts", as_of=date(2026, 1, 5), **q4)
    # By 5 January C1 has one ask: nothing yet, and the note says Q4 can still rise.
    assert early["value"].tolist() == [0]
    assert early.attrs["notes"] == [
        "over_asked_contacts: 2025-Q4 can still rise with asks made before 2026-04-01 "
        "(a 90-day window overlapping a period reaches past its end)"
    ]
    # k2 falls 21 days after k1, in a window that overlaps Q4; C2's asks are 133 days apart.
    later = ws.metrics("over_asked_contacts", as_of=date(2026, 2, 1), **q4)
    assert later["value"].tolist() == [1]
    boot = ws.metrics("over_asked_contacts", as_of=date(2026, 2, 1), ci="bootstrap", **q4)
    assert len(boot.attrs["notes"]) == 1
    settled = ws.metrics("over_asked_contacts", as_of=date(2026, 4, 30), **q4)
    assert settled["value"].tolist() == [1]
    assert [n for n in settled.attrs["notes"] if n.startswith("over_asked")] == []
    ws.close()
    # The CLI says it on stderr in every format, and JSON keeps stdout to itself.
    done = subprocess.run(
        [ADVOCACY, "-w", str(tmp_path / "ws"), "metrics", "over_asked_contacts", "--from",
         "2025-10-01", "--to", "2026-01-01", "--as-of", "2026-01-05", "--format", "json"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert [row["value"] for row in json.loads(done.stdout)] == [0]
    assert "note: over_asked_contacts: 2025-Q4 can still rise" in done.stderr


def test_the_table_view_says_which_tickets_a_median_still_waits_for(tmp_path: Path) -> None:
    """A closed month's ticket medians move when its open tickets are answered or resolved."""
    files = {
        "accounts": "account_id,created_at\nA1,2024-01-01\n",
        "tickets": (
            "ticket_id,account_id,opened_at,first_response_at,resolved_at\n"
            "t1,A1,2026-01-05T10:00:00,2026-01-05T12:00:00,2026-01-06T10:00:00\n"
            "t2,A1,2026-01-07T10:00:00,2026-01-07T14:00:00,2026-02-20T10:00:00\n"
            "t3,A1,2026-01-09T10:00:00,2026-02-03T10:00:00,\n"
        ),
    }
    small_workspace(tmp_path, files).close()
    args = [ADVOCACY, "-w", str(tmp_path / "ws"), "metrics", "first_response_hours",
            "resolution_hours", "--period", "month", "--from", "2026-01-01", "--to", "2026-02-01"]  # fmt: skip
    # On 31 January t3 has no answer and t2, t3 are unresolved; by 28 February only t3 is.
    early = subprocess.run([*args, "--as-of", "2026-01-31"], capture_output=True, text=True,
                           check=True, env={**os.environ, "COLUMNS": "200"}).stdout  # fmt: skip
    lines = {line.split("│")[1].strip(): line for line in early.splitlines() if "hours" in line}
    assert "1 unanswered" in lines["first_response_hours"]
    assert "2 unresolved" in lines["resolution_hours"]
    assert "3.0 h" in lines["first_response_hours"]  # the median of 2 h and 4 h
    late = subprocess.run([*args, "--as-of", "2026-02-28"], capture_output=True, text=True,
                          check=True, env={**os.environ, "COLUMNS": "200"}).stdout  # fmt: skip
    lines = {line.split("│")[1].strip(): line for line in late.splitlines() if "hours" in line}
    assert "unanswered" not in lines["first_response_hours"]
    assert "1 unresolved" in lines["resolution_hours"]


@pytest.mark.parametrize("by", [None, "segment"])
def test_a_range_before_the_first_account_has_no_rows(tmp_path: Path, by: str | None) -> None:
    """Counts take their zero rows from the active accounts: with none in the range, no rows
    (no active accounts raised a KeyError, found on a third-party NPS file). The same company
    over the quarter of its data: the zero and the NPS, as the oracle computes them."""
    files = {
        "accounts": "account_id,segment,created_at\nA1,smb,2026-02-01\n",
        "survey_responses": "response_id,account_id,survey,score,responded_at\nr1,A1,nps,9,2026-02-10\n",
    }
    ws = small_workspace(tmp_path, files)
    names = [m.name for m in CATALOG]
    before = ws.metrics(names, by=by, start=date(2025, 1, 1), end=START, as_of=AS_OF)
    assert before.empty
    assert "no rows in [2025-01-01, 2026-01-01) as of 2026-06-30" in before.attrs["notes"]
    frames = canonical_frames(ws)
    for name in ("advocacy_actions", "nps", "advocacy_rate"):
        ours = ws.metrics(name, by=by, start=START, end=END, as_of=AS_OF)
        theirs = compute(frames, metric=name, by=by, start=START, end=END, as_of=AS_OF)
        assert len(ours) == (2 if by else 1), name
        assert differences(ours, theirs, by) == []
    ws.close()
    # The CLI's default range, the 8 complete quarters before as_of (the response's day),
    # leaves the data out: it says so and how to choose another.
    done = subprocess.run([ADVOCACY, "-w", str(tmp_path / "ws"), "metrics"], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "no rows in [2024-01-01, 2026-01-01) as of 2026-02-10 (the default range" in done.stderr


@pytest.mark.parametrize(("window", "expected"), [("period", (3, 4)), ("ttm", (2, 4))])
def test_logo_retention_by_the_date_rule_reads_the_start_and_end_months(
    tmp_path: Path, window: str, expected: tuple[int, int]
) -> None:
    """Accounts without revenue are in the starting base when date-active in the start month
    and retained when date-active in the end month, as revenue would say (MRR in the month).
    2026-Q1: start month December 2025 (period) or March 2025 (ttm), end month March 2026.
    The engine used the period's first and last instants instead: D2 (churned in December) was
    not in the base, D3 (churned in March) not retained, D4 (created in December) in the ttm
    base, D6 (churned in November) not in it."""
    files = {
        "accounts": "account_id,segment,created_at,churned_at\n"
        "D1,smb,2024-01-01,\n"  # base, kept (both windows)
        "D2,smb,2024-01-01,2025-12-15\n"  # base, lost (both)
        "D3,smb,2024-01-01,2026-03-20\n"  # base, kept: active in March (both)
        "D4,smb,2025-12-20,\n"  # base and kept on period; after March 2025 on ttm
        "D5,smb,2026-01-10,\n"  # created in the period: never in the base
        "D6,smb,2024-01-01,2025-11-30\n",  # ttm base, lost; gone before December
    }
    ws = small_workspace(tmp_path, files)
    ours = ws.metrics("logo_retention", window=window, start=START, end=END, as_of=AS_OF)
    theirs = compute(canonical_frames(ws), metric="logo_retention", window=window, start=START,
                     end=END, as_of=AS_OF)  # fmt: skip
    assert differences(ours, theirs, None) == []
    assert (ours.loc[0, "numerator"], ours.loc[0, "denominator"]) == expected


@pytest.fixture
def paying(tmp_path: Path) -> Workspace:
    """Two accounts paying from October 2025 to August 2026; A2 answers NPS in June."""
    months = [f"2025-{m:02d}-01" for m in (10, 11, 12)] + [f"2026-{m:02d}-01" for m in range(1, 9)]
    revenue = "".join(f"{a},{m},100\n" for a in ("A1", "A2") for m in months)
    files = {
        "accounts": "account_id,segment,created_at\nA1,smb,2025-01-01\nA2,enterprise,2025-01-01\n",
        "revenue": "account_id,month,mrr\n" + revenue,
        "survey_responses": "response_id,account_id,survey,score,responded_at\nr1,A2,nps,9,2026-06-10\n",
    }
    return small_workspace(tmp_path, files)


def test_no_rows_for_periods_not_begun_or_without_a_complete_month(paying: Workspace) -> None:
    rows = paying.metrics(["grr", "logo_retention", "mrr_bridge"], period="month",
                          start=date(2026, 6, 1), end=date(2027, 1, 1), as_of=date(2026, 8, 15))  # fmt: skip
    # July is complete; August has begun but none of its months has ended; later months
    # have not begun: they are left out with a note, not shown as 1.0 or 0.0.
    assert sorted(set(rows["period_label"])) == ["2026-06", "2026-07"]
    assert any("left out" in note for note in rows.attrs["notes"])
    with pytest.raises(UserError, match="begins after as_of"):
        paying.metrics(
            "grr", start=date(2026, 10, 1), end=date(2027, 1, 1), as_of=date(2026, 8, 15)
        )


def test_ranges_given_by_one_end_and_mistyped_dates(paying: Workspace) -> None:
    request = MetricRequest.create("grr", end=date(2026, 7, 1), as_of=date(2026, 8, 31))
    ctx = build_context(paying.source(), paying.settings, request)
    # Eight quarters ending at --to, the default length.
    assert [p.label for p in ctx.periods] == [
        f"{y}-Q{q}"
        for y, q in [(2024, 3), (2024, 4)]
        + [(2025, q) for q in range(1, 5)]
        + [(2026, 1), (2026, 2)]
    ]
    late_from = paying.metrics(
        "nps", start=date(2026, 6, 1), as_of=date(2026, 8, 31), period="month"
    )
    assert late_from["period_label"].tolist() == ["2026-06"]
    for bad in ({"end": "9999-12-31"}, {"start": "0001-01-01"}, {"as_of": "9999-12-31"}):
        with pytest.raises(UserError, match="outside"):
            paying.metrics("grr", **bad)
    with pytest.raises(UserError, match="at most"):
        paying.metrics("grr", period="month", start="1900-01-01", as_of=date(2026, 8, 31))


def test_filters_and_options_that_cannot_work_say_so(paying: Workspace) -> None:
    none = paying.metrics("nps", filters={"segment": "SMB"}, as_of=date(2026, 8, 31))
    assert none.empty
    assert any(
        "no account has that value (segment: enterprise, smb)" in n for n in none.attrs["notes"]
    )
    with pytest.raises(UserError, match="one value per column"):
        paying.metrics("nps", filters={"segment": ["smb", "enterprise"]})
    with pytest.raises(UserError, match="unknown option"):
        paying.metrics("nps", filter={"segment": "smb"})
    with pytest.raises(UserError, match="cannot be computed on the response basis"):
        paying.explain_metrics("advocacy_rate", basis="response")
    headline = paying.metrics(as_of=date(2026, 8, 31))
    assert {"advocacy_rate", "nps", "grr"} <= set(headline["metric"])
    twice = paying.metrics(["nps", "nps"], as_of=date(2026, 8, 31))
    assert len(twice) == len(paying.metrics("nps", as_of=date(2026, 8, 31)))
    stale = paying.metrics("nps", as_of=date(2026, 12, 31), start="2026-04-01")
    assert any("after the latest data (2026-08-31)" in n for n in stale.attrs["notes"])
    paying.close()
    ws = str(paying.path)
    done = subprocess.run([ADVOCACY, "-w", ws, "metrics", "nps", "--filter", "segment=smb",
                           "--filter", "segment=enterprise"], capture_output=True, text=True)  # fmt: skip
    assert done.returncode != 0
    assert "given twice" in done.stderr
    assert "Traceback" not in done.stderr
    done = subprocess.run([ADVOCACY, "-w", ws, "metrics", "nps", "--explain", "--format", "json"],
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode != 0
    assert "--explain prints SQL" in done.stderr


def test_groups_of_a_numeric_dimension_are_in_numeric_order(tmp_path: Path) -> None:
    files = {
        "accounts": (
            "account_id,employees,created_at\nA1,100,2024-01-01\nA2,20,2024-01-01\n"
            "A3,,2024-01-01\nA4,9,2024-01-01\n"
        ),
    }
    ws = small_workspace(tmp_path, files)
    rows = ws.metrics("advocacy_rate", by="employees", start=START, end=END, as_of=AS_OF)
    ws.close()
    assert list(rows["employees"].fillna("(all)")) == ["9", "20", "100", "(none)", "(all)"]


def test_rows_whose_responses_come_from_one_account_say_so(tmp_path: Path) -> None:
    """Responses are clustered by account (DESIGN §5): with one account the interval is as wide
    as one response's, [−100, 100] for NPS from 30 responses on. A note names those rows (smb's
    and, in Q2, the total), not a row with two accounts (the Q1 total), nor a single response
    (enterprise's)."""
    scores = [10] * 20 + [3] * 12  # A1 (smb): 32 responses in Q1, two in Q2
    rows = [f"s{i},A1,nps,{s},2026-02-{1 + i % 27:02d}" for i, s in enumerate(scores)]
    rows += ["s98,A1,nps,9,2026-05-01", "s99,A1,nps,2,2026-05-02", "e1,A2,nps,8,2026-02-02"]
    files = {
        "accounts": "account_id,segment,created_at\nA1,smb,2024-01-01\nA2,enterprise,2024-01-01\n",
        "survey_responses": "response_id,account_id,survey,score,responded_at\n" + "\n".join(rows),
    }
    ws = small_workspace(tmp_path, files)
    end = date(2026, 7, 1)
    ours = ws.metrics(["nps", "promoter_share"], by="segment", start=START, end=end, as_of=AS_OF)
    theirs = compute(canonical_frames(ws), metric="nps", by="segment", start=START, end=end,
                     as_of=AS_OF)  # fmt: skip
    assert differences(ours[ours["metric"] == "nps"], theirs, "segment") == []
    smb = ours[(ours["metric"] == "nps") & (ours["segment"] == "smb") & (ours["n"] == 32)]
    assert (smb["ci_low"].iloc[0], smb["ci_high"].iloc[0]) == (-100.0, 100.0)
    notes = [n for n in ours.attrs["notes"] if "one account gave all the responses" in n]
    assert [n.split(";")[0] for n in notes] == [
        f"{m}: one account gave all the responses of 2026-Q1 segment smb, 2026-Q2 segment smb, "
        "2026-Q2 total"
        for m in ("nps", "promoter_share")
    ]
    # Bootstrap intervals replay the same rows: the note is said once, not per replicate.
    boot = ws.metrics("nps", by="segment", start=START, end=end, as_of=AS_OF, ci="bootstrap")
    assert sum("one account gave all" in n for n in boot.attrs["notes"]) == 1
    ws.close()
