"""Rule tests (`docs/language.md`): run `*.test.yaml` cases against rules, with coverage.

Matching: `decision` and `blocked` are compared exactly; `flags`, `escalations`,
`notifications` and `score_adjustments` list what must be emitted: each expected item
matches a distinct emitted item whose fields include the given ones, and no other item
may be emitted (`flags: []` means none at all). `annotations` and `conditions` are subset
matches. `error: CODE` expects the evaluation to be rejected (or a rule to fail) with CODE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from arka.base import values as V
from arka.base.errors import ArkaError, CompileError, Diagnostic, InputError, Span
from arka.compiler import CompiledRule
from arka.engine import RuleSet
from arka.rules.actions import ACTION_TYPES, BUCKETS_BY_NAME
from arka.rules.source import SourceFault, load_document

# What action types let a test expect: the items of a list bucket, or the keys merged
# into an object bucket (a subset match), in registry order.
_EXPECTS = {t.expect: BUCKETS_BY_NAME[t.bucket] for t in ACTION_TYPES.values() if t.expect}
LIST_KEYS = tuple(key for key, bucket in _EXPECTS.items() if not bucket.merge)
MAP_KEYS = tuple(key for key, bucket in _EXPECTS.items() if bucket.merge)
EXPECTED_KEYS = ("decision", "blocked", *MAP_KEYS, "conditions", "error", *LIST_KEYS)
TEST_KEYS = ("name", "description", "context", "input", "expected", "trace", "plugin_calls")
PLUGIN_CALL_KEYS = ("plugin", "function", "args", "result", "error", "version",
                    "data_version")


@dataclass
class RuleTestCase:
    name: str
    context: dict[str, Any]
    input: dict[str, Any]
    expected: dict[str, Any]
    file: str
    line: int
    # the answers of the plugin calls the rules make: the test never calls a plugin
    plugin_calls: list[dict[str, Any]] | None = None


@dataclass
class RuleTestOutcome:
    case: RuleTestCase
    passed: bool
    problems: list[str]
    result: dict[str, Any] | None = None


@dataclass
class Coverage:
    """Which conditions and action triggers were seen true and false."""

    seen: dict[tuple[str, str], set[bool]] = field(default_factory=dict)

    def add(self, rule_results: list[dict[str, Any]], triggers: dict[tuple[str, str], bool]) -> None:
        for rr in rule_results:
            for cid, value in rr.get("conditions", {}).items():
                self.seen.setdefault((rr["rule_id"], f"condition {cid}"), set()).add(bool(value))
        for key, value in triggers.items():
            self.seen.setdefault(key, set()).add(value)

    def report(self, rules: list[CompiledRule]) -> tuple[list[str], int, int]:
        lines: list[str] = []
        full = total = 0
        for rule in rules:
            items = [f"condition {c['id']}" for c in rule.program.metadata["conditions"]]
            items += [f"action {a['index']} {a['type']} ({a['trigger']})"
                      for a in rule.program.metadata["actions"]]
            for item in items:
                total += 1
                seen = self.seen.get((rule.name, item), set())
                mark = {frozenset({True, False}): "both", frozenset({True}): "true only",
                        frozenset({False}): "false only"}.get(frozenset(seen), "never")
                full += mark == "both"
                lines.append(f"  {rule.name}: {item:<50} {mark}")
        return lines, full, total


def load_tests(path: str | Path) -> list[RuleTestCase]:
    text = Path(path).read_text(encoding="utf-8")
    file = str(path)
    try:
        doc = load_document(text, file)
    except SourceFault as fault:
        raise CompileError([fault.diagnostic], text) from None
    diags: list[Diagnostic] = []
    top = doc.value
    if not isinstance(top, dict) or "tests" not in top or not isinstance(top["tests"].value, list):
        raise CompileError([Diagnostic("E_TESTS", doc.span, "a test file needs a top-level "
                                       "'tests' list")], text)
    cases: list[RuleTestCase] = []
    for i, item in enumerate(top["tests"].value):
        if not isinstance(item.value, dict):
            diags.append(Diagnostic("E_TESTS", item.span, "each test must be a mapping"))
            continue
        m = item.value
        for key, loc in m.items():
            if key not in TEST_KEYS:
                diags.append(Diagnostic("E_UNKNOWN_KEY", loc.key_span or loc.span,
                                        f"unknown key {key!r} in a test"))
        for key in ("input", "expected"):
            if key not in m or not isinstance(m[key].value, dict):
                diags.append(Diagnostic("E_TESTS", item.span, f"a test needs an {key!r} mapping"))
        if "expected" in m and isinstance(m["expected"].value, dict):
            for key, loc in m["expected"].value.items():
                if key not in EXPECTED_KEYS:
                    diags.append(Diagnostic("E_UNKNOWN_KEY", loc.key_span or loc.span,
                                            f"unknown key {key!r} in expected; use "
                                            f"{', '.join(EXPECTED_KEYS)}"))
        if "context" in m and not isinstance(m["context"].value, dict):
            diags.append(Diagnostic("E_TESTS", m["context"].span, "context must be a mapping"))
        calls = _plugin_calls(m["plugin_calls"], diags) if "plugin_calls" in m else None
        if diags:
            continue
        cases.append(RuleTestCase(str(m["name"].value) if "name" in m else f"test {i + 1}",
                              m["context"].plain() if "context" in m else {},
                              m["input"].plain(), m["expected"].plain(), file, item.span.line,
                              calls))
    if diags:
        raise CompileError(diags, text)
    return cases


def _plugin_calls(loc: Any, diags: list[Diagnostic]) -> list[dict[str, Any]] | None:
    """A test's `plugin_calls`: `[{plugin, function, args, result | error}]`."""
    if not isinstance(loc.value, list):
        diags.append(Diagnostic("E_TESTS", loc.span, "plugin_calls must be a list of "
                                "{plugin, function, args, result} (or error instead of result)"))
        return None
    out = []
    for item in loc.value:
        m = item.value
        if not isinstance(m, dict):
            diags.append(Diagnostic("E_TESTS", item.span, "each plugin call must be a mapping "
                                    "{plugin, function, args, result}"))
            continue
        for key, k in m.items():
            if key not in PLUGIN_CALL_KEYS:
                diags.append(Diagnostic("E_UNKNOWN_KEY", k.key_span or k.span,
                                        f"unknown key {key!r} in a plugin call; use "
                                        f"{', '.join(PLUGIN_CALL_KEYS)}"))
        for key in ("plugin", "function"):
            if key not in m or not isinstance(m[key].value, str):
                diags.append(Diagnostic("E_TESTS", item.span, f"a plugin call needs "
                                        f"{key!r} (text)"))
        if "args" in m and not isinstance(m["args"].value, dict):
            diags.append(Diagnostic("E_TESTS", m["args"].span, "args must be a mapping of "
                                    "parameter name to value"))
        if ("result" in m) == ("error" in m):
            diags.append(Diagnostic("E_TESTS", item.span, "a plugin call gives either a "
                                    "result or an error ({code, message})"))
        elif "error" in m and not (isinstance(m["error"].value, dict) and
                                   isinstance(m["error"].plain().get("code"), str)):
            diags.append(Diagnostic("E_TESTS", m["error"].span, "error must be {code, "
                                    "message}"))
        call = {k: v.plain() for k, v in m.items()}
        call.setdefault("args", {})
        call.setdefault("version", "")
        if "error" in call:
            call["error"] = {"code": str(call["error"]["code"]) if isinstance(
                call["error"], dict) else "E_PLUGIN",
                "message": str(call["error"].get("message", "")) if isinstance(
                    call["error"], dict) else ""}
        out.append(call)
    return out


