"""Every shipped preset, run on a hand-written sample in its tool's export layout.

Each sample (tests/presets/samples/) was typed by hand with the tool's quirks; the expected
canonical rows below are worked out by hand from it, not by running the preset.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from advocacy.config import Settings
from advocacy.ingest import ImportOptions, import_file
from advocacy.ingest.mapping import load_preset, preset_names
from advocacy.storage import Store, migrate

SAMPLES = Path(__file__).parent / "samples"
COUNT_FIELDS = (
    "read", "inserted", "updated", "unchanged", "duplicate", "conflicting", "rejected", "orphan",
)  # fmt: skip
ACME, BOREALIS, COBALT, DRIFTWOOD, EASTGATE, FJORD, GULLWING, HARBOR, IONIC, JUNIPER = (
    str(5107242871 + i) for i in range(10)
)

Counts = dict[str, int]


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store("duckdb://:memory:")
    migrate(s)
    yield s
    s.close()


@pytest.fixture
def crm(store: Store) -> Store:
    """A store holding the HubSpot sample's ten accounts and the id crosswalk of every tool."""
    run(store, SAMPLES / "hubspot_companies.csv", preset="hubspot_companies")
    run(store, SAMPLES / "account_aliases.csv", table="account_aliases")
    return store


def run(
    store: Store, path: Path, *, preset: str | None = None, table: str | None = None
) -> dict[str, Counts]:
    """Import one file; the counts of each table's report."""
    opts = ImportOptions(table=table, mapping=load_preset(preset) if preset else None)
    reports = import_file(store, Settings(), path, opts)
    for report in reports:
        assert report.balanced, report
    return {r.table: {f: getattr(r, f) for f in COUNT_FIELDS} for r in reports}


def counts(**given: int) -> Counts:
    return {f: given.get(f, 0) for f in COUNT_FIELDS}


def rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    with store.transaction() as tx:
        return tx.fetchall(sql)


def ts(text: str) -> datetime:
    """A naive UTC timestamp written `YYYY-MM-DD HH:MM[:SS]`."""
    return datetime.fromisoformat(text)


def assert_reimport_changes_nothing(
    store: Store, path: Path, first: dict[str, Counts], preset: str
) -> None:
    again = run(store, path, preset=preset)
    assert again.keys() == first.keys()
    for table, c in again.items():
        assert c["inserted"] == c["updated"] == c["conflicting"] == c["orphan"] == 0, (table, c)
        assert c["rejected"] == first[table]["rejected"], (table, c)
        assert c["unchanged"] + c["duplicate"] == first[table]["inserted"], (table, c)


def quarantine(store: Store) -> list[tuple[Any, ...]]:
    return rows(
        store,
        "SELECT table_name, row_number, column_name, reason FROM _quarantine "
        "ORDER BY table_name, row_number, import_id",
    )


# -- every preset ----------------------------------------------------------------------------


def test_at_least_six_presets_ship() -> None:
    assert len(preset_names()) >= 6
    assert {
        "zendesk_tickets", "intercom_csat", "delighted_nps", "hubspot_companies",
        "stripe_subscriptions", "g2_reviews",
    } <= set(preset_names())  # fmt: skip


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_parses_and_describes_itself(name: str) -> None:
    mapping = load_preset(name)
    assert mapping.name == name
    assert len(mapping.description.strip()) > 200
    assert mapping.outputs
    # Each description states the confidence of the export layout it relies on.
    assert any(label in mapping.description for label in ("DOC", "SEEN", "INF"))


@pytest.mark.parametrize("name", preset_names())
def test_every_preset_has_a_sample_and_a_test(name: str) -> None:
    assert list(SAMPLES.glob(f"{name}.*")), f"no sample file for preset {name}"
    assert f"def test_{name}" in Path(__file__).read_text(encoding="utf-8")


# -- CRM -------------------------------------------------------------------------------------


