"""Test vectors for the dashboard's in-browser verifier (ui/src/verify), made by the
Python engine: real evaluation records read through the HTTP API exactly as the browser
reads them (the response text), with their published keys, inclusion proofs and anchors
(a real anchor on the in-process chain), tampered variants of them, and canonical JSON
cases. Each record vector carries the Python verifier's report as its expected result;
ui/test/verify.test.js asserts the JavaScript verifier reports the same checks with the
same statuses.

    .venv/bin/python -m tests.ui_vectors OUT.json     # then, in ui/:
    ARKA_UI_VECTORS=OUT.json npx vitest run test/verify.test.js
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from arka.interfaces.cli.verify import EXTERNAL
from arka.trust.canonical import canonical, digest
from arka.trust.proofs import b64url, load_public_keys, public_jwk
from arka.trust.verification import verify_record

Json = dict[str, Any]

CTX = {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"}


def _cash(tx_id: str, amount: Any, **extra: Any) -> Json:
    return {"transaction": {"id": tx_id, "amount": amount, "currency": "USD", "type": "cash",
                            **extra}}


#: Inputs with the numbers and strings canonical JSON is most easily wrong about.
INPUTS: list[tuple[str, Json]] = [
    ("cash_over_threshold", _cash("t1", 12500)),
    ("cash_under_threshold", _cash("t2", 800)),
    ("cash_decimal", _cash("t3", 10000.01, note="décimal — 10 000,01 € ✓ 😀")),
    ("numbers", _cash("t4", 12500.75, fee=0.1, rate=1e-7, big=1e21, edge=9007199254740992,
                      neg=-0.0, third=333333333.33333329, tiny=5e-30, whole=3.0,
                      list=[1.5, -2, 1e16, 123456789012.25], text="tab\there\u2028\u00e9")),
]

#: Canonical JSON cases: a JSON text, parsed by both sides (json.loads / JSON.parse).
#: Integers beyond 2**53 are left out on purpose: the engine refuses them (E_CANONICAL),
#: while JSON.parse has already rounded them, so no signed record can carry one.
CANONICAL_TEXTS: list[tuple[str, str]] = [
    ("rfc8785_numbers",
     '[333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001, 1e21, 1e-7]'),
    ("rfc8785_literals", '{"numbers": [1, 2], "literals": [null, true, false],'
                         ' "string": "\\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'),
    ("rfc8785_sorting", '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33":'
                        ' "Hebrew Letter Dalet With Dagesh", "1": "One", "\\ud83d\\ude00":'
                        ' "Emoji: Grinning Face", "\\u0080": "Control", "\\u00f6":'
                        ' "Latin Small Letter O With Diaeresis"}'),
    ("nested_unicode", '{"b": [{"z": "\\u00e9t\\u00e9", "a": "\\u2603"}, []], "a": {}}'),
    ("ints_and_floats", '[0, -0, -0.0, 1.0, 100, 1e2, 9007199254740991, -9007199254740991,'
                        ' 1.5e300, 5e-324, 0.1, 123456789.125, 1e20, 1e-6]'),
    ("escapes", '"\\u0000\\u001f\\u007f\\b\\f\\t\\u2028\\ud834\\udd1e"'),
    ("empty", '{"": "", "x": [null]}'),
]


def _statuses(report: Any) -> list[list[str]]:
    return [[c.name, c.status] for c in report.checks]


def _expect(record: Json, jwks: Json, inclusion: Json | None) -> Json:
    """The Python verifier's report, and the verdict arka-cli verify gives it (valid when
    only the checks that need more than the record, keys and inclusion proof did not run)."""
    report = verify_record(record, load_public_keys(jwks), inclusion=inclusion)
    unchecked = [c.name for c in report.checks if c.status == "not_checked"]
    cli = "valid" if report.verdict == "incomplete" and all(
        name in EXTERNAL for name in unchecked) else report.verdict
    return {"verdict": report.verdict, "cli_verdict": cli, "checks": _statuses(report)}


def _vector(name: str, record_text: str, jwks: Json, inclusion: Json | None,
            anchors: list[Json]) -> Json:
    record = json.loads(record_text)
    return {"name": name, "record_text": record_text, "jwks": jwks, "inclusion": inclusion,
            "anchors": anchors, "expected": _expect(record, jwks, inclusion)}


def _tampered(base: Json, name: str, change: Callable[[Json, Json, Json | None], Any],
              ) -> Json:
    """A copy of vector `base` with `change(record, jwks, inclusion)` applied (in place;
    it may return a replacement (record, jwks, inclusion) tuple)."""
    record = json.loads(base["record_text"])
    jwks = copy.deepcopy(base["jwks"])
    inclusion = copy.deepcopy(base["inclusion"])
    out = change(record, jwks, inclusion)
    if isinstance(out, tuple):
        record, jwks, inclusion = out
    v = _vector(name, json.dumps(record, ensure_ascii=False), jwks, inclusion,
                copy.deepcopy(base["anchors"]))
    v["tampered"] = True
    return v


def _flip_hex(h: str) -> str:
    return ("0" if h[0] != "0" else "1") + h[1:]


def _flip_b64(s: str) -> str:
    return ("A" if s[0] != "A" else "B") + s[1:]


def _version_1(base: Json, ring: Any) -> Json:
    """`base` re-signed with a version 1 proof (ARKA 0.1.0: no proof_version, tenant,
    rule results or metadata hash), as an old record still in a store would be."""
    from arka.trust.proofs import PROOF_FIELDS, rules_reference
    record = json.loads(base["record_text"])
    for key in ("log_index", "anchors", "full_trace"):
        record.pop(key, None)
    old = record["trust_proof"]
    proof = {k: old[k] for k in PROOF_FIELDS if k in old and k != "signature"}
    proof.update(input_hash=digest(record["input"]), context_hash=digest(record["context"]),
                 rules_hash=digest(rules_reference(record["metadata"])),
                 output_hash=digest(record["result"]), trace_hash=digest(record["trace"]),
                 key_id=ring.active_id)
    proof["signature"] = b64url(ring.active.sign(canonical(proof)))
    record["trust_proof"] = proof
    return _vector("version_1", json.dumps(record, ensure_ascii=False), base["jwks"], None, [])


def make_vectors(tmp: Path) -> Json:
    """Evaluate real records on a fresh Core (SQLite, an in-process chain for one anchor)
    and read them back through the HTTP API."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from web3 import EthereumTesterProvider

    from arka.app.anchoring import AnchorPolicy, AnchorService
    from arka.app.core import Core
    from arka.settings import Settings
    from arka.storage import Store
    from arka.trust.chain import ChainAdapter, ChainConfig, dev_private_key
    from tests.helpers import EXAMPLES, evaluate_body
    from tests.service_fixtures import api_client

    store = Store(f"sqlite:///{tmp / 'pact.db'}")
    store.migrate()
    core = Core(Settings(f"sqlite:///{tmp / 'pact.db'}", tmp / "keys"), store)
    core.registry.deploy_rule("default", (EXAMPLES / "rules" / "ctr-threshold-flag.yaml")
                              .read_text(), "yaml")
    ids: dict[str, str] = {}
    for name, body in INPUTS[:3]:
        record, _ = evaluate_body(core, "default", {"context": CTX, "input": body})
        ids[name] = record["evaluation_id"]
    # one confirmed anchor of the tree of the first three records
    provider = EthereumTesterProvider()
    config = ChainConfig("dev", "eth-tester://", None, 3, dev_private_key())
    address = ChainAdapter(config, provider).deploy()
    config = ChainConfig("dev", "eth-tester://", address, 3, dev_private_key())
    adapter = ChainAdapter(config, provider)
    svc = AnchorService(core.store, core.transparency.sth, [config],
                        AnchorPolicy(batch_entries=1), {"dev": adapter})
    svc.run_once()
    svc.run_once()
    adapter.w3.testing.mine(3)  # type: ignore[attr-defined]
    svc.run_once()
    for name, body in INPUTS[3:]:  # after the anchor: in the log, not anchored
        record, _ = evaluate_body(core, "default", {"context": CTX, "input": body,
                                                    "options": {"trace": "full"}})
        ids[name] = record["evaluation_id"]
    client = api_client(core, sth_interval=0)
    jwks = client.get("/api/v1/keys").json()
    valid: list[Json] = []
    for name, eid in ids.items():
        reply = client.get(f"/api/v1/evaluations/{eid}")
        assert reply.status_code == 200, reply.text
        inclusion = client.get("/api/v1/log/inclusion", params={"evaluation_id": eid}).json()
        anchors = [{**a, **client.get(f"/api/v1/anchors/{a['id']}").json()}
                   for a in reply.json().get("anchors", [])]
        valid.append(_vector(name, reply.text, jwks, inclusion, anchors))
    anchored = [v for v in valid if v["anchors"]]
    assert anchored, "the anchor service confirmed no anchor"
    for v in valid:
        assert v["expected"]["verdict"] != "invalid", (v["name"], v["expected"])
    base, other = valid[0], valid[1]
    other_record = json.loads(other["record_text"])
    stranger = Ed25519PrivateKey.generate()

    def decision(r: Json, j: Json, i: Json | None) -> None:
        r["result"]["decision"] = "ALLOW" if r["result"].get("decision") != "ALLOW" else "FLAG"

    def input_value(r: Json, j: Json, i: Json | None) -> None:
        r["input"]["transaction"]["amount"] += 1

    def trace_entry(r: Json, j: Json, i: Json | None) -> None:
        r["trace"][0]["events"][0]["result"] = not r["trace"][0]["events"][0].get("result")

    def swapped_signature(r: Json, j: Json, i: Json | None) -> None:
        r["trust_proof"]["signature"] = other_record["trust_proof"]["signature"]

    def wrong_key(r: Json, j: Json, i: Json | None) -> tuple[Json, Json, Json | None]:
        fake = public_jwk(stranger.public_key())
        fake["kid"] = r["trust_proof"]["key_id"]  # claims the signer's id; the bytes differ
        return r, {"keys": [fake]}, i

    def wrong_path(r: Json, j: Json, i: Json | None) -> None:
        assert i is not None and i["audit_path"], "a tree of one leaf has no path"
        i["audit_path"][0] = _flip_hex(i["audit_path"][0])

    def short_path(r: Json, j: Json, i: Json | None) -> None:
        assert i is not None
        i["audit_path"] = i["audit_path"][:-1]

    def wrong_head_signature(r: Json, j: Json, i: Json | None) -> None:
        assert i is not None
        i["sth"]["signature"] = _flip_b64(i["sth"]["signature"])

    def head_signed_by_stranger(r: Json, j: Json, i: Json | None) -> None:
        assert i is not None
        head = {k: i["sth"][k] for k in ("tree_size", "root_hash", "timestamp", "key_id")}
        i["sth"]["signature"] = b64url(stranger.sign(canonical(head)))

    def wrong_root(r: Json, j: Json, i: Json | None) -> None:
        assert i is not None
        i["sth"]["root_hash"] = _flip_hex(i["sth"]["root_hash"])

    def other_leaf(r: Json, j: Json, i: Json | None) -> tuple[Json, Json, Json | None]:
        return r, j, other["inclusion"]

    def log_index(r: Json, j: Json, i: Json | None) -> None:
        r["log_index"] += 1

    def duration(r: Json, j: Json, i: Json | None) -> None:
        r["metadata"]["evaluation_duration_ms"] = 12345.5

    def rule_version(r: Json, j: Json, i: Json | None) -> None:
        r["metadata"]["rules"][0]["version"] = "9.9.9"

    def extra_field(r: Json, j: Json, i: Json | None) -> None:
        r["approved_by"] = "someone"

    def proof_tenant(r: Json, j: Json, i: Json | None) -> None:
        r["trust_proof"]["tenant"] = "other"

    def timestamp(r: Json, j: Json, i: Json | None) -> None:
        r["timestamp"] = "2020-01-01T00:00:00.000000Z"

    def context(r: Json, j: Json, i: Json | None) -> None:
        r["context"]["jurisdiction"] = "GB"

    def rule_results(r: Json, j: Json, i: Json | None) -> None:
        r["rule_results"].append({"rule_id": "forged"})

    def no_inclusion(r: Json, j: Json, i: Json | None) -> tuple[Json, Json, Json | None]:
        return r, j, None

    def bad_anchor(r: Json, j: Json, i: Json | None) -> None:
        r["anchors"] = [{"chain": "dev", "tree_size": "3", "root_hash": "zz"}]

    def bad_proof_hash(r: Json, j: Json, i: Json | None) -> None:
        r["trust_proof"]["input_hash"] = "sha256:XYZ"

    def proof_version(r: Json, j: Json, i: Json | None) -> None:
        r["trust_proof"]["proof_version"] = 7

    def metadata_not_object(r: Json, j: Json, i: Json | None) -> None:
        r["metadata"] = ["not", "an", "object"]

    def no_trust_proof(r: Json, j: Json, i: Json | None) -> None:
        del r["trust_proof"]

    def full_trace(r: Json, j: Json, i: Json | None) -> None:
        r["full_trace"] = r.get("full_trace", [])[:-1] or [{"forged": True}]

    def float_input(r: Json, j: Json, i: Json | None) -> None:
        r["input"]["transaction"]["fee"] = 0.1 + 0.2

    changes: list[tuple[str, Json, Callable[..., Any]]] = [
        ("changed_decision", base, decision), ("changed_input_value", base, input_value),
        ("changed_trace_entry", base, trace_entry),
        ("swapped_signature", base, swapped_signature), ("wrong_key", base, wrong_key),
        ("wrong_inclusion_path", base, wrong_path), ("short_inclusion_path", base, short_path),
        ("wrong_tree_head_signature", base, wrong_head_signature),
        ("tree_head_signed_by_other_key", base, head_signed_by_stranger),
        ("wrong_tree_root", base, wrong_root), ("inclusion_of_other_record", base, other_leaf),
        ("changed_log_index", base, log_index), ("changed_duration", base, duration),
        ("changed_rule_version", base, rule_version), ("extra_field", base, extra_field),
        ("changed_proof_tenant", base, proof_tenant), ("changed_timestamp", base, timestamp),
        ("changed_context", base, context), ("added_rule_result", base, rule_results),
        ("no_inclusion", base, no_inclusion), ("malformed_anchor", base, bad_anchor),
        ("malformed_proof_hash", base, bad_proof_hash),
        ("unknown_proof_version", base, proof_version),
        ("metadata_not_object", base, metadata_not_object),
        ("no_trust_proof", base, no_trust_proof),
        ("changed_float_input", valid[3], float_input),
        ("changed_full_trace", valid[3], full_trace),
        ("changed_decimal_input", valid[2], input_value),
    ]
    tampered = [_tampered(b, name, f) for name, b, f in changes]
    legacy = _version_1(base, core.keys)
    valid.append(legacy)
    tampered.append(_tampered(legacy, "version_1_changed_input", input_value))
    for v in tampered:
        if v["name"] != "no_inclusion":
            assert v["expected"]["verdict"] == "invalid", (v["name"], v["expected"])
    canonical_cases = []
    for name, text in CANONICAL_TEXTS:
        value = json.loads(text)
        canonical_cases.append({"name": name, "text": text,
                                "canonical": canonical(value).decode("utf-8"),
                                "digest": digest(value)})
    for v in valid:
        record = json.loads(v["record_text"])
        for key in ("input", "result", "trace", "trust_proof"):
            canonical_cases.append({"name": f"{v['name']}.{key}", "text": json.dumps(record[key]),
                                    "canonical": canonical(record[key]).decode("utf-8"),
                                    "digest": digest(record[key])})
    return {"about": "made by tests/ui_vectors.py; checked by ui/test/verify.test.js",
            "records": valid + tampered, "canonical": canonical_cases}


def write_vectors(path: Path) -> Json:
    with tempfile.TemporaryDirectory(prefix="arka-ui-vectors-") as tmp:
        vectors = make_vectors(Path(tmp))
    path.write_text(json.dumps(vectors, indent=1, ensure_ascii=False), encoding="utf-8")
    return vectors


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.ui_vectors OUT.json")
    made = write_vectors(Path(sys.argv[1]))
    print(f"{len(made['records'])} record vectors, {len(made['canonical'])} canonical cases "
          f"-> {sys.argv[1]}")
