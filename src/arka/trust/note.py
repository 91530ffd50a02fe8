"""C2SP signed notes, transparency-log checkpoints, cosignatures and proofs.

    note        = text ending in "\\n", a blank line, signature lines
    signature   = "— " name " " base64(4-byte key ID || signature) "\\n"
    key ID      = SHA-256(name || "\\n" || type || public key)[:4]
    verifier key (vkey) = name "+" hex(key ID) "+" base64(type || public key)

Types used here: 0x01 Ed25519 over the note text (the log's own signature) and 0x04
timestamped Ed25519 cosignatures (`cosignature/v1`, witnesses). A checkpoint's text is
origin, tree size and base64 root, one per line. A `c2sp.org/tlog-proof@v1` proof is
an entry's index and inclusion path followed by the checkpoint, verifiable offline.

Everything here is pure: parsing refuses anything the specifications do not allow
(`E_NOTE`), and verification needs only the note and the verifier keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from arka.base.errors import ArkaError

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
EM_DASH = "\u2014"
MAX_SIGNATURES = 100  # the specification asks verifiers to accept at least 16
MAX_NOTE_BYTES = 1 << 20
MAX_PROOF_LINES = 63  # a proof of a tree of up to 2**63 leaves
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
EMPTY_ROOT = hashlib.sha256(b"").digest()


class NoteError(ArkaError):
    code = "E_NOTE"


def _b64decode(text: str, what: str) -> bytes:
    """Standard base64 in its one canonical spelling (padding bits zero), so that no two
    texts decode to the same hash or signature."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not standard base64: {text[:60]!r}") from None
    if _b64(raw) != text:
        raise NoteError(f"{what} is not canonical base64: {text[:60]!r}")
    return raw


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _check_name(name: str) -> str:
    if not name or any(c.isspace() or c == "+" for c in name) or not name.isprintable():
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'")
    return name


def check_key_name(name: str) -> str:
    """`name` if it is a valid key name (non-empty, no spaces or '+'), else NoteError."""
    return _check_name(name)


def key_id(name: str, sig_type: int, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public).digest()[:4]


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# ------------------------------------------------------------------ notes

