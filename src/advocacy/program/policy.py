"""The ask policy of DESIGN §7 as one vectorised Ibis expression over many requests.

`blocking(source, policy, requests)` returns one row per (request, rule) that blocks it, with the
first moment the rule stops blocking. It is the single definition used by `advocacy asks create`
(compiled to SQL and run inside the creating transaction), by candidates and by recommend.

Day counts are local calendar days of the business time zone: an ask on local day d blocks a
rule of N days on days d … d+N−1 and lets go at the local midnight that starts day d+N (so with
30 days, day 29 is refused and day 30 allowed). Responses, tickets and asks count from their
instant on, so a request dated in the past is judged as it would have been then. Recording an ask
(`later_asks=True`) also counts asks dated after it (a backdated or future-dated creation): they
block it within the spacing, and the rolling cap holds in every window of local days that
contains the new ask, so recording asks out of time order cannot build a history the policy
would refuse. Candidates judge what was known at their as_of and leave later asks out.

Decisions of this module, recorded in `Policy.as_dict()`:
- withdrawn asks count (`count_withdrawn`): the customer was contacted all the same;
- survey invitations are outside the blackouts (`blackouts_apply_to_surveys`): suppressing
  surveys after a detractor answer or during an urgent ticket would bias the metrics upward;
- an advocacy opt-out also stops survey invitations (`opt_out_covers_surveys`);
- a non-null `consent_scopes` allows exactly the ask types it lists;
- an ask naming only an account meets the account rules (spacing, blackouts) only;
- an urgent ticket whose status is open or pending blocks from its opening on, whatever its
  resolved_at says: a reopened ticket keeps the earlier resolution, and when it was reopened is not
  recorded, so the time between that resolution and the reopening counts as open too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import ibis
from ibis import _

from advocacy.config import Settings
from advocacy.errors import UserError
from advocacy.metrics.source import Source
from advocacy.program.localdays import LocalDays, backend_of

SURVEY = "survey"


@dataclass(frozen=True)
class Policy:
    """Knobs of `[policy]` in advocacy.toml; the defaults are DESIGN §7."""

    advocacy_cap: int = 1
    advocacy_window_days: int = 90
    contact_spacing_days: int = 30
    account_spacing_days: int = 14
    survey_cap: int = 1
    survey_window_days: int = 30
    detractor_blackout_days: int = 30
    urgent_ticket_blackout: bool = True
    renewal_before_days: int = 60
    renewal_after_cap_days: int = 45
    blackouts_apply_to_surveys: bool = False
    opt_out_covers_surveys: bool = True
    count_withdrawn: bool = True
    ask_expiry_days: int = 30
    monetary_share_warning: float = 0.5
    monetary_share_days: int = 90
    incentive_reward_days: int = 30
    timezone: str = "UTC"

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        """The workspace's policy; unknown or mistyped `[policy]` keys are a user error."""
        raw = dict(settings.policy)
        known = {f.name: f for f in fields(cls) if f.name != "timezone"}
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise UserError(f"unknown setting(s) in [policy]: {', '.join(unknown)}")
        values: dict[str, Any] = {"timezone": settings.calendar.timezone}
        for name, value in raw.items():
            values[name] = _checked(name, value, type(getattr(cls(), name)))
        policy = cls(**values)
        if policy.advocacy_cap < 1 or policy.survey_cap < 1:
            raise UserError("policy.advocacy_cap and policy.survey_cap must be at least 1")
        return policy

    def as_dict(self) -> dict[str, Any]:
        """The policy as recorded with each decision."""
        return asdict(self)


def _checked(name: str, value: Any, kind: type) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise UserError(f"policy.{name} must be true or false")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise UserError(f"policy.{name} must be a whole number ≥ 0")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise UserError(f"policy.{name} must be a number between 0 and 1")
    return float(value)


RULES: dict[str, str] = {
    "opt_out": "the contact opted out of advocacy",
    "consent_scope": "the contact's consent scopes exclude this ask type",
    "departed": "the contact has left the account",
    "advocacy_cap": "advocacy asks to the contact in the rolling window",
    "contact_spacing": "days between advocacy asks to a contact",
    "account_spacing": "days between advocacy asks to an account",
    "survey_cap": "survey invitations to the contact in the window",
    "detractor": "a detractor response at the account",
    "urgent_ticket": "an urgent ticket of the account is open",
    "renewal_window": "the account's renewal window",
}


