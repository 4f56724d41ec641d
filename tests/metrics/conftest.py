"""A small demo company imported through the real import path, shared by the metric tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from advocacy.demo import GeneratedCompany, generate
from tests.metrics.helpers import Company, import_company


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> GeneratedCompany:
    return generate(tmp_path_factory.mktemp("company") / "data", scale=0.05, seed=11)


@pytest.fixture(scope="session")
def company(
    generated: GeneratedCompany, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Company]:
    ws = import_company(generated, tmp_path_factory.mktemp("ws"))
    yield Company(ws, generated)
    ws.close()
