"""RFC 9162 Merkle log hashing and proofs.

Known answers: the RFC 6962 reference vectors published with Certificate Transparency
(google/certificate-transparency, cpp/merkletree/merkle_tree_test.cc; the same vectors are
in certificate-transparency-go, merkle/testonly): eight leaves, the root of every prefix,
and inclusion and consistency proofs. Indices below are 0-based.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from arka.trust import merkle

LEAF_DATA = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f")]
ROOTS = [bytes.fromhex(h) for h in (
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")]
INCLUSION = [  # (leaf index, tree size, path)
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CONSISTENCY = [  # (first, second, proof)
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


class MemoryLog:
    """The store's append algorithm over a dict (the same functions the store calls)."""

    def __init__(self) -> None:
        self.nodes: dict[merkle.NodeKey, bytes] = {}
        self.size = 0

    def append(self, leaf: bytes) -> None:
        for key, h in merkle.nodes_completed_by_append(self.size, leaf, self.nodes.__getitem__):
            self.nodes[key] = h
        self.size += 1

    def root(self, size: int) -> bytes:
        return merkle.range_hash(0, size, self.nodes)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return [merkle.range_hash(a, b, self.nodes) for a, b in
                merkle.inclusion_ranges(index, size)]

    def consistency(self, first: int, second: int) -> list[bytes]:
        return [merkle.range_hash(a, b, self.nodes) for a, b in
                merkle.consistency_ranges(first, second)]


def reference_log() -> tuple[MemoryLog, list[bytes]]:
    log = MemoryLog()
    leaves = [merkle.leaf_hash(d) for d in LEAF_DATA]
    for leaf in leaves:
        log.append(leaf)
    return log, leaves


def test_roots_of_every_prefix() -> None:
    log, leaves = reference_log()
    assert merkle.reference_root([]) == ROOTS[0]
    for n in range(1, 9):
        assert log.root(n) == ROOTS[n] == merkle.reference_root(leaves[:n])


def test_inclusion_vectors() -> None:
    log, leaves = reference_log()
    for index, size, path in INCLUSION:
        proof = log.inclusion(index, size)
        assert [p.hex() for p in proof] == path
        assert merkle.verify_inclusion(index, size, leaves[index], proof, ROOTS[size])


def test_consistency_vectors() -> None:
    log, _ = reference_log()
    for first, second, path in CONSISTENCY:
        proof = log.consistency(first, second)
        assert [p.hex() for p in proof] == path
        assert merkle.verify_consistency(first, second, ROOTS[first], ROOTS[second], proof)


@given(st.integers(1, 70), st.data())
def test_every_proof_verifies_and_any_change_fails(n: int, data: st.DataObject) -> None:
    log = MemoryLog()
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n + 1)]
    for leaf in leaves[:n]:
        log.append(leaf)
    roots = {m: merkle.reference_root(leaves[:m]) for m in range(1, n + 2)}
    assert log.root(n) == roots[n]
    i = data.draw(st.integers(0, n - 1))
    path = log.inclusion(i, n)
    assert merkle.verify_inclusion(i, n, leaves[i], path, roots[n])
    # any altered leaf, path element, index, size or root fails
    assert not merkle.verify_inclusion(i, n, merkle.leaf_hash(b"other"), path, roots[n])
    if path:
        k = data.draw(st.integers(0, len(path) - 1))
        bad = path[:k] + [merkle.leaf_hash(b"x")] + path[k + 1:]
        assert not merkle.verify_inclusion(i, n, leaves[i], bad, roots[n])
        assert not merkle.verify_inclusion(i, n, leaves[i], path[:-1], roots[n])
    # another tree size, with that size's root, fails too
    assert not merkle.verify_inclusion(i, n + 1, leaves[i], path, roots[n + 1])
    if i < n - 1:
        assert not merkle.verify_inclusion(i, n - 1, leaves[i], path, roots[n - 1])
    if n > 1:
        other = (i + 1) % n
        assert not merkle.verify_inclusion(other, n, leaves[i], path, roots[n]) or \
            leaves[other] == leaves[i]
    assert not merkle.verify_inclusion(i, n, leaves[i], path, merkle.leaf_hash(b"root"))
    m = data.draw(st.integers(1, n))
    proof = log.consistency(m, n)
    assert merkle.verify_consistency(m, n, roots[m], roots[n], proof)
    if m < n:
        assert not merkle.verify_consistency(m, n, merkle.leaf_hash(b"r"), roots[n], proof)
        assert not merkle.verify_consistency(m, n, roots[m], merkle.leaf_hash(b"r"), proof)
        if proof:
            k = data.draw(st.integers(0, len(proof) - 1))
            bad = proof[:k] + [merkle.leaf_hash(b"y")] + proof[k + 1:]
            assert not merkle.verify_consistency(m, n, roots[m], roots[n], bad)
        if m > 1:
            assert not merkle.verify_consistency(m - 1, n, roots[m], roots[n], proof)


def test_malformed_inputs_do_not_verify() -> None:
    leaf = merkle.leaf_hash(b"a")
    assert not merkle.verify_inclusion(5, 3, leaf, [], leaf)
    assert not merkle.verify_inclusion(0, 2, leaf, [], leaf)
    assert not merkle.verify_consistency(0, 3, leaf, leaf, [leaf])
    assert not merkle.verify_consistency(4, 3, leaf, leaf, [leaf])
    assert not merkle.verify_consistency(2, 3, leaf, leaf, [])
