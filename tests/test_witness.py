"""The C2SP tlog-witness: every add-checkpoint answer, strict bodies, the atomic
compare-and-set, forks, the SQLite state, the HTTP app, the CLI, and a real
`arka-cli witness serve` cosigning over HTTP, checked with an independent verifier."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.testclient import TestClient

from arka.interfaces.cli import main
from arka.interfaces.witness_app import create_app
from arka.trust import merkle
from arka.trust.note import (
    COSIGNATURE_V1,
    ED25519,
    EMPTY_ROOT,
    Checkpoint,
    CosignatureSigner,
    Note,
    NoteSigner,
    Signature,
    Verifier,
    cosigners,
    parse_note,
)
from arka.trust.witness import (
    MAX_BODY,
    SIZE_TYPE,
    MemoryState,
    Record,
    Refusal,
    State,
    Witness,
    WitnessError,
    add_checkpoint_body,
    add_cosignatures,
    log_keys,
    origin_hash,
    parse_add_checkpoint,
    parse_conflict_size,
    parse_cosignatures,
)
from arka.trust.witness_state import SqliteState

ORIGIN = "example.com/log"
NOW = 1_700_000_000
CLI = str(Path(sys.executable).parent / "arka-cli")


class Tree:
    """A Merkle log in memory, built with the store's append functions."""

    def __init__(self, tag: bytes = b"", size: int = 0) -> None:
        self.nodes: dict[merkle.NodeKey, bytes] = {}
        self.size = 0
        self.tag = tag
        self.grow(size)

    def grow(self, to: int) -> Tree:
        while self.size < to:
            leaf = merkle.leaf_hash(self.tag + self.size.to_bytes(4, "big"))
            for key, h in merkle.nodes_completed_by_append(self.size, leaf,
                                                           self.nodes.__getitem__):
                self.nodes[key] = h
            self.size += 1
        return self

    def root(self, size: int) -> bytes:
        return EMPTY_ROOT if size == 0 else merkle.range_hash(0, size, self.nodes)

    def proof(self, first: int, second: int) -> list[bytes]:
        if first == 0:
            return []
        needed = merkle.needed_nodes(merkle.consistency_ranges(first, second))
        assert needed <= self.nodes.keys()
        return [merkle.range_hash(a, b, self.nodes)
                for a, b in merkle.consistency_ranges(first, second)]


LOG_SIGNER = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
WITNESS_SIGNER = CosignatureSigner("witness.example/w1", Ed25519PrivateKey.generate())
WITNESS_VKEY = Verifier.of(WITNESS_SIGNER.name, COSIGNATURE_V1, WITNESS_SIGNER.public)


def signed(size: int, root: bytes, signer: NoteSigner = LOG_SIGNER, origin: str = ORIGIN,
           extra: tuple[Signature, ...] = ()) -> str:
    text = Checkpoint(origin, size, root).text()
    return Note(text, (signer.sign(text), *extra)).render()


def checkpoint_of(tree: Tree, size: int) -> str:
    return signed(size, tree.root(size))


def body(old: int, tree: Tree, size: int) -> bytes:
    return add_checkpoint_body(old, tree.proof(old, size), checkpoint_of(tree, size))


def make_witness(state: State | None = None, clock: float = NOW) -> Witness:
    return Witness([WITNESS_SIGNER], log_keys([LOG_SIGNER.vkey]), state or MemoryState(),
                   clock=lambda: clock)


def cosigned(w: Witness, old: int, tree: Tree, size: int) -> Note:
    r = w.add_checkpoint(body(old, tree, size))
    assert r.status == 200, r.body
    return add_cosignatures(checkpoint_of(tree, size), r.body, [WITNESS_VKEY])


# ------------------------------------------------------------------ 200

def test_first_checkpoint_is_cosigned_with_a_timestamp() -> None:
    w, tree = make_witness(), Tree(size=5)
    r = w.add_checkpoint(body(0, tree, 5))
    assert (r.status, r.content_type) == (200, "text/plain; charset=utf-8")
    assert r.body.startswith("\u2014 witness.example/w1 ") and r.body.endswith("\n")
    (sig,) = parse_cosignatures(r.body)
    assert sig.key_id == WITNESS_VKEY.key_id and sig.signature[:8] == NOW.to_bytes(8, "big")
    note = parse_note(checkpoint_of(tree, 5)).with_signatures([sig])
    assert cosigners(note, [WITNESS_VKEY]) == {WITNESS_SIGNER.name: NOW}
    assert w.state.latest(ORIGIN) == Record(5, tree.root(5), note.render(), NOW)


