"""Shared fixtures: generated companies are expensive, so each is made once per test session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

try:
    import advocacy.demo  # noqa: F401
except ModuleNotFoundError:  # running from a checkout without an installed package
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from advocacy.demo import GeneratedCompany, generate

SMALL = 0.05
# Large enough that an 8-week window in one segment holds a few hundred counted actions.
EFFECTS = 1.0


@pytest.fixture(scope="session")
def small(tmp_path_factory: pytest.TempPathFactory) -> GeneratedCompany:
    return generate(tmp_path_factory.mktemp("small"), scale=SMALL, seed=7)


@pytest.fixture(scope="session")
def small_again(tmp_path_factory: pytest.TempPathFactory) -> GeneratedCompany:
    return generate(tmp_path_factory.mktemp("small_again"), scale=SMALL, seed=7)


@pytest.fixture(scope="session")
def small_other_seed(tmp_path_factory: pytest.TempPathFactory) -> GeneratedCompany:
    return generate(tmp_path_factory.mktemp("small_other"), scale=SMALL, seed=8)


@pytest.fixture(scope="session")
def effects(tmp_path_factory: pytest.TempPathFactory) -> GeneratedCompany:
    return generate(tmp_path_factory.mktemp("effects"), scale=EFFECTS, seed=7)
