"""Word lists for readable fake names, emails, titles and comments (all fictitious)."""

from __future__ import annotations

NAME_A = (
    "Acorn", "Alder", "Amber", "Apex", "Arbor", "Aster", "Atlas", "Aurora", "Basalt", "Beacon",
    "Birch", "Blue", "Bright", "Cedar", "Cinder", "Cobalt", "Comet", "Copper", "Coral", "Crest",
    "Delta", "Dune", "Echo", "Ember", "Fern", "Flint", "Fox", "Garnet", "Glacier", "Granite",
    "Harbor", "Hazel", "Helix", "Indigo", "Iron", "Juniper", "Kestrel", "Lark", "Linden", "Lumen",
    "Maple", "Meridian", "Mesa", "Nimbus", "North", "Oak", "Onyx", "Orbit", "Pine", "Prism",
    "Quartz", "Raven", "Ridge", "River", "Sable", "Sage", "Slate", "Spruce", "Summit", "Willow",
)  # fmt: skip
NAME_B = (
    "Analytics", "Bank", "Bio", "Capital", "Care", "Cloud", "Commerce", "Data", "Dynamics",
    "Energy",
    "Foods", "Freight", "Health", "Insights", "Labs", "Learning", "Logistics", "Media", "Medical",
    "Motors", "Networks", "Partners", "Payments", "Robotics", "Retail", "Security", "Studios",
    "Systems", "Technologies", "Works",
)  # fmt: skip
SUFFIX = ("Inc", "LLC", "Ltd", "GmbH", "Group", "Co", "SA", "Pty")
FIRST = (
    "Ada", "Alex", "Amara", "Ana", "Ben", "Carla", "Chen", "Dana", "Diego", "Elena", "Emeka",
    "Fatima", "Grace", "Hana", "Ivan", "Jonas", "Julia", "Kai", "Lars", "Leila", "Luca", "Maya",
    "Mei", "Nina", "Noah", "Omar", "Priya", "Rafael", "Sara", "Sofia", "Tomas", "Yuki", "Zoe",
    "Kwame", "Ines", "Raj",
)  # fmt: skip
LAST = (
    "Adams", "Alvarez", "Bauer", "Brown", "Costa", "Dubois", "Eriksen", "Garcia", "Hansen", "Ito",
    "Jensen", "Kim", "Kowalski", "Lee", "Lopez", "Martin", "Meyer", "Mensah", "Nakamura", "Novak",
    "Okafor", "Patel", "Rossi", "Santos", "Schmidt", "Silva", "Singh", "Smith", "Tanaka", "Walker",
    "Wang", "Weber", "Yilmaz", "Zhang",
)  # fmt: skip
TITLES = (
    ("Head of Operations", "Director of Customer Experience", "Program Manager"),  # champion
    ("VP Operations", "Chief Operating Officer", "VP Customer Success"),  # executive_sponsor
    ("Systems Administrator", "IT Manager", "Platform Owner"),  # admin
    ("Analyst", "Specialist", "Team Lead", "Coordinator"),  # end_user
    ("Finance Manager", "Procurement Lead"),  # billing
)
CSMS = (
    "Digital CS Pool", "Scaled CSM A", "Scaled CSM B", "Alice Moreau", "Bilal Haddad", "Chloe Park",
    "Daniel Osei", "Eva Lindqvist", "Farid Rahman", "Gina Rossi", "Hugo Santos", "Irene Kowalski",
)  # fmt: skip
NPS_COMMENTS = (
    "Reporting keeps getting better.", "Support is quick and friendly.",
    "Great value for the team.", "Pricing is hard to justify.", "Too many clicks for simple tasks.",
    "The new navigation slowed us down.", "Integrations save us hours every week.",
)  # fmt: skip
CSAT_COMMENTS = (
    "Solved on the first reply.", "Took too long to get an answer.", "Had to explain twice.",
    "The bot did not understand my question.", "Thanks, all good now.",
)  # fmt: skip