def test_extensions_are_cosigned_with_consistency_proofs() -> None:
    w, tree = make_witness(), Tree(size=70)
    old = 0
    for size in (1, 2, 3, 4, 8, 9, 16, 17, 31, 32, 33, 64, 70):
        note = cosigned(w, old, tree, size)
        assert cosigners(note, [WITNESS_VKEY]) == {WITNESS_SIGNER.name: NOW}
        old = size
    latest = w.state.latest(ORIGIN)
    assert latest is not None and (latest.size, latest.root) == (70, tree.root(70))


def test_the_same_checkpoint_again_is_cosigned_again() -> None:
    w, tree = make_witness(), Tree(size=6)
    cosigned(w, 0, tree, 6)
    cosigned(w, 6, tree, 6)


def test_the_empty_tree_is_cosigned() -> None:
    w = make_witness()
    r = w.add_checkpoint(add_checkpoint_body(0, [], signed(0, EMPTY_ROOT)))
    assert r.status == 200
    cosigned(w, 0, Tree(size=3), 3)


def test_timestamps_are_never_zero_nor_go_back() -> None:
    tree, state = Tree(size=4), MemoryState()
    r = make_witness(state, clock=0.4).add_checkpoint(body(0, tree, 2))
    assert parse_cosignatures(r.body)[0].signature[:8] == (1).to_bytes(8, "big")
    make_witness(state, clock=500).add_checkpoint(body(2, tree, 3))
    r = make_witness(state, clock=100).add_checkpoint(body(3, tree, 4))  # the clock went back
    assert parse_cosignatures(r.body)[0].signature[:8] == (500).to_bytes(8, "big")


def test_several_witness_keys_each_cosign() -> None:
    second = CosignatureSigner("witness.example/w2", Ed25519PrivateKey.generate())
    w = Witness([WITNESS_SIGNER, second], log_keys([LOG_SIGNER.vkey]), MemoryState(),
                clock=lambda: NOW)
    r = w.add_checkpoint(body(0, Tree(size=3), 3))
    note = add_cosignatures(checkpoint_of(Tree(size=3), 3), r.body, w.verifiers)
    assert cosigners(note, w.verifiers) == {WITNESS_SIGNER.name: NOW, second.name: NOW}


def test_unknown_signatures_are_ignored_and_not_kept() -> None:
    w, tree = make_witness(), Tree(size=3)
    other = NoteSigner("other.example/key", Ed25519PrivateKey.generate())
    text = Checkpoint(ORIGIN, 3, tree.root(3)).text()
    note = Note(text, (other.sign(text), LOG_SIGNER.sign(text))).render()
    assert w.add_checkpoint(add_checkpoint_body(0, [], note)).status == 200
    kept = parse_note(w.checkpoint(origin_hash(ORIGIN)).body)
    assert [s.name for s in kept.signatures] == [ORIGIN, WITNESS_SIGNER.name]


def test_a_second_log_key_for_the_origin_is_trusted() -> None:
    rotated = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    w = Witness([WITNESS_SIGNER], log_keys([LOG_SIGNER.vkey, rotated.vkey]), MemoryState())
    tree = Tree(size=2)
    note = signed(2, tree.root(2), signer=rotated)
    assert w.add_checkpoint(add_checkpoint_body(0, [], note)).status == 200


# ------------------------------------------------------------------ 4xx

def test_unknown_origin_is_404() -> None:
    other = NoteSigner("other.example/log", Ed25519PrivateKey.generate())
    tree = Tree(size=2)
    note = signed(2, tree.root(2), signer=other, origin="other.example/log")
    r = make_witness().add_checkpoint(add_checkpoint_body(0, [], note))
    assert r.status == 404 and "unknown log origin 'other.example/log'" in r.body


def test_no_trusted_signature_is_403() -> None:
    impostor = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())  # same name, another key
    tree = Tree(size=2)
    r = make_witness().add_checkpoint(
        add_checkpoint_body(0, [], signed(2, tree.root(2), signer=impostor)))
    assert r.status == 403 and "no signature by a known key" in r.body


def test_a_trusted_key_whose_signature_fails_is_403() -> None:
    tree = Tree(size=2)
    text = Checkpoint(ORIGIN, 2, tree.root(2)).text()
    good = LOG_SIGNER.sign(text)
    bad = Signature(good.name, good.key_id, bytes(64))
    r = make_witness().add_checkpoint(add_checkpoint_body(0, [], Note(text, (bad,)).render()))
    assert r.status == 403 and "does not verify" in r.body
    other_text = Checkpoint(ORIGIN, 2, bytes(32)).text()  # a signature over another text
    forged = Note(text, (LOG_SIGNER.sign(other_text),)).render()
    assert make_witness().add_checkpoint(add_checkpoint_body(0, [], forged)).status == 403


