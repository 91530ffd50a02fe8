"""What callers send to work cases, checked like every request body
(`arka.app.requests`): the action on a case (one model per action, chosen by its
`action` member), a case opened by hand, an attachment."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from arka.app.requests import _EDGE, _TEXT, NO_NUL, Reason, _Request, parse
from arka.base.errors import InputError

MAX_TEXT = 4000  # comments, reasons, notes
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024  # decoded
MAX_EVALUATIONS = 100  # linked when a case is opened by hand

# one line, no control characters, no surrounding whitespace
_LINE = rf"^{_EDGE}(?:[^\u0000-\u001f\u007f]*{_EDGE})?$"
Queue = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=_LINE)]
Priority = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=_LINE)]
Person = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=_LINE)]
Entity = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=_LINE)]
Disposition = Annotated[str, StringConstraints(min_length=1, max_length=64,
                                               pattern=r"^[a-z][a-z0-9_]*$")]
Text = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT,
                                        pattern=rf"^{_TEXT}*{_EDGE}{_TEXT}*$")]
LongReason = Annotated[str, StringConstraints(min_length=3, max_length=MAX_TEXT,
                                              pattern=rf"^{_TEXT}*{_EDGE}{_TEXT}*$")]
EvaluationId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
Version = Annotated[int, Field(ge=0, le=2**31 - 1, description="The case's version (its "
                                                             "event count) this action was "
                                                             "decided on; 409 when stale")]
FileName = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_LINE)]
MediaType = Annotated[str, StringConstraints(
    min_length=3, max_length=127,
    pattern=r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*$")]
# base64 of at most MAX_ATTACHMENT_BYTES (4 characters per 3 bytes)
Base64 = Annotated[str, StringConstraints(
    max_length=(MAX_ATTACHMENT_BYTES + 2) // 3 * 4,
    pattern=r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")]


class _Action(_Request):
    expected_version: Version | None = None


class Assign(_Action):
    """Give the case to a person and/or a group (at least one)."""

    action: Literal["assign"]
    assignee: Person | None = None
    assignee_group: Queue | None = None


class Claim(_Action):
    """Take the case yourself: you become its assignee; an open case goes in review."""

    action: Literal["claim"]


class Release(_Action):
    """Give the case back: no assignee; a case in review is open again."""

    action: Literal["release"]


class Comment(_Action):
    """A note in the case's history."""

    action: Literal["comment"]
    text: Text


class Escalate(_Action):
    """Raise the case (to another queue or priority) with a reason."""

    action: Literal["escalate"]
    reason: LongReason
    queue: Queue | None = None
    priority: Priority | None = None


class Close(_Action):
    """Decide the case: a disposition (cases.dispositions) and why. With four-eyes on,
    the dispositions of cases.approval_dispositions wait for a second person."""

    action: Literal["close"]
    disposition: Disposition
    reason: LongReason


class Approve(_Action):
    """Confirm another person's closing."""

    action: Literal["approve"]
    note: Text | None = None


class Reject(_Action):
    """Refuse another person's closing: the case goes back in review."""

    action: Literal["reject"]
    note: Text


class Reopen(_Action):
    """Open a closed case again, with the reason."""

    action: Literal["reopen"]
    reason: LongReason


ACTION_MODELS: dict[str, type[_Action]] = {
    "assign": Assign, "claim": Claim, "release": Release, "comment": Comment,
    "escalate": Escalate, "close": Close, "approve": Approve, "reject": Reject,
    "reopen": Reopen}
CaseActionModel = Assign | Claim | Release | Comment | Escalate | Close | Approve | Reject | \
    Reopen


class CaseActionRequest(BaseModel):
    """For the OpenAPI document: one of the action bodies, chosen by `action`."""

    root: Annotated[CaseActionModel, Field(discriminator="action")]

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        from pydantic import TypeAdapter
        schema = TypeAdapter(Annotated[CaseActionModel, Field(discriminator="action")]
                             ).json_schema(*args, **kwargs)
        schema["title"] = "CaseActionRequest"
        schema["description"] = "An action on a case; `action` names which."
        return schema


def parse_action(data: Any) -> CaseActionModel:
    """The action body as its model; InputError naming the field (an unknown action
    lists the known ones)."""
    if not isinstance(data, dict):
        raise InputError("request body must be a JSON object")
    action = data.get("action")
    if action is None:
        raise InputError("action is required: one of " + ", ".join(ACTION_MODELS),
                         details=[{"path": "action", "message": "is required"}])
    if not isinstance(action, str) or action not in ACTION_MODELS:
        shown = action if isinstance(action, str) and len(action) <= 32 else "that"
        raise InputError(f"action must be one of {', '.join(ACTION_MODELS)}, not {shown!r}",
                         details=[{"path": "action", "message": "unknown action"}])
    return parse(ACTION_MODELS[action], data)  # type: ignore[return-value]


class OpenCaseRequest(_Request):
    """A case opened by an analyst, for evaluations of the tenant."""

    queue: Queue
    priority: Priority | None = Field(None, description="default: cases.default_priority")
    entity_id: Entity | None = None
    evaluation_ids: list[EvaluationId] = Field(min_length=1, max_length=MAX_EVALUATIONS)
    reason: Reason = Field(description="Why the case is opened")
    sla_hours: Annotated[int, Field(ge=1, le=24 * 366)] | None = Field(
        None, description="Hours until the case is due (default: cases.default_sla_hours)")


class AttachmentRequest(_Request):
    """A file kept with the case (in object storage, sealed, its SHA-256 recorded)."""

    name: FileName = Field(description="The file's name (its directory parts are dropped)")
    media_type: MediaType = Field(description="e.g. application/pdf")
    content_base64: Base64 = Field(description="The content, base64 (at most 5 MiB "
                                   "decoded)")


__all__ = ["ACTION_MODELS", "MAX_ATTACHMENT_BYTES", "AttachmentRequest", "CaseActionModel",
           "CaseActionRequest", "OpenCaseRequest", "parse_action"]
