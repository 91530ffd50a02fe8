"""The transparency log as a service: signed tree heads and their C2SP checkpoints,
inclusion and consistency proofs, tiles and entry bundles, proof bundles.

Every tree head is published twice from the same size and root: as ARKA's JSON head
(`sth`) and as a C2SP checkpoint, a signed note whose key name is the log's origin.
Witnesses' cosignatures (`arka.app.witnessing`) are stored beside the checkpoint they
cosign; the log's checkpoint is the newest one with enough of them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from arka.base.errors import InputError, NotFound, StoreError
from arka.storage.ports import LogStore
from arka.storage.records import StoredEvaluation
from arka.trust import merkle
from arka.trust.note import (
    ED25519,
    Checkpoint,
    Note,
    NoteSigner,
    TlogProof,
    Verifier,
    parse_note,
    parse_signature_lines,
)
from arka.trust.proofs import KeyRing, b64url, canonical, now_rfc3339
from arka.trust.tiles import Tile, encode_entries, tiles_of

HEAD_CACHE_SECONDS = 1.0
HEAD_FIELDS = ("tree_size", "root_hash", "timestamp", "key_id", "signature")

Records = Callable[[list[str]], dict[str, StoredEvaluation]]


def head_view(head: dict[str, Any]) -> dict[str, Any]:
    return {k: head[k] for k in HEAD_FIELDS}


def entry_of(record: dict[str, Any]) -> bytes:
    """The record's log entry: the canonical bytes of its trust proof."""
    return canonical(record["trust_proof"])


def leaf_of(record: dict[str, Any]) -> bytes:
    """The record's log leaf: RFC 9162 leaf hash of its proof's canonical bytes."""
    return merkle.leaf_hash(entry_of(record))


