"""C2SP transparency-log benchmark: `python bench/tlog.py [--leaves N] [--database-url URL | --postgres]`.

Measures the log as a C2SP tlog, end to end:

1. append throughput: ~1 KB entries (shaped like a trust proof's canonical JSON) appended
   with `store.log.append_in` in transactions of --batch leaves (entry generation is not
   timed; the store's leaf hashing, subtree hashing and inserts are);
2. checkpoint latency: a small append, then `transparency.sth()` (signed head and its
   checkpoint note), p50/p99 over --rounds rounds;
3. cosigning latency: two real `arka-cli witness serve` processes, quorum 2; a small
   append, then `Witnessing.run_once()` until both cosigned, p50/p99 over --cosign-rounds;
   then one witness killed (connection refused) and one stopped with SIGSTOP (accepts the
   connection, never answers: the round waits --witness-timeout);
4. tile reads through a real `arka-cli serve` (admin API key): random full level-0 tiles
   and entry bundles (tiles/s, MB/s), and `TileReader` computing the root plus --proofs
   inclusion proofs from HTTP tiles, each verified against the signed checkpoint.

SQLite in a temp directory by default; --database-url names an empty PostgreSQL database;
--postgres creates a scratch database on postgresql://postgres@127.0.0.1:5432/test (the
admin connection, --pg-admin) and drops it afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import httpx  # noqa: E402

from arka.app.core import Core  # noqa: E402
from arka.settings import Settings  # noqa: E402
from arka.settings.transparency import TransparencySettings, WitnessConfig  # noqa: E402
from arka.storage import Store  # noqa: E402
from arka.trust import merkle  # noqa: E402
from arka.trust.note import Verifier, open_checkpoint  # noqa: E402
from arka.trust.tiles import WIDTH, Tile, TileReader, decode_entries  # noqa: E402

CLI = str(Path(sys.executable).parent / "arka-cli")
ORIGIN = "bench.arka.example/log"
APPEND_TARGET = 50_000  # leaves/s
# shaped like a v2 trust proof's canonical JSON (no spaces), ~1.1 KB
PROOF_TEMPLATE = ('{"algorithm":"Ed25519","context_hash":"sha256:%s","engine_version":"2.4.0",'
                  '"evaluation_id":"eval_%s","input_hash":"sha256:%s","key_id":"k-2024-01",'
                  '"metadata_hash":"sha256:%s","output_hash":"sha256:%s","proof_id":"proof_%s",'
                  '"proof_version":2,"rule_id":"rule_ctr-threshold-flag","rule_results_hash":'
                  '"sha256:%s","rule_version":"1.0.0","rules_hash":"sha256:%s","signature":"%s",'
                  '"tenant":"default","timestamp":"2024-01-15T14:00:%02d.%06dZ","trace_hash":'
                  '"sha256:%s","jurisdiction":"US","full_trace_hash":"sha256:%s"}')
CHILDREN: list[subprocess.Popen[bytes]] = []


# ------------------------------------------------------------------ helpers

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(len(s) * q))]


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


def entries(start: int, n: int) -> list[tuple[str, bytes]]:
    """(evaluation id, ~1 KB canonical-JSON entry) like a v2 trust proof's."""
    out = []
    for i in range(start, start + n):
        ev = f"{i:032x}"
        h = [hashlib.sha256(b"%d:%d" % (i, k)).hexdigest() for k in range(8)]
        sig = (h[7] + h[6])[:86]
        doc = PROOF_TEMPLATE % (h[0], ev, h[1], h[2], h[3], ev, h[4], h[5], sig, i % 60,
                                i % 1_000_000, h[6], h[7])
        out.append((f"eval_{ev}", doc.encode()))
    return out


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None
          ) -> subprocess.Popen[bytes]:
    # own session: a terminal Ctrl-C reaches only this process, which stops the children
    with open(log, "ab") as f:
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    CHILDREN.append(proc)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGCONT)  # a SIGSTOPped child cannot act on SIGTERM
        proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{url}: the process exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1, trust_env=False).status_code == 200:
                return
        time.sleep(0.1)
    sys.exit(f"{url} did not answer in {seconds:.0f} s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def scratch_postgres(admin: str) -> Iterator[str]:
    import psycopg
    name = "arka_bench_" + uuid.uuid4().hex[:12]
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_core(url: str, tmp: Path, transparency: TransparencySettings) -> Core:
    store = Store(url)
    settings = dataclasses.replace(Settings(url, tmp / "keys"), transparency=transparency)
    return Core(settings, store)


def close_core(core: Core) -> None:
    core.close()
    core.store.engine.dispose()


def append(core: Core, n: int) -> None:
    items = entries(core.store.log.size(), n)
    with core.store.write() as conn:
        core.store.log.append_in(conn, items)


# ------------------------------------------------------------------ the rows

Row = tuple[str, str, str]


def bench_append(core: Core, leaves: int, batch: int) -> list[Row]:
    store = core.store
    done = store.log.size()
    timed = 0.0
    batches: list[float] = []
    n_total = 0
    while n_total < leaves:
        n = min(batch, leaves - n_total)
        items = entries(done, n)  # not timed: the evaluation's work, not the log's
        t = time.perf_counter()
        with store.write() as conn:
            store.log.append_in(conn, items)
        dt = time.perf_counter() - t
        batches.append(dt)
        timed += dt
        done += n
        n_total += n
    rate = n_total / max(timed, 1e-9)
    ok = "ok" if rate >= APPEND_TARGET else "BELOW TARGET"
    size = sum(len(e) for _, e in entries(0, 100)) / 100
    return [(f"append, batches of {batch:,} (~{size:.0f} B entries)",
             f"{rate:,.0f} leaves/s",
             f"target >= {APPEND_TARGET:,} [{ok}]; {n_total:,} leaves in {timed:.1f} s; "
             f"batch p50 {ms(pct(batches, .5))}, max {ms(max(batches))}")]


def bench_checkpoint(core: Core, rounds: int, small: int) -> list[Row]:
    total, alone = [], []
    for _ in range(rounds):
        items = entries(core.store.log.size(), small)
        t0 = time.perf_counter()
        with core.store.write() as conn:
            core.store.log.append_in(conn, items)
        t1 = time.perf_counter()
        head = core.transparency.sth()
        t2 = time.perf_counter()
        assert core.store.log.checkpoint(ORIGIN, head["tree_size"]) is not None
        total.append(t2 - t0)
        alone.append(t2 - t1)
    return [(f"append {small} leaves -> sth() + checkpoint",
             f"p50 {ms(pct(total, .5))}", f"p99 {ms(pct(total, .99))} ({rounds} rounds)"),
            ("  of which sth() (sign head + note, store)",
             f"p50 {ms(pct(alone, .5))}", f"p99 {ms(pct(alone, .99))}")]


def start_witness(tmp: Path, n: int, log_vkey: str) -> tuple[subprocess.Popen[bytes], str, str]:
    name = f"witness{n}.bench.example/w"
    key = tmp / f"witness{n}.pem"
    vkey = subprocess.run([CLI, "witness", "keygen", "--name", name, "--out", str(key)],
                          check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    port = free_port()
    log = tmp / f"witness{n}.log"
    proc = spawn([CLI, "witness", "serve", "--key", str(key), "--name", name,
                  "--log", log_vkey, "--state", str(tmp / f"witness{n}.db"),
                  "--port", str(port)], log)
    url = f"http://127.0.0.1:{port}"
    return proc, url, vkey


def bench_cosign(url: str, tmp: Path, rounds: int, small: int, timeout: float,
                 log_vkey: str) -> list[Row]:
    ws = [start_witness(tmp, n, log_vkey) for n in (1, 2)]
    for proc, wurl, _ in ws:
        wait_http(wurl + "/healthz", proc, tmp / "witness.log")
    logging.getLogger("arka.witnessing").setLevel(logging.ERROR)  # down/hung rows: expected
    settings = TransparencySettings(ORIGIN, tuple(WitnessConfig(u, v) for _, u, v in ws),
                                    quorum=2, witness_timeout=timeout)
    core = make_core(url, tmp, settings)
    try:
        w = core.witnessing
        assert w is not None
        first = w.run_once()  # the witnesses' first checkpoint of this log (no proof)
        assert set(first.values()) == {"cosigned"}, first
        samples = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            append(core, small)
            out = w.run_once()
            samples.append(time.perf_counter() - t0)
            assert set(out.values()) == {"cosigned"}, out
        size = core.store.log.size()
        assert core.transparency.witnessed_size() == size
        rows: list[Row] = [
            ("append -> run_once(), 2 witnesses cosigned",
             f"p50 {ms(pct(samples, .5))}",
             f"p99 {ms(pct(samples, .99))} ({rounds} rounds, quorum 2, real witness "
             "processes)")]
        # one witness down: connection refused
        stop(ws[1][0])
        down = []
        for _ in range(10):
            t0 = time.perf_counter()
            append(core, small)
            out = w.run_once()
            down.append(time.perf_counter() - t0)
            assert sorted(out.values()) == ["cosigned", "unreachable"], out
        rows.append(("  one witness down (connection refused)",
                     f"p50 {ms(pct(down, .5))}",
                     f"max {ms(max(down))} (10 rounds; quorum 2 not met, as expected)"))
        # one witness hung: connects, never answers -> the round waits witness_timeout
        os.kill(ws[0][0].pid, signal.SIGSTOP)
        try:
            t0 = time.perf_counter()
            append(core, small)
            out = w.run_once()
            hung = time.perf_counter() - t0
        finally:
            os.kill(ws[0][0].pid, signal.SIGCONT)
        rows.append(("  one witness hung (SIGSTOP), other down",
                     ms(hung), f"witness_timeout {timeout:g} s; outcomes "
                     + ", ".join(sorted(out.values()))))
        return rows
    finally:
        close_core(core)
        for proc, _, _ in ws:
            stop(proc)


def bench_tiles(url: str, tmp: Path, seconds: float, proofs: int, log_vkey: str,
                workers: int) -> list[Row]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARKA_")}
    store_args = ["--data-dir", str(tmp), "--database-url", url]
    config = tmp / "serve.yaml"
    config.write_text(f"storage: {{data_dir: '{tmp}'}}\n"
                      f"transparency: {{origin: {ORIGIN}}}\n"
                      "api: {rate_limiting: {requests_per_minute: 100000000, "
                      "burst: 1000000}}\n")
    key = subprocess.run([CLI, "apikey", "create", "--name", "bench", "--role", "admin",
                          "--key-only", *store_args], env=env, check=True, capture_output=True,
                         text=True, timeout=120).stdout.strip()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp / "serve.log"
    proc = spawn([CLI, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers",
                  str(workers), "--config", str(config), *store_args], log, env)
    try:
        # not /health/ready: its integrity sample fails (these leaves have no evaluations)
        wait_http(base + "/health/startup", proc, log)
        client = httpx.Client(base_url=base + "/api/v1/log/", timeout=30, trust_env=False,
                              headers={"X-API-Key": key, "Accept-Encoding": "identity"})
        checkpoint, _ = open_checkpoint(client.get("checkpoint").text,
                                        [Verifier.parse(log_vkey)], ORIGIN)
        size = checkpoint.size
        full = size // WIDTH
        rng = random.Random(9162)
        rows: list[Row] = []
        for kind, level in (("level-0 tiles", 0), ("entry bundles", None)):
            n = nbytes = 0
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                tile = Tile(level, rng.randrange(full if level == 0 else RECORDS // WIDTH),
                            WIDTH)
                r = client.get(tile.path())
                assert r.status_code == 200, (tile.path(), r.status_code, r.text[:200])
                if level is None and n == 0:
                    assert len(decode_entries(r.content, WIDTH)) == WIDTH
                n += 1
                nbytes += len(r.content)
            dt = time.perf_counter() - t0
            rows.append((f"GET random full {kind} (HTTP, 1 client)", f"{n / dt:,.0f} tiles/s",
                         f"{nbytes / dt / 1e6:,.1f} MB/s ({n} in {dt:.1f} s, "
                         f"{nbytes / n / 1024:.0f} KiB each, identity encoding)"))
        fetched = [0]

        def fetch(path: str) -> bytes:
            fetched[0] += 1
            r = client.get(path)
            if r.status_code == 404:
                raise LookupError(path)
            r.raise_for_status()
            return r.content

        t0 = time.perf_counter()
        reader = TileReader(fetch, size)
        assert reader.root() == checkpoint.root
        t1 = time.perf_counter()
        for _ in range(proofs):
            i = rng.randrange(size)
            path = reader.inclusion(i)
            assert merkle.verify_inclusion(i, size, reader.node((0, i)), path, checkpoint.root)
        t2 = time.perf_counter()
        rows.append(("TileReader: root from HTTP tiles", ms(t1 - t0),
                     f"tree size {size:,}, checked against the signed checkpoint"))
        rows.append((f"TileReader: + {proofs:,} inclusion proofs", ms(t2 - t1),
                     f"{proofs / (t2 - t1):,.0f} proofs/s, each verified; {fetched[0]} tiles "
                     "fetched in all (cached per reader)"))
        client.close()
        return rows
    finally:
        stop(proc)


# ------------------------------------------------------------------ main

RECORDS = 10 * WIDTH  # the first leaves are real evaluation records: entry bundles read them
RULE = """
rule:
  metadata: {name: bench-cash, version: 1.0.0, jurisdiction: US}
  inputs:
    - {name: transaction, type: object}
  conditions:
    - {id: big, expression: transaction.amount >= 10000}
  actions:
    - {trigger: big, type: flag, config: {severity: high, category: CTR, message: cash}}
"""


def seed_records(core: Core, n: int) -> None:
    """n stored evaluations (copies of one real record with their own ids), so that the
    entry bundles of the first n leaves have the records they are read from."""
    import uuid

    from arka.app.requests import EvaluateRequest, parse
    from arka.app.transparency import entry_of
    core.registry.deploy_rule("default", RULE, "yaml")
    template, _ = core.evaluations.evaluate("default", parse(EvaluateRequest, {
        "context": {"jurisdiction": "US"}, "input": {"transaction": {"amount": 12000}}}))
    records = []
    for _ in range(n - 1):
        eid = "eval_" + uuid.uuid4().hex
        proof = dict(template["trust_proof"], evaluation_id=eid, proof_id="proof_" + eid[5:])
        records.append(dict(template, evaluation_id=eid, trust_proof=proof))
    for i in range(0, len(records), 500):
        part = records[i:i + 500]
        core.store.evaluations.put_many(["default"] * len(part), part,
                                        [entry_of(r) for r in part])


def run(args: argparse.Namespace, url: str, tmp: Path) -> None:
    store = Store(url)
    store.migrate()
    store.engine.dispose()
    core = make_core(url, tmp, TransparencySettings(ORIGIN))
    log_vkey = core.transparency.log_keys()[0]
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(f"ARKA C2SP transparency log - {backend}, {os.cpu_count()} CPUs, origin {ORIGIN}",
          flush=True)
    rows: list[Row] = []
    try:
        seed_records(core, RECORDS)
        rows += bench_append(core, args.leaves, args.batch)
        print(f"  ... appended {core.store.log.size():,} leaves", file=sys.stderr, flush=True)
        rows += bench_checkpoint(core, args.rounds, args.small)
        print("  ... checkpoints done", file=sys.stderr, flush=True)
    finally:
        close_core(core)
    rows += bench_cosign(url, tmp, args.cosign_rounds, args.small, args.witness_timeout,
                         log_vkey)
    print("  ... cosigning done", file=sys.stderr, flush=True)
    rows += bench_tiles(url, tmp, args.seconds, args.proofs, log_vkey, args.workers)
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print(f"{'row':<{w0}}  {'result':>{w1}}  notes")
    for name, value, note in rows:
        print(f"{name:<{w0}}  {value:>{w1}}  {note}")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--leaves", type=int, default=200_000, help="leaves to append (row 1)")
    ap.add_argument("--batch", type=int, default=10_000, help="leaves per transaction")
    ap.add_argument("--rounds", type=int, default=200, help="checkpoint rounds")
    ap.add_argument("--small", type=int, default=10, help="leaves per small append")
    ap.add_argument("--cosign-rounds", type=int, default=100)
    ap.add_argument("--witness-timeout", type=float, default=2.0)
    ap.add_argument("--seconds", type=float, default=3.0, help="seconds per tile-read row")
    ap.add_argument("--proofs", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers of arka-cli serve")
    ap.add_argument("--database-url", help="an empty PostgreSQL (or SQLite) database")
    ap.add_argument("--postgres", action="store_true",
                    help="create (and drop) a scratch database via --pg-admin")
    ap.add_argument("--pg-admin", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--keep", action="store_true", help="keep the temp directory")
    args = ap.parse_args()
    signal.signal(signal.SIGTERM, _interrupt)
    tmp = Path(tempfile.mkdtemp(prefix="arka-tlog-"))
    try:
        with contextlib.ExitStack() as stack:
            if args.postgres:
                url = stack.enter_context(scratch_postgres(args.pg_admin))
            else:
                url = args.database_url or f"sqlite:///{tmp / 'pact.db'}"
            try:
                run(args, url, tmp)
            finally:
                for proc in CHILDREN:
                    stop(proc)
    except KeyboardInterrupt:
        print("\ninterrupted; child processes stopped", file=sys.stderr)
        sys.exit(130)
    finally:
        if args.keep:
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
