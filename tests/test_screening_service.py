"""Sanctions screening in ARKA Core: rules that screen customers (the list versions in
the record and the proof), POST /api/v1/screen, and the allowlist of false positives
(recorded, audited, four-eyes, applied to rules' and direct screenings, re-opened when the
listed entity changes, revoked), on SQLite and the real PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arka.app.core import Core
from arka.settings import Settings
from arka.storage import Store
from tests.helpers import ROOT
from tests.service_fixtures import api_client, database_url

SAMPLE = ROOT / "tests" / "fixtures" / "screening" / "sample.ftm.json"
YAML = {"content-type": "application/x-yaml"}
CTX = {"jurisdiction": "US", "timestamp": "2024-05-01T12:00:00Z"}

RULE = """rule:
  metadata: {name: sanctions-screening, version: 1.0.0, jurisdiction: ALL}
  inputs:
    - name: customer
      schema:
        type: object
        properties:
          id: {type: string}
          name: {type: string}
          birth_date: {type: string}
          country: {type: string}
        required: [id, name]
  let:
    screening: 'plugin.sanctions.screen(name: customer.name, birth_date: customer.birth_date,
      countries: [customer.country], subject_id: customer.id)'
  conditions:
    - id: sanctioned
      expression: screening.hit
  actions:
    - trigger: sanctioned
      type: block
      config:
        code: SANCTIONS-001
        reason: "Possible sanctions match: ${screening.matches[0].caption}"
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


def make_core(db: str, tmp_path: Path, lists: Path, approvals: bool = False) -> Core:
    store = Store(db)
    store.migrate()
    settings = dataclasses.replace(
        Settings(db, tmp_path / "keys"), require_approval=approvals,
        plugin_settings={"sanctions": {"datasets": [str(lists)], "reload_seconds": 0.01}})
    return Core(settings, store)


@pytest.fixture
def lists(tmp_path: Path) -> Path:
    path = tmp_path / "lists.ftm.json"
    shutil.copy(SAMPLE, path)
    return path


def customer(**kw: Any) -> dict[str, Any]:
    return {"customer": {"id": "cust-1", "name": "Vladimir Putin", "birth_date": "1952-10-07",
                         "country": "RU", **kw}}


def test_rules_screen_customers_and_record_the_list_versions(db: str, tmp_path: Path,
                                                             lists: Path) -> None:
    core = make_core(db, tmp_path, lists)
    client = api_client(core)
    assert client.post("/api/v1/rules", content=RULE, headers=YAML).status_code == 201
    record = client.post("/api/v1/evaluate", json={"context": CTX, "input": customer()}).json()
    assert record["result"]["blocked"] is True
    assert "Vladimir Vladimirovich Putin" in record["result"]["blocks"][0]["reason"]
    (call,) = record["rule_results"][0]["plugin_calls"]
    assert call["plugin"] == "sanctions" and call["args"]["subject_id"] == "cust-1"
    (version,) = call["data_version"]["datasets"]
    assert version["name"] == "lists" and version["version"].startswith("sha256:")
    match = call["result"]["matches"][0]
    assert match["entity_id"] == "putin" and 0.8 <= match["score"] <= 1
    assert {e["feature"] for e in match["explanation"]} >= {"token_exact"}
    verified = client.post(f"/api/v1/proofs/{record['evaluation_id']}/verify").json()
    assert verified["valid"] is True
    # a different birth year rules the same name out
    other = client.post("/api/v1/evaluate", json={"context": CTX, "input": customer(
        birth_date="1990-01-01")}).json()
    assert other["result"]["blocked"] is False
    core.close()


def test_post_screen_answers_matches_with_explanations(db: str, tmp_path: Path,
                                                       lists: Path) -> None:
    core = make_core(db, tmp_path, lists)
    client = api_client(core)
    out = client.post("/api/v1/screen", json={"name": "Муаммар Каддафи"})
    assert out.status_code == 200, out.text
    body = out.json()
    assert body["hit"] is True and body["matches"][0]["entity_id"] == "gaddafi"
    assert body["data_version"]["datasets"][0]["records"] > 0
    assert body["plugin_version"] == "1.0.0"
    pep = client.post("/api/v1/screen", json={"name": "Mao Zedong"}).json()
    assert pep["hit"] is False  # sanctions only by default
    pep = client.post("/api/v1/screen", json={"name": "Mao Zedong", "topics": ["role.pep"]})
    assert pep.json()["hit"] is True
    for bad, where in [({}, "name"), ({"name": "x", "threshold": 2}, "threshold"),
                       ({"name": "x", "nickname": "y"}, "nickname"),
                       ({"name": ""}, "name"), ({"name": "x", "limit": 0}, "limit")]:
        r = client.post("/api/v1/screen", json=bad)
        assert r.status_code == 400 and r.json()["error"]["code"] == "VALIDATION_ERROR"
        assert where in json.dumps(r.json()["error"]), r.text
    r = client.post("/api/v1/screen", json={"name": "x", "schema": "Persn"})
    assert r.status_code == 400 and "schema must be one of Airplane" in r.json()["error"][
        "message"]
    r = client.post("/api/v1/screen", json={"name": "x", "topics": ["sanctions"]})
    assert r.status_code == 400 and "role.pep" in r.json()["error"]["message"]
    assert client.post("/api/v1/screen", content=b"{not json",
                       headers={"content-type": "application/json"}).status_code == 400
    viewer = api_client(core, roles=("viewer",))
    assert viewer.post("/api/v1/screen", json={"name": "x"}).status_code == 403
    core.close()


