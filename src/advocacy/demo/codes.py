"""Closed vocabularies as tuples, so simulated categories are small integer codes until writing."""

from __future__ import annotations

from advocacy.schema.vocab import ASK_TYPES, ActionType, AskStatus, MilestoneType

ACTION_TYPES: tuple[str, ...] = tuple(a.value for a in ActionType)
ASK_TYPE_CODES: tuple[str, ...] = ASK_TYPES
ASK_STATUSES: tuple[str, ...] = tuple(s.value for s in AskStatus)
MILESTONE_TYPES: tuple[str, ...] = tuple(m.value for m in MilestoneType)
TRIGGERS: tuple[str, ...] = ("nps_wave", "manual", "nps_promoter", *MILESTONE_TYPES)
ASK_CHANNELS: tuple[str, ...] = ("email", "in_app", "call", "meeting")

SURVEY_ASK = ASK_TYPES.index("survey")
OTHER = ACTION_TYPES.index("other")
REFERRAL = ACTION_TYPES.index("referral")
REVIEW = ACTION_TYPES.index("review")
SOCIAL = ACTION_TYPES.index("social_mention")
REFERENCE_CALL = ACTION_TYPES.index("reference_call")
ACCEPTED, DECLINED, COMPLETED, EXPIRED, WITHDRAWN = (
    ASK_STATUSES.index(s) for s in ("accepted", "declined", "completed", "expired", "withdrawn")
)


def milestone_code(name: str) -> int:
    """Code of a milestone type."""
    return MILESTONE_TYPES.index(name)
