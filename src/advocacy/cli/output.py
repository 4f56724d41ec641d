"""Rendering result frames for a terminal, for scripts (JSON) and for spreadsheets (CSV)."""

from __future__ import annotations

import csv
import json
import math
import sys
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

stderr = Console(stderr=True)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if value is pd.NaT:
        return None
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def neutralise(value: Any) -> Any:
    """Defuse spreadsheet formulas in exported text cells (CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def emit(frame: pd.DataFrame, fmt: Format, *, title: str | None = None) -> None:
    """Print a frame: JSON arrays and CSV go to stdout alone; tables are for people."""
    if fmt is Format.JSON:
        sys.stdout.write(json.dumps(records(frame), ensure_ascii=False) + "\n")
        return
    if fmt is Format.CSV:
        writer = csv.writer(sys.stdout)
        writer.writerow(frame.columns)
        for row in records(frame):
            writer.writerow([neutralise(v) for v in row.values()])
        return
    table = Table(title=title, show_lines=False)
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        table.add_column(str(col), justify="right" if numeric else "left", overflow="fold")
    for row in records(frame):
        table.add_row(*("" if v is None else _short(v) for v in row.values()))
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(table)


def _short(value: Any, limit: int = 80) -> str:
    text = f"{value:,.4g}" if isinstance(value, float) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
