"""An independent verifier written only from docs/api.md and the public standards (RFC 8785
via the `rfc8785` package, SHA-256, Ed25519 via `cryptography`, RFC 9162 hashing done here
from the definition). It uses nothing of `arka` but the HTTP API, like an auditor would."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from arka.app.core import Core
from arka.settings import Settings
from arka.storage import Store
from tests.helpers import EXAMPLES
from tests.service_fixtures import api_client


def sha(value: object) -> str:
    return "sha256:" + hashlib.sha256(rfc8785.dumps(value)).hexdigest()


def b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 Merkle Tree Hash, straight from the definition."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def test_records_verify_with_standard_tools_only(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    store = Store(url)
    store.migrate()
    client = api_client(Core(Settings(url, tmp_path / "keys"), store), sth_interval=0)
    for rule in ("ctr-threshold-flag", "structuring-detection"):
        client.post("/api/v1/rules", content=(EXAMPLES / "rules" / f"{rule}.yaml").read_bytes(),
                    headers={"content-type": "application/x-yaml"})
    client.post("/api/v1/tables", content=(EXAMPLES / "tables" / "fx-rates.yaml").read_bytes(),
                headers={"content-type": "application/x-yaml"})
    records = []
    for amount, currency, trace in ((12500, "USD", "none"), (9500.75, "EUR", "full"),
                                    (300, "GBP", "basic")):
        body = {"context": {"jurisdiction": "US", "timestamp": "2024-03-01T10:00:00Z"},
                "input": {"transaction": {"id": "t", "amount": amount, "currency": currency,
                                          "type": "cash"}},
                "options": {"trace": trace}}
        records.append(client.post("/api/v1/evaluate", content=json.dumps(body)).json())
    keys = {k["kid"]: Ed25519PublicKey.from_public_bytes(b64url(k["x"]))
            for k in client.get("/api/v1/keys").json()["keys"]
            if k["kty"] == "OKP" and k["crv"] == "Ed25519"}
    proofs = []
    for rec in records:
        rec = client.get(f"/api/v1/evaluations/{rec['evaluation_id']}").json()
        p = rec["trust_proof"]
        assert p["input_hash"] == sha(rec["input"])
        assert p["context_hash"] == sha(rec["context"])
        assert p["output_hash"] == sha(rec["result"])
        assert p["trace_hash"] == sha(rec["trace"])
        rules = [{"rule_id": r["rule_id"], "version": r["version"],
                  "bytecode_hash": r["bytecode_hash"]} for r in rec["metadata"]["rules"]]
        tables = [{"table": t["table"], "version": t["version"],
                   "content_hash": t["content_hash"]} for t in rec["metadata"]["tables"]]
        assert p["rules_hash"] == sha(rules + tables)
        # proof version 2: every other field of the record
        assert p["proof_version"] == 2 and p["tenant"] == "default"
        assert p["evaluation_id"] == rec["evaluation_id"] and p["timestamp"] == rec["timestamp"]
        assert p["rule_results_hash"] == sha(rec["rule_results"])
        meta = {k: v for k, v in rec["metadata"].items() if k != "evaluation_duration_ms"}
        assert p["metadata_hash"] == sha(meta)
        assert p["evaluation_duration_ms"] == rec["metadata"]["evaluation_duration_ms"]
        if "full_trace" in rec:
            assert p["full_trace_hash"] == sha(rec["full_trace"])
        else:
            assert "full_trace_hash" not in p
        known = {"evaluation_id", "timestamp", "context", "input", "result", "rule_results",
                 "metadata", "trace", "full_trace", "full_trace_ref", "trust_proof",
                 "log_index", "anchors"}
        assert set(rec) <= known
        assert rec["log_index"] == len(proofs)
        unsigned = {k: v for k, v in p.items() if k != "signature"}
        keys[p["key_id"]].verify(b64url(p["signature"]), rfc8785.dumps(unsigned))
        proofs.append(rfc8785.dumps(p))
        if rec["evaluation_id"] == records[1]["evaluation_id"]:
            assert any("op" in e for e in rec["full_trace"][0]["events"])
    # the log: the signed head's root is the RFC 9162 hash of the proofs in order
    sth = client.get("/api/v1/log/sth").json()
    unsigned_head = {k: sth[k] for k in ("tree_size", "root_hash", "timestamp", "key_id")}
    keys[sth["key_id"]].verify(b64url(sth["signature"]), rfc8785.dumps(unsigned_head))
    assert sth["tree_size"] == 3 and sth["root_hash"] == mth(proofs).hex()
