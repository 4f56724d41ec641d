"""Deleting rows by key: nothing disappears by omission, only by an explicit, audited request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from advocacy.errors import UserError
from advocacy.ingest.columns import quote_ident as q
from advocacy.ingest.mapping import normalise_header
from advocacy.ingest.readers import sql_str
from advocacy.schema import get_table
from advocacy.storage.ddl import sql_type
from advocacy.storage.store import Store, Tx


@dataclass(frozen=True)
class DeleteResult:
    requested: int
    matched: int


def _read_keys(path: Path, key: tuple[str, ...]) -> duckdb.DuckDBPyRelation:
    if not path.is_file() or path.stat().st_size == 0:
        raise UserError(f"{path}: no ids to read (missing or empty file)")
    con = duckdb.connect()
    header = path.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    names = [normalise_header(h) for h in header.split(",")]
    if all(k in names for k in key):
        rel = con.sql(
            f"SELECT DISTINCT {', '.join(q(k) for k in key)} FROM read_csv({sql_str(str(path))}, header=true, all_varchar=true, normalize_names=true)"
        )
    elif len(key) == 1:
        rel = con.sql(
            f"SELECT DISTINCT trim(column0) AS {q(key[0])} FROM read_csv({sql_str(str(path))}, header=false, all_varchar=true, columns={{'column0': 'VARCHAR'}}) WHERE trim(column0) <> ''"
        )
    else:
        raise UserError(f"{path.name}: needs a header with the key columns {', '.join(key)}")
    return rel


def prune_account_history(tx: Tx) -> None:
    """Drop the attribute history of accounts that no longer exist."""
    tx.execute(
        "DELETE FROM _account_history WHERE NOT EXISTS "
        "(SELECT 1 FROM accounts a WHERE a.account_id = _account_history.account_id)"
    )


def delete_rows(store: Store, *, table: str, ids_file: Path, apply: bool) -> DeleteResult:
    """Count (and with `apply`, delete) the rows of `table` whose keys are in `ids_file`."""
    spec = get_table(table)
    keys = _read_keys(ids_file, spec.key).arrow()
    if hasattr(keys, "read_all"):
        keys = keys.read_all()
    match = " AND ".join(f"t.{q(k)} = d.{q(k)}" for k in spec.key)
    with store.transaction() as tx:
        defs = ", ".join(f"{q(k)} {sql_type(store.dialect, spec.column(k).type)}" for k in spec.key)
        tx.execute("DROP TABLE IF EXISTS _del")
        tx.execute(f"CREATE TEMP TABLE _del ({defs})")
        store.copy_arrow(tx, "_del", keys)
        matched = int(
            tx.scalar(
                f"SELECT count(*) FROM {q(table)} t WHERE EXISTS (SELECT 1 FROM _del d WHERE {match})"
            )
        )
        if apply and matched:
            tx.execute(
                f"DELETE FROM {q(table)} t WHERE EXISTS (SELECT 1 FROM _del d WHERE {match})"
            )
            if table == "accounts":
                prune_account_history(tx)
            tx.execute(
                "INSERT INTO _audit (happened_at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
                (datetime.now(UTC).replace(tzinfo=None), "cli", "delete", table,
                 json.dumps({"ids_file": str(ids_file), "requested": keys.num_rows, "deleted": matched})),
            )  # fmt: skip
    return DeleteResult(requested=keys.num_rows, matched=matched)
