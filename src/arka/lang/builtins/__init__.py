"""The standard library, declared once.

Each `Builtin` names its parameters and their types, its return type, a docstring and
its implementation. The type checker, the compiler (builtin ids), the VM, the reference
evaluator and `docs/functions.md` all read this one table, `BUILTINS`.

The declarations live in one module per family (`lists`, `text`, `numbers`, `dates`,
`domain`); `FAMILIES` lists them in table order and `BUILTINS` is their concatenation.
Builtin ids are positions in `BUILTINS` and the bytecode refers to them: a new builtin goes
at the end of the last family (or into a new family appended to `FAMILIES`), never in the
middle, and nothing is ever reordered.
"""

from __future__ import annotations

from collections import Counter

from arka.lang.builtins import dates, domain, lists, numbers, text
from arka.lang.builtins.dates import holiday_calendar
from arka.lang.builtins.declaration import (
    FN1,
    FN_ACC,
    TIME,
    UNMETERED,
    Builtin,
    Meter,
    Metered,
    P,
    Param,
    Runtime,
    bind_arguments,
    meter,
)
from arka.lang.builtins.domain import RULE_RESULT_TYPE
from arka.lang.builtins.text import compile_regex

__all__ = [
    "BUILTINS", "BY_NAME", "FAMILIES", "FN1", "FN_ACC", "RULE_RESULT_TYPE", "TIME", "UNMETERED",
    "Builtin", "Meter", "Metered", "P", "Param", "Runtime", "bind_arguments", "compile_regex",
    "holiday_calendar", "meter",
]

# Table order: ids are positions, so this tuple and each family's own order are fixed.
FAMILIES: tuple[tuple[Builtin, ...], ...] = (
    lists.BUILTINS, text.BUILTINS, numbers.BUILTINS, dates.BUILTINS, domain.BUILTINS,
)

BUILTINS: tuple[Builtin, ...] = tuple(b for family in FAMILIES for b in family)

BY_NAME: dict[str, int] = {b.name: i for i, b in enumerate(BUILTINS)}

_twice = sorted(n for n, k in Counter(b.name for b in BUILTINS).items() if k > 1)
if _twice:  # BY_NAME would silently resolve a repeated name to its last declaration
    raise RuntimeError(f"builtins declared more than once: {', '.join(_twice)}")

