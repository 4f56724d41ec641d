"""The ask ledger (DESIGN §7): every ask, its outcomes, and the policy decision behind it.

Creating an ask locks the account's guard row, then the contact's, evaluates the policy inside
the same transaction and inserts; so two concurrent creations for one contact cannot both pass.
DuckDB detects the second writer of a guard row as a conflict and `Store.run` retries the whole
function, policy check included; PostgreSQL blocks on `SELECT … FOR UPDATE` and, under READ
COMMITTED, the check that follows sees the ask the first transaction committed.
"""

from __future__ import annotations

import functools
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import pandas as pd

from advocacy.config import Settings
from advocacy.errors import UserError
from advocacy.program.instants import as_of_instant, parse_instant, utcnow, zoned_text
from advocacy.program.intx import compile_sql, fetch, literal_table, tx_source
from advocacy.program.localdays import LocalDays
from advocacy.program.policy import Policy, blocking
from advocacy.schema.vocab import ASK_TYPES, AskStatus
from advocacy.storage.store import Dialect, Store, Tx

REQUEST_SCHEMA = {
    "request_id": "string",
    "account_id": "string",
    "contact_id": "string",
    "ask_type": "string",
    "at": "timestamp",
}
_ATTEMPTS = 10
_TERMINAL = {AskStatus.DECLINED, AskStatus.COMPLETED, AskStatus.WITHDRAWN}


@dataclass(frozen=True)
class Blocker:
    rule: str
    detail: str
    eligible_from: datetime | None


@dataclass(frozen=True)
class AskRecord:
    """An ask just written, with what the policy said about it."""

    ask_id: str
    account_id: str
    contact_id: str | None
    ask_type: str
    asked_at: datetime
    overridden: bool
    blockers: tuple[Blocker, ...]


@dataclass(frozen=True)
class AskInput:
    ask_type: str
    contact_id: str | None = None
    account_id: str | None = None
    at: str | datetime | None = None
    trigger: str | None = None
    owner: str | None = None
    channel: str | None = None
    milestone_id: str | None = None
    incentive_offered: bool = False


class PolicyRefusal(UserError):
    """The policy refused an ask; the message names the rules and when the ask becomes possible."""

    def __init__(self, message: str, blockers: tuple[Blocker, ...], account_id: str) -> None:
        super().__init__(message)
        self.blockers = blockers
        self.account_id = account_id


def lock_guards(tx: Tx, keys: list[str]) -> None:
    """Take the guard rows in the order given (account before contact), creating them if absent."""
    now = utcnow()
    for key in keys:
        if tx.dialect is Dialect.DUCKDB:
            # Writing the row is the lock: a concurrent writer of it fails with a conflict.
            tx.execute(
                "INSERT INTO _guards (key, touched_at, n) VALUES (?, ?, 1) ON CONFLICT (key) "
                "DO UPDATE SET n = _guards.n + 1, touched_at = excluded.touched_at",
                (key, now),
            )
        else:
            tx.execute(
                "INSERT INTO _guards (key, touched_at, n) VALUES (?, ?, 0) "
                "ON CONFLICT (key) DO NOTHING",
                (key, now),
            )
            tx.execute("SELECT key FROM _guards WHERE key = ? FOR UPDATE", (key,))
            tx.execute("UPDATE _guards SET n = n + 1, touched_at = ? WHERE key = ?", (now, key))


@functools.lru_cache(maxsize=16)
def policy_sql(policy: Policy, dialect: Dialect) -> str:
    """The policy over one literal request, compiled once per policy and dialect."""
    table = literal_table("_policy_request", REQUEST_SCHEMA)
    expr = blocking(tx_source(dialect), policy, table, later_asks=True)
    return compile_sql(expr.order_by("rule"), dialect)


def evaluate(
    tx: Tx, policy: Policy, request: AskInput, account_id: str, at: datetime
) -> tuple[Blocker, ...]:
    """The rules blocking one request, read inside the transaction `tx`."""
    row = ["r", account_id, request.contact_id, request.ask_type, at]
    rows = fetch(tx, policy_sql(policy, tx.dialect), {"_policy_request": (REQUEST_SCHEMA, [row])})
    return tuple(Blocker(r["rule"], r["detail"], _naive(r["eligible_from"])) for r in rows)


