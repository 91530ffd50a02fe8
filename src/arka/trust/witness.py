"""C2SP `tlog-witness`: cosigning a log's checkpoints once they are proven consistent.

A witness trusts a set of log keys (an origin and its Ed25519 keys) and keeps, for each
origin, the latest checkpoint it cosigned. A log asks it to cosign a new checkpoint with

    POST /add-checkpoint
    old <size the log believes the witness has>      no leading zeroes
    <base64 hash>                                    ≤ 63 lines: the consistency proof
                                                     a blank line
    <checkpoint note>                                origin, size, root; signatures

and gets a `cosignature/v1` line (type 0x04, a timestamp in seconds, never 0) only when
the checkpoint is signed by a trusted key and extends the recorded one. The answers, in
the order they are decided:

    400  malformed body, or old size > checkpoint size
    404  unknown origin
    403  no trusted signature, or a trusted key's signature fails
    409  old size ≠ the recorded size; body "<recorded size>\\n" (text/x.tlog.size)
    422  size 0 with a root other than the empty tree's, a proof with old size 0, a
         consistency proof that fails, or the recorded size with another root
    200  the cosignature line(s)

The witness never goes backwards and never cosigns a fork: the check against the record
and the update are one compare-and-set (`State.compare_and_set`), so two requests cannot
both pass against the same record. Validly signed checkpoints refused with 422 are kept
(`State.record_refused`) as evidence of the log's misbehaviour.

`Witness` is pure protocol logic over a `State` (`MemoryState` here; the SQLite store is
`arka.trust.witness_state.SqliteState`). The log's side: `add_checkpoint_body` builds a
request, `parse_cosignatures` / `add_cosignatures` read a 200 answer and
`parse_conflict_size` a 409 one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from arka.base.errors import ArkaError
from arka.trust.merkle import verify_consistency
from arka.trust.note import (
    COSIGNATURE_V1,
    ED25519,
    EMPTY_ROOT,
    MAX_PROOF_LINES,
    Checkpoint,
    CosignatureSigner,
    Note,
    NoteError,
    Signature,
    Verifier,
    parse_note,
    parse_signature_lines,
    verify_note,
)

MAX_BODY = 1 << 20
MAX_SIZE = 2**63 - 1
SIZE_TYPE = "text/x.tlog.size"
TEXT_TYPE = "text/plain; charset=utf-8"
MAX_REFUSED = 1000  # refused checkpoints kept as evidence, the newest
_OLD_LINE = re.compile(r"old (0|[1-9][0-9]*)")
_SIZE_BODY = re.compile(r"(0|[1-9][0-9]*)\n")
_ORIGIN_HASH = re.compile(r"[0-9a-f]{64}")


class WitnessError(ArkaError):
    code = "E_WITNESS"


# ------------------------------------------------------------------ request bodies

@dataclass(frozen=True)
class AddCheckpoint:
    """A parsed `add-checkpoint` body: the note is well formed, not yet verified."""

    old_size: int
    proof: tuple[bytes, ...]
    note: Note
    checkpoint: Checkpoint


def _hash_line(line: str, n: int) -> bytes:
    try:
        raw = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError):
        raise WitnessError(f"proof line {n} is not standard base64: {line[:60]!r}") from None
    if len(raw) != 32 or base64.b64encode(raw).decode() != line:
        raise WitnessError(f"proof line {n} is not the canonical base64 of a 32-byte hash")
    return raw


def _decode(body: bytes | str, what: str) -> str:
    if isinstance(body, str):
        return body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise WitnessError(f"{what} is not valid UTF-8") from None


def parse_add_checkpoint(body: bytes | str) -> AddCheckpoint:
    """An `add-checkpoint` request body, strictly: `WitnessError` (a 400) for anything
    the protocol does not allow."""
    if len(body) > MAX_BODY:
        raise WitnessError(f"request body is larger than {MAX_BODY} bytes")
    text = _decode(body, "request body")
    bad = next((c for c in text if ord(c) < 0x20 and c != "\n"), None)
    if bad is not None:
        raise WitnessError(f"request body contains control character {bad!r}")
    head, blank, rest = text.partition("\n\n")
    if not blank:
        raise WitnessError("request body has no blank line between the proof and the "
                           "checkpoint")
    lines = head.split("\n")
    m = _OLD_LINE.fullmatch(lines[0])
    if m is None:
        raise WitnessError(f"the first line {lines[0][:60]!r} is not 'old <size>' (a "
                           "decimal without leading zeroes)")
    old = int(m[1])
    if old > MAX_SIZE:
        raise WitnessError("old size is too large")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise WitnessError(f"{len(lines) - 1} consistency proof lines: at most "
                           f"{MAX_PROOF_LINES} are allowed")
    proof = tuple(_hash_line(line, n) for n, line in enumerate(lines[1:], 1))
    try:
        note = parse_note(rest)
        checkpoint = Checkpoint.parse(note.text)
    except NoteError as exc:
        raise WitnessError(f"checkpoint: {exc.message}") from None
    return AddCheckpoint(old, proof, note, checkpoint)


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], checkpoint: str | Note) -> bytes:
    """The body of an `add-checkpoint` request: the log's side. `checkpoint` is the
    signed checkpoint note (text or `Note`)."""
    if not 0 <= old_size <= MAX_SIZE:
        raise WitnessError(f"old size {old_size} is out of range")
    if len(proof) > MAX_PROOF_LINES or any(len(h) != 32 for h in proof):
        raise WitnessError(f"a consistency proof is at most {MAX_PROOF_LINES} hashes of 32 "
                           "bytes")
    note = checkpoint.render() if isinstance(checkpoint, Note) else checkpoint
    parse_note(note)  # well formed
    lines = [f"old {old_size}", *(base64.b64encode(h).decode() for h in proof)]
    return ("".join(line + "\n" for line in lines) + "\n" + note).encode()


def parse_cosignatures(body: bytes | str) -> tuple[Signature, ...]:
    """The signature lines of a 200 answer (not yet verified: see `add_cosignatures`)."""
    text = _decode(body, "witness response")
    try:
        return parse_signature_lines(text)
    except NoteError as exc:
        raise WitnessError(f"witness response: {exc.message}") from None


def add_cosignatures(checkpoint: str | Note, body: bytes | str,
                     witnesses: Sequence[Verifier]) -> Note:
    """The checkpoint with the valid cosignatures of a 200 answer from the `witnesses`
    (type 0x04 vkeys) added. Cosignatures by other keys are ignored; `WitnessError` when
    one of theirs fails to verify or none of them cosigned."""
    note = checkpoint if isinstance(checkpoint, Note) else parse_note(checkpoint)
    cosign = [w for w in witnesses if w.sig_type == COSIGNATURE_V1]
    known = [s for s in parse_cosignatures(body) if any(w.matches(s) for w in cosign)]
    if not known:
        raise WitnessError("the witness response has no cosignature by a known witness key")
    try:
        verify_note(Note(note.text, tuple(known)), cosign)
    except NoteError as exc:
        raise WitnessError(f"witness response: {exc.message}") from None
    return note.with_signatures(known)


def parse_conflict_size(body: bytes | str) -> int:
    """The witness's recorded tree size from a 409 answer (`text/x.tlog.size`)."""
    text = _decode(body, "witness response")
    if _SIZE_BODY.fullmatch(text) is None or int(text) > MAX_SIZE:
        raise WitnessError(f"409 body {text[:40]!r} is not a tree size and a newline")
    return int(text)


