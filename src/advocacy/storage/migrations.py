"""An ordered migration runner with a `_schema_version` table; safe to run on every open."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from advocacy.storage.ddl import canonical_ddl, internal_ddl
from advocacy.storage.store import Dialect, Store, Tx


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: Callable[[Dialect], list[str]]


def _core(dialect: Dialect) -> list[str]:
    return canonical_ddl(dialect) + internal_ddl(dialect)


def _program(dialect: Dialect) -> list[str]:
    """Guard rows serialising ask creation per account and contact, and the policy decisions."""
    text = "TEXT" if dialect is Dialect.POSTGRES else "VARCHAR"
    return [
        f"""CREATE TABLE IF NOT EXISTS _guards (
  key {text} PRIMARY KEY, touched_at TIMESTAMP NOT NULL, n BIGINT NOT NULL DEFAULT 0)""",
        f"""CREATE TABLE IF NOT EXISTS _ask_decisions (
  decision_id {text} PRIMARY KEY, ask_id {text}, account_id {text}, contact_id {text},
  ask_type {text} NOT NULL, asked_at TIMESTAMP NOT NULL, decided_at TIMESTAMP NOT NULL,
  actor {text}, outcome {text} NOT NULL, reason {text}, rules {text}, policy {text})""",
    ]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "canonical and internal tables", _core),
    Migration(2, "ask guards and policy decisions", _program),
)
LATEST = MIGRATIONS[-1].version


def current_version(tx: Tx) -> int:
    tx.execute(
        "CREATE TABLE IF NOT EXISTS _schema_version "
        "(version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMP NOT NULL)"
    )
    return int(tx.scalar("SELECT COALESCE(MAX(version), 0) FROM _schema_version"))


def migrate(store: Store) -> int:
    """Apply every migration newer than the store's version, each in its own transaction."""

    def step(tx: Tx) -> int:
        version = current_version(tx)
        pending = [m for m in MIGRATIONS if m.version > version]
        for migration in pending:
            for statement in migration.statements(store.dialect):
                tx.execute(statement)
            tx.execute(
                "INSERT INTO _schema_version VALUES (?, ?, ?)",
                (migration.version, migration.name, datetime.now(UTC).replace(tzinfo=None)),
            )
        return len(pending)

    return store.run(step)
