"""Rendering notification texts with a sandboxed Jinja2: templates written by tenants run
in `ImmutableSandboxedEnvironment` (no private attributes, no mutating built-in
objects), plain text (no autoescape), a missing variable is an error, and the work a
template may do is bounded: output size, string and list repetition and concatenation,
format widths, loop iterations and calls, wall-clock time."""

from __future__ import annotations

import math
import re
import string
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.filters import make_attrgetter
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from arka.base.errors import ArkaError
from arka.base.lru import LRUCache

LIMIT = 100_000  # characters of output by default
STEPS = 1_000_000  # loop iterations plus calls per render
BUILT = 20  # times the output limit: characters all intermediate values may total
INT_BITS = 4096  # the largest integer a product or power may make
SECONDS = 2.0  # wall-clock time per render
# nested calls (a macro calling itself): bounded here, not by Python's recursion limit,
# which a library in the same process may have raised beyond what the C stack holds
DEPTH = 64
CACHE = 256  # compiled templates kept
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[a-zA-Z%]")
_WIDTHS = re.compile(r"\d+")
# filters that turn their value (and arguments) into text
_TEXT_FILTERS = frozenset(["string", "format", "pprint", "tojson", "center", "indent",
                           "wordwrap", "truncate", "upper", "lower", "title", "capitalize",
                           "trim", "replace", "striptags", "urlize", "wordcount", "escape",
                           "e", "forceescape", "urlencode", "safe", "sum"])


class TemplateError(ArkaError):
    """A notification template that does not compile or render."""

    code = "E_TEMPLATE"


class _Budget(threading.local):
    """The limits of the render running on this thread."""

    limit = LIMIT
    steps = 0
    built = 0
    depth = 0
    deadline = float("inf")


_budget = _Budget()


def _refuse(reason: str) -> SecurityError:
    return SecurityError(reason)


def _step() -> None:
    _budget.steps += 1
    if _budget.steps > STEPS:
        raise _refuse(f"the template ran more than {STEPS} loop iterations and calls")
    if _budget.steps % 1024 == 0 and time.monotonic() > _budget.deadline:
        raise _refuse(f"the template ran longer than {SECONDS:g} s")


def _size(value: Any) -> int:
    """About how many characters a string, or a list, tuple, set or dict (with everything
    inside it) makes as text, counted only up to just past the limit; 0 for other
    values."""
    if isinstance(value, str | bytes):
        return len(value)
    if not isinstance(value, list | tuple | set | frozenset | dict):
        return 0
    cap, total, stack = _budget.limit + 1, 0, [value]
    while stack and total < cap:
        item = stack.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            if total < cap:
                stack.extend(item)
        else:
            total += 1
    return total


def _check_size(size: int, what: str) -> None:
    """Refuse a value of `size` characters or items above the limit, and count it against
    the total a render may build."""
    if size > _budget.limit:
        raise _refuse(f"{what} would make {size} characters or items, more than the limit "
                      f"of {_budget.limit}")
    _budget.built += size
    if _budget.built > _budget.limit * BUILT:
        raise _refuse(f"the template built more than {_budget.limit * BUILT} characters in "
                      f"intermediate values")


def _loop_guard(iterable: Iterable[Any]) -> Iterator[Any]:
    """`iterable`, each item counted as a step."""
    for item in iterable:
        _step()
        yield item


def _check_widths(fmt: str, what: str) -> None:
    for match in _PERCENT_SPEC.finditer(fmt):
        for width in match.groups():
            if width == "*" or (width and int(width) > _budget.limit):
                raise _refuse(f"{what}: a field width or precision above {_budget.limit} "
                              f"(or '*')")


def _join(environment: jinja2.Environment, value: Iterable[Any], d: str = "",
          attribute: str | int | None = None) -> str:
    """The `join` filter, refusing a result above the limit before building it."""
    items = list(_loop_guard(value))
    if attribute is not None:
        getter = make_attrgetter(environment, attribute)
        items = [getter(item) for item in items]
    sep = str(d)
    _check_size(sum(_size(item) for item in items) + len(sep) * max(len(items) - 1, 0),
                "filter 'join'")
    texts = [str(item) for item in items]
    _check_size(sum(len(t) for t in texts) + len(sep) * max(len(texts) - 1, 0),
                "filter 'join'")
    return sep.join(texts)


