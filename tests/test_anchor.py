"""Anchoring signed tree heads on an EVM chain: the in-process chain (eth-tester/py-evm)
for the state machine, confirmations, a reorganisation, an RPC outage and a restart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from web3 import EthereumTesterProvider

from arka.app.anchoring import AnchorPolicy, AnchorService
from arka.app.core import Core
from arka.settings import Settings
from arka.settings.blockchain import ConfigError, parse_blockchain
from arka.storage import Store
from arka.trust.chain import ChainAdapter, ChainConfig, dev_private_key
from tests.helpers import EXAMPLES, evaluate_body
from tests.service_fixtures import api_client

CASH = {"transaction": {"id": "t1", "amount": 12500, "currency": "USD", "type": "cash"}}
CTX = {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"}


class FlakyProvider(EthereumTesterProvider):
    """The in-process chain, with a switch that makes every RPC call fail."""

    down = False

    def make_request(self, method: Any, params: Any) -> Any:
        if self.down:
            raise ConnectionError("RPC endpoint unreachable")
        return super().make_request(method, params)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def chain() -> tuple[FlakyProvider, ChainConfig]:
    provider = FlakyProvider()
    config = ChainConfig("dev", "eth-tester://", None, 3, dev_private_key())
    address = ChainAdapter(config, provider).deploy()
    return provider, ChainConfig("dev", "eth-tester://", address, 3, dev_private_key())


@pytest.fixture
def core(tmp_path: Path) -> Core:
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    store = Store(url)
    store.migrate()
    core = Core(Settings(url, tmp_path / "keys"), store)
    core.registry.deploy_rule("default", (EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text(), "yaml")
    return core


def service(core: Core, provider: Any, config: ChainConfig, clock: Clock) -> AnchorService:
    return AnchorService(core.store, core.transparency.sth, [config], AnchorPolicy(batch_entries=1),
                         {config.name: ChainAdapter(config, provider)}, clock)


def events(provider: Any, config: ChainConfig) -> list[Any]:
    adapter = ChainAdapter(config, provider)
    return list(adapter.contract.events.Anchored.get_logs(from_block=0))


def test_anchor_goes_pending_submitted_confirmed(core: Core, chain: Any) -> None:
    provider, config = chain
    clock = Clock()
    for _ in range(3):
        evaluate_body(core, "default", {"context": CTX, "input": CASH})
    svc = service(core, provider, config, clock)
    svc.run_once()
    (anchor,) = core.store.anchors.of_chain("dev", ("pending", "submitted", "confirmed"))
    assert anchor["status"] == "submitted" and anchor["tx_hash"]
    svc.run_once()  # mined in the next block: one confirmation of three
    assert core.store.anchors.get(anchor["id"])["status"] == "submitted"
    adapter = ChainAdapter(config, provider)
    adapter.w3.testing.mine(2)
    svc.run_once()
    done = core.store.anchors.get(anchor["id"])
    assert done["status"] == "confirmed" and done["confirmations"] >= 3
    head = core.transparency.sth()
    block, size = adapter.read_anchor(bytes.fromhex(head["root_hash"]))
    assert block == done["block_number"] and size == 3 == head["tree_size"]
    # the API shows it, and each evaluation shows the anchor that covers it
    client = api_client(core, sth_interval=0)
    listing = client.get("/api/v1/anchors").json()
    assert listing["total"] == 1 and listing["items"][0]["status"] == "confirmed"
    shown = client.get(f"/api/v1/anchors/{anchor['id']}").json()
    assert shown["tree_size"] == 3
    # the anchored tree is the one the log's checkpoint of that size describes
    from arka.trust.note import Verifier, open_checkpoint
    vkey = Verifier.parse(client.get("/api/v1/log/key").text.splitlines()[0])
    checkpoint, _ = open_checkpoint(shown["checkpoint"], [vkey])
    assert (checkpoint.size, checkpoint.root.hex()) == (3, shown["root_hash"])
    assert client.get("/api/v1/anchors/999").status_code == 404
    assert client.get("/api/v1/anchors?status=weird").status_code == 400
    ids = [r["evaluation_id"] for r in core.store.evaluations.list("default", decision=None, rule_id=None, start=None,
                                                        end=None, page=1, per_page=10)[0]]
    rec = client.get(f"/api/v1/evaluations/{ids[0]}").json()
    assert rec["anchors"][0]["chain"] == "dev" and rec["anchors"][0]["tree_size"] == 3
    # nothing new: no second anchor for the same tree size
    svc.run_once()
    assert len(events(provider, config)) == 1


def test_a_reorganisation_before_confirmation_resubmits(core: Core, chain: Any) -> None:
    provider, config = chain
    clock = Clock()
    evaluate_body(core, "default", {"context": CTX, "input": CASH})
    adapter = ChainAdapter(config, provider)
    snapshot = adapter.w3.testing.snapshot()
    svc = service(core, provider, config, clock)
    svc.run_once()  # submitted and mined
    anchor = core.store.anchors.of_chain("dev", ("submitted",))[0]
    svc.run_once()
    assert core.store.anchors.get(anchor["id"])["block_number"] is not None
    adapter.w3.testing.revert(snapshot)  # the block with our transaction is gone
    adapter.w3.testing.mine(1)
    svc.run_once()  # receipt missing: rebroadcast the same signed transaction
    again = core.store.anchors.get(anchor["id"])
    assert again["reorgs"] == 1 and again["status"] == "submitted"
    adapter.w3.testing.mine(3)
    svc.run_once()
    final = core.store.anchors.get(anchor["id"])
    assert final["status"] == "confirmed" and final["tx_hash"] == anchor["tx_hash"]
    assert len(events(provider, config)) == 1


def test_rpc_down_then_back(core: Core, chain: Any) -> None:
    provider, config = chain
    clock = Clock()
    evaluate_body(core, "default", {"context": CTX, "input": CASH})
    svc = service(core, provider, config, clock)
    provider.down = True
    svc.run_once()
    assert svc.status["dev"]["healthy"] is False and "unreachable" in svc.status["dev"]["last_error"]
    (anchor,) = core.store.anchors.of_chain("dev", ("pending",))
    svc.run_once()
    assert core.store.anchors.get(anchor["id"])["attempts"] == 1  # backing off, not hammering
    provider.down = False
    svc.run_once()
    assert core.store.anchors.get(anchor["id"])["status"] == "pending"  # still waiting
    clock.now += 10
    svc.run_once()
    assert core.store.anchors.get(anchor["id"])["status"] == "submitted"
    ChainAdapter(config, provider).w3.testing.mine(3)
    svc.run_once()
    assert core.store.anchors.get(anchor["id"])["status"] == "confirmed"
    assert svc.status["dev"]["healthy"] is True


def test_restart_mid_anchor_neither_loses_nor_duplicates(core: Core, chain: Any) -> None:
    provider, config = chain
    clock = Clock()
    evaluate_body(core, "default", {"context": CTX, "input": CASH})
    first = service(core, provider, config, clock)
    first.run_once()
    (anchor,) = core.store.anchors.of_chain("dev", ("submitted",))
    # a new process: new service and adapter, same database and chain
    second = service(core, provider, config, clock)
    ChainAdapter(config, provider).w3.testing.mine(3)
    second.run_once()
    assert core.store.anchors.get(anchor["id"])["status"] == "confirmed"
    assert len(events(provider, config)) == 1


def test_crash_after_signing_before_broadcast_resends_the_same_transaction(
        core: Core, chain: Any) -> None:
    provider, config = chain
    clock = Clock()
    evaluate_body(core, "default", {"context": CTX, "input": CASH})
    svc = service(core, provider, config, clock)
    adapter = svc.adapters["dev"]
    adapter.broadcast = lambda raw: (_ for _ in ()).throw(SystemExit())  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        svc.run_once()
    (anchor,) = core.store.anchors.of_chain("dev", ("submitted",))
    assert anchor["raw_tx"] and anchor["tx_hash"]
    restarted = service(core, provider, config, clock)
    restarted.run_once()  # no receipt: broadcast the stored transaction
    ChainAdapter(config, provider).w3.testing.mine(3)
    restarted.run_once()
    assert core.store.anchors.get(anchor["id"])["status"] == "confirmed"
    assert len(events(provider, config)) == 1


def test_a_reverting_anchor_fails_after_retries(core: Core, chain: Any) -> None:
    provider, config = chain
    clock = Clock()
    evaluate_body(core, "default", {"context": CTX, "input": CASH})
    adapter = ChainAdapter(config, provider)
    # someone anchored a bigger tree first: the contract refuses a shrinking tree
    tx = adapter.contract.functions.anchor(b"\x01" * 32, 10**6).build_transaction(
        {"from": adapter.account.address, "nonce": adapter.w3.eth.get_transaction_count(
            adapter.account.address)})
    adapter.w3.eth.send_raw_transaction(adapter.account.sign_transaction(tx).raw_transaction)
    svc = service(core, provider, config, clock)
    for _ in range(12):
        svc.run_once()
        clock.now += 400
    (anchor,) = core.store.anchors.of_chain("dev", ("failed",))
    assert "TreeShrank" in anchor["last_error"] or "revert" in anchor["last_error"].lower()


def test_blockchain_config_from_the_deployment_guide() -> None:
    doc = {"blockchain": {"enabled": True, "networks": {
        "ethereum": {"enabled": True, "rpc_url": "${ETHEREUM_RPC_URL}",
                     "contract_address": "${ETHEREUM_CONTRACT_ADDRESS}",
                     "confirmation_blocks": 12},
        "polygon": {"enabled": True, "rpc_url": "${POLYGON_RPC_URL}",
                    "contract_address": "${POLYGON_CONTRACT_ADDRESS}",
                    "confirmation_blocks": 128}}}}
    env = {"ETHEREUM_RPC_URL": "https://eth.example", "POLYGON_RPC_URL": "https://poly.example",
           "ETHEREUM_CONTRACT_ADDRESS": "0x" + "11" * 20,
           "POLYGON_CONTRACT_ADDRESS": "0x" + "22" * 20,
           "ARKA_ETHEREUM_PRIVATE_KEY": "0x" + "33" * 32, "ARKA_POLYGON_PRIVATE_KEY": "0x" + "44" * 32}
    chains, policy, poll = parse_blockchain(doc, env)
    assert [(c.name, c.confirmation_blocks) for c in chains] == [("ethereum", 12), ("polygon", 128)]
    assert chains[1].contract_address == "0x" + "22" * 20 and poll == 15.0
    for broken, needle in [
        ({"blockchain": {"networks": {"ethereum": {"rpc_url": "${NOPE}"}}}}, "NOPE"),
        ({"blockchain": {"networks": {"ethereum": {"rpc_url": "ftp://x"}}}}, "rpc_url"),
        ({"blockchain": {"networks": {"ethereum": {"rpc_url": "https://x", "colour": 1}}}},
         "colour"),
        ({"blockchain": {"networks": {"ethereum": {"rpc_url": "https://x",
                                                   "confirmation_blocks": 0}}}},
         "confirmation_blocks"),
        ({"blockchain": {"networks": {"ethereum": {"rpc_url": "https://x",
                                                   "contract_address": "0x12"}}}},
         "contract_address"),
        ({"blockchain": {"networks": {"ethereum": {"rpc_url": "https://x"}}}},
         "ARKA_ETHEREUM_PRIVATE_KEY"),
        ({"blockchain": {"extra": 1}}, "extra"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            parse_blockchain(broken, {})
    assert parse_blockchain({"blockchain": {"enabled": False}}, {})[0] == []


def test_contract_artifact_is_complete() -> None:
    from arka.trust.chain import artifact
    art = artifact()
    names = {f.get("name") for f in art["abi"]}
    assert {"anchor", "anchoredIn", "treeSizeOf", "latestTreeSize", "Anchored"} <= names
    assert art["bytecode"].startswith("0x") and len(art["bytecode"]) > 100
    assert json.dumps(art["settings"]["metadata"]) == '{"bytecodeHash": "none"}'


def test_embedded_development_chain_through_the_settings(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    store = Store(url)
    store.migrate()
    dev = ChainConfig("devchain-settings", "eth-tester://", None, 1, None)
    core = Core(Settings(url, tmp_path / "keys", chains=(dev,)), store)
    core.registry.deploy_rule("default", (EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text(), "yaml")
    evaluate_body(core, "default", {"context": CTX, "input": CASH})
    assert core.anchoring is not None
    core.anchoring.run_once(force=True)  # deploys the contract on the empty chain, submits
    core.anchoring.run_once()
    (anchor,) = store.anchors.of_chain("devchain-settings", ("confirmed",))
    assert anchor["tree_size"] == 1
    client = api_client(core, sth_interval=0)
    chains = client.get("/api/v1/anchors").json()["chains"]
    assert chains[0]["chain"] == "devchain-settings" and chains[0]["healthy"] is True


def test_a_confirmed_anchor_is_an_event_for_every_tenants_subscribers(core: Core,
                                                                      chain: Any) -> None:
    import dataclasses

    from arka.delivery import DeliveryPolicy
    from tests.webhook_receiver import Receiver
    provider, config = chain
    core.settings = dataclasses.replace(core.settings, webhooks=DeliveryPolicy(
        allow_private=("127.0.0.1/32",)))
    core.webhooks.policy = core.delivery.policy = core.settings.webhooks
    evaluate_body(core, "default", {"context": CTX, "input": CASH})
    svc = AnchorService(core.store, core.transparency.sth, [config],
                        AnchorPolicy(batch_entries=1),
                        {config.name: ChainAdapter(config, provider)}, Clock(),
                        events=core.events)
    with Receiver() as rx1, Receiver() as rx2:
        hooks = [api_client(core, tenant=t).post("/api/v1/webhooks", json={
            "url": rx.url, "events": ["arka.anchor.confirmed"]}).json()
            for t, rx in (("t1", rx1), ("t2", rx2))]
        rx1.secrets, rx2.secrets = [hooks[0]["secret"]], [hooks[1]["secret"]]
        svc.run_once()
        svc.run_once()
        ChainAdapter(config, provider).w3.testing.mine(3)
        svc.run_once()
        svc.run_once()  # confirmed already: no second event
        (a,) = rx1.wait(1, step=core.delivery.run_once)
        (b,) = rx2.wait(1, step=core.delivery.run_once)
    assert a["type"] == b["type"] == "arka.anchor.confirmed" and a["id"] == b["id"]
    assert a["data"]["chain"] == "dev" and a["data"]["tree_size"] == 1
    assert a["source"] == "/arka/_system" and rx1.bad == rx2.bad == []
    (anchor,) = core.store.anchors.of_chain("dev", ("confirmed",))
    assert a["data"]["block_number"] == anchor["block_number"]
