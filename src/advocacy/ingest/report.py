"""What one import did, as logged in `_imports` and shown to the user."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

COUNT_FIELDS = (
    "read", "inserted", "updated", "unchanged", "duplicate", "conflicting", "rejected", "orphan",
)  # fmt: skip


@dataclass
class ImportReport:
    import_id: str
    table: str
    file: str
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicate: int = 0
    conflicting: int = 0
    rejected: int = 0
    orphan: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def balanced(self) -> bool:
        """Every row read is accounted for exactly once (orphans are a subset of the stored)."""
        accounted = (
            self.inserted + self.updated + self.unchanged + self.duplicate + self.conflicting
            + self.rejected
        )  # fmt: skip
        return accounted == self.read
