"""Prometheus metrics (SPEC §9 names; the deployment guide's alerts use them).

One registry per process (`REGISTRY`); `GET /metrics` on ARKA Core exposes it. With several
uvicorn workers each reports its own counters.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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
RULES_LOADED = Gauge("pact_rules_loaded", "Rule versions loaded in this process",
                     registry=REGISTRY)
DB_CONNECTIONS = Gauge("pact_database_connections_available",
                       "Database connections available in this process's pool",
                       registry=REGISTRY)


def watch_connections(available: Callable[[], float]) -> None:
    DB_CONNECTIONS.set_function(available)


def exposition() -> bytes:
    return generate_latest(REGISTRY)