def _naive(value: Any) -> datetime | None:
    if value is None or value is pd.NaT:
        return None
    stamp = pd.Timestamp(value)
    return (
        stamp.tz_convert("UTC").tz_localize(None).to_pydatetime()
        if stamp.tzinfo
        else stamp.to_pydatetime()
    )


def _account_of(tx: Tx, request: AskInput) -> str:
    if request.contact_id is not None:
        row = tx.fetchone(
            "SELECT account_id FROM contacts WHERE contact_id = ?", (request.contact_id,)
        )
        if row is None:
            raise UserError(
                f"unknown contact '{request.contact_id}': import it into contacts first"
            )
        if request.account_id is not None and request.account_id != row[0]:
            raise UserError(
                f"contact '{request.contact_id}' belongs to account '{row[0]}', not '{request.account_id}'"
            )
        return str(row[0])
    if request.account_id is None:
        raise UserError("name the contact (--contact) or the account (--account) to ask")
    if tx.fetchone("SELECT 1 FROM accounts WHERE account_id = ?", (request.account_id,)) is None:
        raise UserError(f"unknown account '{request.account_id}': import it into accounts first")
    return request.account_id


def _check_input(request: AskInput, override: bool, reason: str | None) -> None:
    if request.ask_type not in ASK_TYPES:
        raise UserError(
            f"unknown ask type '{request.ask_type}'; the types are: {', '.join(ASK_TYPES)}"
        )
    if override and not (reason or "").strip():
        raise UserError('--override needs --reason "why this exception is justified"')
    if reason and not override:
        raise UserError("--reason goes with --override")


def create_ask(
    store: Store, settings: Settings, request: AskInput, *, override: bool = False,
    reason: str | None = None, actor: str | None = None,
) -> AskRecord:  # fmt: skip
    """Check the policy and record the ask in one transaction (see the module docstring)."""
    _check_input(request, override, reason)
    policy = Policy.from_settings(settings)
    at = parse_instant(request.at, policy.timezone)
    policy_sql(policy, store.dialect)  # compiled outside the transaction, which stays short

    def work(tx: Tx) -> AskRecord:
        account_id = _account_of(tx, request)
        keys = [f"account:{account_id}"]
        if request.contact_id is not None:
            keys.append(f"contact:{request.contact_id}")
        lock_guards(tx, keys)
        blockers = evaluate(tx, policy, request, account_id, at)
        if blockers and not override:
            raise PolicyRefusal(
                _refusal(request, account_id, at, blockers, policy), blockers, account_id
            )
        record = AskRecord(
            f"ask-{uuid.uuid4().hex[:12]}", account_id, request.contact_id, request.ask_type, at,
            bool(blockers), blockers,
        )  # fmt: skip
        _insert(tx, request, record)
        outcome = "override" if blockers else "allowed"
        _decision(
            tx, record.ask_id, account_id, request, at, outcome, reason, blockers, policy, actor
        )
        if blockers:
            _audit(tx, actor, "ask_override", record.ask_id, {
                "ask_type": request.ask_type, "account_id": account_id,
                "contact_id": request.contact_id, "reason": reason,
                "rules": [b.rule for b in blockers],
            })  # fmt: skip
        return record

    try:
        # DuckDB: a loser of the guard row retries (re-checking the policy) until the holder is done.
        return store.run(work, attempts=_ATTEMPTS)
    except PolicyRefusal as refusal:
        _record_refusal(store, request, refusal, at, policy, actor)
        raise


def _insert(tx: Tx, request: AskInput, record: AskRecord) -> None:
    tx.execute(
        "INSERT INTO asks (ask_id, account_id, contact_id, ask_type, asked_at, \"trigger\", "
        "milestone_id, owner, channel, incentive_offered) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            record.ask_id, record.account_id, record.contact_id, record.ask_type, record.asked_at,
            request.trigger, request.milestone_id, request.owner, request.channel,
            request.incentive_offered,
        ),
    )  # fmt: skip


