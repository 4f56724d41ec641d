"""The settings the oracle's definitions depend on (the parts of a metric's fingerprint)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OracleSettings:
    """Calendar, CSAT threshold, low-n bound, forward windows and the advocacy-ask cap."""

    timezone: str = "UTC"
    fiscal_start_month: int = 1
    fiscal_label: str = "end"
    csat_satisfied: str = "top2"
    min_n: int = 10
    conversion_window_days: int = 180
    say_do_days: int = 90
    ask_cap: int = 1
    ask_cap_days: int = 90


DEFAULT_SETTINGS = OracleSettings()
