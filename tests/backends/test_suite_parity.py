"""The whole metric catalogue by segment on the demo company: every engine gives DuckDB's rows.

The reference is the company imported into a DuckDB store. Spark reads the same Parquet files
from renamed warehouse tables through the `[source]` mapping; DuckDB reads them as a read-only
warehouse file the same way; PostgreSQL imports them. Values, numerators, denominators, n,
pending_n and intervals must agree at 1e-9 relative.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from advocacy.config import Settings
from advocacy.demo import GeneratedCompany
from advocacy.metrics.catalog import CATALOG
from advocacy.metrics.engine import query
from advocacy.metrics.source import Source
from advocacy.metrics.spec import MetricRequest
from tests.backends.cases import RowMismatch, frame_differences
from tests.backends.conftest import expect_gap
from tests.backends.engines import EngineConfig

METRICS = [m.name for m in CATALOG]
BY = "segment"
Outcome = pd.DataFrame | Exception


def _request(
    company: GeneratedCompany, names: list[str], basis: str | None = None
) -> MetricRequest:
    return MetricRequest.create(
        names,
        by=BY,
        start=date(2024, 10, 1),
        end=date(2026, 10, 1),
        as_of=company.as_of,
        basis=basis,
    )


TOGETHER = "(the whole catalogue in one request)"


def run_catalogue(source: Source, company: GeneratedCompany, skip: set[str]) -> dict[str, Outcome]:
    """All metrics in one request (shared rollup, batched aggregations, as users run it); one by
    one if that fails, to say which, with the failure of the whole kept under TOGETHER.

    Metrics in `skip` (known to raise on this engine) run alone, so they cannot hide the others.
    """
    together = [m for m in METRICS if m not in skip]
    out: dict[str, Outcome] = {}
    try:
        rows = query(source, Settings(), _request(company, together))
        out = {m: rows[rows.metric == m] for m in together}
    except Exception as exc:
        out[TOGETHER] = exc
        skip = set(METRICS)
    for metric in sorted(skip):
        try:
            out[metric] = query(source, Settings(), _request(company, [metric]))
        except Exception as exc:
            out[metric] = exc
    return out


@pytest.fixture(scope="session")
def reference_rows(reference: Source, company: GeneratedCompany) -> pd.DataFrame:
    return query(reference, Settings(), _request(company, METRICS))


@pytest.fixture(scope="module")
def source(backend: EngineConfig, company: GeneratedCompany) -> Source:
    return backend.load_company(company)


@pytest.fixture(scope="module")
def catalogue(
    backend: EngineConfig, source: Source, company: GeneratedCompany
) -> dict[str, Outcome]:
    raising = {
        key.split(":", 1)[1]
        for key, gap in backend.known_gaps.items()
        if key.startswith("suite:") and gap.raises is not RowMismatch
    }
    return run_catalogue(source, company, raising)


def test_the_whole_catalogue_runs_as_one_request(catalogue: dict[str, Outcome]) -> None:
    """Batching every metric's aggregations into one query must work on each engine; the
    metrics one by one passing would not show that."""
    failure = catalogue.get(TOGETHER)
    if isinstance(failure, Exception):
        raise failure


@pytest.mark.parametrize("metric", METRICS)
def test_metric_matches_duckdb(
    metric: str,
    backend: EngineConfig,
    catalogue: dict[str, Outcome],
    reference_rows: pd.DataFrame,
    request: pytest.FixtureRequest,
) -> None:
    expect_gap(request, backend, f"suite:{metric}")
    got = catalogue[metric]
    if isinstance(got, Exception):
        raise got
    want = reference_rows[reference_rows.metric == metric]
    assert len(want), f"the reference has no rows for {metric}: the demo should exercise it"
    problems = frame_differences(got, want, BY)
    if problems:
        raise RowMismatch(f"{metric} on {backend.name}:\n  " + "\n  ".join(problems[:20]))
    assert set(got.fingerprint) == set(want.fingerprint)


@pytest.mark.parametrize("basis", ["logo", "arr"])
def test_other_bases_match_duckdb(
    basis: str, backend: EngineConfig, source: Source, reference: Source, company: GeneratedCompany
) -> None:
    """Every metric that takes the basis, on it, in one request: the latest response per
    account (a window) and the ARR weights are other SQL than the default bases'."""
    names = [m.name for m in CATALOG if basis in {b.value for b in m.bases}]
    got = query(source, Settings(), _request(company, names, basis))
    want = query(reference, Settings(), _request(company, names, basis))
    assert set(want.metric) == set(names)
    problems = frame_differences(got, want, BY)
    assert problems == [], f"{basis} basis on {backend.name}:\n  " + "\n  ".join(problems[:20])