def _decision(
    tx: Tx, ask_id: str | None, account_id: str | None, request: AskInput, at: datetime,
    outcome: str, reason: str | None, blockers: tuple[Blocker, ...], policy: Policy,
    actor: str | None,
) -> None:  # fmt: skip
    rules = [
        {"rule": b.rule, "detail": b.detail,
         "eligible_from": b.eligible_from.isoformat() if b.eligible_from else None}
        for b in blockers
    ]  # fmt: skip
    tx.execute(
        "INSERT INTO _ask_decisions (decision_id, ask_id, account_id, contact_id, ask_type, "
        "asked_at, decided_at, actor, outcome, reason, rules, policy) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            uuid.uuid4().hex, ask_id, account_id, request.contact_id, request.ask_type, at,
            utcnow(), actor, outcome, reason, json.dumps(rules), json.dumps(policy.as_dict()),
        ),
    )  # fmt: skip


def _audit(
    tx: Tx, actor: str | None, action: str, target: str | None, detail: dict[str, Any]
) -> None:
    tx.execute(
        "INSERT INTO _audit (happened_at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        (utcnow(), actor, action, target, json.dumps(detail, default=str)),
    )


def _record_refusal(
    store: Store, request: AskInput, refusal: PolicyRefusal, at: datetime, policy: Policy,
    actor: str | None,
) -> None:  # fmt: skip
    """Refusals are decisions too; recorded after the refused transaction rolled back."""
    store.run(lambda tx: _decision(
        tx, None, refusal.account_id, request, at, "refused", None, refusal.blockers, policy, actor
    ))  # fmt: skip


def _refusal(
    request: AskInput, account_id: str, at: datetime, blockers: tuple[Blocker, ...], policy: Policy
) -> str:
    tz = policy.timezone
    who = f"contact {request.contact_id}" if request.contact_id else f"account {account_id}"
    parts = [
        f"{b.rule} ({b.detail}; "
        + (
            f"lifts {zoned_text(b.eligible_from, tz)})"
            if b.eligible_from
            else "does not lift by itself)"
        )
        for b in blockers
    ]
    standing = [b.rule for b in blockers if b.eligible_from is None]
    if standing:
        when = f"{who} is not eligible while {', '.join(standing)} holds"
    else:
        latest = max(b.eligible_from for b in blockers if b.eligible_from is not None)
        when = f"{who} becomes eligible on {zoned_text(latest, tz)}"
    return (
        f"policy refuses the {request.ask_type} ask to {who} at {zoned_text(at, tz)}: "
        + "; ".join(parts)
        + f'. {when}. To ask anyway: --override --reason "…"'
    )


