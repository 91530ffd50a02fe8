"""Transparency-log fixtures shared by the interop tests: a C2SP tlog-tiles directory
writer and `tlogcheck`, an independent verifier built on Go's golang.org/x/mod/sumdb
(`note` for signed notes, `tlog` for tiles and proofs) — code nobody at ARKA wrote.

    cp = write_tile_dir(path, entries, signer)            # tiles + signed checkpoint
    run_tlogcheck(path, signer.vkey, index=3)             # -> {"ok": True, ...}
    run_tlogcheck("http://host/api/v1/log", vkey, header="X-API-Key: k")

The Go program (tests/go/tlogcheck/main.go) is built once per source version, offline,
in GOPATH mode against Debian's golang-golang-x-mod-dev sources (see `go_build_env`),
and cached under the temp directory. `tlogcheck_or_skip()` turns a missing Go toolchain
into a skip, or into a failure under ARKA_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from arka.trust import merkle, tiles
from arka.trust.merkle import NodeKey
from arka.trust.note import EMPTY_ROOT, Checkpoint, Note, NoteSigner

GO_SOURCE = Path(__file__).parent / "go" / "tlogcheck" / "main.go"
DEFAULT_GOPATH = "/usr/share/gocode"  # golang-golang-x-mod-dev installs here
XMOD = Path("src", "golang.org", "x", "mod", "sumdb", "tlog", "tlog.go")


class GoUnavailable(RuntimeError):
    """No Go toolchain or no golang.org/x/mod sources to build tlogcheck with."""


# ------------------------------------------------------------------ the tile directory

def tree_nodes(entries: Sequence[bytes]) -> dict[NodeKey, bytes]:
    """Every stored hash (complete aligned subtree) of the tree of `entries`."""
    nodes: dict[NodeKey, bytes] = {}
    for i, entry in enumerate(entries):
        for key, h in merkle.nodes_completed_by_append(i, merkle.leaf_hash(entry),
                                                       nodes.__getitem__):
            nodes[key] = h
    return nodes


def tree_root(size: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    return merkle.range_hash(0, size, dict(nodes)) if size else EMPTY_ROOT


def sign_checkpoint(checkpoint: Checkpoint, *signers: NoteSigner) -> str:
    """The checkpoint as a signed note (signature lines in the order of `signers`)."""
    text = checkpoint.text()
    return Note(text, tuple(s.sign(text) for s in signers)).render()


def write_tile_dir(path: str | os.PathLike[str], entries: Sequence[bytes],
                   signer: NoteSigner, origin: str | None = None,
                   nodes: Mapping[NodeKey, bytes] | None = None) -> Checkpoint:
    """Write the C2SP tlog-tiles tree of `entries` under `path`: every hash tile of
    `tiles_of(len(entries))` (concatenated 32-byte hashes), every entry bundle
    (`encode_entries`), and `checkpoint`, the tree's checkpoint (origin: `origin`, by
    default the signer's key name) as a note signed by `signer`. Returns the checkpoint."""
    base = Path(path)
    if nodes is None:
        nodes = tree_nodes(entries)
    size = len(entries)
    for tile in tiles.tiles_of(size):
        if tile.level is None:
            start = tile.index * tiles.WIDTH
            data = tiles.encode_entries(entries[start:start + tile.width])
        else:
            data = tiles.encode_hashes(nodes[k] for k in tile.keys())
        target = base / tile.path()
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    checkpoint = Checkpoint(origin or signer.name, size, tree_root(size, nodes))
    base.mkdir(parents=True, exist_ok=True)
    (base / "checkpoint").write_text(sign_checkpoint(checkpoint, signer), encoding="utf-8")
    return checkpoint


def dir_fetch(path: str | os.PathLike[str]):
    """A `TileReader` fetch callable over a tile directory."""
    base = Path(path)
    return lambda tile_path: (base / tile_path).read_bytes()


# ------------------------------------------------------------------ building tlogcheck

def gopath() -> Path:
    """The GOPATH holding golang.org/x/mod (ARKA_TEST_GOPATH, default Debian's)."""
    return Path(os.environ.get("ARKA_TEST_GOPATH", DEFAULT_GOPATH))


