"""The reference evaluator: a small tree-walking interpreter over the checked rule.

It is the executable definition of what a rule means. It shares the value semantics
(`arka.base.values`) and the standard library with the RTVM but nothing of the compiler or
the VM, so differential tests of the two catch compiler and VM bugs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from arka.base import values as V
from arka.base.errors import EvalError, LimitExceeded
from arka.compiler import CompiledRule
from arka.engine import register_runner
from arka.lang import ast
from arka.lang import builtins as B
from arka.lang.builtins import Runtime
from arka.rtvm.vm import Limits, Outcome
from arka.rules.model import RuleDef

_MISSING = object()
_IN_PROGRESS = object()
_MAX_CALL_DEPTH = Limits().max_call_depth


class ReferenceEvaluator:
    def __init__(self, rule: RuleDef, inputs: dict[str, Any], context: dict[str, Any],
                 runtime: Runtime, division_scale: int = V.DEFAULT_DIVISION_SCALE,
                 trace: str = "none", plugin_specs: list[dict[str, Any]] | None = None):
        self.rule = rule
        self.plugin_specs = plugin_specs or []
        self.out = Outcome()
        self.inputs = inputs
        self.context = context
        self.runtime = runtime
        self.scale = division_scale
        self.trace = trace
        self.defs: dict[str, ast.Node] = {let.name: let.expr for let in rule.lets}
        self.cond_ids = {c.id for c in rule.conditions}
        for c in rule.conditions:
            self.defs[c.id] = c.expr
        self.memo: dict[str, Any] = {}
        self.depth = 0  # nested calls, counted as the VM counts them

    def run(self) -> Outcome:
        """The rule's outcome. Calls nest as in the VM (the rule, then one level for each
        let or condition computed and each lambda call), at most `max_call_depth` deep; a
        rule that would need more Python stack than the host has fails the same way."""
        try:
            with self.nested():
                return self._run()
        except RecursionError:
            raise LimitExceeded("evaluation nested too deeply", code="E_LIMIT_CALL_DEPTH") \
                from None

    @contextmanager
    def nested(self) -> Iterator[None]:
        if self.depth >= _MAX_CALL_DEPTH:
            raise LimitExceeded(f"calls nested deeper than max_call_depth ({_MAX_CALL_DEPTH})",
                                code="E_LIMIT_CALL_DEPTH")
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1

    def _run(self) -> Outcome:
        out = self.out
        basic = self.trace != "none"
        for c in self.rule.conditions:
            v = self.definition(c.id)
            out.conditions[c.id] = v
            if basic:
                out.trace.append({"event": "condition", "id": c.id, "value": v})
        for a in self.rule.actions:
            fired = V.truthy(self.eval(a.trigger, {}))
            out.triggers[a.index] = fired
            if basic:
                out.trace.append({"event": "trigger", "action": a.index, "value": fired})
            if fired:
                out.actions.append((a.index, a.type, self.eval(a.config, {})))
                if basic:
                    out.trace.append({"event": "action", "action": a.index, "type": a.type})
        return out

    def definition(self, name: str) -> Any:
        v = self.memo.get(name, _MISSING)
        if v is _IN_PROGRESS:
            raise EvalError(f"{name} depends on itself", code="E_CYCLE")
        if v is _MISSING:
            self.memo[name] = _IN_PROGRESS
            try:
                with self.nested():
                    v = self.eval(self.defs[name], {})
                if name in self.cond_ids:
                    v = V.truthy(v)
            except BaseException:
                del self.memo[name]
                raise
            self.memo[name] = v
        return v

    def eval(self, node: ast.Node, scope: dict[str, Any]) -> Any:
        try:
            return self._eval(node, scope)
        except EvalError as exc:
            if exc.span is None:
                exc.span = node.span
            raise

    def _eval(self, node: ast.Node, scope: dict[str, Any]) -> Any:
        ev = self.eval
        match node:
            case ast.Literal(value=v):
                return v
            case ast.Name(name=name):
                if name in scope:
                    return scope[name]
                if name in self.defs:
                    return self.definition(name)
                if name == "context":
                    return self.context
                return self.inputs.get(name)
            case ast.Field(obj=obj, name=fname):
                o = ev(obj, scope)
                if o is None:
                    return None
                if not isinstance(o, dict):
                    raise EvalError(f"{V.a_type_name(o)} has no field {fname!r}", code="E_TYPE")
                return o.get(fname)
            case ast.Index(obj=obj, index=index):
                return V.index_value(ev(obj, scope), ev(index, scope))
            case ast.Call():
                return self.call(node, scope)
            case ast.PluginCall():
                return self.plugin_call(node, scope)
            case ast.Unary(op="not", operand=o):
                return not V.truthy(ev(o, scope))
            case ast.Unary(operand=o):
                return V.neg(ev(o, scope))
            case ast.Binary(op=op, left=left, right=right):
                a, b = ev(left, scope), ev(right, scope)
                return _binary(op, a, b, self.scale)
            case ast.Arithmetic(ops=ops, operands=operands, op_spans=spans):
                acc = ev(operands[0], scope)
                for op, span, operand in zip(ops, spans, operands[1:], strict=True):
                    b = ev(operand, scope)
                    try:
                        acc = _binary(op, acc, b, self.scale)
                    except EvalError as exc:
                        if exc.span is None:
                            exc.span = span
                        raise
                return acc
            case ast.Logical(op=op, operands=operands):
                # `and` stops at the first false operand, `or` at the first true one.
                decides = op == "or"
                return decides if any(V.truthy(ev(o, scope)) is decides for o in operands) \
                    else not decides
            case ast.If(cond=c, then=t, orelse=e):
                return ev(t, scope) if V.truthy(ev(c, scope)) else ev(e, scope)
            case ast.Case(subject=subject, whens=whens, default=default):
                s = ev(subject, scope) if subject is not None else None
                for value, result in whens:
                    v = ev(value, scope)
                    hit = V.equals(s, v) if subject is not None else V.truthy(v)
                    if hit:
                        return ev(result, scope)
                return ev(default, scope) if default is not None else None
            case ast.ListLit(items=items):
                return [ev(i, scope) for i in items]
            case ast.ObjectLit(items=items):
                return {k: ev(v, scope) for k, v in items}
            case ast.Interpolation(parts=parts):
                return "".join(p if isinstance(p, str) else V.to_text(ev(p, scope))
                               for p in parts)
        raise EvalError(f"cannot evaluate {type(node).__name__}", code="E_INTERNAL")

    def call(self, node: ast.Call, scope: dict[str, Any]) -> Any:
        if node.func == "rule_result" and len(node.args) == 1:
            return self.runtime.rule_result(self.eval(node.args[0], scope))
        b = B.BUILTINS[B.BY_NAME[node.func]]
        args_nodes = list(node.args) + [v for _, v in node.kwargs]
        binding = B.bind_arguments(b, len(node.args), [k for k, _ in node.kwargs])
        assert not isinstance(binding, str)
        args: list[Any] = []
        for i in binding:
            if i is None:
                args.append(None)
                continue
            arg = args_nodes[i]
            if isinstance(arg, ast.Lambda):
                args.append(self.lambda_value(arg, scope))
            else:
                args.append(self.eval(arg, scope))
        if b.null_in_null_out and args[0] is None:
            return None
        return b.impl(self.runtime, *args)

    def plugin_call(self, node: ast.PluginCall, scope: dict[str, Any]) -> Any:
        """The call through the engine's plugin session, as the VM makes it: the supplied
        arguments by parameter name (positional ones are the first parameters)."""
        names = [k for k, _ in node.kwargs]
        n = len(node.args) + len(names)
        spec = next((s for s in self.plugin_specs if s["plugin"] == node.plugin and
                     s["function"] == node.func and len(s["args"]) == n and
                     set(names) <= set(s["args"][len(node.args):])), None)
        if spec is None:
            raise EvalError(f"plugin.{node.plugin}.{node.func} is not in the compiled rule's "
                            "plugin calls", code="E_INTERNAL")
        positional = [a for a in spec["args"] if a not in names][:len(node.args)]
        nodes = dict(zip(positional, node.args, strict=True))
        nodes.update(node.kwargs)
        args = {a: self.eval(nodes[a], scope) for a in spec["args"]}  # in the VM's order
        value, index = self.runtime.plugin_call(spec, args)
        if self.trace != "none":
            self.out.trace.append({"event": "plugin_call", "call": index,
                                   "plugin": spec["plugin"], "function": spec["function"],
                                   "args": args, "result": value})
        return value

    def lambda_value(self, lam: ast.Lambda, scope: dict[str, Any]) -> Any:
        def invoke(*values: Any) -> Any:
            inner = dict(scope)
            inner.update(zip(lam.params, values, strict=True))
            with self.nested():
                return self.eval(lam.body, inner)
        return invoke


def _binary(op: str, a: Any, b: Any, scale: int) -> Any:
    if op == "+":
        return V.add(a, b)
    if op == "-":
        return V.sub(a, b)
    if op == "*":
        return V.mul(a, b)
    if op == "/":
        return V.div(a, b, scale)
    if op == "%":
        return V.mod(a, b)
    if op == "==":
        return V.equals(a, b)
    if op == "!=":
        return not V.equals(a, b)
    if op == "in":
        return V.contains(b, a)
    if op == "not in":
        return not V.contains(b, a)
    return V.compare(op, a, b)


def run_reference(rule: CompiledRule, inputs: dict[str, Any], context: dict[str, Any],
                  runtime: Runtime, division_scale: int, trace: str) -> Outcome:
    """The engine's runner named "reference" (`RuleSet.evaluate(..., executor=...)`)."""
    if rule.rule is None:
        raise ValueError(f"rule {rule.name} was loaded from bytecode; the reference "
                         "evaluator needs its source")
    return ReferenceEvaluator(rule.rule, inputs, context, runtime, division_scale,
                              trace, rule.program.metadata.get("plugins")).run()


register_runner("reference", run_reference)
