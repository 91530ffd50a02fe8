"""Records stored by an earlier release (0.1.0, before the service re-layout and the
generic action opcode) still read, replay and verify: proofs, the log and inclusion
proofs, and the audit chain. The database was made by tests/fixtures/release_0_1_0/make.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from arka.app.core import Core
from arka.settings import Settings
from arka.storage import Store
from arka.trust.proofs import load_public_keys, verify_inclusion_proof, verify_record

FIXTURE = Path(__file__).parent / "fixtures" / "release_0_1_0"


@pytest.fixture
def core(tmp_path: Path) -> Core:
    shutil.copy(FIXTURE / "pact.db", tmp_path / "pact.db")
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    store = Store(url)
    store.migrate()  # a no-op when the schema is current; an upgrade otherwise
    key = (FIXTURE / "encryption.key").read_text().strip()
    return Core(Settings(url, tmp_path / "keys", encryption_key=key), store)


def test_every_stored_evaluation_replays_and_verifies(core: Core) -> None:
    keys = load_public_keys((FIXTURE / "keys.json").read_text())
    items = core.evaluations.list("default", decision=None, rule_id=None, start=None,
                                  end=None, page=1, per_page=100)["items"]
    assert len(items) == 6
    for record in items:
        eid = record["evaluation_id"]
        assert verify_record(record, keys).valid, eid
        replay = core.evaluations.replay("default", eid)
        assert replay["match"], (eid, replay)
        full = core.evaluations.replay("default", eid, trace="full")
        assert full["match"] and full["replay_output_hash"] == record["trust_proof"]["output_hash"]
        inclusion = core.transparency.inclusion(eid, None)
        checks = verify_inclusion_proof(record, json.loads(json.dumps(inclusion)), keys)
        assert all(c.ok for c in checks), (eid, checks)


def test_old_records_keep_their_rule_versions_and_audit_chain(core: Core) -> None:
    rules = {r["rule_id"]: r["bytecode_hash"]
             for item in core.evaluations.list("default", decision=None, rule_id=None,
                                               start=None, end=None, page=1,
                                               per_page=100)["items"]
             for r in item["metadata"]["rules"]}
    for name, bytecode_hash in rules.items():
        # the stored bytecode is the old format; it still loads and hashes the same
        row = core.store.registry.get_rule("default", name, "1.0.0")
        assert row is not None and row.bytecode_hash == bytecode_hash
        assert core.registry.program(row).bytecode_hash == bytecode_hash
    assert core.audit.verify("default")["valid"]


def test_an_idempotent_request_of_the_old_release_is_still_answered_once(core: Core) -> None:
    from arka.app.requests import EvaluateRequest, parse
    cash = json.loads((Path(__file__).parents[1] / "examples" / "inputs" / "cash-15000.json")
                      .read_text())
    body = {"context": {"jurisdiction": "US", "timestamp": "2024-06-03T10:00:00Z"},
            "input": cash, "options": {"trace": "full", "idempotency_key": "fixture-1"}}
    record, created = core.evaluations.evaluate("default", parse(EvaluateRequest, body))
    assert not created
    assert record["metadata"]["rules_evaluated"]
