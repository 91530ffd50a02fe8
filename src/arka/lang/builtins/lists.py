"""Collections: quantifiers, aggregations and list transforms (docs: "Collections")."""

from __future__ import annotations

import functools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from arka.base import values as V
from arka.base.errors import EvalError
from arka.lang import types as T
from arka.lang.builtins.declaration import (
    FN1,
    FN_ACC,
    B,
    Builtin,
    D,
    P,
    Runtime,
    S,
    const,
    each,
    elem,
    lambda_ret,
    meter,
    need,
    same_list,
    text_cost,
)


def _items(xs: Any, fname: str) -> list[Any]:
    if xs is None:
        return []
    if not isinstance(xs, list):
        raise EvalError(f"{fname}() needs a list, got {V.a_type_name(xs)}", code="E_TYPE")
    return xs


# Every loop below walks its list through `each`, which charges one instruction per
# element to the rule's meter before the element is used (so a long list stops at the
# instruction or time limit, inside the builtin).

def _any(rt: Runtime, xs: Any, f: Callable[..., Any]) -> bool:
    return any(V.truthy(f(x)) for x in each(rt, _items(xs, "any")))


def _all(rt: Runtime, xs: Any, f: Callable[..., Any]) -> bool:
    return all(V.truthy(f(x)) for x in each(rt, _items(xs, "all")))


def _none(rt: Runtime, xs: Any, f: Callable[..., Any]) -> bool:
    return not any(V.truthy(f(x)) for x in each(rt, _items(xs, "none")))


def _mapped(rt: Runtime, xs: Any, f: Callable[..., Any] | None, fname: str) -> list[Any]:
    items = each(rt, _items(xs, fname))
    return [f(x) for x in items] if f is not None else list(items)


def _count(rt: Runtime, xs: Any, f: Callable[..., Any] | None = None) -> Decimal:
    items = each(rt, _items(xs, "count"))
    if f is not None:
        return Decimal(sum(1 for x in items if V.truthy(f(x))))
    return Decimal(sum(1 for x in items if x is not None))


def _numbers(rt: Runtime, xs: Any, f: Callable[..., Any] | None, fname: str) -> list[Decimal]:
    out = []
    for v in _mapped(rt, xs, f, fname):
        if v is None:
            continue
        out.append(need(v, Decimal, fname, "elements"))
    return out


def _total(nums: list[Decimal]) -> Decimal:  # nums were charged as they were collected
    total = V.ZERO
    for v in nums:
        total = V.add(total, v)
    return total


def _sum(rt: Runtime, xs: Any, f: Callable[..., Any] | None = None) -> Decimal:
    return _total(_numbers(rt, xs, f, "sum"))


def _avg(rt: Runtime, xs: Any, f: Callable[..., Any] | None = None) -> Decimal | None:
    nums = _numbers(rt, xs, f, "avg")
    if not nums:
        return None
    return V.div(_total(nums), Decimal(len(nums)), rt.division_scale)


def _extreme(rt: Runtime, xs: Any, f: Callable[..., Any] | None, fname: str, op: str) -> Any:
    best = None
    for v in _mapped(rt, xs, f, fname):  # charged as they were mapped
        if v is None:
            continue
        if best is None or V.compare(op, v, best):
            best = v
    return best


def _min(rt: Runtime, xs: Any, f: Callable[..., Any] | None = None) -> Any:
    return _extreme(rt, xs, f, "min", "<")


def _max(rt: Runtime, xs: Any, f: Callable[..., Any] | None = None) -> Any:
    return _extreme(rt, xs, f, "max", ">")


def _filter(rt: Runtime, xs: Any, f: Callable[..., Any]) -> list[Any]:
    return [x for x in each(rt, _items(xs, "filter")) if V.truthy(f(x))]


def _map(rt: Runtime, xs: Any, f: Callable[..., Any]) -> list[Any]:
    return [f(x) for x in each(rt, _items(xs, "map"))]


def _flat_map(rt: Runtime, xs: Any, f: Callable[..., Any]) -> list[Any]:
    out: list[Any] = []
    m = meter(rt)
    for x in each(rt, _items(xs, "flat_map")):
        r = f(x)
        if r is None:
            continue
        part = need(r, list, "flat_map", "lambda result")
        m.alloc(8 * len(part))  # before the copy: a list of lists must not multiply unseen
        out.extend(part)
    return out


def _reduce(rt: Runtime, xs: Any, init: Any, f: Callable[..., Any]) -> Any:
    acc = init
    for x in each(rt, _items(xs, "reduce")):
        acc = f(acc, x)
    return acc


def _sort_by(rt: Runtime, xs: Any, f: Callable[..., Any], order: Any = "asc") -> list[Any]:
    order = "asc" if order is None else order
    if order not in ("asc", "desc"):
        raise EvalError('sort_by() order must be "asc" or "desc"', code="E_ARGUMENT")
    items = _items(xs, "sort_by")
    keys = [f(x) for x in each(rt, items)]
    sign = 1 if order == "asc" else -1
    step = meter(rt).step

    def cmp(i: int, j: int) -> int:  # stable; null keys last in either order
        step()  # one instruction per comparison: a sort is charged as it runs
        a, b = keys[i], keys[j]
        if a is None or b is None:
            return ((a is None) - (b is None)) or (i - j)
        if V.compare("<", a, b):
            return -sign
        if V.compare(">", a, b):
            return sign
        return i - j

    return [items[i] for i in sorted(range(len(items)), key=functools.cmp_to_key(cmp))]


