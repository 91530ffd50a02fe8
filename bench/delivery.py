"""Event delivery: what the outbox costs an evaluation, and how fast events reach a webhook.

    .venv/bin/python bench/delivery.py [--evaluations 2000] [--database-url URL]

In process (SQLite in a temp dir, or the given PostgreSQL database, which is migrated and
filled: use an empty one). Prints:
- evaluations/s of flagged evaluations (each writes an outbox event in its transaction)
  and of compliant ones (which write none), both through `Evaluations.evaluate`;
- the dispatch rate (events made into deliveries, with case opening for escalations);
- the delivery rate to a local HTTP receiver (its own process) that verifies every
  signature and de-duplicates by webhook-id; it reports what it received at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arka.app.core import Core  # noqa: E402
from arka.app.requests import EvaluateRequest  # noqa: E402
from arka.delivery import DeliveryPolicy  # noqa: E402
from arka.security.principal import SYSTEM_ACTOR  # noqa: E402
from arka.settings import Settings  # noqa: E402
from arka.storage import Store  # noqa: E402

RECEIVER = """
import signal, sys, time
sys.path.insert(0, sys.argv[1])
from tests.webhook_receiver import Receiver
rx = Receiver(sys.argv[2])
rx.__enter__()
print(rx.url, flush=True)
signal.signal(signal.SIGTERM, lambda *_: (print(len(rx.order), len(rx.requests),
                                                len(rx.bad), flush=True), sys.exit(0)))
while True:
    time.sleep(1)
"""

RULE = """
rule:
  metadata: {name: bench-cash, version: 1.0.0, jurisdiction: US}
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
      config: {queue: aml, priority: high, sla_hours: 24}
"""


def _request(i: int, amount: int) -> EvaluateRequest:
    return EvaluateRequest.model_validate({
        "context": {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"},
        "input": {"customer": {"id": f"C-{i % 50}"},
                  "transaction": {"id": f"t{i}", "amount": amount}}})


def _rate(label: str, count: int, seconds: float) -> None:
    print(f"{label:<52} {count / seconds:>10.0f} /s   ({count} in {seconds:.2f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evaluations", type=int, default=2000)
    ap.add_argument("--database-url")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="arka-bench-delivery-"))
    url = args.database_url or f"sqlite:///{tmp / 'pact.db'}"
    store = Store(url)
    store.migrate()
    policy = DeliveryPolicy(allow_private=("127.0.0.1/32",), concurrency=16)
    core = Core(dataclasses.replace(Settings(url, tmp / "keys"), webhooks=policy), store)
    core.registry.deploy_rule("default", RULE, "yaml")
    n = args.evaluations
    print(f"database: {store.dialect}; {n} evaluations each")
    started = time.perf_counter()
    for i in range(n):
        core.evaluations.evaluate("default", _request(i, 50))
    _rate("compliant evaluations (no event)", n, time.perf_counter() - started)
    from arka.delivery.signing import new_secret
    secret = new_secret()
    child = subprocess.Popen([sys.executable, "-c", RECEIVER, str(ROOT), secret],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    url_ = child.stdout.readline().strip()
    core.webhooks.create("default", url=url_, secret=secret, description=None,
                         events=["arka.evaluation.needs_review",
                                 "arka.evaluation.non_compliant", "arka.case.opened",
                                 "arka.case.evaluation_added"], actor=SYSTEM_ACTOR)
    started = time.perf_counter()
    for i in range(n):
        core.evaluations.evaluate("default", _request(i, 20000))
    _rate("flagged + escalated evaluations (one event each)", n,
          time.perf_counter() - started)
    started = time.perf_counter()
    dispatched = 0
    while core.store.outbox.pending_count():
        dispatched += core.delivery.dispatch_once()
    _rate("dispatch (events -> deliveries, cases opened/joined)", dispatched,
          time.perf_counter() - started)
    total = core.store.webhooks.counts().get("pending", 0)
    started = time.perf_counter()
    while core.store.webhooks.counts().get("delivered", 0) < total:
        if not core.delivery.deliver_once():
            time.sleep(0.01)
    _rate(f"signed webhook deliveries ({policy.concurrency} at once)", total,
          time.perf_counter() - started)
    child.terminate()
    distinct, requests, bad = child.communicate(timeout=10)[0].split()
    print(f"receiver: {distinct} distinct events verified, {requests} requests, {bad} bad")
    print(f"cases: {core.cases.queues('default')['items']}")
    core.close()


if __name__ == "__main__":
    main()
