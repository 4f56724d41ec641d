"""The ledger against records made out of time order, future dates, unknown actions and the
business time zone of `--at` (review findings); on DuckDB and, when configured, PostgreSQL."""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from advocacy.errors import UserError
from advocacy.program.instants import parse_instant, utcnow
from advocacy.program.ledger import (
    AskInput,
    PolicyRefusal,
    create_ask,
    expire_asks,
    list_asks,
    record_outcome,
)
from advocacy.program.rewards import RewardInput, add_reward
from advocacy.storage import Store
from tests.cli import ADVOCACY
from tests.program.policy_world import company, midnight, settings_for

BERLIN = "Europe/Berlin"


def _rules(exc: PolicyRefusal) -> set[str]:
    return {b.rule for b in exc.blockers}


def test_asks_dated_later_block_a_future_dated_then_now_then_backdated_series(
    store: Store,
) -> None:
    company(store).write()
    settings = settings_for("UTC")
    now = utcnow().replace(microsecond=0)
    create_ask(store, settings, AskInput("review", contact_id="C1", at=now + timedelta(hours=20)))
    with pytest.raises(PolicyRefusal) as today:
        create_ask(store, settings, AskInput("review", contact_id="C1", at=now))
    assert _rules(today.value) == {"advocacy_cap", "contact_spacing", "account_spacing"}
    with pytest.raises(PolicyRefusal) as weeks_ago:
        create_ask(
            store, settings, AskInput("review", contact_id="C1", at=now - timedelta(days=22))
        )
    assert _rules(weeks_ago.value) == {"advocacy_cap", "contact_spacing"}
    # 60 days before: spacing is met, the 90-day cap is not (both would sit in one window).
    with pytest.raises(PolicyRefusal) as months_ago:
        create_ask(
            store, settings, AskInput("review", contact_id="C1", at=now - timedelta(days=60))
        )
    assert _rules(months_ago.value) == {"advocacy_cap"}
    assert len(list_asks(store)) == 1


def test_backdated_ask_between_two_asks_respects_the_cap_of_two(store: Store) -> None:
    company(store).write()
    settings = settings_for("UTC", advocacy_cap=2, contact_spacing_days=0, account_spacing_days=0)
    for at in (datetime(2026, 1, 1), datetime(2026, 3, 1)):
        create_ask(store, settings, AskInput("review", contact_id="C1", at=at))
    # Dec 2 … Mar 1 is a 90-day window holding both asks; so are the windows around Feb 1, Mar 20.
    for at in (datetime(2025, 12, 2), datetime(2026, 2, 1), datetime(2026, 3, 20)):
        with pytest.raises(PolicyRefusal, match="advocacy_cap"):
            create_ask(store, settings, AskInput("review", contact_id="C1", at=at))
    # Dec 1 shares a window with Jan 1 only (Dec 1 + 90 days = Mar 1); Apr 2 with Mar 1 only.
    for at in (datetime(2025, 12, 1), datetime(2026, 4, 2)):
        create_ask(store, settings, AskInput("review", contact_id="C1", at=at))


def test_expire_refuses_a_future_as_of_and_never_dates_in_the_future(store: Store) -> None:
    company(store).write()
    settings = settings_for("UTC", ask_expiry_days=30)
    now = utcnow().replace(microsecond=0)
    soon = create_ask(
        store, settings, AskInput("review", contact_id="C1", at=now - timedelta(days=29, hours=23))
    )
    tomorrow = (now + timedelta(days=2)).date().isoformat()
    with pytest.raises(UserError, match="after today"):
        expire_asks(store, settings, as_of=tomorrow)
    # Today's end is after now: the ask due at the next midnight (in the future) waits.
    expire_asks(store, settings, as_of=now.date().isoformat())
    listed = list_asks(store).set_index("ask_id")
    due = midnight(soon.asked_at.date() + timedelta(days=30), "UTC")
    assert (listed.loc[soon.ask_id, "status"] == "expired") == (due <= utcnow())
    with store.transaction() as tx:
        assert tx.scalar('SELECT count(*) FROM ask_outcomes WHERE "at" > ?', (utcnow(),)) == 0
    with pytest.raises(UserError, match="ask_expiry_days must be at least 1"):
        expire_asks(store, settings_for("UTC", ask_expiry_days=0))


def test_expires_at_before_the_ask_expires_it_when_made(store: Store) -> None:
    world = company(store)
    world.add("asks", ask_id="k1", account_id="A1", contact_id="C1", ask_type="review",
              asked_at=datetime(2026, 3, 1, 12), expires_at=datetime(2026, 2, 1))  # fmt: skip
    world.write()
    assert expire_asks(store, settings_for("UTC"), as_of="2026-03-02") == 1
    assert list_asks(store).loc[0, "status_at"] == datetime(2026, 3, 1, 12)


