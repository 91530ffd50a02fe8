"""The log as a C2SP transparency log, end to end through the API: checkpoints signed as
notes, the verifier key, hash tiles and entry bundles (read back with `TileReader`, which
needs nothing but the tiles), proof bundles checked offline by `arka-cli verify --bundle`,
witness cosigning with a quorum (in-process witnesses behind an HTTP transport here; real
`arka-cli witness serve` processes in test_tlog_witnesses.py), export as static files and
the monitor."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from arka.app.core import Core
from arka.app.transparency import entry_of, leaf_of
from arka.app.witnessing import Witnessing
from arka.interfaces.cli import main
from arka.settings import Settings
from arka.settings.transparency import TransparencySettings, WitnessConfig
from arka.storage import Store
from arka.trust import merkle, tiles
from arka.trust.note import (
    CosignatureSigner,
    NoteError,
    TlogProof,
    Verifier,
    cosigners,
    open_checkpoint,
)
from arka.trust.witness import MemoryState, Witness, log_keys
from tests.service_fixtures import api_client

ORIGIN = "arka.example.com/log"
YAML = {"content-type": "application/x-yaml"}
RULE = """
rule:
  metadata: {name: big-cash, version: 1.0.0, jurisdiction: US}
  inputs:
    - {name: transaction, type: object}
  conditions:
    - id: big
      expression: transaction.amount >= 10000
  actions:
    - trigger: big
      type: flag
      config: {severity: high, category: CTR, message: "cash"}
"""


def make_core(tmp_path: Path, transparency: TransparencySettings | None = None,
              name: str = "db", keys: Path | None = None) -> Core:
    url = f"sqlite:///{tmp_path / (name + '.db')}"
    store = Store(url)
    store.migrate()
    settings = dataclasses.replace(Settings(url, keys or tmp_path / "keys"),
                                   transparency=transparency or TransparencySettings(ORIGIN))
    return Core(settings, store)


def operator_args(tmp_path: Path, core: Core) -> list[str]:
    """Store options for an operator command on `core`'s store, keys and origin."""
    config = tmp_path / f"operator-{abs(hash(core.settings.database_url))}.yaml"
    config.write_text(f"storage: {{data_dir: '{tmp_path}'}}\n"
                      f"database: {{url: '{core.settings.database_url}'}}\n"
                      f"transparency: {{origin: {core.settings.transparency.origin}}}\n")
    return ["--config", str(config)]


def evaluate(client: Any, n: int, start: int = 0) -> list[str]:
    ids = []
    for i in range(start, start + n):
        r = client.post("/api/v1/evaluate", json={"context": {"jurisdiction": "US"},
                                                   "input": {"transaction": {"amount": 9000 + i}}})
        assert r.status_code == 201, r.text
        ids.append(r.json()["evaluation_id"])
    return ids


def append_leaves(core: Core, n: int, tag: bytes = b"") -> None:
    """Leaves straight into the log (the transaction path evaluations take), fast."""
    start = core.store.log.size()
    items = [(f"eval_{tag.hex()}{start + k:012d}", b'{"leaf":' + tag + str(start + k).encode()
              + b"}") for k in range(n)]
    for i in range(0, n, 5000):
        with core.store.write() as conn:
            core.store.log.append_in(conn, items[i:i + 5000])


def append_records(core: Core, client: Any, n: int, tag: str = "") -> None:
    """n stored evaluations, copies of one real record with their own ids (entry bundles
    read the leaves' bytes from the records), much faster than n requests."""
    template = client.get(f"/api/v1/evaluations/{evaluate(client, 1, 77_000)[0]}").json()
    records = []
    for _ in range(n - 1):
        eid = f"eval_{tag}{uuid.uuid4().hex}"
        proof = dict(template["trust_proof"], evaluation_id=eid, proof_id="proof_" + eid[5:])
        records.append(dict(template, evaluation_id=eid, trust_proof=proof))
    for i in range(0, len(records), 500):
        part = records[i:i + 500]
        core.store.evaluations.put_many(["default"] * len(part), part,
                                        [entry_of(r) for r in part])


def log_vkey(client: Any) -> Verifier:
    r = client.get("/api/v1/log/key")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return Verifier.parse(r.text.splitlines()[0])


def fetcher(client: Any) -> Any:
    def fetch(path: str) -> bytes:
        r = client.get("/api/v1/log/" + path)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return bytes(r.content)
    return fetch


