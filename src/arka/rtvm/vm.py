"""The RTVM executor: runs one loaded rule program against one input, within limits.

Single-threaded, no I/O, no wall clock (`NOW` is the context timestamp), no floats. Each
limit (`docs/rtvm-bytecode.md`) is a clean `LimitExceeded` for this rule's evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from arka.base import values as V
from arka.base.errors import EvalError, LimitExceeded
from arka.lang import builtins as B
from arka.lang.builtins import Metered, Runtime
from arka.rtvm import bytecode as bc
from arka.rtvm.loader import LoadedProgram

TRACE_LEVELS = ("none", "basic", "full")
_CHECK_EVERY = 1024  # instructions between wall-time checks
_TRACE_ENTRY_SIZE = 64  # heap charged per instruction recorded by a full trace


@dataclass(frozen=True, slots=True)
class Limits:
    max_stack_depth: int = 1000
    max_call_depth: int = 100
    max_instructions: int = 10_000_000
    max_execution_time: float = 30.0  # seconds
    max_heap_size: int = 64 * 1024 * 1024  # bytes of values built during one evaluation

    def to_json(self) -> dict[str, Any]:
        return {"max_stack_depth": self.max_stack_depth, "max_call_depth": self.max_call_depth,
                "max_instructions": self.max_instructions,
                "max_execution_time": self.max_execution_time,
                "max_heap_size": self.max_heap_size}


@dataclass
class Outcome:
    """What one rule's run produced, before the engine shapes it into a result."""

    conditions: dict[str, bool] = field(default_factory=dict)
    triggers: dict[int, bool] = field(default_factory=dict)
    actions: list[tuple[int, str, Any]] = field(default_factory=list)  # (index, type, config)
    trace: list[dict[str, Any]] = field(default_factory=list)
    instructions: int = 0


_MISSING = object()
_IN_PROGRESS = object()
_ACTION_OPS = bc.ACTION_OP_NAMES  # ACTION, and format 1's per-type opcodes
_COMPARE = {"LT": "<", "LE": "<=", "GT": ">", "GE": ">="}
_ARITH: dict[str, Callable[[Any, Any], Any]] = {"ADD": V.add, "SUB": V.sub, "MUL": V.mul,
                                                "MOD": V.mod}


