"""Where and when a rule applies: jurisdiction chains and effective/expiry dates."""

from __future__ import annotations

from datetime import date


def jurisdiction_covers(rule_jurisdiction: str, context_jurisdiction: str | None) -> bool:
    """A rule for US covers US and US-CA; ALL covers everything."""
    if rule_jurisdiction == "ALL" or not context_jurisdiction:
        return True
    return context_jurisdiction == rule_jurisdiction or \
        context_jurisdiction.startswith(rule_jurisdiction + "-")


def as_date(value: str | date | None) -> date | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, date) else date.fromisoformat(value)


def in_force(effective: str | date | None, expiry: str | date | None, on: date) -> bool:
    """In force from the effective date (inclusive) until the expiry date (exclusive)."""
    start, end = as_date(effective), as_date(expiry)
    if start is not None and on < start:
        return False
    return not (end is not None and on >= end)
