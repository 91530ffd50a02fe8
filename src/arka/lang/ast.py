"""Expression syntax tree. Every node is immutable and carries the span of its first token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arka.base.errors import Span


@dataclass(frozen=True, slots=True)
class Node:
    span: Span


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: Any  # None, bool, Decimal or str


@dataclass(frozen=True, slots=True)
class Name(Node):
    name: str


@dataclass(frozen=True, slots=True)
class Field(Node):
    obj: Node
    name: str


@dataclass(frozen=True, slots=True)
class Index(Node):
    obj: Node
    index: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A builtin call. `x.f(a)` is `Call("f", (x, a), method=True)`."""

    func: str
    args: tuple[Node, ...]
    kwargs: tuple[tuple[str, Node], ...]
    method: bool = False


@dataclass(frozen=True, slots=True)
class PluginCall(Node):
    plugin: str
    func: str
    args: tuple[Node, ...]
    kwargs: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str  # "-" or "not"
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    """Arithmetic, comparison and membership: + - * / % == != < <= > >= in `not in`."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Logical(Node):
    op: str  # "and" | "or"
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class If(Node):
    cond: Node
    then: Node
    orelse: Node


@dataclass(frozen=True, slots=True)
class Case(Node):
    """`case x when v then r ... else d end`; with subject None each `when` is a condition."""

    subject: Node | None
    whens: tuple[tuple[Node, Node], ...]
    default: Node | None


@dataclass(frozen=True, slots=True)
class ListLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ObjectLit(Node):
    items: tuple[tuple[str, Node], ...]


@dataclass(frozen=True, slots=True)
class Lambda(Node):
    params: tuple[str, ...]
    body: Node


@dataclass(frozen=True, slots=True)
class Interpolation(Node):
    """A string with `${expr}` parts: literal strings and expressions, in order."""

    parts: tuple[str | Node, ...]


def children(node: Node) -> tuple[Node, ...]:
    """Direct sub-expressions, in source order."""
    match node:
        case Field(obj=o):
            return (o,)
        case Index(obj=o, index=i):
            return (o, i)
        case Call(args=a, kwargs=k) | PluginCall(args=a, kwargs=k):
            return a + tuple(v for _, v in k)
        case Unary(operand=o):
            return (o,)
        case Binary(left=left, right=right) | Logical(left=left, right=right):
            return (left, right)
        case If(cond=c, then=t, orelse=e):
            return (c, t, e)
        case Case(subject=s, whens=w, default=d):
            out: list[Node] = [s] if s is not None else []
            for v, r in w:
                out += [v, r]
            if d is not None:
                out.append(d)
            return tuple(out)
        case ListLit(items=items):
            return items
        case ObjectLit(items=items):
            return tuple(v for _, v in items)
        case Lambda(body=b):
            return (b,)
        case Interpolation(parts=parts):
            return tuple(p for p in parts if isinstance(p, Node))
    return ()


def free_names(node: Node, bound: frozenset[str] = frozenset()) -> list[Name]:
    """Names not bound by an enclosing lambda, in source order."""
    out: list[Name] = []

    def walk(n: Node, b: frozenset[str]) -> None:
        if isinstance(n, Name):
            if n.name not in b:
                out.append(n)
            return
        if isinstance(n, Lambda):
            walk(n.body, b | frozenset(n.params))
            return
        for c in children(n):
            walk(c, b)

    walk(node, bound)
    return out
