"""ARKA's transparency log against an implementation nobody here wrote: Go's
golang.org/x/mod/sumdb `note` and `tlog` (via tests/go/tlogcheck) verify the C2SP
tiles and signed checkpoints that `arka.trust.{merkle,tiles,note}` produce, and reject
tampered ones; `tiles.TileReader` over the same directory agrees with `merkle`.

The Go program is built once (offline, GOPATH mode); without Go or Debian's
golang-golang-x-mod-dev the Go tests skip, or fail under ARKA_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import base64
import http.server
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from arka.trust import merkle, tiles
from arka.trust.merkle import NodeKey
from arka.trust.note import (
    Checkpoint,
    CosignatureSigner,
    Note,
    NoteSigner,
    TlogProof,
    Verifier,
    open_checkpoint,
    parse_note,
)
from tests.tlog_fixtures import (
    dir_fetch,
    run_tlogcheck,
    sign_checkpoint,
    tlogcheck_or_skip,
    tree_nodes,
    tree_root,
    write_tile_dir,
)

ORIGIN = "arka.example.com/log"
SIZES = (1, 255, 256, 257, 70_000)


def make_entries(n: int) -> list[bytes]:
    """Log entries of varied lengths, including empty and binary ones (which sumdb's
    text records could not carry)."""
    out = []
    for i in range(n):
        if i % 97 == 1:
            out.append(b"")
        elif i % 89 == 2:
            out.append(bytes(range(256)) + b"\n\n\x00")
        else:
            out.append(b'{"seq":%d,"kind":"decision","pad":"%s"}' % (i, b"x" * (i % 50)))
    return out


@dataclass
class Log:
    path: Path
    entries: list[bytes]
    nodes: dict[NodeKey, bytes]
    checkpoint: Checkpoint

    @property
    def size(self) -> int:
        return len(self.entries)

    def root_at(self, size: int) -> bytes:
        return tree_root(size, self.nodes)

    def inclusion(self, index: int) -> list[bytes]:
        return [merkle.range_hash(a, b, self.nodes)
                for a, b in merkle.inclusion_ranges(index, self.size)]

    def consistency(self, first: int) -> list[bytes]:
        return [merkle.range_hash(a, b, self.nodes)
                for a, b in merkle.consistency_ranges(first, self.size)]


def sample_indexes(size: int) -> list[int]:
    return sorted({i for i in (0, 1, 254, 255, 256, 257, size // 2, 65_535, 65_536,
                               size - 2, size - 1) if 0 <= i < size})


def b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


@pytest.fixture(scope="module")
def tlogcheck() -> Path:
    return tlogcheck_or_skip()


@pytest.fixture(scope="module")
def signer() -> NoteSigner:
    return NoteSigner(ORIGIN, Ed25519PrivateKey.generate())


@pytest.fixture(scope="module")
def logs(tmp_path_factory, signer) -> dict[int, Log]:
    entries = make_entries(max(SIZES))
    out = {}
    for size in SIZES:
        prefix = entries[:size]
        nodes = tree_nodes(prefix)
        path = tmp_path_factory.mktemp(f"log{size}")
        out[size] = Log(path, prefix, nodes, write_tile_dir(path, prefix, signer, nodes=nodes))
    return out


@pytest.fixture
def copy_of(tmp_path, logs):
    def copy(size: int) -> Path:
        target = tmp_path / f"copy{size}"
        shutil.copytree(logs[size].path, target)
        return target
    return copy


def flip(path: Path, offset: int = 0) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


# ------------------------------------------------------------------ the fixtures themselves

@pytest.mark.parametrize("size", SIZES)
def test_tile_dir_layout(logs, signer, size):
    """write_tile_dir writes exactly tiles_of(size) plus the checkpoint, each file the
    length the specification says, at paths parse_path reads back."""
    log = logs[size]
    files = {p.relative_to(log.path).as_posix() for p in log.path.rglob("*") if p.is_file()}
    assert files == {t.path() for t in tiles.tiles_of(size)} | {"checkpoint"}
    for t in tiles.tiles_of(size):
        assert tiles.parse_path(t.path()) == t
        data = (log.path / t.path()).read_bytes()
        if t.level is None:
            start = t.index * tiles.WIDTH
            assert tiles.decode_entries(data, t.width) == log.entries[start:start + t.width]
        else:
            assert len(data) == t.width * tiles.HASH
    if size <= 257:
        assert log.checkpoint.root == merkle.reference_root(
            [merkle.leaf_hash(e) for e in log.entries])
    cp, _ = open_checkpoint((log.path / "checkpoint").read_bytes(),
                            [Verifier.parse(signer.vkey)], ORIGIN)
    assert cp == log.checkpoint


# ------------------------------------------------------------------ Python: TileReader vs merkle

@pytest.mark.parametrize("size", SIZES)
def test_tile_reader_agrees_with_merkle(logs, size):
    log = logs[size]
    reader = tiles.TileReader(dir_fetch(log.path), size)
    assert reader.root() == log.checkpoint.root == log.root_at(size)
    for i in sample_indexes(size):
        proof = reader.inclusion(i)
        assert proof == log.inclusion(i)
        assert merkle.verify_inclusion(i, size, merkle.leaf_hash(log.entries[i]), proof,
                                       log.checkpoint.root)
    for first in sample_indexes(size + 1)[1:] + [size]:
        proof = reader.consistency(first)
        assert proof == log.consistency(first)
        assert merkle.verify_consistency(first, size, log.root_at(first), log.root_at(size),
                                         proof)


def test_tile_reader_proof_round_trips_as_tlog_proof(logs, signer):
    log = logs[70_000]
    reader = tiles.TileReader(dir_fetch(log.path), log.size)
    note_text = (log.path / "checkpoint").read_text(encoding="utf-8")
    for i in (0, 65_536, 69_999):
        proof = TlogProof(i, tuple(reader.inclusion(i)), note_text)
        back = TlogProof.parse(proof.render().encode())
        assert back == proof
        cp, _ = open_checkpoint(back.checkpoint, [Verifier.parse(signer.vkey)], ORIGIN)
        assert merkle.verify_inclusion(back.index, cp.size, merkle.leaf_hash(log.entries[i]),
                                       list(back.path), cp.root)


# ------------------------------------------------------------------ Go: good logs verify

@pytest.mark.parametrize("size", SIZES)
def test_go_verifies_root_and_inclusion(tlogcheck, logs, signer, size):
    log = logs[size]
    for i in sample_indexes(size):
        r = run_tlogcheck(log.path, signer.vkey, index=i, origin=ORIGIN)
        assert r["returncode"] == 0 and r["ok"], r
        assert r["checkpoint"] == {"origin": ORIGIN, "size": size,
                                   "root": b64(log.checkpoint.root)}
        assert r["signers"] == [f"{ORIGIN}+{signer.key_id.hex()}"]
        assert r["root_ok"] and r["tiles_root"] == b64(log.checkpoint.root)
        assert r["inclusion_ok"] and r["bundle_entry_ok"]
        assert r["leaf_hash"] == b64(merkle.leaf_hash(log.entries[i]))
        # Go's tlog.ProveRecord builds the very proof arka.trust.merkle builds
        assert r["inclusion_proof"] == [b64(h) for h in log.inclusion(i)]
        # and Go asked for nothing but C2SP tile paths
        for path in r["tiles_fetched"]:
            tiles.parse_path(path)


@pytest.mark.parametrize("size", SIZES)
def test_go_verifies_given_entry_and_leaf_hash(tlogcheck, logs, signer, size):
    log = logs[size]
    i = size - 1
    r = run_tlogcheck(log.path, signer.vkey, index=i, entry=log.entries[i])
    assert r["ok"] and r["inclusion_ok"], r
    r = run_tlogcheck(log.path, signer.vkey, index=i,
                      leaf_hash=merkle.leaf_hash(log.entries[i]), bundle=False)
    assert r["ok"] and r["inclusion_ok"] and "bundle_entry_ok" not in r, r
    assert not any(p.startswith("tile/entries/") for p in r["tiles_fetched"])


@pytest.mark.parametrize("size", SIZES)
def test_go_verifies_consistency(tlogcheck, logs, signer, size):
    log = logs[size]
    for first in sample_indexes(size + 1)[1:] + [size]:
        r = run_tlogcheck(log.path, signer.vkey, old_size=first, old_root=log.root_at(first))
        assert r["ok"] and r["consistency_ok"], (first, r)
        # Go's tlog.ProveTree is RFC 9162's consistency proof, hash for hash
        assert r["consistency_proof"] == [b64(h) for h in log.consistency(first)]
        assert merkle.verify_consistency(
            first, size, log.root_at(first), log.checkpoint.root,
            [base64.b64decode(h) for h in r["consistency_proof"]])


def test_go_ignores_unknown_cosignatures(tlogcheck, logs, signer, copy_of):
    """A checkpoint also cosigned by a witness (cosignature/v1, key type 0x04, which x/mod
    0.7.0 does not know) still opens with the log's key; the cosignature is listed as
    unverified."""
    d = copy_of(257)
    witness = CosignatureSigner("witness.example.com", Ed25519PrivateKey.generate())
    note = parse_note((d / "checkpoint").read_bytes())
    cosigned = note.with_signatures([witness.sign_at(note.text, 1_700_000_000)])
    (d / "checkpoint").write_text(cosigned.render(), encoding="utf-8")
    r = run_tlogcheck(d, signer.vkey, index=3)
    assert r["ok"], r
    assert r["unverified_signatures"] == [f"witness.example.com+{witness.key_id.hex()}"]


def test_go_reads_full_tile_when_partial_is_gone(tlogcheck, signer, tmp_path):
    """After the log grows, a mirror may hold only the full tile where the checkpoint
    needs a partial one: Go (like C2SP clients) falls back to the full tile's prefix."""
    entries = make_entries(512)
    big, small = tmp_path / "big", tmp_path / "small"
    write_tile_dir(big, entries, signer)
    cp = write_tile_dir(small, entries[:300], signer)
    for kind in ("0", "entries"):
        (small / f"tile/{kind}/001.p/44").unlink()
        shutil.copy(big / f"tile/{kind}/001", small / f"tile/{kind}/001")
    r = run_tlogcheck(small, signer.vkey, index=299, entry=entries[299])
    assert r["ok"] and r["checkpoint"]["root"] == b64(cp.root), r
    assert "tile/0/001.p/44" in r["tiles_fetched"] and "tile/0/001" in r["tiles_fetched"]
    reader = tiles.TileReader(dir_fetch(small), 300)  # ARKA's reader falls back likewise
    assert reader.root() == cp.root


