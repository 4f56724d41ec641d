"""Program commands (DESIGN §7-8); filled in by the program work."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `advocacy` app."""
