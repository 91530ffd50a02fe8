"""What callers send the application services, checked in one place.

Each request is a pydantic model: the HTTP layer publishes its JSON schema in the OpenAPI
document and hands the parsed body to `parse`, and Python callers use the same models.
JSON numbers arrive as exact decimals (the body is parsed before validation) and stay
decimals inside `context` and `input`. A body that does not fit raises InputError naming
the field: `options.trace must be one of none, basic, full`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from arka.base import values as V
from arka.base.errors import ArkaError, InputError

Trace = Literal["none", "basic", "full"]
Decision = Literal["compliant", "needs_review", "non_compliant"]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvaluateOptions(_Request):
    trace: Trace = Field("none", description="Trace kept with the record: none, basic "
                         "(conditions and actions) or full (every instruction)")
    idempotency_key: IdempotencyKey | None = Field(
        None, description="The same key with the same request returns the stored record")


class EvaluateRequest(_Request):
    context: dict[str, Any] = Field(
        default_factory=dict, description="timestamp (RFC 3339; default: when received), "
        "jurisdiction, domain, ruleset (name@range) and any other values rules read")
    input: dict[str, Any] = Field(description="Named inputs, as the rules declare them")
    options: EvaluateOptions = Field(default_factory=EvaluateOptions)  # type: ignore[arg-type]


class BatchOptions(_Request):
    trace: Trace = "none"


class BatchRequest(_Request):
    context: dict[str, Any] = Field(default_factory=dict,
                                    description="One context for every input")
    inputs: list[Any] = Field(min_length=1, description="Items {id, input}; an item that "
                              "is not such an object is answered with its own 400")
    options: BatchOptions = Field(default_factory=BatchOptions)


class ReplayRequest(_Request):
    evaluation_id: str = Field(min_length=1, max_length=200)


class ExportRequest(_Request):
    from_: str | None = Field(None, alias="from", description="RFC 3339, inclusive")
    to: str | None = Field(None, description="RFC 3339, inclusive")
    decision: Decision | None = None
    rule_id: str | None = Field(None, max_length=200)

    def filters(self) -> dict[str, Any]:
        """The filters as recorded in the manifest; datetimes in their canonical form."""
        out: dict[str, Any] = {}
        for key, value in (("from", self.from_), ("to", self.to)):
            if value is not None:
                out[key] = rfc3339(value, key)
        if self.decision is not None:
            out["decision"] = self.decision
        if self.rule_id is not None:
            out["rule_id"] = self.rule_id
        return out


class ApiKeyRequest(_Request):
    name: str = Field(min_length=1, max_length=128, description="What the key is for")
    roles: list[str] = Field(description="Role names, e.g. service or analyst")
    expires_at: str | None = Field(None, description="RFC 3339; without it the key "
                                   "does not expire")

    def expiry(self) -> datetime | None:
        return None if self.expires_at is None else _datetime(self.expires_at, "expires_at")


class ReviewRequest(_Request):
    note: str | None = Field(None, max_length=2000, description="Why, for the audit log")


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any) -> M:
    """`data` (a parsed JSON body) as `model`, or InputError naming the first bad field."""
    if not isinstance(data, dict):
        raise InputError("request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(e) for e in exc.errors()]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        error = InputError(problems[0]["message"] + more)
        error.details = problems
        raise error from None


_PHRASES = {"dict_type": "must be an object", "list_type": "must be a list",
            "string_type": "must be text", "missing": "is required",
            "extra_forbidden": "is not a known field"}


def _problem(e: Any) -> dict[str, Any]:
    path = ".".join(str(p) for p in e["loc"]) or "body"
    kind = e["type"]
    if kind == "extra_forbidden":
        parent = ".".join(str(p) for p in e["loc"][:-1])
        message = f"unknown field {str(e['loc'][-1])!r}" + (f" in {parent}" if parent else
                                                            " in the request")
    elif kind == "literal_error":
        allowed = e.get("ctx", {}).get("expected", "").replace("'", "").replace(" or ", ", ")
        message = f"{path} must be one of {allowed}"
    elif kind in ("string_too_short", "string_too_long"):
        ctx = e.get("ctx", {})
        low, high = ctx.get("min_length"), ctx.get("max_length")
        message = f"{path} must be text of " + (
            f"at least {low}" if low is not None else f"at most {high}") + " characters"
    elif kind in ("too_short", "too_long"):
        message = f"{path} must not be empty" if kind == "too_short" else \
            f"{path} has too many items"
    elif kind in _PHRASES:
        message = f"{path} {_PHRASES[kind]}"
    else:
        message = f"{path}: {e['msg']}"
    return {"path": path, "message": message}


def _datetime(text: str, what: str) -> datetime:
    try:
        return V.parse_datetime(text)
    except ArkaError:
        raise InputError(f"{what} must be an RFC 3339 datetime") from None


def rfc3339(text: str, what: str) -> str:
    """An RFC 3339 datetime in canonical form (UTC, `Z`), or InputError."""
    return V.datetime_text(_datetime(text, what))
