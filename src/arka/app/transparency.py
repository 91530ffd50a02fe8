"""The transparency log as a service: signed tree heads, inclusion and consistency proofs."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from arka.base.errors import InputError, NotFound
from arka.storage.ports import LogStore
from arka.trust import merkle
from arka.trust.proofs import KeyRing, b64url, canonical, now_rfc3339

HEAD_CACHE_SECONDS = 1.0
HEAD_FIELDS = ("tree_size", "root_hash", "timestamp", "key_id", "signature")


def head_view(head: dict[str, Any]) -> dict[str, Any]:
    return {k: head[k] for k in HEAD_FIELDS}


def leaf_of(record: dict[str, Any]) -> bytes:
    """The record's log leaf: RFC 9162 leaf hash of its proof's canonical bytes."""
    return merkle.leaf_hash(canonical(record["trust_proof"]))


class Transparency:
    def __init__(self, log: LogStore, keys: KeyRing):
        self.log = log
        self.keys = keys
        self._head_cache: tuple[float, dict[str, Any] | None] = (-1e9, None)

    def sth(self) -> dict[str, Any]:
        """The signed tree head of the whole log; a new one when the log has grown."""
        size = self.log.size()
        head = self.log.latest_head()
        if head is not None and head["tree_size"] == size:
            return head_view(head)
        unsigned = {"tree_size": size, "root_hash": self._root(size).hex(),
                    "timestamp": now_rfc3339(), "key_id": self.keys.active_id}
        head = dict(unsigned, signature=b64url(self.keys.active.sign(canonical(unsigned))))
        return head_view(self.log.put_head(head))

    def _latest_head(self) -> dict[str, Any] | None:
        """The newest published head, re-read at most every HEAD_CACHE_SECONDS."""
        now = time.monotonic()
        cached_at, head = self._head_cache
        if head is None or now - cached_at > HEAD_CACHE_SECONDS:
            head = self.log.latest_head()
            self._head_cache = (now, head)
        return head

    def _root(self, size: int) -> bytes:
        if size == 0:
            return hashlib.sha256(b"").digest()
        nodes = self.log.nodes(set(merkle.decompose(0, size)))
        return merkle.range_hash(0, size, nodes)

    def inclusion(self, evaluation_id: str, tree_size: int | None) -> dict[str, Any]:
        """The audit path of an evaluation's leaf to a published head (the caller checks
        the evaluation is the tenant's)."""
        index, leaf = self.log.leaf(evaluation_id)
        if tree_size is None:  # the latest published head, or a new one if it lacks the leaf
            head = self._latest_head()
            if head is None or head["tree_size"] <= index:
                head = self.sth()
        else:
            head = self.log.head(tree_size)
        if head is None:
            raise NotFound(f"no signed tree head for tree size {tree_size}; use the size of a "
                           "published head (GET /api/v1/log/sth)")
        size = int(head["tree_size"])
        if index >= size:
            raise NotFound(f"evaluation {evaluation_id} (leaf {index}) is not in the tree of "
                           f"size {size} yet")
        ranges = merkle.inclusion_ranges(index, size)
        nodes = self.log.nodes(merkle.needed_nodes(ranges))
        path = [merkle.range_hash(a, b, nodes).hex() for a, b in ranges]
        return {"evaluation_id": evaluation_id, "leaf_index": index, "tree_size": size,
                "leaf_hash": leaf.hex(), "audit_path": path, "sth": head_view(head)}

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        size = self.log.size()
        if not 0 < first <= second <= size:
            raise InputError(f"consistency needs 0 < first <= second <= {size} (the log size)")
        ranges = merkle.consistency_ranges(first, second)
        nodes = self.log.nodes(merkle.needed_nodes(ranges))
        return {"first": first, "second": second,
                "consistency_path": [merkle.range_hash(a, b, nodes).hex() for a, b in ranges]}
