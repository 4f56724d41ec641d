"""State shared by the commands: the workspace named by the global options."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from advocacy.workspace import Workspace, open_workspace


@dataclass
class Globals:
    workspace: Path
    db: str | None

    def open(self) -> Workspace:
        return open_workspace(self.workspace, db=self.db)
