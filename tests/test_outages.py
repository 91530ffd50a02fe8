"""Outages against a real ARKA Core (uvicorn in a child process): PostgreSQL and Redis are
reached through TCP proxies this module controls (`cut()` closes every connection and
refuses new ones, `restore()` accepts again). With the database cut every endpoint family
answers 503 SERVICE_UNAVAILABLE with Retry-After within a bound and stores nothing; after
restore the same server answers again. With Redis cut the configured rate-limit mode
decides and the metric counts. Start-up waits for the database, and gives up cleanly.
SQLite outages (file removed, database locked) and the classification of driver errors
are checked too.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import socket
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import EXAMPLES
from tests.live_server import CLI, MB, LiveServer, free_port, live_server
from tests.service_fixtures import postgres_database

CTR = (EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text()
CTX = {"jurisdiction": "US", "domain": "AML", "timestamp": "2024-01-15T14:00:00Z"}
CASH = {"transaction": {"id": "t1", "amount": 12500, "currency": "USD", "type": "cash"}}
YAML = {"content-type": "application/x-yaml"}
ANSWER_WITHIN = 12.0  # seconds an answer may take during an outage
BURST = 30  # api.rate_limiting.burst of the Redis-outage servers (requests_per_minute: 6)
STORED = ("evaluations", "log_leaves", "api_keys", "audit_events", "rules")


class Proxy:
    """A TCP forwarder on 127.0.0.1 in front of `upstream`."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.port = free_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(0.1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def ensure_up(self) -> None:
        if self._listener is None:
            self.restore()

    def cut(self) -> None:
        """Close every connection and refuse new ones (the port is not listening)."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def _config(directory: Path, redis_port: int, mode: str = "local",
            startup_timeout: str = "30s", tight: bool = False,
            data_dir: Path | None = None) -> Path:
    """Rate limits: tight (6 per minute, burst BURST) for the Redis outage tests, else
    out of the way."""
    path = directory / f"outages-{mode}-{startup_timeout}.yaml"
    rpm, burst = (6, BURST) if tight else (600_000, 100_000)
    path.write_text(f"""
api:
  rate_limiting: {{enabled: true, requests_per_minute: {rpm}, burst: {burst},
                  on_redis_error: {mode}}}
database:
  startup_timeout: {startup_timeout}
redis:
  url: redis://127.0.0.1:{redis_port}/0
storage:
  data_dir: {data_dir or directory / "live"}
