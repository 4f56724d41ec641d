"""advocacy: measure customer advocacy and run advocacy programs, on your own warehouse.

>>> import advocacy
>>> ws = advocacy.open("demo")          # a workspace folder, a .duckdb file or a database URL
>>> ws.import_files(["accounts.csv"], table="accounts")
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import duckdb

from advocacy.errors import UserError
from advocacy.workspace import Workspace, init_workspace
from advocacy.workspace import open_workspace as open

if not duckdb.__version__.startswith("1."):
    raise ImportError(
        f"advocacy needs duckdb 1.x (found {duckdb.__version__}); Ibis 12 fails on DuckDB 2. "
        "Install with: pip install 'duckdb>=1.5,<2'"
    )

try:
    __version__ = version("advocacy")
except PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0"

__all__ = ["UserError", "Workspace", "__version__", "init_workspace", "open"]
