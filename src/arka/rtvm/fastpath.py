"""The RTVM fast path: validated bytecode translated once into Python functions.

Each bytecode function becomes one Python function whose operand-stack slots are local
variables (the loader proved the depth at every instruction) and whose forward jumps
become `if`/`else` blocks. The translation accepts exactly the control-flow shapes the
compiler emits (if-then, if-then-else diamonds, forward only); for anything else
`translate` raises `Untranslatable` and the engine runs the interpreter (`vm.Execution`),
which remains the reference implementation of the bytecode. Both share every value
operation and builtin, and tests check that they agree.

Limits are enforced like the interpreter's: call depth and stack on every call,
instructions counted per executed block and checked (with wall time) before each builtin
call and at the end, heap charged on every value built. Errors carry no span here: the
engine re-runs a failing rule on the interpreter, which reports the exact source position.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from arka.base import values as V
from arka.base.errors import EvalError, LimitExceeded
from arka.lang import builtins as B
from arka.lang.builtins import Metered, Runtime
from arka.rtvm import bytecode as bc
from arka.rtvm.loader import Instr, LoadedFunction, LoadedProgram
from arka.rtvm.vm import Limits, Outcome

_MISSING = object()
_IN_PROGRESS = object()
_ACTION_OPS = bc.ACTION_OP_NAMES  # ACTION, and format 1's per-type opcodes
_CMP = {"LT": "<", "LE": "<=", "GT": ">", "GE": ">="}
_ARITH = {"ADD": "_add", "SUB": "_sub", "MUL": "_mul", "MOD": "_mod"}
_CHECK_EVERY = 1024  # instructions charged by builtins between wall-time checks
# Python refuses source indented ~100 levels deep; deeper control flow stays interpreted.
_MAX_INDENT = 60


class Untranslatable(Exception):
    """Bytecode whose control flow the fast path does not handle (the interpreter does)."""


class State:
    """Per-evaluation state shared by the generated functions of one rule."""

    __slots__ = ("inputs", "context", "rt", "memo", "depth", "stack", "n", "heap", "deadline",
                 "next_clock", "conds", "triggers", "actions", "trace", "tracing", "limits",
                 "fns")
    # set by FastProgram.run for a whole rule; a bare expression never records them
    conds: dict[str, Any]
    triggers: dict[int, bool]
    actions: list[tuple[int, str, Any]]
    trace: list[dict[str, Any]]

    def __init__(self, fns: list[Callable[..., Any]], inputs: dict[str, Any],
                 context: dict[str, Any], rt: Runtime, limits: Limits, tracing: bool,
                 blank_memo: list[Any]):
        self.fns = fns
        self.inputs = inputs
        self.context = context
        self.rt = Metered(rt, self)  # builtins charge this state's budget
        self.memo = blank_memo.copy()
        self.depth = self.stack = self.n = self.heap = 0
        self.deadline = time.monotonic() + limits.max_execution_time
        self.next_clock = _CHECK_EVERY
        self.tracing = tracing
        self.limits = limits

    # The meter of `arka.lang.builtins.Meter`, with the interpreter's semantics.
    def step(self, n: int = 1) -> None:
        self.n += n
        if self.n > self.limits.max_instructions:
            _tick(self)
        if self.n >= self.next_clock:
            self.next_clock = self.n + _CHECK_EVERY
            _tick(self)

    def alloc(self, nbytes: int) -> None:
        self.heap += nbytes
        if self.heap > self.limits.max_heap_size:
            raise LimitExceeded(f"values built by this rule exceed max_heap_size "
                                f"({self.limits.max_heap_size} bytes)", code="E_LIMIT_HEAP")


# ------------------------------------------------------------------ runtime helpers

def _tick(x: State) -> None:
    if x.n > x.limits.max_instructions:
        raise LimitExceeded(f"rule ran more than max_instructions ({x.limits.max_instructions})",
                            code="E_LIMIT_INSTRUCTIONS")
    if time.monotonic() > x.deadline:
        raise LimitExceeded(f"rule ran longer than max_execution_time "
                            f"({x.limits.max_execution_time}s)", code="E_LIMIT_TIME")


def _enter_fail(x: State) -> None:
    x.depth -= 1
    if x.depth >= x.limits.max_call_depth:
        raise LimitExceeded(f"calls nested deeper than max_call_depth "
                            f"({x.limits.max_call_depth})", code="E_LIMIT_CALL_DEPTH")
    raise LimitExceeded(f"operand stack would exceed max_stack_depth "
                        f"({x.limits.max_stack_depth})", code="E_LIMIT_STACK")


def _charge(x: State, v: Any) -> Any:
    x.alloc(V.value_size(v))
    return v


def _eq(x: State, a: Any, b: Any) -> bool:
    return V.equals(a, b, x.step)


def _contains(x: State, container: Any, item: Any) -> bool:
    return V.contains(container, item, x.step)


def _text(x: State, v: Any) -> str:
    if type(v) is list or type(v) is dict:
        V.walk(v, x.step)  # its text visits every element
    return V.to_text(v)


def _output(x: State, v: Any) -> None:
    if type(v) is list or type(v) is dict:
        x.alloc(16 * V.walk(v, x.step))


def _memo(x: State, fi: int) -> Any:
    v = x.memo[fi]
    if v is _IN_PROGRESS:
        raise EvalError("definition depends on itself", code="E_CYCLE")
    if v is _MISSING:
        x.memo[fi] = _IN_PROGRESS
        try:
            v = x.fns[fi](x)
        except BaseException:
            x.memo[fi] = _MISSING
            raise
        x.memo[fi] = v
    return v


def _builtin(x: State, b: B.Builtin, *args: Any) -> Any:
    if b.null_in_null_out and args[0] is None:
        return None
    _tick(x)
    return _charge(x, b.impl(x.rt, *args))


def _field(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    raise EvalError(f"{V.a_type_name(obj)} has no field {name!r}", code="E_TYPE")


def _bool_error(v: Any) -> None:
    V.truthy(v)


def _not(v: Any) -> bool:
    if v is True:
        return False
    if v is False or v is None:
        return True
    return not V.truthy(v)


def _arith(op: Callable[[Any, Any], Any]) -> Callable[[State, Any, Any], Any]:
    def run(x: State, a: Any, b: Any) -> Any:
        r = op(a, b)
        if type(r) is str or type(r) is list:
            _charge(x, r)
        return r
    return run


def _cond(x: State, cid: str, v: Any) -> None:
    x.conds[cid] = v
    if x.tracing:
        x.trace.append({"event": "condition", "id": cid, "value": v})


def _evidence(x: State, index: int, v: Any) -> None:
    x.triggers[index] = v
    if x.tracing:
        x.trace.append({"event": "trigger", "action": index, "value": v})


def _action(x: State, index: int, atype: str, config: Any) -> None:
    _output(x, config)
    x.actions.append((index, atype, config))
    if x.tracing:
        x.trace.append({"event": "action", "action": index, "type": atype})


def _plugin(x: State, spec: dict[str, Any], *args: Any) -> Any:
    """A plugin call, as the interpreter's CALL_PLUGIN makes it."""
    named = dict(zip(spec["args"], args, strict=True))
    _tick(x)
    r, index = x.rt.plugin_call(spec, named)
    _charge(x, r)
    if x.tracing:
        x.trace.append({"event": "plugin_call", "call": index, "plugin": spec["plugin"],
                        "function": spec["function"], "args": named, "result": r})
    return r


