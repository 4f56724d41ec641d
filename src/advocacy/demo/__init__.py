"""The demo company: a generated B2B SaaS company with planted effects and their ground truth."""

from __future__ import annotations

from advocacy.demo.generator import GeneratedCompany, generate

__all__ = ["GeneratedCompany", "generate"]
