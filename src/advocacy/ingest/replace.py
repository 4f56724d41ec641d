"""`--mode replace` for entity tables: rows missing from the file are deleted, never silently."""

from __future__ import annotations

import json
from datetime import datetime

from advocacy.errors import UserError
from advocacy.ingest.columns import quote_ident as q
from advocacy.ingest.delete import prune_account_history
from advocacy.schema import Table, TableKind
from advocacy.storage.store import Tx


class ConfirmationNeeded(UserError):
    """A replace would delete rows; nothing was changed. Re-run with the confirmation flag."""


def replace_missing(tx: Tx, *, table: Table, import_id: str, confirmed: bool, now: datetime) -> int:
    """Delete stored rows whose key is not in `_stage`; refuse (rolling back) unless confirmed."""
    if table.kind is not TableKind.ENTITY:
        raise UserError(
            f"--mode replace is only for entity tables, and {table.name} is a {table.kind}"
        )
    match = " AND ".join(f"s.{q(k)} = t.{q(k)}" for k in table.key)
    missing = f"NOT EXISTS (SELECT 1 FROM _stage s WHERE {match})"
    count = int(tx.scalar(f"SELECT count(*) FROM {q(table.name)} t WHERE {missing}"))
    if count and not confirmed:
        raise ConfirmationNeeded(
            f"replacing {table.name} would delete {count} row(s) that are not in the file; "
            "nothing was imported. Re-run with --yes to import and delete them."
        )
    if count:
        tx.execute(f"DELETE FROM {q(table.name)} t WHERE {missing}")
        if table.name == "accounts":
            prune_account_history(tx)
        tx.execute(
            "INSERT INTO _audit (happened_at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)",
            (
                now,
                "import",
                "replace",
                table.name,
                json.dumps({"import_id": import_id, "deleted": count}),
            ),
        )
    return count
