"""A small demo company imported through the real import path, shared by the metric tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from advocacy.demo import GeneratedCompany, generate
from advocacy.workspace import Workspace
from tests.metrics.helpers import Company, import_company
from tests.metrics.helpers import postgres_company as import_postgres


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


@pytest.fixture(scope="session")
def postgres_company(
    postgres_server_url: str, generated: GeneratedCompany, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workspace]:
    """The same company imported into a fresh PostgreSQL schema (dropped afterwards)."""
    with import_postgres(
        generated, tmp_path_factory.mktemp("pg"), postgres_server_url, "advocacy_metrics"
    ) as ws:
        yield ws
