"""Transparency-log benchmark: `python bench/log_bench.py [--leaves N] [--database-url URL]`.

Appends N leaves in batches (as the service does, inside transactions, writing every
completed subtree hash), then times: a signed tree head over the new leaves, and inclusion
proofs for random leaves (fetching the needed hashes with one query and building the path),
each proof checked. SQLite in a temp directory unless --database-url names an empty,
migrated PostgreSQL database.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from arka.app.core import Core  # noqa: E402
from arka.settings import Settings  # noqa: E402
from arka.storage import Store  # noqa: E402
from arka.trust import merkle  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--leaves", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--proofs", type=int, default=2000)
    ap.add_argument("--database-url")
    ap.add_argument("--data-dir", help="reuse this directory's log (appends only up to --leaves)")
    args = ap.parse_args()
    tmp = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="arka-log-"))
    tmp.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{tmp / 'log.db'}"
    store = Store(url)
    store.migrate()
    core = Core(Settings(url, tmp / "keys"), store)
    start = store.log.size()
    t0 = time.perf_counter()
    done = min(start, args.leaves)
    appended = args.leaves - done
    while done < args.leaves:
        n = min(args.batch, args.leaves - done)
        items = [(f"e{done + k}", hashlib.sha256(b"\0" + (done + k).to_bytes(8, "big")).digest())
                 for k in range(n)]
        with store.write() as conn:  # the same transaction path put_many uses
            store.log.append_in(conn, items)
        done += n
    append_s = max(time.perf_counter() - t0, 1e-9)
    t1 = time.perf_counter()
    head = core.transparency.sth()
    sth_s = time.perf_counter() - t1
    size = head["tree_size"]
    root = bytes.fromhex(head["root_hash"])
    rng = random.Random(9162)
    samples = []
    for _ in range(args.proofs):
        i = rng.randrange(size)
        t = time.perf_counter_ns()
        proof = core.transparency.inclusion(f"e{i}", None)
        samples.append(time.perf_counter_ns() - t)
        leaf = bytes.fromhex(proof["leaf_hash"])
        path = [bytes.fromhex(p) for p in proof["audit_path"]]
        assert merkle.verify_inclusion(i, size, leaf, path, root)
    samples.sort()
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"ARKA transparency log - {backend}, tree size {size:,}")
    if appended:
        print(f"append:          {appended / append_s:>12,.0f} leaves/s "
              f"({appended:,} in batches of {args.batch:,}, {append_s:.1f} s)")
    print(f"new signed head: {sth_s * 1000:>12.1f} ms after the last append")
    print(f"inclusion proof: p50 {samples[len(samples) // 2] / 1e6:.3f} ms, "
          f"p99 {samples[int(len(samples) * 0.99)] / 1e6:.3f} ms, "
          f"mean {statistics.fmean(samples) / 1e6:.3f} ms ({args.proofs} random leaves, "
          f"each verified)")


if __name__ == "__main__":
    main()
