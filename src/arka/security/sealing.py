"""Sealing of stored evaluation records: canonical JSON text, encrypted with AES-256-GCM
(`arka.security.crypto`) bound to the evaluation id when a record key is configured.

No plaintext downgrade: with a key configured, a record stored without a key id is
opened only when the store vouches that it predates sealing (`plaintext_ok`); any other
unsealed record is an integrity fault (`E_INTEGRITY`, HTTP 500), counted in
`pact_integrity_errors_total` and logged, and never served as data.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from prometheus_client import Counter

from arka.base.errors import InternalFault, StoreError
from arka.observability import metrics as M
from arka.security.crypto import RecordCipher

log = logging.getLogger("arka.integrity")

INTEGRITY_ERRORS = Counter("pact_integrity_errors_total",
                           "Stored data that failed an integrity check, by kind",
                           ["kind"], registry=M.REGISTRY)


class IntegrityFault(InternalFault):
    """Stored data is not what ARKA wrote: unsealed where it must be sealed, not
    readable, or inconsistent with the log. Reported (500), logged, counted; never served."""

    code = "E_INTEGRITY"


def integrity_fault(kind: str, where: str, message: str) -> IntegrityFault:
    """The fault for `where` (e.g. `evaluations/<id>`), counted and logged once here."""
    INTEGRITY_ERRORS.labels(kind).inc()
    log.error("integrity: %s: %s", where, message)
    return IntegrityFault(f"{where}: {message}",
                          details=[{"path": where, "code": "E_INTEGRITY", "message": message}])


class RecordSealer:
    def __init__(self, cipher: RecordCipher | None = None):
        self.cipher = cipher

    def index_tokens(self, tenant: str, value: str) -> list[str]:
        """The blind-index tokens of `value` in `tenant`: one per configured record key,
        the current key's first (new rows are written with it; a search tries all, so
        rows written before a key rotation are still found). Without a record key the
        records are plaintext anyway, and the token is an unkeyed digest."""
        message = f"{tenant}\x00{value}".encode()
        if self.cipher is None:
            return [hashlib.sha256(b"arka blind index v1\x00" + message).hexdigest()[:32]]
        return [hmac.new(k, message, hashlib.sha256).hexdigest()[:32]
                for k in self.cipher.index_keys]

    def seal(self, record: dict[str, Any]) -> tuple[str, str | None]:
        """(stored text, key id or None)."""
        text = json.dumps(record, sort_keys=True, ensure_ascii=False)
        if self.cipher is None:
            return text, None
        return self.cipher.seal(text, record["evaluation_id"])

    def seal_object(self, object_id: str, value: Any) -> tuple[str, str | None]:
        """Seal any JSON value stored under `object_id` (a webhook's secrets, an event):
        the ciphertext is bound to that id, so it cannot be moved to another row."""
        text = json.dumps({"id": object_id, "value": value}, sort_keys=True,
                          ensure_ascii=False)
        if self.cipher is None:
            return text, None
        return self.cipher.seal(text, object_id)

    def open_object(self, text: str, key_id: str | None, object_id: str, where: str) -> Any:
        """The value `seal_object` sealed under `object_id`; an integrity fault when the row
        was altered, moved, or is plaintext although a key is configured (`where` names
        the row, e.g. `outbox/<id>`)."""
        if key_id is not None:
            if self.cipher is None:
                raise StoreError(f"{where} is encrypted with key {key_id}, but no "
                                 "encryption key is configured")
            text = self.cipher.open(text, key_id, object_id)
        elif self.cipher is not None:
            raise integrity_fault("unsealed_record", where,
                                  "stored unencrypted although this store seals its data "
                                  "(altered in the database)")
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, TypeError):
            raise integrity_fault("unreadable_record", where,
                                  "the stored value is not JSON (altered in the database)"
                                  ) from None
        if not isinstance(doc, dict) or doc.get("id") != object_id or "value" not in doc:
            raise integrity_fault("moved_record", where,
                                  "the stored value is not this row's (altered or copied "
                                  "from another row)")
        return doc["value"]

    def open(self, text: str, key_id: str | None, evaluation_id: str, *,
             plaintext_ok: bool = False) -> dict[str, Any]:
        """The stored record. `plaintext_ok`: the store knows this row was written before
        the store began sealing (it is not consulted without a configured key)."""
        where = f"evaluations/{evaluation_id}"
        if key_id is not None:
            if self.cipher is None:
                raise StoreError(f"evaluation {evaluation_id} is encrypted with key "
                                 f"{key_id}, but no encryption key is configured")
            text = self.cipher.open(text, key_id, evaluation_id)
        elif self.cipher is not None and not plaintext_ok:
            raise integrity_fault("unsealed_record", where,
                                  "stored unencrypted although this store seals its records "
                                  "(altered in the database); run `arka-cli db check`")
        try:
            record = json.loads(text)
        except (json.JSONDecodeError, TypeError):
            raise integrity_fault("unreadable_record", where,
                                  "the stored record is not JSON (altered in the database); "
                                  "run `arka-cli db check`") from None
        if not isinstance(record, dict) or record.get("evaluation_id") != evaluation_id:
            raise integrity_fault("moved_record", where,
                                  "the stored record is not this evaluation's (altered or "
                                  "copied from another row); run `arka-cli db check`")
        return record
