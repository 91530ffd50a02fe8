"""Determinism: same source and input give byte-identical bytecode and output, in separate
processes with different hash seeds (SPEC §3), and on repeated evaluation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import arka
from tests.helpers import EXAMPLES, ROOT

SCRIPT = r"""
import hashlib, json, sys
from pathlib import Path
import arka
from arka.base import values as V
from arka.trust.proofs import digest, signed_metadata
root = Path(sys.argv[1])
rules = arka.load_rules([root / "rules"])
tables = arka.load_tables([root / "tables"])
out = {"bytecode": {r.name: r.bytecode_hash for r in rules}}
data = V.load_json_text((root / "inputs" / "cash-15000.json").read_text())
history = {"transaction": {"amount": 9500, "type": "cash", "timestamp": "2024-02-10T11:00:00Z",
                           "currency": "USD", "id": "t"},
           "transaction_history": [{"amount": 9200, "type": "cash", "timestamp": "2024-02-05T10:00:00Z"},
                                   {"amount": 9800, "type": "cash", "timestamp": "2024-02-07T10:00:00Z"}],
           "customer": {"id": "c", "risk_score": 90, "pep": True, "country": "IR"}}
rs = arka.RuleSet(rules, tables)
for name, inp, ctx in [("cash", data, {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"}),
                       ("mixed", history, {"jurisdiction": "US", "timestamp": "2024-02-10T12:00:00Z"})]:
    full = rs.evaluate(inp, ctx, trace="full")
    res = full.to_dict(timing=False)
    out[name] = hashlib.sha256(json.dumps(res, sort_keys=True).encode()).hexdigest()
    # the proof's hashes of the record's parts (metadata without its duration)
    timed = full.to_dict()
    out[name + "/proof"] = [digest(timed["result"]), digest(timed["rule_results"]),
                            digest(signed_metadata(timed["metadata"])),
                            digest(timed["context"]), digest(timed["trace"])]
print(json.dumps(out, sort_keys=True))
"""


def _run(seed: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(EXAMPLES)], capture_output=True,
                          text=True, env=env, check=True)
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_two_processes_with_different_hash_seeds_agree() -> None:
    first, second = _run("1"), _run("987654")
    assert first == second
    assert len(first["bytecode"]) == 3


def test_compiling_twice_gives_identical_bytes() -> None:
    path = EXAMPLES / "rules" / "enhanced-due-diligence.yaml"
    assert arka.compile_file(path).bytecode == arka.compile_file(path).bytecode


def test_repeated_evaluation_is_identical() -> None:
    rules = arka.load_rules([EXAMPLES / "rules"])
    rs = arka.RuleSet(rules, arka.load_tables([EXAMPLES / "tables"]))
    inp = {"customer": {"id": "c", "risk_score": 90, "pep": True, "country": "GB"},
           "transaction": {"id": "t", "amount": "9999.995", "currency": "EUR", "type": "cash"}}
    ctx = {"jurisdiction": "US", "timestamp": "2024-05-01T00:00:00Z"}
    outs = {json.dumps(rs.evaluate(inp, ctx, trace="full").to_dict(timing=False), sort_keys=True)
            for _ in range(5)}
    assert len(outs) == 1


def test_the_wall_clock_never_enters_an_evaluation() -> None:
    rules = arka.load_rules([EXAMPLES / "rules" / "ctr-threshold-flag.yaml"])
    rs = arka.RuleSet(rules)
    inp = {"transaction": {"id": "t", "amount": 20000, "currency": "USD", "type": "cash"}}
    a = rs.evaluate(inp, {"jurisdiction": "US", "timestamp": "2030-01-02T00:00:00Z"})
    b = rs.evaluate(inp, {"jurisdiction": "US", "timestamp": "2030-01-02T00:00:00Z"})
    assert a.result == b.result
    assert a.result["annotations"]["ctr_due_date"] == "2030-01-17"  # 15 calendar days


def test_two_evaluations_through_the_service_have_the_same_proof_hashes(tmp_path: Path
                                                                         ) -> None:
    """Only the per-evaluation parts of two proofs of the same request differ."""
    from arka.app.core import Core
    from arka.settings import Settings
    from arka.storage import Store
    from tests.service_fixtures import api_client
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    store = Store(url)
    store.migrate()
    client = api_client(Core(Settings(url, tmp_path / "keys"), store))
    for name in ("ctr-threshold-flag", "structuring-detection", "enhanced-due-diligence"):
        assert client.post("/api/v1/rules", content=(EXAMPLES / "rules" / f"{name}.yaml")
                           .read_bytes(), headers={"content-type": "application/x-yaml"}
                           ).status_code == 201
    body = {"context": {"jurisdiction": "US", "timestamp": "2024-03-01T10:00:00Z"},
            "input": {"transaction": {"id": "t", "amount": 12500, "currency": "USD",
                                      "type": "cash"},
                      "customer": {"id": "c", "risk_score": 90, "pep": True, "country": "IR"}},
            "options": {"trace": "full"}}
    a, b = (client.post("/api/v1/evaluate", json=body).json()["trust_proof"] for _ in range(2))
    per_evaluation = {"proof_id", "evaluation_id", "evaluation_duration_ms", "signature"}
    assert set(a) == set(b) and a["proof_version"] == 2
    assert {k for k in a if a[k] != b[k]} <= per_evaluation
    assert {k: v for k, v in a.items() if k not in per_evaluation} == \
        {k: v for k, v in b.items() if k not in per_evaluation}
