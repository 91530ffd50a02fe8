"""Multi-rule evaluation: selection, input conversion, dependency order, decision.

A `RuleSet` is immutable once built (all rules compiled and their dependencies checked);
`evaluate` runs the applicable rules in dependency order on the RTVM (or, for testing,
the reference evaluator) and shapes the result of SPEC §5 (proofs come with the service).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import holidays
import yaml

from arka import observability as OBS
from arka import values as V
from arka.compiler import CompiledRule, compile_file, load_bytecode
from arka.errors import (
    ArkaError,
    CompileError,
    Diagnostic,
    EvalError,
    InputError,
    LimitExceeded,
    Span,
)
from arka.inputs import Converter, compile_schema, convert_input
from arka.reference import ReferenceEvaluator
from arka.rtvm import bytecode as bc
from arka.rtvm.fastpath import FastProgram, translate
from arka.rtvm.vm import TRACE_LEVELS, Execution, Limits, Outcome
from arka.tables import TableLookup, TableSet
from arka.version import __version__

ENGINE_VERSION = f"arka-engine/{__version__} rtvm/{bc.FORMAT_VERSION}"
CALENDAR_VERSION = f"holidays/{holidays.__version__}"
STRATEGIES = ("most_severe", "flags_need_review")
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}


# ------------------------------------------------------------------ context

@functools.lru_cache(maxsize=4096)
def _parse_timestamp(text: str) -> datetime:
    return V.parse_datetime(text)


def normalize_context(context: dict[str, Any] | None, received_at: datetime | None = None
                      ) -> dict[str, Any]:
    """Context as language values; a missing timestamp becomes the time received."""
    if context is not None and not isinstance(context, dict):
        raise InputError("context must be a JSON object")
    try:
        ctx = V.from_json(context or {})
    except EvalError as exc:
        raise InputError(f"context: {exc.message}") from None
    ts = ctx.get("timestamp")
    if ts is None:
        ctx["timestamp"] = (received_at or datetime.now(UTC)).replace(microsecond=0)
    elif isinstance(ts, str):
        try:
            ctx["timestamp"] = _parse_timestamp(ts)
        except EvalError as exc:
            raise InputError(f"context.timestamp: {exc.message}") from None
    elif not isinstance(ts, datetime):
        raise InputError("context.timestamp must be an RFC 3339 datetime")
    for key in ("jurisdiction", "domain"):
        if key in ctx and ctx[key] is not None and not isinstance(ctx[key], str):
            raise InputError(f"context.{key} must be text")
    return ctx


def jurisdiction_covers(rule_j: str, context_j: str | None) -> bool:
    """A rule for US covers US and US-CA; ALL covers everything."""
    if rule_j == "ALL" or not context_j:
        return True
    return context_j == rule_j or context_j.startswith(rule_j + "-")


# ------------------------------------------------------------------ results

@dataclass
class EvaluationResult:
    context: dict[str, Any]
    result: dict[str, Any]
    rule_results: list[dict[str, Any]]
    metadata: dict[str, Any]
    trace: list[dict[str, Any]] | None = None
    tables_used: list[dict[str, str]] = field(default_factory=list)

    @property
    def decision(self) -> str:
        return str(self.result["decision"])

    def to_json(self, *, timing: bool = True) -> dict[str, Any]:
        meta = dict(self.metadata)
        if not timing:
            meta.pop("evaluation_duration_ms", None)
        out: dict[str, Any] = {"context": V.to_json(self.context), "result": self.result,
                               "rule_results": self.rule_results, "metadata": meta}
        if self.trace is not None:
            out["trace"] = self.trace
        return out


class _Runtime:
    """What builtins see of the running evaluation (`arka.lang.builtins.Runtime`)."""

    def __init__(self, context: dict[str, Any], lookup: TableLookup):
        self.now: datetime = context["timestamp"]
        self.jurisdiction: str | None = context.get("jurisdiction")
        self.division_scale = V.DEFAULT_DIVISION_SCALE
        self.lookup = lookup
        self.results: dict[str, dict[str, Any]] = {}
        self.allowed: tuple[str, ...] = ()

    def threshold(self, type_: str, jurisdiction: str | None, default: Any, table: str | None
                  ) -> Any:
        return self.lookup.threshold(type_, jurisdiction, default, table)

    def convert_currency(self, amount: Decimal, src: str, dst: str) -> Decimal:
        return self.lookup.convert_currency(amount, src, dst)

    def table_rows(self, name: str) -> list[Any]:
        return self.lookup.table_rows(name)

    def rule_result(self, name: str) -> Any:
        if name not in self.allowed:
            raise EvalError(f"rule_result({name!r}) needs {name!r} in depends_on",
                            code="E_DEPENDENCY")
        return self.results.get(name, {"status": "skipped", "flagged": False, "blocked": False,
                                       "conditions": {}, "flags": []})


@dataclass(frozen=True, slots=True)
class _RuleInfo:
    """Everything the engine needs of a rule, read from its metadata once."""

    rule: CompiledRule
    name: str
    version: str
    jurisdiction: str
    domain: str | None
    effective: date | None
    expiry: date | None
    depends_on: tuple[str, ...]
    inputs: tuple[tuple[str, bool, Converter], ...]
    division_scale: int
    fast: FastProgram | None
    referenced: bool  # some other rule reads rule_result() of this one

    @classmethod
    def build(cls, rule: CompiledRule, limits: Limits, referenced: bool) -> _RuleInfo:
        meta = rule.metadata
        eff, exp = meta.get("effective_date"), meta.get("expiry_date")
        return cls(rule, rule.name, rule.version, meta.get("jurisdiction") or "ALL",
                   (meta.get("domain") or "").upper() or None,
                   date.fromisoformat(eff) if eff else None,
                   date.fromisoformat(exp) if exp else None,
                   tuple(meta.get("depends_on", ())),
                   tuple((d["name"], bool(d.get("required", True)),
                          compile_schema(d.get("schema") or {}))
                         for d in rule.program.metadata["inputs"]),
                   int(rule.program.metadata["division_scale"]),
                   translate(rule.program, limits), referenced)

    def skip_reason(self, ctx: dict[str, Any], on: date) -> str | None:
        if not jurisdiction_covers(self.jurisdiction, ctx.get("jurisdiction")):
            return f"jurisdiction {self.jurisdiction} does not cover {ctx.get('jurisdiction')}"
        domain = ctx.get("domain")
        if domain and self.domain and self.domain != domain.upper():
            return f"domain {self.domain} is not {domain}"
        if self.effective and on < self.effective:
            return f"not yet effective on {on.isoformat()} (effective {self.effective})"
        if self.expiry and on >= self.expiry:
            return f"expired on {self.expiry}"
        return None

    def convert_inputs(self, values_in: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, required, converter in self.inputs:
            value = values_in.get(name)
            if value is None:
                if required:
                    raise InputError(f"input {name!r} is required by rule {self.name!r}")
                out[name] = None
            else:
                out[name] = convert_input(name, converter, value)
        return out


EXECUTORS = ("vm", "interpreter", "reference")
_RERUN_LIMITS = ("E_LIMIT_CALL_DEPTH", "E_LIMIT_STACK")


class RuleSet:
    """An immutable, dependency-ordered set of compiled rules plus reference tables.

    Building one compiles nothing; it orders the rules, checks their dependencies and
    prepares each rule's fast path once. `evaluate` may be called any number of times.
    """

    def __init__(self, rules: Iterable[CompiledRule], tables: TableSet | None = None, *,
                 strategy: str = "most_severe", limits: Limits | None = None,
                 order_after: dict[str, tuple[str, ...]] | None = None):
        if strategy not in STRATEGIES:
            raise ValueError(f"aggregate strategy must be one of {STRATEGIES}")
        self.strategy = strategy
        self.tables = tables or TableSet()
        self.limits = limits or Limits()
        self.rules = _dependency_order(list(rules), order_after)
        referenced = {d for r in self.rules for d in r.metadata.get("depends_on", ())}
        self._infos = [_RuleInfo.build(r, self.limits, r.name in referenced) for r in self.rules]

    def evaluate(self, input: dict[str, Any], context: dict[str, Any] | None = None, *,
                 trace: str = "none", executor: str = "vm") -> EvaluationResult:
        """Evaluate an input against every applicable rule.

        Raises InputError (VALIDATION_ERROR) before any rule runs when the input or context
        is unusable; a rule that fails while running is reported in its `rule_results`
        entry and fails closed (the decision is at least `needs_review`). `executor` is
        "vm" (the fast path where possible, else the interpreter), "interpreter" or
        "reference" (the tree-walking evaluator; for testing).
        """
        if trace not in TRACE_LEVELS:
            raise InputError(f"trace must be one of {', '.join(TRACE_LEVELS)}")
        if executor not in EXECUTORS:
            raise ValueError(f"executor must be one of {EXECUTORS}")
        started = time.perf_counter()
        if not isinstance(input, dict):
            raise InputError("input must be a JSON object of named inputs")
        try:
            values_in = V.from_json(input)
        except EvalError as exc:
            raise InputError(exc.message) from None
        ctx = normalize_context(context)
        on = ctx["timestamp"].date()
        # Every input is checked before any rule runs.
        plan: list[tuple[_RuleInfo, dict[str, Any] | None, str | None]] = []
        for info in self._infos:
            reason = info.skip_reason(ctx, on)
            plan.append((info, None if reason else info.convert_inputs(values_in), reason))
        lookup = TableLookup(self.tables, on)
        runtime = _Runtime(ctx, lookup)
        acc = _Accumulator()
        rule_results: list[dict[str, Any]] = []
        traces: list[dict[str, Any]] | None = [] if trace != "none" else None
        evaluated: list[str] = []
        rules_meta: list[dict[str, str]] = []
        for info, inputs, reason in plan:
            if inputs is None:
                rule_results.append({"rule_id": info.name, "version": info.version,
                                     "status": "skipped", "reason": reason, "conditions": {}})
                if info.referenced:
                    runtime.results[info.name] = _dependency_view("skipped", {}, [], False)
                continue
            evaluated.append(f"{info.name}@{info.version}")
            rules_meta.append({"rule_id": info.name, "version": info.version,
                               "bytecode_hash": info.rule.bytecode_hash})
            runtime.allowed = info.depends_on
            runtime.division_scale = info.division_scale
            if OBS.ENABLED:
                with OBS.span(f"rule {info.name}", {"arka.rule": info.name,
                                                    "arka.rule_version": info.version}) as sp:
                    entry, outcome, emitted = self._run_rule(info, inputs, ctx, runtime, trace,
                                                             executor, acc)
                    sp.set_attribute("arka.rule_status", entry["status"])
            else:
                entry, outcome, emitted = self._run_rule(info, inputs, ctx, runtime, trace,
                                                         executor, acc)
            rule_results.append(entry)
            if info.referenced:
                runtime.results[info.name] = _dependency_view(
                    entry["status"], entry["conditions"],
                    [f for kind, f in emitted if kind == "flag"],
                    any(kind == "block" for kind, _ in emitted))
            if traces is not None and outcome is not None:
                traces.append({"rule_id": info.name, "version": info.version,
                               "events": [_json_event(e) for e in outcome.trace]})
        result = acc.result(self.strategy)
        used = [t.ref() for _, t in sorted(lookup.used.items())]
        metadata = {
            "rules_evaluated": evaluated,
            "engine_version": ENGINE_VERSION,
            "calendar_version": CALENDAR_VERSION,
            "rules": rules_meta,
            "tables": used,
            "evaluation_duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }
        return EvaluationResult(ctx, result, rule_results, metadata, traces, used)

    def _execute(self, info: _RuleInfo, inputs: dict[str, Any], ctx: dict[str, Any],
                 runtime: _Runtime, trace: str, executor: str) -> Outcome:
        if executor == "reference":
            if info.rule.rule is None:
                raise ValueError(f"rule {info.name} was loaded from bytecode; the reference "
                                 "evaluator needs its source")
            return ReferenceEvaluator(info.rule.rule, inputs, ctx, runtime,
                                      info.division_scale, trace).run()
        if executor == "vm" and info.fast is not None and trace != "full":
            try:
                return info.fast.run(inputs, ctx, runtime, trace)
            except LimitExceeded as exc:
                if exc.code not in _RERUN_LIMITS:  # costly to repeat: report where the rule starts
                    exc.span = exc.span or next(
                        (sp for sp in info.rule.program.functions[0].spans if sp), None)
                    raise
            except EvalError:
                pass
            # Deterministic failures re-run on the interpreter, which reports the exact
            # source position of the failing instruction.
        return Execution(info.rule.program, inputs, ctx, runtime, self.limits, trace).run()

    def _run_rule(self, info: _RuleInfo, inputs: dict[str, Any], ctx: dict[str, Any],
                  runtime: _Runtime, trace: str, executor: str, acc: _Accumulator
                  ) -> tuple[dict[str, Any], Outcome | None, list[tuple[str, dict[str, Any]]]]:
        entry: dict[str, Any] = {"rule_id": info.name, "version": info.version}
        try:
            outcome = self._execute(info, inputs, ctx, runtime, trace, executor)
            emitted = acc.collect(info, outcome)
        except EvalError as exc:
            entry.update(status="error", conditions={}, error=exc.to_dict())
            acc.errors += 1
            return entry, None, []
        entry["status"] = "fired" if emitted else "not_fired"
        entry["conditions"] = {k: bool(v) for k, v in outcome.conditions.items()}
        return entry, outcome, emitted


def _dependency_view(status: str, conditions: dict[str, Any], flags: list[dict[str, Any]],
                     blocked: bool) -> dict[str, Any]:
    """What `rule_result("name")` returns inside a dependent rule."""
    return {"status": status, "conditions": dict(conditions), "flagged": bool(flags),
            "blocked": blocked, "flags": [V.from_json(f) for f in flags]}


def _json_event(e: dict[str, Any]) -> dict[str, Any]:
    return {k: (V.to_json(v) if k != "top" else v) for k, v in e.items()}


# Config fields that are text in the result, whatever expression produced them.
TEXT_FIELDS = {
    "flag": ("category", "message", "code"),
    "block": ("reason", "code"),
    "escalate": ("queue", "priority", "assignee_group", "notes"),
    "notify": ("template",),
    "score_adjustment": ("field", "reason"),
}


def _text_fields(atype: str, cfg: dict[str, Any]) -> dict[str, Any]:
    out = dict(cfg)
    for key in TEXT_FIELDS.get(atype, ()):
        if out.get(key) is not None and not isinstance(out[key], str):
            out[key] = V.to_text(out[key])
    return out


class _Accumulator:
    """Collects the actions of every rule into the result, all-or-nothing per rule."""

    def __init__(self) -> None:
        self.flags: list[dict[str, Any]] = []
        self.blocks: list[dict[str, Any]] = []
        self.annotations: dict[str, Any] = {}
        self.escalations: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []
        self.scores: list[dict[str, Any]] = []
        self.errors = 0

    def collect(self, info: _RuleInfo, outcome: Outcome) -> list[tuple[str, dict[str, Any]]]:
        """Shape one rule's actions; nothing is added unless all of them are valid."""
        actions_meta = info.rule.program.metadata["actions"]
        staged: list[tuple[str, dict[str, Any]]] = []
        for index, atype, config in outcome.actions:
            base = {"rule_id": info.name, "rule_version": info.version}
            trigger = actions_meta[index]["trigger"]
            cfg = _text_fields(atype, config if isinstance(config, dict) else {})
            if atype == "flag":
                severity = cfg.get("severity")
                if severity not in SEVERITY_RANK:
                    raise EvalError(f"flag severity {V.to_text(severity)!r} must be one of "
                                    f"{', '.join(SEVERITY_RANK)}", code="E_ACTION")
                item = base | {"condition_id": trigger, "category": V.to_json(cfg.get("category")),
                               "severity": severity, "message": V.to_json(cfg.get("message")),
                               "code": V.to_json(cfg.get("code"))}
                if "metadata" in cfg:
                    item["metadata"] = V.to_json(cfg["metadata"])
                staged.append(("flag", item))
            elif atype == "block":
                staged.append(("block", base | {
                    "condition_id": trigger, "reason": V.to_json(cfg.get("reason")),
                    "code": V.to_json(cfg.get("code")),
                    "override_allowed": bool(cfg.get("override_allowed") or False)}))
            elif atype == "annotate":
                ann = cfg.get("annotations")
                if not isinstance(ann, dict):
                    raise EvalError("annotations must be an object", code="E_ACTION")
                staged.append(("annotate", {k: V.to_json(v) for k, v in ann.items()}))
            else:
                staged.append((atype, base | {k: V.to_json(v) for k, v in sorted(cfg.items())}))
        for kind, item in staged:
            if kind == "flag":
                self.flags.append(item)
            elif kind == "block":
                self.blocks.append(item)
            elif kind == "annotate":
                self.annotations.update(item)
            elif kind == "escalate":
                self.escalations.append(item)
            elif kind == "notify":
                self.notifications.append(item)
            else:
                self.scores.append(item)
        return staged

    def result(self, strategy: str) -> dict[str, Any]:
        if self.blocks or (self.flags and strategy == "most_severe"):
            decision = "non_compliant"
        elif self.flags or self.escalations or self.errors:
            decision = "needs_review"
        else:
            decision = "compliant"
        out: dict[str, Any] = {
            "decision": decision, "blocked": bool(self.blocks), "flags": self.flags,
            "annotations": dict(sorted(self.annotations.items())),
            "escalations": self.escalations, "notifications": self.notifications,
            "score_adjustments": self.scores,
        }
        if self.blocks:
            out["blocks"] = self.blocks
        return out


