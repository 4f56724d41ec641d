"""Third-party data sets (../shared/data/external) through the mapping files in ./mappings.

Every count and value is checked against pandas reading the same file independently. The data
files are never copied into the repository; the tests skip when the folder is absent.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from advocacy.config import Settings
from advocacy.ingest import ImportOptions, import_file
from advocacy.ingest.mapping import load_mapping
from advocacy.storage import Store, migrate

pytestmark = pytest.mark.external

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "external"
MAPPINGS = Path(__file__).parent / "mappings"
COUNT_FIELDS = (
    "read", "inserted", "updated", "unchanged", "duplicate", "conflicting", "rejected", "orphan",
)  # fmt: skip

Counts = dict[str, int]


# -- helpers ---------------------------------------------------------------------------------


def data_file(relative: str) -> Path:
    path = DATA / relative
    if not path.is_file():
        pytest.skip(f"external data set not available: {path}")
    return path


def new_store() -> Store:
    store = Store("duckdb://:memory:")
    migrate(store)
    return store


def run(store: Store, path: Path, mapping: str) -> dict[str, Counts]:
    """Import `path` with tests/external/mappings/<mapping>.toml; counts per table."""
    opts = ImportOptions(mapping=load_mapping(MAPPINGS / f"{mapping}.toml"))
    reports = import_file(store, Settings(), path, opts)
    for report in reports:
        assert report.balanced, report
    return {r.table: {f: getattr(r, f) for f in COUNT_FIELDS} for r in reports}


def counts(**given: int) -> Counts:
    return {f: given.get(f, 0) for f in COUNT_FIELDS}


def frame(store: Store, sql: str) -> pd.DataFrame:
    with store.transaction() as tx:
        result: pd.DataFrame = tx.cursor.execute(sql).df()
    return result


def rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    with store.transaction() as tx:
        return tx.fetchall(sql)


def read_raw(path: Path, **kwargs: Any) -> pd.DataFrame:
    """The file as pandas sees it: every value a string, empty stays empty."""
    result: pd.DataFrame = pd.read_csv(path, dtype=str, keep_default_na=False, **kwargs)
    return result


def test_mappings_parse_and_describe_themselves() -> None:
    files = sorted(MAPPINGS.glob("*.toml"))
    assert len(files) >= 10
    for path in files:
        mapping = load_mapping(path)
        assert mapping.name == path.stem
        assert mapping.description.strip(), path.name


# -- RavenStack ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ravenstack() -> Iterator[tuple[Store, dict[str, dict[str, Counts]]]]:
    accounts = data_file("ravenstack/ravenstack_accounts.csv")
    subscriptions = data_file("ravenstack/ravenstack_subscriptions.csv")
    tickets = data_file("ravenstack/ravenstack_support_tickets.csv")
    store = new_store()
    reports = {
        "accounts": run(store, accounts, "ravenstack_accounts"),
        "subscriptions": run(store, subscriptions, "ravenstack_subscriptions"),
        "tickets": run(store, tickets, "ravenstack_support_tickets"),
    }
    yield store, reports
    store.close()


def test_ravenstack_accounts(ravenstack: tuple[Store, dict[str, dict[str, Counts]]]) -> None:
    store, reports = ravenstack
    raw = read_raw(data_file("ravenstack/ravenstack_accounts.csv"))
    assert reports["accounts"] == {"accounts": counts(read=500, inserted=500)}
    got = frame(
        store,
        "SELECT account_id, name, industry, region, plan, created_at, is_trial, churn_flag, "
        "referral_source, seats FROM accounts",
    ).set_index("account_id")
    assert len(got) == len(raw) == 500
    raw = raw.set_index("account_id").loc[got.index]
    assert (got["name"] == raw["account_name"]).all()
    assert (got["region"] == raw["country"]).all()
    assert (got["plan"] == raw["plan_tier"]).all()
    assert (got["created_at"] == pd.to_datetime(raw["signup_date"])).all()
    # Excel booleans are kept as written, as extra account columns
    assert got["is_trial"].value_counts().to_dict() == {"FALSE": 403, "TRUE": 97}
    assert (got["is_trial"] == raw["is_trial"]).all()
    assert (got["churn_flag"] == raw["churn_flag"]).all()
    assert (got["seats"] == raw["seats"]).all()
    assert got.loc["A-2e4581", "referral_source"] == "partner"


def ravenstack_mrr_oracle(subs: pd.DataFrame) -> pd.Series:
    """The mapping's rule in plain Python: per account-month, the latest-started paid plan."""
    ends = subs["end_date"].replace("", None)
    horizon = pd.to_datetime(pd.concat([subs["start_date"], ends])).max().to_period("M")
    best: dict[tuple[str, pd.Period], tuple[str, str, float]] = {}
    for sub in subs[subs["is_trial"] == "FALSE"].to_dict("records"):
        started, ended = str(sub["start_date"]), str(sub["end_date"])
        first = pd.Period(started, freq="M")
        last = pd.Period(ended, freq="M") - 1 if ended else horizon
        for month in pd.period_range(first, last, freq="M"):
            key, rank = (str(sub["account_id"]), month), (started, str(sub["subscription_id"]))
            if key not in best or rank > best[key][:2]:
                best[key] = (*rank, float(sub["mrr_amount"]))
    index = pd.MultiIndex.from_tuples(list(best), names=["account_id", "months"])
    return pd.Series([v[2] for v in best.values()], index=index).sort_index()