def _group_by(rt: Runtime, xs: Any, f: Callable[..., Any]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    m = meter(rt)
    for x in each(rt, _items(xs, "group_by")):
        key = f(x)
        if isinstance(key, list | dict):
            V.walk(key, m.step)  # its text form visits every element
        text = V.to_text(key)
        m.step(text_cost(text))
        group = groups.get(text)
        if group is None:
            group = groups[text] = []
            m.alloc(V.value_size(group) + V.value_size(text))
        m.alloc(8)
        group.append(x)
    return {k: groups[k] for k in sorted(groups)}


def _distinct(rt: Runtime, xs: Any) -> list[Any]:
    # One dictionary lookup per element, by a key that is equal exactly when the values
    # are (`equality_key`): linear, where a scan of the kept elements was quadratic.
    seen: set[Any] = set()
    out: list[Any] = []
    step = meter(rt).step
    for x in each(rt, _items(xs, "distinct")):
        key = V.equality_key(x, step)
        if key not in seen:
            seen.add(key)
            out.append(x)
    return out


def _first(rt: Runtime, xs: Any) -> Any:
    items = _items(xs, "first")
    return items[0] if items else None


def _last(rt: Runtime, xs: Any) -> Any:
    items = _items(xs, "last")
    return items[-1] if items else None


def _size(rt: Runtime, xs: Any) -> Decimal:
    if xs is None:
        return V.ZERO
    if isinstance(xs, list | str | dict):
        return Decimal(len(xs))
    raise EvalError(f"size() needs a list, string or object, got {V.a_type_name(xs)}",
                    code="E_TYPE")


def _contains(rt: Runtime, xs: Any, item: Any) -> bool:
    if isinstance(xs, str) and isinstance(item, str):
        meter(rt).step(text_cost(xs))
    return V.contains(xs, item, meter(rt).step)


BUILTINS: tuple[Builtin, ...] = (
    Builtin("any", (P("list", T.LIST), P("predicate", FN1)), const(B),
            "True when the predicate holds for some element.", _any),
    Builtin("all", (P("list", T.LIST), P("predicate", FN1)), const(B),
            "True when the predicate holds for every element (true for an empty list).", _all),
    Builtin("none", (P("list", T.LIST), P("predicate", FN1)), const(B),
            "True when the predicate holds for no element.", _none),
    Builtin("count", (P("list", T.LIST), P("predicate", FN1, True)), const(D),
            "Number of non-null elements, or of elements matching the predicate.", _count),
    Builtin("sum", (P("list", T.LIST), P("value", FN1, True)), const(D),
            "Exact sum of the (mapped) elements, nulls skipped; sum([]) = 0.", _sum),
    Builtin("avg", (P("list", T.LIST), P("value", FN1, True)), const(D),
            "Average of the (mapped) elements, nulls skipped; avg([]) = null.", _avg),
    Builtin("min", (P("list", T.LIST), P("value", FN1, True)),
            lambda a: lambda_ret(a) if len(a) > 1 else elem(a),
            "Smallest (mapped) element, nulls skipped; null for an empty list.", _min),
    Builtin("max", (P("list", T.LIST), P("value", FN1, True)),
            lambda a: lambda_ret(a) if len(a) > 1 else elem(a),
            "Largest (mapped) element, nulls skipped; null for an empty list.", _max),
    Builtin("filter", (P("list", T.LIST), P("predicate", FN1)), same_list,
            "Elements for which the predicate holds, in order.", _filter),
    Builtin("map", (P("list", T.LIST), P("transform", FN1)), lambda a: T.list_of(lambda_ret(a)),
            "The transform applied to every element.", _map),
    Builtin("flat_map", (P("list", T.LIST), P("transform", FN1)), const(T.LIST),
            "The transform's lists, concatenated.", _flat_map),
    Builtin("reduce", (P("list", T.LIST), P("init", T.ANY), P("step", FN_ACC)),
            lambda a: a[1] if len(a) > 1 and T.is_known(a[1]) else T.ANY,
            "Folds the list: `reduce(xs, 0, (acc, x) => acc + x)`.", _reduce),
    Builtin("sort_by", (P("list", T.LIST), P("key", FN1), P("order", S, True)), same_list,
            'Stable sort by key, "asc" (default) or "desc"; null keys last.', _sort_by),
    Builtin("group_by", (P("list", T.LIST), P("key", FN1)), const(T.OBJECT),
            "Object from each key's text to the elements with that key.", _group_by),
    Builtin("distinct", (P("list", T.LIST),), same_list,
            "Elements without repeats, first occurrence kept.", _distinct),
    Builtin("first", (P("list", T.LIST),), elem, "First element, or null.", _first),
    Builtin("last", (P("list", T.LIST),), elem, "Last element, or null.", _last),
    Builtin("size", (P("value", T.ANY),), const(D),
            "Length of a list, string or object; size(null) = 0.", _size),
    Builtin("contains", (P("container", T.ANY), P("item", T.ANY)), const(B),
            "List element, substring or object key test (same as `item in container`).",
            _contains),
)
