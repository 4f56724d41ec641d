"""Workspace settings, read from `advocacy.toml` and validated once."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from advocacy.errors import UserError

CONFIG_NAME = "advocacy.toml"
DEFAULT_DB_NAME = "advocacy.duckdb"
ENV_DB = "ADVOCACY_DB"
#: DuckDB's memory budget: queries larger than this spill to disk instead of growing the
#: process (a full metric suite over 100M events stays near 3.4 GB at about the same speed).
DEFAULT_MEMORY_LIMIT = "3GB"
_MEMORY = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT])(I?)B", re.IGNORECASE)
_MIN_MEMORY = 256 * 1000**2  # below this DuckDB cannot even open a workspace


@dataclass(frozen=True)
class CalendarSettings:
    timezone: str = "UTC"
    fiscal_start_month: int = 1
    fiscal_label: str = "end"


@dataclass(frozen=True)
class StatsSettings:
    confidence: float = 0.95
    min_n: int = 10
    fpc: str = "auto"
    bootstrap_replicates: int = 500  # --ci bootstrap: Poisson replicates over accounts
    bootstrap_seed: int = 20240101  # fixed, so a re-run gives the same interval


@dataclass(frozen=True)
class Settings:
    """Everything configurable about a workspace; the TOML file mirrors these sections."""

    db_url: str = ""
    memory_limit: str = DEFAULT_MEMORY_LIMIT  # [store] memory_limit ("" = DuckDB's 80% of RAM)
    currency: str = "USD"
    csat_satisfied: str = "top2"
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    stats: StatsSettings = field(default_factory=StatsSettings)
    # [metrics.NAME] tables: user-defined metrics of the built-in kinds (see metrics/custom.py).
    custom_metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    # [policy]: knobs of the program's ask policy, validated by program.policy.Policy.
    policy: dict[str, Any] = field(default_factory=dict)
    # [candidates]: score weights, ask values and model knobs, validated by program.scoring.
    candidates: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> Settings:
        try:
            ZoneInfo(self.calendar.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            msg = f"calendar.timezone '{self.calendar.timezone}' is not an IANA time zone"
            raise UserError(msg) from None
        if not 1 <= self.calendar.fiscal_start_month <= 12:
            raise UserError("calendar.fiscal_start_month must be between 1 and 12")
        if self.calendar.fiscal_label not in ("start", "end"):
            raise UserError("calendar.fiscal_label must be 'start' or 'end'")
        if self.csat_satisfied not in ("top1", "top2"):
            raise UserError("csat.satisfied must be 'top1' or 'top2'")
        if not 0.5 < self.stats.confidence < 1:
            raise UserError("stats.confidence must be between 0.5 and 1")
        if self.memory_limit and _memory_bytes(self.memory_limit) < _MIN_MEMORY:
            raise UserError(
                f"store.memory_limit '{self.memory_limit}' must be a size of at least 256MB, such "
                'as "3GB" (or "" for DuckDB\'s default, 80% of RAM)'
            )
        if not 50 <= self.stats.bootstrap_replicates <= 100_000:
            raise UserError("stats.bootstrap_replicates must be between 50 and 100000")
        return self


def _memory_bytes(text: str) -> float:
    """Bytes of a size such as "3GB" or "1.5GiB"; 0 when it is not one."""
    match = _MEMORY.fullmatch(text.strip())
    if match is None:
        return 0.0
    number, unit, binary = match.groups()
    return float(number) * (1024.0 if binary else 1000.0) ** ("KMGT".index(unit.upper()) + 1)


def _section(cls: type[Any], raw: dict[str, Any], name: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = set(raw) - known
    if unknown:
        raise UserError(f"unknown setting(s) in [{name}]: {', '.join(sorted(unknown))}")
    return cls(**raw)


def _custom_metrics(raw: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, dict) or not all(isinstance(v, dict) for v in raw.values()):
        raise UserError("[metrics] must hold one table per metric, e.g. [metrics.my_rate]")
    return {str(k): dict(v) for k, v in raw.items()}


def parse_settings(raw: dict[str, Any]) -> Settings:
    """Settings from the parsed TOML document, refusing unknown keys so typos are caught."""
    store = raw.get("store", {})
    workspace = raw.get("workspace", {})
    try:
        settings = Settings(
            db_url=str(store.get("url", "")),
            memory_limit=str(store.get("memory_limit", DEFAULT_MEMORY_LIMIT)),
            currency=str(workspace.get("currency", "USD")).upper(),
            csat_satisfied=str(raw.get("csat", {}).get("satisfied", "top2")),
            calendar=_section(CalendarSettings, raw.get("calendar", {}), "calendar"),
            stats=_section(StatsSettings, raw.get("stats", {}), "stats"),
            custom_metrics=_custom_metrics(raw.get("metrics", {})),
            policy=dict(raw.get("policy", {})),
            candidates=dict(raw.get("candidates", {})),
        )
    except TypeError as exc:
        raise UserError(f"invalid advocacy.toml: {exc}") from None
    return settings.validate()


def load_settings(workspace: Path) -> Settings:
    path = workspace / CONFIG_NAME
    if not path.exists():
        return Settings()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path} is not valid TOML: {exc}") from None
    return parse_settings(raw)


def resolve_db_url(workspace: Path, settings: Settings, override: str | None = None) -> str:
    """The store URL: --db, then ADVOCACY_DB, then the config, then the workspace's DuckDB file."""
    url = override or os.environ.get(ENV_DB) or settings.db_url
    if not url:
        return f"duckdb:///{(workspace / DEFAULT_DB_NAME).resolve()}"
    if url.startswith(("postgres://", "postgresql://", "duckdb://")):
        return url
    if url.endswith(".duckdb") or url == ":memory:":
        path = url if url == ":memory:" else str((workspace / url).resolve())
        return f"duckdb:///{path}"
    raise UserError(f"unsupported database URL '{url}': use a .duckdb path or postgresql://…")


