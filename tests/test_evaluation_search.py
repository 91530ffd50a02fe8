"""Finding evaluations: the list's flag, entity and order filters, and the per-decision
statistics of `GET /api/v1/stats/evaluations` (buckets, top rules and flags, the
service's error rate and latency); tenants see only their own; bad parameters are refused
with what to change. On SQLite and the real PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from arka.app.core import Core
from arka.app.stats import evaluation_stats
from arka.observability.metrics import evaluation_summary, quantile
from arka.security.ratelimit import RateLimitSettings
from arka.settings import Settings
from arka.storage import Store
from tests.service_fixtures import api_client, database_url

RULE = """
rule:
  metadata: {{name: {name}, version: 1.0.0, jurisdiction: US}}
  inputs:
    - {{name: transaction, type: object}}
  conditions:
    - id: big
      expression: transaction.amount >= {limit}
  actions:
    - trigger: big
      type: flag
      config: {{severity: high, category: {category}, message: "big"}}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def core(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Core]:
    for url in database_url(request.param, tmp_path):
        store = Store(url)
        store.migrate()
        settings = dataclasses.replace(Settings(url, tmp_path / "keys"),
                                       rate_limit=RateLimitSettings(enabled=False))
        c = Core(settings, store)
        for tenant in ("default", "other"):
            c.registry.deploy_rule(tenant, RULE.format(name="cash", limit=10000,
                                                       category="LARGE_CASH"), "yaml")
            c.registry.deploy_rule(tenant, RULE.format(name="wire", limit=5000,
                                                       category="WIRE"), "yaml")
        yield c
        c.close()