_HELPERS: dict[str, Any] = {
    "_D": Decimal, "_tick": _tick, "_enter_fail": _enter_fail,
    "_charge": _charge, "_memo": _memo, "_builtin": _builtin, "_field": _field,
    "_bool_error": _bool_error, "_not": _not, "_truthy": V.truthy,
    "_add": _arith(V.add), "_sub": _arith(V.sub), "_mul": _arith(V.mul), "_mod": _arith(V.mod),
    "_div": V.div, "_neg": V.neg, "_eq": _eq, "_compare": V.compare,
    "_contains": _contains, "_index": V.index_value, "_text": _text, "_partial":
    functools.partial, "_cond": _cond, "_evidence": _evidence, "_action": _action,
    "_B": B.BUILTINS, "_plugin": _plugin,
}


# ------------------------------------------------------------------ translation

class _FunctionWriter:
    def __init__(self, fi: int, fn: LoadedFunction, program: LoadedProgram):
        self.fi = fi
        self.fn = fn
        self.program = program
        self.code = fn.code
        self.lines: list[str] = []
        self.cond_ids = [c["id"] for c in program.metadata["conditions"]]
        self.action_types = program.action_types

    def depth(self, i: int) -> int:
        d = self.fn.depths[i]
        if d is None:
            raise Untranslatable(f"{self.fn.name}: unreachable code at {i}")
        return d

    def write(self) -> str:
        fn = self.fn
        params = ", ".join(f"L{i}" for i in range(fn.n_captures + fn.n_params))
        if not any(ins.op in ("CALL_MEMO", "CALL_BUILTIN") for ins in self.code):
            # A leaf calls no other function, so its frame needs no bookkeeping: checking
            # that it would fit is the same limit as counting it.
            head = [f"def F{self.fi}(X{', ' + params if params else ''}):",
                    f"    if X.depth >= MAX_CALL or X.stack + {fn.max_stack} > MAX_STACK: "
                    "X.depth += 1; _enter_fail(X)"]
            self.block(0, len(self.code), 1)
            return "\n".join(head + self.lines)
        head = [f"def F{self.fi}(X{', ' + params if params else ''}):",
                f"    X.depth += 1; X.stack += {fn.max_stack}",
                f"    if X.depth > MAX_CALL or X.stack > MAX_STACK: X.stack -= {fn.max_stack}; "
                "_enter_fail(X)",
                "    try:"]
        self.block(0, len(self.code), 2)
        tail = ["    finally:", f"        X.depth -= 1; X.stack -= {fn.max_stack}"]
        return "\n".join(head + self.lines + tail)

    def emit(self, indent: int, text: str) -> None:
        self.lines.append("    " * indent + text)

    def block(self, start: int, end: int, indent: int) -> None:
        """Emit instructions [start, end) at `indent`, with structured forward jumps."""
        if indent > _MAX_INDENT:
            raise Untranslatable(f"{self.fn.name}: branches nested deeper than {_MAX_INDENT}")
        i = start
        count = 0
        count_at = len(self.lines)
        self.emit(indent, "X.n += 0")  # patched with the block's instruction count
        while i < end:
            ins = self.code[i]
            count += 1
            if ins.op in ("JUMP_IF_FALSE", "JUMP_IF_TRUE"):
                i = self.branch(i, ins, end, indent)
                continue
            if ins.op == "JUMP":
                raise Untranslatable(f"{self.fn.name}: unstructured jump at {i}")
            self.straight(i, ins, indent)
            i += 1
            if ins.op in ("RET", "HALT"):
                break
        self.lines[count_at] = "    " * indent + f"X.n += {count}"

    def branch(self, i: int, ins: Instr, end: int, indent: int) -> int:
        t = ins.a
        if not i < t <= end:
            raise Untranslatable(f"{self.fn.name}: jump from {i} to {t} leaves its block")
        v = f"s{self.depth(i) - 1}"
        diamond = t - 1 > i and self.code[t - 1].op == "JUMP" and t < self.code[t - 1].a <= end
        if diamond:
            t2 = self.code[t - 1].a
            fall, target, after = (i + 1, t - 1), (t, t2), t2
        else:
            fall, target, after = (i + 1, t), (t, t), t
        true_part, false_part = (fall, target) if ins.op == "JUMP_IF_FALSE" else (target, fall)
        self.emit(indent, f"if {v} is True:")
        self.region(true_part, indent + 1)
        self.emit(indent, "else:")
        self.emit(indent + 1, f"if {v} is not False and {v} is not None: _bool_error({v})")
        self.region(false_part, indent + 1)
        return after

    def region(self, part: tuple[int, int], indent: int) -> None:
        a, b = part
        if a < b:
            self.block(a, b, indent)
        else:
            self.emit(indent, "pass")

    def straight(self, i: int, ins: Instr, indent: int) -> None:
        d = self.depth(i)
        op, a, b = ins.op, ins.a, ins.b
        top, second = f"s{d - 1}", f"s{d - 2}"
        new = f"s{d}"
        e = functools.partial(self.emit, indent)
        if op == "CONST":
            e(f"{new} = K[{a}]")
        elif op == "POP":
            pass
        elif op == "DUP":
            e(f"{new} = {top}")
        elif op == "LOAD_LOCAL":
            e(f"{new} = L{a}")
        elif op == "LOAD_INPUT":
            e(f"{new} = X.inputs.get(K[{a}])")
        elif op == "LOAD_CONTEXT":
            e(f"{new} = X.context")
        elif op == "CALL_MEMO":
            e(f"{new} = X.memo[{a}]")
            e(f"if type({new}) is object: {new} = _memo(X, {a})  # not yet computed")
        elif op in _ARITH:
            e(f"{second} = {_ARITH[op]}(X, {second}, {top})")
        elif op == "DIV":
            e(f"{second} = _div({second}, {top}, {a})")
        elif op == "NEG":
            e(f"{top} = _neg({top})")
        elif op in ("EQ", "NE"):
            # Same-typed text or decimals compare directly; everything else goes to equals().
            same = (f"(type({second}) is str and type({top}) is str or "
                    f"type({second}) is _D and type({top}) is _D)")
            if op == "EQ":
                e(f"{second} = ({second} == {top}) if {same} else _eq(X, {second}, {top})")
            else:
                e(f"{second} = ({second} != {top}) if {same} else not _eq(X, {second}, {top})")
        elif op in _CMP:
            sym = _CMP[op]
            e(f"{second} = ({second} {sym} {top}) if type({second}) is _D and type({top}) is _D "
              f"else _compare({sym!r}, {second}, {top})")
        elif op == "IN":
            e(f"{second} = _contains(X, {top}, {second})")
        elif op == "NOT_IN":
            e(f"{second} = not _contains(X, {top}, {second})")
        elif op == "NOT":
            e(f"{top} = _not({top})")
        elif op == "TO_BOOL":
            e(f"if {top} is not True and {top} is not False: {top} = _truthy({top})")
        elif op == "RET":
            e(f"return {top}")
        elif op == "HALT":
            e("return None")
        elif op == "CALL_BUILTIN":
            args = ", ".join(f"s{k}" for k in range(d - b, d))
            e(f"s{d - b} = _builtin(X, _B[{a}]{', ' + args if args else ''})")
        elif op == "MAKE_CLOSURE":
            caps = ", ".join(f"s{k}" for k in range(d - b, d))
            e(f"s{d - b} = _partial(X.fns[{a}], X{', ' + caps if caps else ''})")
        elif op == "GET_FIELD":
            e(f"{top} = {top}.get(K[{a}]) if type({top}) is dict else _field({top}, K[{a}])")
        elif op == "GET_INDEX":
            e(f"{second} = _index({second}, {top})")
        elif op == "BUILD_LIST":
            items = ", ".join(f"s{k}" for k in range(d - a, d))
            e(f"s{d - a} = _charge(X, [{items}])")
        elif op == "BUILD_OBJECT":
            pairs = ", ".join(f"s{k}: s{k + 1}" for k in range(d - 2 * a, d, 2))
            e(f"s{d - 2 * a} = _charge(X, {{{pairs}}})")
        elif op == "CONCAT":
            parts = ", ".join(f"_text(X, s{k})" for k in range(d - a, d))
            e(f"s{d - a} = _charge(X, ''.join(({parts}{',' if a == 1 else ''})))")
        elif op == "NOW":
            e(f"{new} = X.rt.now")
        elif op == "COND_RESULT":
            e(f"_cond(X, {self.cond_ids[a]!r}, {top})")
        elif op == "EVIDENCE":
            e(f"_evidence(X, {a}, {top})")
        elif op in _ACTION_OPS:
            e(f"_action(X, {a}, {self.action_types[a]!r}, {top})")
        elif op == "RULE_REF":
            e(f"{new} = X.rt.rule_result(K[{a}])")
        elif op == "CALL_PLUGIN":  # a call out of the VM, never back into it
            args = ", ".join(f"s{k}" for k in range(d - b, d))
            e(f"s{d - b} = _plugin(X, P[{a}]{', ' + args if args else ''})")
        else:
            raise Untranslatable(f"no translation for {op}")


