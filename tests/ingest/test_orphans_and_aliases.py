"""Rows whose account is unknown are stored and counted as orphans; aliases resolve ids."""

from __future__ import annotations

from advocacy.ingest.mapping import Mapping, parse_mapping

from .harness import Harness, csv

TICKETS = "ticket_id,account_id,opened_at"


def zendesk(table: str = "tickets") -> Mapping:
    return parse_mapping({"source": "zendesk", "outputs": {table: {}}}, origin="t")


def test_orphans_are_stored_and_counted(db: Harness) -> None:
    db.load("accounts", csv("account_id,created_at", "A1,2024-01-01"))
    report = db.load(
        "tickets", csv(TICKETS, "T1,A1,2024-01-01", "T2,A9,2024-01-01", "T3,A8,2024-01-01")
    )
    assert (report.inserted, report.orphan) == (3, 2)
    assert report.balanced  # orphans are a subset of the stored rows, not a separate outcome
    assert {k: r["account_id"] for k, r in db.by_key("tickets").items()} == {
        "T1": "A1",
        "T2": "A9",
        "T3": "A8",
    }
    assert db.scalar("SELECT orphan FROM _imports WHERE import_id = ?", (report.import_id,)) == 2


def test_rejected_rows_are_not_orphans(db: Harness) -> None:
    report = db.load("tickets", csv(TICKETS, "T1,A9,2024-01-01", "T2,A9,bad"))
    assert (report.inserted, report.rejected, report.orphan) == (1, 1, 1)


def test_an_unchanged_reimport_counts_no_orphans(db: Harness) -> None:
    db.load("tickets", csv(TICKETS, "T1,A9,2024-01-01"))
    report = db.load("tickets", csv(TICKETS, "T1,A9,2024-01-01"))
    assert (report.unchanged, report.orphan) == (1, 0)


def test_orphans_stop_being_orphans_once_the_account_arrives(db: Harness) -> None:
    db.load("revenue", csv("account_id,month,mrr", "A9,2024-01-01,10"))
    db.load("accounts", csv("account_id,created_at", "A9,2024-01-01"))
    report = db.load("revenue", csv("account_id,month,mrr", "A9,2024-01-01,12"))
    assert (report.updated, report.orphan) == (1, 0)


def test_accounts_are_never_orphans(db: Harness) -> None:
    report = db.load("accounts", csv(
        "account_id,created_at,parent_account_id", "A1,2024-01-01,NOPE", "A2,2024-01-01,",
    ))  # fmt: skip
    assert (report.inserted, report.orphan) == (2, 0)


def test_rows_not_stored_are_not_counted_as_orphans(db: Harness) -> None:
    asks = "ask_id,account_id,ask_type,asked_at"
    db.load("asks", csv(asks, "K1,A9,review,2024-03-01"))
    report = db.load("asks", csv(asks, "K1,A9,referral,2024-03-01"))
    assert (report.rejected, report.orphan) == (1, 0)


def test_aliases_of_the_mapping_source_resolve_to_account_ids(db: Harness) -> None:
    db.load("accounts", csv("account_id,created_at", "A1,2024-01-01", "A2,2024-01-01"))
    db.load("account_aliases", csv(
        "source,external_id,account_id",
        "zendesk,zd-1,A1", "zendesk,zd-2,A2", "hubspot,zd-3,A1",
    ))  # fmt: skip
    report = db.load("tickets", csv(
        TICKETS, "T1,zd-1,2024-01-01", "T2,zd-2,2024-01-01", "T3,A1,2024-01-01",
        "T4,zd-3,2024-01-01", "T5,zd-9,2024-01-01",
    ), mapping=zendesk())  # fmt: skip
    stored = {k: r["account_id"] for k, r in db.by_key("tickets").items()}
    # zd-3 is a hubspot id, so it is not resolved for a zendesk file; it and zd-9 are orphans
    assert stored == {"T1": "A1", "T2": "A2", "T3": "A1", "T4": "zd-3", "T5": "zd-9"}
    assert (report.inserted, report.orphan) == (5, 2)


def test_aliases_are_not_used_without_a_source(db: Harness) -> None:
    db.load("account_aliases", csv("source,external_id,account_id", "zendesk,zd-1,A1"))
    db.load("tickets", csv(TICKETS, "T1,zd-1,2024-01-01"))
    assert db.by_key("tickets")["T1"]["account_id"] == "zd-1"


def test_aliases_resolve_every_account_reference(db: Harness) -> None:
    db.load(
        "account_aliases",
        csv("source,external_id,account_id", "zendesk,zd-1,A1", "zendesk,zd-2,A2"),
    )
    db.load("advocacy_actions", csv(
        "action_id,account_id,action_type,occurred_at,referred_account_id",
        "X1,zd-1,referral,2024-01-01,zd-2",
    ), mapping=zendesk("advocacy_actions"))  # fmt: skip
    x1 = db.by_key("advocacy_actions")["X1"]
    assert (x1["account_id"], x1["referred_account_id"]) == ("A1", "A2")


def test_aliased_reimport_is_unchanged(db: Harness) -> None:
    db.load("account_aliases", csv("source,external_id,account_id", "zendesk,zd-1,A1"))
    text = csv(TICKETS, "T1,zd-1,2024-01-01")
    db.load("tickets", text, mapping=zendesk())
    report = db.load("tickets", text, mapping=zendesk())
    assert (report.unchanged, report.conflicting) == (1, 0)
