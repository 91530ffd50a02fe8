"""Where and when a rule applies: jurisdiction codes and chains, domains, and
effective/expiry dates.

A jurisdiction is an ISO 3166-1 alpha-2 country code (`US`) or an ISO 3166-2 subdivision
code (`US-NY`), as the `pycountry` package knows them; rules, rulesets and threshold
table rows may also say `ALL` (everywhere). Codes are upper-cased ASCII; anything else
(NUL and other control characters, look-alike letters from other scripts, codes no
standard assigns) is refused, so a typo never selects no rules.
"""

from __future__ import annotations

import functools
import re
from datetime import date

EVERYWHERE = "ALL"
_CODE_RE = re.compile(r"[A-Z]{2}(?:-[A-Z0-9]{1,3})?")
DOMAIN_RE = re.compile(r"[A-Z0-9][A-Z0-9_.-]{0,63}")
_TRIM = " \t\r\n"  # surrounding ASCII whitespace is dropped; nothing else is


class CodeError(ValueError):
    """A jurisdiction or domain that is not valid; the message says why and how to fix."""


@functools.cache
def _known_codes() -> frozenset[str]:
    import pycountry

    codes = {c.alpha_2 for c in pycountry.countries}
    codes |= {s.code for s in pycountry.subdivisions}
    return frozenset(codes)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


def normalize_jurisdiction(value: str, *, allow_all: bool = True) -> str:
    """`value` as a known jurisdiction code (case and surrounding blanks normalised), or
    CodeError. `allow_all`: whether `ALL` (everywhere) is acceptable here."""
    code = value.strip(_TRIM).upper() if value.isascii() else value
    if allow_all and code == EVERYWHERE:
        return code
    if not _CODE_RE.fullmatch(code):
        everywhere = "ALL, " if allow_all else ""
        raise CodeError(f"{_shown(value)} is not a jurisdiction code: use {everywhere}an "
                        "ISO 3166-1 country code such as US or an ISO 3166-2 subdivision "
                        "such as US-NY (ASCII letters and digits only)")
    if code not in _known_codes():
        country = code.split("-", 1)[0]
        hint = (f"{country} is a country but {code} is not one of its subdivisions"
                if "-" in code and country in _known_codes()
                else "no country or subdivision has this code")
        raise CodeError(f"{_shown(value)} is not a known jurisdiction ({hint}); use an "
                        "ISO 3166-1 country code such as US or an ISO 3166-2 subdivision "
                        "such as US-NY")
    return code


def normalize_domain(value: str) -> str:
    """A domain (AML, KYC, ...): free text of 1-64 ASCII letters, digits, '_', '.', '-',
    compared without case, so normalised to upper case; surrounding blanks dropped."""
    code = value.strip(_TRIM).upper() if value.isascii() else value
    if not DOMAIN_RE.fullmatch(code):
        raise CodeError(f"{_shown(value)} is not a domain: use 1-64 ASCII letters, digits, "
                        "'_', '.' or '-', starting with a letter or digit (e.g. AML)")
    return code


def jurisdiction_covers(rule_jurisdiction: str, context_jurisdiction: str | None) -> bool:
    """A rule for US covers US and US-CA; ALL covers everything."""
    if rule_jurisdiction == EVERYWHERE or not context_jurisdiction:
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