def blocking(source: Source, policy: Policy, requests: Any, *, later_asks: bool = False) -> Any:
    """Rows (request_id, rule, detail, eligible_from) of the rules blocking each request.

    `later_asks` counts asks dated after the request too (see the module docstring).

    `requests` has request_id, account_id, contact_id (nullable), ask_type and at (naive UTC).
    No row for a request means it is allowed. `eligible_from` is the first instant the rule no
    longer blocks (naive UTC), null when it never lapses by itself (opt-out, scope, departure,
    an urgent ticket not yet resolved).
    """
    req = requests.select("request_id", "account_id", "contact_id", "ask_type", "at")
    req = req.mutate(
        is_survey=req.ask_type == SURVEY,
        blackout=ibis.literal(True)
        if policy.blackouts_apply_to_surveys
        else req.ask_type != SURVEY,
    )
    ld = LocalDays(policy.timezone, backend_of(source.con))
    parts = [
        *_consent(source, policy, ld, req),
        *_ask_rules(source, policy, ld, req, later_asks),
        *_blackouts(source, policy, ld, req),
    ]
    return ibis.union(*parts, distinct=False)


def _row(table: Any, rule: str, detail: Any, eligible_from: Any) -> Any:
    return table.select(
        request_id=table.request_id,
        rule=ibis.literal(rule),
        detail=detail.cast("string"),
        eligible_from=eligible_from.cast("timestamp"),
    )


def _never() -> Any:
    return ibis.null("timestamp")


def _consent(source: Source, policy: Policy, ld: LocalDays, req: Any) -> list[Any]:
    contacts = source.table("contacts").select(
        c_id=_.contact_id, opt_out=_.advocacy_opt_out, scopes=_.consent_scopes, left_at=_.left_at
    )
    j = req.join(contacts, req.contact_id == contacts.c_id)
    opted = j.opt_out.fill_null(False) & (
        ~j.is_survey | ibis.literal(policy.opt_out_covers_surveys)
    )
    listed = (ibis.literal(",") + j.scopes + ",").contains(ibis.literal(",") + j.ask_type + ",")
    return [
        _row(
            j.filter(opted), "opt_out", ibis.literal("the contact opted out of advocacy"), _never()
        ),
        _row(
            j.filter(j.scopes.notnull() & ~listed),
            "consent_scope",
            ibis.literal("consent covers only: ") + j.scopes,
            _never(),
        ),
        _row(
            j.filter(j.left_at.notnull() & (j.left_at <= j.at)),
            "departed",
            ibis.literal("the contact left on ") + ld.date(j.left_at).cast("string"),
            _never(),
        ),
    ]


def _asks(source: Source, policy: Policy) -> Any:
    """Asks with the local date they were made on (and, if they do not count, their withdrawal)."""
    asks = source.table("asks").select(
        e_ask_id=_.ask_id, e_account_id=_.account_id, e_contact_id=_.contact_id,
        e_type=_.ask_type, e_at=_.asked_at,
    )  # fmt: skip
    asks = asks.mutate(e_withdrawn=ibis.null("timestamp"))
    if not policy.count_withdrawn:
        outcomes = source.table("ask_outcomes")
        withdrawn = (
            outcomes.filter(outcomes.status == "withdrawn")
            .group_by(w_ask_id=outcomes.ask_id)
            .agg(w_at=outcomes.at.min())
        )
        asks = asks.left_join(withdrawn, asks.e_ask_id == withdrawn.w_ask_id)
        asks = asks.mutate(e_withdrawn=asks.w_at).drop("w_ask_id", "w_at")
    return asks


def _ask_rules(source: Source, policy: Policy, ld: LocalDays, req: Any, later: bool) -> list[Any]:
    asks = _asks(source, policy)
    advocacy = asks.filter(asks.e_type != SURVEY)
    surveys = asks.filter(asks.e_type == SURVEY)
    adv_req = req.filter(~req.is_survey)
    contact_req = adv_req.filter(adv_req.contact_id.notnull())
    survey_req = req.filter(req.is_survey & req.contact_id.notnull())
    last = "last advocacy ask "
    return [
        _capped(contact_req, _until(advocacy, ld, policy.advocacy_window_days), "contact",
                policy.advocacy_cap, "advocacy_cap",
                f" advocacy ask(s) to the contact in {policy.advocacy_window_days} days; oldest counted: ",
                ld, policy.advocacy_window_days, later),
        _latest(contact_req, _until(advocacy, ld, policy.contact_spacing_days), "contact",
                "contact_spacing", f"{last}to the contact: ", policy.contact_spacing_days, later),
        _latest(adv_req, _until(advocacy, ld, policy.account_spacing_days), "account",
                "account_spacing", f"{last}to the account: ", policy.account_spacing_days, later),
        _capped(survey_req, _until(surveys, ld, policy.survey_window_days), "contact",
                policy.survey_cap, "survey_cap",
                f" survey invitation(s) to the contact in {policy.survey_window_days} days; oldest counted: ",
                ld, policy.survey_window_days, later),
    ]  # fmt: skip