def origin_hash(origin: str) -> str:
    """The lowercase hex SHA-256 of an origin: its path on the monitoring endpoint."""
    return hashlib.sha256(origin.encode()).hexdigest()


# ------------------------------------------------------------------ state

@dataclass(frozen=True)
class Record:
    """The latest checkpoint cosigned for an origin."""

    size: int
    root: bytes
    checkpoint: str  # the note: text, the log signatures verified, the cosignature(s)
    timestamp: int  # of the cosignature


@dataclass(frozen=True)
class Refusal:
    """A validly signed checkpoint refused as inconsistent: evidence against the log."""

    origin: str
    checkpoint: str  # the note as submitted
    old_size: int
    reason: str
    at: int  # seconds


class State(Protocol):
    """Where a witness keeps its records. `compare_and_set` is atomic and durable."""

    def latest(self, origin: str) -> Record | None:
        """The latest record of `origin`, None when it never cosigned one."""
        ...

    def compare_and_set(self, origin: str, expected: Record | None, new: Record) -> bool:
        """Store `new` for `origin` if the latest record still has the size and root of
        `expected` (None: there is no record yet), atomically, persisted before it
        returns True; False (and no change) otherwise."""
        ...

    def record_refused(self, refusal: Refusal) -> None:
        """Keep a refused checkpoint (the newest `MAX_REFUSED` or so)."""
        ...

    def refused(self, origin: str | None = None, limit: int = 100) -> list[Refusal]:
        """The refused checkpoints kept, newest first (of `origin`, if given)."""
        ...