def test_hubspot_companies(store: Store) -> None:
    path = SAMPLES / "hubspot_companies.csv"
    first = run(store, path, preset="hubspot_companies")
    assert first == {"accounts": counts(read=10, inserted=10)}
    got = rows(
        store,
        "SELECT account_id, name, owner, created_at, region, industry, company_domain_name, "
        "number_of_employees, lifecycle_stage, phone_number, city, last_activity_date "
        "FROM accounts ORDER BY account_id",
    )
    assert got[0] == (
        ACME, "Acme Analytics", "Dana Whitfield", ts("2023-02-14 09:30"), "United States",
        "Computer Software", "acme-analytics.com", "240", "Customer", "+1 415 555 0134",
        "San Francisco", "2026-10-30 16:05",
    )  # fmt: skip
    assert got[6] == (
        GULLWING, "Gullwing Media", None, ts("2024-09-03 12:00"), "United States",
        "Online Media", "gullwing.media", None, "Lead", None, "Austin", None,
    )  # fmt: skip
    assert [r[0] for r in got] == [ACME, BOREALIS, COBALT, DRIFTWOOD, EASTGATE, FJORD,
                                   GULLWING, HARBOR, IONIC, JUNIPER]  # fmt: skip
    assert [r[3] for r in got][-1] == ts("2025-08-27 07:55")
    assert {r[5] for r in got} >= {"Hospital & Health Care", "Food & Beverages"}
    assert_reimport_changes_nothing(store, path, first, "hubspot_companies")


# -- help desk: one export, two tables ------------------------------------------------------


def test_zendesk_tickets(crm: Store) -> None:
    path = SAMPLES / "zendesk_tickets.csv"
    first = run(crm, path, preset="zendesk_tickets")
    assert first == {
        "tickets": counts(read=12, inserted=12, orphan=1),
        # Rated Good/Bad only: Offered, Not Offered, Unoffered and empty are not responses.
        "survey_responses": counts(read=7, inserted=7, orphan=1),
    }
    tickets = rows(
        crm,
        "SELECT ticket_id, account_id, contact_id, status, opened_at, first_response_at, "
        "resolved_at, priority, channel, reopened FROM tickets ORDER BY ticket_id",
    )
    assert tickets == [
        ("4101", ACME, "381001", "closed", ts("2026-09-01 08:00"), ts("2026-09-01 08:45"),
         ts("2026-09-01 14:30"), "high", "web form", 0),
        ("4102", ACME, "381002", "solved", ts("2026-09-03 10:15"), ts("2026-09-03 12:25"),
         ts("2026-09-04 09:00"), "normal", "email", 1),
        ("4103", BOREALIS, "381003", "open", ts("2026-10-02 07:20"), ts("2026-10-02 07:32"),
         None, "urgent", "email", 0),
        # no reply yet: first reply time empty
        ("4104", BOREALIS, "381004", "pending", ts("2026-10-05 16:40"), None, None, "low",
         "web form", 0),
        # Zendesk "Hold" is pending
        ("4105", COBALT, "381005", "pending", ts("2026-10-10 12:00"), ts("2026-10-10 12:03"),
         None, "normal", "chat", 0),
        ("4106", COBALT, "381006", "closed", ts("2026-08-20 09:00"), ts("2026-08-20 09:00"),
         ts("2026-08-21 17:45"), "high", "phone", 0),
        # no priority set
        ("4107", DRIFTWOOD, "381007", "solved", ts("2026-11-01 11:11"), ts("2026-11-01 15:11"),
         ts("2026-11-02 10:00"), None, "email", 0),
        # no organization: the requester's domain is the account key; "New" is open
        ("4108", FJORD, "381008", "open", ts("2026-11-18 06:30"), None, None, "normal",
         "web widget", 0),
        ("4109", EASTGATE, "381009", "solved", ts("2026-07-14 13:05"), ts("2026-07-14 13:25"),
         ts("2026-07-14 15:05"), "urgent", "email", 0),
        # an organization with no alias: stored as an orphan
        ("4110", "Quasar Tooling", "381010", "closed", ts("2026-06-01 09:00"),
         ts("2026-06-01 10:00"), ts("2026-06-03 09:00"), "normal", "email", 0),
        ("4111", IONIC, "381011", "solved", ts("2026-11-10 15:00"), ts("2026-11-10 16:35"),
         ts("2026-11-12 15:00"), "low", "api", 0),
        # first reply crosses midnight
        ("4112", HARBOR, "381012", "closed", ts("2026-05-05 23:50"), ts("2026-05-06 00:05"),
         ts("2026-05-06 01:10"), "normal", "email", 0),
    ]  # fmt: skip
    csat = rows(
        crm,
        "SELECT response_id, account_id, contact_id, survey, kind, score, scale_min, scale_max, "
        "responded_at, ticket_id FROM survey_responses ORDER BY response_id",
    )

    def rated(tid: str, account: str, good: bool, solved: str) -> tuple[Any, ...]:
        return (f"zendesk-csat-{tid}", account, f"38{1000 + int(tid) - 4100}", "csat",
                "transactional", 1.0 if good else 0.0, 0.0, 1.0, ts(solved), tid)  # fmt: skip

    assert csat == [
        rated("4101", ACME, True, "2026-09-01 14:30"),
        rated("4102", ACME, False, "2026-09-04 09:00"),  # "Bad, I'm not satisfied"
        rated("4106", COBALT, True, "2026-08-21 17:45"),  # "Good, I'm satisfied"
        rated("4107", DRIFTWOOD, True, "2026-11-02 10:00"),
        rated("4109", EASTGATE, False, "2026-07-14 15:05"),
        rated("4110", "Quasar Tooling", True, "2026-06-03 09:00"),
        rated("4112", HARBOR, True, "2026-05-06 01:10"),
    ]
    assert quarantine(crm) == []
    assert_reimport_changes_nothing(crm, path, first, "zendesk_tickets")


