"""Metrics: Ibis expressions over the canonical tables (DESIGN §4–5)."""
