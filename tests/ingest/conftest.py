"""Fixtures of the import tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from advocacy.config import Settings
from advocacy.storage import Store

from .harness import Harness


@pytest.fixture
def db(store: Store, settings: Settings, write_file: Callable[..., Path]) -> Harness:
    """Import files into a fresh store on each backend and read back what it holds."""
    return Harness(store, settings, write_file)
