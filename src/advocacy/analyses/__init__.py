"""Analyses of DESIGN §6: each returns frames plus one plain sentence.

Every analysis module exposes ``run(source, settings, options) -> AnalysisResult`` and is looked up by
name here, so the CLI, the Python API and the benchmark share one dispatch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

import pandas as pd

from advocacy.config import Settings
from advocacy.errors import UserError

ANALYSES = ("support", "leading", "dropoffs", "segments", "program")


@dataclass(frozen=True)
class AnalysisOptions:
    """Options of `advocacy analyze` (DESIGN §8); None means the analysis's own default."""

    period: str = "quarter"
    start: date | None = None
    end: date | None = None
    as_of: date | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class AnalysisResult:
    """``parts["main"]`` holds the rows of DESIGN §8; other parts (changepoints, quiet) are extra."""

    name: str
    sentence: str
    parts: dict[str, pd.DataFrame]

    @property
    def main(self) -> pd.DataFrame:
        return self.parts["main"]

    def part(self, name: str) -> pd.DataFrame:
        if name not in self.parts:
            known = ", ".join(sorted(self.parts))
            raise UserError(f"analysis '{self.name}' has no part '{name}' (it has: {known})")
        return self.parts[name]


class _Module(Protocol):
    def run(self, source: Any, settings: Settings, options: AnalysisOptions) -> AnalysisResult: ...


def run_analysis(
    name: str, source: Any, settings: Settings, options: AnalysisOptions
) -> AnalysisResult:
    """Run one analysis by name; an unknown name is a user error naming the known ones."""
    if name not in ANALYSES:
        raise UserError(f"unknown analysis '{name}'; choose one of: {', '.join(ANALYSES)}")
    module: _Module = importlib.import_module(f"advocacy.analyses.{name}")  # type: ignore[assignment]
    return module.run(source, settings, options)
