"""Remote RTVM vs in-process: what the network hop costs ARKA Core.

Starts `arka-cli rtvm serve` on 127.0.0.1 and measures, on SQLite in a temp dir, with the
CTR rule: sequential single evaluations, 16 concurrent callers (batched into shared
calls), and one 500-item batch, each in process and remote.

    .venv/bin/python bench/rtvm_remote.py [--seconds 3] [--workers 1]
"""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from arka.app.core import Core  # noqa: E402
from arka.app.requests import BatchRequest, EvaluateRequest, parse  # noqa: E402
from arka.settings import Settings  # noqa: E402
from arka.storage import Store  # noqa: E402

CLI = str(Path(sys.executable).parent / "arka-cli")
CTX = {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"}


def body(i: int) -> dict[str, Any]:
    return {"context": CTX, "input": {"transaction": {"id": f"t{i}", "amount": 9000 + i,
                                                      "currency": "USD", "type": "cash"}}}


def rate(fn: Any, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        n += fn(n)
    return n / (time.perf_counter() - start)


def measure(core: Core, seconds: float) -> dict[str, float]:
    single = rate(lambda i: (core.evaluations.evaluate("default", parse(EvaluateRequest, body(i))), 1)[1], seconds)
    with ThreadPoolExecutor(16) as pool:
        def burst(i: int) -> int:
            list(pool.map(lambda k: core.evaluations.evaluate("default", parse(EvaluateRequest, body(i + k))), range(64)))
            return 64
        concurrent = rate(burst, seconds)
    items = [{"id": str(k), "input": body(k)["input"]} for k in range(500)]
    batch = rate(lambda i: (core.evaluations.evaluate_batch("default", parse(BatchRequest, {"context": CTX, "inputs": items})),
                            500)[1], seconds)
    return {"single": single, "concurrent": concurrent, "batch": batch}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="arka-rtvm-bench-"))
    url = f"sqlite:///{tmp / 'pact.db'}"
    Store(url).migrate()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([CLI, "rtvm", "serve", "--host", "127.0.0.1", "--port",
                               str(port), "--workers", str(args.workers)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        local = Core(Settings(url, tmp / "keys"))
        local.registry.deploy_rule("default", (ROOT / "examples" / "rules" / "ctr-threshold-flag.yaml")
                          .read_text(), "yaml")
        remote = Core(Settings(url, tmp / "keys", rtvm_host="127.0.0.1", rtvm_port=port))
        assert remote.rtvm is not None
        for _ in range(100):
            if remote.rtvm.ping():
                break
            time.sleep(0.1)
        rows = {"in process": measure(local, args.seconds),
                "remote RTVM": measure(remote, args.seconds)}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(20)
    print(f"ARKA Core evaluations/s (evaluate + prove + store, SQLite), remote RTVM with "
          f"{args.workers} process(es), {args.seconds:g}s per cell")
    print(f"{'':<14} {'sequential':>12} {'16 threads':>12} {'batch x500':>12}")
    for name, r in rows.items():
        print(f"{name:<14} {r['single']:>12,.0f} {r['concurrent']:>12,.0f} {r['batch']:>12,.0f}")


if __name__ == "__main__":
    main()