@pytest.fixture
def served(tmp_path: Path) -> tuple[Core, Any]:
    core = make_core(tmp_path)
    client = api_client(core)
    assert client.post("/api/v1/rules", content=RULE, headers=YAML).status_code == 201
    return core, client


def test_checkpoint_is_a_signed_note_of_the_same_tree_as_the_json_head(served: Any) -> None:
    core, client = served
    evaluate(client, 3)
    r = client.get("/api/v1/log/checkpoint")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/plain; charset=utf-8"
    assert "max-age" in r.headers["cache-control"]
    checkpoint, note = open_checkpoint(r.text, [log_vkey(client)], ORIGIN)
    head = client.get("/api/v1/log/sth").json()
    assert (checkpoint.size, checkpoint.root.hex()) == (head["tree_size"], head["root_hash"])
    lines = r.text.split("\n")
    assert lines[:3] == [ORIGIN, "3", checkpoint.text().split("\n")[2]] and lines[3] == ""
    assert note.signatures[0].name == ORIGIN
    # the vkey is the note verifier key of the signing key, named by the origin
    jwk = client.get("/api/v1/keys").json()["keys"][0]
    import base64
    raw = base64.urlsafe_b64decode(jwk["x"] + "==")
    expected = hashlib.sha256(ORIGIN.encode() + b"\n\x01" + raw).digest()[:4]
    assert log_vkey(client).key_id == expected and log_vkey(client).public == raw
    # a second request for the same tree: the very same bytes (Ed25519 is deterministic)
    assert client.get("/api/v1/log/checkpoint").text == r.text


