"""Rewards given to advocates (DESIGN §3 rewards ledger) and the monetary-share warning."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from advocacy.config import Settings
from advocacy.errors import UserError
from advocacy.program.instants import parse_instant
from advocacy.program.ledger import check_action
from advocacy.program.policy import Policy
from advocacy.schema.vocab import RewardKind
from advocacy.storage.store import Store, Tx


@dataclass(frozen=True)
class RewardInput:
    account_id: str
    reward_type: str
    kind: str
    contact_id: str | None = None
    value: float = 0.0
    action_id: str | None = None
    at: str | datetime | None = None


@dataclass(frozen=True)
class RewardRecord:
    reward_id: str
    given_at: datetime
    monetary_share: float | None
    warning: str | None


def _check(tx: Tx, reward: RewardInput) -> None:
    if tx.fetchone("SELECT 1 FROM accounts WHERE account_id = ?", (reward.account_id,)) is None:
        raise UserError(f"unknown account '{reward.account_id}'")
    if reward.contact_id is not None:
        row = tx.fetchone(
            "SELECT account_id FROM contacts WHERE contact_id = ?", (reward.contact_id,)
        )
        if row is None:
            raise UserError(f"unknown contact '{reward.contact_id}'")
        if row[0] != reward.account_id:
            raise UserError(f"contact '{reward.contact_id}' belongs to account '{row[0]}'")
    check_action(tx, reward.action_id)


def add_reward(store: Store, settings: Settings, reward: RewardInput) -> RewardRecord:
    """Record a reward; warn when money dominates the recent rewards (by value)."""
    try:
        kind = RewardKind(reward.kind)
    except ValueError:
        known = ", ".join(k.value for k in RewardKind)
        raise UserError(f"unknown reward kind '{reward.kind}'; the kinds are: {known}") from None
    if not reward.reward_type.strip():
        raise UserError("--type names the reward (e.g. gift_card, early_access)")
    if not math.isfinite(reward.value) or reward.value < 0:
        raise UserError("--value must be a number ≥ 0")
    policy = Policy.from_settings(settings)
    at = parse_instant(reward.at, policy.timezone)

    def work(tx: Tx) -> RewardRecord:
        _check(tx, reward)
        reward_id = f"rew-{uuid.uuid4().hex[:12]}"
        tx.execute(
            "INSERT INTO rewards (reward_id, account_id, contact_id, reward_type, kind, value, "
            "given_at, action_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (reward_id, reward.account_id, reward.contact_id, reward.reward_type.strip(),
             kind.value, float(reward.value), at, reward.action_id),
        )  # fmt: skip
        share = monetary_share(tx, at, policy.monetary_share_days)
        warning = None
        if share is not None and share > policy.monetary_share_warning:
            warning = (
                f"monetary rewards are {share:.0%} of all rewards by value over the last "
                f"{policy.monetary_share_days} days (policy.monetary_share_warning = "
                f"{policy.monetary_share_warning:.0%}); paid advocacy is less credible and "
                "incentivized reviews must be disclosed"
            )
        return RewardRecord(reward_id, at, share, warning)

    return store.run(work)


def monetary_share(tx: Tx, at: datetime, days: int) -> float | None:
    """Monetary value ÷ all reward value in (at − days, at]; None when nothing has value."""
    row = tx.fetchone(
        "SELECT SUM(CASE WHEN kind = 'monetary' THEN value ELSE 0 END), SUM(value) "
        "FROM rewards WHERE given_at > ? AND given_at <= ?",
        (at - timedelta(days=days), at),
    )
    if row is None or not row[1]:
        return None
    return float(row[0] or 0.0) / float(row[1])


def list_rewards(store: Store) -> pd.DataFrame:
    with store.transaction() as tx:
        tx.execute(
            "SELECT reward_id, account_id, contact_id, reward_type, kind, value, given_at, "
            "action_id FROM rewards ORDER BY given_at, reward_id"
        )
        names = [d[0] for d in tx.cursor.description]
        rows: list[Any] = tx.cursor.fetchall()
    return pd.DataFrame(rows, columns=names)
