"""Erasure sticks: rows of forgotten contacts are anonymised as they are imported (DESIGN §3, §7).

`_suppressions` holds SHA-256 hashes of forgotten contacts' ids (kind `contact_id`) and
normalised emails (kind `email`), and of opted-out contacts' ids (kind `opt_out`). Staged rows
whose contact id matches get the pseudonym `advocacy forget` gave the stored rows (so re-imports
meet the anonymised rows as duplicates, and aggregates keep counting them once), their personal
fields blanked and their raw text dropped; contacts matching by email are blanked too. An
opted-out contact stays opted out whatever a later contacts file says.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from advocacy.ingest.columns import quote_ident
from advocacy.schema import Table
from advocacy.storage.store import Tx

PSEUDONYM_PREFIX = "forgotten-"
_ID_HASH = "sha256(contact_id)"


def pseudonym(contact_hash: str) -> str:
    """The stand-in id of a forgotten contact, from the SHA-256 hex of its id."""
    return PSEUDONYM_PREFIX + contact_hash[:16]


def _in(kind: str, value: str) -> str:
    return f"{value} IN (SELECT hash FROM _suppressed WHERE kind = '{kind}')"


def suppress_staged(
    con: duckdb.DuckDBPyConnection, tx: Tx, table: Table, columns: tuple[str, ...]
) -> int:
    """Anonymise rows of forgotten contacts in `_typed`; returns how many rows matched."""
    touches = "contact_id" in columns or table.name == "ask_outcomes"
    if not touches:
        return 0
    rows = tx.fetchall("SELECT hash, kind FROM _suppressions")
    if not rows:
        return 0
    data = pa.table({"hash": [r[0] for r in rows], "kind": [r[1] for r in rows]})
    con.register("_suppressed_arrow", data)
    con.execute("CREATE OR REPLACE TEMP VIEW _suppressed AS SELECT * FROM _suppressed_arrow")
    blank = [
        f"{quote_ident(c.name)} = NULL" for c in table.columns if c.personal and c.name in columns
    ]
    blank.append("_raw = NULL")
    if table.name == "ask_outcomes":
        return _outcomes(con, tx, blank)
    match = _in("contact_id", _ID_HASH)
    if table.name == "contacts" and "email" in columns:
        by_email = f"(email IS NOT NULL AND {_in('email', 'sha256(lower(trim(email)))')})"
        if _suppress_new_ids(con, tx, f"{by_email} AND NOT {match}"):
            rows = tx.fetchall("SELECT hash, kind FROM _suppressions")
            data = pa.table({"hash": [r[0] for r in rows], "kind": [r[1] for r in rows]})
            con.register("_suppressed_arrow", data)
        match = f"({match} OR {by_email})"
    found = con.execute(f"SELECT count(*) FROM _typed WHERE {match}").fetchone()
    count = int(found[0]) if found else 0
    if table.name == "contacts" and "advocacy_opt_out" in columns:
        con.execute(f"UPDATE _typed SET advocacy_opt_out = TRUE WHERE {_in('opt_out', _ID_HASH)}")
    if count:
        con.execute(f"UPDATE _typed SET {', '.join(blank)} WHERE {match}")
        con.execute(
            f"UPDATE _typed SET contact_id = '{PSEUDONYM_PREFIX}' || left({_ID_HASH}, 16) "
            f"WHERE {_in('contact_id', _ID_HASH)}"
        )
    return count


def _suppress_new_ids(con: duckdb.DuckDBPyConnection, tx: Tx, where: str) -> int:
    """Contact ids not stored yet that arrive with a forgotten email are the same person under
    a new id: their hashes join `_suppressions` (in the import's transaction), so this row and
    the person's rows in later files of other tables get a pseudonym and lose personal fields."""
    found = con.execute(
        f"SELECT DISTINCT contact_id, {_ID_HASH} FROM _typed WHERE {where} AND contact_id IS NOT NULL"
    ).fetchall()
    added = 0
    for contact_id, digest in found:
        if tx.fetchone("SELECT 1 FROM contacts WHERE contact_id = ?", (contact_id,)) is not None:
            continue  # a stored duplicate was blanked by `forget`; it keeps its id
        tx.execute(
            "INSERT INTO _suppressions (hash, kind, added_at) VALUES (?, 'contact_id', ?) "
            "ON CONFLICT DO NOTHING",
            (digest, datetime.now(UTC).replace(tzinfo=None)),
        )
        added += 1
    return added


def _outcomes(con: duckdb.DuckDBPyConnection, tx: Tx, blank: list[str]) -> int:
    """Notes on the asks of forgotten contacts (asks keep the pseudonym as contact_id)."""
    asks = tx.fetchall(f"SELECT ask_id FROM asks WHERE contact_id LIKE '{PSEUDONYM_PREFIX}%'")
    if not asks:
        return 0
    con.register("_forgotten_asks", pa.table({"ask_id": [r[0] for r in asks]}))
    where = "ask_id IN (SELECT ask_id FROM _forgotten_asks)"
    found = con.execute(f"SELECT count(*) FROM _typed WHERE {where}").fetchone()
    count = int(found[0]) if found else 0
    if count:
        con.execute(f"UPDATE _typed SET {', '.join(blank)} WHERE {where}")
    return count


def suppressed_note(count: int) -> str:
    return f"{count} row(s) of erased contacts: personal fields blanked (advocacy forget)"