def test_old_size_above_the_checkpoint_is_400() -> None:
    w, tree = make_witness(), Tree(size=8)
    cosigned(w, 0, tree, 8)
    r = w.add_checkpoint(add_checkpoint_body(8, [], checkpoint_of(tree, 5)))
    assert r.status == 400 and "old size 8 is larger than the checkpoint size 5" in r.body


def test_an_old_size_other_than_the_recorded_one_is_409() -> None:
    w, tree = make_witness(), Tree(size=12)
    r = w.add_checkpoint(body(3, tree, 5))  # never cosigned: the recorded size is 0
    assert (r.status, r.body, r.content_type) == (409, "0\n", SIZE_TYPE)
    cosigned(w, 0, tree, 5)
    for old in (0, 4, 6):
        r = w.add_checkpoint(body(old, tree, 12))
        assert (r.status, r.body, r.content_type) == (409, "5\n", SIZE_TYPE)
        assert parse_conflict_size(r.body) == 5
    # the log learns the size from the 409 and retries
    cosigned(w, parse_conflict_size(r.body), tree, 12)


def test_a_witness_never_goes_backwards() -> None:
    w, tree = make_witness(), Tree(size=8)
    cosigned(w, 0, tree, 8)
    assert w.add_checkpoint(add_checkpoint_body(5, [], checkpoint_of(tree, 5))).status == 409
    assert w.add_checkpoint(add_checkpoint_body(0, [], checkpoint_of(tree, 5))).status == 409
    assert w.add_checkpoint(add_checkpoint_body(8, [], checkpoint_of(tree, 5))).status == 400
    assert w.state.latest(ORIGIN).size == 8  # type: ignore[union-attr]


def test_size_zero_with_another_root_is_422() -> None:
    w = make_witness()
    r = w.add_checkpoint(add_checkpoint_body(0, [], signed(0, bytes(32))))
    assert r.status == 422 and "empty tree" in r.body
    assert w.state.latest(ORIGIN) is None


def test_a_proof_with_old_size_zero_is_422() -> None:
    w, tree = make_witness(), Tree(size=4)
    r = w.add_checkpoint(add_checkpoint_body(0, [tree.root(2)], checkpoint_of(tree, 4)))
    assert r.status == 422 and "must be empty when the old size is 0" in r.body


def test_a_consistency_proof_that_fails_is_422() -> None:
    w, tree = make_witness(), Tree(size=9)
    cosigned(w, 0, tree, 3)
    proof = tree.proof(3, 9)
    for bad in (proof[:-1], proof + [bytes(32)], [bytes(32)] + proof[1:], [], proof[::-1]):
        r = w.add_checkpoint(add_checkpoint_body(3, bad, checkpoint_of(tree, 9)))
        assert r.status == 422 and "from size 3 to 9 does not verify" in r.body
    wrong_root = signed(9, tree.root(8))  # signed, but not the root the proof leads to
    assert w.add_checkpoint(add_checkpoint_body(3, proof, wrong_root)).status == 422
    assert w.state.latest(ORIGIN).size == 3  # type: ignore[union-attr]
    cosigned(w, 3, tree, 9)


def test_the_recorded_size_with_another_root_is_422() -> None:
    w, tree = make_witness(), Tree(size=4)
    cosigned(w, 0, tree, 4)
    r = w.add_checkpoint(add_checkpoint_body(4, [], signed(4, Tree(b"x", 4).root(4))))
    assert r.status == 422 and "forked" in r.body
    r = w.add_checkpoint(add_checkpoint_body(4, [tree.root(4)], checkpoint_of(tree, 4)))
    assert r.status == 422  # the same checkpoint, but a proof where none belongs


def test_refused_checkpoints_are_kept_as_evidence() -> None:
    w, tree = make_witness(), Tree(size=4)
    cosigned(w, 0, tree, 4)
    fork = signed(4, Tree(b"x", 4).root(4))
    w.add_checkpoint(add_checkpoint_body(4, [], fork))
    w.add_checkpoint(body(3, tree, 4))  # 409: not evidence
    (refusal,) = w.state.refused()
    assert (refusal.origin, refusal.checkpoint, refusal.old_size, refusal.at) == (
        ORIGIN, fork, 4, NOW)
    assert "forked" in refusal.reason and w.state.refused("other") == []


