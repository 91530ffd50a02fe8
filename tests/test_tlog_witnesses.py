"""Witnessing end to end with real processes: two `arka-cli witness serve` witnesses and
ARKA Core (`arka-cli serve`, as tests/live_server.py starts it) configured to take its
checkpoints to both with quorum 2 every 200 ms. The scenarios share one witness pair, one
server and its fork (started at once, the fork's log empty until scenario 3):

1. the log's checkpoint gets both cosignatures; a proof bundle fetched with
   `arka-cli log bundle` verifies offline with `arka-cli verify --quorum 2`;
2. a witness killed with SIGKILL delays cosigning but never evaluations; restarted on the
   same key and state it catches up;
3. a second ARKA Core with the same key and origin but another history (a fork) is
   refused by both witnesses, and `arka-cli log monitor` reports the split view;
4. Go's golang.org/x/mod (tlogcheck) verifies the live tiles and an `export-tiles` copy.

The log's signing key is made here and given to the server as ARKA_SIGNING_KEY, so that
its vkey is known before the witnesses (which need it) start.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from arka.app.transparency import entry_of
from arka.trust.note import (
    ED25519,
    Checkpoint,
    CosignatureSigner,
    Verifier,
    cosigners,
    open_checkpoint,
)
from tests.live_server import CLI, LiveServer, free_port, live_server
from tests.test_tlog import ORIGIN, RULE, YAML
from tests.tlog_fixtures import run_tlogcheck, tlogcheck_or_skip

WITNESS_NAMES = ("w1.example/w", "w2.example/w")


def wait_for(what: str, probe: Callable[[], Any], seconds: float = 10.0,
             every: float = 0.1) -> Any:
    """probe()'s first truthy value within `seconds`, else a failure naming `what`."""
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {seconds:g} s waiting for {what} (last: {last!r})")


# ------------------------------------------------------------------ witness processes

@dataclass
class WitnessProc:
    name: str
    key_file: Path
    state_file: Path
    log_vkey: str
    port: int
    vkey: str = ""
    proc: subprocess.Popen[bytes] | None = None
    log_file: Path | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def verifier(self) -> Verifier:
        return Verifier.parse(self.vkey)

    def keygen(self) -> None:
        done = subprocess.run([CLI, "witness", "keygen", "--name", self.name, "--out",
                               str(self.key_file)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        self.vkey = done.stdout.strip()
        assert Verifier.parse(self.vkey).name == self.name
        assert self.key_file.stat().st_mode & 0o077 == 0

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None
        self.starts += 1
        self.log_file = self.state_file.with_name(f"{self.state_file.stem}-{self.starts}.log")
        out = open(self.log_file, "wb")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [CLI, "witness", "serve", "--key", str(self.key_file), "--name", self.name,
             "--log", self.log_vkey, "--state", str(self.state_file), "--host", "127.0.0.1",
             "--port", str(self.port)], stdout=out, stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("ARKA_")})
        out.close()

        def healthy() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.output()
            try:
                return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False
        wait_for(f"witness {self.name} /healthz", healthy, 30)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def output(self) -> str:
        return self.log_file.read_text(errors="replace")[-3000:] if self.log_file else ""

    def latest(self, origin: str = ORIGIN) -> Checkpoint | None:
        """The witness's own view: GET /<sha256 hex of origin>/checkpoint."""
        r = httpx.get(f"{self.url}/{hashlib.sha256(origin.encode()).hexdigest()}/checkpoint",
                      timeout=5)
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.text
        checkpoint, note = open_checkpoint(r.text, [Verifier.parse(self.log_vkey)], origin)
        assert self.name in cosigners(note, [self.verifier])
        return checkpoint


# ------------------------------------------------------------------ ARKA Core processes

def admin_server(tmp_path: Path, config: Path, env: dict[str, str]) -> Any:
    """A live server with one API key (t1 admin): this module needs no other."""
    return live_server(tmp_path, config=config, env=env, keys=[("t1", "admin")])


# ------------------------------------------------------------------ the world