# ------------------------------------------------------------------ Go: tampered logs fail

def assert_fails(r: dict, stage: str, *words: str) -> None:
    assert r["returncode"] == 1 and not r["ok"], r
    assert r["stage"] == stage, r
    for w in words:
        assert w in r["error"], r


@pytest.mark.parametrize("tile,index,stage", [
    ("tile/0/273.p/112", None, "root"),    # the rightmost leaf tile: the root changes
    ("tile/1/001.p/17", None, "root"),
    ("tile/2/000.p/1", None, "root"),
    ("tile/0/000", 5, "inclusion"),        # a full tile the proof of leaf 5 reads
    ("tile/0/000", 200, "inclusion"),
    ("tile/1/001.p/17", 300, "root"),
    ("tile/0/137", 137 * 256 + 200, "inclusion"),
])
def test_go_rejects_flipped_tile_byte(tlogcheck, signer, copy_of, tile, index, stage):
    d = copy_of(70_000)
    flip(d / tile, 17)  # in the tile's first hash
    r = run_tlogcheck(d, signer.vkey, index=index)
    assert_fails(r, stage)


@pytest.mark.parametrize("index", [5, 300, 65_535])
def test_go_rejects_flipped_proof_hash_in_level1_tile(tlogcheck, signer, copy_of, index):
    """tile/1/000 hash 1 (leaves 256-511) is on the proof path of leaves 0-255 and
    65_535. (Its hash 0 is on no proof path of leaf 5, whose subtree the proof
    recomputes from tile/0/000; x/mod 0.7.0 then does not notice the flip at all, see
    tests/go/tlogcheck/main.go.)"""
    d = copy_of(70_000)
    flip(d / "tile/1/000", 32 + 17 if index < 256 or index >= 512 else 17)
    assert_fails(run_tlogcheck(d, signer.vkey, index=index), "inclusion")


