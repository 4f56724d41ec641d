"""Closed vocabularies of the canonical model (DESIGN §3)."""

from __future__ import annotations

from enum import StrEnum


class TableKind(StrEnum):
    """How a re-import of a changed row is treated."""

    ENTITY = "entity"
    MUTABLE_FACT = "mutable fact"
    IMMUTABLE_FACT = "immutable fact"
    LEDGER = "ledger"


class ColType(StrEnum):
    STRING = "string"
    TIMESTAMP = "timestamp"
    DATE = "date"
    FLOAT = "float"
    INT = "int"
    BOOL = "bool"


class ActionType(StrEnum):
    REFERRAL = "referral"
    REVIEW = "review"
    CASE_STUDY = "case_study"
    REFERENCE_CALL = "reference_call"
    TESTIMONIAL = "testimonial"
    COMMUNITY_POST = "community_post"
    SOCIAL_MENTION = "social_mention"
    SPEAKING = "speaking"
    ADVISORY_BOARD = "advisory_board"
    OTHER = "other"


class Survey(StrEnum):
    NPS = "nps"
    CSAT = "csat"
    CES = "ces"


class SurveyKind(StrEnum):
    RELATIONSHIP = "relationship"
    TRANSACTIONAL = "transactional"


class TicketStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    SOLVED = "solved"
    CLOSED = "closed"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class ResolvedBy(StrEnum):
    AI = "ai"
    HUMAN = "human"


class MilestoneType(StrEnum):
    ONBOARDING_COMPLETE = "onboarding_complete"
    GO_LIVE = "go_live"
    RENEWAL = "renewal"
    EXPANSION = "expansion"
    QBR = "qbr"
    SUPPORT_RESOLUTION = "support_resolution"
    OTHER = "other"


class AskStatus(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"
    COMPLETED = "completed"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class RewardKind(StrEnum):
    VISIBILITY = "visibility"
    ACCESS = "access"
    MONETARY = "monetary"


class ConsentScope(StrEnum):
    REVIEW = "review"
    REFERENCE_CALL = "reference_call"
    CASE_STUDY = "case_study"
    LOGO = "logo"
    REFERRAL = "referral"
    SURVEY = "survey"


ASK_TYPES: tuple[str, ...] = (*(a.value for a in ActionType), "survey")

# Synonyms help desks use for priority; normalised at import (DESIGN §3).
PRIORITY_SYNONYMS: dict[str, str] = {
    "lowest": "low",
    "minor": "low",
    "p4": "low",
    "medium": "normal",
    "moderate": "normal",
    "p3": "normal",
    "major": "high",
    "p2": "high",
    "highest": "urgent",
    "critical": "urgent",
    "blocker": "urgent",
    "emergency": "urgent",
    "p1": "urgent",
    "p0": "urgent",
}

# Status synonyms of common help desks.
STATUS_SYNONYMS: dict[str, str] = {
    "new": "open",
    "in progress": "open",
    "on hold": "pending",
    "hold": "pending",
    "waiting on customer": "pending",
    "resolved": "solved",
    "done": "solved",
    "snoozed": "pending",
}
