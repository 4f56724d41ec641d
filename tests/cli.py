"""The console script of the environment running the tests, for tests that use the CLI as a
user does (a subprocess, real exit codes and output)."""

from __future__ import annotations

import sys
from pathlib import Path

ADVOCACY = str(Path(sys.executable).with_name("advocacy"))
