"""The ask ledger: one decision per transaction under concurrency, refusals, overrides, outcomes
and expiry, through the Python functions and the console script."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest

from advocacy.errors import UserError
from advocacy.program.ledger import (
    AskInput,
    PolicyRefusal,
    create_ask,
    expire_asks,
    list_asks,
    record_outcome,
)
from advocacy.storage import Store, migrate
from advocacy.workspace import open_workspace
from tests.cli import ADVOCACY
from tests.program.policy_world import company, midnight, settings_for

BERLIN = "Europe/Berlin"


def _race(
    stores: list[Store], attempt: Callable[[Store], object]
) -> tuple[list[object], list[Exception]]:
    """Run `attempt` on every store at once (a barrier releases the threads together)."""
    barrier = threading.Barrier(len(stores))
    done: list[object] = []
    failed: list[Exception] = []
    lock = threading.Lock()

    def run(store: Store) -> None:
        barrier.wait()
        try:
            result = attempt(store)
            with lock:
                done.append(result)
        except Exception as exc:
            with lock:
                failed.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done, failed


def _count(store: Store, sql: str) -> int:
    with store.transaction() as tx:
        return int(tx.scalar(sql))


def test_parallel_creations_on_one_duckdb_process_let_exactly_one_through(
    duckdb_store: Store,
) -> None:
    company(duckdb_store).write()
    settings = settings_for("UTC")
    request = AskInput("review", contact_id="C1", at=datetime(2026, 3, 1, 10))
    done, failed = _race([duckdb_store] * 8, lambda s: create_ask(s, settings, request))
    assert len(done) == 1
    assert len(failed) == 7
    assert all(isinstance(e, PolicyRefusal) for e in failed), failed
    assert _count(duckdb_store, "SELECT count(*) FROM asks") == 1
    assert (
        _count(duckdb_store, "SELECT count(*) FROM _ask_decisions WHERE outcome = 'refused'") == 7
    )


@pytest.mark.postgres
def test_parallel_connections_on_postgres_let_exactly_one_through(postgres_server_url: str) -> None:
    import uuid

    import psycopg

    schema = f"advocacy_test_{uuid.uuid4().hex[:12]}"
    url = f"{postgres_server_url}{'&' if '?' in postgres_server_url else '?'}schema={schema}"
    first = Store(url)
    stores: list[Store] = []
    try:
        migrate(first)
        company(first).write()
        stores = [Store(url) for _ in range(6)]
        settings = settings_for("UTC")
        # Different contacts of one account: the account guard serialises them (14-day spacing).
        requests = [
            AskInput("review", contact_id=c, at=datetime(2026, 3, 1)) for c in ("C1", "C2") * 3
        ]
        done, failed = _race(stores, lambda s: create_ask(s, settings, requests[stores.index(s)]))
        assert len(done) == 1
        assert all(isinstance(e, PolicyRefusal) for e in failed), failed
        assert _count(first, "SELECT count(*) FROM asks") == 1
    finally:
        for s in [first, *stores]:
            s.close()
        with psycopg.connect(postgres_server_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_refusal_names_the_rule_and_the_local_eligibility_date(store: Store) -> None:
    company(store).write()
    settings = settings_for(BERLIN)
    first = create_ask(
        store, settings, AskInput("review", contact_id="C1", at=datetime(2026, 1, 10, 22, 30))
    )
    assert not first.overridden
    with pytest.raises(PolicyRefusal) as refused:
        create_ask(
            store, settings, AskInput("case_study", contact_id="C1", at=datetime(2026, 2, 8))
        )
    message = str(refused.value)
    assert "advocacy_cap" in message
    assert "contact_spacing" in message
    assert "becomes eligible on 2026-04-10 00:00 Europe/Berlin" in message  # Jan 10 local + 90 days
    assert {b.rule for b in refused.value.blockers} == {"advocacy_cap", "contact_spacing"}
    assert max(b.eligible_from for b in refused.value.blockers if b.eligible_from) == midnight(
        date(2026, 4, 10), BERLIN
    )
    assert _count(store, "SELECT count(*) FROM asks") == 1


def test_override_inserts_and_audits(store: Store) -> None:
    company(store).write()
    settings = settings_for("UTC")
    create_ask(store, settings, AskInput("review", contact_id="C1", at=datetime(2026, 1, 10)))
    with pytest.raises(UserError, match="--reason"):
        create_ask(store, settings, AskInput("review", contact_id="C1"), override=True)
    record = create_ask(store, settings, AskInput("review", contact_id="C1", at=datetime(2026, 1, 11)),
                        override=True, reason="renewal champion offered")  # fmt: skip
    assert record.overridden
    with store.transaction() as tx:
        audit = tx.fetchall("SELECT action, target, detail FROM _audit")
        decision = tx.fetchone(
            "SELECT outcome, reason, rules, policy FROM _ask_decisions WHERE ask_id = ?",
            (record.ask_id,),
        )
    assert [(a, t) for a, t, _ in audit] == [("ask_override", record.ask_id)]
    assert json.loads(audit[0][2])["reason"] == "renewal champion offered"
    assert decision is not None
    assert decision[0] == "override"
    assert {r["rule"] for r in json.loads(decision[2])} == {
        "advocacy_cap",
        "contact_spacing",
        "account_spacing",
    }
    assert json.loads(decision[3])["advocacy_window_days"] == 90


def test_user_mistakes(store: Store) -> None:
    company(store).write()
    settings = settings_for("UTC")
    with pytest.raises(UserError, match="unknown ask type 'reviews'"):
        create_ask(store, settings, AskInput("reviews", contact_id="C1"))
    with pytest.raises(UserError, match="unknown contact 'C9'"):
        create_ask(store, settings, AskInput("review", contact_id="C9"))
    with pytest.raises(UserError, match="unknown account 'A9'"):
        create_ask(store, settings, AskInput("review", account_id="A9"))
    with pytest.raises(UserError, match="belongs to account 'A1'"):
        create_ask(store, settings, AskInput("review", contact_id="C1", account_id="A2"))
    with pytest.raises(UserError, match="more than a day in the future"):
        create_ask(store, settings, AskInput("review", contact_id="C1", at="2099-01-01"))


def test_outcomes_are_numbered_and_append_only(store: Store) -> None:
    world = company(store)
    world.add("advocacy_actions", action_id="act1", account_id="A1", contact_id="C1",
              action_type="review", occurred_at=datetime(2026, 1, 19))  # fmt: skip
    world.write()
    settings = settings_for("UTC")
    ask = create_ask(store, settings, AskInput("review", contact_id="C1", at=datetime(2026, 1, 10)))
    assert (
        record_outcome(store, settings, ask_id=ask.ask_id, status="accepted", at="2026-01-12")[
            "seq"
        ]
        == 1
    )
    second = record_outcome(store, settings, ask_id=ask.ask_id, status="completed", at="2026-01-20",
                            action_id="act1", note="wrote a G2 review")  # fmt: skip
    assert second["seq"] == 2
    with pytest.raises(UserError, match="already completed"):
        record_outcome(store, settings, ask_id=ask.ask_id, status="declined", at="2026-01-21")
    with pytest.raises(UserError, match="unknown status"):
        record_outcome(store, settings, ask_id=ask.ask_id, status="done")
    with pytest.raises(UserError, match="unknown ask"):
        record_outcome(store, settings, ask_id="nope", status="declined")
    other = create_ask(
        store, settings, AskInput("review", contact_id="C3", at=datetime(2026, 1, 10))
    )
    with pytest.raises(UserError, match="before the ask"):
        record_outcome(store, settings, ask_id=other.ask_id, status="declined", at="2026-01-01")
    listed = list_asks(store, contact_id="C1")
    assert listed[["status", "outcomes"]].values.tolist() == [["completed", 2]]


def test_expiry_is_dated_when_the_ask_expired(store: Store) -> None:
    company(store).write()
    settings = settings_for(BERLIN, ask_expiry_days=30)
    old = create_ask(
        store, settings, AskInput("review", contact_id="C1", at=datetime(2026, 1, 10, 23, 30))
    )
    answered = create_ask(
        store, settings, AskInput("review", contact_id="C3", at=datetime(2026, 1, 10))
    )
    record_outcome(store, settings, ask_id=answered.ask_id, status="accepted", at="2026-01-11")
    # Jan 11 local (23:30 UTC is past midnight in Berlin) + 30 days: expired when Feb 10 begins,
    # which is the end of --as-of Feb 9.
    assert expire_asks(store, settings, as_of="2026-02-08") == 0
    assert expire_asks(store, settings, as_of="2026-02-09") == 1
    assert expire_asks(store, settings, as_of="2026-02-10") == 0
    listed = list_asks(store).set_index("ask_id")
    assert listed.loc[old.ask_id, "status"] == "expired"
    assert listed.loc[old.ask_id, "status_at"] == midnight(date(2026, 2, 10), BERLIN)
    assert listed.loc[answered.ask_id, "status"] == "accepted"


# -- the console script ----------------------------------------------------------------------


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ADVOCACY, "--workspace", str(folder), *args], capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


@pytest.fixture
def cli_workspace(tmp_path: Path) -> Path:
    """A workspace in Berlin time with account A1 and contacts C1, C2 (set up in-process)."""
    from advocacy.workspace import init_workspace

    folder = tmp_path / "ws"
    init_workspace(folder).close()
    config = folder / "advocacy.toml"
    config.write_text(config.read_text().replace('timezone = "UTC"', f'timezone = "{BERLIN}"'))
    (tmp_path / "accounts.csv").write_text("account_id,created_at\nA1,2020-01-01\n")
    (tmp_path / "contacts.csv").write_text(
        "contact_id,account_id,email\nC1,A1,c1@example.com\nC2,A1,\n"
    )
    with open_workspace(folder) as ws:
        ws.import_files([tmp_path / "accounts.csv"], table="accounts")
        ws.import_files([tmp_path / "contacts.csv"], table="contacts")
    return folder


def test_cli_create_refuse_override_outcome_list_expire(
    cli_workspace: Path, tmp_path: Path
) -> None:
    ws = cli_workspace
    made = _cli(
        ws, "asks", "create", "--contact", "C1", "--type", "review", "--at", "2026-01-10T22:30:00"
    )
    assert made.returncode == 0, made.stderr
    ask_id = made.stdout.split(":")[0]
    refused = _cli(
        ws, "asks", "create", "--contact", "C1", "--type", "review", "--at", "2026-02-08"
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: policy refuses the review ask to contact C1")
    assert "eligible on 2026-04-10" in refused.stderr
    assert "Traceback" not in refused.stderr
    forced = _cli(ws, "asks", "create", "--contact", "C1", "--type", "review", "--at", "2026-02-08",
                  "--override", "--reason", "exec sponsor asked")  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert "override of advocacy_cap" in forced.stderr
    both = _cli(ws, "asks", "create", "--contact", "C1", "--account", "A1", "--type", "review")
    assert both.returncode == 2
    out = _cli(
        ws,
        "asks",
        "outcome",
        ask_id,
        "--status",
        "declined",
        "--at",
        "2026-01-15",
        "--note",
        "busy",
    )
    assert out.returncode == 0, out.stderr
    assert "outcome 1 declined" in out.stdout
    assert _cli(ws, "asks", "expire", "--as-of", "2026-03-20").stdout.strip() == "1 ask(s) expired"
    rows = json.loads(_cli(ws, "asks", "list", "--contact", "C1", "--format", "json").stdout)
    assert [(r["ask_id"] == ask_id, r["status"]) for r in rows] == [
        (True, "declined"),
        (False, "expired"),
    ]


def test_cli_bulk_import_of_survey_invitations(cli_workspace: Path, tmp_path: Path) -> None:
    lines = ["ask_id,account_id,contact_id,ask_type,asked_at"]
    lines += [f"inv{i},A1,C{1 + i % 2},survey,2026-01-{1 + i:02d}T09:00:00" for i in range(20)]
    path = tmp_path / "invitations.csv"
    path.write_text("\n".join(lines) + "\n")
    done = _cli(cli_workspace, "asks", "import", str(path), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["inserted"] == 20
    again = _cli(cli_workspace, "asks", "import", str(path), "--format", "json")
    assert json.loads(again.stdout)[0]["duplicate"] == 20
    rows = json.loads(_cli(cli_workspace, "asks", "list", "--format", "json").stdout)
    assert len(rows) == 20