def _dependency_order(rules: list[CompiledRule],
                      extra: dict[str, tuple[str, ...]] | None = None) -> list[CompiledRule]:
    """Dependencies first (a rule's own `depends_on` plus `extra`, e.g. a ruleset's);
    otherwise by name, so the order never depends on input order."""
    extra = extra or {}

    def deps(r: CompiledRule) -> list[str]:
        return sorted(set(r.metadata.get("depends_on", ())) | set(extra.get(r.name, ())))

    by_name: dict[str, CompiledRule] = {}
    diags: list[Diagnostic] = []
    for r in rules:
        if r.name in by_name:
            if by_name[r.name].bytecode_hash != r.bytecode_hash:
                diags.append(Diagnostic("E_DUPLICATE_RULE", _rule_span(r),
                                        f"rule {r.name!r} is loaded twice with different content"))
            continue
        by_name[r.name] = r
    for r in by_name.values():
        for dep in deps(r):
            if dep not in by_name:
                diags.append(Diagnostic("E_DEPENDENCY", _rule_span(r),
                                        f"rule {r.name!r} depends on {dep!r}, which is not "
                                        "loaded"))
    if diags:
        raise CompileError(diags)
    order: list[CompiledRule] = []
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            raise CompileError([Diagnostic("E_DEPENDENCY_CYCLE", _rule_span(by_name[name]),
                                           f"rules depend on each other: {' -> '.join(cycle)}")])
        state[name] = 1
        for dep in deps(by_name[name]):
            visit(dep, path + [dep])
        state[name] = 2
        order.append(by_name[name])

    for name in sorted(by_name):
        visit(name, [name])
    return order