# -- chat tools ------------------------------------------------------------------------------


def test_intercom_csat(crm: Store) -> None:
    path = SAMPLES / "intercom_csat.csv"
    first = run(crm, path, preset="intercom_csat")
    # 13 rows, 2 unrated (skipped), 1 rated by a visitor without a company (rejected),
    # 1 company with no alias (orphan).
    assert first == {"survey_responses": counts(read=11, inserted=10, rejected=1, orphan=1)}
    got = rows(
        crm,
        "SELECT response_id, account_id, survey, kind, score, scale_min, scale_max, comment, "
        "responded_at, ticket_id FROM survey_responses ORDER BY response_id",
    )
    # Header says America/New_York: EST (−5) until 8 March and from 1 November 2026, EDT (−4)
    # in between.
    expected = [
        ("601", ACME, 5, "Fixed in minutes, thanks!", "2026-02-27 21:20:05"),
        ("602", ACME, 4, None, "2026-03-09 13:02:44"),
        ("603", BOREALIS, 2, "Had to explain the issue three times", "2026-04-14 22:45:00"),
        ("604", BOREALIS, 1, 'The bot kept sending me to the same "help" article',
         "2026-05-02 11:15:31"),
        ("606", COBALT, 5, "Great support as always", "2026-07-05 03:30:10"),
        ("607", DRIFTWOOD, 3, None, "2026-08-21 14:10:10"),
        ("608", EASTGATE, 4, "Quick answer", "2026-10-01 00:05:00"),
        ("609", FJORD, 5, None, "2026-11-01 02:59:59"),
        ("610", IONIC, 4, "Solved, but slow first reply", "2026-11-01 08:30:00"),
        ("613", "Quasar Tooling", 3, "Okay", "2026-11-20 22:00:00"),
    ]  # fmt: skip
    assert got == [
        (f"intercom-215470365927{n}", account, "csat", "transactional", float(score), 1.0, 5.0,
         comment, ts(at), f"215470365927{n}")
        for n, account, score, comment, at in expected
    ]  # fmt: skip
    assert quarantine(crm) == [
        ("survey_responses", 12, "account_id", "account_id: required value is missing"),
    ]
    assert_reimport_changes_nothing(crm, path, first, "intercom_csat")


def test_intercom_csat_takes_the_zone_from_the_header(store: Store, tmp_path: Path) -> None:
    text = (SAMPLES / "intercom_csat.csv").read_text(encoding="utf-8")
    berlin = tmp_path / "intercom_berlin.csv"
    berlin.write_text(text.replace("(America/New_York)", "(Europe/Berlin)"), encoding="utf-8")
    bare = tmp_path / "intercom_no_zone.csv"
    bare.write_text(text.replace(" (America/New_York)", ""), encoding="utf-8")
    run(store, berlin, preset="intercom_csat")
    # 2026-07-04 23:30:10 in Berlin (CEST, +2) and 2026-02-27 16:20:05 (CET, +1)
    assert rows(
        store,
        "SELECT responded_at FROM survey_responses WHERE response_id IN "
        "('intercom-215470365927606', 'intercom-215470365927601') ORDER BY response_id",
    ) == [(ts("2026-02-27 15:20:05"),), (ts("2026-07-04 21:30:10"),)]
    other = Store("duckdb://:memory:")
    migrate(other)
    try:
        run(other, bare, preset="intercom_csat")
        assert rows(
            other,
            "SELECT responded_at FROM survey_responses "
            "WHERE response_id = 'intercom-215470365927606'",
        ) == [(ts("2026-07-04 23:30:10"),)]  # no zone in the header: UTC
    finally:
        other.close()