def _same(a: Record | None, b: Record | None) -> bool:
    if a is None or b is None:
        return a is b
    return (a.size, a.root) == (b.size, b.root)


class MemoryState:
    """A `State` in memory (tests, embedding): a lock makes compare-and-set atomic."""

    def __init__(self, max_refused: int = MAX_REFUSED) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, Record] = {}
        self._refused: deque[Refusal] = deque(maxlen=max_refused)

    def latest(self, origin: str) -> Record | None:
        with self._lock:
            return self._records.get(origin)

    def compare_and_set(self, origin: str, expected: Record | None, new: Record) -> bool:
        with self._lock:
            if not _same(self._records.get(origin), expected):
                return False
            self._records[origin] = new
            return True

    def record_refused(self, refusal: Refusal) -> None:
        with self._lock:
            self._refused.append(refusal)

    def refused(self, origin: str | None = None, limit: int = 100) -> list[Refusal]:
        with self._lock:
            out = [r for r in reversed(self._refused) if origin is None or r.origin == origin]
        return out[:limit]


# ------------------------------------------------------------------ the witness

@dataclass(frozen=True)
class Response:
    """An HTTP answer: status, body and content type."""

    status: int
    body: str
    content_type: str = TEXT_TYPE


def _error(status: int, message: str) -> Response:
    return Response(status, message.rstrip("\n") + "\n")


def log_keys(vkeys: Iterable[str | Verifier]) -> dict[str, tuple[Verifier, ...]]:
    """Trusted logs from their vkeys: {origin: keys}, the origin being the key name (as
    C2SP recommends for a log's key). Each must be an Ed25519 (type 0x01) key."""
    logs: dict[str, list[Verifier]] = {}
    for item in vkeys:
        try:
            v = item if isinstance(item, Verifier) else Verifier.parse(item)
        except NoteError as exc:
            raise WitnessError(f"log key: {exc.message}") from None
        if v.sig_type != ED25519:
            raise WitnessError(f"log key {v.name}+{v.key_id.hex()} is type "
                               f"0x{v.sig_type:02x}: a log signs with Ed25519 (type 0x01)")
        keys = logs.setdefault(v.name, [])
        if v not in keys:
            keys.append(v)
    return {origin: tuple(keys) for origin, keys in logs.items()}


