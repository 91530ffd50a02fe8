"""C2SP `tlog-tiles`: the Merkle tree served as static tiles of 256 hashes.

A tile at level L, index N holds the hashes of the complete subtrees of height 8·L
numbered N·256 … N·256+255 (level 0: the leaf hashes); the entry bundle N holds the
leaves themselves, each as a big-endian uint16 length and the bytes. The rightmost
tiles are partial (`.p/<W>`, W of 1–255). Paths encode N in 3-digit groups, all but
the last prefixed with `x`: 1234067 → `x001/x234/067`.

`TileReader` computes any subtree hash, root or proof from tiles fetched by a callable
(HTTP, a directory, a bucket), so a monitor or mirror needs nothing but the tiles.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from arka.trust import merkle
from arka.trust.merkle import NodeKey
from arka.trust.note import NoteError

WIDTH = 256
HEIGHT = 8  # tree levels per tile level
HASH = 32
MAX_LEVEL = 63
MAX_ENTRY = 0xFFFF

_GROUP = re.compile(r"x\d{3}")


def encode_index(n: int) -> str:
    if n < 0:
        raise ValueError("tile index must not be negative")
    groups = [f"{n % 1000:03d}"]
    n //= 1000
    while n:
        groups.append(f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(reversed(groups))


@dataclass(frozen=True)
class Tile:
    level: int | None  # None: an entry bundle
    index: int
    width: int  # 256 for a full tile

    @property
    def full(self) -> bool:
        return self.width == WIDTH

    def path(self) -> str:
        head = "tile/entries" if self.level is None else f"tile/{self.level}"
        tail = "" if self.full else f".p/{self.width}"
        return f"{head}/{encode_index(self.index)}{tail}"

    @property
    def hash_level(self) -> int:
        return 0 if self.level is None else self.level

    def keys(self) -> list[NodeKey]:
        """The stored subtree hashes this tile (or the level-0 tile of a bundle) holds."""
        level = HEIGHT * self.hash_level
        return [(level, self.index * WIDTH + i) for i in range(self.width)]

    def needs_size(self) -> int:
        """The smallest tree size in which every hash of this tile exists."""
        return (self.index * WIDTH + self.width) * WIDTH ** self.hash_level


def parse_path(path: str) -> Tile:
    """`tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]` (with or without the
    leading `tile/`), exactly as the specification spells them."""
    parts = path.strip("/").split("/")
    if parts and parts[0] == "tile":
        parts = parts[1:]
    if len(parts) < 2:
        raise NoteError(f"tile path {path!r} is not tile/<L>/<N>[.p/<W>]")
    head, rest = parts[0], parts[1:]
    width = WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        w = rest[-1]
        if not w.isascii() or not w.isdigit() or w.startswith("0") or not 1 <= int(w) < WIDTH:
            raise NoteError(f"partial tile width {w!r} must be 1-255 without leading zeroes")
        width = int(w)
        rest = rest[:-2] + [rest[-2][:-2]]
    if head == "entries":
        level: int | None = None
    elif head.isascii() and head.isdigit() and (head == "0" or not head.startswith("0")) \
            and int(head) <= MAX_LEVEL:
        level = int(head)
    else:
        raise NoteError(f"tile level {head!r} must be 0-63 without leading zeroes, or 'entries'")
    if not rest or not all(_GROUP.fullmatch(g) for g in rest[:-1]) or \
            not (len(rest[-1]) == 3 and rest[-1].isascii() and rest[-1].isdigit()):
        raise NoteError(f"tile index in {path!r} must be 3-digit groups, all but the last "
                        "prefixed with 'x' (e.g. x001/x234/067)")
    index = 0
    for g in rest:
        index = index * 1000 + int(g.lstrip("x"))
    if encode_index(index) != "/".join(rest):  # e.g. a needless leading x000
        raise NoteError(f"tile index in {path!r} is not in its canonical encoding")
    return Tile(level, index, width)


def tile_for(level: int | None, index: int, size: int) -> Tile | None:
    """The tile (full, or partial as of `size`) at that position; None if it is empty."""
    span = WIDTH ** (0 if level is None else level)
    count = size // span - index * WIDTH  # complete subtrees of this level in the tile
    if count <= 0:
        return None
    return Tile(level, index, min(count, WIDTH))


def tiles_of(size: int) -> Iterable[Tile]:
    """Every tile (hash levels and entry bundles) of a tree of `size` leaves."""
    level = 0
    while WIDTH ** level <= size:
        span = WIDTH ** level
        for n in range((size // span + WIDTH - 1) // WIDTH):
            tile = tile_for(level, n, size)
            if tile is not None:
                yield tile
                if level == 0:
                    yield Tile(None, n, tile.width)
        level += 1


def encode_hashes(hashes: Iterable[bytes]) -> bytes:
    return b"".join(hashes)


def encode_entries(entries: Iterable[bytes]) -> bytes:
    out = bytearray()
    for e in entries:
        if len(e) > MAX_ENTRY:
            raise NoteError(f"a log entry of {len(e)} bytes does not fit an entry bundle")
        out += struct.pack(">H", len(e)) + e
    return bytes(out)


def decode_entries(data: bytes, width: int) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise NoteError("entry bundle ends inside a length prefix")
        (n,) = struct.unpack_from(">H", data, pos)
        if pos + 2 + n > len(data):
            raise NoteError("entry bundle ends inside an entry")
        out.append(data[pos + 2:pos + 2 + n])
        pos += 2 + n
    if len(out) != width:
        raise NoteError(f"entry bundle holds {len(out)} entries, expected {width}")
    return out


class TileReader:
    """Subtree hashes, roots and proofs of a tree of `size` leaves, from its tiles.

    `fetch(path)` returns a tile's bytes (e.g. over HTTP, or from an exported
    directory), raising LookupError (e.g. FileNotFoundError) when there is none; a
    missing partial tile is read as the prefix of its full tile. Tiles are cached for
    the reader's life; a tile of the wrong length is an error naming it. Hashes are not
    authenticated here: the proofs and roots computed from them are, by whoever checks
    them against a signed checkpoint."""

    def __init__(self, fetch: Callable[[str], bytes], size: int):
        self.fetch = fetch
        self.size = size
        self._tiles: dict[tuple[int, int], list[bytes]] = {}

    def _tile(self, level: int, index: int) -> list[bytes]:
        key = (level, index)
        if key not in self._tiles:
            tile = tile_for(level, index, self.size)
            if tile is None:
                raise NoteError(f"tile {level}/{index} is empty in a tree of size {self.size}")
            try:
                data = self.fetch(tile.path())
            except (LookupError, FileNotFoundError):
                if tile.full:
                    raise
                # a partial tile may be gone once its full tile exists: take its prefix
                data = self.fetch(Tile(level, index, WIDTH).path())[:tile.width * HASH]
            if len(data) != tile.width * HASH:
                raise NoteError(f"{tile.path()}: {len(data)} bytes, expected "
                                f"{tile.width * HASH}")
            self._tiles[key] = [data[i:i + HASH] for i in range(0, len(data), HASH)]
        return self._tiles[key]

    def node(self, key: NodeKey) -> bytes:
        """The hash of the complete subtree (level, index)."""
        level, index = key
        if (index + 1) << level > self.size:
            raise NoteError(f"subtree {key} is not complete in a tree of size {self.size}")
        t, r = divmod(level, HEIGHT)
        first = index << r  # the subtree's first hash at tile level t
        hashes = [self._tile(t, (first + i) // WIDTH)[(first + i) % WIDTH]
                  for i in range(1 << r)]
        while len(hashes) > 1:
            hashes = [merkle.node_hash(hashes[i], hashes[i + 1])
                      for i in range(0, len(hashes), 2)]
        return hashes[0]

    def nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        return {k: self.node(k) for k in keys}

    def root(self) -> bytes:
        if self.size == 0:
            return merkle.reference_root([])
        return merkle.range_hash(0, self.size, self.nodes(merkle.decompose(0, self.size)))

    def inclusion(self, index: int) -> list[bytes]:
        ranges = merkle.inclusion_ranges(index, self.size)
        nodes = self.nodes(merkle.needed_nodes(ranges))
        return [merkle.range_hash(a, b, nodes) for a, b in ranges]

    def consistency(self, first: int) -> list[bytes]:
        ranges = merkle.consistency_ranges(first, self.size)
        nodes = self.nodes(merkle.needed_nodes(ranges))
        return [merkle.range_hash(a, b, nodes) for a, b in ranges]
