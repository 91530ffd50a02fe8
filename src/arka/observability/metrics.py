"""Prometheus metrics (`docs/api.md`; the alerts of `deploy/prometheus/alerts.yaml` use them).

One process: the metrics live in `REGISTRY`. Several uvicorn workers (`arka-cli serve
--workers N`): `serve` sets `PROMETHEUS_MULTIPROC_DIR` before the workers start, each
worker writes its values there, and every exposition (`/metrics` on any worker, or the
separate metrics port served by the parent) aggregates all workers: counters and
histograms add up, `pact_database_connections_available` is the sum over live workers and
`pact_rules_loaded` the maximum.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
REGISTRY = CollectorRegistry(auto_describe=True)

EVALUATIONS = Counter("pact_evaluations_total", "Evaluations stored, by decision",
                      ["decision"], registry=REGISTRY)
EVALUATION_ERRORS = Counter("pact_evaluation_errors_total",
                            "Evaluations rejected (input) or with a failing rule (rule)",
                            ["kind"], registry=REGISTRY)
EVALUATION_DURATION = Histogram(
    "pact_evaluation_duration_seconds", "Time to evaluate, prove and store one evaluation",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
    registry=REGISTRY)
RTVM_EXECUTIONS = Counter("pact_rtvm_executions_total", "Rule executions on the RTVM, by status",
                          ["status"], registry=REGISTRY)
PROOFS_GENERATED = Counter("pact_proofs_generated_total", "Trust proofs signed",
                           registry=REGISTRY)
PROOFS_ANCHORED = Counter("pact_proofs_anchored_total",
                          "Anchor transitions of signed tree heads, by chain and status",
                          ["chain", "status"], registry=REGISTRY)
PLUGIN_CALLS = Counter("pact_plugin_calls_total",
                       "Plugin calls made by rules (a repeat within one evaluation is not a "
                       "call), by plugin, function and status (ok or the error code)",
                       ["plugin", "function", "status"], registry=REGISTRY)
PLUGIN_CALL_DURATION = Histogram(
    "pact_plugin_call_duration_seconds", "Time of one plugin call, host round trip included",
    ["plugin", "function"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY)
RULES_LOADED = Gauge("pact_rules_loaded", "Rule versions loaded", registry=REGISTRY,
                     multiprocess_mode="livemax")
RATE_LIMIT_BACKEND_ERRORS = Counter(
    "pact_rate_limit_backend_errors_total",
    "Rate-limit decisions made without Redis (unreachable), by the on_redis_error mode "
    "that decided (local, allow, deny)", ["mode"], registry=REGISTRY)
for _mode in ("local", "allow", "deny"):  # every series exists from the start, at 0
    RATE_LIMIT_BACKEND_ERRORS.labels(_mode)
# cases: the gauges are refreshed from the database by the service's case worker
CASES_OPEN = Gauge("pact_cases_open", "Cases not closed, by queue", ["queue"],
                   registry=REGISTRY, multiprocess_mode="livemax")
CASE_SLA_BREACHES = Gauge("pact_case_sla_breaches",
                          "Cases not closed whose SLA due time has passed, by queue",
                          ["queue"], registry=REGISTRY, multiprocess_mode="livemax")
CASE_TIME_TO_CLOSE = Histogram(
    "pact_case_time_to_close_seconds", "Time from a case's opening to its closing, by queue",
    ["queue"], buckets=(60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400,
                        7 * 86400, 30 * 86400), registry=REGISTRY)
CASE_ACTIONS = Counter("pact_case_actions_total", "Case actions taken, by action",
                       ["action"], registry=REGISTRY)
# event delivery
DELIVERIES = Counter("pact_deliveries_total",
                     "Delivery attempts, by channel (webhook, email) and outcome (delivered, "
                     "retrying, dead)", ["channel", "outcome"], registry=REGISTRY)
DELIVERY_DURATION = Histogram(
    "pact_delivery_duration_seconds", "Time of one delivery attempt, by channel", ["channel"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY)
for _channel in ("webhook", "email"):  # every series exists from the start, at 0
    for _outcome in ("delivered", "retrying", "dead"):
        DELIVERIES.labels(_channel, _outcome)
OUTBOX_PENDING = Gauge("pact_outbox_pending", "Events written but not yet dispatched",
                       registry=REGISTRY, multiprocess_mode="livemax")
# transparency-log witnesses
WITNESS_SUBMISSIONS = Counter(
    "pact_witness_submissions_total",
    "Checkpoints taken to a witness, by witness and outcome (cosigned, conflict, refused, "
    "unreachable)", ["witness", "outcome"], registry=REGISTRY)
UNWITNESSED_LEAVES = Gauge(
    "pact_log_unwitnessed_leaves",
    "Leaves in the log beyond the newest checkpoint with its quorum of cosignatures",
    registry=REGISTRY, multiprocess_mode="livemax")
DB_CONNECTIONS = Gauge("pact_database_connections_available",
                       "Database connections available in the connection pools",
                       registry=REGISTRY, multiprocess_mode="livesum")


def watch_connections(engine: Any, available: Callable[[], float]) -> None:
    """Keep the pool gauge current. One process: read at scrape time. Several workers
    (multiprocess mode, where a gauge cannot call back into a worker): each worker writes
    it once a second from a daemon thread."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        DB_CONNECTIONS.set_function(available)
        return

    def refresh() -> None:
        while True:
            DB_CONNECTIONS.set(available())
            time.sleep(1.0)

    threading.Thread(target=refresh, name="arka-pool-gauge", daemon=True).start()


