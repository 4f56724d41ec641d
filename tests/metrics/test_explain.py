"""`explain` (the SQL of the rollup a request's metrics share) and request refusals."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

from advocacy.cli.main import app
from advocacy.errors import UserError
from advocacy.schema.vocab import ActionType
from tests.metrics.helpers import Company


def test_the_rollup_reads_only_what_its_metrics_need(company: Company) -> None:
    sql = company.ws.explain_metrics(["nps", "reviews"], by="segment")
    for read in ("survey_responses", "advocacy_actions", "nps_prom", "m_reviews"):
        assert read in sql
    # Neither the CSAT mean's sums nor each account's latest response (a window) are read.
    for unread in ("csat_norm", "ROW_NUMBER", "tickets"):
        assert unread not in sql

    logo = company.ws.explain_metrics(["nps"], basis="logo")
    assert "last_nps_prom" in logo
    assert "ROW_NUMBER" in logo


def test_cli_prints_the_sql_and_computes_nothing(company: Company) -> None:
    folder = str(company.ws.path)
    result = CliRunner().invoke(app, ["-w", folder, "metrics", "csat_mean", "--explain"])
    assert result.exit_code == 0, result.output
    assert result.stdout.lstrip().upper().startswith(("SELECT", "WITH"))
    assert "csat_norm" in result.stdout
    assert "Metrics as of" not in result.stdout


def test_an_ask_column_groups_only_ask_metrics(company: Company) -> None:
    kw = {"by": "ask_type", "start": date(2025, 1, 1), "end": date(2025, 7, 1)}
    rows = company.ws.metrics(["ask_acceptance_rate"], as_of=company.as_of, **kw)
    assert set(rows["ask_type"].dropna()) <= {*(t.value for t in ActionType), "survey", "(none)"}
    assert rows["ask_type"].notna().any()
    for metric in ("nps", "over_asked_contacts"):
        with pytest.raises(UserError, match="is a column of asks"):
            company.ws.metrics([metric], as_of=company.as_of, **kw)
