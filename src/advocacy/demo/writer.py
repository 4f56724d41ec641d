"""Turn a simulated chunk into canonical Arrow tables with string ids.

Ids are numbered across chunks by running offsets; inside a chunk, event rows are sorted by time so
ids grow with time. References are resolved through each table's rank of the chunk-local positions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import pyarrow as pa

from advocacy.demo import arrow as ar
from advocacy.demo.accounts import ROLES
from advocacy.demo.actions import PLATFORMS
from advocacy.demo.calendar import END, MONTH_START, N_MONTHS, IntArr
from advocacy.demo.codes import (
    ACTION_TYPES,
    ASK_CHANNELS,
    ASK_STATUSES,
    ASK_TYPE_CODES,
    MILESTONE_TYPES,
    SURVEY_ASK,
    TRIGGERS,
)
from advocacy.demo.extras import REWARD_KINDS, REWARD_TYPES
from advocacy.demo.frames import Cols
from advocacy.demo.names import (
    CSAT_COMMENTS,
    CSMS,
    FIRST,
    LAST,
    NAME_A,
    NAME_B,
    NPS_COMMENTS,
    SUFFIX,
    TITLES,
)
from advocacy.demo.params import INDUSTRIES, PLANS, REGIONS, SEGMENTS, ProductChange
from advocacy.demo.simulate import Chunk
from advocacy.demo.support import CHANNELS, PRIORITIES, STATUSES

IMPORT_ORDER = (
    "accounts", "account_aliases", "contacts", "product_changes", "revenue", "usage", "milestones",
    "tickets", "asks", "survey_responses", "advocacy_actions", "ask_outcomes", "rewards",
)  # fmt: skip
# prefix and digits of each generated id
ID_FORMAT = {
    "accounts": ("A", 7), "contacts": ("C", 8), "tickets": ("T", 9),
    "survey_responses": ("R", 9), "advocacy_actions": ("ACT", 9), "milestones": ("MS", 9),
    "asks": ("ASK", 9), "rewards": ("RW", 9),
}  # fmt: skip
CSM_TIERS = ("tech_touch", "low_touch", "high_touch")
URL_PREFIX = (
    "https://www.g2.com/products/acme-cloud/reviews/", "https://www.capterra.com/reviews/acme/",
    "https://www.trustradius.com/reviews/acme-", "https://www.linkedin.com/feed/update/",
    "https://x.com/i/status/", "https://community.acme.example/t/",
)  # fmt: skip


@dataclass
class Numbering:
    """Running id offsets across chunks and the current chunk's ranks of local positions."""

    offset: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ID_FORMAT, 0))
    rank: dict[str, IntArr] = field(default_factory=dict)

    def ref(self, table: str, local: IntArr) -> pa.Array:
        prefix, width = ID_FORMAT[table]
        return ar.refs(prefix, width, self.offset[table], self.rank[table], local)

    def own(self, table: str, n: int) -> pa.Array:
        """Ids of a table's own rows, which are written in rank order."""
        prefix, width = ID_FORMAT[table]
        return ar.ids(prefix, self.offset[table] + np.arange(1, n + 1, dtype=np.int64), width)

    def advance(self) -> None:
        for table, rank in self.rank.items():
            self.offset[table] += len(rank)
        self.rank = {}


def _words(codes: IntArr, vocab: tuple[str, ...]) -> pa.Array:
    return ar.labels(codes % len(vocab), vocab)


def _month_days(months: IntArr) -> IntArr:
    """Day index of the first day of (possibly future) month indices."""
    first = (np.datetime64("2022-01", "M") + months).astype("datetime64[D]")
    return (first - np.datetime64("2022-01-01", "D")).astype(np.int64)