@dataclass
class World:
    tmp: Path
    pem: str
    vkey: str
    witnesses: list[WitnessProc]
    config: Path
    stack: ExitStack
    servers: dict[str, LiveServer] = field(default_factory=dict)

    @property
    def log_verifier(self) -> Verifier:
        return Verifier.parse(self.vkey)

    @property
    def witness_verifiers(self) -> list[Verifier]:
        return [w.verifier for w in self.witnesses]

    def start_servers(self, *labels: str) -> None:
        """A live server per label, started in parallel, each with the rule deployed."""
        managers = {label: admin_server(self.tmp / label, config=self.config,
                                        env={"ARKA_SIGNING_KEY": self.pem})
                    for label in labels}
        with ThreadPoolExecutor(len(labels)) as pool:
            futures = {label: pool.submit(cm.__enter__) for label, cm in managers.items()}
            errors = []
            for label, future in futures.items():
                try:
                    self.servers[label] = future.result()
                    self.stack.push(managers[label])
                except BaseException as exc:  # noqa: BLE001 - re-raised below
                    errors.append(exc)
        if errors:
            raise errors[0]
        for srv in self.servers.values():
            with srv.client() as client:
                r = client.post("/api/v1/rules", content=RULE, headers=YAML)
            assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("tlog-witnesses")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    vkey = Verifier.of(ORIGIN, ED25519, key.public_key()).vkey
    witnesses = [WitnessProc(n, tmp / f"w{i}.pem", tmp / f"w{i}.db", vkey, free_port())
                 for i, n in enumerate(WITNESS_NAMES, 1)]
    config = tmp / "arka.yaml"
    with ExitStack() as stack:
        for w in witnesses:
            w.keygen()
            stack.callback(w.stop)
            w.start()
        lines = ["api:", "  rate_limiting: {enabled: false}", "transparency:",
                 f"  origin: {ORIGIN}", "  witnesses:"]
        lines += [f"    - {{url: '{w.url}/', key: '{w.vkey}'}}" for w in witnesses]
        lines += ["  quorum: 2", "  cosign_interval: 200ms", "  witness_timeout: 2s"]
        config.write_text("\n".join(lines) + "\n")
        world = World(tmp, pem, vkey, witnesses, config, stack)
        # both ARKA Cores start at once (each setup runs ~14 CLI processes); the fork's
        # log stays empty, so it submits nothing, until test 3 gives it a history
        world.start_servers("main", "fork")
        yield world


@pytest.fixture(scope="module")
def main_srv(world: World) -> LiveServer:
    return world.servers["main"]


def evaluate(srv: LiveServer, n: int, start: int = 0, budget: float | None = None
             ) -> list[str]:
    ids = []
    with srv.client() as client:
        for i in range(start, start + n):
            began = time.monotonic()
            r = client.post("/api/v1/evaluate", json={
                "context": {"jurisdiction": "US"},
                "input": {"transaction": {"amount": 9000 + i}}})
            took = time.monotonic() - began
            assert r.status_code == 201, r.text
            if budget is not None:
                assert took < budget, f"evaluation {i} took {took:.2f} s"
            ids.append(r.json()["evaluation_id"])
    return ids


def served_checkpoint(world: World, srv: LiveServer) -> tuple[Checkpoint, set[str], bool]:
    """The server's checkpoint, the witnesses whose cosignatures verify, the header."""
    with srv.client() as client:
        r = client.get("/api/v1/log/checkpoint")
    assert r.status_code == 200, r.text
    checkpoint, note = open_checkpoint(r.text, [world.log_verifier], ORIGIN)
    witnessed = r.headers["x-checkpoint-witnessed"] == "true"
    return checkpoint, set(cosigners(note, world.witness_verifiers)), witnessed


def witness_status(srv: LiveServer) -> dict[str, dict[str, Any]]:
    with srv.client() as client:
        r = client.get("/api/v1/log/witnesses")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["quorum"] == 2
    return {w["name"]: w for w in body["witnesses"]}


def log_size(srv: LiveServer) -> int:
    with srv.client() as client:
        return int(client.get("/api/v1/log/sth").json()["tree_size"])


def wait_witnessed(world: World, srv: LiveServer, size: int, seconds: float = 10.0
                   ) -> Checkpoint:
    """Wait until the served checkpoint is of `size` with both cosignatures."""
    def probe() -> Checkpoint | None:
        checkpoint, signed, witnessed = served_checkpoint(world, srv)
        ok = checkpoint.size == size and witnessed and signed == set(WITNESS_NAMES)
        return checkpoint if ok else None
    return wait_for(f"a checkpoint of size {size} cosigned by both witnesses", probe, seconds)


# ------------------------------------------------------------------ 1. cosigned

