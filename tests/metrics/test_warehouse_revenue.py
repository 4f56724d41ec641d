"""A warehouse revenue table with several rows per account and month (one per subscription
line) gives the numbers of the store, whose import keeps that key unique."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from advocacy.config import Settings
from advocacy.metrics.engine import query
from advocacy.metrics.spec import MetricRequest
from advocacy.warehouse import parse_source_config, warehouse_source
from tests.metrics.helpers import Company

TABLES = ("accounts", "revenue", "advocacy_actions", "survey_responses")
METRICS = ["advocacy_rate", "nps", "grr", "nrr", "logo_retention", "mrr_bridge", "new_logos",
           "referral_new_arr", "referral_conversion_rate"]  # fmt: skip


def test_split_revenue_rows_sum_to_the_month(company: Company, tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    store = company.ws.store.ibis()
    with duckdb.connect(str(path)) as con:
        for name in TABLES:
            frame = store.table(name).to_pyarrow()
            con.register("frame", frame)
            con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
            con.unregister("frame")
        # Each month's MRR in two lines: a quarter and three quarters.
        con.execute(
            "CREATE OR REPLACE TABLE revenue AS "
            "SELECT account_id, month, mrr * 0.25 AS mrr FROM revenue UNION ALL "
            "SELECT account_id, month, mrr * 0.75 AS mrr FROM revenue"
        )
    config = parse_source_config(
        {"backend": "duckdb", "path": str(path), "tables": {"revenue": {"table": "revenue"}}}
    )
    source = warehouse_source(config)
    request = MetricRequest.create(
        METRICS, start=date(2025, 1, 1), end=date(2026, 7, 1), as_of=company.as_of,
        segment_as_of="current",
    )  # fmt: skip
    try:
        split = query(source, Settings(), request)
    finally:
        source.con.disconnect()
    whole = company.ws.metrics(
        METRICS, start=date(2025, 1, 1), end=date(2026, 7, 1), as_of=company.as_of,
        segment_as_of="current",
    )  # fmt: skip
    cols = ["metric", "period_label", "value", "numerator", "denominator", "n"]
    assert len(split) == len(whole)
    pd.testing.assert_frame_equal(split[cols], whole[cols], rtol=1e-9)