class Witness:
    """The `add-checkpoint` and monitoring logic of one witness over a `State`.

    `logs` maps each trusted origin to its log keys (`log_keys` builds it from vkeys);
    `signers` are the witness's cosigning keys; `clock` gives seconds since the epoch."""

    def __init__(self, signers: Sequence[CosignatureSigner],
                 logs: Mapping[str, Sequence[Verifier]], state: State,
                 clock: Callable[[], float] = time.time) -> None:
        if not signers:
            raise WitnessError("a witness needs a cosigning key")
        self.signers = tuple(signers)
        self.logs = {origin: tuple(v for v in keys if v.sig_type == ED25519)
                     for origin, keys in logs.items()}
        self.state = state
        self.clock = clock
        self._by_hash = {origin_hash(origin): origin for origin in self.logs}

    @property
    def verifiers(self) -> tuple[Verifier, ...]:
        """The witness's own keys, as a client verifies them (type 0x04)."""
        return tuple(Verifier.of(s.name, COSIGNATURE_V1, s.public) for s in self.signers)

    def add_checkpoint(self, body: bytes | str) -> Response:
        """Decide an `add-checkpoint` request; on 200 the new record is persisted."""
        try:
            req = parse_add_checkpoint(body)
        except WitnessError as exc:
            return _error(400, exc.message)
        cp = req.checkpoint
        keys = self.logs.get(cp.origin)
        if not keys:
            return _error(404, f"unknown log origin {cp.origin[:200]!r}")
        try:
            verify_note(req.note, keys)
        except NoteError as exc:
            return _error(403, f"checkpoint of {cp.origin[:200]!r}: {exc.message}")
        if req.old_size > cp.size:
            return _error(400, f"old size {req.old_size} is larger than the checkpoint size "
                          f"{cp.size}")
        latest = self.state.latest(cp.origin)
        if req.old_size != (latest.size if latest else 0):
            return self._conflict(latest)
        reason = self._inconsistency(req, latest)
        if reason is not None:
            self.state.record_refused(Refusal(cp.origin, req.note.render(), req.old_size,
                                              reason, int(self.clock())))
            return _error(422, reason)
        timestamp = max(int(self.clock()), latest.timestamp if latest else 0, 1)
        cosignatures = tuple(s.sign_at(req.note.text, timestamp) for s in self.signers)
        log_signatures = tuple(s for s in req.note.signatures if any(k.matches(s) for k in keys))
        record = Record(cp.size, cp.root, Note(req.note.text, log_signatures + cosignatures)
                        .render(), timestamp)
        if not self.state.compare_and_set(cp.origin, latest, record):
            return self._conflict(self.state.latest(cp.origin))
        return Response(200, "".join(s.line() for s in cosignatures))

    @staticmethod
    def _conflict(latest: Record | None) -> Response:
        return Response(409, f"{latest.size if latest else 0}\n", SIZE_TYPE)

    @staticmethod
    def _inconsistency(req: AddCheckpoint, latest: Record | None) -> str | None:
        """Why the checkpoint does not extend the record (422), or None."""
        cp = req.checkpoint
        if cp.size == 0 and cp.root != EMPTY_ROOT:
            return "a checkpoint of size 0 must have the root of the empty tree"
        if req.old_size == 0:
            if req.proof:
                return "the consistency proof must be empty when the old size is 0"
            return None
        assert latest is not None  # old size == the recorded size > 0
        if cp.size == latest.size:
            if cp.root != latest.root:
                return (f"tree size {cp.size} was cosigned with another root hash: the log "
                        "forked")
            if req.proof:
                return "the consistency proof must be empty when the sizes are equal"
            return None
        if not verify_consistency(latest.size, cp.size, latest.root, cp.root,
                                  list(req.proof)):
            return (f"the consistency proof from size {latest.size} to {cp.size} does not "
                    "verify")
        return None

    def checkpoint(self, hashed_origin: str) -> Response:
        """`GET /<origin hash>/checkpoint`: the latest cosigned checkpoint."""
        origin = self._by_hash.get(hashed_origin) if _ORIGIN_HASH.fullmatch(
            hashed_origin) else None
        if origin is None:
            return _error(404, f"no trusted log has the origin hash {hashed_origin[:80]!r} "
                          "(the lowercase hex SHA-256 of the origin)")
        latest = self.state.latest(origin)
        if latest is None:
            return _error(404, f"no checkpoint of {origin!r} was cosigned yet")
        return Response(200, latest.checkpoint)