def test_a_fork_is_refused_and_never_cosigned() -> None:
    """Two histories under the same origin and key: the witness follows the first one."""
    w, a, b = make_witness(), Tree(b"a", 16), Tree(b"b", 16)
    cosigned(w, 0, a, 5)
    assert w.add_checkpoint(body(0, b, 3)).status == 409  # b from scratch
    assert w.add_checkpoint(body(0, b, 8)).status == 409
    r = w.add_checkpoint(add_checkpoint_body(5, [], checkpoint_of(b, 5)))
    assert r.status == 422  # b at the recorded size
    r = w.add_checkpoint(body(5, b, 8))  # b's own (valid) proof from its size 5
    assert r.status == 422 and "does not verify" in r.body
    # a proof from a's 5 into b's 8 cannot exist: splice a's proof in
    r = w.add_checkpoint(add_checkpoint_body(5, a.proof(5, 8), checkpoint_of(b, 8)))
    assert r.status == 422
    latest = w.state.latest(ORIGIN)
    assert latest is not None and (latest.size, latest.root) == (5, a.root(5))
    assert len(w.state.refused()) == 3
    assert latest.root != b.root(5)
    cosigned(w, 5, a, 16)  # the first history goes on


# ------------------------------------------------------------------ malformed bodies

def _valid_body() -> str:
    tree = Tree(size=8)
    proof = tree.proof(3, 8)[:2]
    return add_checkpoint_body(3, proof, checkpoint_of(tree, 8)).decode()


