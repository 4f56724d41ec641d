"""The metric catalogue of DESIGN §5, as data. Docs and `metrics --list` are generated from it."""

from __future__ import annotations

from advocacy.errors import UserError
from advocacy.metrics.spec import Basis, Direction, Family, Interval, MetricDef, Unit

R, L, A = Basis.RESPONSE, Basis.LOGO, Basis.ARR
UP, DOWN, FLAT = Direction.HIGHER, Direction.LOWER, Direction.NEUTRAL
ACTIVE = "active accounts (basis-weighted)"


def _rate(name: str, types: tuple[str, ...] | None, label: str) -> MetricDef:
    what = "counted action" if types is None else f"counted {' or '.join(types)} action"
    return MetricDef(
        name, Family.ACCOUNT_RATE,
        f"Share of active accounts with at least one {what} in the window ({label}).",
        f"active accounts with ≥ 1 {what}", ACTIVE, Unit.FRACTION, UP, (L, A), Interval.WILSON,
        (("action_types", types),),
    )  # fmt: skip


def _count(name: str, types: tuple[str, ...] | None, counted: bool, what: str) -> MetricDef:
    return MetricDef(
        name, Family.EVENT_COUNT, f"Number of {what} in the window.", what, "—", Unit.COUNT,
        UP, (Basis.RESPONSE,), Interval.POISSON, (("action_types", types), ("counted", counted)),
    )  # fmt: skip


_SHARE = "NPS responses in the window"

