"""Trust proofs: the signing key ring and the proof of one evaluation record.

A version 2 proof commits to every field of the record (input, context, rule versions
and tables, result, rule results, metadata, traces, ids, tenant, timestamp) through
SHA-256 hashes of their RFC 8785 canonical bytes, and is signed with Ed25519. The record
format and its verifier (`verify_record`) are in `arka.trust.verification`; canonical JSON
in `arka.trust.canonical`. Nothing here needs the engine or a database.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from arka.base.errors import ArkaError
from arka.trust.canonical import MAX_DEPTH, b64url, b64url_decode, canonical, digest
from arka.trust.verification import (
    PER_EVALUATION_METADATA,
    PROOF_FIELDS,
    PROOF_VERSION,
    Check,
    Verification,
    rules_reference,
    signed_metadata,
    verify_inclusion_proof,
    verify_record,
    verify_tree_head,
)


class SigningKeyError(ArkaError):
    code = "E_KEY"


def basic_trace(trace: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The basic trace (conditions, triggers, actions) of a possibly full trace."""
    out = []
    for rule in trace or []:
        events = [e for e in rule.get("events", []) if "event" in e]
        out.append({"rule_id": rule["rule_id"], "version": rule["version"], "events": events})
    return out


# ------------------------------------------------------------------ keys

def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519-" + hashlib.sha256(raw).hexdigest()[:16]


def public_jwk(public: Ed25519PublicKey) -> dict[str, str]:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw), "kid": key_id_of(public),
            "alg": "EdDSA", "use": "sig"}


def jwk_public_key(jwk: dict[str, Any]) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
        raise SigningKeyError("not an Ed25519 JWK (needs kty OKP, crv Ed25519, x)")
    try:
        return Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    except (ValueError, TypeError):
        raise SigningKeyError("JWK x is not a 32-byte Ed25519 public key") from None


def load_public_keys(data: Any) -> dict[str, Ed25519PublicKey]:
    """Public keys from a JWKS (`{"keys": [...]}`), one JWK, or PEM text."""
    if isinstance(data, str | bytes):
        text = data.decode() if isinstance(data, bytes) else data
        if "BEGIN PUBLIC KEY" in text:
            try:
                key = serialization.load_pem_public_key(text.encode())
            except ValueError:
                raise SigningKeyError("PEM public key does not parse") from None
            if not isinstance(key, Ed25519PublicKey):
                raise SigningKeyError("PEM key is not Ed25519")
            return {key_id_of(key): key}
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            raise SigningKeyError("key file is neither a JWK/JWKS (JSON) nor a PEM public key") from None
    if isinstance(data, dict) and "keys" in data and isinstance(data["keys"], list):
        keys = [jwk_public_key(k) for k in data["keys"]]
    elif isinstance(data, dict):
        keys = [jwk_public_key(data)]
    else:
        raise SigningKeyError("key data must be a JWK or JWKS object")
    return {key_id_of(k): k for k in keys}


@dataclass
class KeyRing:
    """Signing keys: one active, older ones kept so their proofs still verify.

    Keys live as PKCS#8 PEM files `<key_id>.pem` in a directory (owner-only permissions);
    the file `ACTIVE` names the active key. `ARKA_SIGNING_KEY` (PEM text) may supply the
    active key instead, e.g. from a Kubernetes secret.
    """

    directory: Path | None
    keys: dict[str, Ed25519PrivateKey] = field(default_factory=dict)
    active_id: str = ""

    @classmethod
    def open(cls, directory: Path | None, env_pem: str | None = None) -> KeyRing:
        if env_pem and directory is not None and not directory.is_dir():
            directory = None  # the key comes from the environment; nothing to read or write
        ring = cls(directory)
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            for pem in sorted(directory.glob("*.pem")):
                key = serialization.load_pem_private_key(pem.read_bytes(), password=None)
                if not isinstance(key, Ed25519PrivateKey):
                    raise SigningKeyError(f"{pem.name} is not an Ed25519 private key")
                ring.keys[key_id_of(key.public_key())] = key
            active = directory / "ACTIVE"
            if active.exists():
                ring.active_id = active.read_text().strip()
        if env_pem:
            try:
                key = serialization.load_pem_private_key(env_pem.encode(), password=None)
            except ValueError:
                raise SigningKeyError("ARKA_SIGNING_KEY is not a PEM private key") from None
            if not isinstance(key, Ed25519PrivateKey):
                raise SigningKeyError("ARKA_SIGNING_KEY is not an Ed25519 key")
            ring.keys[key_id_of(key.public_key())] = key
            ring.active_id = key_id_of(key.public_key())
        if not ring.active_id or ring.active_id not in ring.keys:
            if directory is None:
                raise SigningKeyError("no signing key: configure a key directory or ARKA_SIGNING_KEY")
            ring.rotate()
        return ring

    def rotate(self) -> str:
        """Generate a new key and make it active; returns its key id."""
        key = Ed25519PrivateKey.generate()
        kid = key_id_of(key.public_key())
        self.keys[kid] = key
        self.active_id = kid
        if self.directory is not None:
            pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            path = self.directory / f"{kid}.pem"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
            tmp = self.directory / "ACTIVE.tmp"
            tmp.write_text(kid)
            tmp.replace(self.directory / "ACTIVE")
        return kid

    @property
    def active(self) -> Ed25519PrivateKey:
        return self.keys[self.active_id]

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(self.keys[k].public_key()) for k in sorted(self.keys)]}

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        return {k: v.public_key() for k, v in self.keys.items()}


# ------------------------------------------------------------------ proofs

def build_proof(*, evaluation_id: str, tenant: str, timestamp: str, input: Any, context: Any,
                metadata: dict[str, Any], result: Any, rule_results: Any, trace: Any,
                full_trace: Any = None, full_trace_ref: Any = None,
                engine_version: str, ring: KeyRing) -> dict[str, Any]:
    """A version 2 trust proof: a signed hash (or value) for every field of the record.

    `trace` is the record's basic trace exactly as stored; `full_trace` and
    `full_trace_ref` are hashed when the record carries them."""
    proof: dict[str, Any] = {
        "proof_version": PROOF_VERSION,
        "proof_id": "proof_" + evaluation_id.removeprefix("eval_"),
        "evaluation_id": evaluation_id,
        "tenant": tenant,
        "timestamp": timestamp,
        "input_hash": digest(input),
        "context_hash": digest(context),
        "rules_hash": digest(rules_reference(metadata)),
        "output_hash": digest(result),
        "trace_hash": digest(trace),
        "rule_results_hash": digest(rule_results),
        "metadata_hash": digest(signed_metadata(metadata)),
        "engine_version": engine_version,
        "algorithm": "Ed25519",
        "key_id": ring.active_id,
    }
    for key in PER_EVALUATION_METADATA:
        if key in metadata:
            proof[key] = metadata[key]
    if full_trace is not None:
        proof["full_trace_hash"] = digest(full_trace)
    if full_trace_ref is not None:
        proof["full_trace_ref_hash"] = digest(full_trace_ref)
    proof["signature"] = b64url(ring.active.sign(canonical(proof)))
    return proof


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


__all__ = ["MAX_DEPTH", "PER_EVALUATION_METADATA", "PROOF_FIELDS", "PROOF_VERSION", "Check",
           "KeyRing", "SigningKeyError", "Verification", "b64url", "b64url_decode",
           "basic_trace", "build_proof", "canonical", "digest", "load_public_keys",
           "now_rfc3339", "public_jwk", "rules_reference", "signed_metadata",
           "verify_inclusion_proof", "verify_record", "verify_tree_head"]
