"""The same metric suite gives the same numbers on DuckDB and PostgreSQL (DESIGN §11)."""

from __future__ import annotations

from datetime import date

import pytest

from advocacy.metrics.catalog import CATALOG
from advocacy.workspace import Workspace
from tests.metrics.helpers import Company, differences

START, END = date(2024, 10, 1), date(2026, 10, 1)
INTERVALS = ("ci_low", "ci_high")


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("by", "basis"), [(None, None), ("segment", None), ("segment", "logo"), ("segment", "arr")]
)
def test_every_metric_matches_on_postgres(
    company: Company, postgres_company: Workspace, by: str | None, basis: str | None
) -> None:
    """Each metric on its default basis, then every metric that takes the logo (arr) basis on
    it: the latest-response window and the ARR weights are other SQL than the defaults."""
    names = [m.name for m in CATALOG if basis is None or basis in {b.value for b in m.bases}]
    opts = {"by": by, "basis": basis, "start": START, "end": END, "as_of": company.as_of}
    duck = company.ws.metrics(names, **opts)
    pg = postgres_company.metrics(names, **opts)
    assert set(duck.metric) == set(names)  # every metric has rows to compare
    problems = []
    for name in names:
        a, b = duck[duck.metric == name], pg[pg.metric == name]
        problems += [f"{name} {p}" for p in differences(a, b, by)]
        for col in INTERVALS:
            problems += [
                f"{name} {p}"
                for p in differences(a.assign(value=a[col]), b.assign(value=b[col]), by)
                if " value:" in p
            ]
    assert problems == []
    assert set(duck.fingerprint) == set(pg.fingerprint)
