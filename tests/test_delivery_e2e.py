"""End to end with real processes: a running ARKA Core (`arka-cli serve`), rules that flag,
escalate and notify, a webhook receiver that verifies Standard Webhooks signatures with
its own implementation, an SMTP server; a case opened by an escalation, worked and
closed; every event received exactly once after de-duplication, also across a kill -9 of
the service between the commit and the delivery."""

from __future__ import annotations

import email
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.live_server import free_port, live_server
from tests.service_fixtures import postgres_database
from tests.webhook_receiver import Receiver

YAML = {"content-type": "application/x-yaml"}
CTX = {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"}
RULE = """
rule:
  metadata: {name: large-cash, version: 1.0.0, jurisdiction: US}
  inputs:
    - {name: customer, type: object}
    - {name: transaction, type: object}
  conditions:
    - id: large
      expression: transaction.amount >= 10000
  actions:
    - trigger: large
      type: flag
      config: {severity: high, category: CTR, message: "cash ${transaction.amount}"}
    - trigger: large
      type: escalate
      config: {queue: aml-review, priority: high, sla_hours: 24, assignee_group: aml}
    - trigger: large
      type: notify
      config:
        channels:
          - {type: email, to: "aml-team@example.com", subject: "Large cash {{ id }}"}
          - {type: webhook}
        template: "Transaction {{ id }} of customer {{ customer }}: {{ amount }} USD"
        data: {id: "${transaction.id}", customer: "${customer.id}",
               amount: "${transaction.amount}"}
"""
EVENTS = ["arka.evaluation.non_compliant", "arka.notification", "arka.case.opened",
          "arka.case.evaluation_added", "arka.case.closed", "arka.case.assigned"]


class Smtp:
    """aiosmtpd on 127.0.0.1 collecting messages."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller
        self.messages: list[email.message.Message] = []
        outer = self

        class Handler:
            async def handle_DATA(self, _server: Any, _session: Any, envelope: Any
                                  ) -> str:  # noqa: N802 - aiosmtpd's name
                outer.messages.append(email.message_from_bytes(envelope.content))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> Smtp:
        self.controller.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.controller.stop()


def config(tmp_path: Path, smtp_port: int, poll: float, name: str) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({
        "webhooks": {"allow_private": ["127.0.0.1"], "poll_interval": poll,
                     "backoff_base": 0.2, "backoff_max": 1},
        "notifications": {"smtp": {"host": "127.0.0.1", "port": smtp_port,
                                   "security": "none", "from_address": "arka@example.com"}},
    }))
    return path


def wait(check: Any, seconds: float = 30.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def evaluate(client: Any, customer: str, amount: int, tx: str) -> dict[str, Any]:
    r = client.post("/api/v1/evaluate", json={"context": CTX, "input": {
        "customer": {"id": customer}, "transaction": {"id": tx, "amount": amount}}})
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    if request.param == "sqlite":
        yield None
    else:
        yield from postgres_database()


def test_committed_events_survive_a_kill_and_arrive_once(database: str | None,
                                                         tmp_path: Path) -> None:
    with Smtp() as smtp, Receiver() as rx:
        # 1. a service that never gets to deliver: killed after the commits
        stalled = config(tmp_path, smtp.port, 3600, "stalled.yaml")
        with live_server(tmp_path, database_url=database, config=stalled) as srv:
            officer = srv.client("compliance_officer")
            assert officer.post("/api/v1/rules", content=RULE, headers=YAML
                                ).status_code == 201
            hook = officer.post("/api/v1/webhooks", json={"url": rx.url, "events": EVENTS})
            assert hook.status_code == 201, hook.text
            rx.secrets = [hook.json()["secret"]]
            service = srv.client("service")
            ids = [evaluate(service, "C-1", 12000 + i, f"tx-{i}")["evaluation_id"]
                   for i in range(3)]
            evaluate(service, "C-2", 50, "tx-small")  # compliant: nothing to deliver
            assert srv.rows("outbox", "WHERE dispatched_at IS NULL") == 6
            srv.proc.kill()  # SIGKILL: no shutdown, nothing flushed
            srv.proc.wait(10)
        assert rx.requests == [] and smtp.messages == []
        # 2. restarted: every committed event is delivered, once
        running = config(tmp_path, smtp.port, 0.1, "running.yaml")
        with live_server(tmp_path, database_url=database, config=running) as srv:
            wanted = 3 + 3 + 1 + 2  # evaluations, notifications, case opened, joined
            events = rx.wait(wanted, seconds=40)
            assert rx.bad == []
            kinds = sorted(e["type"] for e in events)
            assert kinds.count("arka.evaluation.non_compliant") == 3
            assert kinds.count("arka.notification") == 3
            assert kinds.count("arka.case.opened") == 1
            assert kinds.count("arka.case.evaluation_added") == 2
            assert {e["data"]["evaluation_id"] for e in events
                    if e["type"] == "arka.evaluation.non_compliant"} == set(ids)
            wait(lambda: len(smtp.messages) == 3)
            subjects = sorted(m["Subject"] for m in smtp.messages)
            assert subjects == ["Large cash tx-0", "Large cash tx-1", "Large cash tx-2"]
            body = smtp.messages[0].get_payload()
            assert "of customer C-1:" in str(body)
            assert len({m["Message-ID"] for m in smtp.messages}) == 3

            # 3. the case: one per customer and queue, all three evaluations in it
            analyst = srv.client("analyst")
            (case,) = analyst.get("/api/v1/cases", params={"queue": "aml-review"}
                                  ).json()["items"]
            assert case["entity_id"] == "C-1" and case["status"] == "open"
            assert sorted(case["evaluation_ids"]) == sorted(ids)
            assert case["priority"] == "high" and case["due_at"]
            r = analyst.post(f"/api/v1/cases/{case['id']}/actions", json={"action": "claim"})
            assert r.status_code == 200, r.text
            assert analyst.post(f"/api/v1/cases/{case['id']}/actions", json={
                "action": "close", "disposition": "false_positive",
                "reason": "salary"}).status_code == 403  # analysts do not close
            officer = srv.client("compliance_officer")
            r = officer.post(f"/api/v1/cases/{case['id']}/actions", json={
                "action": "close", "disposition": "false_positive",
                "reason": "documented salary payments"})
            assert r.status_code == 200, r.text
            assert officer.get(f"/api/v1/cases/{case['id']}").json()["status"] == "closed"
            closed = wait(lambda: [e for e in rx.events if e["type"] == "arka.case.closed"])
            assert closed[0]["subject"] == case["id"]
            assert closed[0]["data"]["disposition"] == "false_positive"
            time.sleep(1.0)  # nothing more arrives twice
            assert len(rx.order) == len({e["id"] for e in rx.events})
            assert srv.rows("outbox", "WHERE dispatched_at IS NULL") == 0
