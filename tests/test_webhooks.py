"""Webhooks and the outbox, in process on SQLite and PostgreSQL: subscriptions, signed
CloudEvents checked by an independent receiver, events written with their evaluation
(none for work that did not commit), retries with backoff, the dead letter and
redelivery, circuit breaking, secret rotation, SSRF refusals, roles and tenants."""

from __future__ import annotations

import dataclasses
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from arka.app.core import Core
from arka.delivery import DeliveryPolicy
from arka.settings import Settings
from arka.storage import Store
from tests.service_fixtures import api_client, database_url
from tests.webhook_receiver import Receiver

YAML = {"content-type": "application/x-yaml"}
CTX = {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"}
RULE = """
rule:
  metadata: {name: big-cash, version: 1.0.0, jurisdiction: US}
  inputs:
    - {name: transaction, type: object}
  conditions:
    - id: big
      expression: transaction.amount >= 10000
  actions:
    - trigger: big
      type: flag
      config: {severity: high, category: CTR, message: "cash ${transaction.amount}"}
"""
POLICY = DeliveryPolicy(allow_private=("127.0.0.1/32",), backoff_base=0.01,
                        backoff_max=0.02, max_attempts=3, circuit_failures=100,
                        poll_interval=0.05)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


def make_core(db: str, tmp_path: Path, policy: DeliveryPolicy = POLICY) -> Core:
    store = Store(db)
    store.migrate()
    settings = dataclasses.replace(Settings(db, tmp_path / "keys"), webhooks=policy)
    return Core(settings, store)


def rows(core: Core, table: str) -> int:
    with core.store.engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def big(amount: int = 12000) -> dict[str, Any]:
    return {"context": CTX, "input": {"transaction": {"id": "t1", "amount": amount}}}


def until(check: Any, core: Core, seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        core.delivery.run_once()
        got = check()
        if got:
            return got
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def test_a_flagged_evaluation_reaches_the_subscriber_signed_once(db: str, tmp_path: Path
                                                                ) -> None:
    core = make_core(db, tmp_path)
    client = api_client(core)
    assert client.post("/api/v1/rules", content=RULE, headers=YAML).status_code == 201
    r = client.post("/api/v1/webhooks", json={
        "url": "http://127.0.0.1:1/placeholder",
        "events": ["arka.evaluation.non_compliant"]})
    assert r.status_code == 201, r.text
    with Receiver() as rx:
        r = client.post("/api/v1/webhooks", json={
            "url": rx.url, "events": ["arka.evaluation.non_compliant"],
            "description": "siem"})
        assert r.status_code == 201, r.text
        hook = r.json()
        assert hook["secret"].startswith("whsec_")
        rx.secrets = [hook["secret"]]
        assert "secret" not in client.get(f"/api/v1/webhooks/{hook['id']}").json()
        client.post(f"/api/v1/webhooks/{r.json()['id']}/disable")  # noqa: F841 - keep one
        client.post(f"/api/v1/webhooks/{hook['id']}/enable")
        placeholder = client.get("/api/v1/webhooks").json()["items"][0]
        client.post(f"/api/v1/webhooks/{placeholder['id']}/disable")
        stored = client.post("/api/v1/evaluate", json=big()).json()
        client.post("/api/v1/evaluate", json=big(5))  # compliant: no event
        (event,) = rx.wait(1, step=core.delivery.run_once)
        assert rx.bad == []
        assert event["specversion"] == "1.0" and event["type"] == \
            "arka.evaluation.non_compliant"
        assert event["source"] == "/arka/default" and event["subject"] == \
            stored["evaluation_id"]
        assert event["data"]["evaluation_id"] == stored["evaluation_id"]
        assert event["data"]["flags"][0]["category"] == "CTR"
        assert event["data"]["output_hash"] == stored["trust_proof"]["output_hash"]
        headers = rx.requests[-1]["headers"]
        assert headers["webhook-id"] == event["id"]
        assert headers["content-type"].startswith("application/cloudevents+json")
        core.delivery.run_once()
        assert len(rx.requests) == 1  # delivered: not sent again
        log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()
        assert log["total"] == 1 and log["items"][0]["status"] == "delivered"
        assert log["items"][0]["history"][0]["status"] == 200
    assert rows(core, "outbox") == 1


def test_no_event_for_an_evaluation_that_did_not_commit(db: str, tmp_path: Path) -> None:
    core = make_core(db, tmp_path)
    client = api_client(core)
    client.post("/api/v1/rules", content=RULE, headers=YAML)
    first = client.post("/api/v1/evaluate", json=big()).json()
    record = core.store.evaluations.get("default", first["evaluation_id"])
    events = core.events.of_evaluation("default", record)
    assert [e["type"] for e in events] == ["arka.evaluation.non_compliant"]
    copy = {**record, "evaluation_id": first["evaluation_id"]}  # the same id: refused
    with pytest.raises(sa.exc.IntegrityError):
        core.store.evaluations.put_many(["default"], [copy], [b"\x00" * 32],
                                        [core.events.of_evaluation("default", copy)])
    assert rows(core, "outbox") == 1  # only the committed evaluation's event
    assert rows(core, "evaluations") == 1


def test_retries_with_backoff_then_delivery(db: str, tmp_path: Path) -> None:
    core = make_core(db, tmp_path, dataclasses.replace(POLICY, max_attempts=10))
    client = api_client(core)
    client.post("/api/v1/rules", content=RULE, headers=YAML)
    with Receiver(status=503) as rx:
        hook = client.post("/api/v1/webhooks", json={
            "url": rx.url, "events": ["arka.evaluation.non_compliant"]}).json()
        rx.secrets = [hook["secret"]]
        client.post("/api/v1/evaluate", json=big())
        until(lambda: len(rx.requests) >= 3, core)
        (d,) = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()["items"]
        assert d["status"] == "retrying" and d["last_status"] == 503
        assert d["attempts"] >= 3 and d["next_attempt_at"] is not None
        rx.status = 200
        until(lambda: rx.order, core)
        (d,) = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()["items"]
        assert d["status"] == "delivered" and d["history"][-1]["status"] == 200
        assert [h["status"] for h in d["history"][:-1]] == [503] * (len(d["history"]) - 1)
        assert len(rx.events) == 1


def test_dead_letter_after_the_limit_then_redelivery(db: str, tmp_path: Path) -> None:
    core = make_core(db, tmp_path)
    client = api_client(core)
    client.post("/api/v1/rules", content=RULE, headers=YAML)
    with Receiver(status=500) as rx:
        hook = client.post("/api/v1/webhooks", json={
            "url": rx.url, "events": ["arka.evaluation.non_compliant"]}).json()
        rx.secrets = [hook["secret"]]
        client.post("/api/v1/evaluate", json=big())
        until(lambda: client.get("/api/v1/deliveries", params={"status": "dead"}
                                 ).json()["total"] == 1, core)
        core.delivery.run_once()
        assert len(rx.requests) == POLICY.max_attempts  # no attempt after the limit
        (dead,) = client.get("/api/v1/deliveries", params={"status": "dead"}).json()["items"]
        assert dead["attempts"] == 3 and len(dead["history"]) == 3
        rx.status = 200
        r = client.post(f"/api/v1/deliveries/{dead['id']}/redeliver")
        assert r.status_code == 200 and r.json()["status"] == "pending"
        until(lambda: rx.order, core)
        assert client.get(f"/api/v1/deliveries/{dead['id']}").json()["status"] == "delivered"
        actions = [e["action"] for e in core.store.audit.events("default", page=1,
                                                                  per_page=50)[0]]
        assert "delivery.redeliver" in actions and "webhook.create" in actions


def test_an_endpoint_that_keeps_failing_opens_its_circuit(db: str, tmp_path: Path) -> None:
    core = make_core(db, tmp_path, dataclasses.replace(POLICY, circuit_failures=2,
                                                       circuit_seconds=3600,
                                                       max_attempts=50))
    client = api_client(core)
    client.post("/api/v1/rules", content=RULE, headers=YAML)
    with Receiver(status=500) as rx:
        hook = client.post("/api/v1/webhooks", json={
            "url": rx.url, "events": ["arka.evaluation.non_compliant"]}).json()
        for _ in range(3):
            client.post("/api/v1/evaluate", json=big())
        until(lambda: client.get(f"/api/v1/webhooks/{hook['id']}").json()[
            "circuit_open_until"], core)
        tried = len(rx.requests)
        for _ in range(5):
            core.delivery.run_once()
        assert len(rx.requests) == tried  # held back while the circuit is open
        assert tried <= 2 + POLICY.concurrency * 4
        # enabling the webhook again closes the circuit
        client.post(f"/api/v1/webhooks/{hook['id']}/enable")
        rx.status = 200
        rx.secrets = [hook["secret"]]
        until(lambda: len(rx.order) == 3, core)


def test_rotation_signs_with_both_secrets_during_the_grace_period(db: str, tmp_path: Path
                                                                 ) -> None:
    core = make_core(db, tmp_path)
    client = api_client(core)
    with Receiver() as rx:
        hook = client.post("/api/v1/webhooks", json={
            "url": rx.url, "events": ["arka.webhook.test"]}).json()
        old = hook["secret"]
        rotated = client.post(f"/api/v1/webhooks/{hook['id']}/rotate").json()
        new = rotated["secret"]
        assert new != old and rotated["previous_secrets_valid_for_seconds"] == 86400
        r = client.post(f"/api/v1/webhooks/{hook['id']}/test")
        assert r.status_code == 202
        rx.secrets = [old]  # a receiver still on the old secret accepts it
        (event,) = rx.wait(1, step=core.delivery.run_once)
        assert event["type"] == "arka.webhook.test" and event["id"] == r.json()["event_id"]
        signatures = rx.requests[-1]["headers"]["webhook-signature"].split(" ")
        assert len(signatures) == 2
        rx.secrets, rx.seen, rx.order = [new], {}, []
        client.post(f"/api/v1/webhooks/{hook['id']}/test")
        rx.wait(1, step=core.delivery.run_once)  # and one on the new secret too
        chosen = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
        assert client.post(f"/api/v1/webhooks/{hook['id']}/rotate",
                           json={"secret": chosen}).json()["secret"] == chosen


@pytest.mark.parametrize("url", [
    "http://127.0.0.2/hook",            # loopback, not in the allowlist
    "https://169.254.169.254/latest",   # cloud metadata
    "https://10.1.2.3/hook",            # private
    "https://[::1]/hook",
    "http://example.com/hook",          # plain http to a host not allowlisted
    "ftp://example.com/hook",
    "https://user:pw@example.com/hook",
])
def test_webhook_urls_that_reach_inside_are_refused(url: str, tmp_path: Path) -> None:
    core = make_core(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    client = api_client(core)
    r = client.post("/api/v1/webhooks", json={"url": url, "events": ["arka.case.opened"]})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["message"].startswith("url: ")


@pytest.mark.parametrize("body", [
    {},
    {"url": "https://example.com/h"},
    {"url": "https://example.com/h", "events": []},
    {"url": "https://example.com/h", "events": ["arka.nothing"]},
    {"url": "https://example.com/h", "events": ["arka.case.opened"], "secret": "short"},
    {"url": "https://example.com/h", "events": ["arka.case.opened"],
     "secret": "whsec_QUJD"},
    {"url": "https://example.com/h", "events": ["arka.case.opened"], "extra": 1},
    {"url": "https://exa mple.com/h", "events": ["arka.case.opened"]},
    {"url": 5, "events": ["arka.case.opened"]},
    [],
])
def test_malformed_subscriptions_are_refused(body: Any, tmp_path: Path) -> None:
    core = make_core(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    client = api_client(core)
    r = client.post("/api/v1/webhooks", json=body)
    assert r.status_code == 400, r.text
    assert rows(core, "webhooks") == 0


def test_roles_and_tenants(tmp_path: Path) -> None:
    core = make_core(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path)
    officer = api_client(core, roles=("compliance_officer",), tenant="t1")
    other = api_client(core, roles=("admin",), tenant="t2")
    hook = officer.post("/api/v1/webhooks", json={
        "url": "http://127.0.0.1:9/h", "events": ["arka.case.opened"]}).json()
    for role in ("analyst", "auditor", "service", "viewer"):
        c = api_client(core, roles=(role,), tenant="t1")
        assert c.get("/api/v1/webhooks").status_code == 403
        assert c.post("/api/v1/webhooks", json={
            "url": "http://127.0.0.1:9/h", "events": ["arka.case.opened"]}).status_code == 403
    assert other.get(f"/api/v1/webhooks/{hook['id']}").status_code == 404
    assert other.post(f"/api/v1/webhooks/{hook['id']}/disable").status_code == 404
    assert other.post(f"/api/v1/webhooks/{hook['id']}/test").status_code == 404
    assert other.get(f"/api/v1/webhooks/{hook['id']}/deliveries").status_code == 404
    assert other.get("/api/v1/webhooks").json()["total"] == 0
    officer.post(f"/api/v1/webhooks/{hook['id']}/test")
    core.delivery.dispatch_once()
    (d,) = officer.get("/api/v1/deliveries").json()["items"]
    assert other.get(f"/api/v1/deliveries/{d['id']}").status_code == 404
    assert other.post(f"/api/v1/deliveries/{d['id']}/redeliver").status_code == 404


def test_secrets_and_events_are_sealed_at_rest(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store = Store(url)
    store.migrate()
    settings = dataclasses.replace(Settings(url, tmp_path / "keys"), webhooks=POLICY,
                                   encryption_key=secrets.token_hex(32))
    core = Core(settings, store)
    client = api_client(core)
    client.post("/api/v1/rules", content=RULE, headers=YAML)
    hook = client.post("/api/v1/webhooks", json={
        "url": "http://127.0.0.1:9/h", "events": ["arka.evaluation.non_compliant"]}).json()
    client.post("/api/v1/evaluate", json=big())
    core.delivery.dispatch_once()
    with core.store.engine.connect() as conn:
        sealed = conn.execute(sa.text("SELECT secrets FROM webhooks")).scalar_one()
        events = conn.execute(sa.text("SELECT event FROM outbox")).scalar_one()
        payload = conn.execute(sa.text("SELECT payload FROM deliveries")).scalar_one()
    assert hook["secret"] not in sealed
    assert "CTR" not in events and "CTR" not in payload


def test_several_replicas_dispatch_and_send_each_delivery_once(db: str, tmp_path: Path
                                                               ) -> None:
    import threading
    first = make_core(db, tmp_path)
    second = Core(first.settings, Store(db))  # another replica on the same database
    client = api_client(first)
    client.post("/api/v1/rules", content=RULE, headers=YAML)
    with Receiver() as rx:
        hook = client.post("/api/v1/webhooks", json={
            "url": rx.url, "events": ["arka.evaluation.non_compliant"]}).json()
        rx.secrets = [hook["secret"]]
        client.post("/api/v1/evaluate/batch", json={"context": CTX, "inputs": [
            {"id": str(i), "input": {"transaction": {"id": f"t{i}", "amount": 20000 + i}}}
            for i in range(40)]})
        stop = time.monotonic() + 20

        def work(core: Core) -> None:
            while len(rx.order) < 40 and time.monotonic() < stop:
                core.delivery.run_once()

        threads = [threading.Thread(target=work, args=(c,)) for c in (first, second)] * 1
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(rx.order) == 40 and rx.bad == []
        assert len(rx.requests) == 40  # not just de-duplicated: each sent once
    assert rows(first, "deliveries") == 40
    first.close()
    second.close()


@pytest.mark.parametrize("doc, message", [
    ({"webhooks": {"allow_private": ["not a host!"]}}, "webhooks.allow_private"),
    ({"webhooks": {"allow_private": ["10.0.0.0/33"]}}, "webhooks.allow_private"),
    ({"webhooks": {"max_attempts": 0}}, "webhooks.max_attempts"),
    ({"webhooks": {"backoff_base": "soon"}}, "webhooks.backoff_base"),
    ({"webhooks": {"retries": 3}}, "webhooks.retries: unknown key"),
    ({"notifications": {"smtp": {"port": 25}}}, "notifications.smtp.host"),
    ({"notifications": {"smtp": {"host": "mail", "security": "ssl"}}},
     "notifications.smtp.security"),
    ({"notifications": {"smtp": {"host": "mail", "from_address": "nobody"}}},
     "notifications.smtp.from_address"),
    ({"notifications": {"smtp": {"host": "mail", "password": "x"}}},
     "notifications.smtp.password: unknown key"),
    ({"cases": {"open_on": ["flag:urgent"]}}, "cases.open_on"),
    ({"cases": {"group_by": "customer"}}, "cases.group_by"),
    ({"cases": {"dispositions": []}}, "cases.dispositions"),
    ({"cases": {"entity_paths": ["customer..id"]}}, "cases.entity_paths"),
])
def test_malformed_delivery_and_case_settings_name_the_key(doc: dict[str, Any], message: str
                                                           ) -> None:
    from arka.base.errors import ArkaError
    from arka.settings.file import parse_config
    with pytest.raises(ArkaError) as err:
        Settings.from_config(parse_config(doc, {}), {})
    assert message in err.value.message


def test_delivery_settings_from_a_file() -> None:
    from arka.settings.file import parse_config
    settings = Settings.from_config(parse_config({
        "webhooks": {"allow_private": ["127.0.0.1", "Siem.Internal", "10.0.0.0/8"],
                     "max_attempts": 4, "backoff_base": "2s", "rotation_grace": "1h"},
        "notifications": {"smtp": {"host": "mail.example.com", "port": 465,
                                   "security": "tls", "username": "arka"}},
        "cases": {"open_on": ["escalation", "block"], "group_by": "entity",
                  "rulesets": {"us-aml": {"open_on": ["flag:high"]}}},
    }, {}), {"ARKA_SMTP_PASSWORD": "pw"})
    assert settings.webhooks.max_attempts == 4 and settings.webhooks.backoff_base == 2
    assert settings.webhooks.rotation_grace == 3600
    assert "siem.internal" in settings.webhooks.allow_private
    assert settings.smtp is not None and settings.smtp.password == "pw"
    assert settings.smtp.security == "tls" and settings.smtp.port == 465
    assert settings.cases.triggers("us-aml") == ("flag:high",)
    assert settings.cases.triggers(None) == ("escalation", "block")
