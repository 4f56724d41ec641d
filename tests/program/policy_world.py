"""A tiny world for the policy, ledger and consent tests: rows written straight into a store,
and local-time helpers computed with zoneinfo (the oracle for the business-day arithmetic)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import ibis
import pandas as pd

from advocacy.config import CalendarSettings, Settings
from advocacy.metrics.source import Source
from advocacy.program.policy import Policy, blocking
from advocacy.storage import Store


def utc(local: datetime, tz: str) -> datetime:
    """A local wall time in `tz` as naive UTC."""
    return local.replace(tzinfo=ZoneInfo(tz)).astimezone(UTC).replace(tzinfo=None)


def midnight(day: date, tz: str) -> datetime:
    return utc(datetime.combine(day, time()), tz)


def settings_for(tz: str, **policy: Any) -> Settings:
    return Settings(calendar=CalendarSettings(timezone=tz), policy=dict(policy))


@dataclass
class World:
    """Rows to insert, by table; `write` puts them in one transaction."""

    store: Store
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: str, **values: Any) -> World:
        self.rows.setdefault(table, []).append(values)
        return self

    def write(self) -> None:
        with self.store.transaction() as tx:
            for table, rows in self.rows.items():
                for row in rows:
                    cols = ", ".join(f'"{c}"' for c in row)
                    marks = ", ".join("?" for _ in row)
                    tx.execute(
                        f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', list(row.values())
                    )
        self.rows.clear()


def company(store: Store) -> World:
    """Accounts A1 (contacts C1, C2) and A2 (contact C3)."""
    world = World(store)
    for account in ("A1", "A2"):
        world.add("accounts", account_id=account, created_at=datetime(2020, 1, 1))
    for contact, account in (("C1", "A1"), ("C2", "A1"), ("C3", "A2")):
        world.add("contacts", contact_id=contact, account_id=account)
    return world


Request = tuple[str, str | None, str, datetime]  # account, contact, ask type, at (naive UTC)


def decide(
    store: Store, settings: Settings, requests: Sequence[Request], *, later_asks: bool = False
) -> pd.DataFrame:
    """The blocking rows for requests numbered 0, 1, … (request_id is the position)."""
    frame = pd.DataFrame(
        {
            "request_id": [str(i) for i in range(len(requests))],
            "account_id": [r[0] for r in requests],
            "contact_id": pd.Series([r[1] for r in requests], dtype="object"),
            "ask_type": [r[2] for r in requests],
            "at": pd.to_datetime([r[3] for r in requests]),
        }
    )
    table = ibis.memtable(frame, schema=ibis.schema({
        "request_id": "string", "account_id": "string", "contact_id": "string",
        "ask_type": "string", "at": "timestamp",
    }))  # fmt: skip
    expr = blocking(Source(store.ibis()), Policy.from_settings(settings), table,
                    later_asks=later_asks)  # fmt: skip
    out: pd.DataFrame = expr.to_pandas()
    return out


def rules(
    store: Store, settings: Settings, *requests: Request, later_asks: bool = False
) -> list[dict[str, datetime | None]]:
    """rule -> eligible_from, for each request (evaluated together, as candidates do)."""
    out = decide(store, settings, requests, later_asks=later_asks)
    found: list[dict[str, datetime | None]] = [{} for _ in requests]
    for r in out.itertuples():
        when = None if pd.isna(r.eligible_from) else pd.Timestamp(r.eligible_from).to_pydatetime()
        found[int(str(r.request_id))][str(r.rule)] = when
    return found
