"""The metric reference (docs/metrics.md), generated from the catalogue so it cannot drift."""

from __future__ import annotations

import sys
from pathlib import Path

from advocacy.metrics.catalog import CATALOG
from advocacy.metrics.spec import MetricDef

HEADER = """# Metrics

Generated from `src/advocacy/metrics/catalog.py` by `python -m advocacy.metrics.docs`; a test
fails when this file and the catalogue disagree. Definitions follow DESIGN §4–5: rates over
*active* accounts, survey metrics over responses in the window, counted actions = every type but
`other`, reviews only when rated ≥ 4 (or unrated), social mentions only with sentiment ≥ 0 (or
none). Every row carries `n`, `pending_n`, `low_n`, `partial`, `as_of` and a `fingerprint` of its
definition.

| metric | unit | bases (default first) | interval | definition |
|---|---|---|---|---|
"""


def _row(m: MetricDef) -> str:
    bases = ", ".join(b.value for b in m.bases)
    what = f"{m.description} Numerator: {m.numerator}; denominator: {m.denominator}."
    return f"| `{m.name}` | {m.unit.value} | {bases} | {m.interval.value} | {what} |"


def render() -> str:
    return HEADER + "\n".join(_row(m) for m in CATALOG) + "\n"


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/metrics.md")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