@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes  # 4 bytes
    signature: bytes

    def line(self) -> str:
        return f"{EM_DASH} {self.name} {_b64(self.key_id + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    text: str  # ends in "\n"
    signatures: tuple[Signature, ...]

    def render(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def with_signatures(self, extra: Iterable[Signature]) -> Note:
        """This note with `extra` signatures added (one per key: name and key ID)."""
        seen = {(s.name, s.key_id) for s in self.signatures}
        out = list(self.signatures)
        for s in extra:
            if (s.name, s.key_id) not in seen:
                seen.add((s.name, s.key_id))
                out.append(s)
        return Note(self.text, tuple(out))


def parse_signature_lines(text: str, limit: int = MAX_SIGNATURES) -> tuple[Signature, ...]:
    """Signature lines ("— name base64" each ending in a newline)."""
    if not text.endswith("\n"):
        raise NoteError("signature lines must each end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) > limit:
        raise NoteError(f"more than {limit} signatures")
    out = []
    for n, line in enumerate(lines, 1):
        prefix = EM_DASH + " "
        if not line.startswith(prefix):
            raise NoteError(f"signature line {n} does not start with '— ': {line[:60]!r}")
        parts = line[len(prefix):].split(" ")
        if len(parts) != 2:
            raise NoteError(f"signature line {n} is not '— <key name> <base64>'")
        name, blob = _check_name(parts[0]), _b64decode(parts[1], f"signature line {n}")
        if len(blob) < 5:
            raise NoteError(f"signature line {n} is too short for a key ID and signature")
        out.append(Signature(name, blob[:4], blob[4:]))
    return tuple(out)


def text_of(data: bytes | str, what: str) -> str:
    """The UTF-8 text of a note, proof or witness message of at most MAX_NOTE_BYTES."""
    if len(data) > MAX_NOTE_BYTES:
        raise NoteError(f"{what} is larger than {MAX_NOTE_BYTES} bytes")
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError(f"{what} is not valid UTF-8") from None


def parse_note(data: bytes | str, limit: int = MAX_SIGNATURES) -> Note:
    """A signed note, checked against the format (not yet against any key)."""
    data = text_of(data, "note")
    if any(ord(c) < 0x20 and c != "\n" for c in data):
        raise NoteError("note contains a control character other than newline")
    split = data.rfind("\n\n")
    if split < 0 or not data.endswith("\n"):
        raise NoteError("note has no blank line before its signatures, or does not end "
                        "in a newline")
    text, sigs = data[:split + 1], data[split + 2:]
    if not sigs:
        raise NoteError("note has no signatures")
    return Note(text, parse_signature_lines(sigs, limit))


class NoteSigner:
    """An Ed25519 note signer (type 0x01): the log signing its checkpoints."""

    sig_type = ED25519

    def __init__(self, name: str, key: Ed25519PrivateKey):
        self.name = _check_name(name)
        self.key = key
        self.public = _raw(key.public_key())
        self.key_id = key_id(self.name, self.sig_type, self.public)

    @property
    def vkey(self) -> str:
        return vkey(self.name, self.sig_type, self.public)

    def sign(self, text: str) -> Signature:
        return Signature(self.name, self.key_id, self.key.sign(text.encode()))


class CosignatureSigner(NoteSigner):
    """An Ed25519 `cosignature/v1` signer (type 0x04): a witness cosigning checkpoints."""

    sig_type = COSIGNATURE_V1

    def sign_at(self, text: str, timestamp: int) -> Signature:
        message = cosignature_message(text, timestamp)
        return Signature(self.name, self.key_id,
                         struct.pack(">Q", timestamp) + self.key.sign(message))

    def sign(self, text: str) -> Signature:  # pragma: no cover - a timestamp is required
        raise NoteError("a cosignature needs a timestamp: use sign_at")


def cosignature_message(text: str, timestamp: int) -> bytes:
    if not 0 <= timestamp < 2**63:
        raise NoteError("cosignature timestamp out of range")
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


def vkey(name: str, sig_type: int, public: bytes) -> str:
    return f"{name}+{key_id(name, sig_type, public).hex()}+{_b64(bytes([sig_type]) + public)}"


@dataclass(frozen=True)
class Verifier:
    """A verifier key: checks one key's signatures on notes."""

    name: str
    key_id: bytes
    sig_type: int
    public: bytes

    @classmethod
    def parse(cls, text: str) -> Verifier:
        """A vkey `<name>+<hex key ID>+<base64(type || public key)>`."""
        text = text.strip()
        parts = text.split("+", 2)  # the base64 key may hold '+'; the name and id do not
        if len(parts) != 3:
            raise NoteError(f"verifier key {text[:60]!r} is not <name>+<hex id>+<base64 key>")
        name, hex_id, blob = parts
        _check_name(name)
        try:
            kid = bytes.fromhex(hex_id)
        except ValueError:
            raise NoteError(f"verifier key id {hex_id!r} is not hex") from None
        raw = _b64decode(blob, "verifier key")
        if len(kid) != 4 or len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
            raise NoteError("verifier key must be an Ed25519 (type 01) or cosignature/v1 "
                            "(type 04) key with a 4-byte id")
        if key_id(name, raw[0], raw[1:]) != kid:
            raise NoteError(f"verifier key {name}: id {hex_id} does not match the key")
        return cls(name, kid, raw[0], raw[1:])

    @classmethod
    def of(cls, name: str, sig_type: int, public: Ed25519PublicKey | bytes) -> Verifier:
        raw = public if isinstance(public, bytes) else _raw(public)
        if len(raw) != 32:
            raise NoteError("an Ed25519 public key is 32 bytes")
        return cls(_check_name(name), key_id(name, sig_type, raw), sig_type, raw)

    @property
    def vkey(self) -> str:
        return vkey(self.name, self.sig_type, self.public)

    def matches(self, sig: Signature) -> bool:
        return sig.name == self.name and sig.key_id == self.key_id

    def verify(self, text: str, sig: Signature) -> int | None:
        """Whether `sig` by this key is valid over `text`: None when it is not; for a
        cosignature its timestamp, else 0."""
        key = Ed25519PublicKey.from_public_bytes(self.public)
        try:
            if self.sig_type == COSIGNATURE_V1:
                if len(sig.signature) != 72:
                    return None
                (timestamp,) = struct.unpack(">Q", sig.signature[:8])
                if timestamp >= 2**63:
                    return None
                key.verify(sig.signature[8:], cosignature_message(text, timestamp))
                return timestamp
            if len(sig.signature) != 64:
                return None
            key.verify(sig.signature, text.encode())
            return 0
        except InvalidSignature:
            return None


def verify_note(note: Note, verifiers: Sequence[Verifier]) -> dict[str, int]:
    """The known keys whose signatures on the note verify: {vkey name: timestamp (0 for a
    plain signature)}. Unknown signatures are ignored; a known key's failing signature
    rejects the whole note; so does a note no known key signed."""
    good: dict[str, int] = {}
    for sig in note.signatures:
        for v in verifiers:
            if v.matches(sig):
                ts = v.verify(note.text, sig)
                if ts is None:
                    raise NoteError(f"the signature of {v.name} (key {v.key_id.hex()}) does "
                                    "not verify")
                good[v.name] = ts
    if not good:
        raise NoteError("no signature by a known key: " + (
            ", ".join(sorted({f"{s.name}+{s.key_id.hex()}" for s in note.signatures}))))
    return good


# ------------------------------------------------------------------ checkpoints

@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.size), _b64(self.root), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise NoteError("checkpoint text must end in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or any(not line for line in lines):
            raise NoteError("checkpoint needs origin, tree size and root hash lines, none empty")
        origin, size_text, root_text = lines[:3]
        if not size_text.isascii() or not size_text.isdigit() or (
                size_text != "0" and size_text.startswith("0")):
            raise NoteError(f"checkpoint tree size {size_text[:30]!r} is not a decimal "
                            "without leading zeroes")
        size = int(size_text)
        if size >= 2**63:
            raise NoteError("checkpoint tree size is too large")
        root = _b64decode(root_text, "checkpoint root hash")
        if len(root) != 32:
            raise NoteError("checkpoint root hash is not 32 bytes")
        return cls(origin, size, root, tuple(lines[3:]))


def open_checkpoint(data: bytes | str, log: Sequence[Verifier],
                    origin: str | None = None) -> tuple[Checkpoint, Note]:
    """A checkpoint note signed by one of the `log` keys (and of `origin`, if given)."""
    note = parse_note(data)
    checkpoint = Checkpoint.parse(note.text)
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not {origin!r}")
    verify_note(note, [v for v in log if v.sig_type == ED25519])
    return checkpoint, note


def cosigners(note: Note, witnesses: Sequence[Verifier]) -> dict[str, int]:
    """The witnesses among `witnesses` whose valid cosignature the note carries
    {name: timestamp}; a witness's invalid cosignature is an error, a missing one is not."""
    cosign = [w for w in witnesses if w.sig_type == COSIGNATURE_V1]
    if not any(w.matches(s) for s in note.signatures for w in cosign):
        return {}
    return verify_note(note, cosign)


# ------------------------------------------------------------------ tlog-proof

@dataclass(frozen=True)
class TlogProof:
    index: int
    path: tuple[bytes, ...]
    checkpoint: str  # the signed checkpoint note, verbatim
    extra: bytes | None = None

    def render(self) -> str:
        if len(self.path) > MAX_PROOF_LINES or any(len(h) != 32 for h in self.path):
            raise NoteError(f"a proof is at most {MAX_PROOF_LINES} hashes of 32 bytes")
        lines = [PROOF_HEADER]
        if self.extra is not None:
            lines.append("extra " + _b64(self.extra))
        lines.append(f"index {self.index}")
        lines += [_b64(h) for h in self.path]
        return "".join(line + "\n" for line in lines) + "\n" + self.checkpoint

    @classmethod
    def parse(cls, data: bytes | str) -> TlogProof:
        data = text_of(data, "proof")
        head, sep, checkpoint = data.partition("\n\n")
        if not sep:
            raise NoteError("proof has no blank line before its checkpoint")
        lines = head.split("\n")
        if lines[0] != PROOF_HEADER:
            raise NoteError(f"proof does not start with {PROOF_HEADER!r}")
        pos, extra = 1, None
        if len(lines) > pos and lines[pos].startswith("extra "):
            extra = _b64decode(lines[pos][6:], "proof extra data")
            pos += 1
        if len(lines) <= pos or not lines[pos].startswith("index "):
            raise NoteError("proof has no 'index N' line")
        index_text = lines[pos][6:]
        if not index_text.isascii() or not index_text.isdigit() or (
                index_text != "0" and index_text.startswith("0")):
            raise NoteError(f"proof index {index_text[:30]!r} is not a decimal without "
                            "leading zeroes")
        path = tuple(_b64decode(h, f"proof hash line {n}")
                     for n, h in enumerate(lines[pos + 1:], 1))
        if len(path) > MAX_PROOF_LINES or any(len(h) != 32 for h in path):
            raise NoteError(f"proof hashes must be 32 bytes each, at most {MAX_PROOF_LINES}")
        index = int(index_text)
        if index >= 2**63:
            raise NoteError("proof index is too large")
        parse_note(checkpoint)  # well formed; the caller verifies it against its keys
        return cls(index, path, checkpoint, extra)
