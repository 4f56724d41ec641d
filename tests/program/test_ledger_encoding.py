"""A PostgreSQL database created with SQL_ASCII (no encoding) hands text back as bytes unless
the client asks for UTF8; the store asks on every connection, so the ledger keeps working."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from urllib.parse import urlparse, urlunparse

import psycopg
import pytest

from advocacy.program.ledger import AskInput, create_ask, list_asks, record_outcome
from advocacy.storage import Store, migrate
from tests.program.policy_world import company, settings_for


@pytest.fixture
def sql_ascii_url(postgres_server_url: str) -> Iterator[str]:
    name = f"advocacy_ascii_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(
            f"CREATE DATABASE {name} ENCODING 'SQL_ASCII' TEMPLATE template0 "
            "LC_COLLATE 'C' LC_CTYPE 'C'"
        )
    try:
        yield urlunparse(urlparse(postgres_server_url)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(postgres_server_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.mark.postgres
def test_ledger_on_a_sql_ascii_database(sql_ascii_url: str) -> None:
    store = Store(sql_ascii_url)
    try:
        migrate(store)
        with store.transaction() as tx:
            assert tx.scalar("SHOW client_encoding") == "UTF8"
            assert tx.scalar("SHOW server_encoding") == "SQL_ASCII"
        world = company(store)
        world.add("contacts", contact_id="Zoë-1", account_id="A1")
        world.write()
        settings = settings_for("UTC")
        ask = create_ask(store, settings, AskInput("review", contact_id="Zoë-1",
                                                   at=datetime(2026, 1, 10)))  # fmt: skip
        record_outcome(store, settings, ask_id=ask.ask_id, status="declined", at="2026-01-11",
                       note="später – ça va")  # fmt: skip
        listed = list_asks(store)
        assert listed["contact_id"].tolist() == ["Zoë-1"]
        assert listed["status"].tolist() == ["declined"]
        with store.transaction() as tx:
            assert tx.scalar("SELECT note FROM ask_outcomes") == "später – ça va"
        # The policy reads the ask back: a second one within 30 days is refused.
        with pytest.raises(Exception, match="contact_spacing"):
            create_ask(store, settings, AskInput("review", contact_id="Zoë-1",
                                                 at=datetime(2026, 1, 20)))  # fmt: skip
        assert store.ibis().table("asks").to_pandas()["contact_id"].tolist() == ["Zoë-1"]
    finally:
        store.close()