class FastProgram:
    """A rule's bytecode as Python functions; `run` matches `vm.Execution.run`."""

    def __init__(self, program: LoadedProgram, limits: Limits):
        self.program = program
        self.limits = limits
        source = "\n\n".join(_FunctionWriter(i, fn, program).write()
                             for i, fn in enumerate(program.functions))
        namespace: dict[str, Any] = dict(_HELPERS)
        namespace.update(K=program.constants, MAX_CALL=limits.max_call_depth,
                         MAX_STACK=limits.max_stack_depth,
                         P=program.metadata.get("plugins") or [])
        try:
            code = compile(source, f"<rtvm {program.metadata['rule']['name']}>", "exec")
        except (SyntaxError, RecursionError, MemoryError, ValueError) as exc:
            raise Untranslatable(f"generated code does not compile: {exc}") from None
        exec(code, namespace)  # noqa: S102 - our own generated, validated translation
        self.source = source
        self.functions: list[Callable[..., Any]] = [namespace[f"F{i}"] for i in
                                                    range(len(program.functions))]
        self.blank_memo = [_MISSING] * len(self.functions)

    def state(self, inputs: dict[str, Any], context: dict[str, Any], rt: Runtime,
              tracing: bool = False) -> State:
        return State(self.functions, inputs, context, rt, self.limits, tracing, self.blank_memo)

    def run(self, inputs: dict[str, Any], context: dict[str, Any], rt: Runtime,
            trace: str = "none") -> Outcome:
        x = self.state(inputs, context, rt, trace == "basic")
        x.conds, x.triggers, x.actions, x.trace = {}, {}, [], []
        try:
            self.functions[0](x)
            _tick(x)
        except EvalError:
            raise
        except RecursionError:
            raise LimitExceeded("evaluation nested too deeply", code="E_LIMIT_CALL_DEPTH") from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError) as exc:
            raise EvalError(f"internal error: {type(exc).__name__}: {exc}",
                            code="E_INTERNAL") from None
        return Outcome(x.conds, x.triggers, x.actions, x.trace, x.n)


def translate(program: LoadedProgram, limits: Limits) -> FastProgram | None:
    """The fast path for a program, or None when its control flow needs the interpreter."""
    try:
        return FastProgram(program, limits)
    except Untranslatable:
        return None
