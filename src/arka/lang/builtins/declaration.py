"""What a builtin is: its declaration record, the runtime it may read, how call-site
arguments bind to its parameters, and the shared return-type and argument-check helpers
the family modules build their entries with."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from arka.base import values as V
from arka.base.errors import EvalError
from arka.lang import types as T
from arka.lang.types import Type


class Runtime(Protocol):
    """What a builtin may read from the running evaluation (never the outside world)."""

    @property
    def now(self) -> datetime: ...

    @property
    def jurisdiction(self) -> str | None: ...

    @property
    def division_scale(self) -> int: ...

    def threshold(self, type_: str, jurisdiction: str | None, default: Any, table: str | None
                  ) -> Any: ...

    def convert_currency(self, amount: Decimal, src: str, dst: str) -> Decimal: ...

    def table_rows(self, name: str) -> list[Any]: ...

    def rule_result(self, name: str) -> Any: ...

    def plugin_call(self, spec: dict[str, Any], args: dict[str, Any]) -> tuple[Any, int]:
        """A plugin call's value (outside the VM: the engine records it), and its index
        in the rule's recorded `plugin_calls`."""
        ...


class Signature(Protocol):
    """What binding call-site arguments needs of a function (a builtin, a plugin export)."""

    @property
    def name(self) -> str: ...

    @property
    def params(self) -> Sequence[Any]: ...  # each with .name and .optional

    @property
    def variadic(self) -> bool: ...

    @property
    def min_args(self) -> int: ...

    def signature(self) -> str: ...


class Meter(Protocol):
    """The running rule's budget. Builtins charge it as they work, so a loop over a long
    list, a sort or a walk over a nested value stops at the rule's limits, not after."""

    def step(self, n: int = 1) -> None:
        """Count `n` instructions; raises LimitExceeded past the instruction or time limit."""

    def alloc(self, nbytes: int) -> None:
        """Count `nbytes` of values built; raises LimitExceeded past the heap limit."""


class _Unmetered:
    """The meter of a runtime that is not running inside the RTVM (it counts nothing)."""

    def step(self, n: int = 1) -> None:
        return None

    def alloc(self, nbytes: int) -> None:
        return None


UNMETERED: Meter = _Unmetered()


class Metered:
    """The runtime the RTVM hands to builtins: the evaluation's runtime and the rule's meter."""

    __slots__ = ("base", "meter")

    def __init__(self, base: Runtime, meter: Meter):
        self.base = base
        self.meter = meter

    @property
    def now(self) -> datetime:
        return self.base.now

    @property
    def jurisdiction(self) -> str | None:
        return self.base.jurisdiction

    @property
    def division_scale(self) -> int:
        return self.base.division_scale

    def threshold(self, type_: str, jurisdiction: str | None, default: Any, table: str | None
                  ) -> Any:
        return self.base.threshold(type_, jurisdiction, default, table)

    def convert_currency(self, amount: Decimal, src: str, dst: str) -> Decimal:
        return self.base.convert_currency(amount, src, dst)

    def table_rows(self, name: str) -> list[Any]:
        return self.base.table_rows(name)

    def rule_result(self, name: str) -> Any:
        return self.base.rule_result(name)

    def plugin_call(self, spec: dict[str, Any], args: dict[str, Any]) -> tuple[Any, int]:
        return self.base.plugin_call(spec, args)


def meter(rt: Runtime) -> Meter:
    """The budget a builtin charges: the RTVM's for a metered runtime, else none."""
    return rt.meter if isinstance(rt, Metered) else UNMETERED


def each(rt: Runtime, xs: list[Any]) -> Iterator[Any]:
    """The elements of `xs`, one instruction charged per element as the loop reaches it."""
    step = meter(rt).step
    for x in xs:
        step()
        yield x


def text_cost(s: str) -> int:
    """Instructions charged for reading a string: one per 64 characters (at least one)."""
    return 1 + len(s) // 64


# Parameter type specs beyond plain types: a lambda over the list's elements, and
# reduce's `(acc, x)` lambda.
FN1 = "fn1"
FN_ACC = "fn_acc"

D, S, B = T.DECIMAL, T.STRING, T.BOOLEAN
TIME = T.Type("any")  # date or datetime, checked at run time (a distinct instance for the docs)


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    type: Type | str  # a Type, or FN1 / FN_ACC
    optional: bool = False


