"""YAML/JSON documents read into a tree that remembers where every value came from.

Numbers become exact Decimals straight from their source text (never floats); YAML
timestamps stay text; duplicate keys are an error. Each value knows its span and, for
strings, the `Origin` of its text so expression errors point into the file.

Before any value is built, the document's events are checked against the bounds of
`arka.base.boundary` (nesting, and the size it expands to with every alias counted in
full); numbers and text are checked as they are converted (E_NUMBER, E_UNICODE).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml

from arka.base.boundary import (
    MAX_DEPTH,
    MAX_NUMBER_TEXT,
    BoundaryError,
    check_yaml,
    number_from_text,
    text_problem,
)
from arka.base.errors import Diagnostic, Span
from arka.lang.parser import Origin

MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
__all__ = ["MAX_DEPTH", "MAX_DOCUMENT_BYTES", "Located", "SourceFault", "load_document"]


@dataclass(frozen=True, slots=True)
class Located:
    """A value with its position. Mappings hold `dict[str, Located]`, sequences `list[Located]`."""

    value: Any
    span: Span
    origin: Origin | None = None  # for strings: where the text itself starts
    key_span: Span | None = None  # for mapping values: where the key is

    def plain(self) -> Any:
        """The value with positions stripped."""
        if isinstance(self.value, dict):
            return {k: v.plain() for k, v in self.value.items()}
        if isinstance(self.value, list):
            return [v.plain() for v in self.value]
        return self.value


class SourceFault(Exception):
    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


# libyaml (C) when PyYAML was built with it: same nodes and marks, several times faster.
_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[valid-type,misc]
    pass


# YAML 1.1 reads `on`/`yes`/`no` as booleans; rule authors mean strings. Keep only true/false.
_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _span(file: str, mark: Any) -> Span:
    return Span(file, mark.line + 1, mark.column + 1)


def _text_origin(file: str, node: yaml.ScalarNode, lines: list[str]) -> Origin:
    start = _span(file, node.start_mark)
    style = node.style
    if style in ("|", ">"):
        # Block scalar: content begins on the next non-empty line, at its indentation.
        line_no = node.start_mark.line + 1
        while line_no < len(lines) and not lines[line_no].strip():
            line_no += 1
        indent = 0
        if line_no < len(lines):
            text = lines[line_no]
            indent = len(text) - len(text.lstrip(" "))
        return Origin(file, line_no + 1, indent + 1, indent + 1)
    if style in ('"', "'"):
        return Origin(file, start.line, start.column + 1, start.column + 1)
    return Origin(file, start.line, start.column, start.column)


def _number(file: str, node: yaml.ScalarNode, value: Decimal | str) -> Decimal:
    if isinstance(value, str):
        raise SourceFault(Diagnostic("E_NUMBER", _span(file, node.start_mark),
                                     f"{_short(node.value)}: {value}"))
    return value


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:20] + "..." + text[-10:])


def _text(file: str, node: yaml.Node, text: str, key: bool = False) -> str:
    problem = text_problem(text, key)
    if problem:
        raise SourceFault(Diagnostic("E_UNICODE", _span(file, node.start_mark), problem))
    return text


def _scalar(file: str, node: yaml.ScalarNode, loader: _Loader) -> Any:
    tag = node.tag
    if tag == "tag:yaml.org,2002:int":
        if len(node.value) > MAX_NUMBER_TEXT:  # refused before Python reads the digits
            return _number(file, node, number_from_text(node.value))
        try:  # 12, 0x1F, 0o17, 0b101, 1:30 (base 60)
            parsed = int(loader.construct_yaml_int(node))
        except (ValueError, TypeError):
            return node.value
        return _number(file, node, number_from_text(str(parsed)))
    if tag == "tag:yaml.org,2002:float":
        text = node.value.replace("_", "")
        out = number_from_text(text)
        if isinstance(out, str) and out.startswith("invalid number") or \
                isinstance(out, Decimal) and not out.is_finite():
            raise SourceFault(Diagnostic("E_YAML", _span(file, node.start_mark),
                                         f"number {node.value!r} is not a finite decimal"))
        return _number(file, node, out)
    if tag == "tag:yaml.org,2002:bool":
        return node.value.lower() == "true"
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag in ("tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp"):
        return _text(file, node, node.value)
    raise SourceFault(Diagnostic("E_YAML", _span(file, node.start_mark),
                                 f"unsupported YAML tag {tag!r}; use plain values"))


def _convert(file: str, node: yaml.Node, loader: _Loader, lines: list[str], depth: int = 0,
             key_span: Span | None = None) -> Located:
    span = _span(file, node.start_mark)
    if depth > MAX_DEPTH:
        raise SourceFault(Diagnostic("E_YAML", span, f"document nested deeper than {MAX_DEPTH}"))
    if isinstance(node, yaml.ScalarNode):
        value = _scalar(file, node, loader)
        origin = _text_origin(file, node, lines) if isinstance(value, str) else None
        return Located(value, span, origin, key_span)
    if isinstance(node, yaml.SequenceNode):
        return Located([_convert(file, n, loader, lines, depth + 1) for n in node.value], span,
                       None, key_span)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Located] = {}
        for k, v in node.value:
            kspan = _span(file, k.start_mark)
            if not isinstance(k, yaml.ScalarNode):
                raise SourceFault(Diagnostic("E_YAML", kspan, "mapping keys must be plain text"))
            key = _text(file, k, k.value, key=True)
            if key in out:
                raise SourceFault(Diagnostic("E_DUPLICATE_KEY", kspan,
                                             f"key {key!r} appears twice in this mapping"))
            out[key] = _convert(file, v, loader, lines, depth + 1, kspan)
        return Located(out, span, None, key_span)
    raise SourceFault(Diagnostic("E_YAML", span, "unsupported YAML node"))


def _reader_error(file: str, text: str, exc: yaml.reader.ReaderError) -> Diagnostic:
    before = text[:exc.position]
    line = before.count("\n") + 1
    column = exc.position - (before.rfind("\n") + 1) + 1
    return Diagnostic("E_YAML", Span(file, line, column),
                      f"character U+{exc.character:04X} is not allowed in a rule file")


_KEY_LINE = re.compile(r"^( *)(?:- +)?(?!- )([^\s#'\"{\[][^:#]*?|'[^']*'|\"[^\"]*\"):(?: +(.*))?$")
_BLOCK_INDICATOR = re.compile(r"^[|>][-+1-9]*(?: +#.*)?$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _owner(lines: list[str], row: int) -> tuple[int, str, str] | None:
    """The nearest line above `row` that opens a key (`name:`), as (row, key, rest)."""
    for r in range(row - 1, -1, -1):
        text = lines[r]
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        m = _KEY_LINE.match(text)
        if m and _indent(text) < _indent(lines[row]) + 1 + len(lines[row]):
            return r, m.group(2).strip(), (m.group(3) or "").strip()
        if m is None and _indent(text) <= _indent(lines[row]):
            return None
    return None


def _indentation_problem(lines: list[str], row: int) -> str | None:
    """Explain a YAML error on line `row` (0-based) when it is one of indentation."""
    if row >= len(lines):
        return None
    line = lines[row]
    if line[:len(line) - len(line.lstrip(" \t"))].count("\t"):
        return (f"line {row + 1} is indented with a tab; YAML indents with spaces only "
                "(replace the tab with spaces)")
    here = _indent(line)
    owner = _owner(lines, row)
    if owner is None:
        return None
    orow, key, rest = owner
    kcol = _indent(lines[orow])
    shown = f"line {row + 1} is indented {here} space{'s' * (here != 1)}"
    if here < kcol and _KEY_LINE.match(line):
        return (f"{shown}, which lines up with no key above it (the key {key!r} on line "
                f"{orow + 1} is at {kcol}); keys of one mapping must line up, and a key "
                "inside another is indented more than it")
    if _BLOCK_INDICATOR.match(rest):
        if here <= kcol:
            return (f"{shown}, not more than the key {key!r} on line {orow + 1} ({kcol}), so the "
                    f"'{rest[0]}' block of {key!r} ends before it; indent every line of the "
                    f"block more than its key, e.g. {kcol + 2} spaces")
        first = next((r for r in range(orow + 1, row) if lines[r].strip()), None)
        if first is not None and _indent(lines[first]) > here:
            return (f"{shown}, less than line {first + 1} ({_indent(lines[first])} spaces), the "
                    f"first line of the '{rest[0]}' block of {key!r}, which sets the block's "
                    f"indentation; indent every line of the block at least "
                    f"{_indent(lines[first])} spaces")
        return None
    if rest == "" and here <= kcol and not _KEY_LINE.match(line):
        return (f"{shown}, not more than the key {key!r} on line {orow + 1} ({kcol}), so it "
                f"is not the value of {key!r}; indent a value on its own line more than its "
                f"key, e.g. {kcol + 2} spaces")
    if rest and here > kcol and _KEY_LINE.match(line) and row == orow + 1:
        return (f"{shown}, more than the key {key!r} on line {orow + 1} ({kcol}), so YAML "
                f"reads it as part of the value of {key!r} and its ': ' as a mapping; line a "
                f"new key up with {key!r} ({kcol} spaces), or quote the value if the ': ' "
                "belongs to it")
    return None


def _syntax_error(file: str, text: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    """A YAML syntax error as a diagnostic that says what is wrong and how to fix it."""
    mark = exc.problem_mark or exc.context_mark
    where = _span(file, mark) if mark is not None else Span(file, 1, 1)
    problem = exc.problem or exc.context or "invalid YAML"
    lines = text.splitlines()
    # the line the parser stumbled on; "could not find expected ':'" stops a line late
    rows = []
    if exc.context_mark is not None and "simple key" in (exc.context or ""):
        rows.append(exc.context_mark.line)
    if mark is not None:
        rows.append(mark.line)
    for row in rows:
        explained = _indentation_problem(lines, row)
        if explained:
            at = Span(file, row + 1, _indent(lines[row]) + 1)
            return Diagnostic("E_YAML", at, f"YAML indentation error: {explained}")
    if "block scalar" in (exc.context or ""):
        problem += (" (after '|' or '>' only '-', '+' or an indentation digit may follow on "
                    "the same line; the block's text starts on the next line)")
    elif "mapping values are not allowed" in problem or mark is not None and \
            "expected key" in problem and ": " in lines[mark.line][:mark.column]:
        problem += (" (an unquoted value that contains ': ' reads as a mapping: quote it, "
                    "e.g. 'threshold(type: \"ctr\")', or write it as a '|' block)")
    return Diagnostic("E_YAML", where, f"YAML syntax error: {problem}")


def load_document(text: str, file: str) -> Located:
    """Parse one YAML or JSON document. Raises SourceFault with a positioned diagnostic."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_DOCUMENT_BYTES:
        raise SourceFault(Diagnostic("E_TOO_LARGE", Span(file, 1, 1),
                                     f"file is larger than {MAX_DOCUMENT_BYTES} bytes"))
    try:
        check_yaml(text, file)  # depth and alias expansion, before any value is built
    except BoundaryError as exc:
        raise SourceFault(Diagnostic(exc.code, exc.span or Span(file, 1, 1),
                                     exc.reason)) from None
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        raise SourceFault(_reader_error(file, text, exc)) from None
    try:
        node = loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        raise SourceFault(_reader_error(file, text, exc)) from None
    except yaml.MarkedYAMLError as exc:
        raise SourceFault(_syntax_error(file, text, exc)) from None
    except yaml.YAMLError as exc:
        raise SourceFault(Diagnostic("E_YAML", Span(file, 1, 1), f"YAML error: {exc}")) from None
    except RecursionError:
        raise SourceFault(Diagnostic("E_YAML", Span(file, 1, 1),
                                     "document nested too deeply")) from None
    finally:
        loader.dispose()
    if node is None:
        raise SourceFault(Diagnostic("E_EMPTY", Span(file, 1, 1), "the file is empty"))
    return _convert(file, node, loader, text.splitlines())
