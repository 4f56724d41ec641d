"""Hand-sized companies for rules the demo data never exercises, checked against the oracle."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from advocacy.workspace import Workspace
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
