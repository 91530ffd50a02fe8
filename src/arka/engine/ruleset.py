"""Multi-rule evaluation: selection, input conversion, dependency order, decision.

A `RuleSet` is immutable once built (all rules compiled and their dependencies checked);
`evaluate` runs the applicable rules in dependency order on the RTVM (or on a runner
registered under another name, such as the reference evaluator of `arka.testing`) and
shapes the result (proofs come with the service).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import holidays

from arka import observability as OBS
from arka.base import values as V
from arka.base.calendar import as_date, in_force, jurisdiction_covers
from arka.base.errors import (
    CompileError,
    Diagnostic,
    EvalError,
    InputError,
    LimitExceeded,
    Span,
)
from arka.base.graph import Cycle, dependency_order
from arka.compiler import CompiledRule
from arka.engine.context import normalize_context
from arka.engine.inputs import Converter, compile_schema, convert_input
from arka.engine.plugins import PluginSession
from arka.engine.result import EvaluationResult, _Accumulator, _dependency_view, _json_event
from arka.plugins.host import Host
from arka.rtvm import bytecode as bc
from arka.rtvm.fastpath import FastProgram, translate
from arka.rtvm.vm import TRACE_LEVELS, Execution, Limits, Outcome
from arka.rules.rulesets import STRATEGIES
from arka.rules.tables import TableLookup, TableSet
from arka.version import __version__

ENGINE_VERSION = f"arka-engine/{__version__} rtvm/{bc.FORMAT_VERSION}"
CALENDAR_VERSION = f"holidays/{holidays.__version__}"


class _Runtime:
    """What builtins see of the running evaluation (`arka.lang.builtins.Runtime`)."""

    def __init__(self, context: dict[str, Any], lookup: TableLookup, plugins: PluginSession):
        self.plugins = plugins
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

    def plugin_call(self, spec: dict[str, Any], args: dict[str, Any]) -> tuple[Any, int]:
        return self.plugins.call(spec, args)


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
                   as_date(eff), as_date(exp),
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
        if not in_force(self.effective, self.expiry, on):
            if self.effective and on < self.effective:
                return f"not yet effective on {on.isoformat()} (effective {self.effective})"
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


# A runner executes one rule on converted inputs: (rule, inputs, context, runtime,
# division scale, trace level) -> Outcome. "vm" and "interpreter" are built in; others
# (the reference evaluator of `arka.testing`) are registered by name.
Runner = Callable[[CompiledRule, dict[str, Any], dict[str, Any], Any, int, str], Outcome]
_RUNNERS: dict[str, Runner] = {}
BUILTIN_EXECUTORS = ("vm", "interpreter")


def register_runner(name: str, runner: Runner) -> None:
    """Make `RuleSet.evaluate(..., executor=name)` run rules with `runner`."""
    if name in BUILTIN_EXECUTORS:
        raise ValueError(f"{name} is a built-in executor")
    _RUNNERS[name] = runner


def _check_executor(executor: str) -> None:
    if executor not in BUILTIN_EXECUTORS and executor not in _RUNNERS:
        hint = " (import arka.testing to register it)" if executor == "reference" else ""
        raise ValueError(f"executor must be one of "
                         f"{', '.join((*BUILTIN_EXECUTORS, *sorted(_RUNNERS)))}{hint}")
_RERUN_LIMITS = ("E_LIMIT_CALL_DEPTH", "E_LIMIT_STACK")


class RuleSet:
    """An immutable, dependency-ordered set of compiled rules plus reference tables.

    Building one compiles nothing; it orders the rules, checks their dependencies and
    prepares each rule's fast path once. `evaluate` may be called any number of times.
    """

    def __init__(self, rules: Iterable[CompiledRule], tables: TableSet | None = None, *,
                 strategy: str = "most_severe", limits: Limits | None = None,
                 order_after: dict[str, tuple[str, ...]] | None = None,
                 plugins: Host | None = None):
        self.plugins = plugins
        if strategy not in STRATEGIES:
            raise ValueError(f"aggregate strategy must be one of {STRATEGIES}")
        self.strategy = strategy
        self.tables = tables or TableSet()
        self.limits = limits or Limits()
        self.rules = _dependency_order(list(rules), order_after)
        referenced = {d for r in self.rules for d in r.metadata.get("depends_on", ())}
        self._infos = [_RuleInfo.build(r, self.limits, r.name in referenced) for r in self.rules]

    def evaluate(self, input: dict[str, Any], context: dict[str, Any] | None = None, *,
                 trace: str = "none", executor: str = "vm",
                 recorded_calls: list[dict[str, Any]] | None = None,
                 plugin_data: dict[str, Any] | None = None) -> EvaluationResult:
        """Evaluate an input against every applicable rule.

        Raises InputError (VALIDATION_ERROR) before any rule runs when the input or context
        is unusable; a rule that fails while running is reported in its `rule_results`
        entry and fails closed (the decision is at least `needs_review`). `executor` is
        "vm" (the fast path where possible, else the interpreter), "interpreter" or a
        registered runner ("reference", the tree-walking evaluator of `arka.testing`).
        Plugin calls go to the rule set's plugin host; with `recorded_calls` (a stored
        evaluation's, `arka.engine.plugins.recorded_calls`) they are answered from those.
        `plugin_data` is tenant data applied to plugin answers, by plugin name (the
        sanctions allowlist: `{"sanctions": {"allowlist": {subject_id: [entries]}}}`).
        """
        started = time.perf_counter()
        if not isinstance(input, dict):
            raise InputError("input must be a JSON object of named inputs")
        try:
            values_in = V.from_json(input)
        except EvalError as exc:
            raise InputError(exc.message) from None
        return self.evaluate_values(values_in, normalize_context(context), trace=trace,
                                    executor=executor, started=started,
                                    recorded_calls=recorded_calls, plugin_data=plugin_data)

    def evaluate_values(self, values_in: dict[str, Any], ctx: dict[str, Any], *,
                        trace: str = "none", executor: str = "vm",
                        started: float | None = None,
                        recorded_calls: list[dict[str, Any]] | None = None,
                        plugin_data: dict[str, Any] | None = None) -> EvaluationResult:
        """`evaluate` for an input already in language values (`values.from_json`) and a
        context already normalized (`normalize_context`): the service converts each
        request once and hands the same values to the rules, the proof and the record."""
        if trace not in TRACE_LEVELS:
            raise InputError(f"trace must be one of {', '.join(TRACE_LEVELS)}")
        _check_executor(executor)
        started = time.perf_counter() if started is None else started
        if not isinstance(values_in, dict):
            raise InputError("input must be a JSON object of named inputs")
        on = ctx["timestamp"].date()
        # Every input is checked before any rule runs.
        plan: list[tuple[_RuleInfo, dict[str, Any] | None, str | None]] = []
        for info in self._infos:
            reason = info.skip_reason(ctx, on)
            plan.append((info, None if reason else info.convert_inputs(values_in), reason))
        lookup = TableLookup(self.tables, on)
        session = PluginSession(self.plugins, recorded_calls, plugin_data)
        runtime = _Runtime(ctx, lookup, session)
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
            session.begin_rule()
            if OBS.ENABLED:
                with OBS.span(f"rule {info.name}", {"arka.rule": info.name,
                                                    "arka.rule_version": info.version}) as sp:
                    entry, outcome, emitted = self._run_rule(info, inputs, ctx, runtime, trace,
                                                             executor, acc)
                    sp.set_attribute("arka.rule_status", entry["status"])
            else:
                entry, outcome, emitted = self._run_rule(info, inputs, ctx, runtime, trace,
                                                         executor, acc)
            if session.rule_calls:
                entry["plugin_calls"] = session.rule_calls
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
        runner = _RUNNERS.get(executor)
        if runner is not None:
            return runner(info.rule, inputs, ctx, runtime, info.division_scale, trace)
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
            error = exc.to_dict()
            if "file" in error:  # a position names the rule, whichever executor ran it
                error["file"] = info.name
            entry.update(status="error", conditions={}, error=error)
            acc.errors += 1
            return entry, None, []
        entry["status"] = "fired" if emitted else "not_fired"
        entry["conditions"] = {k: bool(v) for k, v in outcome.conditions.items()}
        return entry, outcome, emitted


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
    try:
        names = dependency_order(by_name, lambda n: deps(by_name[n]))
    except Cycle as cycle:
        raise CompileError([Diagnostic("E_DEPENDENCY_CYCLE", _rule_span(by_name[cycle.path[0]]),
                                       f"rules depend on each other: {cycle}")]) from None
    return [by_name[n] for n in names]


def _rule_span(r: CompiledRule) -> Span:
    return Span(str(r.program.metadata.get("file", r.name)), 1, 1)