def test_ravenstack_subscriptions_become_monthly_revenue(
    ravenstack: tuple[Store, dict[str, dict[str, Counts]]],
) -> None:
    store, reports = ravenstack
    subs = read_raw(data_file("ravenstack/ravenstack_subscriptions.csv"))
    oracle = ravenstack_mrr_oracle(subs)
    assert reports["subscriptions"] == {
        "revenue": counts(read=len(oracle), inserted=len(oracle)),
    }
    got = frame(store, "SELECT account_id, month, mrr FROM revenue")
    got["months"] = pd.to_datetime(got["month"]).dt.to_period("M")
    series = got.set_index(["account_id", "months"])["mrr"].sort_index()
    pd.testing.assert_series_equal(series, oracle, check_names=False)
    # One account by hand (A-3c1a3f, the file's first): paid plans 2786 (23 Dec 2023 – 12 Apr
    # 2024), 5771 (28 Dec 2023, open), 76 (25 Mar 2024), 398 (28 Apr), 931 (6 May – 25 Nov),
    # 597 (30 Sep), 4018 (7 Oct), 199 (13 Oct), 133 (26 Oct); trials ignored. Each month takes
    # the plan started last among those active in it.
    by_hand = [5771] * 3 + [76, 398] + [931] * 4 + [597] + [133] * 3
    months = pd.period_range("2023-12", "2024-12", freq="M")
    account = series.loc["A-3c1a3f"]
    assert list(account.index) == list(months)
    assert account.tolist() == by_hand
    # Summing the overlapping plans instead would be far larger.
    naive = subs[(subs["account_id"] == "A-3c1a3f") & (subs["end_date"] == "")]
    assert naive["mrr_amount"].astype(float).sum() > 2 * account.iloc[-1]


def test_ravenstack_support_tickets_and_csat(
    ravenstack: tuple[Store, dict[str, dict[str, Counts]]],
) -> None:
    store, reports = ravenstack
    raw = read_raw(data_file("ravenstack/ravenstack_support_tickets.csv"))
    rated = raw[raw["satisfaction_score"] != ""]
    assert len(rated) == 1175  # 825 of 2000 (41%) empty
    assert reports["tickets"] == {
        "tickets": counts(read=2000, inserted=2000),
        "survey_responses": counts(read=1175, inserted=1175),
    }
    tickets = frame(store, "SELECT * FROM tickets").set_index("ticket_id")
    raw = raw.set_index("ticket_id").loc[tickets.index]
    assert (tickets["opened_at"] == pd.to_datetime(raw["submitted_at"])).all()
    # closed_at is Excel-styled "2023-07-28 3:00"
    assert (
        tickets["resolved_at"] == pd.to_datetime(raw["closed_at"], format="%Y-%m-%d %H:%M")
    ).all()
    wait = pd.to_timedelta(raw["first_response_time_minutes"].astype(int), unit="min")
    assert (tickets["first_response_at"] == pd.to_datetime(raw["submitted_at"]) + wait).all()
    assert tickets["priority"].value_counts().to_dict() == {
        "urgent": 514, "high": 510, "normal": 491, "low": 485,  # medium → normal
    }  # fmt: skip
    assert set(tickets["status"]) == {"closed"}
    assert tickets.loc["T-0024de", "resolved_at"] == datetime(2023, 7, 28, 3, 0)
    csat = frame(store, "SELECT * FROM survey_responses").set_index("ticket_id")
    assert set(csat["survey"]) == {"csat"}
    assert csat["score"].mean() == pytest.approx(rated["satisfaction_score"].astype(float).mean())
    assert csat["score"].value_counts().to_dict() == {4.0: 405, 3.0: 396, 5.0: 374}
    assert (csat["responded_at"] == tickets.loc[csat.index, "resolved_at"]).all()
    assert csat.loc["T-d5e12f", "response_id"] == "csat-T-d5e12f"


