"""What callers send to manage webhook subscriptions (checked like every request body:
`arka.app.requests`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from arka.app.events import EVENT_TYPES
from arka.app.requests import NO_NUL, _Request


def _known(kind: str) -> str:
    if kind not in EVENT_TYPES:
        raise ValueError(f"{kind!r} is not an event type; known: {', '.join(EVENT_TYPES)}")
    return kind


EventType = Annotated[str, StringConstraints(max_length=128),
                      Field(json_schema_extra={"enum": list(EVENT_TYPES)}),
                      AfterValidator(_known)]
Url = Annotated[str, StringConstraints(min_length=8, max_length=2048,
                                       pattern=r"^[^\x00-\x20\x7f]+$")]
Secret = Annotated[str, StringConstraints(min_length=10, max_length=200,
                                          pattern=r"^whsec_[A-Za-z0-9+/=]+$")]
Description = Annotated[str, StringConstraints(max_length=500, pattern=NO_NUL)]


class WebhookRequest(_Request):
    """A subscription: where to POST, which events; the secret is generated unless given."""

    url: Url = Field(description="https URL that receives the events (http and private "
                     "addresses only when webhooks.allow_private names the host)")
    events: list[EventType] = Field(min_length=1, max_length=len(EVENT_TYPES),
                                    description="Event types to receive")
    secret: Secret | None = Field(None, description="A Standard Webhooks secret (whsec_ + "
                                  "base64 of at least 24 bytes); omitted: generated and "
                                  "shown once in the answer")
    description: Description | None = None


class RotateRequest(_Request):
    """A new signing secret (generated unless given); the old one keeps signing for the
    rotation grace period."""

    secret: Secret | None = None