def _renewal_month(c: Chunk) -> IntArr:
    """Annual contracts: next anniversary after as_of, or the anniversary that lapsed; else -1."""
    s = c.state
    live = np.isnan(s.churned_at) & (s.contract_start >= 0)
    ahead = s.contract_start + 12 * np.maximum(-((s.contract_start - N_MONTHS) // 12), 1)
    month = np.where(live, ahead, s.churn_month)
    return np.where(c.acc.annual & (s.contract_start >= 0), month, -1)


def _accounts(c: Chunk, num: Numbering) -> pa.Table:
    a, churned = c.acc, c.state.churned_at
    name = ar.join(
        pa.array(np.where(a.is_test, "TEST ", ""), pa.string()),
        _words(a.name_a, NAME_A),
        " ",
        _words(a.name_b, NAME_B),
        " ",
        _words(a.name_b // 97, SUFFIX),
    )
    renewal = _renewal_month(c)
    touched = np.fmax(a.created, np.nan_to_num(churned, nan=-1.0)) + 1 + np.arange(a.n) % 29
    return ar.table("accounts", {
        "account_id": num.own("accounts", a.n),
        "name": name,
        "segment": ar.labels(a.seg, SEGMENTS),
        "plan": ar.labels(a.plan, PLANS),
        "region": ar.labels(a.region, REGIONS),
        "industry": ar.labels(a.industry, INDUSTRIES),
        "owner": ar.labels(a.owner, CSMS),
        "parent_account_id": num.ref("accounts", a.parent),
        "is_test": pa.array(a.is_test),
        "created_at": ar.timestamps(a.created),
        "churned_at": ar.timestamps(churned),
        "renewal_date": ar.dates(_month_days(np.maximum(renewal, 0)), renewal >= 0),
        "referred_by_account_id": num.ref("accounts", c.referred_by),
        "updated_at": ar.timestamps(np.minimum(touched, END - 0.01)),
        "employees": pa.array(a.employees),
        "csm_tier": ar.labels(a.seg, CSM_TIERS),
    })  # fmt: skip


def _aliases(c: Chunk, num: Numbering) -> pa.Table:
    n = c.acc.n
    number = num.offset["accounts"] + np.arange(n, dtype=np.int64) + 1
    billing = ar.ids("cus_", (number * 7919 + 104729) % 10**9, 9)
    helpdesk = ar.ids("", number * 3 + 1, 9)
    account = num.own("accounts", n)
    return ar.table("account_aliases", {
        "source": pa.array(["billing"] * n + ["helpdesk"] * n, pa.string()),
        "external_id": pa.concat_arrays([billing, helpdesk]),
        "account_id": pa.concat_arrays([account, account]),
    })  # fmt: skip


def _contact_touched(c: Chunk) -> np.ndarray:
    """A plausible CRM update time: the departure, else a year or so after the account signed."""
    touched = np.fmin(c.contacts.left, c.acc.created[c.contacts.account] + 400)
    return np.minimum(touched, END - 1)


def _contacts(c: Chunk, num: Numbering) -> pa.Table:
    k, a = c.contacts, c.acc
    first, last = _words(k.first, FIRST), _words(k.last, LAST)
    domain = ar.join(
        _words(a.name_a[k.account], NAME_A), "-", _words(a.name_b[k.account], NAME_B), ".example"
    )
    email = pa.compute.utf8_lower(ar.join(first, ".", last, "@", domain))
    titles = np.array([t for group in TITLES for t in group])
    title_start = np.cumsum([0] + [len(g) for g in TITLES])[:-1]
    title_len = np.array([len(g) for g in TITLES])
    title = titles[title_start[k.role] + k.first % title_len[k.role]]
    scope_names = ("review", "reference_call", "case_study", "logo", "referral", "survey")
    scope_text = [",".join(s for b, s in enumerate(scope_names) if m >> b & 1) for m in range(64)]
    return ar.table("contacts", {
        "contact_id": num.own("contacts", k.n),
        "account_id": num.ref("accounts", k.account),
        "email": email,
        "name": ar.join(first, " ", last),
        "title": pa.array(title, pa.string()),
        "role": ar.labels(k.role, ROLES),
        "advocacy_opt_out": pa.array(k.opt_out),
        "consent_scopes": ar.labels(k.scopes, scope_text),
        "left_at": ar.timestamps(np.where(k.left < END, k.left, np.inf)),
        "updated_at": ar.timestamps(_contact_touched(c)),
    })  # fmt: skip


def _revenue(c: Chunk, num: Numbering) -> pa.Table:
    account, month = np.nonzero(c.state.mrr_month > 0)
    return ar.table("revenue", {
        "account_id": num.ref("accounts", account),
        "month": ar.dates(MONTH_START[month]),
        "mrr": pa.array(c.state.mrr_month[account, month]),
    })  # fmt: skip


def _usage(c: Chunk, num: Numbering) -> pa.Table:
    u = c.all("usage")
    return ar.table("usage", {
        "account_id": num.ref("accounts", u["account"]),
        "week": ar.dates(u["week"]),
        "active_users": pa.array(u["active_users"].astype(np.int64)),
        "seats": pa.array(u["seats"]),
    })  # fmt: skip


def _responses(c: Chunk) -> Cols:
    """NPS and CSAT answers as one batch (survey 0 = nps, 1 = csat)."""
    nps, csat = c.all("nps"), c.all("csat")
    n, m = len(nps["at"]), len(csat["at"])
    return {
        "account": np.r_[nps["account"], csat["account"]],
        "contact": np.r_[nps["contact"], csat["contact"]],
        "survey": np.r_[np.zeros(n, np.int64), np.ones(m, np.int64)],
        "score": np.r_[nps["score"], csat["score"]],
        "at": np.r_[nps["at"], csat["at"]],
        "ticket": np.r_[np.full(n, -1, np.int64), csat["ticket"]],
        "ask": np.r_[nps["ask"], np.full(m, -1, np.int64)],
    }


def _comments(survey: IntArr, score: np.ndarray) -> IntArr:
    """A canned comment on some answers, chosen by score; deterministic from the row position."""
    spread = (np.arange(len(score), dtype=np.int64) * 2654435761) % 1000
    nps_bad, nps_good, csat_bad, csat_good = (3, 4, 5), (0, 1, 2, 6), (8, 9, 10), (7, 11)

    def pick(options: tuple[int, ...]) -> IntArr:
        return np.asarray(options)[spread % len(options)]

    bad = np.where(survey == 0, score <= 6, score <= 3)
    good = np.where(survey == 0, score >= 9, score >= 4)
    code = np.where(
        survey == 0,
        np.where(bad, pick(nps_bad), pick(nps_good)),
        np.where(bad, pick(csat_bad), pick(csat_good)),
    )
    says = np.where(bad, spread < 300, good & (spread < 150))
    return np.where(says, code, -1)


def _survey_responses(c: Chunk, num: Numbering, r: Cols) -> pa.Table:
    n = len(r["at"])
    survey = r["survey"]
    return ar.table("survey_responses", {
        "response_id": num.own("survey_responses", n),
        "account_id": num.ref("accounts", r["account"]),
        "contact_id": num.ref("contacts", r["contact"]),
        "survey": ar.labels(survey, ("nps", "csat")),
        "kind": ar.labels(survey, ("relationship", "transactional")),
        "score": pa.array(r["score"].astype(np.float64)),
        "scale_min": pa.array(np.where(survey == 0, 0.0, 1.0)),
        "scale_max": pa.array(np.where(survey == 0, 10.0, 5.0)),
        "comment": ar.labels(_comments(survey, r["score"]), NPS_COMMENTS + CSAT_COMMENTS),
        "responded_at": ar.timestamps(r["at"]),
        "ticket_id": num.ref("tickets", r["ticket"]),
        "ask_id": num.ref("asks", r["ask"]),
    })  # fmt: skip


def _tickets(num: Numbering, t: Cols) -> pa.Table:
    return ar.table("tickets", {
        "ticket_id": num.own("tickets", len(t["opened"])),
        "account_id": num.ref("accounts", t["account"]),
        "contact_id": num.ref("contacts", t["contact"]),
        "status": ar.labels(t["status"], STATUSES),
        "opened_at": ar.timestamps(t["opened"]),
        "first_response_at": ar.timestamps(t["first_response"]),
        "resolved_at": ar.timestamps(np.where(t["status"] >= 2, t["resolved"], np.nan)),
        "priority": ar.labels(t["priority"], PRIORITIES),
        "channel": ar.labels(t["channel"], CHANNELS),
        "resolved_by": ar.labels(np.where(t["status"] >= 2, t["ai"], -1), ("human", "ai")),
        "reopened": pa.array(t["reopened"].astype(np.int64)),
    })  # fmt: skip


def _milestones(num: Numbering, m: Cols) -> pa.Table:
    return ar.table("milestones", {
        "milestone_id": num.own("milestones", len(m["at"])),
        "account_id": num.ref("accounts", m["account"]),
        "milestone_type": ar.labels(m["type"], MILESTONE_TYPES),
        "occurred_at": ar.timestamps(m["at"]),
    })  # fmt: skip


def _asks(c: Chunk, num: Numbering, k: Cols) -> pa.Table:
    survey = k["type"] == SURVEY_ASK
    owner_code = np.where(
        survey, len(CSMS), np.where(k["team_owner"], len(CSMS) + 1, c.acc.owner[k["account"]])
    )
    return ar.table("asks", {
        "ask_id": num.own("asks", len(k["at"])),
        "account_id": num.ref("accounts", k["account"]),
        "contact_id": num.ref("contacts", k["contact"]),
        "ask_type": ar.labels(k["type"], ASK_TYPE_CODES),
        "asked_at": ar.timestamps(k["at"]),
        "trigger": ar.labels(k["trigger"], TRIGGERS),
        "milestone_id": num.ref("milestones", k["milestone"]),
        "owner": ar.labels(owner_code, (*CSMS, "cx_ops", "advocacy_team")),
        "channel": ar.labels(k["channel"], ASK_CHANNELS),
        "incentive_offered": pa.array(k["incentive"].astype(bool)),
        "expires_at": ar.timestamps(k["expires"]),
    })  # fmt: skip


def _actions(num: Numbering, x: Cols) -> pa.Table:
    n = len(x["at"])
    action_id = num.own("advocacy_actions", n)
    return ar.table("advocacy_actions", {
        "action_id": action_id,
        "account_id": num.ref("accounts", x["account"]),
        "contact_id": num.ref("contacts", x["contact"]),
        "action_type": ar.labels(x["type"], ACTION_TYPES),
        "occurred_at": ar.timestamps(x["at"]),
        "platform": ar.labels(x["platform"], PLATFORMS),
        "rating": ar.floats(x["rating"]),
        "sentiment": ar.floats(x["sentiment"]),
        "referred_account_id": num.ref("accounts", x["referred"]),
        "value": ar.floats(x["value"]),
        "url": ar.join(ar.labels(x["platform"], URL_PREFIX), action_id),
        "ask_id": num.ref("asks", x["ask"]),
        "incentivized": ar.bools(x["incentivized"]),
    })  # fmt: skip


NOTES = (
    "Too busy this quarter.",
    "Legal must approve first.",
    "Happy to help.",
    "Prefers a later date.",
)


def _outcomes(num: Numbering, o: Cols) -> pa.Table:
    spread = (o["ask"] * 40503 + o["seq"]) % 100
    note = np.where(
        o["status"] == ASK_STATUSES.index("declined"), np.where(spread < 40, spread % 2, -1), -1
    )
    note = np.where(
        (o["status"] == ASK_STATUSES.index("accepted")) & (spread < 10), 2 + spread % 2, note
    )
    return ar.table("ask_outcomes", {
        "ask_id": num.ref("asks", o["ask"]),
        "seq": pa.array(o["seq"].astype(np.int64)),
        "status": ar.labels(o["status"], ASK_STATUSES),
        "at": ar.timestamps(o["at"]),
        "action_id": num.ref("advocacy_actions", o["action"]),
        "note": ar.labels(note, NOTES),
    })  # fmt: skip


def _rewards(num: Numbering, w: Cols) -> pa.Table:
    return ar.table("rewards", {
        "reward_id": num.own("rewards", len(w["at"])),
        "account_id": num.ref("accounts", w["account"]),
        "contact_id": num.ref("contacts", w["contact"]),
        "reward_type": ar.labels(w["type"], REWARD_TYPES),
        "kind": ar.labels(w["kind"], REWARD_KINDS),
        "value": pa.array(w["value"].astype(np.float64)),
        "given_at": ar.timestamps(w["at"]),
        "action_id": num.ref("advocacy_actions", w["action"]),
    })  # fmt: skip


def _by_time(num: Numbering, table: str, cols: Cols, *keys: np.ndarray) -> Cols:
    """Sort a batch (by ``at`` unless keys are given) and record its rank for references."""
    order, rank = ar.order_rank(*(keys or (cols["at"],)))
    num.rank[table] = rank
    return {k: v[order] for k, v in cols.items()}


def chunk_tables(c: Chunk, num: Numbering) -> dict[str, pa.Table]:
    """All canonical tables of one chunk (product_changes excluded), in import order."""
    num.rank = {"accounts": np.arange(c.acc.n), "contacts": np.arange(c.contacts.n)}
    tickets = _by_time(num, "tickets", c.all("tickets"), c.all("tickets")["opened"])
    milestones = _by_time(num, "milestones", c.all("milestones"))
    asks = _by_time(num, "asks", c.all("asks"))
    responses = _by_time(num, "survey_responses", _responses(c))
    actions = _by_time(num, "advocacy_actions", c.all("actions"))
    rewards = _by_time(num, "rewards", c.all("rewards"))
    outcomes = c.all("outcomes")
    outcomes = {
        k: v[np.lexsort((outcomes["seq"], num.rank["asks"][outcomes["ask"]]))]
        for k, v in outcomes.items()
    }
    tables = {
        "accounts": _accounts(c, num),
        "account_aliases": _aliases(c, num),
        "contacts": _contacts(c, num),
        "revenue": _revenue(c, num),
        "usage": _usage(c, num),
        "milestones": _milestones(num, milestones),
        "tickets": _tickets(num, tickets),
        "asks": _asks(c, num, asks),
        "survey_responses": _survey_responses(c, num, responses),
        "advocacy_actions": _actions(num, actions),
        "ask_outcomes": _outcomes(num, outcomes),
        "rewards": _rewards(num, rewards),
    }
    num.advance()
    return tables


def product_changes_table(changes: tuple[ProductChange, ...]) -> pa.Table:
    """The release log (one small table for the whole company)."""
    released = [ch.released_at for ch in changes]
    rollout = [
        ch.released_at + timedelta(days=ch.rollout_days) if ch.rollout_days else None
        for ch in changes
    ]
    return ar.table("product_changes", {
        "change_id": pa.array([ch.change_id for ch in changes], pa.string()),
        "name": pa.array([ch.name for ch in changes], pa.string()),
        "released_at": pa.array(released, pa.timestamp("us")),
        "rollout_end": pa.array(rollout, pa.timestamp("us")),
        "area": pa.array([ch.area for ch in changes], pa.string()),
        "scope_dimension": pa.array([ch.scope_dimension for ch in changes], pa.string()),
        "scope_value": pa.array([ch.scope_value for ch in changes], pa.string()),
        "description": pa.array([ch.description for ch in changes], pa.string()),
    })  # fmt: skip