def test_chatwoot_csat(crm: Store) -> None:
    path = SAMPLES / "chatwoot_csat.csv"
    first = run(crm, path, preset="chatwoot_csat")
    # 9 responses and the trailing one-cell "Reporting period …" line (skipped); one response
    # from a contact with no email has no account (rejected).
    assert first == {"survey_responses": counts(read=9, inserted=8, rejected=1)}
    got = rows(
        crm,
        "SELECT response_id, account_id, score, comment, responded_at, ticket_id, scale_max "
        "FROM survey_responses ORDER BY response_id",
    )
    assert got == [
        ("chatwoot-1042", ACME, 5.0, "Quick and friendly", ts("2026-10-01 09:12:45"), "1042", 5.0),
        ("chatwoot-1043", ACME, 4.0, None, ts("2026-10-02 16:00:03"), "1043", 5.0),
        ("chatwoot-1047", BOREALIS, 1.0, "Waited two days, then got a canned reply",
         ts("2026-10-06 07:45:00"), "1047", 5.0),
        ("chatwoot-1051", COBALT, 3.0, None, ts("2026-10-09 12:30:30"), "1051", 5.0),
        ("chatwoot-1052", COBALT, 5.0, 'Solved my "export" issue in one go',
         ts("2026-10-14 18:20:00"), "1052", 5.0),
        ("chatwoot-1060", EASTGATE, 2.0, "Still not fixed", ts("2026-10-20 10:10:10"), "1060", 5.0),
        ("chatwoot-1061", FJORD, 5.0, None, ts("2026-10-23 08:00:00"), "1061", 5.0),
        ("chatwoot-1070", IONIC, 3.0, None, ts("2026-10-30 13:00:00"), "1070", 5.0),
    ]  # fmt: skip
    assert quarantine(crm) == [
        ("survey_responses", 9, "account_id", "account_id: required value is missing"),
    ]
    assert_reimport_changes_nothing(crm, path, first, "chatwoot_csat")


# -- NPS tool --------------------------------------------------------------------------------


def test_delighted_nps(crm: Store) -> None:
    path = SAMPLES / "delighted_nps.json"
    first = run(crm, path, preset="delighted_nps")
    # 12 records: 1 csat (skipped), 1 with no account property (rejected), 10 NPS responses.
    assert first == {"survey_responses": counts(read=11, inserted=10, rejected=1)}
    got = rows(
        crm,
        "SELECT response_id, account_id, contact_id, survey, kind, score, scale_min, scale_max, "
        "comment, responded_at FROM survey_responses ORDER BY response_id",
    )
    # created_at epochs, converted by hand: 1768226600 = 2026-01-12 14:03:20 UTC, …
    expected = [
        ("01", ACME, 10, "Reporting saves us hours every week.", "2026-01-12 14:03:20"),
        ("02", ACME, 6, "SSO setup was painful.", "2026-02-03 09:15:00"),
        ("03", BOREALIS, 9, None, "2026-03-30 18:44:10"),
        ("04", BOREALIS, 0, "Outage in May cost us a customer.", "2026-05-19 11:02:33"),
        ("05", COBALT, 8, None, "2026-06-05 07:30:00"),  # empty comment
        ("07", DRIFTWOOD, 7, "Fine, a bit pricey.", "2026-08-08 08:08:08"),
        ("08", EASTGATE, 10, "Best vendor we work with.", "2026-09-14 13:45:00"),
        ("10", IONIC, 9, "Support team is excellent.", "2026-10-27 22:10:05"),  # via "Company"
        ("11", FJORD, 10, "Robots love it", "2026-11-09 09:09:09"),
        ("12", HARBOR, 5, "Too many emails from you.", "2026-11-20 15:00:00"),
    ]
    assert got == [
        (f"delighted-812345{n}", account, f"61010{n}", "nps", "relationship", float(score),
         0.0, 10.0, comment, ts(at))
        for n, account, score, comment, at in expected
    ]  # fmt: skip
    assert quarantine(crm) == [
        ("survey_responses", 9, "account_id", "account_id: required value is missing"),
    ]
    assert_reimport_changes_nothing(crm, path, first, "delighted_nps")


