"""The operational store and its schema migrations."""

from __future__ import annotations

from advocacy.storage.migrations import migrate
from advocacy.storage.store import Dialect, Store, Tx

__all__ = ["Dialect", "Store", "Tx", "migrate"]
