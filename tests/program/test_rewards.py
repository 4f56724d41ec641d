"""Rewards: the ledger, the monetary-share warning, and which reviews count as incentivized."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from advocacy.errors import UserError
from advocacy.metrics.source import Source
from advocacy.program.incentives import incentivized_reviews
from advocacy.program.policy import Policy
from advocacy.program.rewards import RewardInput, add_reward, list_rewards
from advocacy.storage import Store
from tests.cli import ADVOCACY
from tests.program.policy_world import company, midnight, settings_for

BERLIN = "Europe/Berlin"


def test_monetary_share_warning_over_the_last_90_days(store: Store) -> None:
    company(store).write()
    settings = settings_for("UTC")
    t0 = datetime(2026, 3, 1)
    old = add_reward(store, settings, RewardInput("A1", "gift_card", "monetary", value=500,
                                                  at=t0 - timedelta(days=91)))  # fmt: skip
    assert old.warning is not None  # alone in its window, money is 100% of it
    first = add_reward(store, settings, RewardInput("A1", "conference_pass", "visibility",
                                                    contact_id="C1", value=100, at=t0))  # fmt: skip
    assert first.monetary_share == 0.0  # the reward 91 days earlier is outside (t − 90 d, t]
    assert first.warning is None
    second = add_reward(
        store, settings, RewardInput("A1", "gift_card", "monetary", value=50, at=t0)
    )
    assert second.monetary_share == pytest.approx(50 / 150)
    assert second.warning is None
    third = add_reward(
        store, settings, RewardInput("A2", "gift_card", "monetary", value=100, at=t0)
    )
    assert third.monetary_share == pytest.approx(150 / 250)
    assert third.warning is not None
    assert "60%" in third.warning
    frame = list_rewards(store)
    recent = frame[frame.given_at > t0 - timedelta(days=90)]
    by_kind = recent.groupby("kind")["value"].sum()
    assert by_kind["monetary"] / by_kind.sum() == pytest.approx(third.monetary_share)
    lenient = settings_for("UTC", monetary_share_warning=0.7)
    fourth = add_reward(store, lenient, RewardInput("A2", "swag", "visibility", value=0, at=t0))
    assert fourth.warning is None


@pytest.mark.parametrize(
    ("reward", "message"),
    [
        (RewardInput("A1", "gift", "cash"), "unknown reward kind 'cash'"),
        (RewardInput("A1", "gift", "monetary", value=-5), "≥ 0"),
        (RewardInput("A9", "gift", "monetary"), "unknown account 'A9'"),
        (RewardInput("A2", "gift", "monetary", contact_id="C1"), "belongs to account 'A1'"),
        (RewardInput("A1", " ", "access"), "--type"),
    ],
)
def test_reward_mistakes(duckdb_store: Store, reward: RewardInput, message: str) -> None:
    company(duckdb_store).write()
    with pytest.raises(UserError, match=message):
        add_reward(duckdb_store, settings_for("UTC"), reward)


def test_incentivized_reviews(store: Store) -> None:
    world = company(store)
    reward_at = datetime(2026, 5, 1, 21, 30)  # 23:30 in Berlin: local day May 1
    day29 = midnight(datetime(2026, 5, 30).date(), BERLIN) + timedelta(hours=23)
    day30 = midnight(datetime(2026, 5, 31).date(), BERLIN)

    def action(action_id: str, contact: str, at: datetime, **extra: object) -> None:
        world.add("advocacy_actions", action_id=action_id, account_id="A1", contact_id=contact,
                  action_type=extra.pop("action_type", "review"), occurred_at=at, **extra)  # fmt: skip

    action("declared", "C2", datetime(2026, 1, 5), incentivized=True)
    action("linked", "C2", datetime(2026, 1, 6))
    action("offered", "C2", datetime(2026, 1, 7), ask_id="k1")
    action("recent", "C1", day29)
    action("too_late", "C1", day30)
    action("before_reward", "C1", reward_at - timedelta(minutes=1))
    action("visibility_only", "C3", datetime(2026, 1, 8))
    action("case", "C2", datetime(2026, 1, 9), action_type="case_study", incentivized=True)
    world.add("asks", ask_id="k1", account_id="A1", contact_id="C2", ask_type="review",
              asked_at=datetime(2026, 1, 1), incentive_offered=True)  # fmt: skip
    world.add("rewards", reward_id="w1", account_id="A1", contact_id="C2", reward_type="card",
              kind="monetary", value=20.0, given_at=datetime(2026, 1, 6), action_id="linked")  # fmt: skip
    world.add("rewards", reward_id="w2", account_id="A1", contact_id="C1", reward_type="card",
              kind="monetary", value=20.0, given_at=reward_at)  # fmt: skip
    world.add("rewards", reward_id="w3", account_id="A2", contact_id="C3", reward_type="swag",
              kind="visibility", value=20.0, given_at=datetime(2026, 1, 8),
              action_id="visibility_only")  # fmt: skip
    world.write()
    policy = Policy.from_settings(settings_for(BERLIN))
    found: pd.DataFrame = incentivized_reviews(Source(store.ibis()), policy).to_pandas()
    reasons = dict(zip(found.action_id, found.reason, strict=True))
    assert reasons == {
        "declared": "declared incentivized",
        "linked": "linked to a monetary reward",
        "offered": "its ask offered an incentive",
        "recent": "monetary reward to the reviewer in the 30 days before",
    }
    flags = found.set_index("action_id")
    # "linked" was also rewarded the same day it was written: both flags hold.
    assert bool(flags.loc["linked", "recent_reward"])
    assert not bool(flags.loc["declared", "recent_reward"])


def test_cli_rewards(tmp_path: Path) -> None:
    from advocacy.workspace import init_workspace

    folder = tmp_path / "ws"
    with init_workspace(folder) as ws:
        company(ws.store).write()

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ADVOCACY, "--workspace", str(folder), *args], capture_output=True,
                              text=True, timeout=120, check=False)  # fmt: skip

    paid = cli("rewards", "add", "--account", "A1", "--contact", "C1", "--type", "gift_card",
               "--kind", "monetary", "--value", "100")  # fmt: skip
    assert paid.returncode == 0, paid.stderr
    assert paid.stdout.startswith("rew-")
    assert "warning: monetary rewards are 100%" in " ".join(paid.stderr.split())
    wrong = cli("rewards", "add", "--account", "A1", "--type", "x", "--kind", "cash")
    assert wrong.returncode == 1
    assert wrong.stderr.startswith("error: unknown reward kind 'cash'")
    rows = json.loads(cli("rewards", "list", "--format", "json").stdout)
    assert [(r["account_id"], r["contact_id"], r["kind"], r["value"]) for r in rows] == [
        ("A1", "C1", "monetary", 100.0)
    ]
