"""Errors a user can act on. The CLI prints their message and exits 1, never a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input, data or environment, explained in its message."""


class WorkspaceLockedError(UserError):
    """The DuckDB file is held by another process (usually `advocacy serve`)."""
