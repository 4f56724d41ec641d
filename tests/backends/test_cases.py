"""Every YAML case on every backend gives its hand-computed rows (DESIGN §4-§5, §11)."""

from __future__ import annotations

import pytest

from advocacy.metrics.engine import query
from tests.backends.cases import Case, check, load_cases
from tests.backends.conftest import expect_gap
from tests.backends.engines import EngineConfig

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(case: Case, backend: EngineConfig, request: pytest.FixtureRequest) -> None:
    expect_gap(request, backend, f"case:{case.name}")
    source = backend.load_case(case.name, case.tables)
    check(case, query(source, case.settings, case.request))
