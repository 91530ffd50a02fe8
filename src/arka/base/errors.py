"""One error hierarchy for every stage and the service: each error has a stable code
(`E_TYPE`, `E_NOT_FOUND`, ...), where it has one a source span, and the category an API
answer reports it under (`api_code`, which fixes the HTTP status: `API_STATUS`)."""

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

    @property
    def severity(self) -> str:
        """`warning` for the W_ codes (a rule that compiles but may not do what was meant;
        strict validation refuses it too), else `error`."""
        return "warning" if self.code.startswith("W_") else "error"

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.span.file, self.span.line, self.span.column, self.code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
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


# The API's error categories and their HTTP statuses; the one place a status is chosen.
API_STATUS = {"VALIDATION_ERROR": 400, "AUTHENTICATION_ERROR": 401,
              "AUTHORIZATION_ERROR": 403, "NOT_FOUND": 404, "REQUEST_TIMEOUT": 408,
              "CONFLICT": 409, "PAYLOAD_TOO_LARGE": 413, "RATE_LIMITED": 429,
              "INTERNAL_ERROR": 500, "SERVICE_UNAVAILABLE": 503}


class ArkaError(Exception):
    """Base of every error ARKA raises on purpose. `api_code` is what an API answer
    calls it (a caller's mistake by default); `details` lists {path, line, column, code,
    message} items where the error has several parts."""

    code = "E_ARKA"
    api_code = "VALIDATION_ERROR"

    def __init__(self, message: str, *, code: str | None = None, span: Span | None = None,
                 details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.span = span
        self.details: list[dict[str, Any]] = list(details or [])

    @property
    def http_status(self) -> int:
        return API_STATUS[self.api_code]

    def api_message(self) -> str:
        """The message an API answer carries."""
        return self.message

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
        self.details = [{"path": d.span.file, "line": d.span.line, "column": d.span.column,
                         "code": d.code, "message": d.message} for d in ordered]

    def render(self) -> str:
        return "\n".join(d.render(self.sources.get(d.span.file, self.source))
                         for d in self.diagnostics)

    def __str__(self) -> str:
        return self.render()

    def api_message(self) -> str:
        return f"{len(self.diagnostics)} error(s) in the document"


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


# ------------------------------------------------------------------ service errors

class NotFound(ArkaError):
    code = "E_NOT_FOUND"
    api_code = "NOT_FOUND"


class Conflict(ArkaError):
    code = "E_CONFLICT"
    api_code = "CONFLICT"


class AuthError(ArkaError):
    """No valid credential (401)."""

    code = "AUTHENTICATION_ERROR"
    api_code = "AUTHENTICATION_ERROR"


class Forbidden(ArkaError):
    """A valid credential without the permission (403)."""

    code = "AUTHORIZATION_ERROR"
    api_code = "AUTHORIZATION_ERROR"


class ServiceUnavailable(ArkaError):
    """503: a part the request needs is not configured or not reachable. `retry_after`
    (seconds) is the hint an API answer sends as `Retry-After`."""

    code = "SERVICE_UNAVAILABLE"
    api_code = "SERVICE_UNAVAILABLE"
    retry_after = 5

    def __init__(self, message: str, *, code: str | None = None,
                 retry_after: int | None = None):
        super().__init__(message, code=code)
        if retry_after is not None:
            self.retry_after = retry_after


class InternalFault(ArkaError):
    """500: stored data or configuration is not what it must be (logged in full)."""

    code = "E_INTERNAL"
    api_code = "INTERNAL_ERROR"


class StoreError(InternalFault):
    code = "E_STORE"
