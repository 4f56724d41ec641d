"""Parameters of the demo company's model: what demo_truth.json reports as planted parameters.

Per-segment tuples are indexed like ``SEGMENTS``. Rates are per day unless the name says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

SEGMENTS = ("smb", "mid_market", "enterprise")
PLANS = ("starter", "pro", "enterprise")
REGIONS = ("na", "emea", "apac", "latam")
INDUSTRIES = (
    "software", "fintech", "healthcare", "retail", "manufacturing",
    "education", "media", "logistics", "professional_services", "public_sector",
)  # fmt: skip
CSAT_UNSATISFIED_MAX = 3.0  # on 1–5: scores ≤ 3 are unsatisfied, the `top2` rule of DESIGN §5
BANDS = ("no_tickets", "tickets_unrated", "satisfied", "unsatisfied")
FATIGUE_BUCKETS = ("0", "1", "2", "3", "4+")
ASKABLE = (
    "referral", "review", "case_study", "reference_call", "testimonial",
    "community_post", "speaking", "advisory_board",
)  # fmt: skip


@dataclass(frozen=True)
class ProductChange:
    """One release; ``effect`` is the multiplier on the scoped segment's counted-action rate."""

    change_id: str
    name: str
    released_at: datetime
    area: str
    scope_dimension: str | None = None
    scope_value: str | None = None
    rollout_days: int | None = None
    description: str = ""
    role: str = "other"  # "drop", "null" or "other": which planted effect it carries


PRODUCT_CHANGES: tuple[ProductChange, ...] = (
    ProductChange("PC01", "Workflow builder", datetime(2022, 6, 14, 16, 0), "automation",
                  rollout_days=14, description="Visual builder for approval workflows."),
    ProductChange("PC02", "New reporting module", datetime(2023, 3, 7, 15, 30), "analytics",
                  description="Replaces legacy reports with configurable dashboards."),
    ProductChange("PC03", "SSO and SCIM provisioning", datetime(2023, 10, 17, 17, 0), "security",
                  "plan", "enterprise", description="SAML SSO and SCIM for enterprise plans."),
    ProductChange("PC04", "Usage-based add-on pricing", datetime(2024, 5, 21, 14, 0), "billing",
                  rollout_days=30, description="Add-ons billed on usage instead of seats."),
    ProductChange("PC05", "AI assistant beta", datetime(2025, 2, 11, 16, 0), "ai", "plan", "pro",
                  rollout_days=21, description="In-app assistant for pro workspaces."),
    # The two planted changes start at midnight on a Monday so their 8-week windows are whole weeks.
    ProductChange("PC06", "Dark mode", datetime(2025, 9, 15), "ui",
                  description="Dark theme across the web app.", role="null"),
    ProductChange("PC07", "Navigation redesign", datetime(2026, 2, 9), "ui", "segment",
                  "mid_market", rollout_days=7,
                  description="New left navigation for mid-market workspaces.", role="drop"),
    ProductChange("PC08", "EU data residency", datetime(2026, 6, 16, 9, 0), "platform", "region",
                  "emea", description="Hosting of EU customer data in Frankfurt."),
)  # fmt: skip


@dataclass(frozen=True)
class Params:
    """The generator's model. Defaults give the documented demo company."""

    drop_ratio: float = 0.7
    drop_window_days: int = 56
    segment_share: tuple[float, ...] = (0.58, 0.30, 0.12)
    # Organic counted advocacy actions per active account-day, before frailty and multipliers.
    counted_rate: tuple[float, ...] = (0.0009, 0.0022, 0.0045)
    uncounted_share: float = 0.3  # `other`, low reviews, negative mentions, relative to counted
    frailty_sigma: float = 0.8  # lognormal account propensity with mean 1 (bursty advocates)
    unsatisfied_multiplier: float = 0.55  # counted-action hazard after an unsatisfied CSAT
    unsatisfied_uncounted_multiplier: float = 1.8
    support_lookback_days: int = 180
    advocate_churn_multiplier: float = 0.5
    advocate_expansion_multiplier: float = 1.8
    referred_churn_multiplier: float = 0.75
    annual_share: tuple[float, ...] = (0.4, 0.9, 1.0)
    annual_nonrenewal: tuple[float, ...] = (0.22, 0.14, 0.08)
    monthly_churn: tuple[float, ...] = (0.022, 0.012, 0.008)
    quarterly_expansion: tuple[float, ...] = (0.04, 0.07, 0.10)
    quarterly_contraction: tuple[float, ...] = (0.03, 0.04, 0.05)
    reactivation_monthly: float = 0.01
    reactivation_gap_months: int = 4
    usage_since: date = date(2025, 1, 1)  # product telemetry was connected then
    usage_coverage: float = 0.85  # accounts whose workspace reports usage
    monthly_tickets: tuple[float, ...] = (0.12, 0.45, 1.1)
    csat_response: float = 0.3
    nps_invite_share: float = 0.3
    nps_response: float = 0.3
    nps_latent_mean: tuple[float, ...] = (8.0, 8.35, 8.6)
    nps_frailty_effect: float = 0.9
    nps_unsatisfied_effect: float = -1.3
    nps_noise_scale: float = 1.0
    manual_asks_per_quarter: tuple[float, ...] = (0.06, 0.15, 0.35)
    milestone_ask_share: float = 0.25
    promoter_ask_share: float = 0.3
    ask_expiry_days: int = 30
    survey_expiry_days: int = 14
    withdrawn_share: float = 0.02
    fatigue_multiplier: tuple[float, ...] = (1.0, 0.8, 0.62, 0.46, 0.32)
    fatigue_window_days: int = 180
    promoter_acceptance_multiplier: float = 1.35
    # Acceptance of a first ask, aligned with ASKABLE.
    base_acceptance: tuple[float, ...] = (0.45, 0.6, 0.3, 0.5, 0.55, 0.5, 0.35, 0.5)
    completion: float = 0.75
    review_low_share: float = 0.1  # share of asked-for reviews that come back below 4 stars
    referral_conversion: float = 0.45
    referred_share: float = 0.12  # accounts able to be sourced by a referral

    @property
    def drop_change(self) -> ProductChange:
        return next(c for c in PRODUCT_CHANGES if c.role == "drop")

    @property
    def null_change(self) -> ProductChange:
        return next(c for c in PRODUCT_CHANGES if c.role == "null")
