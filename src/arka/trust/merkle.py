"""Merkle tree hashing and proofs of RFC 9162 §2.1 (Certificate Transparency v2).

    leaf hash  = SHA-256(0x00 || leaf bytes)
    node hash  = SHA-256(0x01 || left || right)
    MTH(D[n])  = MTH(D[0:k]) . MTH(D[k:n]) for the largest power of two k < n

The log stores the hash of every complete, aligned subtree (level L, index i covering
leaves [i*2^L, (i+1)*2^L)), written when its last leaf is appended, so an append writes
O(log n) nodes and any root or proof needs O(log n) stored hashes, fetched at once.
The verification functions need nothing but the proof: they are what an auditor runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

NodeKey = tuple[int, int]  # (level, index)


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly less than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def nodes_completed_by_append(index: int, leaf: bytes, get: Callable[[NodeKey], bytes]
                              ) -> list[tuple[NodeKey, bytes]]:
    """The complete subtrees that appending leaf `index` finishes, with their hashes."""
    out = [((0, index), leaf)]
    level, i, h = 0, index, leaf
    while i & 1:  # a right child completes its parent
        left = get((level, i - 1))
        h = node_hash(left, h)
        level, i = level + 1, i >> 1
        out.append(((level, i), h))
    return out


def decompose(start: int, end: int) -> list[NodeKey]:
    """Complete aligned subtrees covering [start, end), largest first (start aligned)."""
    out = []
    while start < end:
        size = 1 << ((end - start).bit_length() - 1)
        while start % size:
            size >>= 1
        level = size.bit_length() - 1
        out.append((level, start >> level))
        start += size
    return out


def range_hash(start: int, end: int, nodes: dict[NodeKey, bytes]) -> bytes:
    """MTH of leaves [start, end) from stored subtree hashes (start aligned as in proofs)."""
    parts = [nodes[k] for k in decompose(start, end)]
    h = parts[-1]
    for p in reversed(parts[:-1]):
        h = node_hash(p, h)
    return h


def _inclusion_ranges(m: int, start: int, end: int) -> list[tuple[int, int]]:
    """RFC 9162 PATH(m, D[start:end]) as the leaf ranges whose MTHs form the path."""
    n = end - start
    if n <= 1:
        return []
    k = _largest_power_of_two_below(n)
    if m < k:
        return _inclusion_ranges(m, start, start + k) + [(start + k, end)]
    return _inclusion_ranges(m - k, start + k, end) + [(start, start + k)]


def _consistency_ranges(m: int, start: int, end: int, complete: bool) -> list[tuple[int, int]]:
    """RFC 9162 SUBPROOF(m, D[start:end], b) as leaf ranges."""
    n = end - start
    if m == n:
        return [] if complete else [(start, end)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return _consistency_ranges(m, start, start + k, complete) + [(start + k, end)]
    return _consistency_ranges(m - k, start + k, end, False) + [(start, start + k)]


def needed_nodes(ranges: Iterable[tuple[int, int]]) -> set[NodeKey]:
    keys: set[NodeKey] = set()
    for a, b in ranges:
        keys.update(decompose(a, b))
    return keys


def inclusion_ranges(leaf_index: int, tree_size: int) -> list[tuple[int, int]]:
    if not 0 <= leaf_index < tree_size:
        raise ValueError(f"leaf {leaf_index} is not in a tree of size {tree_size}")
    return _inclusion_ranges(leaf_index, 0, tree_size)


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    if not 0 < first <= second:
        raise ValueError("consistency needs 0 < first <= second")
    if first == second:
        return []
    return _consistency_ranges(first, 0, second, True)


# ------------------------------------------------------------------ verification (RFC 9162)

def root_from_inclusion(leaf_index: int, tree_size: int, leaf: bytes, path: list[bytes]
                        ) -> bytes | None:
    """RFC 9162 §2.1.3.2: the root an inclusion proof leads to, or None if malformed."""
    if not 0 <= leaf_index < tree_size:
        return None
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(leaf_index: int, tree_size: int, leaf: bytes, path: list[bytes],
                     root: bytes) -> bool:
    if len(leaf) != 32 or len(root) != 32 or any(len(p) != 32 for p in path):
        return False  # only SHA-256 hashes lead anywhere
    return root_from_inclusion(leaf_index, tree_size, leaf, path) == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       proof: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2."""
    if first <= 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first & (first - 1) == 0:  # a power of two: the first root is part of the proof
        proof = [first_root] + proof
    if not proof:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH computed straight from the definition (tests, small trees)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = _largest_power_of_two_below(n)
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))