def _until(asks: Any, ld: LocalDays, days: int) -> Any:
    """Each ask with the local day it was made, when that day starts, when its `days`-day block
    ends, and the earliest local midnight from which a request is fewer than `days` days before it."""
    return asks.mutate(
        e_start=ld.day_start(asks.e_at, 0),
        e_until=ld.day_start(asks.e_at, days),
        e_from=ld.day_start(asks.e_at, 1 - days),
        e_day=ld.date(asks.e_at).cast("string"),
    )


def _near(req: Any, asks: Any, by: str, later: bool) -> Any:
    """Each request joined to the asks (same contact or account) fewer than the rule's days away
    in local days, before it (and, with `later`, after it), that still count at its instant."""
    key = (
        req.contact_id == asks.e_contact_id
        if by == "contact"
        else req.account_id == asks.e_account_id
    )
    live = asks.e_withdrawn.isnull() | (asks.e_withdrawn > req.at)
    since = asks.e_from <= req.at if later else asks.e_at <= req.at
    return req.join(asks, [key, since, req.at < asks.e_until, live])


def _capped(
    req: Any, asks: Any, by: str, cap: int, rule: str, text: str, ld: LocalDays, days: int,
    later: bool,
) -> Any:  # fmt: skip
    """Blocked when the request would put more than `cap` asks in some `days`-day window holding it.

    With earlier asks only (always without `later`) that is `cap` or more of them in the window
    ending on the request's day, free once the oldest surplus one leaves. With later asks too, the
    windows starting on each earlier ask's day and on the request's own day are counted (a window
    holding the most asks can always start on one of these days); the rule then lifts once the
    last of these asks has left the window.
    """
    j = _near(req, asks, by, later)
    if not later:
        return _capped_earlier(j, cap, rule, text)
    j = j.mutate(has_later=(j.e_at > j.at).any().over(ibis.window(group_by=j.request_id)))
    earlier = _capped_earlier(j.filter(~j.has_later), cap, rule, text)
    mixed = j.filter(j.has_later)
    starts = ibis.union(
        mixed.filter(mixed.e_start <= mixed.at).select("request_id", w_start=_.e_start,
                                                       w_end=_.e_until),
        mixed.select("request_id", w_start=ld.day_start(mixed.at, 0),
                     w_end=ld.day_start(mixed.at, days)),
        distinct=True,
    )  # fmt: skip
    inner = mixed.select(i_request=_.request_id, i_at=_.e_at)
    counts = (
        starts.join(inner, [starts.request_id == inner.i_request, inner.i_at >= starts.w_start,
                            inner.i_at < starts.w_end])
        .group_by("request_id", "w_start")
        .agg(c=_.i_at.count())
        .group_by("request_id")
        .agg(m=_.c.max())
    )  # fmt: skip
    ordered = ibis.window(
        group_by=mixed.request_id, order_by=[ibis.desc(mixed.e_at), ibis.desc(mixed.e_ask_id)]
    )
    latest = mixed.mutate(k=ibis.row_number().over(ordered)).filter(_.k == 0)
    latest = latest.join(counts, "request_id").filter(_.m >= cap)
    later_text = text.replace("; oldest counted: ", " around the ask; latest: ")
    detail = (
        latest.m.cast("string") + ibis.literal(later_text) + latest.e_type + " on " + latest.e_day
    )
    mixed_rows = _row(latest, rule, detail, latest.e_until)
    return ibis.union(earlier, mixed_rows, distinct=False)


def _capped_earlier(j: Any, cap: int, rule: str, text: str) -> Any:
    """Blocked while `cap` or more asks sit in the window; free once the oldest surplus one leaves."""
    w = ibis.window(group_by=j.request_id)
    ordered = ibis.window(group_by=j.request_id, order_by=[j.e_at, j.e_ask_id])
    j = j.mutate(n=j.e_ask_id.count().over(w), k=ibis.row_number().over(ordered))
    j = j.filter((j.n >= cap) & (j.k == j.n - cap))
    detail = j.n.cast("string") + ibis.literal(text) + j.e_type + " on " + j.e_day
    return _row(j, rule, detail, j.e_until)