CATALOG: tuple[MetricDef, ...] = (
    MetricDef("nps", Family.NPS, "Net Promoter Score: % promoters (9–10) minus % detractors (0–6).",
              "promoters − detractors (value = 100 × numerator ÷ denominator)", _SHARE, Unit.POINTS, UP, (R, L, A), Interval.NPS),
    MetricDef("promoter_share", Family.SURVEY_SHARE, "Share of NPS responses scoring 9–10.",
              "promoter responses", _SHARE, Unit.FRACTION, UP, (R, L, A), Interval.WILSON_CLUSTER,
              (("survey", "nps"), ("band", "promoter"))),
    MetricDef("passive_share", Family.SURVEY_SHARE, "Share of NPS responses scoring 7–8.",
              "passive responses", _SHARE, Unit.FRACTION, FLAT, (R, L, A), Interval.WILSON_CLUSTER,
              (("survey", "nps"), ("band", "passive"))),
    MetricDef("detractor_share", Family.SURVEY_SHARE, "Share of NPS responses scoring 0–6.",
              "detractor responses", _SHARE, Unit.FRACTION, DOWN, (R, L, A), Interval.WILSON_CLUSTER,
              (("survey", "nps"), ("band", "detractor"))),
    MetricDef("nps_coverage", Family.COVERAGE, "Share of active accounts with at least one NPS response in the window.",
              "active accounts with ≥ 1 NPS response", "active accounts", Unit.FRACTION, UP, (L,), Interval.WILSON),
    MetricDef("csat", Family.SURVEY_SHARE, "Share of CSAT responses that are satisfied (csat.satisfied: top2 or top1).",
              "satisfied CSAT responses", "CSAT responses in the window", Unit.FRACTION, UP, (R, L, A),
              Interval.WILSON_CLUSTER, (("survey", "csat"), ("band", "satisfied"))),
    MetricDef("csat_mean", Family.SURVEY_MEAN, "Mean CSAT score on its native scale (normalised 0–1 when scales differ).",
              "Σ CSAT scores", "CSAT responses in the window", Unit.RATIO, UP, (R,), Interval.T_CLUSTER,
              (("survey", "csat"),)),
    _rate("advocacy_rate", None, "the headline"),
    _rate("referral_rate", ("referral",), "referrals"),
    _rate("case_study_rate", ("case_study",), "case studies"),
    _rate("community_rate", ("community_post",), "community"),
    _rate("review_rate", ("review",), "reviews"),
    _count("advocacy_actions", None, True, "counted advocacy actions"),
    _count("referrals", ("referral",), False, "referral actions (all)"),
    _count("reviews", ("review",), False, "reviews (all ratings)"),
    _count("social_mentions", ("social_mention",), False, "social mentions (any sentiment)"),
    MetricDef("review_rating", Family.EVENT_MEAN, "Mean rating (1–5) of reviews in the window.",
              "Σ review ratings", "rated reviews in the window", Unit.RATIO, UP, (R,), Interval.T),
    MetricDef("new_logos", Family.NEW_LOGOS, "Accounts whose first month with MRR > 0 is in the period (created_at where no revenue).",
              "new accounts", "—", Unit.COUNT, UP, (L,), Interval.NONE, (("part", "count"),)),
    MetricDef("referred_new_logo_share", Family.NEW_LOGOS, "Share of new logos that were referred.",
              "referred new logos", "new logos", Unit.FRACTION, UP, (L,), Interval.WILSON, (("part", "referred_share"),)),
    MetricDef("referral_new_arr", Family.NEW_LOGOS, "Σ 12 × MRR of the first paid month of referred new logos, grouped by the referrer.",
              "ARR of referred new logos", "—", Unit.CURRENCY, UP, (A,), Interval.NONE, (("part", "referral_arr"),)),
    MetricDef("referral_conversion_rate", Family.REFERRAL, "Share of referrals whose referred account starts paying within the conversion window.",
              "converted referrals", "referrals with a closed window", Unit.FRACTION, UP, (R,), Interval.WILSON,
              (("window_days", 180),)),
    MetricDef("say_do_gap", Family.SAY_DO, "Share of promoter responses with no counted action by that account within 90 days.",
              "promoters who did not act", "promoter responses with a closed window", Unit.FRACTION, DOWN, (R,),
              Interval.WILSON_CLUSTER, (("days", 90),)),
    MetricDef("ask_acceptance_rate", Family.ASKS, "Share of settled asks that were accepted or completed.",
              "accepted or completed asks", "settled asks", Unit.FRACTION, UP, (R,), Interval.WILSON, (("part", "accepted"),)),
    MetricDef("ask_completion_rate", Family.ASKS, "Share of settled asks that were completed.",
              "completed asks", "settled asks", Unit.FRACTION, UP, (R,), Interval.WILSON, (("part", "completed"),)),
    MetricDef("asks_per_advocate", Family.ASKS, "Advocacy asks with a contact per distinct contact asked.",
              "advocacy asks with a contact", "distinct contacts asked", Unit.RATIO, DOWN, (R,), Interval.NONE,
              (("part", "per_contact"),)),
    MetricDef("over_asked_contacts", Family.ASKS, "Contacts whose rolling 90-day window overlapping the period held more advocacy asks than the cap.",
              "over-asked contacts", "—", Unit.COUNT, DOWN, (R,), Interval.NONE, (("part", "over_asked"),)),
    MetricDef("advocate_concentration", Family.CONCENTRATION, "Share of counted actions by the top 10% of advocate accounts (extra.gini).",
              "counted actions of the top ⌈10%⌉ advocates", "counted actions", Unit.FRACTION, FLAT, (R,), Interval.NONE),
    MetricDef("grr", Family.RETENTION, "Gross revenue retention: Σ min(MRR_end, MRR_start) ÷ Σ MRR_start over the starting base.",
              "Σ min(MRR_end, MRR_start)", "Σ MRR_start", Unit.RATIO, UP, (A,), Interval.DELTA, (("part", "grr"),)),
    MetricDef("nrr", Family.RETENTION, "Net revenue retention: Σ MRR_end ÷ Σ MRR_start over the starting base.",
              "Σ MRR_end", "Σ MRR_start", Unit.RATIO, UP, (A,), Interval.DELTA, (("part", "nrr"),)),
    MetricDef("logo_retention", Family.RETENTION, "Share of the starting base still paying at the end.",
              "retained accounts", "starting base", Unit.FRACTION, UP, (L,), Interval.WILSON, (("part", "logo"),)),
    MetricDef("mrr_bridge", Family.BRIDGE, "End MRR with its bridge from the start month: new, reactivation, expansion, contraction, churn.",
              "end MRR", "—", Unit.CURRENCY, UP, (A,), Interval.NONE),
    MetricDef("first_response_hours", Family.TICKET_MEDIAN, "Median hours to first response of tickets opened in the period.",
              "median hours", "tickets with a first response", Unit.HOURS, DOWN, (R,), Interval.ORDER_STATISTIC,
              (("column", "first_response_at"),)),
    MetricDef("resolution_hours", Family.TICKET_MEDIAN, "Median hours to resolution of tickets opened in the period.",
              "median hours", "resolved tickets", Unit.HOURS, DOWN, (R,), Interval.ORDER_STATISTIC,
              (("column", "resolved_at"),)),
    MetricDef("reward_cost", Family.REWARDS, "Σ reward value given in the period.",
              "Σ reward value", "—", Unit.CURRENCY, FLAT, (R,), Interval.NONE, (("part", "cost"),)),
    MetricDef("monetary_reward_share", Family.REWARDS, "Share of rewards (by count) that were monetary.",
              "monetary rewards", "rewards", Unit.FRACTION, DOWN, (R,), Interval.WILSON, (("part", "monetary_share"),)),
)  # fmt: skip

BY_NAME: dict[str, MetricDef] = {m.name: m for m in CATALOG}


def get_metric(name: str, extra: dict[str, MetricDef] | None = None) -> MetricDef:
    found = (extra or {}).get(name) or BY_NAME.get(name)
    if found is None:
        raise UserError(f"unknown metric '{name}'; `advocacy metrics --list` shows them all")
    return found
