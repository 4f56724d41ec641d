"""User-defined metrics from `[metrics.NAME]` in advocacy.toml, of the built-in kinds."""

from __future__ import annotations

from typing import Any

from advocacy.errors import UserError
from advocacy.metrics.catalog import BY_NAME
from advocacy.metrics.spec import Basis, Direction, Family, Interval, MetricDef, Unit
from advocacy.schema.vocab import ActionType

_KINDS = ("account_rate", "event_count")
_KEYS = {"kind", "action_types", "description", "counted"}


def _types(name: str, raw: Any) -> tuple[str, ...]:
    allowed = {a.value for a in ActionType}
    if not isinstance(raw, list) or not raw or not set(raw) <= allowed:
        raise UserError(
            f"metrics.{name}.action_types must list action types from: {', '.join(sorted(allowed))}"
        )
    return tuple(raw)


def custom_metric(name: str, raw: dict[str, Any]) -> MetricDef:
    """A MetricDef from one [metrics.NAME] table, refusing anything it cannot compute."""
    if name in BY_NAME:
        raise UserError(f"metrics.{name}: a built-in metric has that name")
    unknown = set(raw) - _KEYS
    if unknown:
        raise UserError(f"metrics.{name}: unknown key(s) {', '.join(sorted(unknown))}")
    kind = raw.get("kind")
    if kind not in _KINDS:
        raise UserError(f"metrics.{name}.kind must be one of {', '.join(_KINDS)}")
    types = _types(name, raw.get("action_types"))
    label = " or ".join(types)
    if kind == "account_rate":
        return MetricDef(
            name, Family.ACCOUNT_RATE,
            str(raw.get("description") or f"Share of active accounts with a counted {label} action."),
            f"active accounts with ≥ 1 counted {label} action", "active accounts",
            Unit.FRACTION, Direction.HIGHER, (Basis.LOGO, Basis.ARR), Interval.WILSON,
            (("action_types", types), ("custom", True)),
        )  # fmt: skip
    counted = bool(raw.get("counted", True))
    return MetricDef(
        name, Family.EVENT_COUNT,
        str(raw.get("description") or f"Number of {'counted ' if counted else ''}{label} actions."),
        f"{label} actions", "—", Unit.COUNT, Direction.HIGHER, (Basis.RESPONSE,), Interval.POISSON,
        (("action_types", types), ("counted", counted), ("custom", True)),
    )  # fmt: skip


def custom_metrics(definitions: dict[str, dict[str, Any]]) -> dict[str, MetricDef]:
    return {name: custom_metric(name, raw) for name, raw in definitions.items()}
