"""`explain`: the SQL of the rollup a request's metrics share, from the API and the CLI."""

from __future__ import annotations

from typer.testing import CliRunner

from advocacy.cli.main import app
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