MALFORMED = {
    "bad base64": lambda b: "old 3\n@@notbase64@@\n\n" + b.split("\n\n", 1)[1],
    "a 31-byte hash": lambda b: ("old 3\n" + base64.b64encode(bytes(31)).decode() + "\n\n"
                                 + b.split("\n\n", 1)[1]),
    "non-canonical base64": lambda b: ("old 3\n" + base64.b64encode(bytes(32)).decode()[:-2]
                                       + "B=\n\n" + b.split("\n\n", 1)[1]),
    "base64 without padding": lambda b: ("old 3\n" + base64.b64encode(bytes(32)).decode()[:-1]
                                         + "\n\n" + b.split("\n\n", 1)[1]),
    "64 proof lines": lambda b: ("old 3\n" + (base64.b64encode(bytes(32)).decode() + "\n") * 64
                                 + "\n" + b.split("\n\n", 1)[1]),
    "no blank line": lambda b: b.replace("\n\n", "\n", 1),
    "no old line": lambda b: b.split("\n", 1)[1],
    "Old": lambda b: "Old" + b[3:],
    "two spaces": lambda b: "old  3" + b[5:],
    "a tab": lambda b: "old\t3" + b[5:],
    "negative": lambda b: "old -3" + b[5:],
    "hex": lambda b: "old 0x3" + b[5:],
    "plus": lambda b: "old +3" + b[5:],
    "leading zero": lambda b: "old 03" + b[5:],
    "zero zero": lambda b: "old 00\n\n" + b.split("\n\n", 1)[1],
    "trailing space": lambda b: "old 3 " + b[5:],
    "unicode digit": lambda b: "old \u0663" + b[5:],
    "too large": lambda b: f"old {2**63}" + b[5:],
    "CRLF": lambda b: b.replace("\n", "\r\n"),
    "NUL": lambda b: b.replace("old 3", "old 3\x00"),
    "empty": lambda b: "",
    "only the old line": lambda b: "old 0\n",
    "no signatures": lambda b: b[:b.rindex("\n\n") + 2],
    "bad checkpoint size": lambda b: b.replace("\n8\n", "\n08\n"),
    "checkpoint with an empty line": lambda b: b.replace("\n8\n", "\n8\n\n"),
    "no final newline": lambda b: b[:-1],
    "empty proof line": lambda b: b.replace("old 3\n", "old 3\n\n", 1),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_bodies_are_400(name: str) -> None:
    text = MALFORMED[name](_valid_body())
    with pytest.raises(WitnessError):
        parse_add_checkpoint(text.encode())
    r = make_witness().add_checkpoint(text.encode())
    assert r.status == 400 and r.body.endswith("\n") and len(r.body) < 400, r.body


def test_the_valid_body_the_malformed_ones_come_from_parses() -> None:
    req = parse_add_checkpoint(_valid_body().encode())
    assert (req.old_size, len(req.proof), req.checkpoint.size) == (3, 2, 8)


def test_63_proof_lines_are_allowed() -> None:
    text = "old 3\n" + (base64.b64encode(bytes(32)).decode() + "\n") * 63 + "\n" + \
        _valid_body().split("\n\n", 1)[1]
    assert len(parse_add_checkpoint(text).proof) == 63
    assert make_witness().add_checkpoint(text).status == 409  # well formed, old size wrong


def test_non_utf8_and_huge_bodies_are_400() -> None:
    raw = _valid_body().encode()
    for bad in (raw.replace(b"old 3", b"old 3\xff"), b"\xc3\x28" + raw, raw + b"\x80"):
        r = make_witness().add_checkpoint(bad)
        assert r.status == 400 and "UTF-8" in r.body
    r = make_witness().add_checkpoint(raw + b"x" * MAX_BODY)
    assert r.status == 400 and "larger than" in r.body


# ------------------------------------------------------------------ client helpers

def test_the_client_helpers_round_trip() -> None:
    tree = Tree(size=9)
    data = body(4, tree, 9)
    req = parse_add_checkpoint(data)
    assert (req.old_size, list(req.proof)) == (4, tree.proof(4, 9))
    assert req.note.render() == checkpoint_of(tree, 9)
    assert add_checkpoint_body(0, [], parse_note(checkpoint_of(tree, 9))) == \
        add_checkpoint_body(0, [], checkpoint_of(tree, 9))
    for bad in ((-1, []), (2**63, []), (1, [bytes(31)]), (1, [bytes(32)] * 64)):
        with pytest.raises(WitnessError):
            add_checkpoint_body(bad[0], bad[1], checkpoint_of(tree, 9))
    assert parse_conflict_size(b"0\n") == 0 and parse_conflict_size("123\n") == 123
    for bad_size in ("", "12", "012\n", "-1\n", "1 \n", "x\n", f"{2**63}\n", "\u0661\n"):
        with pytest.raises(WitnessError):
            parse_conflict_size(bad_size)
    for bad_lines in ("", "\u2014 a AAAAAAAA\n\n", "- a AAAAAAA=\n", b"\xff\n"):
        with pytest.raises(WitnessError):
            parse_cosignatures(bad_lines)


def test_add_cosignatures_checks_the_known_witness_keys() -> None:
    w, tree = make_witness(), Tree(size=3)
    cp = checkpoint_of(tree, 3)
    r = w.add_checkpoint(add_checkpoint_body(0, [], cp))
    stranger = CosignatureSigner("stranger.example/w", Ed25519PrivateKey.generate())
    extra = stranger.sign_at(parse_note(cp).text, NOW).line()
    note = add_cosignatures(cp, r.body + extra, [WITNESS_VKEY])
    assert [s.name for s in note.signatures] == [ORIGIN, WITNESS_SIGNER.name]
    with pytest.raises(WitnessError, match="no cosignature by a known witness"):
        add_cosignatures(cp, extra, [WITNESS_VKEY])
    (sig,) = parse_cosignatures(r.body)
    tampered = Signature(sig.name, sig.key_id, sig.signature[:8] + bytes(64)).line()
    with pytest.raises(WitnessError, match="does not verify"):
        add_cosignatures(cp, tampered, [WITNESS_VKEY])
    other = checkpoint_of(Tree(size=4), 4)  # a cosignature of another checkpoint
    with pytest.raises(WitnessError, match="does not verify"):
        add_cosignatures(other, r.body, [WITNESS_VKEY])


def test_log_keys_are_ed25519_vkeys() -> None:
    assert log_keys([LOG_SIGNER.vkey, LOG_SIGNER.vkey]) == {
        ORIGIN: (Verifier.parse(LOG_SIGNER.vkey),)}
    with pytest.raises(WitnessError, match="type 0x04"):
        log_keys([WITNESS_VKEY.vkey])
    with pytest.raises(WitnessError, match="not <name>"):
        log_keys(["nonsense"])
    with pytest.raises(WitnessError, match="cosigning key"):
        Witness([], {}, MemoryState())


# ------------------------------------------------------------------ atomic compare-and-set

class RacingState:
    """Lets every request read the record before any of them writes: the spec's race."""

    def __init__(self, inner: State, parties: int) -> None:
        self.inner = inner
        self.barrier = threading.Barrier(parties, timeout=10)
        self.waited = threading.local()

    def latest(self, origin: str) -> Record | None:
        out = self.inner.latest(origin)
        if not getattr(self.waited, "done", False):  # the check, not a 409's re-read
            self.waited.done = True
            self.barrier.wait()
        return out

    def compare_and_set(self, origin: str, expected: Record | None, new: Record) -> bool:
        return self.inner.compare_and_set(origin, expected, new)

    def record_refused(self, refusal: Refusal) -> None:
        self.inner.record_refused(refusal)

    def refused(self, origin: str | None = None, limit: int = 100) -> list[Refusal]:
        return self.inner.refused(origin, limit)


def _race(states: list[State], tree: Tree, old: int, sizes: list[int]) -> list[int]:
    statuses: list[int] = [0] * len(sizes)

    def run(i: int) -> None:
        w = make_witness(states[i % len(states)])
        statuses[i] = w.add_checkpoint(body(old, tree, sizes[i])).status

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(sizes))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    return statuses