def test_outcomes_must_come_in_time_order(store: Store) -> None:
    company(store).write()
    settings = settings_for("UTC")
    ask = create_ask(store, settings, AskInput("review", contact_id="C1", at=datetime(2026, 1, 10)))
    record_outcome(store, settings, ask_id=ask.ask_id, status="accepted", at="2026-01-20")
    with pytest.raises(
        UserError, match=r"before the ask's latest outcome \(accepted at 2026-01-20"
    ):
        record_outcome(store, settings, ask_id=ask.ask_id, status="completed", at="2026-01-15")
    done = record_outcome(store, settings, ask_id=ask.ask_id, status="completed", at="2026-01-20")
    assert done["seq"] == 2


def test_unknown_actions_are_refused(store: Store) -> None:
    world = company(store)
    world.add("advocacy_actions", action_id="act1", account_id="A1", contact_id="C1",
              action_type="review", occurred_at=datetime(2026, 1, 18))  # fmt: skip
    world.write()
    settings = settings_for("UTC")
    ask = create_ask(store, settings, AskInput("review", contact_id="C1", at=datetime(2026, 1, 10)))
    with pytest.raises(UserError, match="unknown action 'act9'"):
        record_outcome(store, settings, ask_id=ask.ask_id, status="completed", at="2026-01-20",
                       action_id="act9")  # fmt: skip
    with pytest.raises(UserError, match="unknown action 'act9'"):
        add_reward(store, settings, RewardInput("A1", "swag", "visibility", action_id="act9"))
    record_outcome(store, settings, ask_id=ask.ask_id, status="completed", at="2026-01-20",
                   action_id="act1")  # fmt: skip
    add_reward(store, settings, RewardInput("A1", "swag", "visibility", action_id="act1",
                                            at="2026-01-21"))  # fmt: skip
    with store.transaction() as tx:
        assert tx.scalar("SELECT count(*) FROM rewards") == 1
        assert tx.scalar("SELECT count(*) FROM ask_outcomes") == 1


def test_naive_text_is_a_wall_time_of_the_business_zone() -> None:
    # 10:30 in Berlin is 09:30 UTC in winter and 08:30 in summer; a zoned text keeps its offset.
    assert parse_instant("2026-01-10T10:30", BERLIN) == datetime(2026, 1, 10, 9, 30)
    assert parse_instant("2026-07-10T10:30", BERLIN) == datetime(2026, 7, 10, 8, 30)
    assert parse_instant("2026-07-10T10:30+00:00", BERLIN) == datetime(2026, 7, 10, 10, 30)
    assert parse_instant("2026-07-10", BERLIN) == midnight(date(2026, 7, 10), BERLIN)
    # A datetime object is naive UTC (the API's storage convention).
    assert parse_instant(datetime(2026, 7, 10, 10, 30), BERLIN) == datetime(2026, 7, 10, 10, 30)
    # In the spring-forward gap the offset before the change applies (02:30 CET = 01:30 UTC).
    assert parse_instant("2026-03-29T02:30", BERLIN) == datetime(2026, 3, 29, 1, 30)
    zoned = datetime(2026, 3, 29, 2, 30, tzinfo=ZoneInfo(BERLIN)).astimezone(UTC)
    assert parse_instant("2026-03-29T02:30", BERLIN) == zoned.replace(tzinfo=None)


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ADVOCACY, "--workspace", str(folder), *args], capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


def test_cli_reads_and_prints_times_in_the_business_zone(tmp_path: Path) -> None:
    from advocacy.workspace import init_workspace, open_workspace

    folder = tmp_path / "ws"
    init_workspace(folder).close()
    config = folder / "advocacy.toml"
    config.write_text(config.read_text().replace('timezone = "UTC"', f'timezone = "{BERLIN}"'))
    (tmp_path / "accounts.csv").write_text("account_id,created_at\nA1,2020-01-01\n")
    (tmp_path / "contacts.csv").write_text("contact_id,account_id\nC1,A1\n")
    with open_workspace(folder) as ws:
        ws.import_files([tmp_path / "accounts.csv"], table="accounts")
        ws.import_files([tmp_path / "contacts.csv"], table="contacts")
    made = _cli(folder, "asks", "create", "--contact", "C1", "--type", "review",
                "--at", "2026-01-10T10:30")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "recorded at 2026-01-10 10:30 Europe/Berlin" in made.stdout
    with open_workspace(folder) as ws:
        assert ws.list_asks().loc[0, "asked_at"] == datetime(2026, 1, 10, 9, 30)
    refused = _cli(folder, "asks", "create", "--contact", "C1", "--type", "review",
                   "--at", "2026-01-20T10:30")  # fmt: skip
    assert refused.returncode == 1
    assert "at 2026-01-20 10:30 Europe/Berlin" in refused.stderr
    assert "eligible on 2026-04-10 00:00 Europe/Berlin" in refused.stderr
    ask_id = made.stdout.split(":")[0]
    out = _cli(
        folder, "asks", "outcome", ask_id, "--status", "accepted", "--at", "2026-01-12T09:00"
    )
    assert "at 2026-01-12 09:00 Europe/Berlin" in out.stdout, out.stderr
    bad = _cli(folder, "asks", "outcome", ask_id, "--status", "completed", "--action", "nope")
    assert bad.returncode == 1
    assert (
        bad.stderr.strip() == "error: unknown action 'nope': import it into advocacy_actions first"
    )
