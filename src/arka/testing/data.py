"""Data coverage of rule tests: input fields a rule reads that no test case supplies.

A rule's reads are field paths rooted at its inputs (`transaction.amount`,
`history[].amount`, see `CompiledRule.reads`); a test input supplies a path when it holds a
non-null value there (in any element of a list). A read no case supplies is a branch of the
rule that the tests only ever see as null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from arka.compiler import CompiledRule


def supplied_paths(value: Any, prefix: str = "") -> set[str]:
    """Every field path holding a non-null value in a test input (`{name: value}`)."""
    out: set[str] = set()
    stack: list[tuple[str, Any]] = [(prefix, value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, dict):
            for k, sub in v.items():
                if sub is not None:
                    p = f"{path}.{k}" if path else str(k)
                    out.add(p)
                    stack.append((p, sub))
        elif isinstance(v, list):
            for sub in v:
                if sub is not None:
                    stack.append((f"{path}[]", sub))
    return out


@dataclass
class DataCoverage:
    """What the test inputs supplied, per rule, across every case run against it."""

    supplied: dict[str, set[str]] = field(default_factory=dict)

    def add(self, rules: list[CompiledRule], test_input: Any) -> None:
        paths = supplied_paths(test_input)
        for rule in rules:
            self.supplied.setdefault(rule.name, set()).update(paths)

    def missing(self, rule: CompiledRule) -> list[str]:
        """Field paths the rule reads that no test case supplied."""
        have = self.supplied.get(rule.name, set())
        return sorted(p for p in rule.reads if p not in have)

    def report(self, rules: list[CompiledRule]) -> tuple[list[str], int, int]:
        """Lines naming each unsupplied read, the number of reads supplied, and of reads."""
        lines: list[str] = []
        supplied = total = 0
        for rule in rules:
            missing = self.missing(rule)
            total += len(rule.reads)
            supplied += len(rule.reads) - len(missing)
            lines += [f"  {rule.name}: {path:<50} never supplied by a test" for path in missing]
        return lines, supplied, total