def _matches(expected: Any, actual: Any) -> bool:
    """Subset match; numbers compare as decimals, so 10307.5 matches "10307.50"."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _matches(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            _matches(e, a) for e, a in zip(expected, actual, strict=True))
    try:
        e, a = V.from_json(expected), V.from_json(actual)
    except ArkaError:
        return bool(expected == actual)
    if isinstance(e, str) and isinstance(a, str) and e != a:
        try:  # "10307.5" vs 10307.5, "2024-02-01" vs a date
            return V.parse_decimal(e) == V.parse_decimal(a)
        except ArkaError:
            return False
    if isinstance(e, Decimal) and isinstance(a, str):
        try:
            return bool(e == V.parse_decimal(a))
        except ArkaError:
            return False
    return V.equals(e, a)


def show(v: Any) -> str:
    """A value as it is written in a rule or a JSON test file: `true`, `null`, `"text"`,
    `10000.5`, `[1, 2]`, never Python's `True`/`None`."""
    try:
        data = V.to_json(v)
    except ArkaError:
        return V.type_name(v)
    return V.dumps(data, indent=None)


def _word(v: Any) -> str:
    """A decision or similar keyword: bare when it is text, else as a value."""
    return v if isinstance(v, str) else show(v)


def _match_items(kind: str, expected: list[Any], actual: list[Any]) -> list[str]:
    problems = []
    unused = list(range(len(actual)))
    for exp in expected:
        hit = next((i for i in unused if _matches(exp, actual[i])), None)
        if hit is None:
            problems.append(f"expected {kind[:-1]} {show(exp)} was not emitted")
        else:
            unused.remove(hit)
    for i in unused:
        problems.append(f"unexpected {kind[:-1]} {show(actual[i])}")
    return problems


