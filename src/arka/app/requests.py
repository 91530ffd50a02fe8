"""What callers send the application services, checked in one place.

Each request is a pydantic model: the HTTP layer publishes its JSON schema in the OpenAPI
document and hands the parsed body to `parse`, and Python callers use the same models.
JSON numbers arrive as exact decimals (the body is parsed before validation) and stay
decimals inside `context` and `input`. A body that does not fit raises InputError naming
the field: `options.trace must be one of none, basic, full`.

Text is checked everywhere a request carries it: no text may hold a lone surrogate (it
has no UTF-8 form, so it can be neither hashed canonically nor stored), and no name, id,
key, note or context value may hold a NUL character (PostgreSQL text cannot).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from arka.base import values as V
from arka.base.errors import ArkaError, InputError
from arka.screening.ftm import SCHEMATA as _SCHEMATA
from arka.screening.screener import TOPICS as _TOPICS

NO_NUL = r"^[^\x00]*$"  # no name, id or key holds a NUL (PostgreSQL text cannot)
MAX_ID = 200  # evaluation, export, rule and item ids, as sent

Trace = Literal["none", "basic", "full"]
Decision = Literal["compliant", "needs_review", "non_compliant"]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=256,
                                                  pattern=NO_NUL)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID, pattern=NO_NUL)]
Instant = Annotated[str, StringConstraints(max_length=64, pattern=NO_NUL)]
KeyName = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL)]
RoleName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_NUL)]
Note = Annotated[str, StringConstraints(max_length=2000, pattern=NO_NUL)]


def clean(text: str) -> bool:
    """Text without NUL and without lone surrogates (safe to store, hash and echo)."""
    return "\x00" not in text and _unicode(text)


def printable(text: str) -> str:
    """`text` with anything that has no UTF-8 form written as an escape (for messages)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def _unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_text(nul: bool) -> AfterValidator:
    """A check of every key and string inside a JSON value, iteratively (any depth the
    parser took): no lone surrogate, and no NUL unless `nul`."""
    def check(value: Any) -> Any:
        stack: list[tuple[str, Any]] = [("", value)]
        while stack:
            path, v = stack.pop()
            if isinstance(v, dict):
                for k, x in v.items():
                    inner = f"{path}.{printable(str(k))}" if path else printable(str(k))
                    _check_text(str(k), inner, nul, "a key")
                    stack.append((inner, x))
            elif isinstance(v, list):
                stack.extend((f"{path}[{i}]", x) for i, x in enumerate(v))
            elif isinstance(v, str):
                _check_text(v, path, nul, "text")
        return value
    return AfterValidator(check)


def _check_text(text: str, at: str, nul: bool, what: str) -> None:
    if not _unicode(text):
        raise PydanticCustomError("text_surrogate", "{what} holds a lone surrogate (not "
                                  "valid Unicode); send UTF-8 text", {"at": at, "what": what})
    if not nul and "\x00" in text:
        raise PydanticCustomError("text_nul", "{what} holds a NUL character; remove it",
                                  {"at": at, "what": what})


