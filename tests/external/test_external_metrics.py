"""Real third-party companies end to end: their files imported with `advocacy import
--mapping`, every metric read back from `advocacy metrics --format json`, each value compared
with the oracle on the stored tables (the imports themselves are checked against the raw files
in test_external.py).

None of these files holds every kind of data: the metrics of what a company lacks must come
out as zero counts and no rates exactly where the oracle says so, beside real revenue, tickets,
reviews and survey scores.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from advocacy.metrics.catalog import CATALOG
from advocacy.workspace import open_workspace
from tests.cli import ADVOCACY
from tests.external.test_external import MAPPINGS, data_file
from tests.metrics.helpers import canonical_frames, differences
from tests.oracle.metrics_oracle import compute

pytestmark = pytest.mark.external


@dataclass(frozen=True)
class Dataset:
    imports: tuple[tuple[str, str], ...]  # (file under external/, mapping name), in order
    start: date
    end: date
    by: str | None
    period: str
    as_of: date  # the data's last day, the CLI's default
    measured: tuple[str, ...]  # metrics with non-zero values on these files
    window: str = "period"


RAVENSTACK = "ravenstack/ravenstack_"
TELCO = "ibm_telco_v11/Telco_customer_churn_"
OLIST = "olist_subset/olist_order_reviews_dataset.csv"
SUDZILLA = "nps_sudzilla_transcribed/sudzilla_nps.csv"
TERESGEO = "support_tickets_teresgeo/customer_support_tickets.csv"

DATASETS = {
    "ravenstack": Dataset(
        ((f"{RAVENSTACK}accounts.csv", "ravenstack_accounts"),
         (f"{RAVENSTACK}subscriptions.csv", "ravenstack_subscriptions"),
         (f"{RAVENSTACK}support_tickets.csv", "ravenstack_support_tickets")),
        date(2023, 1, 1), date(2025, 1, 1), "plan", "quarter", date(2024, 12, 31),
        ("grr", "nrr", "logo_retention", "mrr_bridge", "csat", "csat_mean", "new_logos",
         "first_response_hours", "resolution_hours"),
    ),
    "ravenstack-monthly": Dataset(
        ((f"{RAVENSTACK}accounts.csv", "ravenstack_accounts"),
         (f"{RAVENSTACK}subscriptions.csv", "ravenstack_subscriptions")),
        date(2024, 1, 1), date(2025, 1, 1), "region", "month", date(2024, 12, 31),
        ("grr", "nrr", "logo_retention", "mrr_bridge", "new_logos"),
    ),
    "telco": Dataset(
        ((f"{TELCO}services.csv", "telco_accounts"), (f"{TELCO}services.csv", "telco_referrals"),
         (f"{TELCO}status.csv", "telco_satisfaction")),
        date(2017, 10, 1), date(2019, 10, 1), "segment", "quarter", date(2019, 9, 30),
        ("csat", "csat_mean", "advocacy_rate", "referral_rate", "referrals", "new_logos",
         "logo_retention"),
    ),
    "telco-monthly-ttm": Dataset(
        ((f"{TELCO}services.csv", "telco_accounts"), (f"{TELCO}status.csv", "telco_satisfaction")),
        date(2018, 1, 1), date(2019, 10, 1), "segment", "month", date(2019, 9, 30),
        ("csat", "new_logos", "logo_retention"), "ttm",
    ),
    "olist": Dataset(
        ((OLIST, "olist_accounts"), (OLIST, "olist_reviews")),
        date(2016, 10, 1), date(2018, 10, 1), None, "quarter", date(2018, 10, 18),
        ("csat", "advocacy_rate", "review_rate", "reviews", "review_rating",
         "advocate_concentration"),
    ),
    "sudzilla": Dataset(
        ((SUDZILLA, "sudzilla_account"), (SUDZILLA, "sudzilla_nps")),
        date(2019, 1, 1), date(2020, 1, 1), None, "quarter", date(2019, 11, 4),
        ("nps", "promoter_share", "detractor_share"),
    ),
    "teresgeo": Dataset(
        ((TERESGEO, "teresgeo_accounts"), (TERESGEO, "teresgeo_tickets")),
        date(2024, 1, 1), date(2025, 1, 1), None, "month", date(2025, 1, 5),
        ("csat", "csat_mean", "first_response_hours", "resolution_hours"),
    ),
}  # fmt: skip


def _cli(*args: str) -> str:
    done = subprocess.run([ADVOCACY, *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_metric_equals_the_oracle(tmp_path: Path, name: str) -> None:
    d = DATASETS[name]
    ws = str(tmp_path / "ws")
    _cli("init", ws)
    for file, mapping in d.imports:
        _cli("-w", ws, "import", str(data_file(file)), "--mapping", str(MAPPINGS / f"{mapping}.toml"), "-q")  # fmt: skip
    names = [m.name for m in CATALOG]
    grouping = ["--by", d.by] if d.by else []
    out = _cli("-w", ws, "metrics", *names, *grouping, "--period", d.period, "--window", d.window,
               "--from", d.start.isoformat(), "--to", d.end.isoformat(), "--format", "json")  # fmt: skip
    rows = pd.DataFrame(json.loads(out))
    assert {date.fromisoformat(str(a)[:10]) for a in rows["as_of"]} == {d.as_of}
    with open_workspace(Path(ws)) as workspace:
        frames = canonical_frames(workspace)
    problems = {}
    for metric in names:
        ours = rows[rows["metric"] == metric]
        theirs = compute(frames, metric=metric, start=d.start, end=d.end, by=d.by,
                         as_of=d.as_of, period=d.period, window=d.window)  # fmt: skip
        if found := differences(ours, theirs, d.by):
            problems[metric] = found[:3]
    assert problems == {}
    values = pd.to_numeric(rows["value"], errors="coerce").fillna(0)
    measured = set(rows.loc[values != 0, "metric"])
    assert measured >= set(d.measured), set(d.measured) - measured
