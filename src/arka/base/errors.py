"""One error hierarchy for every stage, each error with a stable code and a source span."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Span:
    """A position in a source file: 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


NO_SPAN = Span("<unknown>", 0, 0)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One compile-time problem: stable code, where it is, what is wrong."""

    code: str
    span: Span
    message: str

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.span.file, self.span.line, self.span.column, self.code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "message": self.message,
        }

    def render(self, source: str | None = None) -> str:
        """`file:line:col: CODE message`, then the source line with a caret under the column."""
        head = f"{self.span}: {self.code} {self.message}"
        if source is None or self.span.line <= 0:
            return head
        lines = source.splitlines()
        if self.span.line > len(lines):
            return head
        text = lines[self.span.line - 1].rstrip("\n")
        caret = " " * max(self.span.column - 1, 0) + "^"
        gutter = f"{self.span.line:>5} | "
        return f"{head}\n{gutter}{text}\n{' ' * (len(gutter) - 2)}| {caret}"


class ArkaError(Exception):
    """Base of every error ARKA raises on purpose."""

    code = "E_ARKA"

    def __init__(self, message: str, *, code: str | None = None, span: Span | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.span = span

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.span is not None:
            out.update(file=self.span.file, line=self.span.line, column=self.span.column)
        return out

    def __str__(self) -> str:
        where = f"{self.span}: " if self.span is not None else ""
        return f"{where}{self.code} {self.message}"


class CompileError(ArkaError):
    """A rule file failed to compile; carries every diagnostic found, sorted by position."""

    def __init__(self, diagnostics: list[Diagnostic], source: str | None = None,
                 sources: dict[str, str] | None = None):
        ordered = sorted(diagnostics, key=Diagnostic.sort_key)
        first = ordered[0] if ordered else None
        message = f"{len(ordered)} error(s) in rule file" if ordered else "rule file has errors"
        super().__init__(message, code=first.code if first else "E_COMPILE",
                         span=first.span if first else None)
        self.diagnostics = ordered
        self.source = source
        self.sources = dict(sources or {})

    def render(self) -> str:
        return "\n".join(d.render(self.sources.get(d.span.file, self.source))
                         for d in self.diagnostics)

    def __str__(self) -> str:
        return self.render()


class BytecodeError(ArkaError):
    """Bytecode failed to load or validate (E_BYTECODE_*)."""

    code = "E_BYTECODE"


class EvalError(ArkaError):
    """A rule failed while running: limits, type faults, division by zero, plugin errors."""

    code = "E_RUNTIME"


class LimitExceeded(EvalError):
    code = "E_LIMIT"


class InputError(ArkaError):
    """The evaluation input does not match what the rules declare (VALIDATION_ERROR)."""

    code = "E_INPUT"


class TableError(ArkaError):
    """A reference table is malformed or a lookup found no row."""

    code = "E_TABLE"
