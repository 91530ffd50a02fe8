"""CloudEvents 1.0 in their JSON format: the envelope of every event ARKA delivers."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

SPECVERSION = "1.0"
ID_PREFIX = "msg_"  # Standard Webhooks message ids; the same id is the CloudEvents id


def new_id() -> str:
    """A fresh event id, `msg_` + 32 hex digits (no '.', as signatures require)."""
    return ID_PREFIX + uuid.uuid4().hex


def rfc3339(at: datetime) -> str:
    """`at` in UTC as RFC 3339 with microseconds and a `Z`."""
    text = at.astimezone(UTC).isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z")


def cloud_event(type: str, source: str, data: dict[str, Any], *, subject: str | None = None,
                id: str | None = None, time: datetime | None = None) -> dict[str, Any]:
    """A structured-mode CloudEvent: `specversion`, `id`, `source`, `type`, `time`,
    `subject` (when given), `datacontenttype` and the JSON `data`."""
    event: dict[str, Any] = {
        "specversion": SPECVERSION, "id": id or new_id(), "source": source, "type": type,
        "time": rfc3339(time or datetime.now(UTC)), "datacontenttype": "application/json",
    }
    if subject is not None:
        event["subject"] = subject
    event["data"] = data
    return event


def encode(event: dict[str, Any]) -> bytes:
    """The body sent: compact JSON in UTF-8 (the bytes the signature covers)."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
