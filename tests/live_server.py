"""A real ARKA Core under uvicorn (`arka-cli serve` in a child process) for hostile-input,
outage and tamper tests: two tenants, one API key per role in each, rate limiting on.

    with live_server(tmp_path) as srv:                      # SQLite in tmp_path
        r = srv.client("viewer", "t1").post("/api/v1/rules/validate", content=doc)
        assert srv.rss() < srv.start_rss + 200 * MB
        assert srv.rows("evaluations") == 0

`live_server(tmp_path, database_url=...)` runs on another database (e.g. one from
`tests.service_fixtures.postgres_database()`); `config=` adds a configuration file.
`serve_database_url=` makes the server reach the same database by another URL (e.g.
through a proxy an outage test cuts) while migrations, keys and `rows()` use
`database_url`.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

CLI = str(Path(sys.executable).parent / "arka-cli")
ROLES = ("admin", "compliance_officer", "analyst", "auditor", "service", "viewer")
TENANTS = ("t1", "t2")
MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    proc: subprocess.Popen[str]
    database_url: str
    store_args: list[str]
    keys: dict[tuple[str, str], str] = field(default_factory=dict)
    start_rss: int = 0
    env: dict[str, str] | None = None  # the server's environment; its CLI commands get it too

    def client(self, role: str = "admin", tenant: str = "t1", timeout: float = 30.0,
               **kw: Any) -> httpx.Client:
        """An HTTP client sending the key of `role` in `tenant`."""
        return httpx.Client(base_url=self.url, timeout=timeout,
                            headers={"X-API-Key": self.keys[(tenant, role)]}, **kw)

    def pids(self) -> list[int]:
        """The server process and its children (uvicorn workers)."""
        out = [self.proc.pid]
        try:
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
            out += [int(p) for p in kids.split()]
        except OSError:
            pass
        return out

    def rss(self) -> int:
        """Resident memory of the server and its workers, in bytes."""
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    def rows(self, table: str, where: str = "") -> int:
        """Row count of a table in the server's database (read directly)."""
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(sa.text(f"SELECT count(*) FROM {table} {where}"))
                           .scalar_one())
        finally:
            engine.dispose()

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`arka-cli ARGS` against the server's store (appends the store options)."""
        done = subprocess.run([CLI, *args, *self.store_args], capture_output=True, text=True,
                              timeout=120, env=self.env)
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def alive(self) -> bool:
        return self.proc.poll() is None


# `arka-cli db migrate` then `arka-cli apikey create` for each key, run by the CLI's own
# code in one child process (one interpreter start instead of one per key).
_SETUP = r"""
import json, sys
from click.testing import CliRunner
from arka.interfaces.cli import main
store_args, specs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
runner = CliRunner()
done = runner.invoke(main, ["db", "migrate", "--confirm", *store_args])
if done.exit_code:
    sys.exit("db migrate: " + done.output)
keys = []
for tenant, role in specs:
    done = runner.invoke(main, ["apikey", "create", "--name", f"{tenant}-{role}", "--role", role,
                                "--tenant", tenant, "--key-only", *store_args])
    if done.exit_code:
        sys.exit("apikey create: " + done.output)
    keys.append(done.stdout.strip())
print(json.dumps(keys))
"""


def setup_store(store_args: list[str], specs: list[tuple[str, str]], env: dict[str, str]
                ) -> dict[tuple[str, str], str]:
    """Migrate the store and create one API key per (tenant, role), as the CLI does."""
    import json
    done = subprocess.run([sys.executable, "-c", _SETUP, json.dumps(store_args),
                           json.dumps(specs)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return dict(zip(specs, json.loads(done.stdout.strip().splitlines()[-1]), strict=True))


def _wait_started(proc: subprocess.Popen[str], seconds: float = 60) -> str:
    assert proc.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 1)
        if not ready:
            continue
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if "Application startup complete" in line:
            return "".join(seen)
    raise AssertionError("server did not start:\n" + "".join(seen[-40:]))


def _drain(proc: subprocess.Popen[str]) -> None:
    """Keep reading the server's output so a full pipe never blocks it."""
    import threading

    def run() -> None:
        assert proc.stdout is not None
        for _ in proc.stdout:
            pass
    threading.Thread(target=run, daemon=True).start()


@contextmanager
def live_server(tmp_path: Path, database_url: str | None = None, config: Path | None = None,
                workers: int = 1, env: dict[str, str] | None = None,
                serve_database_url: str | None = None,
                keys: list[tuple[str, str]] | None = None) -> Iterator[LiveServer]:
    """`keys`: the (tenant, role) API keys to create (default: every role in both
    tenants)."""
    data = tmp_path / "live"
    data.mkdir(parents=True, exist_ok=True)
    url_db = database_url or f"sqlite:///{data / 'pact.db'}"
    store_args = ["--data-dir", str(data), "--database-url", url_db]
    if config is not None:
        store_args += ["--config", str(config)]
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("ARKA_")}
    child_env.update(env or {})
    made = setup_store(store_args, keys or [(t, r) for t in TENANTS for r in ROLES], child_env)
    port = free_port()
    serve_args = store_args if serve_database_url is None else [
        serve_database_url if a == url_db else a for a in store_args]
    proc = subprocess.Popen([CLI, "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", str(workers), *serve_args], env=child_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_started(proc)
        _drain(proc)
        srv = LiveServer(f"http://127.0.0.1:{port}", proc, url_db, store_args, made,
                         env=child_env)
        srv.start_rss = srv.rss()
        yield srv
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