def evaluate(client: TestClient, at: str, amount: int, **tx: Any) -> dict[str, Any]:
    body = {"context": {"jurisdiction": "US", "timestamp": at},
            "input": {"transaction": {"amount": amount, **tx}}}
    r = client.post("/api/v1/evaluate", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def ids(r: Any) -> list[str]:
    assert r.status_code == 200, r.text
    return [e["evaluation_id"] for e in r.json()["items"]]


def test_flag_entity_and_order_filters(core: Core) -> None:
    client = api_client(core, roles=("compliance_officer",))
    a = evaluate(client, "2026-03-01T10:00:00Z", 20000, id="tx-1", customer_id="C-1")
    b = evaluate(client, "2026-03-01T11:00:00Z", 6000, id="tx-2", customer_id="C-2")
    c = evaluate(client, "2026-03-01T12:00:00Z", 100, id="tx-3", customer_id="C-1")
    other = api_client(core, roles=("compliance_officer",), tenant="other")
    evaluate(other, "2026-03-01T10:00:00Z", 20000, id="tx-1", customer_id="C-1")
    a, b, c = a["evaluation_id"], b["evaluation_id"], c["evaluation_id"]
    get = lambda **q: client.get("/api/v1/evaluations", params=q)  # noqa: E731
    assert ids(get(flag="LARGE_CASH")) == [a]
    assert ids(get(flag="WIRE")) == [a, b]
    assert ids(get(flag="NOPE")) == [] and ids(get(flag="LARGE")) == []
    assert ids(get(entity="C-1")) == [a, c]  # nested objects' *_id and the top-level id
    assert ids(get(entity="tx-2")) == [b] and ids(get(entity="C-")) == []
    assert ids(get(entity="C-1", flag="WIRE")) == [a]
    assert ids(get(order="desc")) == [c, b, a]
    assert ids(get(order="desc", per_page=1, page=2)) == [b]
    # the other tenant's identical evaluation is not found through this tenant
    assert len(ids(other.get("/api/v1/evaluations", params={"entity": "C-1"}))) == 1
    for bad in ({"order": "newest"}, {"entity": "x" * 201}, {"decision": "maybe"}):
        r = get(**bad)
        assert r.status_code in (400, 422), (bad, r.text)
        assert r.json()["error"]["code"] == "VALIDATION_ERROR", r.text


def test_stats_per_hour_with_top_rules_and_flags(core: Core) -> None:
    client = api_client(core, roles=("compliance_officer",))
    evaluate(client, "2026-03-01T10:05:00Z", 20000)   # cash + wire flags: non-compliant
    evaluate(client, "2026-03-01T10:59:59.5Z", 6000)  # wire
    evaluate(client, "2026-03-01T12:00:00Z", 100)     # nothing
    evaluate(client, "2026-03-02T09:00:00Z", 100)     # outside the window below
    r = client.get("/api/v1/stats/evaluations", params={
        "from": "2026-03-01T10:30:00+00:00", "to": "2026-03-01T12:00:00Z"})
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["from"] == "2026-03-01T10:00:00Z" and s["to"] == "2026-03-01T12:00:00Z"
    assert [b["start"] for b in s["series"]] == [
        "2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z", "2026-03-01T12:00:00Z"]
    decided = {e["result"]["decision"] for e in client.get(
        "/api/v1/evaluations", params={"flag": "WIRE"}).json()["items"]}
    assert s["total"] == 3 and sum(s["decisions"].values()) == 3
    assert sum(s["series"][0]["counts"].values()) == 2 and s["series"][1]["counts"] == {}
    assert sum(s["series"][2]["counts"].values()) == 1
    assert set(s["series"][0]["counts"]) == decided
    assert s["top_rules"] == [{"rule": "cash", "evaluations": 3},
                              {"rule": "wire", "evaluations": 3}]
    assert s["top_flags"] == [{"category": "WIRE", "evaluations": 2},
                              {"category": "LARGE_CASH", "evaluations": 1}]
    service = s["service"]
    assert service["scope"].startswith("service-wide")
    assert service["stored"] >= 4 and service["evaluations"] >= service["stored"]
    assert all(isinstance(service["latency_seconds"][p], float) for p in ("p50", "p95", "p99"))
    # by day, with the default window ending at `to`; another tenant sees none of it
    day = client.get("/api/v1/stats/evaluations", params={
        "bucket": "day", "to": "2026-03-02T23:59:59Z"}).json()
    assert len(day["series"]) == 31 and day["from"] == "2026-01-31T00:00:00Z"
    assert [sum(b["counts"].values()) for b in day["series"][-2:]] == [3, 1]
    other = api_client(core, roles=("auditor",), tenant="other")
    theirs = other.get("/api/v1/stats/evaluations", params={"bucket": "day",
                                                             "to": "2026-03-02T23:59:59Z"})
    assert theirs.json()["total"] == 0 and theirs.json()["top_rules"] == []


def test_stats_default_window_is_the_last_24_hours(core: Core) -> None:
    from datetime import UTC, datetime
    now = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    s = evaluation_stats(core.evaluations.store, "default", None, None, "hour", now=now)
    assert s["from"] == "2026-02-28T12:00:00Z" and s["to"] == "2026-03-01T12:30:00Z"
    assert len(s["series"]) == 25 and s["total"] == 0
    assert s["series"][-1]["start"] == "2026-03-01T12:00:00Z"
    # the longest window is measured as asked, before `from` moves to its bucket's start
    week = evaluation_stats(core.evaluations.store, "default", "2026-02-22T12:30:00Z",
                            "2026-03-01T12:30:00Z", "hour")
    assert len(week["series"]) == 169 and week["from"] == "2026-02-22T12:00:00Z"


def test_stats_refuses_bad_windows_and_roles(core: Core) -> None:
    client = api_client(core, roles=("analyst",))
    cases = [({"bucket": "week"}, "bucket"),
             ({"from": "yesterday"}, "from"),
             ({"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"}, "after"),
             ({"from": "2026-01-01T00:00:00Z", "to": "2026-02-01T00:00:00Z"}, "bucket=day"),
             ({"bucket": "day", "from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
              "366 days")]
    for params, said in cases:
        r = client.get("/api/v1/stats/evaluations", params=params)
        assert r.status_code in (400, 422), (params, r.text)
        assert said in r.text, (params, r.text)
    # the first and last instants there are: a valid (empty) answer, no overflow
    edge = client.get("/api/v1/stats/evaluations", params={
        "bucket": "day", "from": "9999-12-30T00:00:00Z", "to": "9999-12-31T23:59:59Z"})
    assert edge.status_code == 200 and len(edge.json()["series"]) == 2, edge.text
    edge = client.get("/api/v1/stats/evaluations", params={"to": "0001-01-01T05:00:00Z"})
    assert edge.status_code == 200 and len(edge.json()["series"]) == 6, edge.text
    viewer = api_client(core, roles=("viewer",))
    r = viewer.get("/api/v1/stats/evaluations")
    assert r.status_code == 403 and "evaluations:read" in r.text


def test_quantiles_as_prometheus_estimates_them() -> None:
    inf = float("inf")
    assert quantile(0.5, []) is None and quantile(0.5, [(1.0, 0), (inf, 0)]) is None
    b = [(0.01, 50), (0.1, 90), (1.0, 100), (inf, 100)]
    assert quantile(0.5, b) == pytest.approx(0.01)
    assert quantile(0.7, b) == pytest.approx(0.01 + 0.09 * 20 / 40)
    assert quantile(0.95, b) == pytest.approx(0.1 + 0.9 * 5 / 10)
    assert quantile(0.99, [(0.01, 1), (inf, 10)]) == 0.01  # in +Inf: the last bound
    summary = evaluation_summary()
    assert set(summary) >= {"evaluations", "stored", "rejected_inputs", "rule_errors",
                            "error_rate", "latency_seconds"}
