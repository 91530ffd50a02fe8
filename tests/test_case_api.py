"""The case endpoints over HTTP: listing and filters, manual opening, actions with their
roles and errors, four-eyes between API keys of different people, attachments, the chain
and its verification, queues, the signed export, tenant isolation, malformed bodies."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from arka.app.case_bundle import verify_bundle
from arka.app.core import Core
from arka.interfaces.http.app import create_app
from tests.service_fixtures import api_client, database_url
from tests.test_case_service import evaluate, make_core


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


@pytest.fixture
def core(db: str, tmp_path: Path) -> Core:
    return make_core(db, tmp_path)


def client(core: Core, role: str, tenant: str = "default", owner: str | None = None
           ) -> TestClient:
    if owner is None:
        return api_client(core, roles=(role,), tenant=tenant)
    key = core.apikeys.create(tenant, "k", [role], None, owner=owner)["key"]
    return TestClient(create_app(core), headers={"X-API-Key": key})


def opened(core: Core, amount: int = 12000, customer: str = "C-1") -> dict[str, Any]:
    (case,) = core.cases.from_evaluation("default", evaluate(core, amount, customer))
    return case


def post(c: TestClient, case_id: str, **body: Any) -> Any:
    return c.post(f"/api/v1/cases/{case_id}/actions", json=body)


def test_read_list_filter_and_queues(core: Core) -> None:
    a = opened(core)
    b = opened(core, customer="C-2")
    auditor = client(core, "auditor")
    r = auditor.get("/api/v1/cases")
    assert r.status_code == 200 and r.json()["total"] == 2
    assert auditor.get("/api/v1/cases", params={"entity_id": "C-2"}).json()["items"][0][
        "id"] == b["id"]
    assert auditor.get("/api/v1/cases", params={"status": "closed"}).json()["total"] == 0
    assert auditor.get("/api/v1/cases", params={"queue": "aml-review", "per_page": 1}
                       ).json()["per_page"] == 1
    assert auditor.get("/api/v1/cases", params={"from": "2999-01-01T00:00:00Z"}
                       ).json()["total"] == 0
    assert auditor.get("/api/v1/cases", params={"from": "yesterday"}).status_code == 400
    assert auditor.get("/api/v1/cases", params={"queue": "a\x01b"}).json()["total"] == 0
    view = auditor.get(f"/api/v1/cases/{a['id']}").json()
    for key in ("id", "queue", "status", "priority", "due_at", "sla_breached", "entity_id",
                "assignee", "assignee_group", "disposition", "evaluation_ids",
                "rule_versions", "opened_at", "updated_at", "closed_at", "version",
                "head_hash", "pending_close"):
        assert key in view
    (queue,) = auditor.get("/api/v1/queues").json()["items"]
    assert queue["queue"] == "aml-review" and queue["open"] == 2
    assert queue["sla_breached"] == 0 and queue["oldest_due_at"]
    events = auditor.get(f"/api/v1/cases/{a['id']}/events").json()
    assert events["total"] == 1 and events["items"][0]["action"] == "opened"
    assert auditor.get(f"/api/v1/cases/{a['id']}/verify").json()["valid"] is True
    assert auditor.get("/api/v1/cases/case_nope").status_code == 404
    assert auditor.get(f"/api/v1/cases/case_{'0' * 32}").status_code == 404


def test_work_a_case_over_http(core: Core) -> None:
    case = opened(core)
    analyst = client(core, "analyst", owner="alice")
    officer = client(core, "compliance_officer", owner="olga")
    r = post(analyst, case["id"], action="claim", expected_version=1)
    assert r.status_code == 200 and r.json()["assignee"] == "alice"
    r = post(analyst, case["id"], action="claim", expected_version=1)
    assert r.status_code == 409 and "version 2, not 1" in r.text
    assert post(analyst, case["id"], action="comment", text="called the branch"
                ).status_code == 200
    r = post(analyst, case["id"], action="close", disposition="false_positive",
             reason="salary")
    assert r.status_code == 403 and r.json()["error"]["code"] == "AUTHORIZATION_ERROR"
    r = post(officer, case["id"], action="close", disposition="false_positive",
             reason="documented salary")
    assert r.status_code == 200 and r.json()["status"] == "closed"
    r = post(analyst, case["id"], action="claim")
    assert r.status_code == 409 and "it is closed; allowed now: comment, reopen" in r.text
    assert post(officer, case["id"], action="reopen", reason="new facts"
                ).json()["status"] == "in_review"
    denied, _ = core.store.audit.events("default", page=1, per_page=10,
                                        action="access.denied")
    assert denied and denied[0]["details"]["permission"] == "cases:close"


def test_four_eyes_between_people(db: str, tmp_path: Path) -> None:
    core = make_core(db, tmp_path, approvals=True)
    case = opened(core)
    olga = client(core, "compliance_officer", owner="olga")
    olga2 = client(core, "compliance_officer", owner="olga")  # another key, same person
    oscar = client(core, "compliance_officer", owner="oscar")
    r = post(olga, case["id"], action="close", disposition="sar_filed",
             reason="filed STR 2024-17")
    assert r.json()["status"] == "pending_approval"
    r = post(olga2, case["id"], action="approve")
    assert r.status_code == 403 and "cannot review it" in r.text
    r = post(oscar, case["id"], action="approve", note="agreed")
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert r.json()["disposition"] == "sar_filed"


def test_roles(core: Core) -> None:
    case = opened(core)
    service = client(core, "service")
    auditor = client(core, "auditor")
    viewer = client(core, "viewer")
    for c in (service, viewer):
        assert c.get("/api/v1/cases").status_code == 403
        assert c.get(f"/api/v1/cases/{case['id']}").status_code == 403
        assert c.get("/api/v1/queues").status_code == 403
    assert post(auditor, case["id"], action="comment", text="hi").status_code == 403
    assert auditor.post("/api/v1/cases", json={}).status_code == 403
    assert auditor.get(f"/api/v1/cases/{case['id']}/export").status_code == 200


def test_tenants_are_isolated(core: Core) -> None:
    case = opened(core)
    other = client(core, "admin", tenant="bank-b")
    for path in ("", "/events", "/verify", "/export", f"/attachments/att_{'0' * 32}"):
        assert other.get(f"/api/v1/cases/{case['id']}{path}").status_code == 404
    assert post(other, case["id"], action="comment", text="x").status_code == 404
    assert other.get("/api/v1/cases").json()["total"] == 0
    assert other.get("/api/v1/queues").json()["items"] == []
    r = other.post("/api/v1/cases", json={"queue": "q", "reason": "look at it",
                                          "evaluation_ids": case["evaluation_ids"]})
    assert r.status_code == 404


def test_manual_opening_over_http(core: Core) -> None:
    record = evaluate(core, 10)
    analyst = client(core, "analyst")
    r = analyst.post("/api/v1/cases", json={"queue": "manual", "priority": "low",
                                            "entity_id": "C-9", "reason": "tip-off",
                                            "evaluation_ids": [record["evaluation_id"]]})
    assert r.status_code == 201, r.text
    assert r.json()["entity_id"] == "C-9" and r.json()["priority"] == "low"
    for body in ({"queue": "m", "reason": "tip-off", "evaluation_ids": []},
                 {"queue": "m", "reason": "  ", "evaluation_ids": ["eval_x"]},
                 {"queue": "", "reason": "tip-off", "evaluation_ids": ["eval_x"]},
                 {"queue": "m", "reason": "tip-off", "evaluation_ids": ["eval_x"], "x": 1}):
        assert analyst.post("/api/v1/cases", json=body).status_code == 400, body


def test_malformed_action_bodies(core: Core) -> None:
    case = opened(core)
    officer = client(core, "compliance_officer")
    for body, text in (({"action": "dance"}, "action must be one of"),
                       ({}, "action is required"),
                       ({"action": "close", "disposition": "false_positive"}, "reason"),
                       ({"action": "close", "disposition": "false_positive",
                         "reason": "   "}, "reason"),
                       ({"action": "close", "disposition": "maybe", "reason": "unsure"},
                        "disposition must be one of"),
                       ({"action": "comment", "text": "x" * 5000}, "text"),
                       ({"action": "comment", "text": 5}, "text"),
                       ({"action": "claim", "expected_version": -1}, "expected_version")):
        r = post(officer, case["id"], **body)
        assert r.status_code == 400 and text in r.text, (body, r.text)
    r = officer.post(f"/api/v1/cases/{case['id']}/actions", content=b"[1]",
                     headers={"content-type": "application/json"})
    assert r.status_code == 400


def test_attachments_over_http(core: Core) -> None:
    case = opened(core)
    analyst = client(core, "analyst")
    content = b"\x00\x01binary statement"
    r = analyst.post(f"/api/v1/cases/{case['id']}/attachments", json={
        "name": "C:\\docs\\stmt.bin", "media_type": "application/octet-stream",
        "content_base64": base64.b64encode(content).decode()})
    assert r.status_code == 201, r.text
    added = r.json()
    assert added["name"] == "stmt.bin"
    r = client(core, "auditor").get(
        f"/api/v1/cases/{case['id']}/attachments/{added['attachment_id']}")
    assert r.status_code == 200 and r.content == content
    assert r.headers["x-content-sha256"] == added["sha256"]
    for body in ({"name": "a", "media_type": "text/plain", "content_base64": "!!"},
                 {"name": "a", "media_type": "nope", "content_base64": "aGk="},
                 {"name": "a", "media_type": "text/plain",
                  "content_base64": "A" * (7 * 1024 * 1024)}):
        r = analyst.post(f"/api/v1/cases/{case['id']}/attachments", json=body)
        assert r.status_code in (400, 413), r.text


def test_attachment_without_object_storage_is_503(db: str, tmp_path: Path) -> None:
    core = make_core(db, tmp_path, objects=False)
    case = opened(core)
    r = client(core, "analyst").post(f"/api/v1/cases/{case['id']}/attachments", json={
        "name": "a.txt", "media_type": "text/plain", "content_base64": "aGk="})
    assert r.status_code == 503 and "object storage is not configured" in r.text


def test_export_is_a_verifiable_bundle(core: Core) -> None:
    case = opened(core)
    r = client(core, "auditor").get(f"/api/v1/cases/{case['id']}/export")
    assert r.status_code == 200
    bundle = r.json()
    checks = verify_bundle(bundle, core.keys.public_keys())
    assert all(c.ok for c in checks), checks


def test_report_drafts(core: Core) -> None:
    import xml.etree.ElementTree as ET
    case = opened(core)
    officer = client(core, "compliance_officer")
    r = officer.get(f"/api/v1/cases/{case['id']}/sar")
    assert r.status_code == 409 and "needs a closed case" in r.text
    post(officer, case["id"], action="comment", text="cash deposits below the threshold")
    post(officer, case["id"], action="close", disposition="true_positive",
         reason="structuring over three branches")
    draft = officer.get(f"/api/v1/cases/{case['id']}/sar").json()
    assert draft["report_type"] == "STR" and draft["reason"] == \
        "structuring over three branches"
    assert draft["subjects"] == [{"id": "C-1"}]
    assert draft["transactions"][0]["amount"] == "12000"
    assert draft["analyst_notes"][0]["text"] == "cash deposits below the threshold"
    r = officer.get(f"/api/v1/cases/{case['id']}/sar", params={"format": "goaml"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(r.content)
    assert root.tag == "report" and root.findtext("report_code") == "STR"
    assert root.findtext("entity_reference") == case["id"]
    assert root.find("transaction/amount_local").text == "12000"  # type: ignore[union-attr]
    assert officer.get(f"/api/v1/cases/{case['id']}/sar", params={"format": "pdf"}
                       ).status_code == 400
    fp = opened(core, customer="C-3")
    post(officer, fp["id"], action="close", disposition="false_positive", reason="salary")
    assert officer.get(f"/api/v1/cases/{fp['id']}/sar").status_code == 409
