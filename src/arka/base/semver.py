"""Semantic versions of rules, tables and rulesets: ordering and npm-style ranges."""

from __future__ import annotations

import nodesemver


def version_key(version: str) -> tuple[int, int, int, int, str]:
    """Sort key of a semver string: numeric core, a pre-release before its release."""
    core, _, pre = version.split("+", 1)[0].partition("-")
    major, minor, patch = (int(p) for p in core.split("."))
    return major, minor, patch, 0 if pre else 1, pre


def core_numbers(version: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a semver string, for indexed ordering in storage."""
    return version_key(version)[:3]


def is_range(text: str) -> bool:
    """Is `text` an npm semver range (`^1.2.0`, `>=1 <2`, `*`)?"""
    try:
        nodesemver.make_range(text, loose=False)
        return True
    except (ValueError, TypeError):
        return False


def max_satisfying(versions: list[str], range_: str) -> str | None:
    """The highest of `versions` inside the range, or None."""
    try:
        return nodesemver.max_satisfying(versions, range_, loose=False)
    except (ValueError, TypeError):
        return None