def test_ravenstack_reimport_changes_nothing(
    ravenstack: tuple[Store, dict[str, dict[str, Counts]]],
) -> None:
    store, _ = ravenstack
    again = run(
        store, data_file("ravenstack/ravenstack_subscriptions.csv"), "ravenstack_subscriptions"
    )
    assert again["revenue"]["inserted"] == again["revenue"]["updated"] == 0
    assert again["revenue"]["unchanged"] == again["revenue"]["read"]
    again = run(
        store, data_file("ravenstack/ravenstack_support_tickets.csv"), "ravenstack_support_tickets"
    )
    assert again == {
        "tickets": counts(read=2000, unchanged=2000),
        "survey_responses": counts(read=1175, duplicate=1175),
    }


# -- IBM Telco v11 ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def telco() -> Iterator[tuple[Store, dict[str, dict[str, Counts]]]]:
    services = data_file("ibm_telco_v11/Telco_customer_churn_services.csv")
    status = data_file("ibm_telco_v11/Telco_customer_churn_status.csv")
    store = new_store()
    reports = {
        "accounts": run(store, services, "telco_accounts"),
        "referrals": run(store, services, "telco_referrals"),
        "satisfaction": run(store, status, "telco_satisfaction"),
    }
    yield store, reports
    store.close()


def test_telco_accounts_from_tenure(telco: tuple[Store, dict[str, dict[str, Counts]]]) -> None:
    store, reports = telco
    raw = read_raw(data_file("ibm_telco_v11/Telco_customer_churn_services.csv"))
    assert set(raw["Quarter"]) == {"Q3"}  # one snapshot
    assert reports["accounts"] == {"accounts": counts(read=7043, inserted=7043)}
    got = frame(
        store, "SELECT account_id, plan, created_at, offer, internet_type, referred_a_friend "
        "FROM accounts",
    ).set_index("account_id")  # fmt: skip
    raw = raw.set_index("Customer ID").loc[got.index]
    snapshot = pd.Timestamp("2019-09-30")
    expected = [snapshot - pd.DateOffset(months=int(n)) for n in raw["Tenure in Months"]]
    assert (got["created_at"] == pd.Series(expected, index=got.index)).all()
    assert (got["plan"] == raw["Contract"]).all()
    assert (got["offer"] == raw["Offer"]).all()
    assert got.loc["8779-QRDMV", "created_at"] == datetime(2019, 8, 30)


def test_telco_referral_counts_become_referral_actions(
    telco: tuple[Store, dict[str, dict[str, Counts]]],
) -> None:
    store, reports = telco
    raw = read_raw(data_file("ibm_telco_v11/Telco_customer_churn_services.csv"))
    per_customer = raw.set_index("Customer ID")["Number of Referrals"].astype(int)
    total = int(per_customer.sum())
    assert reports["referrals"] == {"advocacy_actions": counts(read=total, inserted=total)}
    got = frame(
        store, "SELECT account_id, count(*) AS n, min(action_type) AS t, min(occurred_at) AS at "
        "FROM advocacy_actions GROUP BY account_id",
    ).set_index("account_id")["n"]  # fmt: skip
    expected = per_customer[per_customer > 0]
    pd.testing.assert_series_equal(
        got.sort_index().astype(int), expected.sort_index().astype(int), check_names=False
    )
    # "Referred a Friend" agrees with the count
    assert set(raw.loc[raw["Number of Referrals"] != "0", "Referred a Friend"]) == {"Yes"}
    assert rows(store, "SELECT DISTINCT action_type, occurred_at FROM advocacy_actions") == [
        ("referral", datetime(2019, 9, 30)),
    ]
    assert rows(
        store, "SELECT action_id FROM advocacy_actions WHERE account_id = '7495-OOKFY'"
    ) == [("telco-ref-7495-OOKFY-1",)]


