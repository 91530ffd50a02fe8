"""Large artefacts beside the records (full traces, exports) in object storage: sealed
with the record key when there is one, checked against the SHA-256 recorded for them.

No plaintext downgrade: with a record key configured, an object whose reference names no
key id is an integrity fault (`E_INTEGRITY`), never served. References live in places an
attacker of the object store can edit (an export's manifest), so "not sealed" is never
taken from them alone."""

from __future__ import annotations

import hashlib
from typing import Any

from arka.base.errors import ServiceUnavailable
from arka.security.crypto import RecordCipher
from arka.security.sealing import integrity_fault
from arka.storage.objects import ObjectMissing, Objects


class Vault:
    def __init__(self, objects: Objects | None, cipher: RecordCipher | None):
        self.objects = objects
        self.cipher = cipher

    def store(self) -> Objects:
        if self.objects is None:
            raise ServiceUnavailable("object storage is not configured; set storage.objects "
                                     "to s3://bucket/prefix or a directory")
        return self.objects

    def put(self, key: str, aad: str, text: str) -> dict[str, Any]:
        """Store text; returns the reference the database keeps: where, the plaintext's
        SHA-256 and size, the key id."""
        sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
        payload, key_id = text, None
        if self.cipher is not None:
            payload, key_id = self.cipher.seal(text, aad)
        uri = self.store().put(key, payload.encode("utf-8"))
        return {"uri": uri, "key": key, "sha256": sha, "bytes": len(text.encode("utf-8")),
                "key_id": key_id}

    def get(self, ref: dict[str, Any], aad: str) -> str:
        if self.cipher is not None and not ref.get("key_id"):
            raise integrity_fault("unsealed_object", f"objects/{ref['key']}",
                                  "named as unencrypted although this store seals its objects "
                                  "(the reference or the object was altered)")
        try:
            data = self.store().get(ref["key"]).decode("utf-8")
        except UnicodeDecodeError:
            raise integrity_fault("unreadable_object", f"objects/{ref['key']}",
                                  "the stored object is not text (altered)") from None
        if ref.get("key_id"):
            if self.cipher is None:
                raise ServiceUnavailable(f"{ref['key']} is encrypted with key "
                                         f"{ref['key_id']}, but no encryption key is configured")
            data = self.cipher.open(data, ref["key_id"], aad)
        if hashlib.sha256(data.encode("utf-8")).hexdigest() != ref["sha256"]:
            raise ObjectMissing(f"{ref['key']} does not match the SHA-256 recorded for it "
                                "(altered or replaced)")
        return data

    def put_plain(self, key: str, data: bytes) -> str:
        return self.store().put(key, data)

    def get_plain(self, key: str) -> bytes:
        return self.store().get(key)
