"""Specs of the canonical tables; DDL, validation and docs are all derived from these."""

from __future__ import annotations

from dataclasses import dataclass, field

from advocacy.errors import UserError
from advocacy.schema.vocab import (
    ASK_TYPES,
    ActionType,
    AskStatus,
    ColType,
    ConsentScope,
    MilestoneType,
    Priority,
    ResolvedBy,
    RewardKind,
    Survey,
    SurveyKind,
    TableKind,
    TicketStatus,
)

S, TS, D, F, INT, B = (
    ColType.STRING,
    ColType.TIMESTAMP,
    ColType.DATE,
    ColType.FLOAT,
    ColType.INT,
    ColType.BOOL,
)


@dataclass(frozen=True)
class Column:
    """One canonical column.

    ``vocab`` closes the set of values (compared after lower/trim); ``minimum``/``maximum`` bound
    numbers; ``account_ref`` marks ids resolved through ``account_aliases``; ``personal`` marks
    fields blanked by erasure; ``future_days`` is how far ahead of the import a timestamp may lie.
    """

    name: str
    type: ColType
    required: bool = False
    default: str | None = None
    vocab: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    account_ref: bool = False
    personal: bool = False
    future_days: int = 1
    multi: bool = False
    description: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    kind: TableKind
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    description: str = ""
    # Columns whose change on a mutable fact is a conflict rather than an update.
    identity: tuple[str, ...] = ()
    extensible: bool = False
    column_map: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "column_map", {c.name: c for c in self.columns})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required and c.default is None)

    def column(self, name: str) -> Column:
        return self.column_map[name]


def _vals(enum: type) -> tuple[str, ...]:
    return tuple(m.value for m in enum)  # type: ignore[attr-defined]


ACCOUNTS = Table(
    "accounts",
    TableKind.ENTITY,
    ("account_id",),
    (
        Column("account_id", S, required=True),
        Column("name", S),
        Column("segment", S),
        Column("plan", S),
        Column("region", S),
        Column("industry", S),
        Column("owner", S),
        Column("parent_account_id", S, account_ref=True),
        Column("is_test", B, default="false"),
        Column("created_at", TS, required=True),
        Column("churned_at", TS),
        Column("renewal_date", D, future_days=3653),
        Column("referred_by_account_id", S, account_ref=True),
        Column("updated_at", TS),
    ),
    "Customer companies. Extra columns are kept (snake-cased) and usable as dimensions.",
    extensible=True,
)

ACCOUNT_ALIASES = Table(
    "account_aliases",
    TableKind.ENTITY,
    ("source", "external_id"),
    (
        Column("source", S, required=True),
        Column("external_id", S, required=True),
        Column("account_id", S, required=True),
    ),
    "Crosswalk of the ids the CRM, billing and help desk each use for one account.",
)

CONTACTS = Table(
    "contacts",
    TableKind.ENTITY,
    ("contact_id",),
    (
        Column("contact_id", S, required=True),
        Column("account_id", S, required=True, account_ref=True),
        Column("email", S, personal=True),
        Column("name", S, personal=True),
        Column("title", S, personal=True),
        Column("role", S),
        Column("advocacy_opt_out", B, default="false"),
        Column("consent_scopes", S, vocab=_vals(ConsentScope), multi=True),
        Column("left_at", TS),
        Column("updated_at", TS),
    ),
    "People at customer accounts; consent_scopes null means every scope.",
)

REVENUE = Table(
    "revenue",
    TableKind.MUTABLE_FACT,
    ("account_id", "month"),
    (
        Column("account_id", S, required=True, account_ref=True),
        Column("month", D, required=True, future_days=366),
        Column("mrr", F, required=True, minimum=0),
    ),
    "Monthly recurring revenue per account (month = first day of the month).",
)

SURVEY_RESPONSES = Table(
    "survey_responses",
    TableKind.IMMUTABLE_FACT,
    ("response_id",),
    (
        Column("response_id", S, required=True),
        Column("account_id", S, required=True, account_ref=True),
        Column("contact_id", S),
        Column("survey", S, required=True, vocab=_vals(Survey)),
        Column("kind", S, vocab=_vals(SurveyKind)),
        Column("score", F, required=True),
        Column("scale_min", F),
        Column("scale_max", F),
        Column("comment", S, personal=True),
        Column("responded_at", TS, required=True),
        Column("ticket_id", S),
        Column("ask_id", S),
    ),
    "NPS, CSAT and CES answers; scales default to 0–10, 1–5 and 1–7.",
)

TICKETS = Table(
    "tickets",
    TableKind.MUTABLE_FACT,
    ("ticket_id",),
    (
        Column("ticket_id", S, required=True),
        Column("account_id", S, required=True, account_ref=True),
        Column("contact_id", S),
        Column("status", S, vocab=_vals(TicketStatus)),
        Column("opened_at", TS, required=True),
        Column("first_response_at", TS),
        Column("resolved_at", TS),
        Column("priority", S, vocab=_vals(Priority)),
        Column("channel", S),
        Column("resolved_by", S, vocab=_vals(ResolvedBy)),
        Column("reopened", INT, default="0", minimum=0),
    ),
    "Support tickets; resolved_at is the last resolution.",
    identity=("account_id", "opened_at"),
)

