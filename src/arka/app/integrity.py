"""Storage integrity: proof that evaluations, log leaves, subtree hashes and signed tree
heads agree (`arka-cli db check`, readiness, backup).

The full check streams the log in index order, `batch` leaves at a time, so memory stays
bounded on any number of rows (the Merkle frontier is O(log n)):

- leaf indices run 0, 1, 2, ... without a gap;
- every leaf has its evaluation, whose record opens (sealed where the store seals), whose
  `log_index` is the leaf's index, whose proof's RFC 9162 leaf hash is the leaf hash, whose
  proof verifies (hashes and signature), and whose filter columns match the record;
- every evaluation has a leaf;
- every stored subtree hash equals the one recomputed from the leaves;
- every signed tree head's signature verifies and its root equals the Merkle tree hash
  recomputed over the first `tree_size` leaves; heads that all match the same leaves are
  consistent with each other.

The readiness sample checks only the newest `sample` leaves, the latest head (signature,
root from the stored subtree hashes) and the row counts, at most once per `interval`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from arka.app.transparency import leaf_of
from arka.base.errors import ArkaError
from arka.security.sealing import INTEGRITY_ERRORS
from arka.storage.ports import EvaluationStore, LogStore
from arka.storage.records import StoredEvaluation
from arka.trust import merkle
from arka.trust.proofs import verify_record, verify_tree_head

EMPTY_ROOT = merkle.reference_root([])
MAX_LISTED = 1000


@dataclass(frozen=True)
class Problem:
    kind: str  # a stable name: log_gap, evaluation_missing, leaf_mismatch, ...
    where: str  # table/key: log_leaves/17, evaluations/ev_..., log_heads/42
    message: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "where": self.where, "message": self.message}


@dataclass
class Report:
    counts: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    seconds: float = 0.0
    limit: int = MAX_LISTED

    @property
    def ok(self) -> bool:
        return self.problem_count == 0

    def add(self, kind: str, where: str, message: str) -> None:
        self.problem_count += 1
        if len(self.problems) < self.limit:
            self.problems.append(Problem(kind, where, message))

    def to_json(self) -> dict[str, Any]:
        rows = self.counts.get("evaluations", 0) + self.counts.get("log_leaves", 0)
        return {"ok": self.ok, "counts": self.counts, "problem_count": self.problem_count,
                "problems": [p.to_json() for p in self.problems],
                "problems_listed": len(self.problems), "seconds": round(self.seconds, 3),
                "rows_per_second": round(rows / self.seconds) if self.seconds > 0 else None}

    def summary(self) -> str:
        c = self.counts
        head = (f"{c.get('evaluations', 0)} evaluations, {c.get('log_leaves', 0)} log leaves, "
                f"{c.get('log_heads', 0)} signed tree heads checked in {self.seconds:.1f} s")
        if self.ok:
            return f"{head}: consistent"
        more = self.problem_count - len(self.problems)
        return (f"{head}: {self.problem_count} problem(s)"
                + (f" ({more} more not listed)" if more > 0 else ""))


class _Frontier:
    """The rightmost complete subtree of each level: enough to extend the tree by one leaf
    and to compute the root of the tree so far (RFC 9162 MTH)."""

    def __init__(self) -> None:
        self.by_level: dict[int, tuple[int, bytes]] = {}

    def append(self, index: int, leaf: bytes) -> list[tuple[merkle.NodeKey, bytes]]:
        def left(key: merkle.NodeKey) -> bytes:
            at, h = self.by_level[key[0]]
            assert at == key[1]
            return h
        done = merkle.nodes_completed_by_append(index, leaf, left)
        for (level, i), h in done:
            self.by_level[level] = (i, h)
        return done

    def root(self, size: int) -> bytes:
        if size == 0:
            return EMPTY_ROOT
        keys = merkle.decompose(0, size)
        return merkle.range_hash(0, size, {k: self.by_level[k[0]][1] for k in keys})


class Integrity:
    def __init__(self, evaluations: EvaluationStore, log: LogStore,
                 public_keys: Callable[[], dict[str, Any]], *, sample: int = 64,
                 interval: float = 60.0):
        """`public_keys`: the proof signing keys by key id (current and retired)."""
        self.evaluations = evaluations
        self.log = log
        self.public_keys = public_keys
        self.sample_size = sample
        self.interval = interval
        self._sampled: tuple[float, Report | None] = (-1e18, None)
        self._lock = threading.Lock()

    # ------------------------------------------------------------ the full check
    def check(self, batch: int = 1000, limit: int = MAX_LISTED,
              progress: Callable[[int], None] | None = None) -> Report:
        started = time.monotonic()
        report = Report(limit=limit)
        public = self.public_keys()
        heads = iter(self.log.heads())
        head = next(heads, None)
        frontier = _Frontier()
        expected = 0  # the next leaf index
        broken_at: int | None = None  # where a gap stops the Merkle recomputation
        n_heads = 0

        def heads_up_to(size: int) -> None:
            nonlocal head, n_heads
            while head is not None and int(head["tree_size"]) <= size:
                n_heads += 1
                self._head(report, head, size, frontier, broken_at, public)
                head = next(heads, None)

        heads_up_to(0)
        for leaves in self.log.leaves(batch):
            stored = self.evaluations.by_ids([e for _, e, _ in leaves])
            completed: list[tuple[merkle.NodeKey, bytes]] = []
            for idx, evaluation_id, leaf in leaves:
                if idx != expected:
                    report.add("log_gap", f"log_leaves/{expected}",
                               f"leaf indices jump from {expected - 1} to {idx}: leaves "
                               f"{expected}..{idx - 1} are missing")
                    if broken_at is None:
                        broken_at = expected
                expected = idx + 1
                if broken_at is None:
                    completed += frontier.append(idx, leaf)
                    heads_up_to(idx + 1)
                self._leaf(report, idx, evaluation_id, leaf, stored.get(evaluation_id),
                           public)
            self._nodes(report, completed)
            report.counts["log_leaves"] = report.counts.get("log_leaves", 0) + len(leaves)
            if progress is not None:
                progress(report.counts["log_leaves"])
        size = expected
        while head is not None:  # heads beyond the stored leaves (or past a gap)
            n_heads += 1
            self._head(report, head, size, frontier, broken_at, public)
            head = next(heads, None)
        report.counts["log_heads"] = n_heads
        report.counts["evaluations"] = self._unlogged(report, batch)
        report.counts.setdefault("log_leaves", 0)
        report.seconds = time.monotonic() - started
        if not report.ok:
            INTEGRITY_ERRORS.labels("db_check").inc(report.problem_count)
        return report

    def _leaf(self, report: Report, idx: int, evaluation_id: str, leaf: bytes,
              row: StoredEvaluation | None, public: dict[str, Any]) -> None:
        where = f"evaluations/{evaluation_id}"
        if row is None:
            report.add("evaluation_missing", f"log_leaves/{idx}",
                       f"leaf {idx} names evaluation {evaluation_id}, which is not stored")
            return
        if row.record is None:
            report.add("record_unreadable", where, row.fault or "the record does not open")
            return
        record = row.record
        try:
            if leaf_of(record) != leaf:
                report.add("leaf_mismatch", f"log_leaves/{idx}",
                           f"leaf {idx} is not the leaf hash of evaluation {evaluation_id}'s "
                           "proof (the leaf or the record was altered)")
        except (ArkaError, KeyError, TypeError) as exc:
            report.add("record_unreadable", where, f"the record has no usable proof: {exc}")
            return
        if record.get("log_index") != idx:
            report.add("index_mismatch", where,
                       f"the record says log_index {record.get('log_index')}, its leaf is "
                       f"at index {idx}")
        try:
            implied = self.evaluations.indexed_fields(record)
        except (KeyError, TypeError):
            implied = {}
        actual = {"timestamp": row.timestamp, "decision": row.decision,
                  "rule_ids": row.rule_ids, "flags": row.flags, "output_hash": row.output_hash}
        if row.flags is None:  # stored before the search columns existed
            implied.pop("flags", None)
        try:
            entities_ok = self.evaluations.entities_match(row.tenant, record, row.entities)
        except (KeyError, TypeError, AttributeError):
            entities_ok = False
        if not entities_ok:
            implied["entities"], actual["entities"] = "its entity ids' tokens", "other tokens"
        proof = record.get("trust_proof")
        if isinstance(proof, dict) and "tenant" in proof:
            implied["tenant"], actual["tenant"] = proof["tenant"], row.tenant
        changed = sorted(k for k, v in implied.items() if actual.get(k) != v)
        if changed:
            report.add("column_mismatch", where,
                       "the row's " + ", ".join(f"{k} ({actual[k]!r}, the record says "
                                                f"{implied[k]!r})" for k in changed)
                       + " do not match the record (altered in the database)")
        verification = verify_record(record, public)
        if not verification.valid:
            failed = verification.to_json().get("failed", [])
            report.add("proof_invalid", where,
                       f"the proof does not verify (failed: {', '.join(map(str, failed))})")

    def _nodes(self, report: Report, completed: list[tuple[merkle.NodeKey, bytes]]) -> None:
        stored = self.log.stored_nodes([k for k, _ in completed])
        for key, h in completed:
            have = stored.get(key)
            if have is None:
                report.add("node_missing", f"log_nodes/{key[0]}:{key[1]}",
                           f"the subtree hash of level {key[0]} index {key[1]} is missing")
            elif have != h:
                report.add("node_mismatch", f"log_nodes/{key[0]}:{key[1]}",
                           f"the stored subtree hash of level {key[0]} index {key[1]} differs "
                           "from the one recomputed from the leaves")

    def _head(self, report: Report, head: dict[str, Any], seen: int, frontier: _Frontier,
              broken_at: int | None, public: dict[str, Any]) -> None:
        size = int(head["tree_size"])
        where = f"log_heads/{size}"
        signature = verify_tree_head(head, public)
        if not signature.ok:
            report.add("head_signature", where, f"tree head of size {size}: {signature.detail}")
        if broken_at is not None and size > broken_at:
            report.add("head_unverifiable", where,
                       f"tree head of size {size} cannot match: leaf {broken_at} is missing")
        elif size > seen:
            report.add("head_beyond_log", where,
                       f"tree head of size {size} is larger than the log ({seen} leaves)")
        elif frontier.root(size).hex() != head["root_hash"]:
            report.add("head_root", where,
                       f"tree head of size {size} has root {head['root_hash']}, the leaves "
                       f"hash to {frontier.root(size).hex()}")

    def _unlogged(self, report: Report, batch: int) -> int:
        """Evaluations without a leaf; returns the number of evaluations."""
        total = 0
        for ids in self.evaluations.ids(batch):
            total += len(ids)
            logged = self.log.indices_of(ids)
            for evaluation_id in ids:
                if evaluation_id not in logged:
                    report.add("evaluation_unlogged", f"evaluations/{evaluation_id}",
                               f"evaluation {evaluation_id} has no log leaf")
        return total

    # ------------------------------------------------------------ the readiness sample
    def sample(self) -> Report:
        """The cheap check readiness runs, at most once per `interval` (cached)."""
        with self._lock:
            at, cached = self._sampled
            if cached is not None and time.monotonic() - at < self.interval:
                return cached
            report = self._sample()
            self._sampled = (time.monotonic(), report)
            if not report.ok:
                INTEGRITY_ERRORS.labels("readiness_sample").inc(report.problem_count)
            return report

    def _sample(self) -> Report:
        started = time.monotonic()
        report = Report(limit=20)
        public = self.public_keys()
        size = self.log.size()
        n = min(self.sample_size, size)
        tail = next(iter(self.log.leaves(n, size - n)), []) if n else []
        stored = self.evaluations.by_ids([e for _, e, _ in tail])
        for offset, (idx, _, _) in enumerate(tail):
            if idx != size - n + offset:
                report.add("log_gap", f"log_leaves/{size - n + offset}",
                           f"leaf {size - n + offset} is missing")
                break
        for idx, evaluation_id, leaf in tail:
            self._leaf(report, idx, evaluation_id, leaf, stored.get(evaluation_id), public)
        leaves, evaluations = self.log.leaf_count(), self.evaluations.count()
        if leaves != size:
            report.add("log_gap", "log_leaves", f"{leaves} leaves, but indices run to {size - 1}")
        if evaluations != leaves:
            report.add("count_mismatch", "evaluations",
                       f"{evaluations} evaluations, but {leaves} log leaves")
        head = self.log.latest_head()
        if head is not None:
            self._latest_head(report, head, size, public)
        report.counts = {"evaluations": evaluations, "log_leaves": leaves,
                         "sampled": len(tail)}
        report.seconds = time.monotonic() - started
        return report

    def _latest_head(self, report: Report, head: dict[str, Any], size: int,
                     public: dict[str, Any]) -> None:
        head_size = int(head["tree_size"])
        where = f"log_heads/{head_size}"
        signature = verify_tree_head(head, public)
        if not signature.ok:
            report.add("head_signature", where, f"latest tree head: {signature.detail}")
        if head_size > size:
            report.add("head_beyond_log", where,
                       f"latest tree head has size {head_size}, the log {size} leaves")
            return
        try:
            root = EMPTY_ROOT if head_size == 0 else merkle.range_hash(
                0, head_size, self.log.nodes(set(merkle.decompose(0, head_size))))
        except ArkaError as exc:
            report.add("node_missing", "log_nodes", exc.message)
            return
        if root.hex() != head["root_hash"]:
            report.add("head_root", where,
                       f"latest tree head has root {head['root_hash']}, the stored subtree "
                       f"hashes give {root.hex()}")


def describe(problems: Iterable[Problem], limit: int = 3) -> str:
    """A short text naming the first problems (for readiness and backup messages)."""
    items = list(problems)
    text = "; ".join(f"{p.where}: {p.message}" for p in items[:limit])
    return text + (f" (and {len(items) - limit} more)" if len(items) > limit else "")