def _bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose parameters (not the value it filters) stay within the limit as
    numbers, and whose result, estimated before it is built where it can grow much,
    stays within the limit."""
    passes = hasattr(func, "jinja_pass_arg")

    def run(*args: Any, **kwargs: Any) -> Any:
        _step()
        plain = args[1:] if passes else args
        values = list(plain) + list(kwargs.values())
        for value in values[1:]:
            if isinstance(value, int) and not isinstance(value, bool) and (
                    abs(value) > _budget.limit):
                raise _refuse(f"filter {name!r}: the number {value} is above the limit of "
                              f"{_budget.limit}")
        if name in _TEXT_FILTERS:
            _check_size(sum(_size(v) for v in values), f"filter {name!r}")
        if name == "sum" and not isinstance(kwargs.get("start", plain[2] if len(plain) > 2
                                                       else 0), int | float):
            raise _refuse("filter 'sum' adds numbers only (start must be a number)")
        if name == "wordwrap" and plain and isinstance(plain[0], str):
            width = plain[1] if len(plain) > 1 else kwargs.get("width", 79)
            wrap = kwargs.get("wrapstring", plain[3] if len(plain) > 3 else None) or "\n"
            if isinstance(width, int) and isinstance(wrap, str):
                _check_size(len(plain[0]) + (len(plain[0]) // max(width, 1) + 1) * len(wrap),
                            "filter 'wordwrap'")
        text = plain[0] if plain and isinstance(plain[0], str) else None
        if text is not None and name == "replace" and len(plain) >= 3 and isinstance(
                plain[1], str) and isinstance(plain[2], str):
            _check_size(len(text) + text.count(plain[1]) * len(plain[2]) if plain[1]
                        else (len(text) + 1) * (len(plain[2]) + 1), "filter 'replace'")
        if text is not None and name == "indent":
            width = plain[1] if len(plain) > 1 else kwargs.get("width", 4)
            pad = len(width) if isinstance(width, str) else int(width)
            _check_size(len(text) + (text.count("\n") + 1) * pad, "filter 'indent'")
        if text is not None and name == "format":
            _check_widths(text, "filter 'format'")
        result = func(*args, **kwargs)
        _check_size(_size(result), f"filter {name!r}")
        return result

    run.__name__ = getattr(func, "__name__", name)
    if passes:
        run.jinja_pass_arg = func.jinja_pass_arg  # type: ignore[attr-defined]
    return run


class _Generator(CodeGenerator):
    """Compiles `a ~ b` to `environment.bounded_join`, which checks the size first."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox with bounded operators, calls, loops, formats and filters."""

    code_generator_class = _Generator
    intercepted_binops = frozenset(["*", "**", "+", "%", "//"])

    def __init__(self) -> None:
        super().__init__(autoescape=False, undefined=jinja2.StrictUndefined,
                         keep_trailing_newline=True, cache_size=0, finalize=self._output)
        filters = {**self.filters, "join": jinja2.pass_environment(_join)}
        self.filters = {name: _bounded_filter(name, func) for name, func in filters.items()}
        self.globals.pop("lipsum", None)  # lipsum(n) writes n paragraphs

    @staticmethod
    def _output(value: Any) -> Any:
        """Every `{{ ... }}` value, checked before it is turned into text."""
        _check_size(_size(value), "the value written")
        return value

    @staticmethod
    def loop_guard(iterable: Iterable[Any]) -> Iterator[Any]:
        return _loop_guard(iterable)

    def bounded_join(self, parts: Iterable[Any]) -> str:
        items = list(parts)
        _check_size(sum(_size(p) for p in items), "joining with '~'")
        texts = [str(p) for p in items]
        _check_size(sum(len(t) for t in texts), "joining with '~'")
        return "".join(texts)

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any,
                   right: Any) -> Any:
        _step()
        if operator == "*":
            if isinstance(left, int) and isinstance(right, int) and (
                    left.bit_length() + right.bit_length() > INT_BITS):
                raise _refuse(f"a product larger than 2**{INT_BITS}")
            for seq, times in ((left, right), (right, left)):
                if _size(seq) and isinstance(times, int):
                    _check_size(_size(seq) * times, "repeating a string or list")
        elif operator == "+":
            if _size(left) or _size(right):
                _check_size(_size(left) + _size(right), "concatenating")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and (
                    right * math.log2(abs(left)) > INT_BITS):
                raise _refuse(f"{left} ** {right} is larger than 2**{INT_BITS}")
        elif operator == "%" and isinstance(left, str):
            _check_widths(left, "'%' formatting")
            _check_size(len(left) + _size(right), "'%' formatting")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: jinja2.runtime.Context, __obj: Any,  # noqa: N805
             *args: Any, **kwargs: Any) -> Any:
        _step()
        if _budget.depth >= DEPTH:
            raise _refuse(f"the template nests calls more than {DEPTH} deep (a macro "
                          "that calls itself without end?)")
        _budget.depth += 1
        try:
            return super().call(__context, __obj, *args, **kwargs)
        finally:
            _budget.depth -= 1

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt: str = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            for _, field, spec, _ in string.Formatter().parse(fmt):
                if spec and ("{" in spec or any(int(n) > _budget.limit
                                               for n in _WIDTHS.findall(spec))):
                    raise _refuse(f"str.format: field {field!r} has a width above "
                                  f"{_budget.limit} or a nested width")
            _check_size(len(fmt) + sum(_size(a) for a in [*args, *kwargs.values()]),
                        "str.format")
            return wrapped(*args, **kwargs)

        return checked

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            guard = nodes.EnvironmentAttribute("loop_guard", lineno=loop.lineno)
            loop.iter = nodes.Call(guard, [loop.iter], [], None, None, lineno=loop.lineno)
        tree.set_environment(self)
        return tree


