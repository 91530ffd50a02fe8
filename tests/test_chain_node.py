"""Anchoring against a real JSON-RPC node (ganache, started here on 127.0.0.1): deploy,
anchor, confirmations, a reorganisation (evm_snapshot/evm_revert), the RPC going down and
coming back (node restarted on its database), a restart of the anchoring service, and the
offline `arka-cli verify --anchor` reading the root back from the chain. Also checks that
the committed contract artifact is what solc-js compiles from the Solidity source."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from arka.app.anchoring import AnchorPolicy, AnchorService
from arka.app.core import Core
from arka.settings import Settings
from arka.storage import Store
from arka.trust.chain import ARTIFACT, ChainAdapter, ChainConfig
from tests.helpers import EXAMPLES, ROOT, evaluate_body
from tests.node_tools import node_tools

KEY = "0x" + "5c" * 32  # the operator account ganache funds for this test
CLI = str(Path(sys.executable).parent / "arka-cli")
CASH = {"transaction": {"id": "t1", "amount": 12500, "currency": "USD", "type": "cash"}}
CTX = {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Ganache:
    def __init__(self, modules: Path, db: Path):
        self.modules, self.db, self.port = modules, db, _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cli = self.modules / "ganache" / "dist" / "node" / "cli.js"
        self.proc = subprocess.Popen(
            ["node", str(cli), "--server.host", "127.0.0.1", "--server.port", str(self.port),
             "--chain.chainId", "1337", "--database.dbPath", str(self.db), "--logging.quiet",
             "--wallet.accounts", f"{KEY},1000000000000000000000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if self.rpc("eth_chainId") == "0x539":
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("ganache did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def rpc(self, method: str, *params: Any) -> Any:
        r = httpx.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": method,
                                       "params": list(params)}, timeout=10)
        return r.json()["result"]

    def mine(self, n: int) -> None:
        for _ in range(n):
            self.rpc("evm_mine")


@pytest.fixture
def ganache(tmp_path: Path) -> Iterator[Ganache]:
    node = Ganache(node_tools(), tmp_path / "chain")
    node.start()
    try:
        yield node
    finally:
        node.stop()


def test_contract_artifact_matches_its_source(tmp_path: Path) -> None:
    modules = node_tools()
    out = tmp_path / "ArkaAnchor.json"
    subprocess.run(["node", str(ROOT / "contracts" / "compile.js"), str(out)], check=True,
                   env=dict(os.environ, NODE_PATH=str(modules)), capture_output=True)
    fresh, committed = json.loads(out.read_text()), json.loads(ARTIFACT.read_text())
    assert fresh["abi"] == committed["abi"]
    assert fresh["bytecode"] == committed["bytecode"], "recompile: node contracts/compile.js"


def test_anchoring_on_a_real_node(ganache: Ganache, tmp_path: Path) -> None:
    deployed = subprocess.run([CLI, "anchor", "deploy", "--rpc-url", ganache.url],
                              env=dict(os.environ, ARKA_ANCHOR_PRIVATE_KEY=KEY),
                              capture_output=True, text=True)
    assert deployed.returncode == 0, deployed.stderr
    address = deployed.stdout.strip()
    chain = ChainConfig("ethereum", ganache.url, address, 3, KEY)
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    store = Store(url)
    store.migrate()
    core = Core(Settings(url, tmp_path / "keys", chains=(chain,)), store)
    core.registry.deploy_rule("default", (EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text(), "yaml")
    rec, _ = evaluate_body(core, "default", {"context": CTX, "input": CASH})

    clock = [time.time()]

    def service() -> AnchorService:  # a fresh one is a restarted process
        return AnchorService(store, core.transparency.sth, [chain], AnchorPolicy(batch_entries=1),
                             clock=lambda: clock[0])

    snapshot = ganache.rpc("evm_snapshot")
    service().run_once()
    (anchor,) = store.anchors.of_chain("ethereum", ("submitted",))
    svc = service()
    svc.run_once()  # mined (instamine): one confirmation
    assert store.anchors.get(anchor["id"])["block_number"] is not None
    # reorganisation: the block with the anchor disappears
    ganache.rpc("evm_revert", snapshot)
    ganache.mine(2)
    svc.run_once()
    assert store.anchors.get(anchor["id"])["reorgs"] == 1
    # the RPC endpoint goes down, then comes back on the same chain
    ganache.stop()
    svc.run_once()
    assert svc.status["ethereum"]["healthy"] is False
    ganache.start()
    svc = service()  # and the anchoring process restarts too
    for _ in range(6):
        clock[0] += 60  # past any retry backoff
        svc.run_once()
        ganache.mine(1)
    final = store.anchors.get(anchor["id"])
    assert final["status"] == "confirmed" and final["confirmations"] >= 3, final
    assert final["tx_hash"] == anchor["tx_hash"]  # the same transaction, never a second one
    adapter = ChainAdapter(chain)
    logs = adapter.contract.events.Anchored.get_logs(from_block=0)
    assert len(logs) == 1
    # offline verification reads the anchored root back from the chain
    rec = core.evaluations.get("default", rec["evaluation_id"])
    assert rec["anchors"][0]["status"] == "confirmed"
    inclusion = core.transparency.inclusion(rec["evaluation_id"], final["tree_size"])
    (tmp_path / "rec.json").write_text(json.dumps(rec))
    (tmp_path / "inc.json").write_text(json.dumps(inclusion))
    (tmp_path / "keys.json").write_text(json.dumps(core.keys.jwks()))
    out = subprocess.run([CLI, "verify", str(tmp_path / "rec.json"), "--key",
                          str(tmp_path / "keys.json"), "--inclusion", str(tmp_path / "inc.json"),
                          "--anchor", "--rpc-url", ganache.url, "--contract", address],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "ok   anchor: root anchored in block" in out.stdout, out.stdout
    # a tree head that was never anchored is reported
    evaluate_body(core, "default", {"context": CTX, "input": CASH})
    later = core.transparency.inclusion(rec["evaluation_id"], core.transparency.sth()["tree_size"])
    (tmp_path / "inc.json").write_text(json.dumps(later))
    out = subprocess.run([CLI, "verify", str(tmp_path / "rec.json"), "--key",
                          str(tmp_path / "keys.json"), "--inclusion", str(tmp_path / "inc.json"),
                          "--anchor", "--rpc-url", ganache.url, "--contract", address],
                         capture_output=True, text=True)
    assert out.returncode == 1 and "FAIL anchor: this tree head's root is not anchored" in out.stdout
