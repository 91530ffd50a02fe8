"""transparency-dev/merkle's inclusion and consistency proof vectors (tests/fixtures/merkle,
Apache-2.0, see its README) through `arka.trust.merkle`'s verifiers, through
`note.TlogProof` round trips, and, on the 8-leaf tree behind them, against our own proof
generation. Every `wantErr` probe (mutated index, size, proof, root or leaf) must fail."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from arka.trust import merkle
from arka.trust.note import Checkpoint, NoteError, NoteSigner, TlogProof, Verifier, open_checkpoint
from tests.tlog_fixtures import sign_checkpoint, tree_nodes

FIXTURES = Path(__file__).parent / "fixtures" / "merkle"

# testonly.LeafInputs() of transparency-dev/merkle: the tree the numbered vectors use
LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
NODES = tree_nodes(LEAVES)


def load(kind: str) -> list[tuple[str, dict]]:
    files = sorted((FIXTURES / kind).rglob("*.json"))
    return [(f.relative_to(FIXTURES).as_posix(), json.loads(f.read_text())) for f in files]


def raw(b64: str | None) -> bytes:
    return base64.b64decode(b64 or "")


def hashes(v: list[str] | None) -> list[bytes]:
    return [raw(h) for h in v or []]


INCLUSION = load("inclusion")
CONSISTENCY = load("consistency")

# Vectors our verifiers are known to get wrong (none: verify_inclusion used to accept a
# 0-byte leaf hash equal to a 0-byte root, inclusion/single-entry/empty-root-and-leaf).
KNOWN_BAD: dict[str, str] = {}


def marked(vectors: list[tuple[str, dict]]) -> list:
    return [pytest.param(n, v, id=n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_BAD[n]))
            if n in KNOWN_BAD else pytest.param(n, v, id=n) for n, v in vectors]


def test_vectors_are_all_there():
    assert len(INCLUSION) == 98 and len(CONSISTENCY) == 98
    for vectors in (INCLUSION, CONSISTENCY):
        happy = [name for name, v in vectors if not v["wantErr"]]
        assert happy and all(v["wantErr"] for name, v in vectors if name not in happy)
    assert sum(not v["wantErr"] for _, v in INCLUSION) == 6
    assert sum(not v["wantErr"] for _, v in CONSISTENCY) == 6


@pytest.mark.parametrize("name,v", marked(INCLUSION))
def test_inclusion_vector(name, v):
    ok = merkle.verify_inclusion(v["leafIdx"], v["treeSize"], raw(v["leafHash"]),
                                 hashes(v["proof"]), raw(v["root"]))
    assert ok is (not v["wantErr"]), v["desc"]


@pytest.mark.parametrize("name,v", CONSISTENCY, ids=[n for n, _ in CONSISTENCY])
def test_consistency_vector(name, v):
    ok = merkle.verify_consistency(v["size1"], v["size2"], raw(v["root1"]), raw(v["root2"]),
                                   hashes(v["proof"]))
    assert ok is (not v["wantErr"]), v["desc"]


# ------------------------------------------------------------------ tlog-proof round trips

SIGNER = NoteSigner("vectors.example.com/log", Ed25519PrivateKey.generate())


def tlog_proof_verifies(text: str, leaf_hash: bytes) -> bool:
    """What an offline verifier of a c2sp.org/tlog-proof does: parse, open the
    checkpoint with the log's key, check the inclusion path."""
    try:
        proof = TlogProof.parse(text.encode())
        cp, _ = open_checkpoint(proof.checkpoint, [Verifier.parse(SIGNER.vkey)], SIGNER.name)
    except NoteError:
        return False
    return merkle.verify_inclusion(proof.index, cp.size, leaf_hash, list(proof.path), cp.root)