def _bucket(result: dict[str, Any], key: str) -> Any:
    bucket = _EXPECTS[key]
    return result.get(bucket.name, {} if bucket.merge else [])


def _match_map(kind: str, want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    if want == {} and got:
        return [f"expected no {kind}, got {show(got)}"]
    problems = []
    for k, v in want.items():
        if k not in got:
            problems.append(f"{kind[:-1]} {k!r} missing")
        elif not _matches(v, got[k]):
            problems.append(f"{kind[:-1]} {k!r}: expected {show(v)}, got "
                            f"{show(got[k])}")
    return problems


def run_case(ruleset: RuleSet, case: RuleTestCase, coverage: Coverage | None = None,
             executor: str = "vm") -> RuleTestOutcome:
    exp = case.expected
    try:
        inputs = V.from_json(case.input)
        res = ruleset.evaluate(inputs, case.context, trace="basic", executor=executor,
                               recorded_calls=case.plugin_calls)
    except InputError as exc:
        if exp.get("error") in (exc.code, "VALIDATION_ERROR", "E_INPUT"):
            return RuleTestOutcome(case, True, [])
        return RuleTestOutcome(case, False, [f"evaluation rejected: {exc.message}"])
    out = res.to_dict(timing=False)
    result = out["result"]
    problems: list[str] = []
    if coverage is not None:
        triggers: dict[tuple[str, str], bool] = {}
        metas = {r.name: r.program.metadata for r in ruleset.rules}
        for tr in out.get("trace") or []:
            for ev in tr["events"]:
                if ev.get("event") == "trigger":
                    a = metas[tr["rule_id"]]["actions"][ev["action"]]
                    triggers[(tr["rule_id"], f"action {a['index']} {a['type']} "
                                            f"({a['trigger']})")] = bool(ev["value"])
        coverage.add(out["rule_results"], triggers)
    if "error" in exp:
        codes = [rr["error"]["code"] for rr in out["rule_results"] if rr["status"] == "error"]
        if exp["error"] not in codes:
            problems.append(f"expected error {exp['error']}, got "
                            f"{', '.join(codes) if codes else 'no error'}")
    for rr in out["rule_results"]:
        if rr["status"] == "error" and "error" not in exp:
            err = rr["error"]
            where = f" at line {err['line']}:{err['column']}" if "line" in err else ""
            problems.append(f"rule {rr['rule_id']} failed{where}: {err['code']} {err['message']}")
    if "decision" in exp and result["decision"] != exp["decision"]:
        problems.append(f"decision: expected {_word(exp['decision'])}, got {_word(result['decision'])}")
    if "blocked" in exp and result["blocked"] != exp["blocked"]:
        problems.append(f"blocked: expected {show(exp['blocked'])}, got {show(result['blocked'])}")
    for key in LIST_KEYS:
        if key in exp:
            if not isinstance(exp[key], list):
                problems.append(f"expected.{key} must be a list")
            else:
                problems += _match_items(key, exp[key], _bucket(result, key))
    for key in MAP_KEYS:
        if key in exp:
            problems += _match_map(key, exp[key] or {}, _bucket(result, key))
    if "conditions" in exp:
        actual_conds: dict[str, Any] = {}
        for rr in out["rule_results"]:
            actual_conds.update(rr.get("conditions", {}))
        for k, v in (exp["conditions"] or {}).items():
            if not _matches(v, actual_conds.get(k)) or type(v) is not type(actual_conds.get(k)):
                problems.append(f"condition {k}: expected {show(v)}, got "
                                f"{show(actual_conds.get(k))}")
    return RuleTestOutcome(case, not problems, problems, out)


def find_test_file(rule_path: Path) -> Path | None:
    stem = rule_path.name
    for suffix in (".yaml", ".yml", ".json"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    for ext in (".test.yaml", ".test.yml", ".test.json"):
        candidate = rule_path.with_name(stem + ext)
        if candidate.exists():
            return candidate
    return None


def span_of_case(case: RuleTestCase) -> Span:
    return Span(case.file, case.line, 1)