def test_the_allowlist_skips_a_decided_pair_until_the_entity_changes(
        db: str, tmp_path: Path, lists: Path) -> None:
    core = make_core(db, tmp_path, lists)
    admin = api_client(core)
    analyst = api_client(core, roles=("analyst",))
    assert admin.post("/api/v1/rules", content=RULE, headers=YAML).status_code == 201
    bad = analyst.post("/api/v1/screening/allowlist", json={"subject_id": "cust-1",
                                                           "entity_id": "nosuch",
                                                           "reason": "not the same"})
    assert bad.status_code == 404
    for body in ({"subject_id": "cust-1", "entity_id": "putin"},
                 {"subject_id": "cust-1", "entity_id": "putin", "reason": ""},
                 {"subject_id": "cust-1", "entity_id": "putin", "reason": "ok", "x": 1}):
        assert analyst.post("/api/v1/screening/allowlist", json=body).status_code == 400
    entry = analyst.post("/api/v1/screening/allowlist", json={
        "subject_id": "cust-1", "entity_id": "putin",
        "reason": "Our customer is a retired teacher from Omsk, born 1952, different "
                  "father's name (passport checked)"})
    assert entry.status_code == 201, entry.text
    e = entry.json()
    assert e["status"] == "active" and e["entity_hash"].startswith("sha256:")
    assert e["datasets"][0]["name"] == "lists" and e["datasets"][0]["version"].startswith(
        "sha256:")
    dup = analyst.post("/api/v1/screening/allowlist", json={
        "subject_id": "cust-1", "entity_id": "putin", "reason": "again"})
    assert dup.status_code == 409 and e["id"] in dup.json()["error"]["message"]

    record = admin.post("/api/v1/evaluate", json={"context": CTX, "input": customer()}).json()
    assert record["result"]["blocked"] is False
    result = record["rule_results"][0]["plugin_calls"][0]["result"]
    assert result["hit"] is False and result["matches"] == []
    (skipped,) = result["allowlisted"]
    assert skipped["allowlist_id"] == e["id"] and skipped["entity_id"] == "putin"
    assert "retired teacher" in skipped["reason"]
    # another customer with the same name is still screened
    other = admin.post("/api/v1/evaluate", json={"context": CTX, "input": customer(
        id="cust-2")}).json()
    assert other["result"]["blocked"] is True
    # direct screening with the subject applies it too
    direct = analyst.post("/api/v1/screen", json={"name": "Vladimir Putin",
                                                  "subject_id": "cust-1"}).json()
    assert direct["hit"] is False and direct["allowlisted"][0]["allowlist_id"] == e["id"]
    # the replay reproduces from the record, whatever the allowlist says now
    replay = admin.post("/api/v1/evaluate/replay",
                        json={"evaluation_id": record["evaluation_id"]}).json()
    assert replay["match"] is True

    # a list update changes the entity: the decision no longer applies
    text = lists.read_text().replace('"birthDate": ["1952-10-07"]',
                                     '"birthDate": ["1952-10-07"], "position": ["President"]')
    assert text != lists.read_text()
    lists.write_text(text)
    plugin = core.plugin_host._instances["sanctions"]  # type: ignore[attr-defined]
    before, deadline = plugin.data_version(), time.monotonic() + 30
    while plugin.data_version() == before and time.monotonic() < deadline:
        plugin.screener()  # notices the change and reloads in the background
        plugin.wait_for_reload()
        time.sleep(0.02)
    again = admin.post("/api/v1/evaluate", json={"context": CTX, "input": customer()}).json()
    assert again["result"]["blocked"] is True
    reopened = again["rule_results"][0]["plugin_calls"][0]["result"]["reopened"]
    assert reopened[0]["allowlist_id"] == e["id"] and "changed" in reopened[0]["reason"]
    assert again["rule_results"][0]["plugin_calls"][0]["data_version"] != \
        record["rule_results"][0]["plugin_calls"][0]["data_version"]

    listed = analyst.get("/api/v1/screening/allowlist", params={"subject_id": "cust-1"}).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == e["id"]
    assert analyst.get(f"/api/v1/screening/allowlist/{e['id']}").json()["reason"]
    revoked = analyst.post(f"/api/v1/screening/allowlist/{e['id']}/revoke",
                           json={"note": "customer re-identified"})
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    events = [a["action"] for a in admin.get("/api/v1/audit/events", params={"per_page": 100}).json()["items"]]
    assert {"screening.allowlist.add", "screening.allowlist.revoke"} <= set(events)
    other_tenant = api_client(core, tenant="other")
    assert other_tenant.get(f"/api/v1/screening/allowlist/{e['id']}").status_code == 404
    core.close()