# -- billing ---------------------------------------------------------------------------------


def month_range(first: date, last: date) -> list[date]:
    """Month starts from `first` through `last`, both included."""
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(date(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def test_stripe_subscriptions(crm: Store) -> None:
    path = SAMPLES / "stripe_subscriptions.csv"
    today = datetime.now(UTC).date()
    this_month = date(today.year, today.month, 1)
    expected: dict[tuple[str, date], float] = {}

    def add(account: str, first: date, last: date, mrr: float) -> None:
        for m in month_range(first, last):
            expected[account, m] = expected.get((account, m), 0.0) + mrr

    # Acme: core 500/month from 10 Jan (open); 3 seats × 120 from 5 Mar, ended 20 Jun (so
    # through May); 6000/year = 500/month from 1 May (open) — overlapping, summed.
    add(ACME, date(2026, 1, 1), this_month, 500)
    add(ACME, date(2026, 3, 1), date(2026, 5, 1), 3 * 120)
    add(ACME, date(2026, 5, 1), this_month, 6000 / 12)
    # Borealis: trial 1–15 Aug, then 300/month (open).
    add(BOREALIS, date(2026, 8, 1), this_month, 300)
    # Cobalt: trialing until 10 Dec 2026 — nothing before then.
    add(COBALT, date(2026, 12, 1), this_month, 800)
    # Driftwood: canceled 15 Apr 2026 with no Ended At: Dec 2025 through March.
    add(DRIFTWOOD, date(2025, 12, 1), date(2026, 3, 1), 99)
    # Eastgate: incomplete_expired — never paid, nothing.
    # Harbor & Vine: 25/week = 25 × 52 / 12 per month from October (open).
    add(HARBOR, date(2026, 10, 1), this_month, 25 * 52 / 12)
    # Ionic: past_due still counts, from June (open).
    add(IONIC, date(2026, 6, 1), this_month, 150)
    # Juniper: 2 × 1200/year canceled at period end — Ended At 20 Nov 2026 wins over Canceled
    # At: Nov 2025 through Oct 2026; the July pilot started and ended in July: nothing.
    add(JUNIPER, date(2025, 11, 1), date(2026, 10, 1), 2 * 1200 / 12)
    # Fjord bills in EUR: each of its months (Sep → now) is rejected.
    eur_months = len(month_range(date(2026, 9, 1), this_month))

    first = run(crm, path, preset="stripe_subscriptions")
    assert first == {
        "revenue": counts(read=len(expected) + eur_months, inserted=len(expected),
                          rejected=eur_months),
    }  # fmt: skip
    got = {(a, m): mrr for a, m, mrr in rows(crm, "SELECT account_id, month, mrr FROM revenue")}
    assert got.keys() == expected.keys()
    for key, mrr in expected.items():
        assert got[key] == pytest.approx(mrr, rel=1e-12), key
    # spot checks of the overlap, by hand
    assert got[ACME, date(2026, 3, 1)] == 860.0
    assert got[ACME, date(2026, 5, 1)] == 1360.0
    assert got[ACME, date(2026, 6, 1)] == 1000.0
    assert (ACME, date(2025, 12, 1)) not in got
    reasons = {r[3] for r in quarantine(crm)}
    assert reasons == {"currency: EUR is not the workspace currency USD"}
    assert {r[1] for r in quarantine(crm)} == {9}  # the Fjord subscription's row
    assert_reimport_changes_nothing(crm, path, first, "stripe_subscriptions")


# -- review sites ----------------------------------------------------------------------------


def test_g2_reviews(crm: Store) -> None:
    path = SAMPLES / "g2_reviews.json"
    first = run(crm, path, preset="g2_reviews")
    # one anonymous reviewer ("Verified User in Banking") matches no account: orphan
    assert first == {"advocacy_actions": counts(read=8, inserted=8, orphan=1)}
    got = rows(
        crm,
        "SELECT action_id, account_id, action_type, platform, rating, occurred_at, url "
        "FROM advocacy_actions ORDER BY action_id",
    )
    url = "https://www.g2.com/products/beacon-analytics/reviews/beacon-analytics-review-"
    assert got == [
        ("g2-9874501", ACME, "review", "g2", 5.0, ts("2026-02-11 15:20:00"), url + "9874501"),
        ("g2-9874502", ACME, "review", "g2", 3.5, ts("2026-03-02 08:05:41"), url + "9874502"),
        ("g2-9874503", BOREALIS, "review", "g2", 4.5, ts("2026-04-22 19:47:10"), None),
        ("g2-9874504", DRIFTWOOD, "review", "g2", 2.0, ts("2026-06-09 10:00:00"), None),
        ("g2-9874505", COBALT, "review", "g2", 5.0, ts("2026-07-30 13:13:13"), None),
        ("g2-9874506", "Verified User in Banking", "review", "g2", 4.0,
         ts("2026-09-18 07:45:00"), None),
        # half a star is raised to the floor of the 1–5 scale
        ("g2-9874507", IONIC, "review", "g2", 1.0, ts("2026-10-05 22:30:00"), None),
        ("g2-9874508", HARBOR, "review", "g2", 4.5, ts("2026-11-14 11:00:00"), None),
    ]  # fmt: skip
    assert_reimport_changes_nothing(crm, path, first, "g2_reviews")


def test_g2_reviews_on_a_ten_point_scale(store: Store, tmp_path: Path) -> None:
    page = json.loads((SAMPLES / "g2_reviews.json").read_text(encoding="utf-8"))
    tens = [10, 7, 9, 4, 10, 8, 1, 0]
    for record, stars in zip(page["data"], tens, strict=True):
        record["attributes"]["star_rating"] = stars
    path = tmp_path / "g2_ten.json"
    path.write_text(json.dumps(page), encoding="utf-8")
    assert run(store, path, preset="g2_reviews")["advocacy_actions"]["inserted"] == 8
    got = [r[0] for r in rows(store, "SELECT rating FROM advocacy_actions ORDER BY action_id")]
    # a maximum above 5 means 0–10: 1 + 4·r/10
    assert got == pytest.approx([5.0, 3.8, 4.6, 2.6, 5.0, 4.2, 1.4, 1.0])


def test_trustpilot_reviews(crm: Store) -> None:
    path = SAMPLES / "trustpilot_reviews.json"
    first = run(crm, path, preset="trustpilot_reviews")
    # the organic review carries no invitation reference: kept as an orphan
    assert first == {"advocacy_actions": counts(read=6, inserted=6, orphan=1)}
    got = rows(
        crm,
        "SELECT action_id, account_id, action_type, platform, rating, occurred_at "
        "FROM advocacy_actions ORDER BY action_id",
    )
    expected = [
        ("1", ACME, 5.0, "2026-03-18 10:22:31"),
        ("2", DRIFTWOOD, 2.0, "2026-05-07 06:05:00"),
        ("3", BOREALIS, 4.0, "2026-06-30 21:45:10"),
        ("4", "trustpilot-anonymous", 1.0, "2026-08-02 12:00:00"),
        ("5", COBALT, 5.0, "2026-09-11 15:30:00"),
        ("6", IONIC, 4.0, "2026-11-03 08:08:08"),
    ]
    assert got == [
        (f"trustpilot-6512a0f1c2e4b3001a7f000{n}", account, "review", "trustpilot", stars, ts(at))
        for n, account, stars, at in expected
    ]  # fmt: skip
    assert_reimport_changes_nothing(crm, path, first, "trustpilot_reviews")


def test_intercom_csat_with_a_multiline_remark(crm: Store, tmp_path: Path) -> None:
    text = (SAMPLES / "intercom_csat.csv").read_text(encoding="utf-8")
    path = tmp_path / "intercom_multiline.csv"
    path.write_text(
        # a remark ending in a line break (the customer pressed Enter), as in real exports
        text.replace('"Had to explain the issue three times"', '"Had to explain it twice.\n"'),
        encoding="utf-8",
    )
    assert run(crm, path, preset="intercom_csat")["survey_responses"]["inserted"] == 10
    assert rows(
        crm, "SELECT comment FROM survey_responses WHERE response_id = 'intercom-215470365927603'"
    ) == [("Had to explain it twice.\n",)]
