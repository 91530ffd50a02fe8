"""ARKA Engine benchmarks: `python bench/run.py` prints one table.

Everything runs in this process, pinned to one CPU core, trace off. Each row is measured
for about `--seconds` seconds after a warm-up; latency percentiles are per call.
zen-engine and rule-engine (pip install -e '.[bench]') evaluate the same condition.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import arka  # noqa: E402
from arka.base import values as V  # noqa: E402
from arka.engine.expression import _DEFAULT_CONTEXT, _DEFAULT_RUNTIME  # noqa: E402

CONDITION = "transaction.amount >= 10000"
CONTEXT = {"jurisdiction": "US", "timestamp": "2024-01-15T10:00:00Z"}

SIMPLE_RULE = """rule:
  metadata: {name: simple, version: 1.0.0}
  inputs:
    - {name: transaction, schema: {properties: {amount: {type: decimal}}}}
  conditions:
    - {id: big, expression: transaction.amount >= 10000}
  actions:
    - {trigger: big, type: flag, config: {severity: high, category: CTR}}
"""


def ten_condition_rule() -> str:
    conds = [
        "transaction.amount >= 10000", "transaction.currency == 'USD'",
        "transaction.type in ['cash', 'check']", "transaction.country not in ['US', 'CA']",
        "customer.risk_score > 70", "customer.pep == true",
        "days_between(customer.onboarded, date(now())) < 90",
        "starts_with(transaction.account, 'GB')", "transaction.amount * 2 > customer.limit",
        "c1 AND (c5 OR c6)",
    ]
    lines = [f"    - {{id: c{i + 1}, expression: \"{c}\"}}" for i, c in enumerate(conds)]
    return (
        "rule:\n  metadata: {name: ten, version: 1.0.0}\n  inputs:\n"
        "    - {name: transaction, schema: {properties: {amount: {type: decimal}}}}\n"
        "    - {name: customer, schema: {properties: {risk_score: {type: decimal}, "
        "onboarded: {type: date}, limit: {type: decimal}, pep: {type: boolean}}}}\n"
        "  conditions:\n" + "\n".join(lines) + "\n  actions:\n"
        "    - {trigger: c10 AND c3, type: flag, config: {severity: high, category: TEN, "
        "message: 'amount ${transaction.amount}'}}\n"
        "    - {trigger: c7 OR c4, type: escalate, config: {queue: q, priority: high}}\n"
    )


TEN_INPUT = {
    "transaction": {"amount": 15000, "currency": "USD", "type": "cash", "country": "GB",
                    "account": "GB29NWBK60161331926819"},
    "customer": {"risk_score": 80, "pep": False, "onboarded": "2023-12-01", "limit": 20000},
}

HISTORY_RULE = """rule:
  metadata: {name: history, version: 1.0.0}
  inputs:
    - {name: transaction, schema: {properties: {amount: {type: decimal}}}}
    - name: transaction_history
      schema: {type: array, items: {properties: {amount: {type: decimal}, timestamp: {type: datetime}}}}
  let:
    cash: transaction_history.filter(t => t.type == "cash" AND t.amount >= 1000)
    total: cash.map(t => t.amount).sum()
  conditions:
    - {id: heavy, expression: total + transaction.amount > 50000}
    - {id: many, expression: count(cash) >= 10}
  actions:
    - {trigger: heavy AND many, type: flag, config: {severity: high, category: VELOCITY, message: "total ${total}"}}