def test_telco_satisfaction_as_csat(telco: tuple[Store, dict[str, dict[str, Counts]]]) -> None:
    store, reports = telco
    raw = read_raw(data_file("ibm_telco_v11/Telco_customer_churn_status.csv"))
    assert reports["satisfaction"] == {"survey_responses": counts(read=7043, inserted=7043)}
    got = frame(store, "SELECT account_id, score, scale_min, scale_max FROM survey_responses")
    assert (got["scale_min"] == 1).all()
    assert (got["scale_max"] == 5).all()
    assert got["score"].mean() == pytest.approx(raw["Satisfaction Score"].astype(float).mean())
    assert got["score"].value_counts().sort_index().to_dict() == (
        raw["Satisfaction Score"].astype(float).value_counts().sort_index().to_dict()
    )
    # by construction every customer with satisfaction ≤ 2 churned
    merged = got.merge(raw, left_on="account_id", right_on="Customer ID")
    assert set(merged.loc[merged["score"] <= 2, "Churn Label"]) == {"Yes"}


# -- Olist -----------------------------------------------------------------------------------

OLIST = "olist_subset/olist_order_reviews_dataset.csv"


def test_olist_reviews_duplicates_and_multiline_text() -> None:
    path = data_file(OLIST)
    raw = read_raw(path)
    assert len(raw) == 6123
    assert raw["review_id"].nunique() == 6121
    twice = raw[raw["review_id"].duplicated(keep=False)]
    assert len(twice) == 4
    assert twice["order_id"].nunique() == 4
    store = new_store()
    try:
        assert run(store, path, "olist_accounts") == {
            "accounts": counts(read=6121, inserted=6121),
        }
        first = run(store, path, "olist_reviews")
        # the copies differ (account_id = order_id): all four rows are quarantined
        assert first == {
            "advocacy_actions": counts(read=6123, inserted=6119, rejected=4),
            "survey_responses": counts(read=6123, inserted=6119, rejected=4),
        }
        spreadsheet_rows = sorted(int(i) + 2 for i in twice.index)  # header is row 1
        quarantined = rows(
            store, "SELECT table_name, row_number, reason FROM _quarantine ORDER BY 1, 2"
        )
        assert [r[1] for r in quarantined] == spreadsheet_rows * 2
        assert all(
            r[2].startswith("conflicting copies of this key in the file") for r in quarantined
        )
        assert rows(
            store, "SELECT count(*) FROM advocacy_actions WHERE action_id IN "
            "('308316408775d1600dad81bd3184556d', '3242cc306a9218d0377831e175d62fbf')",
        ) == [(0,)]  # fmt: skip
        # ratings 1–5 as in the file
        kept = raw[~raw["review_id"].isin(twice["review_id"])]
        got = frame(store, "SELECT action_id, rating FROM advocacy_actions").set_index("action_id")
        assert (
            got["rating"]
            == kept.set_index("review_id").loc[got.index, "review_score"].astype(float)
        ).all()
        # multi-line Portuguese text survives intact (the engine trims outer spaces only)
        multi = kept[kept["review_comment_message"].str.contains("\n")]
        assert len(multi) > 200
        comments = frame(store, "SELECT response_id, comment FROM survey_responses").set_index(
            "response_id"
        )["comment"]
        for review_id, title, message in multi[
            ["review_id", "review_comment_title", "review_comment_message"]
        ].itertuples(index=False):
            expected = "\n\n".join(p for p in (title, message) if p).strip(" ")
            assert comments[review_id] == expected
        assert comments["4b49719c8a200003f700d3d986ea1a19"] == (
            "Mas um pouco ,travando...pelo valor ta Boa.\r\n"
        )
        again = run(store, path, "olist_reviews")
        assert again["advocacy_actions"] == counts(read=6123, duplicate=6119, rejected=4)
    finally:
        store.close()


