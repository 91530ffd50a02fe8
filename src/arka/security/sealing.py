"""Sealing of stored evaluation records: canonical JSON text, encrypted with AES-256-GCM
(`arka.security.crypto`) bound to the evaluation id when a record key is configured."""

from __future__ import annotations

import json
from typing import Any

from arka.base.errors import StoreError
from arka.security.crypto import RecordCipher


class RecordSealer:
    def __init__(self, cipher: RecordCipher | None = None):
        self.cipher = cipher

    def seal(self, record: dict[str, Any]) -> tuple[str, str | None]:
        """(stored text, key id or None)."""
        text = json.dumps(record, sort_keys=True, ensure_ascii=False)
        if self.cipher is None:
            return text, None
        return self.cipher.seal(text, record["evaluation_id"])

    def open(self, text: str, key_id: str | None, evaluation_id: str) -> dict[str, Any]:
        if key_id is not None:
            if self.cipher is None:
                raise StoreError(f"evaluation {evaluation_id} is encrypted with key "
                                    f"{key_id}, but no encryption key is configured")
            text = self.cipher.open(text, key_id, evaluation_id)
        return json.loads(text)
