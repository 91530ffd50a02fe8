"""ARKA Core API end to end, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from arka.app.core import Core
from arka.base.errors import StoreError
from arka.interfaces.http.app import create_app
from arka.settings import Settings
from arka.storage import Store
from arka.trust.proofs import load_public_keys, verify_record
from tests.helpers import EXAMPLE_SCHEMAS, EXAMPLES, evaluate_body
from tests.service_fixtures import api_client, database_url

CTR = (EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text()
EDD = (EXAMPLES / "rules" / "enhanced-due-diligence.yaml").read_text()
STRUCT = (EXAMPLES / "rules" / "structuring-detection.yaml").read_text()
CASH = {"transaction": {"id": "t1", "amount": 12500, "currency": "USD", "type": "cash"}}
CTX = {"jurisdiction": "US", "domain": "AML", "timestamp": "2024-01-15T14:00:00Z"}
YAML = {"content-type": "application/x-yaml"}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


def make_core(db_url: str, tmp_path: Path) -> Core:
    store = Store(db_url)
    store.migrate()
    return Core(Settings(db_url, tmp_path / "keys"), store)


@pytest.fixture
def core(db_url: str, tmp_path: Path) -> Iterator[Core]:
    core = make_core(db_url, tmp_path)
    yield core
    # every evaluation a test stored must replay to the same output hash and verify
    page = 1
    while True:
        items, total = core.store.evaluations.list("default", decision=None, rule_id=None, start=None,
                                                   end=None, page=page, per_page=100)
        for rec in items:
            replay = core.evaluations.replay("default", rec["evaluation_id"])
            assert replay["match"], rec["evaluation_id"]
            assert core.evaluations.verify("default", rec["evaluation_id"])["valid"], rec["evaluation_id"]
        if page * 100 >= total:
            break
        page += 1


@pytest.fixture
def client(core: Core) -> TestClient:
    return api_client(core)


def deploy(client: TestClient, text: str) -> Any:
    r = client.post("/api/v1/rules", content=text, headers=YAML)
    assert r.status_code in (200, 201), r.text
    return r


def evaluate(client: TestClient, body: dict[str, Any]) -> Any:
    return client.post("/api/v1/evaluate", content=json.dumps(body))


def test_rule_registry(client: TestClient) -> None:
    r = client.post("/api/v1/rules", content=CTR, headers=YAML)
    assert r.status_code == 201
    assert r.json()["bytecode_hash"].startswith("sha256:")
    assert client.post("/api/v1/rules", content=CTR, headers=YAML).status_code == 200
    changed = CTR.replace("CTR filing", "a CTR")
    r = client.post("/api/v1/rules", content=changed, headers=YAML)
    assert r.status_code == 409 and r.json()["error"]["code"] == "CONFLICT"
    r = client.post("/api/v1/rules", content=changed.replace("version: 1.0.0", "version: 1.1.0"),
                    headers=YAML)
    assert r.status_code == 201
    listing = client.get("/api/v1/rules").json()
    assert listing["total"] == 1 and listing["items"][0]["version"] == "1.1.0"
    assert client.get("/api/v1/rules/ctr-threshold-flag").json()["versions"] == ["1.0.0", "1.1.0"]
    versions = client.get("/api/v1/rules/ctr-threshold-flag/versions").json()
    assert [v["version"] for v in versions["items"]] == ["1.0.0", "1.1.0"]
    detail = client.get("/api/v1/rules/ctr-threshold-flag/versions/1.0.0").json()
    assert detail["source"] == CTR and ".function 0 main" in detail["disassembly"]
    assert client.get("/api/v1/rules/nope").status_code == 404
    assert client.get("/api/v1/rules/ctr-threshold-flag/versions/9.9.9").status_code == 404


def test_deploy_and_validate_errors_have_positions(client: TestClient) -> None:
    bad = CTR.replace("amount_usd > ctr_limit", "amount_usdd > ctr_limit")
    for path in ("/api/v1/rules", "/api/v1/rules/validate"):
        r = client.post(path, content=bad, headers=YAML)
        assert r.status_code == 400
        err = r.json()["error"]
        assert err["code"] == "VALIDATION_ERROR" and err["request_id"]
        line = CTR.splitlines().index("      expression: amount_usd > ctr_limit") + 1
        assert err["details"][0]["line"] == line and err["details"][0]["code"] == "E_UNKNOWN_NAME"
    assert client.post("/api/v1/rules/validate", content=CTR, headers=YAML).json()["valid"]
    r = client.post("/api/v1/rules", content="", headers=YAML)
    assert r.status_code == 400
    r = client.post("/api/v1/rules", content=STRUCT.replace("tags: [structuring, bsa]",
                                                            "depends_on: [missing-rule]"),
                    headers=YAML)
    assert r.status_code == 400 and "missing-rule" in r.text


def test_json_rule_body(client: TestClient) -> None:
    doc = {"rule": {"metadata": {"name": "json-rule", "version": "1.0.0"},
                    "conditions": [{"id": "c", "expression": "true"}]}}
    r = client.post("/api/v1/rules", content=json.dumps(doc),
                    headers={"content-type": "application/json"})
    assert r.status_code == 201


def test_evaluate_prove_verify(client: TestClient, core: Core, tmp_path: Path) -> None:
    deploy(client, CTR)
    r = evaluate(client, {"context": CTX, "input": CASH, "options": {"trace": "basic"}})
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["result"]["decision"] == "non_compliant"
    assert rec["rule_results"][0]["status"] == "fired"
    proof = rec["trust_proof"]
    assert proof["algorithm"] == "Ed25519" and proof["evaluation_id"] == rec["evaluation_id"]
    stored = client.get(f"/api/v1/evaluations/{rec['evaluation_id']}").json()
    assert stored.pop("anchors") == []  # no chain configured
    assert stored == rec
    v = client.post(f"/api/v1/proofs/{rec['evaluation_id']}/verify").json()
    assert v["valid"] is True
    keys = load_public_keys(client.get("/api/v1/keys").json())
    assert verify_record(rec, keys).valid
    # offline CLI verification with the published keys
    from click.testing import CliRunner

    from arka.interfaces.cli import main
    rec_file, key_file = tmp_path / "eval.json", tmp_path / "keys.json"
    rec_file.write_text(json.dumps(rec))
    key_file.write_text(client.get("/api/v1/keys").text)
    out = CliRunner().invoke(main, ["verify", str(rec_file), "--key", str(key_file)])
    assert out.exit_code == 0 and "VALID" in out.output


@pytest.mark.parametrize("path,value", [
    (("input", "transaction", "amount"), 99999),
    (("context", "jurisdiction"), "US-NY"),
    (("result", "decision"), "compliant"),
    (("result", "flags"), []),
    (("metadata", "rules", 0, "bytecode_hash"), "sha256:" + "0" * 64),
    (("trace", 0, "events", 0, "value"), False),
    (("trust_proof", "timestamp"), "2030-01-01T00:00:00Z"),
    (("trust_proof", "output_hash"), "sha256:" + "1" * 64),
    (("trust_proof", "signature"), "AAAA"),
    (("evaluation_id",), "eval_other"),
])
def test_tampering_is_detected(client: TestClient, path: tuple[Any, ...], value: Any) -> None:
    deploy(client, CTR)
    rec = evaluate(client, {"context": CTX, "input": CASH}).json()
    keys = load_public_keys(client.get("/api/v1/keys").json())
    target = rec
    for p in path[:-1]:
        target = target[p]
    target[path[-1]] = value
    report = verify_record(rec, keys)
    assert not report.valid
    expected = {"input": "input_hash", "context": "context_hash", "result": "output_hash",
                "metadata": "rules_hash", "trace": "trace_hash", "evaluation_id": "evaluation_id"}
    failed = [c.name for c in report.checks if not c.ok]
    if path[0] in expected:
        assert expected[path[0]] in failed
    else:
        assert failed  # a changed proof field breaks the signature or its hash check


def test_idempotency(client: TestClient) -> None:
    deploy(client, CTR)
    body = {"context": CTX, "input": CASH, "options": {"idempotency_key": "k-1"}}
    first = evaluate(client, body)
    again = evaluate(client, body)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["evaluation_id"] == again.json()["evaluation_id"]
    other = dict(body, input={"transaction": dict(CASH["transaction"], amount=1)})
    r = evaluate(client, other)
    assert r.status_code == 409 and r.json()["error"]["code"] == "CONFLICT"


def test_replay_survives_a_restart(db_url: str, tmp_path: Path) -> None:
    core = make_core(db_url, tmp_path)
    client = api_client(core)
    for doc in (CTR, EDD, STRUCT):
        deploy(client, doc)
    ids = []
    for amount in (500, 9500, 12500, 10000.5):
        body = {"context": CTX, "input": {"transaction": dict(CASH["transaction"], amount=amount)}}
        ids.append(evaluate(client, body).json()["evaluation_id"])
    restarted = api_client(Core(Settings(db_url, tmp_path / "keys")))
    for eid in ids:
        r = restarted.post("/api/v1/evaluate/replay", content=json.dumps({"evaluation_id": eid}))
        assert r.status_code == 200 and r.json()["match"] is True, r.text
        assert restarted.post(f"/api/v1/proofs/{eid}/verify").json()["valid"]


def test_batch_isolates_bad_items(client: TestClient) -> None:
    for path in EXAMPLE_SCHEMAS:  # typed: an amount that is not a number is refused on entry
        assert client.post("/api/v1/schemas", content=path.read_text(),
                           headers=YAML).status_code == 201
    deploy(client, CTR)
    body = {"context": CTX, "inputs": [
        {"id": "a", "input": CASH},
        {"id": "b", "input": {"transaction": {"amount": "lots", "currency": "USD", "type": "cash"}}},
        {"id": "c", "input": {"transaction": dict(CASH["transaction"], amount=5)}},
        {"id": "d"},
    ]}
    r = client.post("/api/v1/evaluate/batch", content=json.dumps(body))
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["status"] for i in items] == [201, 400, 201, 400]
    assert items[0]["evaluation"]["result"]["decision"] == "non_compliant"
    assert items[2]["evaluation"]["result"]["decision"] == "compliant"
    assert "transaction.amount" in items[1]["error"]["message"]


def test_listing_and_filters(client: TestClient) -> None:
    deploy(client, CTR)
    for amount in (100, 20000, 300, 40000, 500):
        evaluate(client, {"context": CTX, "input": {"transaction": dict(CASH["transaction"],
                                                                        amount=amount)}})
    page = client.get("/api/v1/evaluations?per_page=2&page=2").json()
    assert page["total"] == 5 and len(page["items"]) == 2 and page["page"] == 2
    flagged = client.get("/api/v1/evaluations?decision=non_compliant").json()
    assert flagged["total"] == 2
    assert client.get("/api/v1/evaluations?rule_id=ctr-threshold-flag").json()["total"] == 5
    assert client.get("/api/v1/evaluations?rule_id=other").json()["total"] == 0
    assert client.get("/api/v1/evaluations?from=2024-01-16T00:00:00Z").json()["total"] == 0
    for bad in ("per_page=101", "page=0", "decision=maybe", "from=yesterday", "page=x"):
        r = client.get(f"/api/v1/evaluations?{bad}")
        assert r.status_code == 400, bad


def test_rulesets(client: TestClient) -> None:
    for doc in (CTR, STRUCT):
        deploy(client, doc)
    ruleset = """ruleset:
  metadata: { name: us-aml-basic, jurisdiction: US, domain: AML, version: 1.0.0 }
  rules:
    - { ref: ctr-threshold-flag, version: "^1.0.0", required: true }
    - { ref: structuring-detection, version: "^1.0.0", depends_on: [ctr-threshold-flag] }
  evaluation_order: dependency
  aggregate_decision: { strategy: most_severe }
