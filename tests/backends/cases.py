"""Metric test cases as data: canonical input rows, a request and hand-computed expected rows.

A case file (`cases/*.yaml`) holds::

    name: nps_published_example
    settings: {calendar: {fiscal_start_month: 4}}      # optional, as in advocacy.toml
    tables:                                            # canonical rows per canonical table
      accounts: [{account_id: a1, segment: smb, created_at: 2024-01-01}]
    request: {metrics: [nps], by: segment, period: quarter, start: 2025-01-01, ...}
    expected:                                          # every row of each metric, no more
      nps: [{period_start: 2025-01-01, group: smb, value: 100/3, n: 6, pending_n: 0}]

`group` is the value of the `by` dimension (null = the total row). A value may be written as a
fraction ("100/3") so the hand computation stays exact. Only the fields an expected row names are
compared (value, numerator, denominator, n, pending_n, partial, period_label and keys of
`extra`), numbers at 1e-9 relative.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import yaml

from advocacy.config import Settings, parse_settings
from advocacy.metrics.spec import MetricRequest
from advocacy.schema import TABLES, ColType
from advocacy.schema.tables import SCALE_DEFAULTS

CASES_DIR = Path(__file__).parent / "cases"
COMPARED = ("value", "numerator", "denominator", "n", "pending_n", "partial")
REL = 1e-9
_FRACTION = re.compile(r"^-?\d+(\.\d+)?(/\d+)?$")

ARROW_TYPES: dict[ColType, pa.DataType] = {
    ColType.STRING: pa.string(),
    ColType.TIMESTAMP: pa.timestamp("us"),
    ColType.DATE: pa.date32(),
    ColType.FLOAT: pa.float64(),
    ColType.INT: pa.int64(),
    ColType.BOOL: pa.bool_(),
}


class RowMismatch(AssertionError):
    """A backend's rows differ from the expected ones (the message shows both)."""


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    tables: dict[str, pa.Table]
    request: MetricRequest
    settings: Settings
    expected: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def load_cases() -> list[Case]:
    return [load_case(path) for path in sorted(CASES_DIR.glob("*.yaml"))]


def load_case(path: Path) -> Case:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    unknown = set(doc) - {"name", "description", "settings", "tables", "request", "expected"}
    assert not unknown, f"{path.name}: unknown keys {sorted(unknown)}"
    assert doc["name"] == path.stem, f"{path.name}: name must be the file's stem"
    tables = {name: canonical_table(name, doc["tables"].get(name) or []) for name in TABLES}
    extra = set(doc["tables"]) - set(TABLES)
    assert not extra, f"{path.name}: unknown tables {sorted(extra)}"
    request = MetricRequest.create(**doc["request"])
    expected = doc["expected"]
    assert set(expected) == set(request.metrics), f"{path.name}: expected rows for every metric"
    settings = parse_settings(doc.get("settings") or {})
    return Case(doc["name"], path, tables, request, settings, expected)


def canonical_table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    """Typed canonical rows: every column of the table, defaults filled as the import does."""
    spec = TABLES[name]
    unknown = {key for row in rows for key in row} - set(spec.names)
    assert not unknown, f"{name}: unknown columns {sorted(unknown)}"
    data = {}
    for column in spec.columns:
        values = [_default(name, column.name, row) for row in rows]
        data[column.name] = pa.array(
            [_coerce(column.type, v) for v in values], type=ARROW_TYPES[column.type]
        )
    return pa.table(data)


def _default(table: str, column: str, row: dict[str, Any]) -> Any:
    value = row.get(column)
    if value is not None:
        return value
    default = TABLES[table].column(column).default
    if default is not None:
        return {"false": False, "true": True}.get(default, default)
    if table == "survey_responses" and column in ("scale_min", "scale_max"):
        low, high = SCALE_DEFAULTS[row["survey"]]
        return low if column == "scale_min" else high
    return None


def _coerce(kind: ColType, value: Any) -> Any:
    if value is None:
        return None
    match kind:
        case ColType.TIMESTAMP:
            return pd.Timestamp(value).to_pydatetime()
        case ColType.DATE:
            return value if isinstance(value, date) else date.fromisoformat(str(value))
        case ColType.FLOAT:
            return float(value)
        case ColType.INT:
            return int(value)
        case ColType.BOOL:
            return bool(value)
        case ColType.STRING:
            return str(value)