""")
    return path


def _proxied(url: str, proxy: Proxy) -> str:
    assert "127.0.0.1:5432" in url, url
    return url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    yield from postgres_database()


@pytest.fixture(scope="module")
def pg_proxy() -> Iterator[Proxy]:
    proxy = Proxy(("127.0.0.1", 5432))
    yield proxy
    proxy.cut()


@pytest.fixture(scope="module")
def redis_proxy() -> Iterator[Proxy]:
    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", 6379)) != 0:
            pytest.skip("Redis is not running on 127.0.0.1:6379")
    proxy = Proxy(("127.0.0.1", 6379))
    yield proxy
    proxy.cut()


@pytest.fixture(scope="module")
def srv(pg_url: str, pg_proxy: Proxy, redis_proxy: Proxy,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("outages")
    with live_server(tmp, database_url=pg_url, serve_database_url=_proxied(pg_url, pg_proxy),
                     config=_config(tmp, redis_proxy.port)) as server:
        r = server.client("admin").post("/api/v1/rules", content=CTR, headers=YAML)
        assert r.status_code == 201, r.text
        yield server
        assert server.alive()
        assert server.rss() < server.start_rss + 300 * MB


def counts(srv: LiveServer) -> dict[str, int]:
    return {table: srv.rows(table) for table in STORED}


def timed(client: httpx.Client, method: str, path: str, body: Any = None,
          **kw: Any) -> httpx.Response:
    started = time.monotonic()
    r = client.request(method, path, content=None if body is None else json.dumps(body),
                       **kw)
    assert time.monotonic() - started < ANSWER_WITHIN, (method, path)
    return r


def unavailable(r: httpx.Response, what: Any) -> None:
    assert r.status_code == 503, (what, r.status_code, r.text)
    error = r.json()["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE", (what, r.text)
    assert error["message"] and error["request_id"], (what, r.text)
    assert int(r.headers["Retry-After"]) > 0, (what, r.headers)


def metric(srv: LiveServer, name: str, labels: str = "") -> float:
    text = httpx.get(srv.url + "/metrics", timeout=10).text
    m = re.search(rf"^{re.escape(name)}{re.escape(labels)} (\S+)$", text, re.M)
    assert m is not None, (name, labels)
    return float(m.group(1))


def evaluate(client: httpx.Client, key: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {"context": CTX, "input": CASH}
    if key is not None:
        body["options"] = {"idempotency_key": key}
    return timed(client, "POST", "/api/v1/evaluate", body)


def until_ok(call: Any, seconds: float = 15.0) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        r = call()
        if r.status_code < 500 or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


# ------------------------------------------------------------------ database outage


def test_database_cut_is_503_everywhere_then_recovers(srv: LiveServer, pg_proxy: Proxy
                                                      ) -> None:
    admin = srv.client("admin", timeout=ANSWER_WITHIN * 2)
    first = evaluate(admin, "outage-k1")
    assert first.status_code in (200, 201), first.text
    eid = first.json()["evaluation_id"]
    before = counts(srv)
    auditor = srv.client("auditor", timeout=ANSWER_WITHIN * 2)
    fresh = srv.client("compliance_officer", "t2", timeout=ANSWER_WITHIN * 2)  # never seen
    unknown = httpx.Client(base_url=srv.url, timeout=ANSWER_WITHIN * 2,
                           headers={"X-API-Key": "arka_" + uuid.uuid4().hex})
    pg_proxy.cut()
    try:
        calls: list[tuple[httpx.Client, str, str, Any]] = [
            (admin, "GET", "/api/v1/rules", None),
            (admin, "GET", "/api/v1/rules/ctr-threshold-flag", None),
            (admin, "GET", "/api/v1/rules/ctr-threshold-flag/versions", None),
            (admin, "GET", "/api/v1/rules/ctr-threshold-flag/versions/1.0.0", None),
            (admin, "GET", "/api/v1/tables", None),
            (admin, "GET", "/api/v1/rulesets", None),
            (admin, "GET", "/api/v1/approvals", None),
            (admin, "GET", "/api/v1/evaluations", None),
            (admin, "GET", f"/api/v1/evaluations/{eid}", None),
            (admin, "GET", f"/api/v1/evaluations/{eid}/trace", None),
            (admin, "GET", "/api/v1/log/sth", None),
            (admin, "GET", f"/api/v1/log/inclusion?evaluation_id={eid}", None),
            (admin, "GET", "/api/v1/anchors", None),
            (admin, "GET", "/api/v1/apikeys", None),
            (auditor, "GET", "/api/v1/audit/events", None),
            (auditor, "GET", "/api/v1/audit/verify", None),
            (admin, "POST", "/api/v1/rules", None),  # body below: a new version
            (admin, "POST", "/api/v1/evaluate", {"context": CTX, "input": CASH}),
            (admin, "POST", "/api/v1/evaluate",  # the idempotency lookup
             {"context": CTX, "input": CASH, "options": {"idempotency_key": "outage-k1"}}),
            (admin, "POST", "/api/v1/evaluate/batch",
             {"context": CTX, "inputs": [{"id": "a", "input": CASH}]}),
            (admin, "POST", "/api/v1/evaluate/replay", {"evaluation_id": eid}),
            (admin, "POST", f"/api/v1/proofs/{eid}/verify", None),
            (admin, "POST", "/api/v1/apikeys", {"name": "x", "roles": ["viewer"]}),
            (admin, "POST", "/api/v1/exports", {}),
            (fresh, "GET", "/api/v1/rules", None),  # the API key lookup itself
            (unknown, "GET", "/api/v1/rules", None),  # an unknown key: cannot tell, 503
        ]
        for client, method, path, body in calls:
            if method == "POST" and path == "/api/v1/rules":
                started = time.monotonic()
                r = client.post(path, content=CTR.replace("1.0.0", "1.0.1"), headers=YAML)
                assert time.monotonic() - started < ANSWER_WITHIN
            else:
                r = timed(client, method, path, body)
            unavailable(r, (method, path))
        ready = timed(admin, "GET", "/health/ready")
        assert ready.status_code == 503 and ready.json()["checks"]["store"] is False
        assert timed(admin, "GET", "/health/live").status_code == 200
        assert srv.alive()
    finally:
        pg_proxy.restore()
    assert counts(srv) == before  # nothing was stored during the outage
    # the same process answers again, no restart
    assert until_ok(lambda: admin.get("/health/ready")).status_code == 200
    assert admin.get("/api/v1/rules").status_code == 200
    assert fresh.get("/api/v1/rules").status_code == 200
    assert unknown.get("/api/v1/rules").status_code == 401
    again = evaluate(admin, "outage-k1")  # the idempotent answer: the same record
    assert again.status_code in (200, 201) and again.json()["evaluation_id"] == eid
    assert evaluate(admin).status_code in (200, 201)
    assert srv.rows("evaluations") == before["evaluations"] + 1


def test_writes_cut_mid_flight_leave_no_partial_record(srv: LiveServer, pg_proxy: Proxy
                                                       ) -> None:
    """Evaluations sent while the database is cut and restored: each one is stored whole
    (record and log leaf) or not at all, and every acknowledged one is stored."""
    stored_before = (srv.rows("evaluations"), srv.rows("log_leaves"))
    acknowledged: list[str] = []
    statuses: list[int] = []
    odd: list[str] = []
    stop = threading.Event()

    def writer(n: int) -> None:
        with srv.client("service", timeout=ANSWER_WITHIN * 2) as client:
            i = 0
            while not stop.is_set():
                body = {"context": CTX, "input": {"transaction": dict(
                    CASH["transaction"], id=f"w{n}-{i}")}}
                r = client.post("/api/v1/evaluate", json=body)
                statuses.append(r.status_code)
                if r.status_code not in (200, 201, 503):
                    odd.append(r.text)
                if r.status_code in (200, 201):
                    acknowledged.append(r.json()["evaluation_id"])
                i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    try:
        for _ in range(3):
            time.sleep(0.4)
            pg_proxy.cut()
            time.sleep(0.4)
            pg_proxy.restore()
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
        pg_proxy.ensure_up()
    assert set(statuses) <= {200, 201, 503}, odd[:3]
    assert 503 in statuses and acknowledged
    evaluations, leaves = srv.rows("evaluations"), srv.rows("log_leaves")
    assert evaluations - stored_before[0] == leaves - stored_before[1]
    assert evaluations - stored_before[0] >= len(acknowledged)
    admin = srv.client("auditor")
    for eid in acknowledged[:: max(1, len(acknowledged) // 10)]:
        assert admin.get(f"/api/v1/evaluations/{eid}").status_code == 200


# ------------------------------------------------------------------ Redis outage


@pytest.mark.parametrize("mode", ["local", "deny"])
def test_redis_cut_applies_the_configured_mode_and_counts(mode: str, redis_proxy: Proxy,
                                                          tmp_path: Path) -> None:
    series = ("pact_rate_limit_backend_errors_total", f'{{mode="{mode}"}}')
    config = _config(tmp_path, redis_proxy.port, mode, tight=True)
    with live_server(tmp_path, config=config) as server:
        viewer = server.client("viewer", "t2")
        assert viewer.get("/api/v1/rules").status_code == 200  # Redis's bucket: one token
        before = metric(server, *series)
        redis_proxy.cut()
        try:
            statuses = [timed(viewer, "GET", "/api/v1/rules") for _ in range(BURST + 5)]
            if mode == "local":  # the process's own bucket, full at first use, limits
                assert [r.status_code for r in statuses] == [200] * BURST + [429] * 5
            else:  # deny: refused, with when to retry
                for r in statuses:
                    unavailable(r, mode)
            assert metric(server, *series) - before == BURST + 5
            assert timed(viewer, "GET", "/health/live").status_code == 200
        finally:
            redis_proxy.restore()
        time.sleep(2.5)  # the limiter asks Redis again 2 s after a failure
        r = viewer.get("/api/v1/rules")  # Redis's bucket again: it saw one request
        assert r.status_code == 200, r.text
        assert int(r.headers["X-RateLimit-Remaining"]) == BURST - 2
        counted = metric(server, *series)
        assert [viewer.get("/api/v1/rules").status_code for _ in range(3)] == [200] * 3
        assert metric(server, *series) == counted  # Redis decides again: nothing counted
        assert server.alive()


def test_redis_alert_fires_on_backend_errors(tmp_path: Path) -> None:
    """The alert rule, unit-tested with promtool on a synthetic series."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    alerts = Path(__file__).parent.parent / "deploy" / "prometheus" / "alerts.yaml"
    (tmp_path / "t.yaml").write_text(json.dumps({
        "rule_files": [str(alerts)], "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": [
            {"series": 'pact_rate_limit_backend_errors_total{mode="local"}',
             "values": "0 0 0 0 0 60 120 180 240 300 360 420"}],
            "alert_rule_test": [
                {"eval_time": "4m", "alertname": "ARKARateLimiterRedisUnavailable",
                 "exp_alerts": []},
                {"eval_time": "10m", "alertname": "ARKARateLimiterRedisUnavailable",
                 "exp_alerts": [{"exp_labels": {"severity": "warning"}, "exp_annotations": {
                     "summary": "ARKA rate limiting cannot reach Redis",
                     "description": "1 rate-limit decisions per second are made without "
                                    "Redis (api.rate_limiting.on_redis_error decides: local, "
                                    "allow or deny)"}}]}]}]}))
    done = subprocess.run([promtool, "test", "rules", str(tmp_path / "t.yaml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# ------------------------------------------------------------------ start-up


def _data_dir(srv: LiveServer) -> Path:
    return Path(srv.store_args[srv.store_args.index("--data-dir") + 1])


def _serve(srv: LiveServer, config: Path, url: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    args = [a if a != srv.database_url else url for a in srv.store_args]
    args = [str(config) if i > 0 and args[i - 1] == "--config" else a
            for i, a in enumerate(args)]
    proc = subprocess.Popen([CLI, "serve", "--host", "127.0.0.1", "--port", str(port),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    return proc, port


def _read_until(proc: subprocess.Popen[str], needle: str, seconds: float) -> str:
    assert proc.stdout is not None
    seen = ""
    deadline = time.monotonic() + seconds
    import select
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            seen += line
            if needle in line:
                return seen
    raise AssertionError(f"no {needle!r} within {seconds} s:\n{seen}")


def test_startup_waits_for_the_database(srv: LiveServer, pg_proxy: Proxy, redis_proxy: Proxy,
                                        tmp_path: Path) -> None:
    config = _config(tmp_path, redis_proxy.port, startup_timeout="60s",
                     data_dir=_data_dir(srv))  # the same signing keys
    pg_proxy.cut()
    proc, port = _serve(srv, config, _proxied(srv.database_url, pg_proxy))
    try:
        out = _read_until(proc, "waiting for the database", 20)
        out += _read_until(proc, "waiting for the database (attempt 2", 20)
        assert proc.poll() is None
        pg_proxy.restore()
        out += _read_until(proc, "Application startup complete", 30)
        assert "Traceback" not in out, out
        ready = httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=10)
        assert ready.status_code == 200, ready.text
    finally:
        pg_proxy.ensure_up()
        proc.terminate()
        proc.wait(15)


def test_startup_gives_up_cleanly(srv: LiveServer, pg_proxy: Proxy, redis_proxy: Proxy,
                                  tmp_path: Path) -> None:
    config = _config(tmp_path, redis_proxy.port, startup_timeout="3s",
                     data_dir=_data_dir(srv))
    pg_proxy.cut()
    try:
        started = time.monotonic()
        proc, _ = _serve(srv, config, _proxied(srv.database_url, pg_proxy))
        out, _ = proc.communicate(timeout=60)
        took = time.monotonic() - started
    finally:
        pg_proxy.restore()
    assert proc.returncode == 1, out
    assert took < 20, took
    assert "waiting for the database" in out
    assert "error: the database did not answer within 3 s (database.startup_timeout)" in out
    assert "Traceback" not in out, out


# ------------------------------------------------------------------ SQLite


def test_sqlite_file_removed_is_503_and_comes_back(tmp_path: Path) -> None:
    with live_server(tmp_path) as server:
        admin = server.client("admin")
        assert admin.post("/api/v1/rules", content=CTR, headers=YAML).status_code == 201
        assert evaluate(admin).status_code in (200, 201)
        db = Path(server.database_url.removeprefix("sqlite:///"))
        moved = db.with_name("moved.db")
        db.rename(moved)
        try:
            for method, path, body in (("GET", "/api/v1/rules", None),
                                       ("POST", "/api/v1/evaluate",
                                        {"context": CTX, "input": CASH})):
                unavailable(timed(admin, method, path, body), path)
            assert timed(admin, "GET", "/health/ready").status_code == 503
            assert not db.exists()  # not re-created empty
        finally:
            moved.rename(db)
        assert until_ok(lambda: admin.get("/api/v1/rules")).status_code == 200
        assert evaluate(admin).status_code in (200, 201)
        assert server.rows("evaluations") == server.rows("log_leaves") == 2


def test_sqlite_locked_is_503_within_the_busy_timeout(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from arka.app.core import Core
    from arka.settings import Settings
    from arka.storage.sql import database as D
    from tests.service_fixtures import api_client
    monkeypatch.setattr(D, "SQLITE_BUSY_SECONDS", 1)
    settings = Settings.embedded(tmp_path)
    core = Core(settings)
    core.store.migrate()
    client = api_client(core)
    assert client.post("/api/v1/rules", content=CTR, headers=YAML).status_code == 201
    holder = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"),
                             isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        started = time.monotonic()
        r = client.post("/api/v1/evaluate", json={"context": CTX, "input": CASH})
        assert time.monotonic() - started < 5
        unavailable(r, "locked")
        assert r.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert client.post("/api/v1/evaluate", json={"context": CTX, "input": CASH}
                       ).status_code in (200, 201)


# ------------------------------------------------------------------ classification


def test_driver_errors_are_classified_outage_or_not() -> None:
    import psycopg
    from sqlalchemy import exc as sa_exc

    from arka.storage.sql.database import DatabaseUnavailable, outage

    def sqlite_error(message: str, name: str) -> sqlite3.Error:
        err = sqlite3.OperationalError(message)
        err.sqlite_errorname = name
        return err

    outages = [
        sa_exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused")),
        sa_exc.InterfaceError("SELECT 1", {}, psycopg.InterfaceError("connection closed")),
        sa_exc.TimeoutError("QueuePool limit reached"),
        sa_exc.DisconnectionError("gone"),
        psycopg.OperationalError("server closed the connection unexpectedly"),
        sa_exc.OperationalError("x", {}, sqlite_error("database is locked", "SQLITE_BUSY")),
        sa_exc.OperationalError("x", {}, sqlite_error("disk I/O error", "SQLITE_IOERR_WRITE")),
        sa_exc.OperationalError("x", {}, sqlite_error("attempt to write a readonly database",
                                                      "SQLITE_READONLY")),
        sa_exc.OperationalError("x", {}, sqlite_error("database or disk is full",
                                                      "SQLITE_FULL")),
        sa_exc.OperationalError("x", {}, sqlite_error("unable to open database file",
                                                      "SQLITE_CANTOPEN")),
        sa_exc.OperationalError("x", {}, sqlite_error("no such table: rules", "SQLITE_ERROR")),
    ]
    for exc in outages:
        found = outage(exc)
        assert isinstance(found, DatabaseUnavailable), exc
        assert found.http_status == 503 and found.api_code == "SERVICE_UNAVAILABLE"
    data_errors = [
        sa_exc.IntegrityError("x", {}, sqlite3.IntegrityError("UNIQUE constraint failed")),
        sa_exc.DataError("x", {}, psycopg.DataError("invalid input syntax")),
        sa_exc.ProgrammingError("x", {}, psycopg.ProgrammingError("syntax error")),
        sa_exc.OperationalError("x", {}, sqlite_error('near "selec": syntax error',
                                                      "SQLITE_ERROR")),
        ValueError("not a database error"),
    ]
    for exc in data_errors:
        assert outage(exc) is None, exc


# ------------------------------------------------------------------ object storage


def test_object_store_unreachable_is_503_with_retry_after(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    import dataclasses

    from arka.app.core import Core
    from arka.settings import Settings
    from tests.service_fixtures import api_client
    for name, value in (("ARKA_S3_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}"),
                        ("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    settings = dataclasses.replace(Settings.embedded(tmp_path), objects="s3://bucket/arka")
    core = Core(settings)
    core.store.migrate()
    client = api_client(core)
    started = time.monotonic()
    r = client.post("/api/v1/exports", json={})
    assert time.monotonic() - started < ANSWER_WITHIN
    unavailable(r, "s3")
    ready = client.get("/health/ready")
    assert ready.status_code == 503 and ready.json()["checks"]["object_storage"] is False