def test_go_rejects_truncated_tile(tlogcheck, signer, copy_of):
    d = copy_of(257)
    p = d / "tile/0/001.p/1"
    p.write_bytes(p.read_bytes()[:-1])
    assert_fails(run_tlogcheck(d, signer.vkey), "root", "tile/0/001.p/1")


def test_go_rejects_missing_tile(tlogcheck, signer, copy_of):
    d = copy_of(257)
    (d / "tile/0/000").unlink()
    assert run_tlogcheck(d, signer.vkey)["ok"]  # the root needs only tile/1/000.p/1
    assert_fails(run_tlogcheck(d, signer.vkey, index=5), "inclusion", "not found")


def test_go_rejects_checkpoint_signed_by_another_key(tlogcheck, logs, signer, copy_of):
    d = copy_of(256)
    impostor = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())  # same name, other key
    (d / "checkpoint").write_text(sign_checkpoint(logs[256].checkpoint, impostor))
    assert_fails(run_tlogcheck(d, signer.vkey), "signature", "no verifiable signatures")
    # the impostor's own vkey opens it: the tiles are fine
    assert run_tlogcheck(d, impostor.vkey)["ok"]


def test_go_rejects_bad_signature_by_the_right_key(tlogcheck, logs, signer, copy_of):
    d = copy_of(256)
    note = parse_note((d / "checkpoint").read_bytes())
    sig = note.signatures[0]
    bad = type(sig)(sig.name, sig.key_id, bytes([sig.signature[0] ^ 1]) + sig.signature[1:])
    (d / "checkpoint").write_text(Note(note.text, (bad,)).render())
    assert_fails(run_tlogcheck(d, signer.vkey), "signature", "invalid signature")


