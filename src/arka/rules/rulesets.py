"""Ruleset documents: a named, versioned selection of rules (by semver range) with their
order constraints and the strategy that combines their decisions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from arka.base import values as V
from arka.base.errors import CompileError, Diagnostic, Span
from arka.base.graph import find_cycle
from arka.base.semver import VERSION_BOUNDS, is_range, satisfies
from arka.rules.loader import NAME_RE, SCHEMA_NAME_RE, SEMVER_RE
from arka.rules.source import Located, SourceFault, load_document

RULESET_KEYS = ("metadata", "rules", "schemas", "evaluation_order", "aggregate_decision")
STRATEGIES = ("most_severe", "flags_need_review")


def ruleset_error(message: str, text: str) -> CompileError:
    return CompileError([Diagnostic("E_RULESET", Span("request", 1, 1), message)], text)


def parse_ruleset(text: str) -> dict[str, Any]:
    """A `ruleset:` document, validated: names, semver ranges, dependency DAG."""
    try:
        doc = load_document(text, "request")
    except SourceFault as fault:
        raise CompileError([fault.diagnostic], text) from None
    diags: list[Diagnostic] = []

    def err(loc_span: Span, msg: str, code: str = "E_RULESET") -> None:
        diags.append(Diagnostic(code, loc_span, msg))

    top = doc.value
    if not isinstance(top, dict) or "ruleset" not in top or not isinstance(top["ruleset"].value, dict):
        raise CompileError([Diagnostic("E_RULESET", doc.span, "a ruleset document needs a "
                                       "top-level 'ruleset' mapping")], text)
    body = top["ruleset"].value
    for k, loc in body.items():
        if k not in RULESET_KEYS:
            err(loc.key_span or loc.span, f"unknown key {k!r} in ruleset", "E_UNKNOWN_KEY")
    meta_loc = body.get("metadata")
    meta = meta_loc.plain() if meta_loc is not None else None
    if meta_loc is None or not isinstance(meta, dict):
        err(top["ruleset"].span, "ruleset needs a metadata mapping", "E_MISSING_KEY")
        raise CompileError(diags, text)
    name, version = str(meta.get("name", "")), meta.get("version")
    if not NAME_RE.match(name):
        err(meta_loc.span, f"ruleset name {name!r} must be [a-z0-9-]+", "E_NAME")
    if not isinstance(version, str) or not SEMVER_RE.match(version):
        err(meta_loc.span, f"ruleset version {version!r} is not semver ({VERSION_BOUNDS})",
            "E_VERSION")
    rules_loc = body.get("rules")
    entries: list[dict[str, Any]] = []
    if rules_loc is None or not isinstance(rules_loc.value, list) or not rules_loc.value:
        err(top["ruleset"].span, "ruleset needs a non-empty rules list", "E_MISSING_KEY")
    else:
        for item in rules_loc.value:
            m = item.plain()
            if not isinstance(m, dict) or not isinstance(m.get("ref"), str):
                err(item.span, "each ruleset entry needs ref (a rule name)")
                continue
            extra = sorted(set(m) - {"ref", "version", "required", "depends_on"})
            if extra:
                err(item.span, f"unknown key {extra[0]!r} in a ruleset entry", "E_UNKNOWN_KEY")
            rng = str(m.get("version", "*"))
            if not is_range(rng):
                err(item.span, f"version range {rng!r} is not an npm semver range")
            deps = m.get("depends_on") or []
            if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
                err(item.span, "depends_on must list rule names")
                deps = []
            entries.append({"ref": m["ref"], "version": rng,
                            "required": bool(m.get("required", True)), "depends_on": deps})
    refs = [e["ref"] for e in entries]
    if len(set(refs)) != len(refs):
        err(rules_loc.span if rules_loc else doc.span, "a rule appears twice in the ruleset")
    for e in entries:
        for d in e["depends_on"]:
            if d not in refs:
                err(rules_loc.span if rules_loc else doc.span,
                    f"{e['ref']} depends on {d!r}, which is not in the ruleset", "E_DEPENDENCY")
    cycle = find_cycle({e["ref"]: e["depends_on"] for e in entries})
    if cycle:
        err(rules_loc.span if rules_loc else doc.span,
            f"rules depend on each other: {' -> '.join(cycle)}", "E_DEPENDENCY_CYCLE")
    order = body["evaluation_order"].value if "evaluation_order" in body else "dependency"
    if order != "dependency":
        err(body["evaluation_order"].span, "evaluation_order must be dependency")
    agg = body["aggregate_decision"].plain() if "aggregate_decision" in body else {}
    strategy = agg.get("strategy", "most_severe") if isinstance(agg, dict) else None
    if strategy not in STRATEGIES:
        err(body["aggregate_decision"].span, f"aggregate_decision.strategy must be one of "
            f"{', '.join(STRATEGIES)}")
    pins = _schema_pins(body.get("schemas"), err)
    if diags:
        raise CompileError(diags, text)
    out = {"metadata": json.loads(json.dumps(V.to_json(V.from_json(meta)))), "rules": entries,
           "evaluation_order": "dependency", "aggregate_decision": {"strategy": strategy}}
    if pins:
        out["schemas"] = pins
    return out


def _schema_pins(loc: Located | None, err: Callable[..., None]) -> list[dict[str, str]]:
    """`schemas: [{ref: Transaction, version: "^1.0.0"}]`: every rule the ruleset selects
    must have been typed with a version of each pinned schema it uses in that range."""
    if loc is None or loc.value is None:
        return []
    if not isinstance(loc.value, list):
        err(loc.span, "schemas must be a list of {ref: SchemaName, version: RANGE}")
        return []
    pins: list[dict[str, str]] = []
    for item in loc.value:
        m = item.plain()
        if not isinstance(m, dict) or not isinstance(m.get("ref"), str) or \
                not SCHEMA_NAME_RE.match(m["ref"]):
            err(item.span, "each schemas entry needs ref (a schema name, e.g. Transaction)")
            continue
        extra = sorted(set(m) - {"ref", "version"})
        if extra:
            err(item.span, f"unknown key {extra[0]!r} in a schemas entry", "E_UNKNOWN_KEY")
        rng = str(m.get("version", "*"))
        if not is_range(rng):
            err(item.span, f"version range {rng!r} is not an npm semver range")
            continue
        if any(p["ref"] == m["ref"] for p in pins):
            err(item.span, f"schema {m['ref']!r} is pinned twice")
            continue
        pins.append({"ref": m["ref"], "version": rng})
    return pins


def schema_versions(rule_inputs: list[dict[str, Any]]) -> dict[str, str]:
    """The schema versions a compiled rule was typed with (from its bytecode's `inputs`)."""
    out: dict[str, str] = {}
    for item in rule_inputs:
        for ref in item.get("schemas", ()):
            out[str(ref["name"])] = str(ref["version"])
    return out


def pins_allow(pins: list[dict[str, str]], used: dict[str, str]) -> str | None:
    """None when the schema versions `used` satisfy every pin, else why not."""
    for pin in pins:
        version = used.get(pin["ref"])
        if version is not None and not satisfies(version, pin["version"]):
            return f"typed with {pin['ref']}@{version}, outside the pinned {pin['version']}"
    return None