"""
    r = client.post("/api/v1/rulesets", content=ruleset, headers=YAML)
    assert r.status_code == 201, r.text
    assert client.post("/api/v1/rulesets", content=ruleset, headers=YAML).status_code == 200
    assert client.get("/api/v1/rulesets/us-aml-basic").json()["versions"] == ["1.0.0"]
    assert client.get("/api/v1/rulesets").json()["total"] == 1
    for broken, needle in [
        (ruleset.replace('"^1.0.0", required', '"^2.0.0", required'), "satisfies"),
        (ruleset.replace("ref: structuring-detection", "ref: nothing-here"), "nothing-here"),
        (ruleset.replace("depends_on: [ctr-threshold-flag]", "depends_on: [ghost]"), "ghost"),
        (ruleset.replace("version: \"^1.0.0\", depends_on",
                         "version: \"not a range!\", depends_on"), "range"),
    ]:
        r = client.post("/api/v1/rulesets", content=broken.replace("1.0.0 }", "1.0.1 }"),
                        headers=YAML)
        assert r.status_code == 400 and needle in r.text, r.text
    deploy(client, EDD)  # not in the ruleset
    ctx = dict(CTX, ruleset="us-aml-basic@^1.0.0")
    del ctx["domain"]
    rec = evaluate(client, {"context": ctx, "input": CASH}).json()
    assert [r["rule_id"] for r in rec["rule_results"]] == ["ctr-threshold-flag",
                                                            "structuring-detection"]
    assert rec["metadata"]["ruleset"] == {"name": "us-aml-basic", "version": "1.0.0"}
    r = evaluate(client, {"context": dict(CTX, ruleset="us-aml-basic@^3"), "input": CASH})
    assert r.status_code == 400


def test_rule_versions_are_chosen_at_the_context_timestamp(client: TestClient) -> None:
    deploy(client, CTR)  # 1.0.0 effective 2024-01-01
    newer = CTR.replace("version: 1.0.0", "version: 2.0.0").replace(
        "effective_date: 2024-01-01", "effective_date: 2024-06-01").replace(
        "default: 10000", "default: 5000")
    deploy(client, newer)
    small = {"transaction": dict(CASH["transaction"], amount=7000)}
    old = evaluate(client, {"context": dict(CTX, timestamp="2024-03-01T00:00:00Z"), "input": small})
    new = evaluate(client, {"context": dict(CTX, timestamp="2024-07-01T00:00:00Z"), "input": small})
    assert old.json()["metadata"]["rules_evaluated"] == ["ctr-threshold-flag@1.0.0"]
    assert old.json()["result"]["decision"] == "compliant"
    assert new.json()["metadata"]["rules_evaluated"] == ["ctr-threshold-flag@2.0.0"]
    assert new.json()["result"]["decision"] == "non_compliant"
    # before any version is in force nothing decides: refused, never compliant by default
    before = client.post("/api/v1/evaluate", json={
        "context": dict(CTX, timestamp="2023-03-01T00:00:00Z"), "input": small})
    assert before.status_code == 400, before.text
    error = before.json()["error"]
    assert error["details"][0]["code"] == "E_NO_RULES" and "2023-03-01" in error["message"]
    assert client.get("/api/v1/evaluations").json()["total"] == 2


@pytest.mark.parametrize("body,needle", [
    ("{", "not valid JSON"), ("[1]", "JSON object"), ('{"input": 5}', "input must be"),
    ('{"context": {}, "input": {}, "extra": 1}', "unknown field"),
    ('{"input": {}, "options": {"trace": "loud"}}', "trace"),
    ('{"input": {}, "options": {"idempotency_key": ""}}', "idempotency_key"),
    ('{"input": {}, "context": {"timestamp": "soon"}}', "timestamp"),
    ('{"context": {}}', "input"),
])
def test_malformed_evaluate_requests(client: TestClient, body: str, needle: str) -> None:
    deploy(client, CTR)
    r = client.post("/api/v1/evaluate", content=body)
    assert r.status_code == 400, r.text
    assert needle in r.json()["error"]["message"]


def test_missing_timestamp_is_set_and_replayable(client: TestClient) -> None:
    deploy(client, CTR)
    rec = evaluate(client, {"context": {"jurisdiction": "US"}, "input": CASH}).json()
    assert rec["context"]["timestamp"].endswith("Z")
    r = client.post("/api/v1/evaluate/replay", content=json.dumps(
        {"evaluation_id": rec["evaluation_id"]}))
    assert r.json()["match"] is True


def test_payload_too_large(db_url: str, tmp_path: Path) -> None:
    store = Store(db_url)
    store.migrate()
    core = Core(Settings(db_url, tmp_path / "keys", max_request_size=1000), store)
    client = api_client(core)
    r = client.post("/api/v1/evaluate", content="x" * 2000)
    assert r.status_code == 413 and r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_unknown_routes_and_methods(client: TestClient) -> None:
    r = client.get("/api/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    assert client.get("/api/v1/evaluations/eval_missing").status_code == 404
    assert client.post("/api/v1/evaluate/replay",
                       content='{"evaluation_id": "eval_missing"}').status_code == 404


def test_health_and_openapi(client: TestClient) -> None:
    assert client.get("/health/live").json()["status"] == "ok"
    assert client.get("/health/ready").status_code == 200
    startup = client.get("/health/startup")
    assert startup.status_code == 200 and startup.json()["checks"]["rules_loaded"]
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/evaluate" in spec["paths"]


def test_startup_waits_for_migrations(db_url: str, tmp_path: Path) -> None:
    core = Core(Settings(db_url, tmp_path / "keys"))  # not migrated
    client = TestClient(create_app(core))  # probes need no credentials
    assert client.get("/health/startup").status_code == 503


def test_evaluations_are_append_only_in_the_database(client: TestClient, core: Core) -> None:
    deploy(client, CTR)
    evaluate(client, {"context": CTX, "input": CASH})
    for stmt in ("UPDATE evaluations SET decision = 'compliant'", "DELETE FROM evaluations"):
        with pytest.raises(DBAPIError, match="append-only"):
            with core.store.engine.begin() as conn:
                conn.execute(text(stmt))
    assert core.store.evaluations.count() == 1


def test_key_rotation_keeps_old_proofs_verifiable(client: TestClient, core: Core) -> None:
    deploy(client, CTR)
    old = evaluate(client, {"context": CTX, "input": CASH}).json()
    old_kid = old["trust_proof"]["key_id"]
    new_kid = core.keys.rotate()
    new = evaluate(client, {"context": CTX, "input": CASH}).json()
    assert new["trust_proof"]["key_id"] == new_kid != old_kid
    jwks = client.get("/api/v1/keys").json()
    assert {k["kid"] for k in jwks["keys"]} >= {old_kid, new_kid}
    for rec in (old, new):
        assert client.post(f"/api/v1/proofs/{rec['evaluation_id']}/verify").json()["valid"]


def test_concurrent_clients_lose_nothing(client: TestClient, core: Core) -> None:
    deploy(client, CTR)

    def work(i: int) -> tuple[int, int]:
        text = EDD.replace("version: 1.0.0", f"version: 1.{i % 4}.0").replace(
            "EDD customer", f"EDD customer {i % 4}")
        dep = client.post("/api/v1/rules", content=text, headers=YAML).status_code
        ev = evaluate(client, {"context": CTX, "input": CASH,
                               "options": {"idempotency_key": f"c-{i}"}}).status_code
        return dep, ev

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(work, range(32)))
    assert all(dep in (200, 201) and ev == 201 for dep, ev in results), results
    versions = client.get("/api/v1/rules/enhanced-due-diligence/versions").json()["items"]
    assert sorted(v["version"] for v in versions) == ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]
    assert core.store.evaluations.count() == 32


def test_reference_tables_are_deployed_used_and_replayed(client: TestClient) -> None:
    fx = (EXAMPLES / "tables" / "fx-rates.yaml").read_text()
    r = client.post("/api/v1/tables", content=fx, headers=YAML)
    assert r.status_code == 201 and r.json()["kind"] == "fx_rate"
    assert client.post("/api/v1/tables", content=fx, headers=YAML).status_code == 200
    r = client.post("/api/v1/tables", content=fx.replace("1.0850", "1.0900"), headers=YAML)
    assert r.status_code == 409
    bad = client.post("/api/v1/tables", content=fx.replace("kind: fx_rate", "kind: rates"),
                      headers=YAML)
    assert bad.status_code == 400 and bad.json()["error"]["details"][0]["line"] == 4
    deploy(client, CTR)
    eur = {"transaction": {"id": "t", "amount": 9500, "currency": "EUR", "type": "cash"}}
    rec = evaluate(client, {"context": dict(CTX, timestamp="2024-03-01T00:00:00Z"),
                            "input": eur}).json()
    assert rec["result"]["annotations"]["ctr_amount_usd"] == 10307.5
    assert rec["metadata"]["tables"][0]["table"] == "fx-rates"
    # a newer table version does not change the replay of the old evaluation
    newer = fx.replace("version: 1.0.0", "version: 1.1.0").replace("1.0850", "0.5")
    assert client.post("/api/v1/tables", content=newer, headers=YAML).status_code == 201
    r = client.post("/api/v1/evaluate/replay", content=json.dumps(
        {"evaluation_id": rec["evaluation_id"]}))
    assert r.json()["match"] is True
    assert client.get("/api/v1/tables/fx-rates").json()["versions"] == ["1.0.0", "1.1.0"]
    first = client.get("/api/v1/tables/fx-rates/versions/1.0.0").json()
    assert first["version"] == "1.0.0" and first["versions"] == ["1.0.0", "1.1.0"]
    assert first["source"] != client.get("/api/v1/tables/fx-rates").json()["source"]
    missing = client.get("/api/v1/tables/fx-rates/versions/9.9.9")
    assert missing.status_code == 404 and "it has 1.0.0, 1.1.0" in missing.text
    assert client.get("/api/v1/tables").json()["total"] == 1


def test_copy_sqlite_to_postgresql_then_replay_and_verify(tmp_path: Path) -> None:
    from arka.storage import copy_store
    from tests.service_fixtures import postgres_database
    sqlite_url = f"sqlite:///{tmp_path / 'source.db'}"
    source_core = make_core(sqlite_url, tmp_path)
    client = api_client(source_core)
    client.post("/api/v1/tables", content=(EXAMPLES / "tables" / "fx-rates.yaml").read_text(),
                headers=YAML)
    for doc in (CTR, EDD, STRUCT):
        deploy(client, doc)
    ids = []
    for amount, currency in ((500, "USD"), (12500, "USD"), (9500, "EUR"), (15000, "GBP")):
        body = {"context": dict(CTX, timestamp="2024-03-01T00:00:00Z"),
                "input": {"transaction": dict(CASH["transaction"], amount=amount,
                                              currency=currency)}}
        ids.append(evaluate(client, body).json()["evaluation_id"])
    gen = postgres_database()
    pg_url = next(gen)
    try:
        target = Store(pg_url)
        target.migrate()
        counts = copy_store(source_core.store, target)
        assert {k: v for k, v in counts.items() if not k.startswith("log_")} == {
            "rules": 3, "rulesets": 0, "reference_tables": 1, "schemas": 0, "evaluations": 4,
            "anchors": 0, "screening_allowlist": 0,
                "api_keys": 1, "audit_events": 5, "outbox": 3, "webhooks": 0,
                "deliveries": 0, "cases": 0, "case_evaluations": 0, "case_events": 0,
                "worker_leases": 0}
        assert counts["log_leaves"] == 4
        source_head = source_core.transparency.sth()
        assert Core(Settings(pg_url, tmp_path / "keys"), target).transparency.sth()["root_hash"] == \
            source_head["root_hash"]
        pg = api_client(Core(Settings(pg_url, tmp_path / "keys"), target))
        for eid in ids:
            r = pg.post("/api/v1/evaluate/replay", content=json.dumps({"evaluation_id": eid}))
            assert r.status_code == 200 and r.json()["match"] is True, r.text
            assert pg.post(f"/api/v1/proofs/{eid}/verify").json()["valid"]
        # the copy keeps accepting new evaluations
        assert evaluate(pg, {"context": CTX, "input": CASH}).status_code == 201
        with pytest.raises(StoreError, match="already holds"):
            copy_store(source_core.store, target)
    finally:
        gen.close()


def test_ruleset_dependencies_order_the_evaluation(client: TestClient) -> None:
    for doc in (EDD, STRUCT):
        deploy(client, doc)
    ruleset = """ruleset:
  metadata: { name: ordered, version: 1.0.0 }
  rules:
    - { ref: structuring-detection, version: "1.0.0" }
    - { ref: enhanced-due-diligence, version: "^1", depends_on: [structuring-detection] }
