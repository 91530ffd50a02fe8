"""What data from outside may look like, checked before it is turned into values.

Every JSON body, JSON/YAML document, configuration file and Python value that enters
ARKA passes these bounds first, so that no input of a few bytes can cost gigabytes or a
crash later (alias bombs, `1e-999999999`, a million nested brackets, a 1 MB integer):

- nesting: at most `MAX_DEPTH` (64) lists/objects inside each other;
- size: a YAML document expands (aliases counted in full) to at most `MAX_NODES` values,
  a JSON text holds at most `MAX_JSON_VALUES`;
- numbers: finite, at most `MAX_DIGITS` (40) significant digits, magnitude between
  1e-60 and 1e60 (`MAX_MAGNITUDE`), at most `MAX_WRITTEN_DIGITS` digits as written;
- text: no lone UTF-16 surrogates (`"\\ud800"`), no NUL in object keys;
- JSON objects: no key twice.

With these bounds, the sum, difference, product and quotient (to 38 places) of any two
accepted numbers is exact within the 200-digit arithmetic of `arka.base.values`.
A violation raises `BoundaryError` (an InputError: HTTP 400) with a stable code, the path
of the offending value (`input.transaction.amount`) and, for text, its line and column.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from itertools import accumulate
from typing import Any

import yaml

from arka.base.errors import InputError, Span

MAX_DEPTH = 64
MAX_NODES = 100_000
MAX_JSON_VALUES = 1_000_000
MAX_DIGITS = 40
MAX_MAGNITUDE = 60
MAX_WRITTEN_DIGITS = 100
MAX_NUMBER_TEXT = 128  # longer number literals cannot be within the bounds above

NUMBER_BOUNDS = (f"at most {MAX_DIGITS} significant digits and a magnitude between "
                 f"1e-{MAX_MAGNITUDE} and 1e{MAX_MAGNITUDE}; send longer identifiers as text")


class BoundaryError(InputError):
    """Input outside the bounds above: `code` says which (E_NESTING, E_TOO_LARGE,
    E_NUMBER, E_UNICODE, E_DUPLICATE_KEY, E_JSON, E_YAML), `path` where."""

    def __init__(self, code: str, path: str, message: str, span: Span | None = None):
        path = path or "body"
        if len(path) > 240:  # long keys or deep paths: keep both ends
            path = path[:120] + "..." + path[-117:]
        detail: dict[str, Any] = {"path": path, "code": code, "message": message}
        if span is not None:
            detail.update(line=span.line, column=span.column)
        super().__init__(f"{path}: {message}", code=code, span=span, details=[detail])
        self.path = path
        self.reason = message


# ------------------------------------------------------------------ numbers and text

def finite_problem(where: str = "") -> str:
    """The message for NaN or Infinity, naming where the number is (`input.tx.amount`)."""
    at = f" at {where}" if where else ""
    return f"the number{at} must be finite (no NaN or Infinity)"


def number_problem(d: Decimal, where: str = "") -> str | None:
    """Why `d` is outside the number bounds, or None when it is fine; `where` is its path."""
    if not d.is_finite():
        return finite_problem(where)
    _, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    written = len(digits)
    if written > MAX_WRITTEN_DIGITS or not -MAX_WRITTEN_DIGITS <= exponent <= MAX_MAGNITUDE:
        return f"number is out of range: {NUMBER_BOUNDS}"
    if d.is_zero():
        return None
    zeros = 0
    while digits[written - 1 - zeros] == 0:
        zeros += 1
    significant = written - zeros
    adjusted = exponent + written - 1
    if significant > MAX_DIGITS or not -MAX_MAGNITUDE <= adjusted <= MAX_MAGNITUDE:
        return f"number is out of range: {NUMBER_BOUNDS}"
    return None


def number_from_text(text: str) -> Decimal | str:
    """A number literal as a Decimal, or why it is refused (checked before converting)."""
    if len(text) > MAX_NUMBER_TEXT:
        return f"number literal of {len(text)} characters is out of range: {NUMBER_BOUNDS}"
    try:
        d = Decimal(text)
    except (InvalidOperation, ValueError):
        return f"invalid number {text!r}"
    return number_problem(d) or d


_SURROGATE = re.compile("[\ud800-\udfff]")


def text_problem(s: str, key: bool = False) -> str | None:
    """Why a string may not enter (a lone surrogate; NUL in a key), or None."""
    if s.isascii():
        return "object keys must not contain NUL (\\u0000)" if key and "\x00" in s else None
    m = _SURROGATE.search(s)
    if m is not None:
        return (f"text holds a lone UTF-16 surrogate U+{ord(m.group()):04X}, which is not a "
                "character; send valid UTF-8 or a surrogate pair")
    if key and "\x00" in s:
        return "object keys must not contain NUL (\\u0000)"
    return None


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


def child_path(path: str, key: str | int) -> str:
    """`input.transaction` + `amount` → `input.transaction.amount`; indexes `[3]`."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _NAME.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=True)}]"