def _latest(req: Any, asks: Any, by: str, rule: str, text: str, days: int, later: bool) -> Any:
    """Blocked until `days` local days after the latest ask fewer than `days` days away."""
    j = _near(req, asks, by, later)
    ordered = ibis.window(
        group_by=j.request_id, order_by=[ibis.desc(j.e_at), ibis.desc(j.e_ask_id)]
    )
    j = j.mutate(k=ibis.row_number().over(ordered)).filter(_.k == 0)
    detail = ibis.literal(text) + j.e_type + " on " + j.e_day + f"; {days} days must pass"
    return _row(j, rule, detail, j.e_until)


def _blackouts(source: Source, policy: Policy, ld: LocalDays, req: Any) -> list[Any]:
    req = req.filter(req.blackout)
    parts = [_detractor(source, policy, ld, req), _renewal(source, policy, ld, req)]
    if policy.urgent_ticket_blackout:
        parts.append(_urgent(source, req))
    return parts


def _detractor(source: Source, policy: Policy, ld: LocalDays, req: Any) -> Any:
    r = source.table("survey_responses")
    r = r.filter((r.survey == "nps") & (r.score <= 6)).select(
        r_account=r.account_id, r_id=r.response_id, r_at=r.responded_at, r_score=r.score
    )
    r = r.mutate(
        r_until=ld.day_start(r.r_at, policy.detractor_blackout_days),
        r_day=ld.date(r.r_at).cast("string"),
    )
    j = req.join(r, [req.account_id == r.r_account, r.r_at <= req.at, req.at < r.r_until])
    ordered = ibis.window(group_by=j.request_id, order_by=[ibis.desc(j.r_at), ibis.desc(j.r_id)])
    j = j.mutate(k=ibis.row_number().over(ordered)).filter(_.k == 0)
    detail = "NPS " + j.r_score.cast("int64").cast("string") + " from the account on " + j.r_day
    return _row(j, "detractor", detail, j.r_until)


def _urgent(source: Source, req: Any) -> Any:
    t = source.table("tickets")
    t = t.filter(t.priority == "urgent").select(
        t_account=t.account_id, t_id=t.ticket_id, t_opened=t.opened_at,
        t_resolved=t.resolved_at, t_status=t.status,
    )  # fmt: skip
    done = t.t_status.isin(["solved", "closed"]).fill_null(False)
    is_open = t.t_status.isin(["open", "pending"]).fill_null(False)
    t = t.mutate(t_open=is_open, t_done=done)
    j = req.join(t, [req.account_id == t.t_account, t.t_opened <= req.at])
    j = j.filter(j.t_open | (j.t_resolved > j.at) | (j.t_resolved.isnull() & ~j.t_done))
    g = j.group_by("request_id").agg(
        n=_.t_id.count(),
        first=_.t_id.min(),
        unresolved=(_.t_resolved.isnull() | _.t_open).ifelse(1, 0).sum(),
        until=_.t_resolved.max(),
    )
    detail = g.n.cast("string") + " urgent ticket(s) open, e.g. " + g.first
    until = (g.unresolved > 0).ifelse(_never(), g.until)
    return _row(g, "urgent_ticket", detail, until)


def _renewal(source: Source, policy: Policy, ld: LocalDays, req: Any) -> Any:
    """[renewal_date − 60 days, R): R = first renewal milestone from the window start, capped."""
    a = source.table("accounts")
    a = a.filter(a.renewal_date.notnull()).select(
        n_account=a.account_id, n_date=a.renewal_date,
        n_start=ld.date_start(a.renewal_date, -policy.renewal_before_days),
        n_cap=ld.date_start(a.renewal_date, policy.renewal_after_cap_days),
    )  # fmt: skip
    m = source.table("milestones")
    m = m.filter(m.milestone_type == "renewal").select(m_account=m.account_id, m_at=m.occurred_at)
    first = (
        a.left_join(m, [a.n_account == m.m_account, m.m_at >= a.n_start])
        .group_by("n_account", "n_date", "n_start", "n_cap")
        .agg(m_first=_.m_at.min())
    )
    end = (first.m_first.isnull() | (first.m_first > first.n_cap)).ifelse(
        first.n_cap, first.m_first
    )
    win = first.mutate(n_end=end)
    j = req.join(win, [req.account_id == win.n_account, win.n_start <= req.at, req.at < win.n_end])
    detail = "renewal on " + j.n_date.cast("string") + ": no asks until the renewal is recorded"
    return _row(j, "renewal_window", detail, j.n_end)