@pytest.mark.parametrize("kind", ["memory", "sqlite", "two sqlite handles"])
def test_only_one_of_racing_requests_wins(kind: str, tmp_path: Path) -> None:
    tree, sizes = Tree(size=40), [10, 40, 20, 30, 15, 25]
    if kind == "memory":
        inner: list[State] = [MemoryState()]
    else:
        path = tmp_path / "w.db"
        inner = [SqliteState(path)] if kind == "sqlite" else [SqliteState(path),
                                                              SqliteState(path)]
    make_witness(inner[0]).add_checkpoint(body(0, tree, 5))
    barrier_states: list[State] = []
    racing = [RacingState(s, len(sizes)) for s in inner]
    if len(racing) == 2:  # one barrier for all
        racing[1].barrier = racing[0].barrier
    barrier_states.extend(racing)
    statuses = _race(barrier_states, tree, 5, sizes)
    assert sorted(statuses) == [200] + [409] * (len(sizes) - 1), statuses
    winner = sizes[statuses.index(200)]
    latest = inner[0].latest(ORIGIN)
    assert latest is not None and (latest.size, latest.root) == (winner, tree.root(winner))


def test_the_race_is_real_without_compare_and_set() -> None:
    """The race test has teeth: a state that writes without comparing lets several
    racing requests win, and the last writer can roll the record back."""
    class Naive(MemoryState):
        def compare_and_set(self, origin: str, expected: Record | None, new: Record) -> bool:
            self._records[origin] = new
            return True

    tree, sizes = Tree(size=40), [10, 40, 20, 30]
    naive = Naive()
    statuses = _race([RacingState(naive, len(sizes))], tree, 0, sizes)
    assert statuses.count(200) == len(sizes)