def test_tiles_rebuild_the_root_and_proofs_at_every_tile_boundary(served: Any) -> None:
    core, client = served
    fetch = fetcher(client)
    for target in (1, 255, 256, 257, 511, 66_000):
        append_leaves(core, target - core.store.log.size())
        checkpoint, _ = open_checkpoint(client.get("/api/v1/log/checkpoint").text,
                                        [log_vkey(client)])
        assert checkpoint.size == target
        reader = tiles.TileReader(fetch, target)
        assert reader.root() == checkpoint.root
        for index in {0, target // 2, target - 1}:
            _, leaf = core.store.log.leaves(1, index).__next__()[0][1:]
            assert merkle.verify_inclusion(index, target, leaf, reader.inclusion(index),
                                           checkpoint.root)
    old = merkle.range_hash(0, 300, core.store.log.nodes(set(merkle.decompose(0, 300))))
    assert merkle.verify_consistency(300, 66_000, old, checkpoint.root, reader.consistency(300))
    full = client.get("/api/v1/log/tile/0/000")
    assert len(full.content) == 8192 and "immutable" in full.headers["cache-control"]
    partial = client.get("/api/v1/log/tile/1/001.p/1")  # 66,000 = 257·256 + 208
    assert partial.status_code == 200 and len(partial.content) == 32
    assert client.get("/api/v1/log/tile/2/000.p/1").status_code == 200
    assert client.get("/api/v1/log/tile/0/257.p/208").status_code == 200
    assert client.get("/api/v1/log/tile/0/257.p/209").status_code == 404
    assert client.get("/api/v1/log/tile/0/257").status_code == 404  # not complete yet
    assert client.get("/api/v1/log/tile/3/000.p/1").status_code == 404


def test_entry_bundles_hold_the_leaves_and_need_their_own_permission(served: Any,
                                                                     ) -> None:
    core, client = served
    ids = evaluate(client, 4)
    r = client.get("/api/v1/log/tile/entries/000.p/4", headers={"accept-encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    entries = tiles.decode_entries(r.content, 4)
    level0 = client.get("/api/v1/log/tile/0/000.p/4").content
    assert [merkle.leaf_hash(e) for e in entries] == [level0[i:i + 32] for i in range(0, 128, 32)]
    record = client.get(f"/api/v1/evaluations/{ids[2]}").json()
    assert merkle.leaf_hash(entries[2]) == leaf_of(record)
    assert json.loads(entries[2]) == record["trust_proof"]
    raw = client.get("/api/v1/log/tile/entries/000.p/4", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in raw.headers and gzip.compress(raw.content)
    analyst = api_client(core, roles=("analyst",))
    assert analyst.get("/api/v1/log/tile/0/000.p/4").status_code == 200
    denied = analyst.get("/api/v1/log/tile/entries/000.p/4")
    assert denied.status_code == 403 and "log:entries" in denied.text


def test_an_entry_that_no_longer_matches_its_leaf_is_an_error(served: Any) -> None:
    """Entries are the proofs of the sealed records: one whose record was changed under
    the log (or whose leaf was) is refused, naming the leaf."""
    core, client = served
    evaluate(client, 3)
    with core.store.engine.begin() as conn:  # someone with DDL rights changes a leaf
        conn.execute(sa.text("DROP TRIGGER log_leaves_no_update"))
        conn.execute(sa.text("UPDATE log_leaves SET leaf_hash = :h WHERE idx = 1"),
                     {"h": b"\x00" * 32})
    r = client.get("/api/v1/log/tile/entries/000.p/3")
    assert r.status_code == 500 and "leaf 1" in r.text


@pytest.mark.parametrize("path, status", [
    ("tile/0/1", 400), ("tile/0/0001", 400), ("tile/00/000", 400), ("tile/64/000", 400),
    ("tile/0/x000/000", 400), ("tile/0/000.p/0", 400), ("tile/0/000.p/256", 400),
    ("tile/0/000.p/07", 400), ("tile/0/000.p/", 400), ("tile/entries", 400),
    ("tile/entries/", 400), ("tile/entries/abc", 400), ("tile/x/000", 400),
    ("tile/0/000.p/9", 404), ("tile/0/x001/000", 404), ("tile/entries/001", 404),
])
def test_malformed_or_absent_tile_paths(served: Any, path: str, status: int) -> None:
    core, client = served
    append_leaves(core, 5)
    r = client.get("/api/v1/log/" + path)
    assert r.status_code == status, r.text
    assert r.json()["error"]["message"]


def test_proof_bundle_verifies_offline_and_names_what_fails(served: Any, tmp_path: Path
                                                            ) -> None:
    core, client = served
    ids = evaluate(client, 5)
    r = client.get(f"/api/v1/evaluations/{ids[3]}/proof-bundle")
    assert r.status_code == 200 and r.text.startswith("c2sp.org/tlog-proof@v1\nindex 3\n")
    proof = TlogProof.parse(r.text)
    assert TlogProof.parse(proof.render()) == proof
    record = tmp_path / "record.json"
    record.write_text(json.dumps(client.get(f"/api/v1/evaluations/{ids[3]}").json()))
    bundle = tmp_path / "bundle.tlog-proof"
    bundle.write_text(r.text)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(client.get("/api/v1/keys").json()))
    vkey = log_vkey(client).vkey
    runner = CliRunner()

    def verify(*extra: str) -> Any:
        return runner.invoke(main, ["verify", str(record), "--key", str(keys), *extra])
    ok = verify("--bundle", str(bundle), "--log-key", vkey)
    assert ok.exit_code == 0, ok.output
    assert "ok   checkpoint" in ok.output and "ok   inclusion" in ok.output
    assert "ok   log_index" in ok.output and "VALID" in ok.output
    # the key from a file works the same
    (tmp_path / "log.vkey").write_text(vkey + "\n")
    assert verify("--bundle", str(bundle), "--log-key", str(tmp_path / "log.vkey")
                  ).exit_code == 0
    # another log's key: the checkpoint fails, named
    other = Verifier.of(ORIGIN, 1, Ed25519PrivateKey.generate().public_key()).vkey
    bad = verify("--bundle", str(bundle), "--log-key", other)
    assert bad.exit_code == 1 and "FAIL checkpoint" in bad.output
    # a tampered path: the inclusion fails
    lines = r.text.split("\n")
    lines[2] = lines[3]
    bundle.write_text("\n".join(lines))
    bad = verify("--bundle", str(bundle), "--log-key", vkey)
    assert bad.exit_code == 1 and "FAIL inclusion" in bad.output
    # another record's bundle: log_index and inclusion fail
    bundle.write_text(client.get(f"/api/v1/evaluations/{ids[1]}/proof-bundle").text)
    bad = verify("--bundle", str(bundle), "--log-key", vkey)
    assert bad.exit_code == 1 and "FAIL log_index" in bad.output
    # a quorum the bundle cannot meet: cosignatures fail
    witness = CosignatureSigner("w.example/1", Ed25519PrivateKey.generate())
    bundle.write_text(r.text)
    bad = verify("--bundle", str(bundle), "--log-key", vkey, "--witness-key", witness.vkey)
    assert bad.exit_code == 1 and "FAIL cosignatures: 0 of 1" in bad.output
    # another tenant cannot get the bundle
    other_tenant = api_client(core, tenant="other")
    assert other_tenant.get(f"/api/v1/evaluations/{ids[3]}/proof-bundle").status_code == 404


@pytest.mark.parametrize("content, args, message", [
    ("not a proof", (), "malformed proof bundle"),
    ("c2sp.org/tlog-proof@v1\nindex 01\n\nx\n", (), "leading zeroes"),
    ("c2sp.org/tlog-proof@v1\nindex 0\n!!!!\n\na\n0\nAA==\n\n— a AAAA\n", (), "base64"),
    (None, ("--log-key", "no-such-file"), "neither a verifier key"),
    (None, ("--log-key", "a+b+c"), "--log-key"),
    (None, ("--quorum", "2"), "--quorum 2 is more than"),
])
def test_verify_bundle_refuses_malformed_input(served: Any, tmp_path: Path,
                                               content: str | None, args: tuple[str, ...],
                                               message: str) -> None:
    core, client = served
    ids = evaluate(client, 1)
    record = tmp_path / "record.json"
    record.write_text(json.dumps(client.get(f"/api/v1/evaluations/{ids[0]}").json()))
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(client.get("/api/v1/keys").json()))
    bundle = tmp_path / "b.tlog-proof"
    bundle.write_text(content if content is not None else
                      client.get(f"/api/v1/evaluations/{ids[0]}/proof-bundle").text)
    log_key = () if "--log-key" in args else ("--log-key", log_vkey(client).vkey)
    out = CliRunner().invoke(main, ["verify", str(record), "--key", str(keys), "--bundle",
                                    str(bundle), *log_key, *args])
    assert out.exit_code in (1, 2) and message in out.output, out.output


# ------------------------------------------------------------------ witnesses

class Witnesses:
    """In-process witnesses (the real protocol logic) behind an httpx transport; a
    witness can be taken down."""

    def __init__(self, names: list[str], log_vkey: str):
        self.down: set[str] = set()
        self.witnesses = {n: Witness([CosignatureSigner(n, Ed25519PrivateKey.generate())],
                                     log_keys([log_vkey]), MemoryState()) for n in names}

    def config(self) -> tuple[WitnessConfig, ...]:
        return tuple(WitnessConfig(f"http://{n.replace('/', '-')}.test/", w.verifiers[0].vkey)
                     for n, w in self.witnesses.items())

    def client(self) -> httpx.Client:
        def handle(request: httpx.Request) -> httpx.Response:
            host = request.url.host
            name = next(n for n in self.witnesses if n.replace("/", "-") + ".test" == host)
            if name in self.down:
                raise httpx.ConnectError("connection refused", request=request)
            answer = self.witnesses[name].add_checkpoint(request.content)
            return httpx.Response(answer.status, content=answer.body.encode(),
                                  headers={"content-type": answer.content_type})
        return httpx.Client(transport=httpx.MockTransport(handle))


def witnessed_core(tmp_path: Path, quorum: int | None = None) -> tuple[Core, Any, Witnesses]:
    keys = tmp_path / "keys"
    plain = make_core(tmp_path, keys=keys, name="probe")  # the log key, before witnesses
    vkey = plain.transparency.log_keys()[0]
    ws = Witnesses(["w1.example/w", "w2.example/w"], vkey)
    settings = TransparencySettings(ORIGIN, ws.config(), quorum)
    core = make_core(tmp_path, settings, keys=keys)
    core.witnessing = Witnessing(core.transparency, core.store.log, settings, ws.client)
    client = api_client(core)
    assert client.post("/api/v1/rules", content=RULE, headers=YAML).status_code == 201
    return core, client, ws


def test_checkpoint_is_served_once_the_quorum_has_cosigned(tmp_path: Path) -> None:
    core, client, ws = witnessed_core(tmp_path)
    assert core.witnessing is not None
    ids = evaluate(client, 3)
    r = client.get("/api/v1/log/checkpoint")
    assert r.headers["x-checkpoint-witnessed"] == "false"  # nothing cosigned yet
    assert core.witnessing.run_once() == {"w1.example/w": "cosigned", "w2.example/w": "cosigned"}
    r = client.get("/api/v1/log/checkpoint")
    assert r.headers["x-checkpoint-witnessed"] == "true"
    keys = [w.verifiers[0] for w in ws.witnesses.values()]
    checkpoint, note = open_checkpoint(r.text, [log_vkey(client)])
    assert checkpoint.size == 3 and sorted(cosigners(note, keys)) == sorted(ws.witnesses)
    assert core.witnessing.run_once() == {"w1.example/w": "current", "w2.example/w": "current"}
    # the log grows while one witness is down: the served checkpoint stays the witnessed one
    evaluate(client, 2, start=10)
    ws.down.add("w2.example/w")
    outcomes = core.witnessing.run_once()
    assert outcomes == {"w1.example/w": "cosigned", "w2.example/w": "unreachable"}
    assert open_checkpoint(client.get("/api/v1/log/checkpoint").text,
                           [log_vkey(client)])[0].size == 3
    status = {w["name"]: w for w in client.get("/api/v1/log/witnesses").json()["witnesses"]}
    assert status["w1.example/w"]["size"] == 5 and status["w2.example/w"]["size"] == 3
    assert "ConnectError" in status["w2.example/w"]["last_error"]
    # evaluations never wait for witnesses
    evaluate(client, 1, start=20)
    ws.down.clear()
    assert core.witnessing.run_once()["w2.example/w"] == "cosigned"
    checkpoint, note = open_checkpoint(client.get("/api/v1/log/checkpoint").text,
                                       [log_vkey(client)])
    assert checkpoint.size == 6 and len(cosigners(note, keys)) == 2
    # the bundle carries the cosigned checkpoint: verify with quorum 2
    bundle = tmp_path / "b.tlog-proof"
    bundle.write_text(client.get(f"/api/v1/evaluations/{ids[1]}/proof-bundle").text)
    record = tmp_path / "r.json"
    record.write_text(json.dumps(client.get(f"/api/v1/evaluations/{ids[1]}").json()))
    keyfile = tmp_path / "k.json"
    keyfile.write_text(json.dumps(client.get("/api/v1/keys").json()))
    args = ["verify", str(record), "--key", str(keyfile), "--bundle", str(bundle),
            "--log-key", log_vkey(client).vkey]
    for k in keys:
        args += ["--witness-key", k.vkey]
    out = CliRunner().invoke(main, [*args, "--quorum", "2"])
    assert out.exit_code == 0 and "2 of 2 known witnesses cosigned" in out.output, out.output


def test_a_witness_that_lost_track_is_caught_up_through_409(tmp_path: Path) -> None:
    core, client, ws = witnessed_core(tmp_path, quorum=1)
    assert core.witnessing is not None
    evaluate(client, 2)
    core.witnessing.run_once()
    evaluate(client, 2, start=5)
    with core.store.engine.begin() as conn:  # the log forgets what the witnesses have
        conn.execute(sa.text("DELETE FROM log_witnesses"))
    assert set(core.witnessing.run_once().values()) == {"cosigned"}
    assert ws.witnesses["w1.example/w"].state.latest(ORIGIN).size == 4  # type: ignore[union-attr]


def test_a_forked_history_is_refused_by_the_witnesses(tmp_path: Path) -> None:
    """A second history with the same origin and key (the log operator showing another
    view) is never cosigned."""
    core, client, ws = witnessed_core(tmp_path)
    assert core.witnessing is not None
    evaluate(client, 3)
    assert set(core.witnessing.run_once().values()) == {"cosigned"}
    fork = make_core(tmp_path, core.settings.transparency, name="fork", keys=tmp_path / "keys")
    fork.witnessing = Witnessing(fork.transparency, fork.store.log,
                                 core.settings.transparency, ws.client)
    fork_client = api_client(fork)
    fork_client.post("/api/v1/rules", content=RULE, headers=YAML)
    evaluate(fork_client, 5, start=100)  # different leaves, a larger tree
    assert set(fork.witnessing.run_once().values()) == {"refused"}
    errors = [w["last_error"] for w in fork_client.get("/api/v1/log/witnesses").json()[
        "witnesses"]]
    assert all("422" in e and "does not verify" in e for e in errors), errors
    assert fork_client.get("/api/v1/log/checkpoint").headers["x-checkpoint-witnessed"] == "false"
    for w in ws.witnesses.values():
        assert w.state.latest(ORIGIN).size == 3  # type: ignore[union-attr]


def test_transparency_settings_refuse_bad_values() -> None:
    good = CosignatureSigner("w.example/1", Ed25519PrivateKey.generate()).vkey
    log_key = Verifier.of("l.example/1", 1, Ed25519PrivateKey.generate().public_key()).vkey
    for settings, message in [
        (TransparencySettings("has space"), "transparency.origin"),
        (TransparencySettings("a+b"), "transparency.origin"),
        (TransparencySettings(ORIGIN, (WitnessConfig("ftp://x", good),)), "url"),
        (TransparencySettings(ORIGIN, (WitnessConfig("https://x", "nonsense"),)), "key"),
        (TransparencySettings(ORIGIN, (WitnessConfig("https://x", log_key),)), "type 04"),
        (TransparencySettings(ORIGIN, (WitnessConfig("https://x", good),) * 2), "twice"),
        (TransparencySettings(ORIGIN, (WitnessConfig("https://x", good),), 2), "quorum"),
    ]:
        with pytest.raises(NoteError, match=message):
            settings.validate()


def test_transparency_block_in_the_configuration_file(tmp_path: Path) -> None:
    from arka.settings import load
    good = CosignatureSigner("w.example/1", Ed25519PrivateKey.generate()).vkey
    config = tmp_path / "arka.yaml"
    config.write_text(f"storage: {{data_dir: {tmp_path / 'data'}}}\n"
                      f"transparency:\n  origin: bank.example/log\n  witnesses:\n"
                      f"    - {{url: 'https://w.example/', key: '{good}'}}\n"
                      f"  cosign_interval: 2s\n")
    s = load(str(tmp_path / "data"), None, str(config))
    assert s.transparency.origin == "bank.example/log"
    assert s.transparency.required == 1 and s.transparency.cosign_interval == 2
    config.write_text(f"storage: {{data_dir: {tmp_path / 'data'}}}\n"
                      "transparency:\n  witnesses:\n    - {url: 'https://w/', key: 'x+y+z'}\n")
    from arka.base.errors import ArkaError
    with pytest.raises(ArkaError, match=r"transparency.witnesses\[0\].key"):
        load(str(tmp_path / "data"), None, str(config))
    config.write_text(f"storage: {{data_dir: {tmp_path / 'data'}}}\n"
                      "transparency:\n  origin: 'bad origin'\n")
    with pytest.raises(ArkaError, match="origin"):
        load(str(tmp_path / "data"), None, str(config))


# ------------------------------------------------------------------ export and monitor

def test_export_tiles_then_monitor_the_mirror_and_catch_a_fork(served: Any, tmp_path: Path
                                                               ) -> None:
    core, client = served
    evaluate(client, 3)
    append_records(core, client, 600)
    core.transparency.sth()  # as the running service does while the log grows
    mirror = tmp_path / "mirror"
    runner = CliRunner()
    store = operator_args(tmp_path, core)
    out = runner.invoke(main, ["log", "export-tiles", str(mirror), *store])
    assert out.exit_code == 0 and "tree size 603" in out.output, out.output
    assert (mirror / "checkpoint").read_text() == client.get("/api/v1/log/checkpoint").text
    assert (mirror / "tile/0/000").stat().st_size == 8192
    assert (mirror / "tile/0/002.p/91").stat().st_size == 91 * 32
    assert (mirror / "tile/1/000.p/2").is_file() and (mirror / "tile/entries/002.p/91").is_file()
    assert oct((mirror / "tile/0/000").stat().st_mode & 0o777) == "0o644"
    vkey = log_vkey(client).vkey
    state = tmp_path / "monitor.json"
    mon = ["log", "monitor", "--url", str(mirror), "--state", str(state), "--log-key", vkey]
    first = runner.invoke(main, mon)
    assert first.exit_code == 0 and "size 603" in first.output, first.output
    # grow, export again (full tiles kept), the monitor checks consistency
    append_records(core, client, 100)
    core.transparency.sth()
    out = runner.invoke(main, ["log", "export-tiles", str(mirror), *store])
    assert out.exit_code == 0 and "kept 4 full tiles" in out.output, out.output
    again = runner.invoke(main, mon)
    assert again.exit_code == 0 and "size 703 (+100)" in again.output, again.output
    # the same origin and key, another history: a split view, both checkpoints shown
    fork = make_core(tmp_path, core.settings.transparency, name="fork", keys=tmp_path / "keys")
    fork_client = api_client(fork)
    fork_client.post("/api/v1/rules", content=RULE, headers=YAML)
    append_records(fork, fork_client, 800, tag="f")
    fork.transparency.sth()
    forked = tmp_path / "forked"
    out = runner.invoke(main, ["log", "export-tiles", str(forked),
                               *operator_args(tmp_path, fork)])
    assert out.exit_code == 0, out.output
    split = runner.invoke(main, ["log", "monitor", "--url", str(forked), "--state", str(state),
                                 "--log-key", vkey])
    assert split.exit_code == 1 and "SPLIT VIEW" in split.output, split.output
    assert "arka.example.com/log\n703\n" in split.output
    assert "arka.example.com/log\n800\n" in split.output
    # a mirror whose tiles do not match its checkpoint
    tile = mirror / "tile/1/000.p/2"
    tile.write_bytes(b"\x00" * 64)
    bad = runner.invoke(main, ["log", "monitor", "--url", str(mirror), "--state",
                               str(tmp_path / "fresh.json"), "--log-key", vkey])
    assert bad.exit_code == 1 and "do not hash to the checkpoint" in bad.output


def test_monitor_over_http_and_its_malformed_arguments(served: Any, tmp_path: Path) -> None:
    core, client = served
    evaluate(client, 2)
    vkey = log_vkey(client).vkey
    runner = CliRunner()
    state = tmp_path / "s.json"
    state.write_text("{not json")
    out = runner.invoke(main, ["log", "monitor", "--url", str(tmp_path), "--state", str(state),
                               "--log-key", vkey])
    assert out.exit_code == 2 and "monitor state" in out.output
    out = runner.invoke(main, ["log", "monitor", "--url", str(tmp_path / "nope"), "--state",
                               str(state), "--log-key", vkey])
    assert out.exit_code == 2 and "neither an http(s) URL nor a directory" in out.output
    out = runner.invoke(main, ["log", "monitor", "--url", str(tmp_path), "--state", str(state),
                               "--log-key", "x+y+z"])
    assert out.exit_code == 2 and "--log-key" in out.output
    out = runner.invoke(main, ["log", "monitor", "--url", str(tmp_path), "--state", str(state),
                               "--log-key", vkey, "--quorum", "1"])
    assert out.exit_code == 2 and "--quorum 1 is more than" in out.output
    out = runner.invoke(main, ["log", "export-tiles", str(tmp_path / "s.json"), "--data-dir",
                               str(tmp_path / "u"), "--database-url",
                               core.settings.database_url])
    assert out.exit_code == 2 and "not a directory" in out.output
    empty = make_core(tmp_path, name="empty")
    out = runner.invoke(main, ["log", "export-tiles", str(tmp_path / "m"),
                               *operator_args(tmp_path, empty)])
    assert out.exit_code == 1 and "no checkpoint yet" in out.output


def test_export_tiles_to_s3(served: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                            ) -> None:
    """The same static layout in an S3-compatible bucket (moto's server here), with the
    content types a web front reads."""
    import boto3

    from tests.service_fixtures import s3_server
    core, client = served
    evaluate(client, 3)
    core.transparency.sth()
    gen = s3_server("tlog")
    endpoint = next(gen)
    try:
        for k, v in {"ARKA_S3_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "test",
                     "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1"}.items():
            monkeypatch.setenv(k, v)
        out = CliRunner().invoke(main, ["log", "export-tiles", "s3://tlog/mirror",
                                        *operator_args(tmp_path, core)])
        assert out.exit_code == 0 and "tree size 3" in out.output, out.output
        s3 = boto3.client("s3", endpoint_url=endpoint)
        checkpoint = s3.get_object(Bucket="tlog", Key="mirror/checkpoint")
        assert checkpoint["ContentType"].startswith("text/plain")
        assert checkpoint["Body"].read().decode() == client.get("/api/v1/log/checkpoint").text
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="tlog")["Contents"])
        assert keys == ["mirror/checkpoint", "mirror/tile/0/000.p/3",
                        "mirror/tile/entries/000.p/3"]
        out = CliRunner().invoke(main, ["log", "export-tiles", "s3://", *operator_args(
            tmp_path, core)])
        assert out.exit_code == 2 and "s3://bucket/prefix" in out.output
    finally:
        gen.close()