def _rule_span(r: CompiledRule) -> Span:
    return Span(str(r.program.metadata.get("file", r.name)), 1, 1)


# ------------------------------------------------------------------ convenience

RULE_SUFFIXES = (".yaml", ".yml", ".json", ".rtvm")


def rule_files(paths: Sequence[str | Path]) -> list[Path]:
    """Rule files among the paths; directories are searched recursively, skipping
    `*.test.yaml` files and documents that are not rules."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.suffix in RULE_SUFFIXES and
                          not f.name.endswith((".test.yaml", ".test.yml", ".test.json")) and
                          _looks_like_rule(f))
        else:
            out.append(p)
    return out


def _looks_like_rule(f: Path) -> bool:
    """Skip tables, rulesets and test files found in a rules directory."""
    if f.suffix == ".rtvm":
        return True
    try:
        doc = yaml.safe_load(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return True  # let the compiler report it with a position
    return not (isinstance(doc, dict) and "rule" not in doc and
                any(k in doc for k in ("table", "ruleset", "tests")))


def load_rules(paths: Sequence[str | Path], **kwargs: Any) -> list[CompiledRule]:
    """Compile every rule file (or load every .rtvm) under the paths; all errors at once."""
    compiled: list[CompiledRule] = []
    errors: list[Diagnostic] = []
    sources: dict[str, str] = {}
    for f in rule_files(paths):
        try:
            if f.suffix == ".rtvm":
                compiled.append(load_bytecode(f.read_bytes()))
            else:
                compiled.append(compile_file(f, **kwargs))
        except CompileError as exc:
            errors += exc.diagnostics
            if exc.source:
                sources[str(f)] = exc.source
        except ArkaError as exc:
            errors.append(Diagnostic(exc.code, Span(str(f), 1, 1), exc.message))
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(Diagnostic("E_IO", Span(str(f), 1, 1), f"cannot read: {exc}"))
    if errors:
        raise CompileError(errors, sources=sources)
    return compiled


def evaluate(rules: Sequence[CompiledRule], input: dict[str, Any],
             context: dict[str, Any] | None = None, *, tables: TableSet | None = None,
             trace: str = "none") -> EvaluationResult:
    """One-shot evaluation: `arka.evaluate([rule], {"transaction": {...}}, {"jurisdiction": "US"})`."""
    return RuleSet(rules, tables).evaluate(input, context, trace=trace)