"""


def history_input() -> dict[str, Any]:
    items = [{"id": f"txn-{i:05d}", "amount": 500 + (i * 37) % 4000,
              "type": "cash" if i % 3 else "wire", "currency": "USD",
              "timestamp": f"2024-01-{1 + i % 28:02d}T10:00:00Z",
              "counterparty": f"Counterparty number {i}", "channel": "branch"}
             for i in range(100)]
    return {"transaction": {"amount": 5000}, "transaction_history": items}


def measure(fn: Callable[[], Any], seconds: float) -> dict[str, float]:
    for _ in range(200):
        fn()
    samples: list[int] = []
    clock = time.perf_counter_ns
    end = clock() + int(seconds * 1e9)
    while clock() < end:
        for _ in range(100):
            t0 = clock()
            fn()
            samples.append(clock() - t0)
    samples.sort()
    n = len(samples)
    return {"n": n, "per_s": 1e9 / statistics.fmean(samples), "mean_us": statistics.fmean(samples) / 1e3,
            "p50_us": samples[n // 2] / 1e3, "p99_us": samples[min(n - 1, int(n * 0.99))] / 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    rows: list[tuple[str, str, dict[str, float] | None, str]] = []

    simple = arka.RuleSet([arka.compile_rule(SIMPLE_RULE, "simple.yaml")])
    simple_input = {"transaction": {"amount": Decimal(15000)}}
    rows.append(("simple rule, full evaluation", ">= 250,000/s",
                 measure(lambda: simple.evaluate(simple_input, CONTEXT), args.seconds), "arka vm"))
    rows.append(("simple rule, full evaluation", "", measure(
        lambda: simple.evaluate(simple_input, CONTEXT, executor="interpreter"), args.seconds),
        "arka interpreter"))

    expr = arka.compile_expression(CONDITION)
    fast = expr.fast
    assert fast is not None
    cond_fn = fast.functions[1]
    converted = V.from_json({"transaction": {"amount": 15000}})
    rows.append(("bare condition", ">= zen", measure(
        lambda: expr.evaluate({"transaction": {"amount": 15000}}), args.seconds),
        "arka evaluate(dict)"))
    rows.append(("bare condition", "", measure(
        lambda: cond_fn(fast.state(converted, _DEFAULT_CONTEXT, _DEFAULT_RUNTIME)),
        args.seconds), "arka compiled condition"))
    try:
        import zen
        z = zen.compile_expression(CONDITION)
        zd = {"transaction": {"amount": 15000}}
        assert z.evaluate(zd) is True
        rows.append(("bare condition", "", measure(lambda: z.evaluate(zd), args.seconds),
                     "zen-engine compiled"))
    except ImportError:
        rows.append(("bare condition", "", None, "zen-engine (not installed)"))
    try:
        import rule_engine
        r = rule_engine.Rule(CONDITION)
        rd = {"transaction": {"amount": 15000}}
        assert r.matches(rd)
        rows.append(("bare condition", "", measure(lambda: r.matches(rd), args.seconds),
                     "rule-engine"))
    except ImportError:
        rows.append(("bare condition", "", None, "rule-engine (not installed)"))

    ten = arka.RuleSet([arka.compile_rule(ten_condition_rule(), "ten.yaml")])
    ten_input = V.from_json(TEN_INPUT)
    assert ten.evaluate(ten_input, CONTEXT).rule_results[0]["status"] != "error"
    rows.append(("10-condition rule", "<= 15 us", measure(
        lambda: ten.evaluate(ten_input, CONTEXT), args.seconds), "arka vm"))

    hist = arka.RuleSet([arka.compile_rule(HISTORY_RULE, "history.yaml")])
    hist_input = V.from_json(history_input())
    size = len(json.dumps(V.to_json(hist_input)))
    assert hist.evaluate(hist_input, CONTEXT).rule_results[0]["status"] != "error"
    rows.append((f"{size / 1024:.1f} KB input, 100-item history", "<= 100 us", measure(
        lambda: hist.evaluate(hist_input, CONTEXT), args.seconds), "arka vm"))

    ctr = (ROOT / "examples" / "rules" / "ctr-threshold-flag.yaml").read_text()
    rows.append(("compile a typical rule (CTR example)", "<= 5 ms", measure(
        lambda: arka.compile_rule(ctr, "ctr.yaml"), args.seconds), "arka compile"))
    struct_rule = (ROOT / "examples" / "rules" / "structuring-detection.yaml").read_text()
    rows.append(("compile + prepare fast path (structuring)", "", measure(
        lambda: arka.RuleSet([arka.compile_rule(struct_rule, "s.yaml")]), args.seconds),
        "arka compile+ruleset"))

    if args.json:
        print(json.dumps([{"benchmark": b, "target": t, "engine": e, **(m or {})}
                          for b, t, m, e in rows], indent=2))
        return
    print(f"ARKA Engine {arka.__version__} benchmarks - Python {sys.version.split()[0]}, "
          f"one core, trace off")
    header = f"{'benchmark':<42} {'engine':<26} {'target':<13} {'ops/s':>12} {'mean':>10} {'p50':>10} {'p99':>10}"
    print(header)
    print("-" * len(header))
    for bench, target, m, engine in rows:
        if m is None:
            print(f"{bench:<42} {engine:<26} {target:<13} {'-':>12}")
            continue
        print(f"{bench:<42} {engine:<26} {target:<13} {m['per_s']:>12,.0f} "
              f"{m['mean_us']:>8.1f}us {m['p50_us']:>8.1f}us {m['p99_us']:>8.1f}us")


if __name__ == "__main__":
    main()
