"""Metrics as operated: a real `arka-cli serve` with two workers and the metrics port of
`observability.metrics`, scraped and parsed (names, labels, values summed over workers),
and the deployment guide's three alert rules evaluated by a real Prometheus against it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import EXAMPLE_SCHEMAS, EXAMPLES
from tests.service_fixtures import _require_or_skip
from tests.test_server import CLI, _free_port

ROOT = Path(__file__).resolve().parent.parent
GUIDE_ALERTS = ROOT / "tests" / "fixtures" / "guide" / "alerting-rules.yaml"  # verbatim
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"
CTX = {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"}


def _evaluate(client: httpx.Client, base: str, i: int, bad: bool = False) -> int:
    tx: Any = {"id": f"t{i}", "amount": 9000 + i * 100, "currency": "USD", "type": "cash"}
    if bad:
        tx = {"id": f"t{i}", "amount": "lots"}
    return client.post(f"{base}/api/v1/evaluate",
                       json={"context": CTX, "input": {"transaction": tx}}).status_code


@pytest.fixture
def core_server(tmp_path: Path) -> Iterator[dict[str, Any]]:
    data = tmp_path / "data"
    port, metrics_port = _free_port(), _free_port()
    config = tmp_path / "core.yaml"
    config.write_text(yaml.safe_dump({
        "storage": {"data_dir": str(data)},
        "api": {"rate_limiting": {"requests_per_minute": 1000000, "burst": 100000}},
        "observability": {"metrics": {"enabled": True, "port": metrics_port,
                                      "path": "/metrics"}}}))
    env = dict(os.environ)
    env.pop("ARKA_DATABASE_URL", None)
    subprocess.run([CLI, "db", "migrate", "--confirm", "--data-dir", str(data)], env=env,
                   check=True, capture_output=True)
    key = subprocess.run([CLI, "apikey", "create", "--name", "obs", "--role", "admin",
                          "--key-only", "--data-dir", str(data)], env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    proc = subprocess.Popen([CLI, "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--config", str(config), "--workers", "2"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        subprocess.run([CLI, "health", "--url", base, "--wait", "60"], check=True,
                       capture_output=True)
        client = httpx.Client(headers={"X-API-Key": key}, timeout=30)
        for path in EXAMPLE_SCHEMAS:  # typed: a malformed amount is an input error
            client.post(f"{base}/api/v1/schemas", headers={"content-type": "application/x-yaml"},
                        content=path.read_bytes()).raise_for_status()
        client.post(f"{base}/api/v1/rules", headers={"content-type": "application/x-yaml"},
                    content=(EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_bytes()
                    ).raise_for_status()
        yield {"base": base, "metrics": f"http://127.0.0.1:{metrics_port}/metrics",
               "client": client}
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(url, timeout=10).text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_metrics_port_names_labels_and_all_workers(core_server: dict[str, Any]) -> None:
    client, base = core_server["client"], core_server["base"]
    statuses = [_evaluate(client, base, i, bad=i % 10 == 0) for i in range(60)]
    assert statuses.count(201) == 54 and statuses.count(400) == 6
    samples = _scrape(core_server["metrics"])
    names = {name for name, _ in samples}
    for name in ("pact_evaluations_total", "pact_evaluation_errors_total",
                 "pact_evaluation_duration_seconds_bucket", "pact_rules_loaded",
                 "pact_database_connections_available", "pact_proofs_generated_total",
                 "pact_rtvm_executions_total"):
        assert name in names, name
    by_decision = {dict(labels)["decision"]: v for (n, labels), v in samples.items()
                   if n == "pact_evaluations_total"}
    # counted by both workers, summed: every stored evaluation exactly once
    assert sum(by_decision.values()) == 54
    assert set(by_decision) <= {"compliant", "needs_review", "non_compliant"}
    assert samples[("pact_evaluation_errors_total", (("kind", "input"),))] == 6
    assert samples[("pact_proofs_generated_total", ())] == 54
    assert samples[("pact_evaluation_duration_seconds_count", ())] == 54
    assert samples[("pact_database_connections_available", ())] > 0
    assert samples[("pact_rules_loaded", ())] >= 1
    assert any(n == "pact_rtvm_executions_total" and dict(labels).get("status")
               for n, labels in samples)
    # metrics are on their own port only; the API port does not expose them
    assert httpx.get(f"{base}/metrics").status_code == 404
    assert httpx.get(core_server["metrics"].replace("/metrics", "/other")).status_code == 404


def test_shipped_alerts_are_the_guides() -> None:
    seed_rule = yaml.safe_load(GUIDE_ALERTS.read_text())
    shipped = yaml.safe_load(ALERTS.read_text())["groups"]
    # the guide's groups first, unchanged; ARKA's own groups after them
    assert shipped[:len(seed_rule["spec"]["groups"])] == seed_rule["spec"]["groups"]
    assert [g["name"] for g in shipped[len(seed_rule["spec"]["groups"]):]] == [
        "arka.outages", "arka.delivery"]


def test_guide_alerts_evaluate_in_prometheus(core_server: dict[str, Any],
                                             tmp_path: Path) -> None:
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        _require_or_skip("prometheus is not installed (apt-get install prometheus)")
    assert prometheus is not None
    client, base = core_server["client"], core_server["base"]
    target = core_server["metrics"].split("//")[1].split("/")[0]
    port = _free_port()
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(ALERTS)],
        "scrape_configs": [{"job_name": "arka-core", "static_configs": [{"targets": [target]}]}],
    }))
    prom = subprocess.Popen([prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop = threading.Event()

    def traffic() -> None:  # errors above 1% of evaluations, for the error-rate alert
        i = 0
        while not stop.is_set():
            _evaluate(client, base, i, bad=i % 5 == 0)
            i += 1
            time.sleep(0.02)

    sender = threading.Thread(target=traffic, daemon=True)
    sender.start()
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 60
        states: dict[str, Any] = {}
        while time.monotonic() < deadline:
            time.sleep(1)
            try:
                groups = httpx.get(f"{api}/rules", timeout=5).json()["data"]["groups"]
            except (httpx.HTTPError, KeyError, json.JSONDecodeError):
                continue
            states = {r["name"]: r for g in groups for r in g["rules"]}
            if states.get("ARKAHighErrorRate", {}).get("state") == "pending":
                break
        assert set(states) == {"ARKAHighErrorRate", "ARKAHighLatency",
                               "ARKADatabaseConnectionsLow",
                               "ARKARateLimiterRedisUnavailable", "ARKADeliveriesDead",
                               "ARKAOutboxBacklog", "ARKACaseSLABreached"}, states
        for name, rule in states.items():
            assert rule["health"] == "ok" and not rule.get("lastError"), (name, rule)
        # the error-rate alert sees our errors (pending: its `for` is 5 minutes)
        assert states["ARKAHighErrorRate"]["state"] == "pending", states
        # every expression's left-hand side has data from our metrics
        for expr in ("sum(rate(pact_evaluation_errors_total[5m])) / "
                     "sum(rate(pact_evaluations_total[5m]))",
                     "histogram_quantile(0.99, sum(rate("
                     "pact_evaluation_duration_seconds_bucket[5m])) by (le))",
                     "pact_database_connections_available",
                     "sum(rate(pact_rate_limit_backend_errors_total[5m]))",
                     'sum(increase(pact_deliveries_total{outcome="dead"}[15m]))',
                     "max(pact_outbox_pending)"):
            result = httpx.get(f"{api}/query", params={"query": expr}, timeout=5).json()
            assert result["status"] == "success" and result["data"]["result"], expr
            value = float(result["data"]["result"][0]["value"][1])
            assert value == value, expr  # not NaN
        # latency is well under the alert's 1 s and the pool is not low: those stay quiet
        assert states["ARKAHighLatency"]["state"] == "inactive"
        assert states["ARKADatabaseConnectionsLow"]["state"] == "inactive"
        # no Redis outage here (tests/test_outages.py fires it): quiet
        assert states["ARKARateLimiterRedisUnavailable"]["state"] == "inactive"
        for quiet in ("ARKADeliveriesDead", "ARKAOutboxBacklog", "ARKACaseSLABreached"):
            assert states[quiet]["state"] == "inactive", (quiet, states[quiet])
    finally:
        stop.set()
        sender.join(10)
        prom.terminate()
        prom.wait(20)