def test_go_rejects_edited_checkpoint_text(tlogcheck, logs, signer, copy_of):
    d = copy_of(256)
    text = (d / "checkpoint").read_text()
    (d / "checkpoint").write_text(text.replace("\n256\n", "\n255\n", 1))
    assert_fails(run_tlogcheck(d, signer.vkey), "signature")


@pytest.mark.parametrize("size", [257, 70_000])
def test_go_rejects_wrong_root(tlogcheck, logs, signer, copy_of, size):
    """Validly signed, but the root is not the tiles' root."""
    d = copy_of(size)
    cp = logs[size].checkpoint
    wrong = Checkpoint(cp.origin, cp.size, bytes([cp.root[0] ^ 1]) + cp.root[1:])
    (d / "checkpoint").write_text(sign_checkpoint(wrong, signer))
    r = run_tlogcheck(d, signer.vkey, index=0)
    assert_fails(r, "root")
    assert r["tiles_root"] == b64(cp.root)


@pytest.mark.parametrize("delta", [-1, 1])
def test_go_rejects_wrong_size(tlogcheck, logs, signer, copy_of, delta):
    d = copy_of(257)
    cp = logs[257].checkpoint
    (d / "checkpoint").write_text(
        sign_checkpoint(Checkpoint(cp.origin, cp.size + delta, cp.root), signer))
    assert_fails(run_tlogcheck(d, signer.vkey), "root")


def test_go_rejects_wrong_origin(tlogcheck, logs, signer):
    r = run_tlogcheck(logs[1].path, signer.vkey, origin="other.example.com/log")
    assert_fails(r, "checkpoint", "origin")


@pytest.mark.parametrize("size", [1, 257, 70_000])
def test_go_rejects_wrong_entry(tlogcheck, logs, signer, size):
    log = logs[size]
    i = size - 1
    assert_fails(run_tlogcheck(log.path, signer.vkey, index=i, entry=log.entries[i] + b" "),
                 "inclusion")
    assert_fails(run_tlogcheck(log.path, signer.vkey, index=i,
                               leaf_hash=merkle.leaf_hash(b"not the entry"), bundle=False),
                 "inclusion")
    if size > 1:  # another leaf's entry, at this index
        assert_fails(run_tlogcheck(log.path, signer.vkey, index=i, entry=log.entries[0]),
                     "inclusion")


def test_go_rejects_tampered_entry_bundle(tlogcheck, signer, copy_of):
    d = copy_of(257)
    flip(d / "tile/entries/000", 5)  # inside entry 0
    assert_fails(run_tlogcheck(d, signer.vkey, index=0), "bundle", "does not hash")
    assert run_tlogcheck(d, signer.vkey, index=0, bundle=False)["ok"]  # the tree is intact


def test_go_rejects_index_outside_tree(tlogcheck, logs, signer):
    assert_fails(run_tlogcheck(logs[256].path, signer.vkey, index=256), "inclusion")


def test_go_rejects_inconsistent_old_tree(tlogcheck, logs, signer):
    log = logs[70_000]
    assert_fails(run_tlogcheck(log.path, signer.vkey, old_size=1000,
                               old_root=log.root_at(999)), "consistency")


# ------------------------------------------------------------------ Go: over HTTP

@pytest.fixture
def http_log(logs) -> Iterator[str]:
    """The 257-leaf log served over HTTP at /api/v1/log/, requiring X-API-Key."""
    root = logs[257].path

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's spelling
            if self.headers.get("X-API-Key") != "sekrit":
                self.send_error(401)
                return
            prefix = "/api/v1/log/"
            rel = self.path[len(prefix):] if self.path.startswith(prefix) else ""
            target = (root / rel).resolve()
            if not rel or not target.is_file() or root.resolve() not in target.parents:
                self.send_error(404)
                return
            data = target.read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/v1/log"
    finally:
        server.shutdown()
        server.server_close()


def test_go_verifies_over_http_with_api_key(tlogcheck, logs, signer, http_log):
    log = logs[257]
    r = run_tlogcheck(http_log, signer.vkey, index=256, entry=log.entries[256],
                      header="X-API-Key: sekrit", old_size=100, old_root=log.root_at(100))
    assert r["ok"] and r["inclusion_ok"] and r["consistency_ok"], r
    r = run_tlogcheck(http_log + "/", signer.vkey, index=3, header={"X-API-Key": "sekrit"})
    assert r["ok"], r
    assert_fails(run_tlogcheck(http_log, signer.vkey), "checkpoint", "401")
    assert_fails(run_tlogcheck(http_log, signer.vkey, header="X-API-Key: wrong"),
                 "checkpoint", "401")