def record_outcome(
    store: Store, settings: Settings, *, ask_id: str, status: str, at: str | datetime | None = None,
    action_id: str | None = None, note: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Append an outcome to an ask (numbered per ask); the ledger is never rewritten."""
    try:
        state = AskStatus(status)
    except ValueError:
        known = ", ".join(s.value for s in AskStatus)
        raise UserError(f"unknown status '{status}'; the statuses are: {known}") from None
    tz = settings.calendar.timezone
    when = parse_instant(at, tz)

    def work(tx: Tx) -> dict[str, Any]:
        ask = tx.fetchone("SELECT asked_at FROM asks WHERE ask_id = ?", (ask_id,))
        if ask is None:
            raise UserError(f"unknown ask '{ask_id}' (see `advocacy asks list`)")
        if when < ask[0]:
            raise UserError(
                f"the outcome ({zoned_text(when, tz)}) is before the ask ({zoned_text(ask[0], tz)})"
            )
        check_action(tx, action_id)
        lock_guards(tx, [f"ask:{ask_id}"])
        last = tx.fetchone(
            'SELECT seq, status, "at" FROM ask_outcomes WHERE ask_id = ? ORDER BY seq DESC LIMIT 1',
            (ask_id,),
        )
        if last is not None and last[1] in _TERMINAL:
            raise UserError(
                f"ask {ask_id} is already {last[1]} (outcome {last[0]}); the ledger is append-only"
            )
        latest = tx.fetchone('SELECT max("at") FROM ask_outcomes WHERE ask_id = ?', (ask_id,))
        if latest is not None and latest[0] is not None and when < latest[0]:
            raise UserError(
                f"the outcome ({zoned_text(when, tz)}) is before the ask's latest outcome "
                f"({last[1] if last else '?'} at {zoned_text(latest[0], tz)}); outcomes are "
                "recorded in time order"
            )
        seq = 1 if last is None else int(last[0]) + 1
        tx.execute(
            'INSERT INTO ask_outcomes (ask_id, seq, status, "at", action_id, note) VALUES (?, ?, ?, ?, ?, ?)',
            (ask_id, seq, state.value, when, action_id, note),
        )
        return {
            "ask_id": ask_id,
            "seq": seq,
            "status": state.value,
            "at": when,
            "action_id": action_id,
        }

    return store.run(work)


def check_action(tx: Tx, action_id: str | None) -> None:
    """An action named by an outcome or a reward must be a known advocacy action."""
    if action_id is None:
        return
    if tx.fetchone("SELECT 1 FROM advocacy_actions WHERE action_id = ?", (action_id,)) is None:
        raise UserError(f"unknown action '{action_id}': import it into advocacy_actions first")


def list_asks(store: Store, *, contact_id: str | None = None) -> pd.DataFrame:
    """Every ask with its latest outcome, oldest first."""
    where, params = ("WHERE a.contact_id = ?", (contact_id,)) if contact_id else ("", ())
    sql = (
        'SELECT a.ask_id, a.account_id, a.contact_id, a.ask_type, a.asked_at, a."trigger", a.owner, '
        'o.status, o."at" AS status_at, o.seq AS outcomes FROM asks a LEFT JOIN ('
        'SELECT ask_id, status, "at", seq, ROW_NUMBER() OVER (PARTITION BY ask_id ORDER BY seq DESC) AS rn '
        f"FROM ask_outcomes) o ON o.ask_id = a.ask_id AND o.rn = 1 {where} "
        "ORDER BY a.asked_at, a.ask_id"
    )
    with store.transaction() as tx:
        tx.execute(sql, params)
        names = [d[0] for d in tx.cursor.description]
        frame = pd.DataFrame(tx.cursor.fetchall(), columns=names)
    frame["outcomes"] = frame["outcomes"].fillna(0).astype("int64")
    return frame


def expire_asks(store: Store, settings: Settings, *, as_of: str | None = None) -> int:
    """Record `expired` for unanswered asks past `expires_at`, or past the configured number of
    local days after the ask; the outcome is dated when the ask expired, not when this ran.

    The ledger is append-only, so nothing is dated in the future: an `as_of` after today is
    refused and the end of today counts only up to now. An `expires_at` before the ask (a bad
    import) expires the ask when it was made."""
    policy = Policy.from_settings(settings)
    if policy.ask_expiry_days < 1:
        raise UserError("policy.ask_expiry_days must be at least 1")
    now = utcnow()
    cutoff = as_of_instant(as_of, policy.timezone)
    today = now.replace(tzinfo=UTC).astimezone(ZoneInfo(policy.timezone)).date()
    if as_of is not None and cutoff > as_of_instant(today, policy.timezone):
        raise UserError(
            f"--as-of {as_of} is after today ({today} in {policy.timezone}): the ledger records "
            "only expiries that already happened"
        )
    cutoff = min(cutoff, now)

    def work(tx: Tx) -> int:
        source = tx_source(tx.dialect)
        asks, outcomes = source.table("asks"), source.table("ask_outcomes")
        ld = LocalDays(policy.timezone, source.con.name)
        due = ibis.greatest(
            asks.expires_at.fill_null(ld.day_start(asks.asked_at, policy.ask_expiry_days)),
            asks.asked_at,
        )
        open_ = asks.filter(~asks.ask_id.isin(outcomes.ask_id)).select("ask_id", due=due)
        expr = open_.filter(open_.due <= ibis.literal(cutoff))
        sql = compile_sql(expr, tx.dialect)
        before = int(tx.scalar("SELECT count(*) FROM ask_outcomes"))
        tx.execute(
            'INSERT INTO ask_outcomes (ask_id, seq, status, "at") '
            f"SELECT ask_id, 1, 'expired', due FROM ({sql}) AS _due ON CONFLICT DO NOTHING"
        )
        return int(tx.scalar("SELECT count(*) FROM ask_outcomes")) - before

    return store.run(work)
