"""Merging validated rows into the store by the rule of their table kind (DESIGN §3).

Runs inside the import's transaction on the store's own connection, in SQL portable between
DuckDB and PostgreSQL; `_stage` holds the file's valid, de-duplicated rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from advocacy.ingest.columns import quote_ident as q
from advocacy.schema import ColType, Table, TableKind
from advocacy.storage.ddl import sql_type
from advocacy.storage.store import Dialect, Tx

BEGINNING = "1900-01-01 00:00:00"
END_OF_TIME = "9999-12-31 00:00:00"
_ACCOUNT_REF_TABLES_EXCLUDED = ("accounts",)


@dataclass
class MergeCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicate: int = 0
    conflicting: int = 0
    rejected: int = 0
    orphan: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MergeJob:
    table: Table
    columns: tuple[str, ...]
    extras: tuple[str, ...]
    import_id: str
    file_name: str
    update_conflicts: bool
    now: datetime


def json_row(dialect: Dialect, table: Table, alias: str, columns: list[str]) -> str:
    """A row as JSON text, identical on every backend (dates and times rendered as text)."""

    def value(c: str) -> str:
        col = table.column_map.get(c)
        if col is not None and col.type in (ColType.TIMESTAMP, ColType.DATE):
            return f"CAST({alias}.{q(c)} AS TEXT)"
        return f"{alias}.{q(c)}"

    pairs = ", ".join(f"'{c}', {value(c)}" for c in columns)
    fn = "json_object" if dialect is Dialect.DUCKDB else "json_build_object"
    return f"CAST({fn}({pairs}) AS TEXT)"


def _key_match(table: Table, left: str, right: str) -> str:
    return " AND ".join(f"{left}.{q(k)} = {right}.{q(k)}" for k in table.key)


def _row_key(table: Table, alias: str) -> str:
    return "concat_ws('|', " + ", ".join(f"CAST({alias}.{q(k)} AS TEXT)" for k in table.key) + ")"


def _state_sql(job: MergeJob, payload: list[str]) -> str:
    """The fate of a staged row whose key is already stored."""
    t = job.table
    diff = " OR ".join(f"s.{q(c)} IS DISTINCT FROM t.{q(c)}" for c in payload) or "false"
    state = f"CASE WHEN {diff} THEN 'changed' ELSE 'same' END"
    moved = [c for c in t.identity if c in job.columns]
    if t.kind is TableKind.MUTABLE_FACT and moved:
        cond = " OR ".join(f"s.{q(c)} IS DISTINCT FROM t.{q(c)}" for c in moved)
        state = f"CASE WHEN {cond} THEN 'identity' ELSE {state} END"
    if t.kind is TableKind.ENTITY and "updated_at" in job.columns:
        stale = "t.updated_at IS NOT NULL AND s.updated_at < t.updated_at"
        state = f"CASE WHEN ({diff}) AND {stale} THEN 'stale' ELSE {state} END"
    return state


def _classify(tx: Tx, job: MergeJob) -> dict[str, int]:
    """`_cls`: staged rows whose key exists, with their state and changed columns."""
    t = job.table
    payload = [c for c in (*job.columns, *job.extras) if c not in t.key]
    names = ", ".join(
        f"CASE WHEN s.{q(c)} IS DISTINCT FROM t.{q(c)} THEN '{c}' END" for c in payload
    )
    tx.execute("DROP TABLE IF EXISTS _cls")
    tx.execute(
        f"CREATE TEMP TABLE _cls AS SELECT s.*, {_state_sql(job, payload)} AS _state, "
        f"concat_ws(',', {names or 'NULL'}) AS _diff "
        f"FROM _stage s JOIN {q(t.name)} t ON {_key_match(t, 's', 't')}"
    )
    rows = tx.fetchall("SELECT _state, count(*) FROM _cls GROUP BY _state")
    states = {str(state): int(n) for state, n in rows}
    states["new"] = int(tx.scalar("SELECT count(*) FROM _stage")) - sum(states.values())
    return states


def _insert_new(tx: Tx, job: MergeJob, *, all_new: bool) -> None:
    """Insert rows whose key is not stored; when none is, skip the anti-join."""
    t = job.table
    cols = ", ".join(q(c) for c in (*job.columns, *job.extras))
    absent = f"NOT EXISTS (SELECT 1 FROM {q(t.name)} t WHERE {_key_match(t, 's', 't')})"
    tx.execute(
        f"INSERT INTO {q(t.name)} ({cols}) SELECT {cols} FROM _stage s WHERE {'true' if all_new else absent}"
    )


def _update(tx: Tx, job: MergeJob, states: str) -> None:
    t = job.table
    payload = [c for c in (*job.columns, *job.extras) if c not in t.key]
    if not payload:
        return
    sets = ", ".join(f"{q(c)} = s.{q(c)}" for c in payload)
    tx.execute(
        f"UPDATE {q(t.name)} SET {sets} FROM _cls s "
        f"WHERE {_key_match(t, 's', q(t.name))} AND s._state IN ({states})"
    )


def _record_conflicts(tx: Tx, job: MergeJob, state: str, status: str) -> None:
    incoming = json_row(tx.dialect, job.table, "s", list(job.columns))
    tx.execute(
        "INSERT INTO _conflicts (import_id, table_name, row_key, diff, incoming, status) "
        f"SELECT ?, ?, {_row_key(job.table, 's')}, s._diff, {incoming}, ? FROM _cls s "
        f"WHERE s._state = '{state}'",
        (job.import_id, job.table.name, status),
    )


def _record_revisions(tx: Tx, job: MergeJob, state: str = "changed") -> None:
    t = job.table
    previous = json_row(tx.dialect, t, "t", list(t.names))
    tx.execute(
        "INSERT INTO _revisions (import_id, table_name, row_key, previous) "
        f"SELECT ?, ?, {_row_key(t, 's')}, {previous} FROM _cls s JOIN {q(t.name)} t "
        f"ON {_key_match(t, 's', 't')} WHERE s._state = '{state}'",
        (job.import_id, t.name),
    )


def _reject_ledger_changes(tx: Tx, job: MergeJob) -> None:
    incoming = json_row(tx.dialect, job.table, "s", list(job.columns))
    tx.execute(
        "INSERT INTO _quarantine (import_id, table_name, source_file, row_number, column_name, "
        "reason, raw) SELECT ?, ?, COALESCE(s._file, ?), s._line, s._diff, "
        "'a different row with this key is already recorded; ledger rows are append-only "
        f"(differs in: ' || s._diff || ')', {incoming} FROM _cls s WHERE s._state = 'changed'",
        (job.import_id, job.table.name, job.file_name),
    )


def _account_history(tx: Tx, job: MergeJob, *, all_new: bool, changed: int) -> None:
    """Open a history interval per attribute of new accounts; close and reopen changed ones."""
    tracked = [c for c in (*job.columns, *job.extras) if c not in ("account_id", "updated_at")]
    if not tracked:
        return
    # The source's updated_at when it has one; the import time otherwise (or when it is empty).
    valid_from = (
        "COALESCE(s.updated_at, CAST(? AS TIMESTAMP))"
        if "updated_at" in job.columns
        else "CAST(? AS TIMESTAMP)"
    )
    now = [job.now.replace(tzinfo=None)]
    new_rows = "" if all_new else " WHERE NOT EXISTS (SELECT 1 FROM _cls c WHERE c._row = s._row)"
    values = " UNION ALL ".join(
        f"SELECT s.account_id, '{c}' AS column_name, CAST(s.{q(c)} AS TEXT) AS value FROM _stage s"
        f"{new_rows}"
        for c in tracked
    )
    tx.execute(
        "INSERT INTO _account_history (account_id, column_name, value, valid_from, valid_to, "
        f"import_id) SELECT account_id, column_name, value, TIMESTAMP '{BEGINNING}', "
        f"TIMESTAMP '{END_OF_TIME}', ? FROM ({values}) v",
        (job.import_id,),
    )
    if not changed:
        return
    for c in tracked:
        differs = f"s._state = 'changed' AND s.{q(c)} IS DISTINCT FROM a.{q(c)}"
        tx.execute(
            f"UPDATE _account_history SET valid_to = {valid_from} FROM _cls s JOIN accounts a "
            f"ON a.account_id = s.account_id WHERE _account_history.account_id = s.account_id "
            f"AND _account_history.column_name = '{c}' AND _account_history.valid_to = "
            f"TIMESTAMP '{END_OF_TIME}' AND {differs}",
            now,
        )
        tx.execute(
            "INSERT INTO _account_history (account_id, column_name, value, valid_from, valid_to, "
            f"import_id) SELECT s.account_id, '{c}', CAST(s.{q(c)} AS TEXT), {valid_from}, "
            f"TIMESTAMP '{END_OF_TIME}', ? FROM _cls s JOIN accounts a ON a.account_id = s.account_id "
            f"WHERE {differs}",
            (*now, job.import_id),
        )


def _add_extra_columns(tx: Tx, job: MergeJob) -> None:
    for name in job.extras:
        tx.execute(
            f"ALTER TABLE accounts ADD COLUMN IF NOT EXISTS {q(name)} {sql_type(tx.dialect, ColType.STRING)}"
        )


def _applied_states(job: MergeJob) -> tuple[str, ...]:
    """States of existing-key rows whose values are written (and so may be orphans)."""
    match job.table.kind:
        case TableKind.ENTITY:
            return ("changed",)
        case TableKind.MUTABLE_FACT:
            return ("changed", "identity") if job.update_conflicts else ("changed",)
        case TableKind.IMMUTABLE_FACT:
            return ("changed",) if job.update_conflicts else ()
        case TableKind.LEDGER:
            return ()


def _count_orphans(tx: Tx, job: MergeJob, *, all_new: bool) -> int:
    """Rows stored by this import (new, or changed and applied) whose account is unknown.

    Rows are counted per account first, so the lookup runs once per account, not per row.
    """
    if "account_id" not in job.columns or job.table.name in _ACCOUNT_REF_TABLES_EXCLUDED:
        return 0
    unknown = "NOT EXISTS (SELECT 1 FROM accounts a WHERE a.account_id = g.account_id)"
    stored = int(
        tx.scalar(
            "SELECT COALESCE(sum(g.k), 0) FROM (SELECT account_id, count(*) AS k FROM _stage "
            f"GROUP BY account_id) g WHERE {unknown}"
        )
    )
    if all_new:
        return stored
    applied = ", ".join(f"'{s}'" for s in _applied_states(job)) or "''"
    skipped = int(
        tx.scalar(
            "SELECT COALESCE(sum(g.k), 0) FROM (SELECT account_id, count(*) AS k FROM _cls "
            f"WHERE _state NOT IN ({applied}) GROUP BY account_id) g WHERE {unknown}"
        )
    )
    return stored - skipped


def merge(tx: Tx, job: MergeJob) -> MergeCounts:
    """Apply `_stage` to the job's table and count what happened to each row."""
    kind = job.table.kind
    if job.extras:
        _add_extra_columns(tx, job)
    states = _classify(tx, job)
    all_new = sum(states.values()) == states.get("new", 0)
    counts = MergeCounts(
        inserted=states.get("new", 0), orphan=_count_orphans(tx, job, all_new=all_new)
    )
    changed, same = states.get("changed", 0), states.get("same", 0)
    if kind is TableKind.ENTITY:
        if job.table.name == "accounts":
            _account_history(tx, job, all_new=all_new, changed=changed)
        _update(tx, job, "'changed'")
        counts.updated, counts.unchanged = changed, same + states.get("stale", 0)
        if states.get("stale"):
            counts.warnings.append(
                f"{states['stale']} row(s) are older (updated_at) than what is stored; kept the stored version"
            )
    elif kind is TableKind.MUTABLE_FACT:
        _record_revisions(tx, job)
        _update(tx, job, "'changed'")
        counts.updated, counts.unchanged = changed, same
        moved = states.get("identity", 0)
        if moved:
            _record_conflicts(tx, job, "identity", "applied" if job.update_conflicts else "open")
            if job.update_conflicts:
                _record_revisions(tx, job, "identity")
                _update(tx, job, "'identity'")
            counts.conflicting = moved
    elif kind is TableKind.IMMUTABLE_FACT:
        counts.duplicate = same
        if changed:
            _record_conflicts(tx, job, "changed", "applied" if job.update_conflicts else "open")
            if job.update_conflicts:
                _update(tx, job, "'changed'")
            counts.conflicting = changed
    else:
        counts.duplicate = same
        if changed:
            _reject_ledger_changes(tx, job)
            counts.rejected = changed
    _insert_new(tx, job, all_new=all_new)
    return counts
