"""Consent and erasure (DESIGN §7): opting a contact out, and forgetting a person.

Forgetting keeps every row, so anonymous aggregates (NPS, advocacy rates, ask counts) do not
move: the contact's id becomes a pseudonym derived from its hash, in every table that refers to
it, and personal fields (email, name, title, survey comments, ask notes) are blanked. Text the
system keeps about rows (quarantined raw rows, conflicts, revisions, audit payloads, override
reasons) is scrubbed of the id, email, name and title. Hashes of the id and the normalised email
go to `_suppressions`, so later imports anonymise the person again (ingest/suppress.py).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from advocacy.errors import UserError
from advocacy.ingest.suppress import pseudonym
from advocacy.program.instants import utcnow
from advocacy.schema import TABLES
from advocacy.storage.store import Dialect, Store, Tx

ERASED = "[erased]"
# Internal text columns that may quote a row of the person: (table, key column, text columns).
_TEXTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("_quarantine", ("raw", "reason")),
    ("_conflicts", ("row_key", "diff", "incoming")),
    ("_revisions", ("row_key", "previous")),
    ("_audit", ("target", "detail")),
    ("_ask_decisions", ("reason",)),
)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _audit(tx: Tx, action: str, target: str, detail: dict[str, Any]) -> None:
    tx.execute(
        "INSERT INTO _audit (happened_at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
        (utcnow(), None, action, target, json.dumps(detail)),
    )


def opt_out(store: Store, *, contact_id: str) -> bool:
    """Set advocacy_opt_out; it sticks across later imports. False if it was already set."""

    def work(tx: Tx) -> bool:
        row = tx.fetchone(
            "SELECT advocacy_opt_out FROM contacts WHERE contact_id = ?", (contact_id,)
        )
        if row is None:
            raise UserError(f"unknown contact '{contact_id}'")
        tx.execute(
            "UPDATE contacts SET advocacy_opt_out = TRUE WHERE contact_id = ?", (contact_id,)
        )
        _suppress(tx, sha256(contact_id), "opt_out")
        _audit(tx, "opt_out", contact_id, {"was_opted_out": bool(row[0])})
        return not row[0]

    return store.run(work)


def _suppress(tx: Tx, digest: str, kind: str) -> None:
    tx.execute(
        "INSERT INTO _suppressions (hash, kind, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (digest, kind, utcnow()),
    )


@dataclass(frozen=True)
class Erasure:
    pseudonym: str
    rows: dict[str, int]


def forget(store: Store, *, contact_id: str) -> Erasure:
    """Erase a person everywhere, keep the anonymous rows, then compact the storage."""
    digest = sha256(contact_id)
    alias = pseudonym(digest)

    def work(tx: Tx) -> Erasure:
        person = tx.fetchone(
            "SELECT email, name, title FROM contacts WHERE contact_id = ?", (contact_id,)
        )
        if person is None and not _referenced(tx, contact_id):
            raise UserError(f"unknown contact '{contact_id}' (already forgotten?)")
        email, name, _title = person if person is not None else (None, None, None)
        rows = _canonical(tx, contact_id, alias, email)
        payloads = _payloads(tx, contact_id, alias, email)
        rows.update(_internal(tx, contact_id, alias, [v for v in (email, name) if v]))
        for table, n in payloads.items():
            rows[table] = rows.get(table, 0) + n
        _suppress(tx, digest, "contact_id")
        if email:
            _suppress(tx, sha256(email.strip().lower()), "email")
        _audit(tx, "forget", alias, {"rows": rows})
        return Erasure(alias, rows)

    erasure = store.run(work)
    compact(store)
    return erasure


def _referenced(tx: Tx, contact_id: str) -> bool:
    return any(
        tx.fetchone(f'SELECT 1 FROM "{name}" WHERE contact_id = ? LIMIT 1', (contact_id,))
        for name, spec in TABLES.items()
        if "contact_id" in spec.names
    )


def _canonical(tx: Tx, contact_id: str, alias: str, email: str | None) -> dict[str, int]:
    rows: dict[str, int] = {}
    ask_ids = [
        r[0] for r in tx.fetchall("SELECT ask_id FROM asks WHERE contact_id = ?", (contact_id,))
    ]
    for name, spec in TABLES.items():
        if "contact_id" not in spec.names:
            continue
        personal = [f'"{c.name}" = NULL' for c in spec.columns if c.personal]
        sets = ", ".join(["contact_id = ?", *personal])
        n = tx.scalar(f'SELECT count(*) FROM "{name}" WHERE contact_id = ?', (contact_id,))
        tx.execute(f'UPDATE "{name}" SET {sets} WHERE contact_id = ?', (alias, contact_id))
        rows[name] = int(n)
    if email:  # other contact rows of the same person (a CRM duplicate) lose their personal fields
        tx.execute(
            "UPDATE contacts SET email = NULL, name = NULL, title = NULL "
            "WHERE email IS NOT NULL AND lower(trim(email)) = ?",
            (email.strip().lower(),),
        )
    for ask_id in ask_ids:
        tx.execute("UPDATE ask_outcomes SET note = NULL WHERE ask_id = ?", (ask_id,))
    rows["ask_outcomes"] = len(ask_ids)
    tx.execute("UPDATE _ask_decisions SET contact_id = ? WHERE contact_id = ?", (alias, contact_id))
    tx.execute("DELETE FROM _guards WHERE key = ?", (f"contact:{contact_id}",))
    return rows


def _internal(tx: Tx, contact_id: str, alias: str, values: list[str]) -> dict[str, int]:
    """Scrub internal text: the quoted id becomes the pseudonym, email and name `[erased]`;
    a quarantined raw row of the person is dropped whole with its reason (which may quote it)."""
    out: dict[str, int] = {}
    quoted_id = json.dumps(contact_id)
    needles = [v for v in values if len(v.strip()) >= 3]
    for table, columns in _TEXTS:
        touched = 0
        for column in columns:
            col = f'"{column}"'
            if table == "_quarantine" and column == "raw":
                touched += _count(tx, table, col, [quoted_id, *needles])
                cond = " OR ".join(["strpos(lower(raw), lower(?)) > 0"] * (1 + len(needles)))
                tx.execute(
                    f"UPDATE _quarantine SET raw = NULL, reason = ? WHERE {cond}",
                    ("a row of an erased contact", quoted_id, *needles),
                )
                continue
            exact = f"UPDATE {table} SET {col} = ? WHERE {col} = ?"
            tx.execute(exact, (alias, contact_id))
            touched += _replace(tx, table, col, quoted_id, json.dumps(alias))
            for value in needles:
                touched += _replace(tx, table, col, value, ERASED)
                if value.lower() != value:
                    touched += _replace(tx, table, col, value.lower(), ERASED)
        out[table] = touched
    return out


# JSON copies of rows the imports keep: (table, payload column). Free-text fields go too.
_PAYLOADS = (("_conflicts", "incoming"), ("_revisions", "previous"))
_FREE_TEXT = ("comment", "note")


def _value_text(value: Any) -> str | None:
    """A JSON scalar as the text an id would be (4242 and "4242" alike); None for the rest."""
    if isinstance(value, bool) or value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parsed(text: str | None) -> dict[str, Any] | None:
    try:
        obj = json.loads(text) if text else None
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _payloads(tx: Tx, contact_id: str, alias: str, email: str | None) -> dict[str, int]:
    """Rows of the person kept as JSON by conflicts and revisions (matched by the contact id,
    whether it came as text or a number, or for contacts by the email): personal and free-text
    fields become null and the id the pseudonym. Quarantined raw rows carrying the id as any
    field's whole value (a mapped source column too) are dropped, as `_internal` drops those
    quoting it. Done in Python on the few rows whose text holds the id or the email at all."""
    out: dict[str, int] = {}
    norm = email.strip().lower() if email else None
    for table, column in _PAYLOADS:
        col = f'"{column}"'
        needles = [contact_id, *([norm] if norm else [])]
        cond = " OR ".join([f"strpos(lower({col}), lower(?)) > 0"] * len(needles))
        found = tx.fetchall(
            f"SELECT import_id, table_name, row_key, {col} FROM {table} WHERE {cond}", needles
        )
        touched = 0
        for import_id, table_name, row_key, text in found:
            obj = _parsed(text)
            if obj is None:
                continue
            by_id = _value_text(obj.get("contact_id")) == contact_id
            mail = obj.get("email")
            by_email = (
                table_name == "contacts"
                and norm is not None
                and isinstance(mail, str)
                and mail.strip().lower() == norm
            )
            if not (by_id or by_email):
                continue
            spec = TABLES.get(str(table_name))
            personal = {c.name for c in spec.columns if c.personal} if spec else set()
            for key in personal | set(_FREE_TEXT):
                if key in obj:
                    obj[key] = None
            if by_id:
                obj["contact_id"] = alias
            tx.execute(
                f"UPDATE {table} SET {col} = ? WHERE import_id = ? AND table_name = ? "
                f"AND row_key = ? AND {col} = ?",
                (json.dumps(obj), import_id, table_name, row_key, text),
            )
            touched += 1
        out[table] = touched
    rows = tx.fetchall(
        "SELECT import_id, row_number, raw FROM _quarantine WHERE strpos(raw, ?) > 0", (contact_id,)
    )
    dropped = 0
    for import_id, row_number, raw in rows:
        obj = _parsed(raw)
        if obj is None or all(_value_text(v) != contact_id for v in obj.values()):
            continue
        tx.execute(
            "UPDATE _quarantine SET raw = NULL, reason = ? WHERE import_id = ? AND raw = ? "
            "AND (row_number = ? OR row_number IS NULL)",
            ("a row of an erased contact", import_id, raw, row_number),
        )
        dropped += 1
    out["_quarantine"] = dropped
    return out


def _count(tx: Tx, table: str, col: str, needles: list[str]) -> int:
    cond = " OR ".join([f"strpos(lower({col}), lower(?)) > 0"] * len(needles))
    return int(tx.scalar(f"SELECT count(*) FROM {table} WHERE {cond}", needles))


def _replace(tx: Tx, table: str, col: str, needle: str, replacement: str) -> int:
    n = int(tx.scalar(f"SELECT count(*) FROM {table} WHERE strpos({col}, ?) > 0", (needle,)))
    if n:
        tx.execute(
            f"UPDATE {table} SET {col} = replace({col}, ?, ?) WHERE strpos({col}, ?) > 0",
            (needle, replacement, needle),
        )
    return n


def compact(store: Store) -> None:
    """Drop the old row versions holding the erased values from the files on disk."""
    if store.dialect is Dialect.DUCKDB:
        cur = store.duckdb_connection().cursor()
        try:
            cur.execute("CHECKPOINT")
            cur.execute("VACUUM")
        finally:
            cur.close()
        return
    conn = store._pg_connect()
    try:
        conn.autocommit = True
        tables = [n for n, s in TABLES.items() if "contact_id" in s.names]
        tables += ["ask_outcomes", *(t for t, _ in _TEXTS)]
        for name in tables:
            conn.execute(f'VACUUM FULL "{name}"')
    finally:
        conn.close()


def rewrite_duckdb_file(store: Store) -> Store:
    """Copy a DuckDB file store into a fresh file and swap it in; returns the reopened store.

    DuckDB reuses freed blocks but does not wipe them, so erased values survive a checkpoint
    in the file's free space; a copy holds live data only. The store must not be in use.
    """
    path = store.url.removeprefix("duckdb://")
    if store.dialect is not Dialect.DUCKDB or not path.startswith("/"):
        return store  # PostgreSQL was vacuumed; an in-memory store has no file
    store.close()
    fresh = Path(path).with_name(Path(path).name + ".rewrite")
    fresh.unlink(missing_ok=True)
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH {_quote(path)} AS old")
        con.execute(f"ATTACH {_quote(str(fresh))} AS fresh")
        con.execute("COPY FROM DATABASE old TO fresh")
        con.execute("DETACH old")
        con.execute("DETACH fresh")
    finally:
        con.close()
    os.replace(fresh, path)
    Path(path + ".wal").unlink(missing_ok=True)
    return Store(store.url, memory_limit=store.memory_limit)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
