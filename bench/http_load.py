"""HTTP load benchmark: a real uvicorn ARKA Core and the `wrk` load generator on this machine.

    .venv/bin/python bench/http_load.py [--database-url URL] [--workers N] [--duration S]

Starts `arka-cli serve` on 127.0.0.1 (SQLite in a temp dir unless --database-url is
given; a PostgreSQL database must be empty or already migrated), deploys the example CTR
rule, then measures with wrk (`apt-get install wrk`):
1. single `POST /api/v1/evaluate` (persisted, with proof) at full speed;
2. the same, paced to about --rate requests/s (wrk's per-request delay), for p50/p99;
3. `POST /api/v1/evaluate/batch` with --batch inputs per request (evaluations/s persisted).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).parent / "arka-cli")

LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "%(key)s"
wrk.body = [[%(body)s]]
%(delay)s
done = function(summary, latency, requests)
  io.write(string.format("RESULT %%d %%d %%.3f %%.3f %%.3f %%d\\n", summary.requests,
    summary.duration, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.mean / 1000, summary.errors.status + summary.errors.connect + summary.errors.timeout))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wrk(url: str, key: str, body: str, seconds: int, connections: int, threads: int,
        delay_ms: float | None = None) -> dict[str, float]:
    delay = f"function delay() return {delay_ms:.3f} end" if delay_ms else ""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(LUA % {"body": body, "delay": delay, "key": key})
        script = fh.name
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s",
                          "--latency", "-s", script, url], capture_output=True, text=True,
                         check=True).stdout
    os.unlink(script)
    m = re.search(r"RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) ([\d.]+) (\d+)", out)
    if not m:
        raise RuntimeError(f"wrk output not understood:\n{out}")
    n, dur_us, p50, p99, mean, errors = m.groups()
    return {"requests": int(n), "rps": int(n) / (int(dur_us) / 1e6), "p50_ms": float(p50),
            "p99_ms": float(p99), "mean_ms": float(mean), "errors": int(errors)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--database-url")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rate", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=500)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    data = Path(tempfile.mkdtemp(prefix="arka-load-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    # authentication and rate limiting stay on (their cost is part of the measurement), with
    # a limit high enough not to refuse the load generator's single key
    config = data / "bench.yaml"
    config.write_text(f"storage: {{data_dir: '{data}'}}\n"
                      "api: {rate_limiting: {requests_per_minute: 100000000, burst: 1000000}}\n")
    cmd = [CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--config", str(config),
           "--workers", str(args.workers)]
    if args.database_url:
        env["ARKA_DATABASE_URL"] = args.database_url
    subprocess.run([CLI, "db", "migrate", "--confirm", "--data-dir", str(data)], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    key = subprocess.run([CLI, "apikey", "create", "--name", "bench", "--role", "admin",
                          "--key-only", "--data-dir", str(data)], env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    auth = {"X-API-Key": key}
    server = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        subprocess.run([CLI, "health", "--url", url, "--wait", "60"], check=True,
                       stdout=subprocess.DEVNULL)
        rule = (ROOT / "examples" / "rules" / "ctr-threshold-flag.yaml").read_bytes()
        httpx.post(f"{url}/api/v1/rules", content=rule,
                   headers={"content-type": "application/x-yaml", **auth}).raise_for_status()
        body = json.dumps({"context": {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"},
                           "input": {"transaction": {"id": "t1", "amount": 12500,
                                                     "currency": "USD", "type": "cash"}}})
        httpx.post(f"{url}/api/v1/evaluate", content=body, headers=auth).raise_for_status()
        full = wrk(f"{url}/api/v1/evaluate", key, body, args.duration, 32, 2)
        connections = 32
        # each connection waits `delay` before its next request: rate ~ c / (delay + latency)
        delay_ms = max(connections * 1000 / args.rate - full["mean_ms"] * 0.2, 0.1)
        paced = wrk(f"{url}/api/v1/evaluate", key, body, args.duration, connections, 2,
                    delay_ms)
        items = [{"id": str(i), "input": {"transaction": {"id": f"t{i}", "amount": 500 + i,
                                                          "currency": "USD", "type": "cash"}}}
                 for i in range(args.batch)]
        batch_body = json.dumps({"context": {"jurisdiction": "US",
                                             "timestamp": "2024-01-15T14:00:00Z"},
                                 "inputs": items})
        batch = wrk(f"{url}/api/v1/evaluate/batch", key, batch_body, args.duration, 4, 2)
        stored = httpx.get(f"{url}/api/v1/evaluations?per_page=1", headers=auth).json()["total"]
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"ARKA Core HTTP load - {backend}, {args.workers} uvicorn worker(s), wrk on the same "
          f"2-core machine, {args.duration}s per row")
    print(f"{'row':<44} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, r in (("POST /evaluate, 32 connections, full speed", full),
                    (f"POST /evaluate, paced to ~{args.rate}/s", paced),
                    (f"POST /evaluate/batch x{args.batch}, 4 connections", batch)):
        print(f"{name:<44} {r['rps']:>9,.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
              f"{r['errors']:>7}")
    print(f"batch: {batch['rps'] * args.batch:,.0f} evaluations/s persisted")
    print(f"evaluations stored during the run: {stored:,}")
    time.sleep(0)


if __name__ == "__main__":
    main()
