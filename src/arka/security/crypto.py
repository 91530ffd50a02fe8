"""Encryption at rest of stored evaluation records (AES-256-GCM).

A record is sealed as `v1.` + base64url(12-byte nonce || ciphertext || tag), with the
evaluation id as associated data (so a ciphertext moved to another row does not open),
and the key id stored beside it. The key id is derived from the key itself (the first 16
hex digits of SHA-256 over "arka-record-key" || key), so it needs no configuration and
never reveals the key. New records use the current key; older keys stay configured for
reading. Hashes and proofs are computed over the plaintext, before sealing.

Values the listing must find although they are sealed in the record (the entity ids of an
evaluation's input) are stored as a blind index: HMAC-SHA256 under a key derived with
HKDF from the record key, so the database holds no searchable plaintext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from arka.base.errors import ArkaError

PREFIX = "v1."


class KeyError_(ArkaError):
    api_code = "INTERNAL_ERROR"
    code = "E_ENCRYPTION_KEY"


def parse_key(text: str, what: str = "encryption key") -> bytes:
    """A 256-bit key written as 64 hex digits or base64 (standard or URL-safe). Errors
    never echo the key."""
    text = text.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        return bytes.fromhex(text)
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4),
                               validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise KeyError_(f"the {what} must be 32 random bytes written as 64 hex digits or as "
                        f"base64 (got {len(text)} characters that are neither); generate one "
                        "with: python -c \"import secrets; print(secrets.token_hex(32))\"")
    return raw


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"arka-record-key" + key).hexdigest()[:16]


class RecordCipher:
    def __init__(self, current: bytes, previous: tuple[bytes, ...] = ()):
        self.current_id = key_id(current)
        self._keys = {key_id(k): AESGCM(k) for k in (*previous, current)}
        # Keys of the blind index (searchable digests of values that are sealed in the
        # record), derived from each record key: current first.
        self.index_keys = tuple(_index_key(k) for k in (current, *previous))

    @classmethod
    def from_texts(cls, current: str, previous: list[str] | tuple[str, ...] = ()
                   ) -> RecordCipher:
        return cls(parse_key(current),
                   tuple(parse_key(p, f"previous encryption key #{i + 1}")
                         for i, p in enumerate(previous)))

    @property
    def key_ids(self) -> list[str]:
        return sorted(self._keys)

    def seal(self, plaintext: str, evaluation_id: str) -> tuple[str, str]:
        nonce = os.urandom(12)
        sealed = self._keys[self.current_id].encrypt(nonce, plaintext.encode("utf-8"),
                                                     _aad(evaluation_id))
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii"), \
            self.current_id

    def open(self, text: str, kid: str, evaluation_id: str) -> str:
        aead = self._keys.get(kid)
        if aead is None:
            raise KeyError_(f"evaluation {evaluation_id} is encrypted with key {kid}, which is "
                            "not configured; add that key to the previous encryption keys")
        if not text.startswith(PREFIX):
            raise KeyError_(f"evaluation {evaluation_id}: stored record is not a v1 envelope")
        try:
            raw = base64.urlsafe_b64decode(text[len(PREFIX):])
            return aead.decrypt(raw[:12], raw[12:], _aad(evaluation_id)).decode("utf-8")
        except (InvalidTag, ValueError, binascii.Error):
            raise KeyError_(f"evaluation {evaluation_id}: stored record does not decrypt with "
                            f"key {kid} (altered, or moved from another row)") from None


def _index_key(key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"arka blind index v1").derive(key)


def _aad(evaluation_id: str) -> bytes:
    return b"arka-evaluation:" + evaluation_id.encode("utf-8")