def _forget_dead_workers(directory: str) -> None:
    from prometheus_client import multiprocess
    for path in Path(directory).glob("gauge_live*_*.db"):
        m = re.search(r"_(\d+)\.db$", path.name)
        if m is None:
            continue
        pid = int(m.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)
        except PermissionError:
            pass


def exposition() -> bytes:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        from prometheus_client import multiprocess
        _forget_dead_workers(directory)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, directory)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def serve_metrics(host: str, port: int, path: str = "/metrics") -> threading.Thread:
    """Serve the exposition on its own port (`observability.metrics.port`), in a thread."""
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO") != path:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [f"metrics are at {path}\n".encode()]
        body = exposition()
        start_response("200 OK", [("Content-Type", CONTENT_TYPE),
                                  ("Content-Length", str(len(body)))])
        return [body]

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server: WSGIServer = make_server(host, port, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, name="arka-metrics", daemon=True)
    thread.start()
    return thread


# ------------------------------------------------------------------ a summary for people

def quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The `q` quantile of a histogram given as (upper bound, cumulative count) pairs in
    bound order, the last one +Inf: linear within the bucket it falls in, as Prometheus'
    histogram_quantile() estimates it; in the +Inf bucket, the highest finite bound.
    None without observations."""
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if bound == float("inf"):
                return lower
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def evaluation_summary() -> dict[str, Any]:
    """Evaluations asked for, how many failed (input rejected, or a rule failed: the
    error rate is their share) and the latency percentiles of stored ones, over every
    worker of this service since it started (the figures `/metrics` exposes)."""
    from prometheus_client.parser import text_string_to_metric_families
    stored = 0.0
    errors = {"input": 0.0, "rule": 0.0}
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(exposition().decode()):
        for sample in family.samples:
            if sample.name == "pact_evaluations_total":
                stored += sample.value
            elif sample.name == "pact_evaluation_errors_total":
                kind = sample.labels.get("kind", "")
                errors[kind] = errors.get(kind, 0.0) + sample.value
            elif sample.name == "pact_evaluation_duration_seconds_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    cumulative = sorted(buckets.items())
    # a rejected input is not stored; an evaluation in which a rule failed is
    attempts = stored + errors["input"]
    failed = errors["input"] + errors["rule"]
    return {"evaluations": int(attempts), "stored": int(stored),
            "rejected_inputs": int(errors["input"]), "rule_errors": int(errors["rule"]),
            "error_rate": round(failed / attempts, 6) if attempts else None,
            "latency_seconds": {f"p{round(q * 100)}": _rounded(quantile(q, cumulative))
                                for q in (0.5, 0.95, 0.99)}}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