@pytest.mark.parametrize("name,v", INCLUSION, ids=[n for n, _ in INCLUSION])
def test_inclusion_vector_as_tlog_proof(name, v):
    root, path = raw(v["root"]), hashes(v["proof"])
    if len(root) != 32:
        pytest.skip("a checkpoint cannot carry a root that is not 32 bytes")
    note = sign_checkpoint(Checkpoint(SIGNER.name, v["treeSize"], root), SIGNER)
    proof = TlogProof(v["leafIdx"], tuple(path), note)
    if any(len(h) != 32 for h in path):  # a proof line is one SHA-256 hash
        with pytest.raises(NoteError, match="32 bytes"):
            proof.render()
        assert v["wantErr"], v["desc"]
        return
    text = proof.render()
    if v["leafIdx"] >= 2**63:  # an index underflowed to 2**64-1: not a valid proof line
        with pytest.raises(NoteError, match="index"):
            TlogProof.parse(text)
    elif all(len(h) == 32 for h in path):
        assert TlogProof.parse(text) == proof  # a faithful round trip
    assert tlog_proof_verifies(text, raw(v["leafHash"])) is (not v["wantErr"]), v["desc"]


def test_tlog_proof_refuses_garbage_hash_lines():
    happy = dict(INCLUSION)["inclusion/1/happy-path.json"]
    note = sign_checkpoint(Checkpoint(SIGNER.name, happy["treeSize"], raw(happy["root"])),
                           SIGNER)
    good = TlogProof(happy["leafIdx"], tuple(hashes(happy["proof"])), note).render()
    head, _, rest = good.partition("\n\n")
    for bad_line in ("AAAA", "not base64!", base64.b64encode(b"\x00" * 33).decode()):
        with pytest.raises(NoteError):
            TlogProof.parse(head + "\n" + bad_line + "\n\n" + rest)


# ------------------------------------------------------------------ our proof generation

def numbered(vectors: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """The happy paths on the 8-leaf tree (not additional/ or single-entry/)."""
    return [(n, v) for n, v in vectors if not v["wantErr"] and n.split("/")[1].isdigit()]


def test_roots_of_the_vector_tree():
    roots = {v["treeSize"]: raw(v["root"]) for _, v in numbered(INCLUSION)}
    for _, v in numbered(CONSISTENCY):
        roots |= {v["size1"]: raw(v["root1"]), v["size2"]: raw(v["root2"])}
    assert sorted(roots) == [1, 2, 3, 5, 6, 7, 8]
    for n, root in roots.items():
        assert merkle.reference_root([merkle.leaf_hash(x) for x in LEAVES[:n]]) == root, n
        assert merkle.range_hash(0, n, NODES) == root, n


@pytest.mark.parametrize("name,v", numbered(INCLUSION), ids=[n for n, _ in numbered(INCLUSION)])
def test_our_inclusion_proofs_are_the_vectors(name, v):
    index, size = v["leafIdx"], v["treeSize"]
    assert merkle.leaf_hash(LEAVES[index]) == raw(v["leafHash"])
    ours = [merkle.range_hash(a, b, NODES) for a, b in merkle.inclusion_ranges(index, size)]
    assert ours == hashes(v["proof"])


@pytest.mark.parametrize("name,v", numbered(CONSISTENCY),
                         ids=[n for n, _ in numbered(CONSISTENCY)])
def test_our_consistency_proofs_are_the_vectors(name, v):
    ours = [merkle.range_hash(a, b, NODES)
            for a, b in merkle.consistency_ranges(v["size1"], v["size2"])]
    assert ours == hashes(v["proof"])


def test_every_proof_of_the_vector_tree_verifies():
    """All inclusion and consistency proofs our generator makes on the 8-leaf tree
    verify, and none does with any single bit of it flipped."""
    roots = {n: merkle.range_hash(0, n, NODES) for n in range(1, 9)}
    for n in range(1, 9):
        for i in range(n):
            leaf = merkle.leaf_hash(LEAVES[i])
            proof = [merkle.range_hash(a, b, NODES) for a, b in merkle.inclusion_ranges(i, n)]
            assert merkle.verify_inclusion(i, n, leaf, proof, roots[n])
            for k in range(len(proof)):
                bad = proof[:k] + [bytes([proof[k][0] ^ 1]) + proof[k][1:]] + proof[k + 1:]
                assert not merkle.verify_inclusion(i, n, leaf, bad, roots[n])
        for m in range(1, n + 1):
            proof = [merkle.range_hash(a, b, NODES) for a, b in merkle.consistency_ranges(m, n)]
            assert merkle.verify_consistency(m, n, roots[m], roots[n], proof)
            for k in range(len(proof)):
                bad = proof[:k] + [bytes([proof[k][0] ^ 1]) + proof[k][1:]] + proof[k + 1:]
                assert not merkle.verify_consistency(m, n, roots[m], roots[n], bad)