def test_four_eyes_on_allowlist_decisions(tmp_path: Path, lists: Path) -> None:
    db = f"sqlite:///{tmp_path / 'pact.db'}"
    core = make_core(db, tmp_path, lists, approvals=True)
    maker = api_client(core, roles=("compliance_officer",))
    entry = maker.post("/api/v1/screening/allowlist", json={
        "subject_id": "cust-9", "entity_id": "gaddafi", "reason": "different person"}).json()
    assert entry["status"] == "pending"
    # pending decisions do not apply yet
    screened = maker.post("/api/v1/screen", json={"name": "Muammar Gaddafi",
                                                  "subject_id": "cust-9"}).json()
    assert screened["hit"] is True
    same = maker.post(f"/api/v1/screening/allowlist/{entry['id']}/approve")
    assert same.status_code == 403 and same.json()["error"]["code"] == "AUTHORIZATION_ERROR"
    analyst = api_client(core, roles=("analyst",))
    assert analyst.post(f"/api/v1/screening/allowlist/{entry['id']}/approve"
                        ).status_code == 403  # analysts cannot approve
    checker = api_client(core, roles=("compliance_officer",))
    approved = checker.post(f"/api/v1/screening/allowlist/{entry['id']}/approve",
                            json={"note": "checked"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "active"
    screened = maker.post("/api/v1/screen", json={"name": "Muammar Gaddafi",
                                                  "subject_id": "cust-9"}).json()
    assert screened["hit"] is False
    again = checker.post(f"/api/v1/screening/allowlist/{entry['id']}/approve")
    assert again.status_code == 409
    core.close()


def test_without_lists_a_screening_rule_fails_closed(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'pact.db'}"
    store = Store(db)
    store.migrate()
    core = Core(Settings(db, tmp_path / "keys"), store)
    client = api_client(core)
    assert client.post("/api/v1/rules", content=RULE, headers=YAML).status_code == 201
    record = client.post("/api/v1/evaluate", json={"context": CTX, "input": customer()}).json()
    assert record["result"]["decision"] == "needs_review"
    err = record["rule_results"][0]["error"]
    assert "no sanctions lists are configured" in err["message"]
    r = client.post("/api/v1/screen", json={"name": "x"})
    assert r.status_code == 503 and "plugins.sanctions.datasets" in r.json()["error"]["message"]
    core.close()


def test_queries_by_example_in_followthemoney_form(tmp_path: Path, lists: Path) -> None:
    db = f"sqlite:///{tmp_path / 'pact.db'}"
    core = make_core(db, tmp_path, lists)
    client = api_client(core)
    out = client.post("/api/v1/screen", json={"queries": {
        "q1": {"schema": "Person", "properties": {"name": ["Vladimir Putin"],
                                                  "birthDate": ["1952-10-07"],
                                                  "nationality": ["ru"]}},
        "q2": {"schema": "Person", "properties": {"name": ["Maria Schmidt"]}},
        "q3": {"schema": "Person", "properties": {"alias": ["no name"]}},
        "q4": {"schema": "Person", "properties": {"name": ["Ivan Petrov"],
                                                  "birthDate": ["1970-13-99"]}}}})
    assert out.status_code == 200, out.text
    r = out.json()["responses"]
    assert r["q1"]["status"] == 200 and r["q1"]["results"][0]["id"] == "putin"
    assert r["q1"]["results"][0]["match"] is True and r["q1"]["total"]["value"] >= 1
    assert r["q2"] == {**r["q2"], "status": 200, "results": []}
    assert r["q3"]["status"] == 400 and "needs a name" in r["q3"]["error"]["message"]
    assert r["q4"]["status"] == 400 and "birth date" in r["q4"]["error"]["message"]
    assert out.json()["data_version"]["datasets"][0]["name"] == "lists"
    for bad in ({"queries": {}}, {"queries": {"q": {"schema": "Planet", "properties": {}}}},
                {"queries": {"q": {"properties": {"name": "not a list"}}}},
                {"queries": {"q": {"properties": {"name": ["x"]}}}, "extra": 1}):
        assert client.post("/api/v1/screen", json=bad).status_code == 400, bad
    core.close()


def test_startup_loads_the_lists_and_a_bad_list_fails_calls_not_startup(
        tmp_path: Path, lists: Path) -> None:
    db = f"sqlite:///{tmp_path / 'pact.db'}"
    core = make_core(db, tmp_path, lists)
    core.warm()
    assert "sanctions" in core.plugin_host._instances  # type: ignore[attr-defined]
    core.close()
    broken = tmp_path / "broken.ftm.json"
    broken.write_text("{not json\n")
    core = make_core(f"sqlite:///{tmp_path / 'other.db'}", tmp_path / "b", broken)
    assert "sanctions" in core.plugin_host.warm()  # type: ignore[attr-defined]
    client = api_client(core)
    r = client.post("/api/v1/screen", json={"name": "x"})
    assert r.status_code == 503 and "broken.ftm.json:1" in r.json()["error"]["message"]
    core.close()