"""
    assert client.post("/api/v1/rulesets", content=ruleset, headers=YAML).status_code == 201
    body = {"context": {"ruleset": "ordered", "timestamp": "2024-02-10T12:00:00Z"},
            "input": {"transaction": {"amount": 100, "type": "cash",
                                      "timestamp": "2024-02-10T11:00:00Z"},
                      "customer": {"id": "c", "risk_score": 10, "pep": False, "country": "FR"}}}
    rec = evaluate(client, body).json()
    assert [r["rule_id"] for r in rec["rule_results"]] == ["structuring-detection",
                                                            "enhanced-due-diligence"]
    r = client.post("/api/v1/evaluate/replay", content=json.dumps(
        {"evaluation_id": rec["evaluation_id"]}))
    assert r.json()["match"] is True


def test_transparency_log(client: TestClient, core: Core) -> None:
    from arka.trust import merkle
    from arka.trust.proofs import verify_inclusion_proof, verify_tree_head
    deploy(client, CTR)
    keys = load_public_keys(client.get("/api/v1/keys").json())
    empty = client.get("/api/v1/log/sth").json()
    assert empty["tree_size"] == 0
    assert empty["root_hash"] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    records = [evaluate(client, {"context": CTX, "input": CASH}).json() for _ in range(3)]
    batch = client.post("/api/v1/evaluate/batch", content=json.dumps(
        {"context": CTX, "inputs": [{"id": str(i), "input": CASH} for i in range(4)]})).json()
    records += [item["evaluation"] for item in batch["items"]]
    assert [r["log_index"] for r in records] == list(range(7))
    first = client.get("/api/v1/log/sth").json()
    assert first["tree_size"] == 7 and verify_tree_head(first, keys).ok
    for rec in records:
        proof = client.get(f"/api/v1/log/inclusion?evaluation_id={rec['evaluation_id']}").json()
        checks = verify_inclusion_proof(rec, proof, keys)
        assert all(c.ok for c in checks), checks
        tampered = json.loads(json.dumps(rec))
        tampered["trust_proof"]["output_hash"] = "sha256:" + "0" * 64
        assert not all(c.ok for c in verify_inclusion_proof(tampered, proof, keys))
    for _ in range(5):
        evaluate(client, {"context": CTX, "input": CASH})
    second = client.get("/api/v1/log/sth").json()
    assert second["tree_size"] == 12
    cons = client.get("/api/v1/log/consistency?first=7&second=12").json()
    assert merkle.verify_consistency(7, 12, bytes.fromhex(first["root_hash"]),
                                     bytes.fromhex(second["root_hash"]),
                                     [bytes.fromhex(h) for h in cons["consistency_path"]])
    # proofs against the older published head still work
    old = client.get(f"/api/v1/log/inclusion?evaluation_id={records[2]['evaluation_id']}"
                     "&tree_size=7").json()
    assert all(c.ok for c in verify_inclusion_proof(records[2], old, keys))
    for bad in ("first=0&second=3", "first=5&second=4", "first=1&second=99", "first=x&second=2",
                "first=1"):
        assert client.get(f"/api/v1/log/consistency?{bad}").status_code == 400, bad
    assert client.get("/api/v1/log/inclusion?evaluation_id=eval_nope").status_code == 404
    assert client.get(f"/api/v1/log/inclusion?evaluation_id={records[0]['evaluation_id']}"
                      "&tree_size=3").status_code == 404  # no head was published at size 3
    assert client.get("/api/v1/log/inclusion").status_code == 400
    for stmt in ("UPDATE log_nodes SET hash = hash", "DELETE FROM log_leaves"):
        with pytest.raises(DBAPIError, match="append-only"):
            with core.store.engine.begin() as conn:
                conn.execute(text(stmt))


def test_metrics_are_exposed_with_the_documented_names(client: TestClient) -> None:
    from prometheus_client.parser import text_string_to_metric_families
    deploy(client, CTR)
    evaluate(client, {"context": CTX, "input": CASH})
    evaluate(client, {"context": CTX, "input": {"transaction": {"amount": "x"}}})
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    for name in ("pact_evaluations", "pact_evaluation_errors", "pact_evaluation_duration_seconds",
                 "pact_proofs_generated", "pact_proofs_anchored", "pact_rules_loaded",
                 "pact_rtvm_executions", "pact_database_connections_available"):
        assert name in families, name
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families.values() for s in f.samples}
    assert samples[("pact_evaluations_total", (("decision", "non_compliant"),))] >= 1
    assert samples[("pact_evaluation_errors_total", (("kind", "input"),))] >= 1
    assert any(k[0] == "pact_evaluation_duration_seconds_bucket" for k in samples)
    assert samples[("pact_database_connections_available", ())] > 0


def test_group_commit_under_concurrency(client: TestClient, core: Core) -> None:
    deploy(client, CTR)
    with ThreadPoolExecutor(16) as pool:
        records = list(pool.map(lambda i: evaluate_body(core, "default",
            {"context": CTX, "input": {"transaction": dict(CASH["transaction"], amount=i)}})[0],
            range(120)))
    indexes = sorted(r["log_index"] for r in records)
    assert indexes == list(range(120))
    assert core.store.evaluations.count() == 120
    for r in records[:5] + records[-5:]:
        stored = core.store.evaluations.get("default", r["evaluation_id"])
        assert stored["log_index"] == r["log_index"]