# ------------------------------------------------------------------ JSON

class _Refused:
    """What a parse hook returns for a number it refuses; reported with its path after."""

    __slots__ = ("message",)

    def __init__(self, message: str):
        self.message = message


class _DuplicateKeys(dict[str, Any]):
    """An object in which `key` appeared more than once."""

    key: str = ""


def _number_hook(text: str) -> Decimal | _Refused:
    out = number_from_text(text)
    return out if isinstance(out, Decimal) else _Refused(out)


def _int_hook(text: str) -> Decimal | _Refused:
    # 40 characters hold at most 40 digits below 1e40: always within the bounds
    return Decimal(text) if len(text) <= MAX_DIGITS else _number_hook(text)


def _float_hook(text: str) -> Decimal | _Refused:
    # without an exponent, 41 characters hold at most 40 digits between 1e-40 and 1e40
    if len(text) <= MAX_DIGITS + 1 and "e" not in text and "E" not in text:
        return Decimal(text)
    return _number_hook(text)


def _constant_hook(text: str) -> _Refused:
    return _Refused(f"{text} at {{where}} is not a JSON number: numbers must be finite")


def _pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) == len(pairs):
        return out
    seen: set[str] = set()
    dup = _DuplicateKeys(out)
    for k, _ in pairs:
        if k in seen:
            dup.key = k
            break
        seen.add(k)
    return dup


_JSON_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
_STRINGS = re.compile(_JSON_STRING, re.S)
_NOT_STRUCTURE = re.compile(r"[^\[\]{},]+")
_TOKENS = re.compile(_JSON_STRING + r"(\s*:)?|[\[\]{},]", re.S)
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _position(text: str, pos: int, root: str) -> Span:
    line = text.count("\n", 0, pos) + 1
    return Span(root or "body", line, pos - (text.rfind("\n", 0, pos) + 1) + 1)


def _too_deep(text: str, root: str) -> BoundaryError:
    """Walk the structure to the first container past MAX_DEPTH (only on that error)."""
    stack: list[list[Any]] = []
    path = [root]
    for m in _TOKENS.finditer(text):
        tok = m.group()
        if tok[0] == '"':
            if m.group(1) and stack and stack[-1][0] == "{":
                stack[-1][1] = json.loads(tok[:len(tok) - len(m.group(1))])
            continue
        if tok in "[{":
            if stack:
                path.append(child_path(path[-1], stack[-1][1]))
            if len(stack) >= MAX_DEPTH:
                return BoundaryError("E_NESTING", path[-1],
                                     f"nested deeper than {MAX_DEPTH} lists/objects",
                                     _position(text, m.start(), root))
            stack.append([tok, 0 if tok == "[" else ""])
        elif tok == ",":
            if stack and stack[-1][0] == "[":
                stack[-1][1] += 1
        elif stack:
            stack.pop()
            if len(path) > 1:
                path.pop()
    return BoundaryError("E_NESTING", root, f"nested deeper than {MAX_DEPTH} lists/objects")


def _check_structure(text: str, root: str) -> None:
    """Depth and value count from the brackets outside strings, before parsing."""
    structure = _NOT_STRUCTURE.sub("", _STRINGS.sub("", text))
    if not structure:
        return
    values = len(structure) - structure.count("]") - structure.count("}")
    if values > MAX_JSON_VALUES:
        raise BoundaryError("E_TOO_LARGE", root,
                            f"more than {MAX_JSON_VALUES} values in one JSON text")
    brackets = structure.replace(",", "")
    if len(brackets) > MAX_DEPTH and \
            max(accumulate(map(_STEP.__getitem__, brackets))) > MAX_DEPTH:
        raise _too_deep(text, root)


_PLAIN = frozenset({Decimal, bool, type(None)})


def check_tree(value: Any, root: str) -> None:
    """The first refused number, duplicate key or bad text in a parsed tree, by path."""
    # (value, path of its container, key or index in it); paths are built only for
    # containers and for the value that is refused
    stack: list[tuple[Any, str, str | int | None]] = [(value, root, None)]
    while stack:
        v, parent, key = stack.pop()
        t = type(v)
        if t is str:
            problem = text_problem(v)
            if problem:
                raise BoundaryError("E_UNICODE", _path(parent, key), problem)
        elif t is _Refused:
            where = _path(parent, key)
            raise BoundaryError("E_NUMBER", where, v.message.replace("{where}", where or "body"))
        elif t is list:
            path = _path(parent, key)
            stack += [(v[i], path, i) for i in range(len(v) - 1, -1, -1)
                      if type(v[i]) not in _PLAIN]
        elif t is dict or t is _DuplicateKeys:
            path = _path(parent, key)
            if t is _DuplicateKeys:
                raise BoundaryError("E_DUPLICATE_KEY", child_path(path, v.key),
                                    f"key {v.key!r} appears twice in this object")
            items = list(v.items())
            for k, _ in items:
                problem = text_problem(k, key=True)
                if problem:
                    raise BoundaryError("E_UNICODE", child_path(path, k), problem)
            stack += [(x, path, k) for k, x in reversed(items) if type(x) not in _PLAIN]