def test_concurrent_extensions_never_roll_back(tmp_path: Path) -> None:
    """Many threads pushing the same history forward: no size is cosigned twice and the
    record ends at the largest size (a rolled-back record would cosign a size again)."""
    state, tree = SqliteState(tmp_path / "w.db"), Tree(size=64)
    won: list[int] = []
    lock = threading.Lock()

    def push(sizes: list[int]) -> None:
        w = make_witness(state)
        for size in sizes:
            while True:  # a 409 means another thread moved the record: try again from it
                latest = state.latest(ORIGIN)
                old = latest.size if latest else 0
                if old > size:
                    break
                status = w.add_checkpoint(body(old, tree, size)).status
                if status == 200:
                    with lock:
                        won.append(size)
                if status != 409:
                    break

    threads = [threading.Thread(target=push, args=(list(range(k, 65, 4)),)) for k in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert max(won) == 64 and len(won) == len(set(won))  # no size cosigned twice
    assert state.latest(ORIGIN).size == 64  # type: ignore[union-attr]


# ------------------------------------------------------------------ SQLite state

def test_the_sqlite_state_persists_and_bounds_its_evidence(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    w, tree = make_witness(SqliteState(path, max_refused=3)), Tree(size=6)
    cosigned(w, 0, tree, 6)
    for i in range(5):
        w.add_checkpoint(add_checkpoint_body(6, [], signed(6, Tree(bytes([i]), 6).root(6))))
    again = SqliteState(path)
    latest = again.latest(ORIGIN)
    assert latest == w.state.latest(ORIGIN) and latest is not None and latest.size == 6
    kept = again.refused()
    assert len(kept) == 3 and kept[0].checkpoint == signed(6, Tree(bytes([4]), 6).root(6))
    assert again.refused(ORIGIN, limit=1) == kept[:1] and again.refused("x") == []
    assert not again.compare_and_set(ORIGIN, None, latest)  # stale expectation
    assert again.latest("other") is None


def test_other_files_are_not_taken_for_a_state_file(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(WitnessError, match="cannot open the witness state"):
        SqliteState(garbage)
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE rules (x)")
    with pytest.raises(WitnessError, match="not a witness state file"):
        SqliteState(other)
    with pytest.raises(WitnessError):
        SqliteState(tmp_path / "missing-dir" / "w.db")


# ------------------------------------------------------------------ HTTP app

@pytest.fixture
def client() -> Iterator[tuple[TestClient, Witness]]:
    w = make_witness()
    with TestClient(create_app(w, max_body=4096)) as c:
        yield c, w


def test_the_app_answers_each_endpoint(client: tuple[TestClient, Witness]) -> None:
    c, w = client
    tree = Tree(size=7)
    assert c.get("/healthz").text == "ok\n"
    path = f"/{origin_hash(ORIGIN)}/checkpoint"
    r = c.get(path)
    assert r.status_code == 404 and "no checkpoint" in r.text
    r = c.post("/add-checkpoint", content=body(0, tree, 4))
    assert r.status_code == 200 and r.headers["content-type"] == "text/plain; charset=utf-8"
    r = c.post("/add-checkpoint", content=body(0, tree, 7))
    assert (r.status_code, r.text, r.headers["content-type"]) == (409, "4\n", SIZE_TYPE)
    r = c.get(path)
    assert r.status_code == 200
    note = parse_note(r.text)
    assert Checkpoint.parse(note.text).size == 4
    assert cosigners(note, [WITNESS_VKEY]) == {WITNESS_SIGNER.name: NOW}
    assert [s.name for s in note.signatures] == [ORIGIN, WITNESS_SIGNER.name]
    assert c.get(f"/{origin_hash(ORIGIN).upper()}/checkpoint").status_code == 404
    assert c.get(f"/{hashlib.sha256(b'x').hexdigest()}/checkpoint").status_code == 404
    r = c.get("/add-checkpoint")
    assert r.status_code == 405 and "POST" in r.headers["allow"]
    assert c.get("/nothing/here/at/all").status_code == 404
    r = c.post("/add-checkpoint", content=b"old 0\n")
    assert r.status_code == 400 and "blank line" in r.text


def test_the_app_bounds_the_body(client: tuple[TestClient, Witness]) -> None:
    c, _ = client
    r = c.post("/add-checkpoint", content=b"x" * 5000)
    assert r.status_code == 413 and "larger than 4096 bytes" in r.text

    def chunks() -> Iterator[bytes]:  # no content-length: counted as it streams
        for _ in range(5):
            yield b"x" * 1000

    assert c.post("/add-checkpoint", content=chunks()).status_code == 413


def test_the_app_reports_a_failing_state_as_500() -> None:
    class Broken(MemoryState):
        def compare_and_set(self, origin: str, expected: Record | None, new: Record) -> bool:
            raise sqlite3.OperationalError("disk I/O error")

    with TestClient(create_app(make_witness(Broken()))) as c:
        r = c.post("/add-checkpoint", content=body(0, Tree(size=2), 2))
    assert r.status_code == 500 and "could not" in r.text


# ------------------------------------------------------------------ CLI

def test_keygen_writes_a_private_key_and_prints_the_vkey(tmp_path: Path) -> None:
    out = tmp_path / "w.pem"
    r = CliRunner().invoke(main, ["witness", "keygen", "--name", "w.example/a", "--out",
                                  str(out)])
    assert r.exit_code == 0, r.output
    vkey = Verifier.parse(r.output.strip())
    assert (vkey.name, vkey.sig_type) == ("w.example/a", COSIGNATURE_V1)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    r2 = CliRunner().invoke(main, ["witness", "vkey", "--key", str(out), "--name", "w.example/a"])
    assert r2.exit_code == 0 and r2.output == r.output
    r3 = CliRunner().invoke(main, ["witness", "keygen", "--name", "w.example/a", "--out",
                                   str(out)])
    assert r3.exit_code == 1 and "exists" in r3.output


@pytest.mark.parametrize(("args", "message"), [
    (["keygen", "--name", "bad name", "--out", "{tmp}/k.pem"], "--name: key name"),
    (["keygen", "--name", "a+b", "--out", "{tmp}/k.pem"], "--name: key name"),
    (["keygen", "--name", "w", "--out", "{tmp}/no/such/dir/k.pem"], "cannot create"),
    (["keygen", "--name", "w"], "Missing option '--out'"),
    (["vkey", "--key", "{tmp}/missing.pem", "--name", "w"], "cannot read the witness key"),
    (["vkey", "--key", "{tmp}/junk.pem", "--name", "w"], "not an unencrypted PKCS#8 PEM"),
    (["vkey", "--key", "{tmp}/rsa.pem", "--name", "w"], "not an Ed25519 key"),
    (["serve", "--key", "{tmp}/missing.pem", "--name", "w", "--log", "{log}", "--state",
      "{tmp}/s.db"], "cannot read the witness key"),
    (["serve", "--key", "{tmp}/k0.pem", "--name", "w", "--log", "example.com/log+zz+AAAA",
      "--state", "{tmp}/s.db"], "--log 'example.com/log+zz+AAAA': verifier key id"),
    (["serve", "--key", "{tmp}/k0.pem", "--name", "w", "--log", "nonsense", "--state",
      "{tmp}/s.db"], "is not <name>+<hex id>+<base64 key>"),
    (["serve", "--key", "{tmp}/k0.pem", "--name", "w", "--log", "{witness}", "--state",
      "{tmp}/s.db"], "a log signs with Ed25519 (type 0x01)"),
    (["serve", "--key", "{tmp}/k0.pem", "--name", "w", "--log", "{log}", "--state",
      "{tmp}/junk.pem"], "cannot open the witness state"),
    (["serve", "--key", "{tmp}/k0.pem", "--name", "w", "--state", "{tmp}/s.db"],
     "Missing option '--log'"),
    (["serve", "--key", "{tmp}/k0.pem", "--name", "w", "--log", "{log}", "--state",
      "{tmp}/s.db", "--port", "70000"], "70000 is not in the range"),
])
def test_bad_cli_arguments_say_what_is_wrong(args: list[str], message: str,
                                             tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    (tmp_path / "junk.pem").write_text("-----BEGIN PRIVATE KEY-----\nnope\n" * 20)
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    (tmp_path / "rsa.pem").write_bytes(rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    CliRunner().invoke(main, ["witness", "keygen", "--name", "w", "--out",
                              str(tmp_path / "k0.pem")])
    full = ["witness"] + [a.format(tmp=tmp_path, log=LOG_SIGNER.vkey, witness=WITNESS_VKEY.vkey)
                          for a in args]
    r = CliRunner().invoke(main, full)
    assert r.exit_code in (1, 2) and message in r.output, r.output
    assert not (tmp_path / "k.pem").exists()


# ------------------------------------------------------------------ end to end

def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_real_witness_process_cosigns_over_http(tmp_path: Path) -> None:
    key = tmp_path / "witness.pem"
    out = subprocess.run([CLI, "witness", "keygen", "--name", "witness.test/e2e", "--out",
                          str(key)], capture_output=True, text=True, timeout=30, check=True)
    witness_vkey = Verifier.parse(out.stdout.strip())  # what the witness published
    port = _free_port()
    proc = subprocess.Popen(
        [CLI, "witness", "serve", "--key", str(key), "--name", "witness.test/e2e",
         "--log", LOG_SIGNER.vkey, "--state", str(tmp_path / "state.db"),
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the witness did not start"
            time.sleep(0.05)
        tree = Tree(size=20)
        with httpx.Client(base_url=url, timeout=10) as http:
            before = int(time.time())
            r = http.post("/add-checkpoint", content=body(0, tree, 11))
            assert r.status_code == 200, r.text
            r = http.post("/add-checkpoint", content=body(0, tree, 20))
            assert (r.status_code, r.headers["content-type"], r.text) == (409, SIZE_TYPE, "11\n")
            r = http.post("/add-checkpoint", content=body(parse_conflict_size(r.text), tree, 20))
            assert r.status_code == 200, r.text
            # independently: the response lines appended to the checkpoint verify
            cp = checkpoint_of(tree, 20)
            independent = Verifier.parse(witness_vkey.vkey)
            assert independent.sig_type == COSIGNATURE_V1
            (line,) = r.text.splitlines()
            name, blob = line.removeprefix("\u2014 ").split(" ")
            raw = base64.b64decode(blob)
            sig = Signature(name, raw[:4], raw[4:])
            assert independent.matches(sig)
            ts = independent.verify(parse_note(cp).text, sig)
            assert ts is not None and before <= ts <= int(time.time()) + 1
            note = parse_note(cp + r.text)
            assert cosigners(note, [independent]) == {"witness.test/e2e": ts}
            monitored = http.get(f"/{origin_hash(ORIGIN)}/checkpoint")
            assert monitored.status_code == 200
            assert cosigners(parse_note(monitored.text), [independent]) == {
                "witness.test/e2e": ts}
            assert Verifier.of(ORIGIN, ED25519, LOG_SIGNER.public).verify(
                note.text, note.signatures[0]) == 0
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    state = SqliteState(tmp_path / "state.db")  # persisted
    assert state.latest(ORIGIN).size == 20  # type: ignore[union-attr]