def mismatches(case: Case, result: pd.DataFrame) -> list[str]:
    """Every difference between the case's expected rows and a result, keyed by metric and row."""
    problems = []
    for metric, rows in case.expected.items():
        got = _keyed(result[result["metric"] == metric], case.request.by)
        want = {(_day(r["period_start"]), r.get("group")): r for r in rows or []}
        for key in sorted(set(got) - set(want), key=str):
            problems.append(f"{metric} {_label(key)}: unexpected row {_brief(got[key])}")
        for key in sorted(set(want) - set(got), key=str):
            problems.append(f"{metric} {_label(key)}: missing row, expected {want[key]}")
        for key in sorted(set(want) & set(got), key=str):
            problems += [
                f"{metric} {_label(key)} {col}: expected {expected}, got {actual}"
                for col, expected, actual in _fields(want[key], got[key])
                if not _same(expected, actual)
            ]
    return problems


def _fields(want: dict[str, Any], got: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(name, expected, actual) of every compared field the expected row names."""
    out = [(col, want[col], got[col]) for col in COMPARED if col in want]
    if "period_label" in want:
        out.append(("period_label", want["period_label"], got["period_label"]))
    extra = json.loads(got["extra"]) if isinstance(got.get("extra"), str) else {}
    out += [(f"extra.{k}", v, extra.get(k)) for k, v in (want.get("extra") or {}).items()]
    return out


def check(case: Case, result: pd.DataFrame) -> None:
    problems = mismatches(case, result)
    if problems:
        shown = result.drop(
            columns=["fingerprint", "as_of", "period_end", "extra"], errors="ignore"
        )
        raise RowMismatch(
            f"{case.name}: {len(problems)} difference(s)\n  "
            + "\n  ".join(problems)
            + f"\nrows returned:\n{shown.to_string()}"
        )


def _keyed(frame: pd.DataFrame, by: str | None) -> dict[tuple[date, Any], dict[str, Any]]:
    out: dict[tuple[date, Any], dict[str, Any]] = {}
    for record in frame.to_dict("records"):
        row = {str(k): v for k, v in record.items()}
        group = row.get(by) if by else None
        out[(_day(row["period_start"]), None if _missing(group) else group)] = row
    return out


def _same(expected: Any, actual: Any) -> bool:
    if expected is None or _missing(actual):
        return expected is None and _missing(actual)
    if isinstance(expected, bool):
        return bool(actual) == expected
    if isinstance(expected, str) and not _FRACTION.match(expected):
        return str(actual) == expected
    want = float(Fraction(expected)) if isinstance(expected, str) else float(expected)
    return math.isclose(float(actual), want, rel_tol=REL, abs_tol=REL)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _day(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _label(key: tuple[date, Any]) -> str:
    return f"[{key[0]} {'(total)' if key[1] is None else key[1]}]"


def _brief(row: dict[str, Any]) -> dict[str, Any]:
    return {col: row.get(col) for col in COMPARED}


FRAME_COMPARED = ("value", "numerator", "denominator", "n", "pending_n", "ci_low", "ci_high")


def frame_differences(got: pd.DataFrame, want: pd.DataFrame, by: str | None) -> list[str]:
    """Differences between two results of one metric, rows keyed by period start and group."""
    a, b = _keyed(got, by), _keyed(want, by)
    problems = [
        f"{_label(k)}: only on this backend {_brief(a[k])}"
        for k in sorted(set(a) - set(b), key=str)
    ]
    problems += [
        f"{_label(k)}: missing here, reference {_brief(b[k])}"
        for k in sorted(set(b) - set(a), key=str)
    ]
    for key in sorted(set(a) & set(b), key=str):
        problems += [
            f"{_label(key)} {col}: {a[key][col]!r} here, {b[key][col]!r} on the reference"
            for col in FRAME_COMPARED
            if not _close(a[key][col], b[key][col])
        ]
        problems += _extra_differences(key, a[key].get("extra"), b[key].get("extra"))
    return problems


def _close(x: Any, y: Any) -> bool:
    if _missing(x) or _missing(y):
        return _missing(x) and _missing(y)
    return math.isclose(float(x), float(y), rel_tol=REL, abs_tol=1e-12)


def _extra_differences(key: tuple[date, Any], got: Any, want: Any) -> list[str]:
    """The metric-specific parts (bridge components, Gini, open_n, …) agree too."""
    x = json.loads(got) if isinstance(got, str) else {}
    y = json.loads(want) if isinstance(want, str) else {}
    return [
        f"{_label(key)} extra.{k}: {x.get(k)!r} here, {y.get(k)!r} on the reference"
        for k in sorted(set(x) | set(y))
        if not (
            _close(x.get(k), y.get(k))
            if isinstance(y.get(k), int | float) and not isinstance(y.get(k), bool)
            else x.get(k) == y.get(k)
        )
    ]
