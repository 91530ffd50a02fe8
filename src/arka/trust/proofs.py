"""Trust proofs (SPEC §5): RFC 8785 canonical JSON, SHA-256 hashes, Ed25519 signatures.

A proof commits to the input, context, rule versions (bytecode hashes) and reference
tables, result and basic trace of one evaluation, and is signed with the service's key.
Anyone with the evaluation record and the public key can check it (`verify_record`);
nothing here needs the engine or a database.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from arka.base.errors import ArkaError
from arka.trust import merkle

PROOF_FIELDS = ("proof_id", "evaluation_id", "timestamp", "input_hash", "context_hash",
                "rules_hash", "output_hash", "trace_hash", "engine_version", "algorithm",
                "key_id", "signature")


class SigningKeyError(ArkaError):
    code = "E_KEY"


_SAFE_INT = 2**53


def _plain(value: Any) -> bool:
    """True when `json.dumps` already writes `value` exactly as RFC 8785 would: keys are
    ordered the same (no key outside the Basic Multilingual Plane, where UTF-16 order
    differs from code-point order), integers are exact in a double, floats print the same
    in ECMAScript (shortest round trip, no exponent) and no string holds a lone surrogate."""
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is dict:
            for k, x in v.items():
                if type(k) is not str or not k.isascii() and (
                        any(ord(c) > 0xFFFF or 0xD800 <= ord(c) <= 0xDFFF for c in k)):
                    return False
                stack.append(x)
        elif t is list:
            stack.extend(v)
        elif t is str:
            if not v.isascii() and any(0xD800 <= ord(c) <= 0xDFFF for c in v):
                return False
        elif t is int:
            if not -_SAFE_INT <= v <= _SAFE_INT:
                return False
        elif t is float:
            r = repr(v)  # ECMAScript prints 1.0 as 1 and uses exponents differently
            if "e" in r or "inf" in r or "nan" in r or r.endswith(".0"):
                return False
        elif v is not None and t is not bool:
            return False
    return True


def canonical(value: Any) -> bytes:
    """RFC 8785 (JCS) bytes of a JSON value.

    Values that `json.dumps` already writes canonically take that (C) path; anything else
    goes through the `rfc8785` implementation. Tests check both paths give the same bytes.
    """
    if _plain(value):
        return json.dumps(value, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8")
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise ArkaError(f"value cannot be canonicalised: {exc}", code="E_CANONICAL") from None


def digest(value: Any) -> str:
    return "sha256:" + hashlib.sha256(canonical(value)).hexdigest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rules_reference(metadata: dict[str, Any]) -> list[dict[str, str]]:
    """The list `rules_hash` covers: rules in evaluation order, then the tables used."""
    rules = [{"rule_id": r["rule_id"], "version": r["version"], "bytecode_hash": r["bytecode_hash"]}
             for r in metadata.get("rules", [])]
    tables = [{"table": t["table"], "version": t["version"], "content_hash": t["content_hash"]}
              for t in metadata.get("tables", [])]
    return rules + tables


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

def build_proof(*, evaluation_id: str, timestamp: str, input: Any, context: Any,
                metadata: dict[str, Any], result: Any, trace: list[dict[str, Any]] | None,
                engine_version: str, ring: KeyRing) -> dict[str, Any]:
    proof = {
        "proof_id": "proof_" + evaluation_id.removeprefix("eval_"),
        "evaluation_id": evaluation_id,
        "timestamp": timestamp,
        "input_hash": digest(input),
        "context_hash": digest(context),
        "rules_hash": digest(rules_reference(metadata)),
        "output_hash": digest(result),
        "trace_hash": digest(basic_trace(trace)),
        "engine_version": engine_version,
        "algorithm": "Ed25519",
        "key_id": ring.active_id,
    }
    proof["signature"] = b64url(ring.active.sign(canonical(proof)))
    return proof


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Verification:
    checks: list[Check]

    @property
    def valid(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        failed = [c.name for c in self.checks if not c.ok]
        return {"valid": self.valid, "failed": failed,
                "checks": [{"check": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks]}


def verify_record(record: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> Verification:
    """Check an evaluation record: every hash against the record's content, then the
    signature with the public key named by `key_id`."""
    checks: list[Check] = []
    proof = record.get("trust_proof")
    if not isinstance(proof, dict):
        return Verification([Check("proof", False, "record has no trust_proof object")])
    missing = [f for f in PROOF_FIELDS if f not in proof]
    if missing:
        return Verification([Check("proof", False, f"trust_proof lacks {', '.join(missing)}")])
    meta = record.get("metadata") or {}

    def hash_check(name: str, value: Any) -> None:
        try:
            actual = digest(value)
        except ArkaError as exc:
            checks.append(Check(name, False, exc.message))
            return
        ok = actual == proof[name]
        checks.append(Check(name, ok, "matches" if ok else f"record hashes to {actual}, proof "
                                                            f"says {proof[name]}"))

    hash_check("input_hash", record.get("input"))
    hash_check("context_hash", record.get("context"))
    hash_check("rules_hash", rules_reference(meta))
    hash_check("output_hash", record.get("result"))
    hash_check("trace_hash", basic_trace(record.get("trace")))
    ident_ok = proof["evaluation_id"] == record.get("evaluation_id")
    checks.append(Check("evaluation_id", ident_ok, "matches" if ident_ok else
                        "proof is for another evaluation"))
    key = keys.get(proof["key_id"])
    if key is None:
        checks.append(Check("signature", False, f"no public key {proof['key_id']!r}"))
    elif proof.get("algorithm") != "Ed25519":
        checks.append(Check("signature", False, f"unsupported algorithm {proof['algorithm']!r}"))
    else:
        unsigned = {k: v for k, v in proof.items() if k != "signature"}
        try:
            key.verify(b64url_decode(str(proof["signature"])), canonical(unsigned))
            checks.append(Check("signature", True, f"valid Ed25519 signature by {proof['key_id']}"))
        except (InvalidSignature, ValueError, ArkaError):
            checks.append(Check("signature", False, "signature does not match the proof"))
    return Verification(checks)


def verify_tree_head(head: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> Check:
    """The signature of a signed tree head: Ed25519 over its canonical bytes without
    `signature`."""
    key = keys.get(str(head.get("key_id")))
    if key is None:
        return Check("tree_head_signature", False, f"no public key {head.get('key_id')!r}")
    unsigned = {k: head[k] for k in ("tree_size", "root_hash", "timestamp", "key_id")}
    try:
        key.verify(b64url_decode(str(head["signature"])), canonical(unsigned))
    except (InvalidSignature, ValueError, ArkaError):
        return Check("tree_head_signature", False, "tree head signature does not match")
    return Check("tree_head_signature", True, f"tree head of size {head['tree_size']} signed by "
                 f"{head['key_id']}")


def verify_inclusion_proof(record: dict[str, Any], inclusion: dict[str, Any],
                           keys: dict[str, Ed25519PublicKey]) -> list[Check]:
    """RFC 9162 inclusion of the record's proof under a signed tree head, offline."""
    head = inclusion["sth"]
    checks = [verify_tree_head(head, keys)]
    leaf = merkle.leaf_hash(canonical(record["trust_proof"]))
    size = int(inclusion["tree_size"])
    index = int(inclusion["leaf_index"])
    if size != int(head["tree_size"]):
        checks.append(Check("inclusion", False, "proof and tree head are for different sizes"))
        return checks
    if "log_index" in record and record["log_index"] != index:
        checks.append(Check("inclusion", False, f"record says log_index {record['log_index']}, "
                                                f"proof says {index}"))
        return checks
    path = [bytes.fromhex(p) for p in inclusion["audit_path"]]
    ok = merkle.verify_inclusion(index, size, leaf, path, bytes.fromhex(head["root_hash"]))
    checks.append(Check("inclusion", ok, f"leaf {index} is in the tree of size {size}" if ok else
                        "the audit path does not lead to the tree head's root"))
    return checks


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
