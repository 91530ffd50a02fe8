"""What the case endpoints answer, for the OpenAPI document (the bodies are the service's
dicts, written by `schemas.reply`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from arka.interfaces.http.schemas import Open, _List


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class AttachmentView(BaseModel):
    attachment_id: str
    name: str
    media_type: str
    bytes: int
    sha256: str = Field(description="SHA-256 (hex) of the content")


class AttachmentAdded(AttachmentView):
    case_id: str
    version: int


class CaseView(_Open):
    id: str
    queue: str
    status: str = Field(description="open, in_review, escalated, pending_approval or closed")
    priority: str
    due_at: str | None = Field(description="When the case is due (its SLA)")
    sla_breached: bool = Field(description="Not closed and past its due time")
    entity_id: str | None
    assignee: str | None
    assignee_group: str | None
    disposition: str | None
    evaluation_ids: list[str]
    rule_versions: list[str] = Field(description="name@version of every rule evaluated")
    triggers: list[Open]
    escalations: list[Open] = Field(description="The escalations that opened or joined "
                                    "it, with their notes")
    attachments: list[AttachmentView]
    opened_by: str | None
    reason: str | None
    opened_at: str
    updated_at: str
    closed_at: str | None
    version: int = Field(description="The number of events in the case's chain; send it as "
                         "expected_version to act only on what you read")
    head_hash: str = Field(description="The hash of the case's last event")
    pending_close: Open | None = Field(description="A closing waiting for a second person: "
                                       "disposition, reason, requested_by, requested_at")


class CaseList(_List):
    items: list[CaseView]


class CaseEvent(BaseModel):
    id: str
    case_id: str
    tenant: str
    idx: int
    at: str
    actor: str
    action: str
    details: Open
    prev_hash: str
    hash: str = Field(description="SHA-256(prev_hash || RFC 8785 of the event's body)")


class CaseEvents(BaseModel):
    case_id: str
    items: list[CaseEvent]
    total: int


class CaseVerification(BaseModel):
    case_id: str
    valid: bool
    events: int
    head: str | None
    error: str | None
    version: int
    head_hash: str


class QueueView(BaseModel):
    queue: str
    open: int
    in_review: int
    escalated: int
    pending_approval: int
    sla_breached: int
    oldest_due_at: str | None


class QueueList(_List):
    items: list[QueueView]


class CaseBundle(_Open):
    bundle_version: int
    type: str
    exported_at: str
    tenant: str
    case: CaseView
    events: list[CaseEvent]
    evaluations: list[Open]
    inclusion_proofs: dict[str, Open]
    sth: Open
    algorithm: str
    key_id: str
    public_key: Open
    signature: str
