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
        mark = exc.problem_mark or exc.context_mark
        where = _span(file, mark) if mark is not None else Span(file, 1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        if "mapping values are not allowed" in problem:
            problem += " (quote a value that contains ': ', e.g. named arguments)"
        raise SourceFault(Diagnostic("E_YAML", where, f"YAML syntax error: {problem}")) from None
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
