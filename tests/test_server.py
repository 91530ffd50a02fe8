"""A real `arka-cli serve` process on 127.0.0.1: the README quickstart, end to end."""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import EXAMPLES, evaluate_body

CLI = str(Path(sys.executable).parent / "arka-cli")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(data: Path, port: int) -> tuple[subprocess.Popen[str], str | None]:
    """Start `arka-cli serve`; return it and the bootstrap key it printed (if any)."""
    env = dict(os.environ)
    env.pop("ARKA_DATABASE_URL", None)
    proc = subprocess.Popen([CLI, "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--data-dir", str(data)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    key = None
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1)
        if not ready:
            continue
        line = proc.stdout.readline()
        if line.strip().startswith("arka_"):
            key = line.strip()
        if "Uvicorn running" in line or "Application startup complete" in line or not line:
            break
    return proc, key


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    port = _free_port()
    data = tmp_path / "data"
    proc, key = _start(data, port)
    url = f"http://127.0.0.1:{port}"
    try:
        ready = subprocess.run([CLI, "health", "--url", url, "--wait", "30"],
                               capture_output=True, text=True)
        assert ready.returncode == 0, ready.stderr
        assert key is not None, "first start prints a bootstrap admin key"
        yield url, data, key
    finally:
        _stop(proc)


def test_bootstrap_key_is_printed_once_and_works(tmp_path: Path) -> None:
    data, port = tmp_path / "data", _free_port()
    proc, key = _start(data, port)
    url = f"http://127.0.0.1:{port}"
    try:
        assert key is not None
        assert httpx.get(f"{url}/api/v1/rules").status_code == 401
        assert httpx.get(f"{url}/api/v1/rules", headers={"X-API-Key": key}).status_code == 200
    finally:
        _stop(proc)
    proc, again = _start(data, port)
    try:
        assert again is None  # keys exist: nothing is printed on later starts
    finally:
        _stop(proc)


def test_no_auth_is_refused_in_production(tmp_path: Path) -> None:
    env = dict(os.environ, ARKA_ENVIRONMENT="production", ARKA_ENCRYPTION_KEY="66" * 32)
    out = subprocess.run([CLI, "serve", "--no-auth", "--data-dir", str(tmp_path / "d"),
                          "--port", str(_free_port())], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 2 and "production" in out.stderr


def test_quickstart_against_a_real_server(server: tuple[str, Path, str], tmp_path: Path
                                          ) -> None:
    url, data, admin_key = server
    # the README's way to a key: arka-cli apikey create --key-only
    made = subprocess.run([CLI, "apikey", "create", "--name", "quickstart", "--role",
                           "compliance_officer", "--key-only", "--data-dir", str(data)],
                          capture_output=True, text=True, check=True)
    key = made.stdout.strip()
    assert key.startswith("arka_")
    auth = {"X-API-Key": key}
    for rule in ("ctr-threshold-flag", "structuring-detection", "enhanced-due-diligence"):
        r = httpx.post(f"{url}/api/v1/rules",
                       content=(EXAMPLES / "rules" / f"{rule}.yaml").read_bytes(),
                       headers={"content-type": "application/x-yaml", **auth})
        assert r.status_code == 201, r.text
    body = {"context": {"jurisdiction": "US", "domain": "AML",
                        "timestamp": "2024-01-15T14:00:00Z"},
            "input": {"transaction": {"id": "t1", "amount": 12500, "currency": "USD",
                                      "type": "cash"}}}
    r = httpx.post(f"{url}/api/v1/evaluate", json=body, headers=auth)
    assert r.status_code == 201, r.text
    rec = r.json()
    assert rec["result"]["decision"] == "non_compliant"
    record_file = tmp_path / "evaluation.json"
    record_file.write_text(httpx.get(f"{url}/api/v1/evaluations/{rec['evaluation_id']}",
                                     headers=auth).text)
    out = subprocess.run([CLI, "verify", str(record_file), "--key", f"{url}/api/v1/keys"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "VALID" in out.stdout, out.stdout + out.stderr
    tampered = json.loads(record_file.read_text())
    tampered["result"]["decision"] = "compliant"
    record_file.write_text(json.dumps(tampered))
    out = subprocess.run([CLI, "verify", str(record_file), "--key", f"{url}/api/v1/keys"],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "FAIL output_hash" in out.stdout
    # inclusion in the transparency log, checked offline against the signed tree head
    record_file.write_text(httpx.get(f"{url}/api/v1/evaluations/{rec['evaluation_id']}",
                                     headers=auth).text)
    inclusion = subprocess.run([CLI, "log", "inclusion", rec["evaluation_id"], "--url", url,
                                "--api-key", key], capture_output=True, text=True,
                               check=True).stdout
    inclusion_file = tmp_path / "inclusion.json"
    inclusion_file.write_text(inclusion)
    out = subprocess.run([CLI, "verify", str(record_file), "--key", f"{url}/api/v1/keys",
                          "--inclusion", str(inclusion_file)], capture_output=True, text=True)
    assert out.returncode == 0 and "ok   inclusion" in out.stdout, out.stdout + out.stderr
    sth = json.loads(subprocess.run([CLI, "log", "sth", "--url", url], capture_output=True,
                                    text=True, check=True,
                                    env=dict(os.environ, ARKA_API_KEY=admin_key)).stdout)
    assert sth["tree_size"] >= 1
    broken = json.loads(inclusion)
    broken["sth"]["root_hash"] = "00" * 32
    inclusion_file.write_text(json.dumps(broken))
    out = subprocess.run([CLI, "verify", str(record_file), "--key", f"{url}/api/v1/keys",
                          "--inclusion", str(inclusion_file)], capture_output=True, text=True)
    assert out.returncode == 1 and "FAIL inclusion" in out.stdout
    assert "FAIL tree_head_signature" in out.stdout
    # the signing key was generated on first start, readable by its owner only
    pems = list((data / "keys").glob("*.pem"))
    assert pems and all(p.stat().st_mode & 0o077 == 0 for p in pems)


def test_db_commands(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    env = dict(os.environ)
    env.pop("ARKA_DATABASE_URL", None)
    status = subprocess.run([CLI, "db", "status", "--data-dir", data], capture_output=True,
                            text=True, env=env)
    assert status.returncode == 1 and '"up_to_date": false' in status.stdout
    refused = subprocess.run([CLI, "db", "migrate", "--data-dir", data], capture_output=True,
                             text=True, env=env)
    assert refused.returncode == 2 and "--confirm" in refused.stderr
    done = subprocess.run([CLI, "db", "migrate", "--confirm", "--data-dir", data],
                          capture_output=True, text=True, env=env)
    from arka.storage import Store
    head = Store("sqlite://").head_revision()
    assert done.returncode == 0 and f"database is at revision {head}" in done.stdout
    status = subprocess.run([CLI, "db", "status", "--data-dir", data], capture_output=True,
                            text=True, env=env)
    assert status.returncode == 0 and '"up_to_date": true' in status.stdout


def test_health_reports_an_unreachable_server() -> None:
    out = subprocess.run([CLI, "health", "--url", f"http://127.0.0.1:{_free_port()}"],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "not ready" in out.stderr


def test_verify_rejects_bad_key_files(tmp_path: Path) -> None:
    rec = tmp_path / "r.json"
    rec.write_text('{"trust_proof": {}}')
    key = tmp_path / "k.json"
    key.write_text('{"kty": "RSA"}')
    out = subprocess.run([CLI, "verify", str(rec), "--key", str(key)], capture_output=True,
                         text=True)
    assert out.returncode == 2 and "Ed25519" in out.stderr
    out = subprocess.run([CLI, "verify", str(rec), "--key", str(tmp_path / "missing")],
                         capture_output=True, text=True)
    assert out.returncode == 2


def test_keys_list_and_rotate(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    first = json.loads(subprocess.run([CLI, "keys", "list", "--data-dir", data],
                                      capture_output=True, text=True, check=True).stdout)
    rotated = subprocess.run([CLI, "keys", "rotate", "--data-dir", data], capture_output=True,
                             text=True, check=True).stdout
    assert f"(was {first['active']})" in rotated
    after = json.loads(subprocess.run([CLI, "keys", "list", "--data-dir", data],
                                      capture_output=True, text=True, check=True).stdout)
    assert after["active"] != first["active"] and len(after["keys"]) == 2


def test_rtvm_debug_replays_a_stored_evaluation(tmp_path: Path) -> None:
    from arka.app.core import Core
    from arka.settings import Settings
    data = tmp_path / "d"
    env = dict(os.environ)
    env.pop("ARKA_DATABASE_URL", None)
    subprocess.run([CLI, "db", "migrate", "--confirm", "--data-dir", str(data)], env=env,
                   check=True, capture_output=True)
    core = Core(Settings.embedded(data))
    core.registry.deploy_rule("default", (EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text(), "yaml")
    rec, _ = evaluate_body(core, "default", {"context": {"jurisdiction": "US",
                                        "timestamp": "2024-01-15T14:00:00Z"},
                            "input": {"transaction": {"id": "t", "amount": 12500,
                                                      "currency": "USD", "type": "cash"}}})
    out = subprocess.run([CLI, "rtvm", "debug", "--evaluation-id", rec["evaluation_id"],
                          "--show-trace", "--data-dir", str(data)], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "reproduces" in out.stdout and "decision: non_compliant" in out.stdout
    assert "amount_threshold=true" in out.stdout and "CALL_MEMO" in out.stdout
    missing = subprocess.run([CLI, "rtvm", "debug", "--evaluation-id", "eval_nope",
                              "--data-dir", str(data)], env=env, capture_output=True, text=True)
    assert missing.returncode == 1 and "not found" in missing.stderr
