"""Standard Webhooks signatures (https://www.standardwebhooks.com): the symmetric `v1`
scheme, HMAC-SHA256 over `{msg_id}.{timestamp}.{body}` with a `whsec_` secret.

Each delivery carries `webhook-id` (the event id, the same on every retry, so receivers
de-duplicate on it), `webhook-timestamp` (unix seconds of this attempt) and
`webhook-signature` (one `v1,<base64>` per secret, space-delimited: during a secret
rotation the old and the new secret both sign). The body is a structured-mode CloudEvent,
so the content type is the one the CloudEvents HTTP binding gives that mode:
`application/cloudevents+json; charset=utf-8`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as random_secrets
import time
from collections.abc import Mapping

from arka.base.errors import ArkaError

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the size of generated secrets (the scheme asks for 24 to 64)
VERSION = "v1"
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
TOLERANCE = 300  # seconds a receiver accepts between the timestamp and its clock


class SignatureError(ArkaError):
    """A webhook request whose Standard Webhooks signature does not verify."""

    code = "E_WEBHOOK_SIGNATURE"
    api_code = "AUTHENTICATION_ERROR"


def new_secret() -> str:
    """A fresh random secret: `whsec_` + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(random_secrets.token_bytes(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    """The HMAC key of a secret: its base64 part decoded (the `whsec_` prefix is optional,
    as in the reference libraries). Raises ValueError saying what is wrong."""
    if not isinstance(secret, str):
        raise ValueError(f"a webhook secret is a string such as 'whsec_<base64>', "
                         f"not {type(secret).__name__}")
    text = secret.strip()
    if text.startswith(SECRET_PREFIX):
        text = text[len(SECRET_PREFIX):]
    if not text:
        raise ValueError("the webhook secret is empty; use 'whsec_' followed by base64 of "
                         "24 to 64 random bytes (or omit it and one is generated)")
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the webhook secret is not valid base64 after its 'whsec_' "
                         "prefix; use 'whsec_' followed by standard base64 (A-Z a-z 0-9 + /, "
                         "padded with =)") from None
    if not key:
        raise ValueError("the webhook secret decodes to no bytes")
    return key


def _check_id(msg_id: str) -> None:
    if not isinstance(msg_id, str) or not msg_id or any(
            c in msg_id for c in ". \t\r\n"):
        raise ValueError(f"webhook message id {msg_id!r} must be non-empty and hold no "
                         f"'.' or whitespace (they delimit the signed content)")


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError(f"webhook timestamp {timestamp!r} must be a non-negative integer "
                         f"(unix seconds)")


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed = f"{msg_id}.{timestamp}.".encode() + bytes(body)
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64 HMAC-SHA256>` signature of `{msg_id}.{timestamp}.{body}`."""
    _check_id(msg_id)
    _check_timestamp(timestamp)
    digest = _digest(secret_bytes(secret), msg_id, timestamp, body)
    return f"{VERSION},{base64.b64encode(digest).decode()}"


def headers(secrets: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one delivery attempt: `webhook-id`, `webhook-timestamp`,
    `webhook-signature` (one signature per secret, in the order given) and
    `content-type`."""
    if not secrets:
        raise ValueError("a webhook delivery needs at least one signing secret")
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets),
        "content-type": CONTENT_TYPE,
    }


def verify(secret: str, headers: Mapping[str, str], body: bytes, tolerance: int = TOLERANCE,
           now: int | None = None) -> None:
    """Check a received webhook: the three `webhook-*` headers are present (names in any
    case), the timestamp is within `tolerance` seconds of `now` (default: the clock), and
    one `v1` signature in the header matches (compared in constant time). Raises
    SignatureError naming the first problem."""
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    missing = [h for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
               if not lower.get(h, "").strip()]
    if missing:
        raise SignatureError(f"the request lacks the header(s) {', '.join(missing)}; a "
                             f"Standard Webhooks request carries webhook-id, "
                             f"webhook-timestamp and webhook-signature")
    msg_id = lower["webhook-id"].strip()
    stamp = lower["webhook-timestamp"].strip()
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise SignatureError(f"webhook-timestamp {stamp[:40]!r} is not unix seconds "
                             f"(an integer)")
    timestamp = int(stamp)
    clock = int(time.time()) if now is None else now
    if abs(clock - timestamp) > tolerance:
        direction = "old" if timestamp <= clock else "far in the future"
        raise SignatureError(f"webhook-timestamp {timestamp} is {abs(clock - timestamp)} s "
                             f"{direction} (tolerance {tolerance} s): a replay, or a clock "
                             f"out of sync; check NTP on both sides")
    try:
        _check_id(msg_id)
        key = secret_bytes(secret)
    except ValueError as exc:
        raise SignatureError(str(exc)) from None
    expected = base64.b64encode(_digest(key, msg_id, timestamp, body))
    found = False
    for item in lower["webhook-signature"].split():
        version, _, value = item.partition(",")
        if version == VERSION and hmac.compare_digest(value.encode(), expected):
            found = True
    if not found:
        raise SignatureError("no v1 signature in webhook-signature matches the body with "
                             "this secret: check the secret (after a rotation, either one "
                             "works) and that the raw body bytes are verified, not re-encoded "
                             "JSON")
