"""The demo company at scale 1, imported through the real path, shared by the analysis tests.

Scale 1 (about 10k accounts) gives the planted effects of demo_truth.json enough power to be
recovered; the fixture is built once per session (about 15 s).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from advocacy.demo import GeneratedCompany, generate
from tests.metrics.helpers import Company, import_company


@pytest.fixture(scope="session")
def demo_generated(tmp_path_factory: pytest.TempPathFactory) -> GeneratedCompany:
    return generate(tmp_path_factory.mktemp("analysis-company") / "data", scale=1.0, seed=7)


@pytest.fixture(scope="session")
def demo_company(
    demo_generated: GeneratedCompany, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Company]:
    ws = import_company(demo_generated, tmp_path_factory.mktemp("analysis-ws"))
    yield Company(ws, demo_generated)
    ws.close()


@pytest.fixture(scope="session")
def demo_truth(demo_generated: GeneratedCompany) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(demo_generated.truth_path.read_text(encoding="utf-8"))
    return loaded