def go_build_env(cache: Path) -> dict[str, str]:
    """The environment of the offline build: GOPATH mode (no modules, no proxy, no
    checksum database), no cgo, the build cache under `cache`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GO")}
    env.update(GO111MODULE="off", GOPATH=str(gopath()), GOFLAGS="", GOPROXY="off",
               GOSUMDB="off", GOTOOLCHAIN="local", GOENV="off", GOWORK="off",
               CGO_ENABLED="0", GOCACHE=str(cache / "gocache"),
               GOTMPDIR="", GOBIN="")
    return env


@functools.lru_cache(maxsize=1)
def build_tlogcheck() -> Path:
    """The tlogcheck binary, built if its source, the toolchain or GOPATH changed."""
    go = shutil.which("go")
    if go is None:
        raise GoUnavailable("no `go` on PATH (Debian: apt-get install golang-go)")
    if not (gopath() / XMOD).is_file():
        raise GoUnavailable(f"no golang.org/x/mod sources under {gopath()}/src (Debian: "
                            "apt-get install golang-golang-x-mod-dev)")
    cache = Path(tempfile.gettempdir()) / f"arka-tlogcheck-{os.getuid()}"
    cache.mkdir(parents=True, exist_ok=True)
    version = subprocess.run([go, "version"], capture_output=True, text=True,
                             timeout=60).stdout
    key = hashlib.sha256(GO_SOURCE.read_bytes() + version.encode() +
                         str(gopath()).encode()).hexdigest()[:16]
    binary = cache / f"tlogcheck-{key}"
    if binary.is_file():
        return binary
    partial = cache / f"tlogcheck-{key}.{os.getpid()}.tmp"
    proc = subprocess.run([go, "build", "-trimpath", "-o", str(partial), "."],
                          cwd=GO_SOURCE.parent, env=go_build_env(cache),
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"go build of {GO_SOURCE} failed:\n{proc.stdout}{proc.stderr}")
    os.replace(partial, binary)  # atomic: parallel sessions may build at once
    return binary


def tlogcheck_or_skip() -> Path:
    """The built tlogcheck; a skip when Go is missing, a failure if
    ARKA_REQUIRE_SERVICES=1 (as .ci/run sets)."""
    try:
        return build_tlogcheck()
    except GoUnavailable as exc:
        if os.environ.get("ARKA_REQUIRE_SERVICES") == "1":
            pytest.fail(f"the Go tlog interop tests need Go and golang.org/x/mod: {exc}")
        pytest.skip(str(exc))


def _headers(header: str | Mapping[str, str] | Sequence[str] | None) -> list[str]:
    if header is None:
        return []
    if isinstance(header, str):
        return [header]
    if isinstance(header, Mapping):
        return [f"{k}: {v}" for k, v in header.items()]
    return list(header)


def run_tlogcheck(source: str | os.PathLike[str], vkey: str, index: int | None = None,
                  entry: bytes | None = None,
                  header: str | Mapping[str, str] | Sequence[str] | None = None, *,
                  leaf_hash: bytes | None = None, old_size: int | None = None,
                  old_root: bytes | None = None, origin: str | None = None,
                  bundle: bool = True, timeout: float = 120) -> dict:
    """Run the Go verifier on a tile directory or an HTTP base URL (serving
    `checkpoint` and `tile/...`; `header` e.g. "X-API-Key: k" or {"X-API-Key": "k"}).

    Returns its JSON result plus "returncode" (0: everything verified, 1: a check
    failed; "stage" and "error" say which). With `index`, the leaf is proved included;
    its hash comes from `entry`, else `leaf_hash`, else the entry bundle (which, unless
    `bundle` is false, must anyway hash to the tree's leaf). `old_size`/`old_root`
    adds a consistency proof. A usage error (exit 2) raises."""
    import base64
    args = [str(build_tlogcheck()), "-source", os.fspath(source), "-vkey", vkey]
    for h in _headers(header):
        args += ["-header", h]
    if origin is not None:
        args += ["-origin", origin]
    if index is not None:
        args += ["-index", str(index)]
    if entry is not None:
        args += ["-entry-file", "-"]
    if leaf_hash is not None:
        args += ["-leaf-hash", base64.b64encode(leaf_hash).decode()]
    if not bundle:
        args.append("-no-bundle")
    if old_size is not None or old_root is not None:
        if old_size is None or old_root is None:
            raise ValueError("old_size and old_root go together")
        args += ["-old-size", str(old_size), "-old-root", base64.b64encode(old_root).decode()]
    proc = subprocess.run(args, input=entry if entry is not None else b"",
                          capture_output=True, timeout=timeout)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"tlogcheck exited {proc.returncode}: "
                           f"{proc.stderr.decode(errors='replace')}")
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        raise RuntimeError(f"tlogcheck printed no JSON: {proc.stdout[:500]!r} "
                           f"{proc.stderr[:500]!r}") from None
    result["returncode"] = proc.returncode
    return result