Context = Annotated[dict[str, Any], _json_text(nul=False)]
Input = Annotated[dict[str, Any], _json_text(nul=True)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EvaluateOptions(_Request):
    trace: Trace = Field("none", description="Trace kept with the record: none, basic "
                         "(conditions and actions) or full (every instruction)")
    idempotency_key: IdempotencyKey | None = Field(
        None, description="The same key with the same request returns the stored record")


class EvaluateRequest(_Request):
    context: Context = Field(
        default_factory=dict, description="timestamp (RFC 3339; default: when received), "
        "jurisdiction, domain, ruleset (name@range) and any other values rules read")
    input: Input = Field(description="Named inputs, as the rules declare them")
    options: EvaluateOptions = Field(default_factory=EvaluateOptions)  # type: ignore[arg-type]


class BatchOptions(_Request):
    trace: Trace = "none"


class BatchItem(_Request):
    """One item of a batch, checked on its own: a bad item is answered with its own 400
    and does not fail the others."""

    id: Id | None = Field(None, description="Echoed in the answer's item")
    input: Input = Field(description="Named inputs, as the rules declare them")


class BatchRequest(_Request):
    context: Context = Field(default_factory=dict, description="One context for every input")
    inputs: list[Any] = Field(min_length=1, description="Items {id, input} (see BatchItem); "
                              "an item that is not one is answered with its own 400")
    options: BatchOptions = Field(default_factory=BatchOptions)


def batch_item(index: int, item: Any) -> tuple[str | None, BatchItem | InputError]:
    """`inputs[index]` as a BatchItem, or its InputError naming the field; with the id
    to echo in its answer: the item's id when that id is valid, else null."""
    raw = item.get("id") if isinstance(item, dict) else None
    echo = raw if isinstance(raw, str) and 0 < len(raw) <= MAX_ID and clean(raw) else None
    try:
        return echo, parse(BatchItem, item, f"inputs[{index}]")
    except InputError as exc:
        return echo, exc


class ReplayRequest(_Request):
    evaluation_id: Id


class ExportRequest(_Request):
    from_: Instant | None = Field(None, alias="from", description="RFC 3339, inclusive")
    to: Instant | None = Field(None, description="RFC 3339, inclusive")
    decision: Decision | None = None
    rule_id: Id | None = None

    def filters(self) -> dict[str, Any]:
        """The filters as recorded in the manifest; datetimes in their canonical form."""
        out: dict[str, Any] = {}
        for key, value in (("from", self.from_), ("to", self.to)):
            if value is not None:
                out[key] = instant(value, key)
        if self.decision is not None:
            out["decision"] = self.decision
        if self.rule_id is not None:
            out["rule_id"] = self.rule_id
        return out


class ApiKeyRequest(_Request):
    name: KeyName = Field(description="What the key is for")
    roles: list[RoleName] = Field(max_length=16, description="Role names, e.g. service or "
                                  "analyst")
    expires_at: Instant | None = Field(None, description="RFC 3339; without it the key "
                                       "does not expire")
    owner: str | None = Field(None, min_length=1, max_length=128, description="The person "
                              "the key is for (a user name or e-mail address); default: the "
                              "person of the key or token creating it")

    def expiry(self) -> datetime | None:
        return None if self.expires_at is None else _datetime(self.expires_at, "expires_at")


class ReviewRequest(_Request):
    note: Note | None = Field(None, description="Why, for the audit log")


SCREEN_SCHEMATA = tuple(sorted(_SCHEMATA))
SCREEN_TOPICS = tuple(sorted(_TOPICS))
ScreenText = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=NO_NUL)]
ScreenSchema = Literal[SCREEN_SCHEMATA]  # type: ignore[valid-type]
Topic = Literal[SCREEN_TOPICS]  # type: ignore[valid-type]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9-]{1,9}$")]
BirthDate = Annotated[str, StringConstraints(
    pattern=r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$")]
# one line, no control characters, no surrounding whitespace (as the allowlist stores them):
# the ends exclude every character Python's str.strip() removes, spelled out so that every
# regex engine (the API's, and a client's reading the OpenAPI pattern) agrees
_EDGE = r"[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
Identifier = Annotated[str, StringConstraints(
    min_length=1, max_length=256,
    pattern=rf"^{_EDGE}(?:[^\u0000-\u001f\u007f]*{_EDGE})?$")]
_TEXT = r"[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]"  # tabs and newlines allowed
Reason = Annotated[str, StringConstraints(  # with at least one visible character
    min_length=3, max_length=2000, pattern=rf"^{_TEXT}*{_EDGE}{_TEXT}*$")]


class ScreenRequest(_Request):
    """A screening query by example: who or what to look for on the sanctions lists."""

    name: ScreenText = Field(description="The name as your records hold it, any script")
    schema_: ScreenSchema = Field("Person", alias="schema", description="FollowTheMoney "
                                  "schema of the thing named")
    birth_date: BirthDate | None = Field(None, description="YYYY, YYYY-MM or YYYY-MM-DD")
    countries: list[Country] = Field(default_factory=list, max_length=50,
                                     description="ISO 3166 codes (nationality, residence, "
                                     "...)")
    topics: list[Topic] | None = Field(None, min_length=1, max_length=20,
                                       description="Topics an entity must carry (default: "
                                       "sanction; PEPs: role.pep)")
    threshold: Decimal = Field(Decimal("0.8"), ge=0, le=1, description="Lowest score "
                               "reported as a match (0-1)")
    limit: int = Field(10, ge=1, le=1000, description="Most matches returned")
    subject_id: Id | None = Field(None, description="Your customer's id: applies the "
                                  "allowlist decisions recorded for that customer")

    def args(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "schema": self.schema_,
                               "countries": list(self.countries),
                               "threshold": self.threshold, "limit": self.limit}
        if self.birth_date is not None:
            out["birth_date"] = self.birth_date
        if self.topics is not None:
            out["topics"] = list(self.topics)
        if self.subject_id is not None:
            out["subject_id"] = self.subject_id
        return out


PropertyValue = Annotated[str, StringConstraints(min_length=1, max_length=500,
                                                 pattern=NO_NUL)]


class ExampleEntity(_Request):
    """A query by example in FollowTheMoney form, as OpenSanctions' matching API takes it:
    a schema and properties, each a list of values."""

    schema_: ScreenSchema = Field("Person", alias="schema")
    properties: dict[Annotated[str, StringConstraints(max_length=64)],
                     Annotated[list[PropertyValue], Field(max_length=20)]] = Field(
        description="name (required), alias, birthDate, nationality, country, "
                    "citizenship, jurisdiction")


class ScreenBatchRequest(_Request):
    """Several queries by example at once: `{"queries": {"q1": {"schema": "Person",
    "properties": {"name": ["..."], "birthDate": ["..."]}}}}`."""

    queries: dict[Annotated[str, StringConstraints(min_length=1, max_length=200,
                                                   pattern=NO_NUL)],
                  ExampleEntity] = Field(min_length=1, max_length=100)
    topics: list[Topic] | None = Field(None, min_length=1, max_length=20)
    threshold: Decimal = Field(Decimal("0.8"), ge=0, le=1)
    limit: int = Field(10, ge=1, le=1000)


class AllowlistRequest(_Request):
    """A false-positive decision: this subject is not that listed entity, because ..."""

    subject_id: Identifier = Field(description="Your customer's id, as rules pass it in "
                                   "subject_id")
    entity_id: Identifier = Field(description="The listed entity's id (a match's entity_id)")
    reason: Reason = Field(description="Why they are not the same (kept in the audit log)")


M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any, where: str = "") -> M:
    """`data` (a parsed JSON body, or the part of one at `where`) as `model`, or
    InputError naming the first bad field."""
    if not isinstance(data, dict):
        raise InputError(f"{where or 'request body'} must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(e, where) for e in exc.errors()]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        error = InputError(problems[0]["message"] + more)
        error.details = problems
        raise error from None


_PHRASES = {"dict_type": "must be an object", "list_type": "must be a list",
            "string_type": "must be text", "missing": "is required",
            "extra_forbidden": "is not a known field",
            "string_unicode": "holds a lone surrogate (not valid Unicode); send UTF-8 text"}


def _problem(e: Any, where: str = "") -> dict[str, Any]:
    loc = [printable(str(p)) for p in ([where] if where else []) + list(e["loc"])]
    ctx = e.get("ctx") or {}
    if ctx.get("at"):  # a key or text inside a JSON value
        loc.append(ctx["at"])
    path = ".".join(loc) or "body"
    kind = e["type"]
    if kind == "extra_forbidden":
        parent = ".".join(str(p) for p in loc[:-1])
        message = f"unknown field {loc[-1]!r}" + (f" in {parent}" if parent else
                                                            " in the request")
    elif kind == "literal_error":
        allowed = e.get("ctx", {}).get("expected", "").replace("'", "").replace(" or ", ", ")
        message = f"{path} must be one of {allowed}"
    elif kind == "string_pattern_mismatch" and e.get("ctx", {}).get("pattern") == NO_NUL:
        message = f"{path} holds a NUL character; remove it"
    elif kind in ("text_surrogate", "text_nul"):
        message = f"{path}: {e['msg']}"
    elif kind in ("string_type", "dict_type", "list_type") and isinstance(
            e.get("input"), bool | int | float | Decimal | list | dict):
        message = f"{path} {_PHRASES[kind]}, not {_json_type(e['input'])}"
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
        message = f"{path}: {printable(str(e['msg']))}"
    return {"path": path, "message": message}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    return "a list" if isinstance(value, list) else "an object"


def _datetime(text: str, what: str) -> datetime:
    try:
        return V.parse_datetime(text)
    except ArkaError:
        raise InputError(f"{what} must be an RFC 3339 datetime") from None


def rfc3339(text: str, what: str) -> str:
    """An RFC 3339 datetime in canonical form (UTC, `Z`), or InputError."""
    return V.datetime_text(_datetime(text, what))


def instant(text: str | None, what: str) -> str | None:
    """A datetime filter bound (`from`, `to`) in canonical form (UTC, `Z`). One that is
    valid but falls outside the calendar once moved to UTC (year 1 with a positive offset,
    year 9999 with a negative one) is the first or last instant there is: as a bound it
    means the same."""
    if text is None:
        return None
    try:
        return rfc3339(text, what)
    except (InputError, OverflowError, ValueError):
        edge = {"0001": "0001-01-01T00:00:00Z", "9999": "9999-12-31T23:59:59Z"}.get(text[:4])
        if edge is None or not _OFFSET_TIME.match(text) or not _calendar(text):
            raise InputError(f"{what} must be an RFC 3339 datetime") from None
        return rfc3339(edge, what)


_OFFSET_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}\Z")


def _calendar(text: str) -> bool:
    """A real date, time and UTC offset (which only moving to UTC takes off the calendar)."""
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True