_env = _Sandbox()
_cache: LRUCache[jinja2.Template] = LRUCache(CACHE)


def _compile(template: str) -> jinja2.Template:
    try:
        return _env.from_string(template)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error on line {exc.lineno}: {exc.message}; "
                            f"see the Jinja2 template syntax") from None


def render(template: str, data: dict[str, Any], *, limit: int = LIMIT) -> str:
    """`template` rendered with `data` as its variables. Raises TemplateError naming the
    problem: a syntax error (with its line), an undefined name, a sandbox violation,
    output longer than `limit` characters, or a template or intermediate value longer
    than `limit` or `LIMIT`, whichever is larger."""
    if not isinstance(template, str):
        raise TemplateError(f"a template is text, not {type(template).__name__}")
    if len(template) > max(limit, LIMIT):
        raise TemplateError(f"the template is {len(template)} characters long, more than "
                            f"the limit of {max(limit, LIMIT)}")
    compiled = _cache.get_or_build(template, lambda: _compile(template))
    # intermediate values may be as large as the default limit even when the output may
    # not (a subject line can still shorten a long text)
    _budget.limit, _budget.steps, _budget.built = max(limit, LIMIT), 0, 0
    _budget.depth = 0
    _budget.deadline = time.monotonic() + SECONDS
    out: list[str] = []
    size = 0
    try:
        for piece in compiled.generate(**data):
            size += len(piece)
            if size > limit:
                raise TemplateError(f"the rendered text is longer than the limit of {limit} "
                                    f"characters")
            out.append(piece)
    except TemplateError:
        raise
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"template: {exc.message}; the variables are: "
                            f"{', '.join(sorted(data)) or '(none)'}") from None
    except SecurityError as exc:
        raise TemplateError(f"template refused by the sandbox: {exc}") from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"template error: {exc.message}") from None
    except RecursionError:
        raise TemplateError("template failed: macros call themselves too deeply") from None
    except (ArithmeticError, TypeError, ValueError, LookupError) as exc:
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}") from None
    finally:
        _budget.limit, _budget.steps, _budget.built = LIMIT, 0, 0
        _budget.deadline = float("inf")
    return "".join(out)