def test_checkpoint_is_cosigned_by_both_witnesses_and_the_bundle_verifies(
        world: World, main_srv: LiveServer) -> None:
    srv = main_srv
    with srv.client() as client:
        key = client.get("/api/v1/log/key")
        assert key.status_code == 200 and key.text.splitlines()[0] == world.vkey
    ids = evaluate(srv, 4)
    size = log_size(srv)
    assert size == 4
    began = time.monotonic()
    checkpoint = wait_witnessed(world, srv, size, seconds=5)
    took = time.monotonic() - began
    status = witness_status(srv)
    assert set(status) == set(WITNESS_NAMES)
    for w in world.witnesses:
        assert status[w.name]["size"] == size and status[w.name]["last_error"] is None
        assert status[w.name]["key"] == w.vkey
        seen = w.latest()  # the witness's own record agrees
        assert seen is not None and (seen.size, seen.root) == (size, checkpoint.root)
    print(f"\ncosigned by both within {took:.2f} s")

    # the proof bundle, fetched with the CLI, verifies offline with quorum 2
    tmp = world.tmp / "verify"
    tmp.mkdir()
    eid = ids[2]
    bundle = tmp / "bundle.tlog-proof"
    done = subprocess.run([CLI, "log", "bundle", eid, "--url", srv.url, "--api-key",
                           srv.keys[("t1", "admin")], "--out", str(bundle)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert bundle.read_text().startswith("c2sp.org/tlog-proof@v1\nindex 2\n")
    with srv.client() as client:
        (tmp / "record.json").write_text(json.dumps(client.get(f"/api/v1/evaluations/{eid}"
                                                               ).json()))
        (tmp / "keys.json").write_text(json.dumps(client.get("/api/v1/keys").json()))
    args = [CLI, "verify", str(tmp / "record.json"), "--key", str(tmp / "keys.json"),
            "--bundle", str(bundle), "--log-key", world.vkey]
    for w in world.witnesses:
        args += ["--witness-key", w.vkey]
    done = subprocess.run([*args, "--quorum", "2"], capture_output=True, text=True,
                          timeout=60)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "2 of 2 known witnesses cosigned" in out and "VALID" in out, out
    # a witness key the checkpoint lacks cannot make up the quorum
    other = CosignatureSigner(WITNESS_NAMES[0], Ed25519PrivateKey.generate()).vkey
    bad = subprocess.run([CLI, "verify", str(tmp / "record.json"), "--key",
                          str(tmp / "keys.json"), "--bundle", str(bundle), "--log-key",
                          world.vkey, "--witness-key", other, "--witness-key",
                          world.witnesses[1].vkey, "--quorum", "2"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "FAIL cosignatures" in bad.stdout + bad.stderr


# ------------------------------------------------------------------ 2. a witness down

def test_a_dead_witness_delays_cosigning_but_never_evaluations(
        world: World, main_srv: LiveServer) -> None:
    srv = main_srv
    before = log_size(srv)
    wait_witnessed(world, srv, before)
    dead = world.witnesses[1]
    alive = world.witnesses[0]
    dead.kill()
    try:
        began = time.monotonic()
        evaluate(srv, 5, start=100, budget=2.0)
        print(f"\n5 evaluations with a witness down: {time.monotonic() - began:.2f} s")
        after = before + 5
        assert log_size(srv) == after

        def dead_noticed() -> dict[str, dict[str, Any]] | None:
            s = witness_status(srv)
            ok = (s[alive.name]["size"] == after and s[dead.name]["last_error"]
                  and s[dead.name]["size"] == before)
            return s if ok else None
        status = wait_for("the dead witness's error and the live one's cosignature",
                          dead_noticed, 5)
        assert "ConnectError" in status[dead.name]["last_error"], status
        assert status[alive.name]["last_error"] is None
        # the served checkpoint is still the one both cosigned, for several rounds
        for _ in range(3):
            checkpoint, signed, witnessed = served_checkpoint(world, srv)
            assert (checkpoint.size, witnessed, signed) == (before, True, set(WITNESS_NAMES))
            time.sleep(0.3)
        # the evaluation path stays fast while cosigning keeps failing
        evaluate(srv, 2, start=200, budget=2.0)
        after += 2
    finally:
        dead.start()  # same key, same state file, same port
    began = time.monotonic()
    wait_witnessed(world, srv, after, seconds=10)
    print(f"caught up to {after} {time.monotonic() - began:.2f} s after the restart")
    status = witness_status(srv)
    assert all(status[w.name]["size"] == after and status[w.name]["last_error"] is None
               for w in world.witnesses), status
    seen = dead.latest()
    assert seen is not None and seen.size == after


# ------------------------------------------------------------------ 3. a fork

def test_a_forked_log_is_refused_and_the_monitor_sees_the_split_view(
        world: World, main_srv: LiveServer) -> None:
    first = main_srv
    size = log_size(first)
    first_cp = wait_witnessed(world, first, size)
    fork = world.servers["fork"]  # the same key, origin and witnesses, another database
    assert log_size(fork) == 0
    evaluate(fork, size + 3, start=5000)  # other leaves, a larger tree
    fork_size = size + 3
    assert log_size(fork) == fork_size

    def refused() -> dict[str, dict[str, Any]] | None:
        s = witness_status(fork)
        errors = [s[n]["last_error"] or "" for n in WITNESS_NAMES]
        return s if all("HTTP 409" in e or "HTTP 422" in e for e in errors) else None
    status = wait_for("both witnesses to refuse the fork", refused, 10)
    print("\nfork refused: " + "; ".join(f"{n}: {status[n]['last_error'][:120]}"
                                         for n in WITNESS_NAMES))
    for _ in range(3):  # never witnessed, round after round
        checkpoint, signed, witnessed = served_checkpoint(world, fork)
        assert checkpoint.size == fork_size and not witnessed and not signed
        time.sleep(0.3)
    # the witnesses still hold the first log's checkpoint
    for w in world.witnesses:
        seen = w.latest()
        assert seen is not None and (seen.size, seen.root) == (size, first_cp.root)
    # nor did the fork disturb the first log's witnessing
    assert served_checkpoint(world, first)[0].size == size

    state = world.tmp / "monitor.json"

    def monitor(srv: LiveServer) -> subprocess.CompletedProcess[str]:
        return subprocess.run([CLI, "log", "monitor", "--url", srv.url + "/api/v1/log",
                               "--state", str(state), "--log-key", world.vkey,
                               "--api-key", srv.keys[("t1", "admin")]],
                              capture_output=True, text=True, timeout=60)
    ok = monitor(first)
    assert ok.returncode == 0 and f"size {size}" in ok.stdout, ok.stdout + ok.stderr
    split = monitor(fork)
    out = split.stdout + split.stderr
    assert split.returncode == 1 and "SPLIT VIEW" in out, out
    assert f"{ORIGIN}\n{size}\n" in out and f"{ORIGIN}\n{fork_size}\n" in out, out
    # the state still holds the first log's checkpoint: the first log is still fine
    again = monitor(first)
    assert again.returncode == 0, again.stdout + again.stderr


# ------------------------------------------------------------------ 4. Go's verifier

def test_go_tlogcheck_verifies_the_live_tiles_and_an_exported_copy(
        world: World, main_srv: LiveServer) -> None:
    tlogcheck_or_skip()
    srv = main_srv
    ids = evaluate(srv, 3, start=300)
    size = log_size(srv)
    wait_witnessed(world, srv, size)
    admin = srv.keys[("t1", "admin")]
    with srv.client() as client:
        record = client.get(f"/api/v1/evaluations/{ids[1]}").json()
        inclusion = client.get("/api/v1/log/inclusion",
                               params={"evaluation_id": ids[1]}).json()
        served = client.get("/api/v1/log/checkpoint").text
    index = int(inclusion["leaf_index"])
    entry = entry_of(record)
    result = run_tlogcheck(srv.url + "/api/v1/log", world.vkey, index=index, entry=entry,
                           header=f"X-API-Key: {admin}")
    assert result["returncode"] == 0, result
    # a wrong entry fails the inclusion
    bad = run_tlogcheck(srv.url + "/api/v1/log", world.vkey, index=index,
                        entry=entry + b" ", header=f"X-API-Key: {admin}")
    assert bad["returncode"] == 1, bad

    # export-tiles: the operator command runs on the server's store, its config and key
    assert "--config" in srv.store_args
    mirror = world.tmp / "mirror"
    done = srv.cli("log", "export-tiles", str(mirror))
    assert f"tree size {size}" in done.stdout, done.stdout
    assert (mirror / "checkpoint").read_text() == served  # the cosigned one, origin and all
    result = run_tlogcheck(mirror, world.vkey, index=index, entry=entry)
    assert result["returncode"] == 0, result