ADVOCACY_ACTIONS = Table(
    "advocacy_actions",
    TableKind.IMMUTABLE_FACT,
    ("action_id",),
    (
        Column("action_id", S, required=True),
        Column("account_id", S, required=True, account_ref=True),
        Column("contact_id", S),
        Column("action_type", S, required=True, vocab=_vals(ActionType)),
        Column("occurred_at", TS, required=True),
        Column("platform", S),
        Column("rating", F, minimum=1, maximum=5),
        Column("sentiment", F, minimum=-1, maximum=1),
        Column("referred_account_id", S, account_ref=True),
        Column("value", F, minimum=0),
        Column("url", S),
        Column("ask_id", S),
        Column("incentivized", B),
    ),
    "Referrals, reviews, case studies, community posts, social mentions and other advocacy.",
)

USAGE = Table(
    "usage",
    TableKind.MUTABLE_FACT,
    ("account_id", "week"),
    (
        Column("account_id", S, required=True, account_ref=True),
        Column("week", D, required=True),
        Column("active_users", INT, required=True, minimum=0),
        Column("seats", INT, minimum=0),
    ),
    "Weekly active users per account (week = its Monday).",
)

MILESTONES = Table(
    "milestones",
    TableKind.IMMUTABLE_FACT,
    ("milestone_id",),
    (
        Column("milestone_id", S, required=True),
        Column("account_id", S, required=True, account_ref=True),
        Column("milestone_type", S, required=True, vocab=_vals(MilestoneType)),
        Column("occurred_at", TS, required=True),
    ),
    "Success moments: onboarding, go-live, renewal, expansion, QBR, support resolution.",
)

PRODUCT_CHANGES = Table(
    "product_changes",
    TableKind.ENTITY,
    ("change_id",),
    (
        Column("change_id", S, required=True),
        Column("name", S, required=True),
        Column("released_at", TS, required=True, future_days=366),
        Column("rollout_end", TS, future_days=366),
        Column("area", S),
        Column("scope_dimension", S),
        Column("scope_value", S),
        Column("description", S),
    ),
    "Releases and changes whose effect on advocacy is watched.",
)

ASKS = Table(
    "asks",
    TableKind.LEDGER,
    ("ask_id",),
    (
        Column("ask_id", S, required=True),
        Column("account_id", S, required=True, account_ref=True),
        Column("contact_id", S),
        Column("ask_type", S, required=True, vocab=ASK_TYPES),
        Column("asked_at", TS, required=True),
        Column("trigger", S),
        Column("milestone_id", S),
        Column("owner", S),
        Column("channel", S),
        Column("incentive_offered", B, default="false"),
        Column("expires_at", TS, future_days=3653),
    ),
    "Every ask of a customer: advocacy asks and survey invitations.",
)

ASK_OUTCOMES = Table(
    "ask_outcomes",
    TableKind.LEDGER,
    ("ask_id", "seq"),
    (
        Column("ask_id", S, required=True),
        Column("seq", INT, required=True, minimum=1),
        Column("status", S, required=True, vocab=_vals(AskStatus)),
        Column("at", TS, required=True),
        Column("action_id", S),
        Column("note", S, personal=True),
    ),
    "Append-only outcomes of asks, numbered per ask.",
)

REWARDS = Table(
    "rewards",
    TableKind.LEDGER,
    ("reward_id",),
    (
        Column("reward_id", S, required=True),
        Column("account_id", S, required=True, account_ref=True),
        Column("contact_id", S),
        Column("reward_type", S, required=True),
        Column("kind", S, required=True, vocab=_vals(RewardKind)),
        Column("value", F, default="0", minimum=0),
        Column("given_at", TS, required=True),
        Column("action_id", S),
    ),
    "Rewards given to advocates: visibility, access or money.",
)

TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        ACCOUNTS,
        ACCOUNT_ALIASES,
        CONTACTS,
        REVENUE,
        SURVEY_RESPONSES,
        TICKETS,
        ADVOCACY_ACTIONS,
        USAGE,
        MILESTONES,
        PRODUCT_CHANGES,
        ASKS,
        ASK_OUTCOMES,
        REWARDS,
    )
}

# Names an extra account column may not take: they are fields of result rows (DESIGN §4).
RESERVED_RESULT_FIELDS = frozenset(
    {
        "metric", "period_start", "period_end", "period_label", "value", "numerator",
        "denominator", "n", "ci_low", "ci_high", "basis", "low_n", "pending_n", "partial",
        "as_of", "fingerprint", "extra", "delta", "delta_ci_low", "delta_ci_high", "p_value",
        "q_value", "dimension", "cohort", "group", "band",
    }
)  # fmt: skip

SCALE_DEFAULTS: dict[str, tuple[float, float]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def get_table(name: str) -> Table:
    """The spec of a canonical table, or a user error listing the known ones."""
    try:
        return TABLES[name]
    except KeyError:
        known = ", ".join(TABLES)
        raise UserError(f"unknown table '{name}'; the tables are: {known}") from None