def test_olist_identical_copies_count_once() -> None:
    store = new_store()
    try:
        # without the order in the row, the two repeated review_ids are identical copies
        assert run(store, data_file(OLIST), "olist_reviews_marketplace") == {
            "advocacy_actions": counts(read=6123, inserted=6121, duplicate=2, orphan=6121),
        }
    finally:
        store.close()


# -- teresgeo support tickets ----------------------------------------------------------------


@pytest.fixture(scope="module")
def teresgeo() -> Iterator[tuple[Store, dict[str, dict[str, Counts]]]]:
    path = data_file("support_tickets_teresgeo/customer_support_tickets.csv")
    store = new_store()
    reports = {
        "accounts": run(store, path, "teresgeo_accounts"),
        "tickets": run(store, path, "teresgeo_tickets"),
    }
    yield store, reports
    store.close()


def test_teresgeo_tickets_and_csat_match_their_oracle(
    teresgeo: tuple[Store, dict[str, dict[str, Counts]]],
) -> None:
    store, reports = teresgeo
    raw = read_raw(data_file("support_tickets_teresgeo/customer_support_tickets.csv"))
    oracle = pd.read_csv(
        data_file("support_tickets_teresgeo/ticket_summary_stats.oracle.csv")
    ).set_index("Metric")["Value"]
    results = data_file("support_tickets_teresgeo/Results.oracle.md").read_text(encoding="utf-8")
    assert reports["accounts"] == {"accounts": counts(read=1, inserted=1)}
    assert reports["tickets"] == {
        "tickets": counts(read=1000, inserted=1000),
        "survey_responses": counts(read=428, inserted=428),  # 572 of 1000 empty
    }
    assert oracle["Total Tickets"] == 1000
    mean_csat = rows(store, "SELECT avg(score), count(*) FROM survey_responses")[0]
    assert mean_csat[0] == pytest.approx(oracle["Avg CSAT Score"], rel=1e-12)
    assert "Avg_CSAT: 3.696261682242991" in results
    assert mean_csat[0] == pytest.approx(3.696261682242991, rel=1e-12)
    assert mean_csat[0] == pytest.approx(
        raw.loc[raw["CSAT_Score"] != "", "CSAT_Score"].astype(float).mean()
    )
    first_response_hours = rows(
        store,
        "SELECT avg((epoch(first_response_at) - epoch(opened_at)) / 3600.0) FROM tickets",
    )[0][0]
    assert first_response_hours == pytest.approx(oracle["Avg Response Time (hrs)"], rel=1e-9)
    by_status = dict(rows(store, "SELECT status, count(*) FROM tickets GROUP BY status"))
    assert by_status == {"open": 175 + 204, "pending": 193, "solved": 190, "closed": 238}
    assert by_status["open"] - 204 == oracle["Open Tickets"]
    assert by_status["solved"] == oracle["Resolved Tickets"]
    by_priority = dict(rows(store, "SELECT priority, count(*) FROM tickets GROUP BY priority"))
    assert by_priority == {"urgent": 243, "high": 243, "normal": 244, "low": 270}
    assert rows(store, "SELECT count(*) FROM tickets WHERE resolved_at IS NOT NULL") == [(428,)]
    assert rows(
        store,
        "SELECT opened_at, first_response_at, resolved_at FROM tickets WHERE ticket_id = 'TKT-00001'",
    ) == [(datetime(2024, 11, 23, 3, 1), datetime(2024, 11, 23, 4, 7, 36),
           datetime(2024, 11, 23, 21, 4))]  # fmt: skip


# -- CDNOW -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow() -> Iterator[tuple[Store, dict[str, dict[str, Counts]]]]:
    path = data_file("cdnow/CDNOW_master.txt")
    store = new_store()
    reports = {
        "accounts": run(store, path, "cdnow_accounts"),
        "revenue": run(store, path, "cdnow_revenue"),
    }
    yield store, reports
    store.close()