class Execution:
    def __init__(self, program: LoadedProgram, inputs: dict[str, Any], context: dict[str, Any],
                 runtime: Runtime, limits: Limits, trace: str = "none"):
        if trace not in TRACE_LEVELS:
            raise ValueError(f"trace level must be one of {TRACE_LEVELS}")
        self.program = program
        self.fns = program.functions
        self.consts = program.constants
        self.inputs = inputs
        self.context = context
        self.runtime = Metered(runtime, self)  # builtins charge this execution's budget
        self.limits = limits
        self.trace_level = trace
        self.memo: list[Any] = [_MISSING] * len(self.fns)
        self.count = 0
        self.depth = 0
        self.stack_used = 0
        self.heap = 0
        self.deadline = 0.0
        self.next_clock = _CHECK_EVERY  # instruction count at which wall time is read next
        self.outcome = Outcome()
        meta = program.metadata
        self.cond_ids = [c["id"] for c in meta["conditions"]]
        self.plugin_specs: list[dict[str, Any]] = meta.get("plugins") or []
        self.action_types = program.action_types

    def run(self) -> Outcome:
        self.deadline = time.monotonic() + self.limits.max_execution_time
        self.call(0, ())
        self._tick(0)
        self.outcome.instructions = self.count
        return self.outcome

    # ------------------------------------------------------------ accounting
    def _charge(self, value: Any) -> None:
        self.alloc(V.value_size(value))

    def alloc(self, nbytes: int) -> None:
        """The meter builtins charge for values they build (`arka.lang.builtins.Meter`)."""
        self.heap += nbytes
        if self.heap > self.limits.max_heap_size:
            raise LimitExceeded(f"values built by this rule exceed max_heap_size "
                                f"({self.limits.max_heap_size} bytes)", code="E_LIMIT_HEAP")

    def step(self, n: int = 1) -> None:
        """The meter builtins and value walks charge per element: instructions on every
        call, wall time every _CHECK_EVERY instructions."""
        self.count += n
        if self.count > self.limits.max_instructions:
            raise LimitExceeded(f"rule ran more than max_instructions "
                                f"({self.limits.max_instructions})", code="E_LIMIT_INSTRUCTIONS")
        if self.count >= self.next_clock:
            self.next_clock = self.count + _CHECK_EVERY
            if time.monotonic() > self.deadline:
                raise LimitExceeded(f"rule ran longer than max_execution_time "
                                    f"({self.limits.max_execution_time}s)", code="E_LIMIT_TIME")

    def output(self, value: Any) -> None:
        """A value leaving the VM (an action's config, a traced stack top): its elements
        are counted and its nesting bounded before anyone serialises it."""
        if type(value) is list or type(value) is dict:
            self.alloc(16 * V.walk(value, self.step))

    def _tick(self, steps: int) -> None:
        self.count += steps
        if self.count > self.limits.max_instructions:
            raise LimitExceeded(f"rule ran more than max_instructions "
                                f"({self.limits.max_instructions})", code="E_LIMIT_INSTRUCTIONS")
        if time.monotonic() > self.deadline:
            raise LimitExceeded(f"rule ran longer than max_execution_time "
                                f"({self.limits.max_execution_time}s)", code="E_LIMIT_TIME")

    def closure(self, fi: int, captures: tuple[Any, ...]) -> Callable[..., Any]:
        def invoke(*args: Any) -> Any:
            return self.call(fi, captures + args)
        return invoke

    # ------------------------------------------------------------ the interpreter
    def call(self, fi: int, locals_: tuple[Any, ...]) -> Any:
        fn = self.fns[fi]
        limits = self.limits
        if self.depth >= limits.max_call_depth:
            raise LimitExceeded(f"calls nested deeper than max_call_depth ({limits.max_call_depth})",
                                code="E_LIMIT_CALL_DEPTH", span=fn.spans[0] if fn.spans else None)
        if self.stack_used + fn.max_stack > limits.max_stack_depth:
            raise LimitExceeded(f"operand stack would exceed max_stack_depth "
                                f"({limits.max_stack_depth})", code="E_LIMIT_STACK",
                                span=fn.spans[0] if fn.spans else None)
        if len(locals_) != fn.n_params + fn.n_captures:
            raise EvalError(f"{fn.name} called with {len(locals_)} values, takes "
                            f"{fn.n_params + fn.n_captures}", code="E_ARITY")
        self.depth += 1
        self.stack_used += fn.max_stack
        code = fn.code
        consts = self.consts
        stack: list[Any] = []
        push = stack.append
        pop = stack.pop
        full = self.trace_level == "full"
        ip = 0
        steps = 0
        try:
            while True:
                ins = code[ip]
                ip += 1
                steps += 1
                if steps >= _CHECK_EVERY:
                    self._tick(steps)
                    steps = 0
                op = ins.op
                if full:
                    top = stack[-1] if stack and not callable(stack[-1]) else None
                    self.alloc(_TRACE_ENTRY_SIZE)
                    self.output(top)
                    self.outcome.trace.append({"fn": fn.name, "pc": ins.offset, "op": op,
                                               "top": V.to_json(top)})
                if op == "CONST":
                    push(consts[ins.a])
                elif op == "LOAD_INPUT":
                    push(self.inputs.get(consts[ins.a]))
                elif op == "GET_FIELD":
                    obj = pop()
                    if obj is None:
                        push(None)
                    elif type(obj) is dict:
                        push(obj.get(consts[ins.a]))
                    else:
                        raise EvalError(f"{V.a_type_name(obj)} has no field "
                                        f"{consts[ins.a]!r}", code="E_TYPE")
                elif op == "LOAD_LOCAL":
                    push(locals_[ins.a])
                elif op == "CALL_MEMO":
                    push(self.memo_value(ins.a))
                elif op == "JUMP_IF_FALSE":
                    v = pop()
                    if v is not True:
                        if v is not False and v is not None:
                            V.truthy(v)
                        ip = ins.a
                elif op == "JUMP_IF_TRUE":
                    v = pop()
                    if v is True:
                        ip = ins.a
                    elif v is not False and v is not None:
                        V.truthy(v)
                elif op == "JUMP":
                    ip = ins.a
                elif op == "TO_BOOL":
                    v = stack[-1]
                    if v is not True and v is not False:
                        stack[-1] = V.truthy(v)
                elif op in _COMPARE:
                    b = pop()
                    stack[-1] = V.compare(_COMPARE[op], stack[-1], b)
                elif op == "EQ":
                    b = pop()
                    stack[-1] = V.equals(stack[-1], b, self.step)
                elif op == "NE":
                    b = pop()
                    stack[-1] = not V.equals(stack[-1], b, self.step)
                elif op in _ARITH:
                    b = pop()
                    r = _ARITH[op](stack[-1], b)
                    if type(r) is str or type(r) is list:
                        self._charge(r)
                    stack[-1] = r
                elif op == "DIV":
                    b = pop()
                    stack[-1] = V.div(stack[-1], b, ins.a)
                elif op == "RET":
                    return pop()
                elif op == "HALT":
                    return None
                elif op == "DUP":
                    push(stack[-1])
                elif op == "POP":
                    pop()
                elif op == "NOT":
                    stack[-1] = not V.truthy(stack[-1])
                elif op == "NEG":
                    stack[-1] = V.neg(stack[-1])
                elif op == "IN":
                    b = pop()
                    stack[-1] = V.contains(b, stack[-1], self.step)
                elif op == "NOT_IN":
                    b = pop()
                    stack[-1] = not V.contains(b, stack[-1], self.step)
                elif op == "LOAD_CONTEXT":
                    push(self.context)
                elif op == "CALL_BUILTIN":
                    argc = ins.b
                    args = stack[len(stack) - argc:]
                    del stack[len(stack) - argc:]
                    b_ = B.BUILTINS[ins.a]
                    if b_.null_in_null_out and args[0] is None:
                        push(None)
                    else:
                        self._tick(steps)
                        steps = 0
                        r = b_.impl(self.runtime, *args)
                        self._charge(r)
                        push(r)
                elif op == "MAKE_CLOSURE":
                    n = ins.b
                    caps = tuple(stack[len(stack) - n:]) if n else ()
                    if n:
                        del stack[len(stack) - n:]
                    push(self.closure(ins.a, caps))
                elif op == "GET_INDEX":
                    idx = pop()
                    stack[-1] = V.index_value(stack[-1], idx)
                elif op == "BUILD_LIST":
                    n = ins.a
                    items = stack[len(stack) - n:] if n else []
                    if n:
                        del stack[len(stack) - n:]
                    self._charge(items)
                    push(items)
                elif op == "BUILD_OBJECT":
                    n = ins.a
                    flat = stack[len(stack) - 2 * n:] if n else []
                    if n:
                        del stack[len(stack) - 2 * n:]
                    obj = {flat[i]: flat[i + 1] for i in range(0, 2 * n, 2)}
                    self._charge(obj)
                    push(obj)
                elif op == "CONCAT":
                    n = ins.a
                    parts = stack[len(stack) - n:] if n else []
                    if n:
                        del stack[len(stack) - n:]
                    for p in parts:
                        if type(p) is list or type(p) is dict:
                            V.walk(p, self.step)  # its text visits every element
                    text = "".join(V.to_text(p) for p in parts)
                    self._charge(text)
                    push(text)
                elif op == "NOW":
                    push(self.runtime.now)
                elif op == "COND_RESULT":
                    v = pop()
                    cid = self.cond_ids[ins.a]
                    self.outcome.conditions[cid] = v
                    if self.trace_level != "none":
                        self.outcome.trace.append({"event": "condition", "id": cid, "value": v})
                elif op == "EVIDENCE":
                    v = pop()
                    self.outcome.triggers[ins.a] = v
                    if self.trace_level != "none":
                        self.outcome.trace.append({"event": "trigger", "action": ins.a,
                                                   "value": v})
                elif op in _ACTION_OPS:
                    config = pop()
                    self.output(config)
                    atype = self.action_types[ins.a]
                    self.outcome.actions.append((ins.a, atype, config))
                    if self.trace_level != "none":
                        self.outcome.trace.append({"event": "action", "action": ins.a,
                                                   "type": atype})
                elif op == "RULE_REF":
                    push(self.runtime.rule_result(consts[ins.a]))
                elif op == "CALL_PLUGIN":
                    argc = ins.b
                    args = stack[len(stack) - argc:] if argc else []
                    if argc:
                        del stack[len(stack) - argc:]
                    self._tick(steps)
                    steps = 0
                    spec = self.plugin_specs[ins.a]
                    named = dict(zip(spec["args"], args, strict=True))
                    r, index = self.runtime.plugin_call(spec, named)
                    self._charge(r)
                    if self.trace_level != "none":
                        self.outcome.trace.append({"event": "plugin_call", "call": index,
                                                   "plugin": spec["plugin"],
                                                   "function": spec["function"],
                                                   "args": named, "result": r})
                    push(r)
                else:  # pragma: no cover - the loader rejects unknown opcodes
                    raise EvalError(f"unknown instruction {op}", code="E_INTERNAL")
        except EvalError as exc:
            if exc.span is None:
                exc.span = fn.spans[ip - 1] if 0 < ip <= len(fn.spans) else None
            raise
        except RecursionError:
            raise LimitExceeded("evaluation nested too deeply", code="E_LIMIT_CALL_DEPTH",
                                span=fn.spans[ip - 1] if 0 < ip <= len(fn.spans) else None
                                ) from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError,
                OverflowError) as exc:
            # Fail closed: a fault in a builtin is this rule's error, never a crash.
            raise EvalError(f"internal error in {fn.name}: {type(exc).__name__}: {exc}",
                            code="E_INTERNAL",
                            span=fn.spans[ip - 1] if 0 < ip <= len(fn.spans) else None) from None
        finally:
            self.count += steps
            self.depth -= 1
            self.stack_used -= fn.max_stack

    def memo_value(self, fi: int) -> Any:
        v = self.memo[fi]
        if v is _MISSING:
            self.memo[fi] = _IN_PROGRESS
            try:
                v = self.call(fi, ())
            except BaseException:
                self.memo[fi] = _MISSING
                raise
            self.memo[fi] = v
        elif v is _IN_PROGRESS:
            raise EvalError(f"{self.fns[fi].name} depends on itself", code="E_CYCLE")
        return v
