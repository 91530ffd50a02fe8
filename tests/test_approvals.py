"""Four-eyes approval (governance.require_approval): a new rule, ruleset or table version
decides nothing until a second person with rules:approve approves it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from arka.app.core import Core
from arka.interfaces.http.app import create_app
from arka.security.ratelimit import RateLimitSettings
from arka.settings import Settings
from arka.storage import Store
from tests.helpers import EXAMPLES

CTR = (EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text()
FX = (EXAMPLES / "tables" / "fx-rates.yaml").read_text()
YAML = {"content-type": "application/x-yaml"}
CTX = {"jurisdiction": "US", "domain": "AML", "timestamp": "2024-01-15T14:00:00Z"}
CASH = {"transaction": {"id": "t1", "amount": 12500, "currency": "USD", "type": "cash"}}
RULESET = """ruleset:
  metadata: { name: us-aml, jurisdiction: US, domain: AML, version: 1.0.0 }
  rules:
    - { ref: ctr-threshold-flag, version: "^1.0.0", required: true }
"""


def _core(tmp_path: Path, require: bool) -> Core:
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    store = Store(url)
    store.migrate()
    return Core(Settings(url, tmp_path / "keys", require_approval=require,
                         rate_limit=RateLimitSettings(enabled=False)), store)


def _client(core: Core, role: str) -> TestClient:
    key = core.apikeys.create("default", role, [role], None)["key"]
    return TestClient(create_app(core), headers={"X-API-Key": key})


def _fired(client: TestClient) -> list[str]:
    """The rules that fired; [] when no rule is in force (refused with E_NO_RULES)."""
    r = client.post("/api/v1/evaluate", json={"context": CTX, "input": CASH})
    if r.status_code == 400:
        assert [d["code"] for d in r.json()["error"]["details"]] == ["E_NO_RULES"], r.text
        return []
    assert r.status_code == 201, r.text
    return [x["rule_id"] for x in r.json()["rule_results"] if x["status"] == "fired"]


def test_a_rule_decides_only_after_a_second_person_approves(tmp_path: Path) -> None:
    core = _core(tmp_path, require=True)
    alice, bob = _client(core, "compliance_officer"), _client(core, "compliance_officer")
    analyst, service = _client(core, "analyst"), _client(core, "service")
    r = alice.post("/api/v1/rules", content=CTR, headers=YAML)
    assert r.status_code == 201 and r.json()["status"] == "pending"
    assert r.json()["deployed_by"].startswith("apikey:")
    assert _fired(service) == []  # pending: not in force
    pending = alice.get("/api/v1/approvals").json()["items"]
    assert [(p["kind"], p["name"], p["version"]) for p in pending] == [
        ("rule", "ctr-threshold-flag", "1.0.0")]
    # the list says who may review: not alice, who deployed it; bob may
    assert pending[0]["reviewable"] is False and pending[0]["deployed_by_persons"]
    assert bob.get("/api/v1/approvals").json()["items"][0]["reviewable"] is True
    url = "/api/v1/rules/ctr-threshold-flag/versions/1.0.0"
    r = alice.post(f"{url}/approve")
    assert r.status_code == 403 and "cannot review it" in r.json()["error"]["message"]
    assert analyst.post(f"{url}/approve").status_code == 403
    assert bob.post(f"{url}/approve", content=b"not json").status_code == 400
    r = bob.post(f"{url}/approve", json={"note": "checked against the CTR regulation"})
    assert r.status_code == 200, r.text
    approved = r.json()
    assert approved["status"] == "active" and approved["reviewed_by"] != approved["deployed_by"]
    assert approved["review_note"] == "checked against the CTR regulation"
    assert _fired(service) == ["ctr-threshold-flag"]
    assert bob.post(f"{url}/approve").status_code == 409  # not pending any more
    assert alice.get("/api/v1/approvals").json()["total"] == 0
    # a rejected version never decides
    v2 = CTR.replace("version: 1.0.0", "version: 1.1.0", 1).replace("10000", "1")
    assert bob.post("/api/v1/rules", content=v2, headers=YAML).json()["status"] == "pending"
    r = alice.post("/api/v1/rules/ctr-threshold-flag/versions/1.1.0/reject",
                   json={"note": "threshold wrong"})
    assert r.json()["status"] == "rejected"
    rec = service.post("/api/v1/evaluate", json={"context": CTX, "input": CASH}).json()
    assert [r["version"] for r in rec["rule_results"]] == ["1.0.0"]
    events = core.store.audit.events("default", page=1, per_page=50)[0]
    assert {"rule.deploy", "rule.approve", "rule.reject"} <= {e["action"] for e in events}
    assert core.audit.verify("default")["valid"]
    assert bob.post("/api/v1/rules/nothing/versions/1.0.0/approve").status_code == 404


def test_tables_and_rulesets_wait_for_approval_too(tmp_path: Path) -> None:
    core = _core(tmp_path, require=True)
    alice, bob = _client(core, "compliance_officer"), _client(core, "admin")
    alice.post("/api/v1/rules", content=CTR, headers=YAML)
    bob.post("/api/v1/rules/ctr-threshold-flag/versions/1.0.0/approve")
    assert alice.post("/api/v1/tables", content=FX, headers=YAML).json()["status"] == "pending"
    assert alice.post("/api/v1/rulesets", content=RULESET, headers=YAML).json()["status"] == \
        "pending"
    r = bob.post("/api/v1/evaluate", json={"context": dict(CTX, ruleset="us-aml"),
                                           "input": CASH})
    assert r.status_code == 400 and "none approved" in r.text
    assert core.registry.current_tables("default").tables == {}
    for path in ("/api/v1/rulesets/us-aml/versions/1.0.0/approve",
                 "/api/v1/tables/fx-rates/versions/1.0.0/approve"):
        assert bob.post(path).status_code == 200, path
    r = bob.post("/api/v1/evaluate", json={"context": dict(CTX, ruleset="us-aml"),
                                           "input": CASH})
    assert r.status_code == 201 and r.json()["metadata"]["ruleset"]["name"] == "us-aml"
    assert "fx-rates" in core.registry.current_tables("default").tables


def test_without_approval_versions_are_active_at_once(tmp_path: Path) -> None:
    core = _core(tmp_path, require=False)
    alice = _client(core, "compliance_officer")
    body: Any = alice.post("/api/v1/rules", content=CTR, headers=YAML).json()
    assert body["status"] == "active" and body["deployed_by"].startswith("apikey:")
    assert body["reviewed_by"] is None
    assert _fired(_client(core, "service")) == ["ctr-threshold-flag"]


def test_the_approval_list_knows_a_person_behind_several_keys(tmp_path: Path) -> None:
    core = _core(tmp_path, require=True)
    keys = {(who, n): core.apikeys.create("default", f"{who}{n}", ["compliance_officer"], None,
                                          owner=who)["key"]
            for who, n in (("olivia", 1), ("olivia", 2), ("oscar", 1))}
    client = {k: TestClient(create_app(core), headers={"X-API-Key": v}) for k, v in keys.items()}
    assert client[("olivia", 1)].post("/api/v1/rules", content=CTR,
                                      headers=YAML).status_code == 201
    seen = {k: c.get("/api/v1/approvals").json()["items"][0] for k, c in client.items()}
    assert all(item["deployed_by_persons"] == ["olivia"] for item in seen.values()), seen
    assert [seen[k]["reviewable"] for k in keys] == [False, False, True]