def test_cdnow_revenue_per_customer_month(
    cdnow: tuple[Store, dict[str, dict[str, Counts]]],
) -> None:
    store, reports = cdnow
    raw = pd.read_csv(
        data_file("cdnow/CDNOW_master.txt"), sep=r"\s+", dtype={"customer_id": str, "date": str}
    )
    assert len(raw) == 69659
    assert raw["customer_id"].nunique() == 23570
    raw["month"] = pd.to_datetime(raw["date"], format="%Y%m%d").dt.to_period("M")
    oracle = raw.groupby(["customer_id", "month"])["dollar_value"].sum().sort_index()
    assert reports["accounts"] == {"accounts": counts(read=23570, inserted=23570)}
    assert reports["revenue"] == {
        "revenue": counts(read=len(oracle), inserted=len(oracle)),
    }
    got = frame(store, "SELECT account_id, month, mrr FROM revenue")
    got["month"] = pd.to_datetime(got["month"]).dt.to_period("M")
    series = got.set_index(["account_id", "month"])["mrr"].sort_index()
    pd.testing.assert_series_equal(series, oracle, check_names=False, rtol=1e-12)
    # ids keep their zero padding; customer 00002 bought 1 + 5 CDs on 12 Jan 1997
    assert rows(store, "SELECT month, mrr FROM revenue WHERE account_id = '00002'") == [
        (date(1997, 1, 1), pytest.approx(89.0)),
    ]
    first = raw.groupby("customer_id")["date"].min()
    accounts = frame(store, "SELECT account_id, created_at FROM accounts").set_index("account_id")
    assert (
        accounts["created_at"] == pd.to_datetime(first.loc[accounts.index], format="%Y%m%d")
    ).all()


# -- Sudzilla NPS ----------------------------------------------------------------------------


def test_sudzilla_wide_nps_unpivoted() -> None:
    path = data_file("nps_sudzilla_transcribed/sudzilla_nps.csv")
    raw = read_raw(path)
    questions = [c for c in raw.columns if c.startswith("rate_")]
    assert len(raw) == 39
    assert len(questions) == 3
    store = new_store()
    try:
        assert run(store, path, "sudzilla_account") == {"accounts": counts(read=1, inserted=1)}
        first = run(store, path, "sudzilla_nps")
        assert first == {"survey_responses": counts(read=117, inserted=117)}
        got = frame(store, "SELECT * FROM survey_responses").set_index("response_id")
        assert set(got["survey"]) == {"nps"}
        assert set(got["account_id"]) == {"sudzilla"}
        long = raw.melt(id_vars="Timestamp", value_vars=questions, var_name="q", value_name="s")
        long["s"] = long["s"].astype(float)
        for question in questions:
            short = question.removeprefix("rate_").removesuffix("_0_10")
            mine = got[got.index.str.endswith("-" + short)]["score"]
            theirs = long.loc[long["q"] == question, "s"]
            assert len(mine) == 39
            assert mine.mean() == pytest.approx(theirs.mean())
            nps = 100 * ((mine >= 9).mean() - (mine <= 6).mean())
            assert nps == pytest.approx(100 * ((theirs >= 9).mean() - (theirs <= 6).mean()))
        # first data row (spreadsheet row 2): 11/1/2019 8:51:12 → 0, 0, 0
        assert got.loc["sudzilla-2-sudzilla", "responded_at"] == datetime(2019, 11, 1, 8, 51, 12)
        # last row: 11/4/2019 4:33:11 → 9, 8, 2 (single-digit month, day and hour)
        assert got.loc["sudzilla-40-closing_keynote", "score"] == 2.0
        assert got.loc["sudzilla-40-opening_keynote", "responded_at"] == datetime(
            2019, 11, 4, 4, 33, 11
        )
        stamps = pd.to_datetime(raw["Timestamp"], format="%m/%d/%Y %H:%M:%S")
        assert sorted(set(got["responded_at"])) == sorted(set(stamps))
        again = run(store, path, "sudzilla_nps")
        assert again == {"survey_responses": counts(read=117, duplicate=117)}
    finally:
        store.close()