def P(name: str, type_: Type | str, optional: bool = False) -> Param:
    return Param(name, type_, optional)


@dataclass(frozen=True, slots=True)
class Builtin:
    name: str
    params: tuple[Param, ...]
    returns: Callable[[list[Type]], Type]
    doc: str
    impl: Callable[..., Any]
    variadic: bool = False  # the last param repeats
    null_in_null_out: bool = False  # a null first argument gives null without calling impl

    @property
    def min_args(self) -> int:
        return sum(1 for p in self.params if not p.optional)

    @property
    def max_args(self) -> int | None:
        return None if self.variadic else len(self.params)

    def signature(self) -> str:
        parts = [f"{p.name}{'?' if p.optional else ''}: {_type_label(p.type)}"
                 for p in self.params]
        if self.variadic:
            parts[-1] += "..."
        return f"{self.name}({', '.join(parts)})"


def _type_label(t: Type | str) -> str:
    if not isinstance(t, Type):
        return "lambda"
    return "date|datetime" if t is TIME else str(t)


def bind_arguments(b: Signature, npos: int, names: Sequence[str], *, label: str | None = None
                   ) -> list[int | None] | str:
    """Map call-site arguments to parameter slots.

    Returns, per parameter slot, the index of the call argument that fills it (positional
    ones first, then named ones in call order), or an error message (naming the function
    as `label`, default its name).
    """
    fname = label or b.name
    if b.variadic:
        if names:
            return f"{fname}() takes no named arguments"
        if npos < b.min_args:
            return f"{fname}() takes at least {b.min_args} argument(s), got {npos}"
        return list(range(npos))
    nparams = len(b.params)
    if npos > nparams:
        return (f"{fname}() takes at most {nparams} argument(s), got {npos}: "
                f"{b.signature()}")
    slots: list[int | None] = [i if i < npos else None for i in range(nparams)]
    for k, name in enumerate(names):
        idx = next((i for i, p in enumerate(b.params) if p.name == name), None)
        if idx is None:
            return f"{fname}() has no parameter {name!r}: {b.signature()}"
        if slots[idx] is not None:
            return f"{fname}() got {name!r} twice"
        slots[idx] = npos + k
    missing = [p.name for p, s in zip(b.params, slots, strict=True) if s is None and not p.optional]
    if missing:
        return f"{fname}() is missing argument {missing[0]!r}: {b.signature()}"
    # trailing unfilled optional slots are dropped; inner gaps are filled with null
    while slots and slots[-1] is None:
        slots.pop()
    return slots


# ------------------------------------------------------------------ return types

def const(t: Type) -> Callable[[list[Type]], Type]:
    return lambda _args: t


def elem(args: list[Type]) -> Type:
    t = args[0] if args else T.ANY
    return t.elem if t.kind == "list" and t.elem is not None else T.ANY


def same_list(args: list[Type]) -> Type:
    return args[0] if args and args[0].kind == "list" else T.LIST


def lambda_ret(args: list[Type], i: int = 1) -> Type:
    t = args[i] if len(args) > i else T.ANY
    return t.ret if t.kind == "function" and t.ret is not None else T.ANY


# ------------------------------------------------------------------ argument checks

def need(v: Any, kind: type | tuple[type, ...], fname: str, what: str) -> Any:
    if not isinstance(v, kind) or isinstance(v, bool) and kind is not bool:
        raise EvalError(f"{fname}() {what} must be {_kind_name(kind)}, got {V.a_type_name(v)}",
                        code="E_TYPE")
    return v


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {Decimal: "a decimal", str: "a string", list: "a list", datetime: "a datetime",
             date: "a date", dict: "an object", timedelta: "a duration", bool: "a boolean"}
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)


def need_int(v: Any, fname: str, what: str) -> int:
    need(v, Decimal, fname, what)
    if v != v.to_integral_value():
        raise EvalError(f"{fname}() {what} must be a whole number, got {V.decimal_text(v)}",
                        code="E_ARGUMENT")
    if abs(v) > 10**9:
        raise EvalError(f"{fname}() {what} is out of range", code="E_ARGUMENT")
    return int(v)
