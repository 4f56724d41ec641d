"""Helpers of the metric tests: importing a company, reading it back, comparing results."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg

from advocacy.demo import GeneratedCompany
from advocacy.schema import TABLES
from advocacy.workspace import Workspace, init_workspace

COMPARED = ("value", "numerator", "denominator", "n", "pending_n")


@dataclass
class Company:
    ws: Workspace
    generated: GeneratedCompany

    @property
    def as_of(self) -> date:
        return self.generated.as_of


def import_company(generated: GeneratedCompany, folder: Path, db: str | None = None) -> Workspace:
    ws = init_workspace(folder, db=db)
    for table, parts in generated.files.items():
        ws.import_files([parts[0].parent], table=table)
    return ws


def small_workspace(folder: Path, files: dict[str, str]) -> Workspace:
    """A workspace in `folder/ws` with each table's CSV text imported through the real path."""
    ws = init_workspace(folder / "ws")
    for table, text in files.items():
        path = folder / f"{table}.csv"
        path.write_text(text, encoding="utf-8")
        ws.import_files([path], table=table)
    return ws


@contextmanager
def postgres_company(
    generated: GeneratedCompany, folder: Path, server_url: str, prefix: str
) -> Iterator[Workspace]:
    """The company imported into a fresh PostgreSQL schema, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    sep = "&" if "?" in server_url else "?"
    ws = import_company(generated, folder, db=f"{server_url}{sep}schema={schema}")
    try:
        yield ws
    finally:
        ws.close()
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def canonical_frames(ws: Workspace) -> dict[str, pd.DataFrame]:
    """The stored tables as the oracle reads them (open history intervals as missing)."""
    tables = {name: ws.query(f'SELECT * FROM "{name}"') for name in TABLES}
    history = ws.query("SELECT * FROM _account_history").rename(columns={"column_name": "column"})
    history["valid_to"] = [
        None if pd.Timestamp(v).year >= 9999 else v for v in history["valid_to"].astype(object)
    ]
    tables["_account_history"] = history
    return tables


def _num(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def differences(
    left: pd.DataFrame, right: pd.DataFrame, by: str | None, rel: float = 1e-9
) -> list[str]:
    """Rows or values that differ between two results, keyed by period start and group; and
    each part of the right side's `extra` (the oracle's Gini, bridge parts, open tickets) the
    left side lacks or disagrees on."""

    def keyed(frame: pd.DataFrame) -> pd.DataFrame:
        group = frame[by].fillna("(total)").astype(str) if by else ""
        return frame.assign(_k=frame["period_start"].astype(str) + "|" + group).set_index("_k")

    a, b = keyed(left), keyed(right)
    problems = []
    if set(a.index) != set(b.index):
        problems.append(
            f"rows only left {sorted(set(a.index) - set(b.index))[:3]}, only right {sorted(set(b.index) - set(a.index))[:3]}"
        )
    for key in sorted(set(a.index) & set(b.index)):
        for col in COMPARED:
            x, y = _num(a.at[key, col]), _num(b.at[key, col])
            same = (math.isnan(x) and math.isnan(y)) or abs(x - y) <= rel * max(1.0, abs(y))
            if not same:
                problems.append(f"{key} {col}: {x} != {y}")
        if "extra" in b.columns:
            mine = _extra(a.at[key, "extra"]) if "extra" in a.columns else {}
            problems += [
                f"{key} extra.{name}: {mine.get(name)!r} != {value!r}"
                for name, value in _extra(b.at[key, "extra"]).items()
                if name not in mine or not _same_part(mine[name], value)
            ]
    return problems


def _extra(value: Any) -> dict[str, Any]:
    """A row's `extra` as a dict (JSON text from the CLI, a dict from the API or the oracle)."""
    if isinstance(value, str):
        value = json.loads(value)
    return value if isinstance(value, dict) else {}


def _same_part(a: Any, b: Any) -> bool:
    """Two parts of `extra`: numbers at 1e-9 relative, lists part by part, the rest equal."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_part(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_part(a[k], b[k]) for k in a)
    if a is None or b is None or isinstance(a, list | dict) or isinstance(b, list | dict):
        return a == b
    return same_value(a, b)


#: The row fields two runs of one definition must agree on.
ROW_FIELDS = ["value", "numerator", "denominator", "n", "ci_low", "ci_high", "pending_n", "extra"]


def same_value(a: object, b: object) -> bool:
    if pd.isna(a) and pd.isna(b):  # type: ignore[call-overload]
        return True
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=0)  # type: ignore[arg-type]


def row_differences(
    left: pd.DataFrame,
    right: pd.DataFrame,
    keys: list[str],
    names: tuple[str, str],
    *,
    as_text: tuple[str, ...] = (),
) -> list[str]:
    """Every row only one side has and every field (`ROW_FIELDS`, then `as_text` compared as
    text) the two sides disagree on, matched on `keys`."""
    a, b = names
    merged = left.merge(right, on=keys, how="outer", suffixes=(f"_{a}", f"_{b}"), indicator=True)
    problems = []
    for row in merged.to_dict("records"):
        where = " ".join(str(row[k]) for k in keys)
        if row["_merge"] != "both":
            problems.append(f"{where}: only in the {row['_merge']} rows")
            continue
        problems += [
            f"{where} {f}: {a} {row[f'{f}_{a}']}, {b} {row[f'{f}_{b}']}"
            for f in ROW_FIELDS if not same_value(row[f"{f}_{a}"], row[f"{f}_{b}"])
        ]  # fmt: skip
        problems += [
            f"{where} {f}: {a} {row[f'{f}_{a}']}, {b} {row[f'{f}_{b}']}"
            for f in as_text if str(row[f"{f}_{a}"]) != str(row[f"{f}_{b}"])
        ]  # fmt: skip
    return problems