def _path(parent: str, key: str | int | None) -> str:
    return parent if key is None else child_path(parent, key)


def load_json(text: str, root: str = "") -> Any:
    """Parse JSON within the bounds: every number an exact Decimal; no NaN/Infinity,
    duplicate keys, lone surrogates or NUL in keys. Raises BoundaryError (E_JSON for
    syntax, with line and column). Paths start at `root` (default: the top level,
    e.g. `input.transaction.amount`; errors of the whole text name `body`)."""
    _check_structure(text, root)
    try:
        data = json.loads(text, parse_float=_float_hook, parse_int=_int_hook,
                          parse_constant=_constant_hook, object_pairs_hook=_pairs_hook)
    except json.JSONDecodeError as exc:
        raise BoundaryError("E_JSON", root, f"not valid JSON: {exc.msg} (line "
                            f"{exc.lineno}, column {exc.colno})",
                            Span(root or "body", exc.lineno, exc.colno)) from None
    except RecursionError:  # unreachable past _check_structure; kept as a clean answer
        raise BoundaryError("E_NESTING", root,
                            f"nested deeper than {MAX_DEPTH} lists/objects") from None
    check_tree(data, root)
    return data


# ------------------------------------------------------------------ YAML

_Safe = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _mark_span(file: str, mark: Any) -> Span:
    return Span(file, mark.line + 1, mark.column + 1) if mark is not None else Span(file, 1, 1)


def check_yaml(text: str, file: str, loader: type = _Safe) -> None:
    """Walk the YAML events (no values built) and refuse a document that nests deeper than
    MAX_DEPTH or expands to more than MAX_NODES values, counting each alias as the whole
    value it repeats. Syntax errors are left to the real load, which reports them."""
    try:
        parser = loader(text)
    except yaml.YAMLError:
        return
    # per open collection: [expanded size so far, deepest nesting below, anchor]
    open_: list[list[Any]] = []
    anchors: dict[str, tuple[int, int]] = {}
    pending: set[str] = set()
    total = 0
    try:
        while True:
            try:
                event = parser.get_event()
            except yaml.YAMLError:
                return
            if event is None or isinstance(event, yaml.StreamEndEvent):
                return
            if isinstance(event, yaml.AliasEvent):
                size, below = anchors.get(event.anchor or "", (1, 0))
                if event.anchor in pending:
                    raise BoundaryError("E_YAML", "document", f"alias *{event.anchor} refers "
                                        "to a value that contains it (a cycle)",
                                        _mark_span(file, event.start_mark))
                nest = len(open_) + below
            elif isinstance(event, yaml.ScalarEvent):
                size, below, nest = 1, 0, len(open_)
            elif isinstance(event, yaml.CollectionStartEvent):
                total += 1
                if len(open_) >= MAX_DEPTH:
                    raise BoundaryError("E_YAML", "document",
                                        f"document nested deeper than {MAX_DEPTH}",
                                        _mark_span(file, event.start_mark))
                if event.anchor:
                    pending.add(event.anchor)
                open_.append([1, 0, event.anchor])
                continue
            elif isinstance(event, yaml.CollectionEndEvent):
                size, below, anchor = open_.pop()
                below += 1
                if anchor:
                    pending.discard(anchor)
                    anchors[anchor] = (size, below)
                if open_:
                    open_[-1][0] += size
                    open_[-1][1] = max(open_[-1][1], below)
                continue
            else:
                continue
            total += size
            if nest > MAX_DEPTH:
                raise BoundaryError("E_YAML", "document",
                                    f"document nested deeper than {MAX_DEPTH} (through an "
                                    "alias)", _mark_span(file, event.start_mark))
            if total > MAX_NODES:
                raise BoundaryError("E_TOO_LARGE", "document",
                                    f"document expands to more than {MAX_NODES} values "
                                    "(aliases count as the values they repeat)",
                                    _mark_span(file, event.start_mark))
            if isinstance(event, yaml.ScalarEvent) and event.anchor:
                anchors[event.anchor] = (1, 0)
            if open_:
                open_[-1][0] += size
                open_[-1][1] = max(open_[-1][1], below)
    finally:
        parser.dispose()


def load_yaml(text: str, file: str) -> Any:
    """A YAML file (configuration) as plain values, the way `yaml.safe_load` reads it,
    within the depth and size bounds. Raises BoundaryError naming line and column."""
    check_yaml(text, file)
    try:
        return yaml.load(text, Loader=_Safe)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise BoundaryError("E_YAML", file, f"not valid YAML: {exc.problem or exc.context}",
                            _mark_span(file, mark)) from None
    except yaml.YAMLError as exc:
        raise BoundaryError("E_YAML", file, f"not valid YAML: {exc}") from None
    except (ValueError, OverflowError) as exc:  # e.g. an integer of more than 4300 digits
        raise BoundaryError("E_NUMBER", file, f"number is out of range: {exc}") from None
