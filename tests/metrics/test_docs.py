"""Docs that cannot rot: the metric reference is the catalogue, and the CLI lists every metric."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from advocacy.cli.main import app
from advocacy.metrics.catalog import CATALOG
from advocacy.metrics.docs import render

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_the_metric_reference_matches_the_catalogue() -> None:
    assert DOCS.read_text(encoding="utf-8") == render(), "run: python -m advocacy.metrics.docs"


def test_every_metric_is_documented_with_a_description() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for metric in CATALOG:
        assert f"`{metric.name}`" in text
        assert len(metric.description) > 20


def test_metrics_list_prints_every_metric_as_json() -> None:
    result = CliRunner().invoke(app, ["metrics", "--list", "--format", "json"])
    assert result.exit_code == 0, result.output
    names = [row["name"] for row in json.loads(result.stdout)]
    assert names == [m.name for m in CATALOG]
