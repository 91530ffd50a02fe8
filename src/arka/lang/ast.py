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
    """Comparison and membership: == != < <= > >= in `not in` (they do not chain)."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Arithmetic(Node):
    """A run of operators of one precedence, `a + b - c` or `a * b / c % d`: the operands
    combine left to right, ((a + b) - c). `ops[i]` (at `op_spans[i]`) joins the result so
    far with `operands[i + 1]`; `span` is the first operator's. One node however long the
    run, so a generated 10,000-term sum is not 10,000 levels deep."""

    ops: tuple[str, ...]
    operands: tuple[Node, ...]
    op_spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Logical(Node):
    """`a AND b AND c` (or OR): two or more operands, evaluated left to right until one
    decides; one node however long the run. `op_spans[i]` is the operator before
    `operands[i + 1]`; `span` is the first operator's."""

    op: str  # "and" | "or"
    operands: tuple[Node, ...]
    op_spans: tuple[Span, ...]


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
        case Binary(left=left, right=right):
            return (left, right)
        case Arithmetic(operands=operands) | Logical(operands=operands):
            return operands
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
    todo: list[tuple[Node, frozenset[str]]] = [(node, bound)]  # a stack: no recursion
    while todo:
        n, b = todo.pop()
        if isinstance(n, Name):
            if n.name not in b:
                out.append(n)
        elif isinstance(n, Lambda):
            todo.append((n.body, b | frozenset(n.params)))
        else:
            todo.extend((c, b) for c in reversed(children(n)))
    return out


def too_deep(node: Node, limit: int) -> Node | None:
    """The first node, in source order, whose subtree is more than `limit` levels high
    (a leaf is one level), or None when the whole tree fits. Walks with a stack, so it
    measures trees of any height."""
    heights: dict[int, int] = {}
    found: Node | None = None
    todo: list[tuple[Node, bool]] = [(node, False)]
    while todo:
        n, done = todo.pop()
        kids = children(n)
        if not done:
            todo.append((n, True))
            todo.extend((c, False) for c in kids)
            continue
        h = 1 + max((heights[id(c)] for c in kids), default=0)
        heights[id(n)] = h
        if h == limit + 1 and (found is None or _before(n.span, found.span)):
            found = n
    return found


def _before(a: Span, b: Span) -> bool:
    return (a.line, a.column) < (b.line, b.column)
