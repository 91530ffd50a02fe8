"""What a new version would do to its tenant, checked before it is stored: the
jurisdiction and domain codes it selects by, and dependency cycles across versions.

Cycles: selection picks one version per rule (the newest approved one in force on the
context's date, or the newest satisfying a ruleset's range), so a cycle can close across
versions (`a@1` <- `b` <- `a@2`) although no single document has one. The graph checked
has, for every rule, the union of the `depends_on` of each version that selection can
still pick: every version not rejected, except one that a newer approved version
covers on every date (it can no longer be picked by date). The version being deployed
counts as approved. Each ruleset adds its own order constraints over the versions its
ranges can pick. A deploy that would put its own rule on a cycle is refused; a cycle
already stored (from an earlier release) does not block unrelated deploys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from arka.base.calendar import CodeError, as_date, normalize_domain, normalize_jurisdiction
from arka.base.errors import CompileError, Conflict, Diagnostic, Span
from arka.base.graph import cycle_through
from arka.base.semver import max_satisfying, version_key


@dataclass(frozen=True)
class Version:
    """One version of a rule as the dependency graph sees it."""

    name: str
    version: str
    status: str
    depends_on: tuple[str, ...]
    effective: date | None
    expiry: date | None


def key_span(text: str, key: str, file: str = "request") -> Span:
    """Where `key:` first appears in a YAML or JSON document (line 1 when it does not)."""
    pattern = re.compile(rf"""^\s*(?:-\s*)?["']?{re.escape(key)}["']?\s*:""")
    for number, line in enumerate(text.splitlines(), 1):
        match = pattern.search(line)
        if match:
            return Span(file, number, line.index(key) + 1)
    inline = re.search(rf"""["']?\b{re.escape(key)}["']?\s*:""", text)
    if inline:
        row = text.count("\n", 0, inline.start()) + 1
        column = inline.start() - (text.rfind("\n", 0, inline.start()) + 1) + 1
        return Span(file, row, column)
    return Span(file, 1, 1)


def _code_diag(kind: str, where: str, value: Any, text: str, key: str) -> Diagnostic | None:
    if value is None:
        return None
    code = "E_JURISDICTION" if kind == "jurisdiction" else "E_DOMAIN"
    if not isinstance(value, str):
        return Diagnostic(code, key_span(text, key), f"{where} must be text")
    try:
        if kind == "jurisdiction":
            normalize_jurisdiction(value)
        else:
            normalize_domain(value)
    except CodeError as exc:
        return Diagnostic(code, key_span(text, key), f"{where}: {exc}")
    return None


def check_rule_codes(metadata: dict[str, Any], text: str) -> None:
    """A rule's jurisdiction must be ALL or a known ISO 3166 code; its domain a domain."""
    diags = [d for d in (
        _code_diag("jurisdiction", "metadata.jurisdiction", metadata.get("jurisdiction"),
                   text, "jurisdiction"),
        _code_diag("domain", "metadata.domain", metadata.get("domain"), text, "domain"))
        if d is not None]
    if diags:
        raise CompileError(diags, text)


def check_ruleset_codes(spec: dict[str, Any], text: str) -> None:
    meta = spec.get("metadata") or {}
    diags = [d for d in (
        _code_diag("jurisdiction", "ruleset metadata.jurisdiction", meta.get("jurisdiction"),
                   text, "jurisdiction"),
        _code_diag("domain", "ruleset metadata.domain", meta.get("domain"), text, "domain"))
        if d is not None]
    if diags:
        raise CompileError(diags, text)


def check_table_codes(kind: str, rows: Iterable[dict[str, Any]], text: str) -> None:
    """Threshold rows are found by jurisdiction: each must be ALL or a known code, written
    as it is matched (upper case), or the row would never be found."""
    if kind != "threshold":
        return
    diags = []
    for number, row in enumerate(rows, 1):
        value = row.get("jurisdiction", "ALL")
        diag = _code_diag("jurisdiction", f"row {number} jurisdiction", value, text,
                          "jurisdiction")
        if diag is None and value != normalize_jurisdiction(value):
            diag = Diagnostic("E_JURISDICTION", key_span(text, "jurisdiction"),
                              f"row {number} jurisdiction {value!r} must be written "
                              f"{normalize_jurisdiction(value)!r}")
        if diag is not None:
            diags.append(diag)
    if diags:
        raise CompileError(diags, text)


def _covers(newer: Version, older: Version) -> bool:
    """Whether `newer` is in force on every date `older` is."""
    starts_first = newer.effective is None or (older.effective is not None
                                               and newer.effective <= older.effective)
    ends_last = newer.expiry is None or (older.expiry is not None
                                         and newer.expiry >= older.expiry)
    return starts_first and ends_last


def selectable(versions: list[Version]) -> list[Version]:
    """The versions of one rule that selection by date can still pick."""
    live = [v for v in versions if v.status != "rejected"]
    out = []
    for v in live:
        newer = [w for w in live if w.status == "active"
                 and version_key(w.version) > version_key(v.version)]
        if not any(_covers(w, v) for w in newer):
            out.append(v)
    return out


def rule_graph(versions: Iterable[Version]) -> dict[str, list[str]]:
    by_name: dict[str, list[Version]] = {}
    for v in versions:
        by_name.setdefault(v.name, []).append(v)
    graph: dict[str, set[str]] = {}
    for name, group in by_name.items():
        graph[name] = set()
        for v in selectable(group):
            graph[name] |= set(v.depends_on)
    return {name: sorted(deps) for name, deps in graph.items()}


def ruleset_graph(spec: dict[str, Any], versions: Iterable[Version]) -> dict[str, list[str]]:
    """A ruleset's order constraints plus the dependencies of the versions its ranges can
    pick (the newest approved one, or the newest of all not rejected once approved)."""
    by_name: dict[str, list[Version]] = {}
    for v in versions:
        if v.status != "rejected":
            by_name.setdefault(v.name, []).append(v)
    graph: dict[str, set[str]] = {}
    for entry in spec["rules"]:
        deps = graph.setdefault(entry["ref"], set())
        deps |= set(entry.get("depends_on") or ())
        group = by_name.get(entry["ref"], [])
        for pool in ([v for v in group if v.status == "active"], group):
            chosen = max_satisfying([v.version for v in pool], entry["version"])
            deps |= {d for v in pool if v.version == chosen for d in v.depends_on}
    return {name: sorted(deps) for name, deps in graph.items()}


def cycle_error(path: list[str], what: str, text: str) -> Conflict:
    shown = " -> ".join(path)
    message = (f"deploying {what} would make rules depend on each other: {shown}; "
               "remove one of these dependencies (or deploy a version of one of them "
               "without it) and deploy again")
    return Conflict(message, code="E_DEPENDENCY_CYCLE", details=[{
        "path": "metadata.depends_on", "line": key_span(text, "depends_on").line,
        "code": "E_DEPENDENCY_CYCLE", "message": message}])


def check_rule_cycles(stored: list[Version], new: Version, text: str,
                      rulesets: list[dict[str, Any]]) -> None:
    """Refuse `new` when it would put its rule on a cycle, in default selection or in a
    ruleset (`rulesets`: the specs of every ruleset version not rejected)."""
    versions = [v for v in stored if (v.name, v.version) != (new.name, new.version)] + [new]
    cycle = cycle_through(rule_graph(versions), new.name)
    if cycle is None:
        for spec in rulesets:
            if any(e["ref"] == new.name and max_satisfying([new.version], e["version"])
                   for e in spec["rules"]):
                cycle = cycle_through(ruleset_graph(spec, versions), new.name)
                if cycle is not None:
                    meta = spec["metadata"]
                    cycle = [*cycle[:-1], f"{cycle[-1]} (in ruleset {meta['name']}@"
                                          f"{meta['version']})"]
                    break
    if cycle is not None:
        raise cycle_error(cycle, f"{new.name}@{new.version}", text)


def check_ruleset_cycles(spec: dict[str, Any], stored: list[Version], text: str) -> None:
    graph = ruleset_graph(spec, stored)
    for entry in spec["rules"]:
        cycle = cycle_through(graph, entry["ref"])
        if cycle is not None:
            meta = spec["metadata"]
            raise cycle_error(cycle, f"ruleset {meta['name']}@{meta['version']}", text)


def version_of(name: str, version: str, status: str, metadata: dict[str, Any]) -> Version:
    return Version(name, version, status, tuple(metadata.get("depends_on", ())),
                   as_date(metadata.get("effective_date")), as_date(metadata.get("expiry_date")))
