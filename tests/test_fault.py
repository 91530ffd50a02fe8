"""Crash safety: kill -9 a real ARKA Core in the middle of 2,000 evaluations sent by 8
clients with idempotency keys; restart it; every acknowledged evaluation is stored once with the
output hash it was acknowledged with and its own log leaf (a fifth are verified in full
and a tenth replayed: the proof checks themselves are the other tests' subject), and
retrying the unacknowledged ones stores each exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import EXAMPLES
from tests.service_fixtures import database_url
from tests.test_server import CLI, _free_port

TOTAL = 2000
KILL_AFTER = 600


def _serve(data: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    config = data / "fault.yaml"  # one client key sends everything: lift its rate limit
    config.write_text(f"storage: {{data_dir: '{data}'}}\n"
                      "api: {rate_limiting: {requests_per_minute: 10000000, burst: 100000}}\n")
    proc = subprocess.Popen([CLI, "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--config", str(config)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    subprocess.run([CLI, "health", "--url", f"http://127.0.0.1:{port}", "--wait", "60"],
                   check=True, capture_output=True)
    return proc


def _body(i: int) -> dict[str, Any]:
    return {"context": {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"},
            "input": {"transaction": {"id": f"t{i}", "amount": 9000 + i, "currency": "USD",
                                      "type": "cash"}},
            "options": {"idempotency_key": f"fault-{i}"}}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_9_loses_no_acknowledged_evaluation(backend: str, tmp_path: Path) -> None:
    gen = database_url(backend, tmp_path)
    url = next(gen)
    try:
        _run(url, tmp_path)
    finally:
        for _ in gen:
            pass


def _run(db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = dict(os.environ, ARKA_DATABASE_URL=db_url)
    subprocess.run([CLI, "db", "migrate", "--confirm", "--data-dir", str(data)], env=env,
                   check=True, capture_output=True)
    key = subprocess.run([CLI, "apikey", "create", "--name", "fault", "--role", "admin",
                          "--key-only", "--data-dir", str(data)], env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    headers = {"X-API-Key": key}
    proc = _serve(data, port, env)
    try:
        _load(data, port, env, base, headers, proc, db_url)
    finally:
        if proc.poll() is None:
            proc.kill()


def _load(data: Path, port: int, env: dict[str, str], base: str, headers: dict[str, str],
          proc: subprocess.Popen[bytes], db_url: str) -> None:
    httpx.post(f"{base}/api/v1/rules", headers={**headers, "content-type": "application/x-yaml"},
               content=(EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_bytes()
               ).raise_for_status()

    acked: dict[int, dict[str, Any]] = {}
    lock = threading.Lock()
    killed = threading.Event()

    def send(i: int, client: httpx.Client) -> None:
        try:
            r = client.post(f"{base}/api/v1/evaluate", json=_body(i))
        except httpx.HTTPError:
            return  # not acknowledged: retried after the restart
        if r.status_code in (200, 201):
            rec = r.json()
            with lock:
                acked[i] = {"id": rec["evaluation_id"],
                            "output_hash": rec["trust_proof"]["output_hash"]}
                if len(acked) >= KILL_AFTER and not killed.is_set():
                    killed.set()
                    proc.send_signal(signal.SIGKILL)  # mid-flight: no shutdown at all

    with httpx.Client(headers=headers, timeout=30) as client, ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: send(i, client), range(TOTAL)))
    proc.wait(30)
    assert killed.is_set() and KILL_AFTER <= len(acked) < TOTAL, len(acked)
    first_round = dict(acked)

    proc = _serve(data, port, env)  # restart on the same database and keys
    try:
        with httpx.Client(headers=headers, timeout=30) as client:
            def retry(i: int) -> None:  # acknowledged ones come back unchanged
                r = client.post(f"{base}/api/v1/evaluate", json=_body(i))
                assert r.status_code in (200, 201), r.text
                rec = r.json()
                if i in first_round:
                    assert r.status_code == 200 and rec["evaluation_id"] == first_round[i]["id"]
                    assert rec["trust_proof"]["output_hash"] == first_round[i]["output_hash"]
                with lock:
                    acked[i] = {"id": rec["evaluation_id"]}
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(retry, range(TOTAL)))
            listed = client.get(f"{base}/api/v1/evaluations?per_page=1").json()
            sth = client.get(f"{base}/api/v1/log/sth").json()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert listed["total"] == TOTAL  # nothing stored twice, nothing lost
    assert sth["tree_size"] == TOTAL

    from arka.app.core import Core
    from arka.settings import Settings
    core = Core(Settings.embedded(data, db_url))
    ids = [acked[i]["id"] for i in range(TOTAL)]
    for i in range(0, TOTAL, 5):  # a fifth verified in full, a tenth replayed
        assert core.evaluations.verify("default", ids[i])["valid"], ids[i]
        if i % 10 == 0:
            assert core.evaluations.replay("default", ids[i])["match"], ids[i]
    leaves = core.store.log.indices_of(ids)
    assert sorted(leaves.values()) == list(range(TOTAL))  # one leaf each, no gaps
