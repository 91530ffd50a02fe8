"""Object storage for full traces and exports: a local directory (embedded default) and an
S3-compatible server on 127.0.0.1 (moto). Objects are sealed with the record key, checked
against the SHA-256 the database keeps, and scoped to their tenant."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from arka.app.core import Core
from arka.settings import Settings
from arka.storage import Store
from arka.storage.objects import LocalObjects, ObjectStoreError
from tests.helpers import EXAMPLES
from tests.service_fixtures import api_client, s3_server

CTX = {"jurisdiction": "US", "domain": "AML", "timestamp": "2024-01-15T14:00:00Z"}
SECRET_ID = "customer-55aa77"


def _body(i: int, trace: str = "full") -> dict[str, Any]:
    return {"context": CTX, "options": {"trace": trace},
            "input": {"transaction": {"id": f"{SECRET_ID}-{i}", "amount": 9000 + 1000 * i,
                                      "currency": "USD", "type": "cash"}}}


@pytest.fixture(params=["local", "s3"])
def objects(request: pytest.FixtureRequest, tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if request.param == "local":
        yield str(tmp_path / "objects")
        return
    gen = s3_server("arka-objects")
    endpoint = next(gen)
    monkeypatch.setenv("ARKA_S3_ENDPOINT_URL", endpoint)
    for k, v in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                 ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(k, v)
    yield "s3://arka-objects/prod"
    for _ in gen:
        pass


def _core(tmp_path: Path, objects: str | None) -> Core:
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    store = Store(url)
    store.migrate()
    core = Core(Settings(url, tmp_path / "keys", objects=objects), store)
    core.registry.deploy_rule("default", (EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text(),
                     "yaml")
    return core


def test_full_traces_live_in_object_storage(tmp_path: Path, objects: str) -> None:
    core = _core(tmp_path, objects)
    client = api_client(core)
    r = client.post("/api/v1/evaluate", json=_body(3))
    assert r.status_code == 201
    answered = r.json()
    assert answered["full_trace"] and answered["full_trace_ref"]["sha256"]
    eid = answered["evaluation_id"]
    stored = client.get(f"/api/v1/evaluations/{eid}").json()
    assert "full_trace" not in stored and stored["full_trace_ref"] == answered["full_trace_ref"]
    trace = client.get(f"/api/v1/evaluations/{eid}/trace").json()
    assert trace == {"evaluation_id": eid, "trace": answered["full_trace"]}
    assert client.post(f"/api/v1/proofs/{eid}/verify").json()["valid"]
    # the object itself is sealed: no customer data in it
    raw = core.vault.store().get(answered["full_trace_ref"]["key"])
    assert SECRET_ID.encode() not in raw and raw.startswith(b"v1.")
    # an evaluation without a full trace says how to get one
    plain = client.post("/api/v1/evaluate", json=_body(1, trace="basic")).json()
    r = client.get(f"/api/v1/evaluations/{plain['evaluation_id']}/trace")
    assert r.status_code == 404 and "options.trace" in r.json()["error"]["message"]
    # batches keep their full traces in object storage too
    batch = client.post("/api/v1/evaluate/batch", json={
        "context": CTX, "options": {"trace": "full"},
        "inputs": [{"id": "a", "input": _body(5)["input"]}]}).json()
    bid = batch["items"][0]["evaluation"]["evaluation_id"]
    assert client.get(f"/api/v1/evaluations/{bid}/trace").json()["trace"] == \
        batch["items"][0]["evaluation"]["full_trace"]
    # another tenant cannot reach it
    other = api_client(core, tenant="bank-b")
    assert other.get(f"/api/v1/evaluations/{eid}/trace").status_code == 404


def test_tampered_or_lost_trace_object_is_detected(tmp_path: Path) -> None:
    core = _core(tmp_path, str(tmp_path / "objects"))
    client = api_client(core)
    rec = client.post("/api/v1/evaluate", json=_body(3)).json()
    ref = rec["full_trace_ref"]
    path = tmp_path / "objects" / ref["key"]
    original = path.read_bytes()
    other = client.post("/api/v1/evaluate", json=_body(4)).json()
    path.write_bytes((tmp_path / "objects" / other["full_trace_ref"]["key"]).read_bytes())
    r = client.get(f"/api/v1/evaluations/{rec['evaluation_id']}/trace")
    assert r.status_code == 500 and "moved from another row" in r.json()["error"]["message"]
    path.write_bytes(original)
    assert client.get(f"/api/v1/evaluations/{rec['evaluation_id']}/trace").status_code == 200
    path.unlink()
    r = client.get(f"/api/v1/evaluations/{rec['evaluation_id']}/trace")
    assert r.status_code == 500 and "missing" in r.json()["error"]["message"]


def test_exports(tmp_path: Path, objects: str) -> None:
    core = _core(tmp_path, objects)
    client = api_client(core)
    ids = [client.post("/api/v1/evaluate", json=_body(i, trace="basic")).json()["evaluation_id"]
           for i in range(5)]
    api_client(core, tenant="bank-b").post("/api/v1/evaluate", json=_body(9, "basic"))
    r = client.post("/api/v1/exports", json={"from": "2024-01-01T00:00:00Z",
                                             "to": "2024-12-31T00:00:00Z"})
    assert r.status_code == 201, r.text
    manifest = r.json()
    assert manifest["count"] == 5 and manifest["tenant"] == "default"
    assert client.get(f"/api/v1/exports/{manifest['export_id']}").json() == manifest
    content = client.get(f"/api/v1/exports/{manifest['export_id']}/download")
    assert content.status_code == 200
    assert content.headers["content-type"].startswith("application/x-ndjson")
    assert hashlib.sha256(content.content).hexdigest() == manifest["sha256"] == \
        content.headers["X-Content-SHA256"]
    records = [json.loads(line) for line in content.text.splitlines()]
    assert [r["evaluation_id"] for r in records] == ids
    for record in records:  # each exported record verifies on its own
        from arka.trust.proofs import verify_record
        assert verify_record(record, core.keys.public_keys()).valid
    # filters, an empty export, tenants, bad requests
    # 9000 and exactly 10000 are compliant: a CTR needs more than $10,000
    only = client.post("/api/v1/exports", json={"decision": "compliant"}).json()
    assert only["count"] == sum(r["result"]["decision"] == "compliant" for r in records) == 2
    assert client.post("/api/v1/exports", json={"to": "2020-01-01T00:00:00Z"}).json()[
        "count"] == 0
    # bounds that leave the calendar once moved to UTC are its first and last instants,
    # as in the list's query parameters
    edges = client.post("/api/v1/exports", json={"from": "0001-01-01T01:00:01+01:01",
                                                 "to": "9999-12-31T23:00:00-01:30"})
    assert edges.status_code == 201 and edges.json()["count"] == len(records), edges.text
    assert edges.json()["filters"] == {"from": "0001-01-01T00:00:00Z",
                                       "to": "9999-12-31T23:59:59Z"}, edges.text
    b = api_client(core, tenant="bank-b")
    assert b.get(f"/api/v1/exports/{manifest['export_id']}").status_code == 404
    assert b.get(f"/api/v1/exports/{manifest['export_id']}/download").status_code == 404
    for body in ({"from": "yesterday"}, {"decision": "maybe"}, {"rule_id": 5}, {"limit": 1}):
        assert client.post("/api/v1/exports", json=body).status_code == 400, body
    assert client.get("/api/v1/exports/nonsense").status_code == 404
    actions = {e["action"] for e in client.get("/api/v1/audit/events").json()["items"]}
    assert "export.create" in actions
    assert client.get("/health/ready").json()["checks"]["object_storage"] is True


def test_exports_need_object_storage(tmp_path: Path) -> None:
    core = _core(tmp_path, None)
    client = api_client(core)
    r = client.post("/api/v1/exports", json={})
    assert r.status_code == 503 and "storage.objects" in r.json()["error"]["message"]
    # without object storage a full trace stays in the record
    rec = client.post("/api/v1/evaluate", json=_body(3)).json()
    assert client.get(f"/api/v1/evaluations/{rec['evaluation_id']}").json()["full_trace"]
    assert client.get(f"/api/v1/evaluations/{rec['evaluation_id']}/trace").status_code == 200


def test_object_keys_are_checked(tmp_path: Path) -> None:
    objects = LocalObjects(tmp_path)
    for bad in ("../x", "/abs", "a//b", "a/../b", "", "a b"):
        with pytest.raises(ObjectStoreError):
            objects.put(bad, b"x")
    objects.put("a/b.json", b"1")
    assert objects.get("a/b.json") == b"1"
