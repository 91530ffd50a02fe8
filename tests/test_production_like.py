"""A production-like run, everything real on 127.0.0.1: ARKA Core (`arka-cli serve`, two
workers, configuration file, ARKA_ENVIRONMENT=production) on PostgreSQL, with Redis, an
S3-compatible store (moto) and the remote RTVM service (`arka-cli rtvm serve`, two
processes). It evaluates, stores full traces in S3, exports, and everything verifies."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import EXAMPLE_SCHEMAS, EXAMPLES
from tests.service_fixtures import postgres_database, s3_server
from tests.test_security import _redis_client
from tests.test_server import CLI, _free_port

CTX = {"jurisdiction": "US", "domain": "AML", "timestamp": "2024-01-15T14:00:00Z"}
JWT_SECRET = "production-like-jwt-secret-" + "x" * 32


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_production_like_stack(tmp_path: Path) -> None:
    _redis_client()  # Redis must be there (or the test skips / fails under CI)
    db = postgres_database()
    db_url = next(db)
    s3 = s3_server("arka-prod")
    endpoint = next(s3)
    rtvm_port, api_port, metrics_port = _free_port(), _free_port(), _free_port()
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    config = tmp_path / "production.yaml"
    config.write_text(yaml.safe_dump({
        "environment": "production", "log_format": "json",
        "api": {"host": "127.0.0.1", "port": api_port,
                "rate_limiting": {"requests_per_minute": 60000, "burst": 1000}},
        "database": {"url": "${ARKA_TEST_DB}"},
        "redis": {"url": "redis://127.0.0.1:6379/0"},
        "rtvm": {"host": "127.0.0.1", "port": rtvm_port, "timeout": "10s"},
        "observability": {"metrics": {"port": metrics_port},
                          "logging": {"output": "stdout"}},
        "storage": {"data_dir": str(tmp_path / "data"), "objects": "s3://arka-prod/objects"},
    }))
    env = dict(os.environ, ARKA_CONFIG=str(config), ARKA_TEST_DB=db_url,
               ARKA_SIGNING_KEY=pem, ARKA_ENCRYPTION_KEY="77" * 32, ARKA_JWT_SECRET=JWT_SECRET,
               ARKA_ENVIRONMENT="production", ARKA_S3_ENDPOINT_URL=endpoint,
               AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1")
    env.pop("ARKA_DATABASE_URL", None)
    procs: list[subprocess.Popen[Any]] = []
    log_file = tmp_path / "core.log"
    try:
        assert subprocess.run([CLI, "config", "validate", str(config)], env=env,
                              capture_output=True, text=True).returncode == 0
        subprocess.run([CLI, "db", "migrate", "--confirm"], env=env, check=True,
                       capture_output=True)
        key = subprocess.run([CLI, "apikey", "create", "--name", "ops", "--role", "admin",
                              "--key-only"], env=env, check=True, capture_output=True,
                             text=True).stdout.strip()
        procs.append(subprocess.Popen(
            [CLI, "rtvm", "serve", "--host", "127.0.0.1", "--port", str(rtvm_port),
             "--workers", "2", "--redis-url", "redis://127.0.0.1:6379/0"], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with log_file.open("w") as log:
            procs.append(subprocess.Popen([CLI, "serve", "--workers", "2"], env=env,
                                          stdout=log, stderr=subprocess.STDOUT))
        base = f"http://127.0.0.1:{api_port}"
        ready = subprocess.run([CLI, "health", "--url", base, "--wait", "60"],
                               capture_output=True, text=True)
        assert ready.returncode == 0, ready.stderr + log_file.read_text()[-3000:]
        checks = httpx.get(f"{base}/health/ready").json()["checks"]
        assert checks == {"store": True, "rtvm": True, "object_storage": True, "integrity": True}

        client = httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30)
        for path in EXAMPLE_SCHEMAS:  # production validation is strict: rules need them
            client.post("/api/v1/schemas", content=path.read_bytes(),
                        headers={"content-type": "application/x-yaml"}).raise_for_status()
        for rule in ("ctr-threshold-flag", "structuring-detection", "enhanced-due-diligence"):
            client.post("/api/v1/rules", content=(EXAMPLES / "rules" / f"{rule}.yaml")
                        .read_bytes(), headers={"content-type": "application/x-yaml"}
                        ).raise_for_status()
        client.post("/api/v1/tables", content=(EXAMPLES / "tables" / "fx-rates.yaml")
                    .read_bytes(), headers={"content-type": "application/x-yaml"}
                    ).raise_for_status()
        time.sleep(1.2)  # the other worker sees new rules within a second
        records = []
        for i, (amount, currency) in enumerate(((500, "USD"), (12500, "USD"),
                                                (9500, "EUR"), (15000, "GBP"))):
            body = {"context": CTX, "options": {"trace": "full",
                                                "idempotency_key": f"prod-{i}"},
                    "input": {"transaction": {"id": f"t{i}", "amount": amount,
                                              "currency": currency, "type": "cash"}}}
            r = client.post("/api/v1/evaluate", json=body)
            assert r.status_code == 201, r.text
            again = client.post("/api/v1/evaluate", json=body)  # idempotent, any worker
            assert again.status_code == 200
            assert again.json()["evaluation_id"] == r.json()["evaluation_id"]
            records.append(r.json())
        assert records[1]["result"]["decision"] != "compliant"
        batch = client.post("/api/v1/evaluate/batch", json={"context": CTX, "inputs": [
            {"id": str(i), "input": {"transaction": {"id": f"b{i}", "amount": 100 * i,
                                                     "currency": "USD", "type": "cash"}}}
            for i in range(50)]}).json()
        assert batch["succeeded"] == 50
        # a bearer token works as well as the key
        token = jwt.encode({"sub": "analyst-1", "tenant": "default", "roles": ["analyst"],
                            "exp": int(time.time()) + 300}, JWT_SECRET, algorithm="HS256")
        listed = httpx.get(f"{base}/api/v1/evaluations?per_page=1",
                           headers={"Authorization": f"Bearer {token}"}).json()
        assert listed["total"] == 54
        # every record verifies through the API and offline; full traces come from S3
        keys_file = tmp_path / "keys.json"
        keys_file.write_text(httpx.get(f"{base}/api/v1/keys").text)
        for rec in records:
            eid = rec["evaluation_id"]
            assert client.post(f"/api/v1/proofs/{eid}/verify").json()["valid"]
            assert client.post("/api/v1/evaluate/replay",
                               json={"evaluation_id": eid}).json()["match"]
            stored = client.get(f"/api/v1/evaluations/{eid}").json()
            assert stored["full_trace_ref"]["uri"].startswith("s3://arka-prod/objects/traces/")
            assert client.get(f"/api/v1/evaluations/{eid}/trace").json()["trace"] == \
                rec["full_trace"]
            record_file = tmp_path / f"{eid}.json"
            record_file.write_text(json.dumps(stored))
            inclusion = client.get(f"/api/v1/log/inclusion?evaluation_id={eid}").text
            (tmp_path / "inclusion.json").write_text(inclusion)
            out = subprocess.run([CLI, "verify", str(record_file), "--key", str(keys_file),
                                  "--inclusion", str(tmp_path / "inclusion.json")],
                                 capture_output=True, text=True)
            assert out.returncode == 0, out.stdout + out.stderr
        # an export to S3, downloaded and checked
        manifest = client.post("/api/v1/exports", json={}).json()
        assert manifest["count"] == 54 and manifest["uri"].startswith("s3://arka-prod/")
        content = client.get(f"/api/v1/exports/{manifest['export_id']}/download").content
        assert hashlib.sha256(content).hexdigest() == manifest["sha256"]
        # metrics on their own port, summed over both workers
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in text_string_to_metric_families(text) for s in f.samples}
        assert sum(v for (n, _), v in samples.items() if n == "pact_evaluations_total") == 54
        # the database holds no plaintext input
        import psycopg
        with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            rows = conn.execute("SELECT record, key_id FROM evaluations").fetchall()
        assert all(r[1] and r[0].startswith("v1.") for r in rows)
        client.close()
    finally:
        for proc in reversed(procs):
            _stop(proc)
        for gen in (s3, db):
            for _ in gen:
                pass
    # JSON logs: one access line per request, with its request id
    lines = [json.loads(line) for line in log_file.read_text().splitlines()
             if line.startswith("{")]
    access = [entry for entry in lines if entry.get("logger") == "arka.access"]
    assert access and all(entry["request_id"] for entry in access)
    assert not any(key in line for line in log_file.read_text().splitlines())