DEFAULT_CONFIG = """\
# advocacy workspace settings. Every key is optional; these are the defaults.

[store]
# Empty: the DuckDB file advocacy.duckdb in this folder. Or e.g. "postgresql://user@host:5432/db".
# ADVOCACY_DB or --db override this.
url = ""
# DuckDB: work beyond this spills to disk instead of growing the process ("" = 80% of RAM).
memory_limit = "3GB"

[workspace]
currency = "USD"

[calendar]
timezone = "UTC"          # business time zone (IANA); periods are cut in it
fiscal_start_month = 1    # 1 = fiscal year is the calendar year
fiscal_label = "end"      # FY2026 ends in 2026

[csat]
satisfied = "top2"        # top2: score >= scale_max - 1 on scales of 5+ points; top1: top box only

[stats]
confidence = 0.95
min_n = 10                # rows with n below this are marked low_n
fpc = "auto"
bootstrap_replicates = 500  # --ci bootstrap: account-cluster replicates

# Your own metrics, of the built-in kinds (account_rate, event_count), e.g.:
# [metrics.review_or_case_study_rate]
# kind = "account_rate"
# action_types = ["review", "case_study"]
# description = "Share of active accounts with a counted review or case study"

# Ask policy (DESIGN §7), recorded with every decision. Days are calendar days in
# calendar.timezone. Uncomment to change:
# [policy]
# advocacy_cap = 1                 # advocacy asks per contact in any rolling window of ...
# advocacy_window_days = 90        # ... this many days (every ask type but survey)
# contact_spacing_days = 30        # days between advocacy asks to one contact
# account_spacing_days = 14        # days between advocacy asks to one account
# survey_cap = 1                   # survey invitations per contact in ...
# survey_window_days = 30          # ... this many days
# detractor_blackout_days = 30     # no asks after a detractor response at the account
# urgent_ticket_blackout = true    # no asks while an urgent ticket of the account is open
# renewal_before_days = 60         # renewal blackout from renewal_date - 60 days ...
# renewal_after_cap_days = 45      # ... to the renewal milestone, at most renewal_date + 45
# blackouts_apply_to_surveys = false
# opt_out_covers_surveys = true    # an advocacy opt-out also stops survey invitations
# count_withdrawn = true           # withdrawn asks still count toward caps and spacing
# ask_expiry_days = 30             # `advocacy asks expire`: open asks older than this expire
# monetary_share_warning = 0.5     # warn when monetary rewards exceed this share by value ...
# monetary_share_days = 90         # ... of all rewards over this many days
# incentive_reward_days = 30       # a review after a monetary reward within this is incentivized

# Candidates and recommendations (`advocacy candidates`, `advocacy recommend`). Uncomment to change:
# [candidates]
# min_asks = 200          # settled advocacy asks needed before the acceptance model is fitted ...
# min_per_class = 20      # ... with at least this many accepted and not accepted
# holdout_share = 0.25    # `--evaluate`: share of the latest settled asks held out
# response_days = 30      # an ask is settled (accepted or not) this many days after it was made
# moment_days = 14        # `recommend`: moments of the last 14 days
# l2 = 1.0                # ridge penalty of the acceptance model (standardised features)
# [candidates.weights]    # weight of each feature in the score (`advocacy candidates` explains them)
# promoter = 1.5
# detractor = -1.5
# nps_trend = 1.0
# support_satisfied = 0.5
# support_unsatisfied = -1.0
# usage_trend = 0.5
# seat_utilisation = 0.5
# tenure = 0.2
# recent_success = 0.7
# recent_renewal = 0.7
# past_advocacy = 0.3
# advocacy_recency = 0.5
# recent_asks = -0.5
# recent_declines = -0.7
# [candidates.values]     # value of an accepted ask, for `recommend`'s expected value
# case_study = 5.0
# referral = 4.0
# reference_call = 3.0
# speaking = 3.0
# advisory_board = 3.0
# review = 2.0
# testimonial = 2.0
# community_post = 1.0
# social_mention = 0.5
# other = 0.5
"""


def with_db(settings: Settings, url: str) -> Settings:
    return replace(settings, db_url=url)