class Transparency:
    def __init__(self, log: LogStore, keys: KeyRing, origin: str = "arka.local/log",
                 records: Records | None = None, witnesses: tuple[Verifier, ...] = (),
                 quorum: int = 0):
        self.log = log
        self.keys = keys
        self.origin = origin
        self.records = records  # the sealed records, whose proofs are the leaves' bytes
        self.witnesses = witnesses
        self.quorum = quorum
        self._head_cache: tuple[float, dict[str, Any] | None] = (-1e9, None)

    # ------------------------------------------------------------------ tree heads

    def sth(self) -> dict[str, Any]:
        """The signed tree head of the whole log; a new one (and its checkpoint) when the
        log has grown."""
        size = self.log.size()
        head = self.log.latest_head()
        if head is None or head["tree_size"] != size:
            unsigned = {"tree_size": size, "root_hash": self._root(size).hex(),
                        "timestamp": now_rfc3339(), "key_id": self.keys.active_id}
            head = dict(unsigned, signature=b64url(self.keys.active.sign(canonical(unsigned))))
            head = self.log.put_head(head)
        self._checkpoint_of(head)
        return head_view(head)

    def _checkpoint_of(self, head: dict[str, Any]) -> dict[str, Any]:
        """The stored checkpoint of a head, signed now if it has none yet (heads made
        before checkpoints existed)."""
        size = int(head["tree_size"])
        row = self.log.checkpoint(self.origin, size)
        if row is None:
            text = Checkpoint(self.origin, size, bytes.fromhex(head["root_hash"])).text()
            signer = self.signer()
            note = Note(text, (signer.sign(text),)).render()
            row = self.log.put_checkpoint(self.origin, size, note, self.keys.active_id)
        return row

    def signer(self) -> NoteSigner:
        return NoteSigner(self.origin, self.keys.active)

    def log_keys(self) -> list[str]:
        """The log's verifier keys (note vkeys named by the origin): the active key first,
        then older ones that signed earlier checkpoints."""
        ring = self.keys
        ids = [ring.active_id] + sorted(k for k in ring.keys if k != ring.active_id)
        return [Verifier.of(self.origin, ED25519, ring.keys[k].public_key()).vkey for k in ids]

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

    # ------------------------------------------------------------------ checkpoints

    def checkpoint_note(self, tree_size: int) -> Note:
        """The stored checkpoint of that size with every witness cosignature it has."""
        row = self.log.checkpoint(self.origin, tree_size)
        if row is None:
            raise NotFound(f"no checkpoint for tree size {tree_size}")
        note = parse_note(row["note"])
        lines = "".join(c["signature"] for c in self.log.cosignatures(self.origin, tree_size))
        return note.with_signatures(parse_signature_lines(lines) if lines else ())

    def checkpoint_text(self, tree_size: int) -> str | None:
        """The checkpoint of that size with its cosignatures, as served; None if the log
        signed none of that size."""
        try:
            return self.checkpoint_note(tree_size).render()
        except NotFound:
            return None

    def witnessed_size(self) -> int | None:
        """The largest checkpoint with the required cosignatures; with no witnesses
        required, the newest checkpoint."""
        if not self.witnesses or self.quorum == 0:
            row = self.log.checkpoint(self.origin)
            return None if row is None else int(row["tree_size"])
        return self.log.witnessed(self.origin, self.quorum, [w.name for w in self.witnesses])

    def checkpoint(self) -> tuple[Note, bool]:
        """The log's checkpoint: the newest one cosigned by the quorum of witnesses, with
        its cosignatures (True), or, while no checkpoint has its quorum yet, the newest
        one (False)."""
        head = self.sth()
        size = self.witnessed_size()
        if size is None:
            return self.checkpoint_note(int(head["tree_size"])), False
        return self.checkpoint_note(size), True

    # ------------------------------------------------------------------ tiles

    def _available(self, tile: Tile) -> None:
        """NOT_FOUND unless every hash of the tile exists (a full tile once it is
        complete; a partial one of any width the log has reached)."""
        size = self.log.size()
        if tile.needs_size() > size:
            raise NotFound(f"tile {tile.path()} does not exist yet (the log has {size} "
                           "leaves)")

    def tile(self, tile: Tile) -> bytes:
        """A hash tile: the concatenated subtree hashes it holds."""
        self._available(tile)
        keys = tile.keys()
        nodes = self.log.nodes(set(keys))
        return b"".join(nodes[k] for k in keys)

    def entry_bundle(self, tile: Tile) -> bytes:
        """An entry bundle: the leaves' bytes (each the canonical proof of its sealed
        evaluation record), each checked against its leaf hash."""
        self._available(tile)
        start = tile.index * 256
        rows = self.log.entries(start, start + tile.width)
        if len(rows) != tile.width:
            raise StoreError(f"the log is missing leaves in [{start}, {start + tile.width})")
        if self.records is None:
            raise StoreError("entry bundles need the evaluation records")
        records = self.records([e for _, e, _ in rows])
        entries = []
        for idx, evaluation_id, leaf in rows:
            stored = records.get(evaluation_id)
            if stored is None or stored.record is None:
                raise StoreError(f"leaf {idx}: evaluation {evaluation_id} is not readable "
                                 "(run arka-cli db check)")
            entry = entry_of(stored.record)
            if merkle.leaf_hash(entry) != leaf:
                raise StoreError(f"leaf {idx}: evaluation {evaluation_id}'s proof does not "
                                 "hash to its leaf (run arka-cli db check)")
            entries.append(entry)
        return encode_entries(entries)

    # ------------------------------------------------------------------ proofs

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
        return {"evaluation_id": evaluation_id, "leaf_index": index, "tree_size": size,
                "leaf_hash": leaf.hex(),
                "audit_path": [h.hex() for h in self._path(index, size)],
                "sth": head_view(head)}

    def _path(self, index: int, size: int) -> list[bytes]:
        ranges = merkle.inclusion_ranges(index, size)
        nodes = self.log.nodes(merkle.needed_nodes(ranges))
        return [merkle.range_hash(a, b, nodes) for a, b in ranges]

    def proof_bundle(self, evaluation_id: str) -> TlogProof:
        """A `c2sp.org/tlog-proof@v1` proof of an evaluation (the caller checks it is the
        tenant's): its leaf index and inclusion path to the log's checkpoint, or to the
        newest checkpoint while the log's checkpoint predates the leaf."""
        index, _ = self.log.leaf(evaluation_id)
        note, _ = self.checkpoint()
        size = Checkpoint.parse(note.text).size
        if size <= index:
            size = int(self.sth()["tree_size"])
            note = self.checkpoint_note(size)
        return TlogProof(index, tuple(self._path(index, size)), note.render())

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        size = self.log.size()
        if not 0 < first <= second <= size:
            raise InputError(f"consistency needs 0 < first <= second <= {size} (the log size)")
        return {"first": first, "second": second,
                "consistency_path": [h.hex() for h in self.consistency_proof(first, second)]}

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        ranges = merkle.consistency_ranges(first, second)
        nodes = self.log.nodes(merkle.needed_nodes(ranges))
        return [merkle.range_hash(a, b, nodes) for a, b in ranges]

    # ------------------------------------------------------------------ export

    def export(self, put: Callable[[str, bytes], None], exists: Callable[[str], bool]
               ) -> dict[str, int]:
        """Write the log's checkpoint and every tile and entry bundle it needs, as static
        files (`put(path, bytes)`); full tiles `exists` says are there are kept. The
        checkpoint goes last. Read-only: it exports the checkpoint the service serves
        (signed by the service's key) and signs nothing itself."""
        size = self.witnessed_size()
        if size is None:
            row = self.log.checkpoint(self.origin)
            if row is None:
                raise NotFound(f"the log {self.origin} has no checkpoint yet: ARKA Core signs "
                               "one as soon as it runs with a log that has leaves")
            size = int(row["tree_size"])
        note = self.checkpoint_note(size)
        written = kept = 0
        for tile in tiles_of(size):
            path = tile.path()
            if tile.full and exists(path):
                kept += 1
                continue
            put(path, self.entry_bundle(tile) if tile.level is None else self.tile(tile))
            written += 1
        put("checkpoint", note.render().encode())
        return {"tree_size": size, "written": written + 1, "kept": kept}
