"""Following a transparency log from outside: is each new checkpoint consistent with the
last one seen? (`arka-cli log monitor`)

A monitor keeps the last checkpoint it verified. Given the log's current checkpoint (its
signature checked against the log's key, and optionally a quorum of witness
cosignatures) it recomputes the root from the log's tiles, then proves the two trees
consistent: the newer one must extend the older one. Two checkpoints of one log that are
not consistent are a split view (the log showed different histories); the monitor
reports both, verbatim, so anyone can check the two signatures.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from arka.trust import merkle
from arka.trust.note import Checkpoint, NoteError, Verifier, cosigners, open_checkpoint
from arka.trust.tiles import TileReader


class SplitView(NoteError):
    """Two validly signed checkpoints of one log that no consistent log could produce."""

    code = "E_SPLIT_VIEW"

    def __init__(self, message: str, seen: str, now: str):
        super().__init__(message)
        self.seen = seen
        self.now = now


@dataclass(frozen=True)
class Seen:
    """The last checkpoint a monitor verified."""

    size: int
    root: bytes
    note: str

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "root": base64.b64encode(self.root).decode(),
                "checkpoint": self.note}

    @classmethod
    def from_json(cls, data: Any) -> Seen:
        if not isinstance(data, dict) or not isinstance(data.get("checkpoint"), str):
            raise NoteError("the monitor state is not {size, root, checkpoint}")
        cp = Checkpoint.parse(data["checkpoint"][:data["checkpoint"].rfind("\n\n") + 1])
        return cls(cp.size, cp.root, data["checkpoint"])


@dataclass(frozen=True)
class Observation:
    checkpoint: Checkpoint
    note: str
    cosigned_by: tuple[str, ...]
    grew: int  # leaves since the last checkpoint seen (0: the same; < 0: an older one)


def observe(fetch: Callable[[str], bytes], log_keys: Sequence[Verifier],
            seen: Seen | None, witness_keys: Sequence[Verifier] = (), quorum: int = 0
            ) -> Observation:
    """Check the log's current checkpoint against `seen`; SplitView when they disagree,
    NoteError when the checkpoint or the tiles are not what the log's keys signed."""
    raw = fetch("checkpoint")
    checkpoint, note = open_checkpoint(raw, log_keys)
    if checkpoint.origin not in {v.name for v in log_keys}:
        raise NoteError(f"the checkpoint's origin {checkpoint.origin!r} is not the log key's "
                        "name")
    cosigned = cosigners(note, witness_keys) if witness_keys else {}
    if len(cosigned) < quorum:
        raise NoteError(f"the checkpoint has {len(cosigned)} witness cosignatures, "
                        f"{quorum} required")
    text = note.render()
    reader = TileReader(fetch, checkpoint.size)
    if reader.root() != checkpoint.root:
        raise NoteError(f"the tiles of the tree of size {checkpoint.size} do not hash to "
                        "the checkpoint's root: the log serves tiles it did not sign")
    if seen is None:
        return Observation(checkpoint, text, tuple(sorted(cosigned)), checkpoint.size)
    if checkpoint.size >= seen.size:
        if seen.size == 0:
            consistent = True
        elif seen.size == checkpoint.size:
            consistent = seen.root == checkpoint.root
        else:
            consistent = merkle.verify_consistency(seen.size, checkpoint.size, seen.root,
                                                   checkpoint.root,
                                                   reader.consistency(seen.size))
    else:  # an older checkpoint: is it a prefix of the tree seen?
        older = TileReader(fetch, seen.size)
        prefix = merkle.range_hash(0, checkpoint.size, older.nodes(
            merkle.decompose(0, checkpoint.size))) if checkpoint.size else merkle.reference_root([])
        consistent = prefix == checkpoint.root and older.root() == seen.root
    if not consistent:
        raise SplitView(f"split view: the checkpoint of size {checkpoint.size} is not "
                        f"consistent with the one of size {seen.size} seen before", seen.note,
                        text)
    return Observation(checkpoint, text, tuple(sorted(cosigned)),
                       checkpoint.size - seen.size)
