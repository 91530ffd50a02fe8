"""Semantic versions of rules, tables and rulesets: ordering and npm-style ranges."""

from __future__ import annotations

import re

import nodesemver

# Each of MAJOR, MINOR and PATCH has at most 9 digits (it is stored as a 32-bit integer),
# and a whole version, pre-release and build included, at most 128 characters.
MAX_COMPONENT = 999_999_999
MAX_VERSION_LENGTH = 128
VERSION_BOUNDS = (f"MAJOR, MINOR and PATCH at most {MAX_COMPONENT} each, the whole version at "
                  f"most {MAX_VERSION_LENGTH} characters")

_IDENT = r"(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)"
SEMVER_RE = re.compile(
    rf"^(?=[^\n]{{1,{MAX_VERSION_LENGTH}}}\Z)"
    r"(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})"
    rf"(?:-({_IDENT}(?:\.{_IDENT})*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?\Z")
"""MAJOR.MINOR.PATCH[-pre][+build] within VERSION_BOUNDS."""


def version_key(version: str) -> tuple[int, int, int, int, str]:
    """Sort key of a semver string: numeric core, a pre-release before its release."""
    core, _, pre = version.split("+", 1)[0].partition("-")
    major, minor, patch = (int(p) for p in core.split("."))
    return major, minor, patch, 0 if pre else 1, pre


def core_numbers(version: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a semver string, for indexed ordering in storage."""
    numbers = version_key(version)[:3]
    if max(numbers) > MAX_COMPONENT:
        raise ValueError(f"version {version[:40]!r} is out of range: {VERSION_BOUNDS}")
    return numbers


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


def satisfies(version: str, range_: str) -> bool:
    """Is `version` inside the range?"""
    return max_satisfying([version], range_) == version
