"""Which reviews were incentivized (DESIGN §7), as one Ibis expression any analysis can reuse.

A review is incentivized when it is declared so, is linked to a monetary reward, came from an
ask that offered an incentive, or its author got a monetary reward in the 30 local days before
it (the same local-day counting as the policy: a reward on day d covers reviews until day d+29).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis

from advocacy.metrics.source import Source
from advocacy.program.localdays import LocalDays, backend_of
from advocacy.program.policy import Policy

REASONS = (
    ("declared", "declared incentivized"),
    ("reward_linked", "linked to a monetary reward"),
    ("ask_incentive", "its ask offered an incentive"),
    ("recent_reward", "monetary reward to the reviewer in the 30 days before"),
)


def incentivized_reviews(
    source: Source, policy: Policy | None = None, cutoff: datetime | None = None
) -> Any:
    """(action_id, account_id, reason, declared, reward_linked, ask_incentive, recent_reward).

    `reason` is the first of REASONS that applies; the flags say which ones do. With `cutoff` (a
    naive UTC instant) only reviews, rewards and asks before it are seen, so an analysis as of a
    date does not learn from a reward given later. Example:
    ``incentivized_reviews(Source(ws.store.ibis())).execute()``.
    """
    policy = policy or Policy()
    ld = LocalDays(policy.timezone, backend_of(source.con))
    actions = source.table("advocacy_actions")
    reviews = actions.filter(actions.action_type == "review")
    rewards = source.table("rewards")
    money = rewards.filter(rewards.kind == "monetary")
    asks = source.table("asks")
    if cutoff is not None:
        reviews = reviews.filter(reviews.occurred_at < cutoff)
        money = money.filter(money.given_at < cutoff)
        asks = asks.filter(asks.asked_at < cutoff)
    offered = asks.filter(asks.incentive_offered.fill_null(False))
    money_w = money.select(
        w_contact=money.contact_id,
        w_at=money.given_at,
        w_until=ld.day_start(money.given_at, policy.incentive_reward_days),
    )
    near = reviews.join(
        money_w,
        [
            reviews.contact_id == money_w.w_contact,
            money_w.w_at <= reviews.occurred_at,
            reviews.occurred_at < money_w.w_until,
        ],
    ).select(n_action=reviews.action_id)
    flagged = reviews.select(
        "action_id",
        "account_id",
        declared=reviews.incentivized.fill_null(False),
        reward_linked=reviews.action_id.isin(money.action_id.fill_null("")),
        ask_incentive=reviews.ask_id.fill_null("").isin(offered.ask_id),
        recent_reward=reviews.action_id.isin(near.n_action),
    )
    any_flag = flagged.declared | flagged.reward_linked | flagged.ask_incentive
    flagged = flagged.filter(any_flag | flagged.recent_reward)
    reason = ibis.cases(
        *[(flagged[flag], text) for flag, text in REASONS[:-1]], else_=REASONS[-1][1]
    )
    return flagged.mutate(reason=reason).select(
        "action_id", "account_id", "reason", *[flag for flag, _ in REASONS]
    )
