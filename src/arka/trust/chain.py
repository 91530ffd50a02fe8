"""EVM chain adapter for the anchor contract (web3.py): deploy, anchor, read back.

Transactions are signed locally with the operator key and sent raw, with EIP-1559 fees
(base fee of the latest block x 2 + priority tip). The same code talks to Ethereum,
Polygon, a local JSON-RPC node, or the in-process development chain (`eth-tester://`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arka.base.errors import ArkaError

# web3 is imported where a chain is used: importing it costs about 0.7 s, which every
# service and CLI start would otherwise pay with anchoring off.

ARTIFACT = Path(__file__).with_name("ArkaAnchor.json")
DEV_CHAIN = "eth-tester://"


class ChainError(ArkaError):
    """The chain could not be reached or refused a request (retried with backoff)."""

    code = "E_CHAIN"
    api_code = "SERVICE_UNAVAILABLE"


@dataclass(frozen=True)
class AnchorPolicy:
    """When a new tree head is anchored."""

    batch_entries: int = 1000  # anchor when this many leaves arrived since the last anchor
    batch_minutes: float = 10.0  # ... or this long passed and the log grew


@dataclass(frozen=True)
class ChainConfig:
    name: str  # "ethereum", "polygon", "dev", ...
    rpc_url: str
    contract_address: str | None = None
    confirmation_blocks: int = 12
    private_key: str | None = None  # hex; the dev chain uses its first funded account
    enabled: bool = True


def artifact() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(ARTIFACT.read_text())
    return data


_DEV_CHAINS: dict[str, Any] = {}


def dev_provider(name: str = "dev") -> Any:
    """One in-process chain per name, shared by every adapter in this process."""
    from web3 import EthereumTesterProvider
    if name not in _DEV_CHAINS:
        _DEV_CHAINS[name] = EthereumTesterProvider()
    return _DEV_CHAINS[name]


def dev_private_key() -> str:
    from eth_tester.backends.pyevm.main import get_default_account_keys
    return str(get_default_account_keys()[0].to_hex())


class ChainAdapter:
    def __init__(self, config: ChainConfig, provider: Any | None = None):
        from web3 import Web3
        self.config = config
        if provider is None:
            provider = dev_provider(config.name) if config.rpc_url == DEV_CHAIN else \
                Web3.HTTPProvider(config.rpc_url, request_kwargs={"timeout": 10})
        self.w3 = Web3(provider)
        key = config.private_key or (dev_private_key() if config.rpc_url == DEV_CHAIN else None)
        if not key:
            raise ChainError(f"chain {config.name}: no private key for the anchoring account")
        self.account = self.w3.eth.account.from_key(key)
        art = artifact()
        self.abi = art["abi"]
        self.bytecode = art["bytecode"]
        self.address = Web3.to_checksum_address(config.contract_address) \
            if config.contract_address else None

    def _call(self, fn: Any, *args: Any) -> Any:
        from web3.exceptions import TransactionNotFound
        try:
            return fn(*args)
        except TransactionNotFound:
            raise
        except Exception as exc:  # noqa: BLE001 - every transport fault is a ChainError
            raise ChainError(f"chain {self.config.name}: {type(exc).__name__}: {exc}") from exc

    @property
    def contract(self) -> Any:
        if self.address is None:
            raise ChainError(f"chain {self.config.name}: no contract address configured")
        return self.w3.eth.contract(address=self.address, abi=self.abi)

    def _fees(self) -> dict[str, int]:
        base = int(self._call(self.w3.eth.get_block, "latest").get("baseFeePerGas") or 0)
        try:
            tip = int(self._call(lambda: self.w3.eth.max_priority_fee))
        except ChainError:
            tip = self.w3.to_wei(1, "gwei")
        return {"maxFeePerGas": 2 * base + tip, "maxPriorityFeePerGas": tip}

    def deploy(self) -> str:
        """Deploy the anchor contract from the operator account; returns its address."""
        factory = self.w3.eth.contract(abi=self.abi, bytecode=self.bytecode)
        nonce = self._call(self.w3.eth.get_transaction_count, self.account.address, "pending")
        tx = self._call(factory.constructor().build_transaction, {
            "from": self.account.address, "nonce": nonce, "chainId": self.chain_id(),
            **self._fees()})
        signed = self.account.sign_transaction(tx)
        tx_hash = self._call(self.w3.eth.send_raw_transaction, signed.raw_transaction)
        receipt = self._call(self.w3.eth.wait_for_transaction_receipt, tx_hash, 60)
        if receipt["status"] != 1:
            raise ChainError(f"chain {self.config.name}: contract deployment reverted")
        self.address = receipt["contractAddress"]
        return str(self.address)

    def chain_id(self) -> int:
        return int(self._call(lambda: self.w3.eth.chain_id))

    def build_anchor(self, root: bytes, tree_size: int) -> tuple[str, str, int]:
        """Sign an anchor transaction without sending it: (tx hash, raw tx hex, nonce).

        Persisting these before broadcasting makes a restart resend the very same
        transaction (same nonce and hash) instead of anchoring twice.
        """
        nonce = int(self._call(self.w3.eth.get_transaction_count, self.account.address,
                               "pending"))
        tx = self._call(self.contract.functions.anchor(root, tree_size).build_transaction, {
            "from": self.account.address, "nonce": nonce, "chainId": self.chain_id(),
            **self._fees()})
        signed = self.account.sign_transaction(tx)
        return "0x" + bytes(signed.hash).hex(), "0x" + bytes(signed.raw_transaction).hex(), nonce

    def broadcast(self, raw_tx: str) -> None:
        try:
            self.w3.eth.send_raw_transaction(bytes.fromhex(raw_tx.removeprefix("0x")))
        except Exception as exc:  # noqa: BLE001
            text = str(exc).lower()
            if "already known" in text or "known transaction" in text or "nonce too low" in text:
                return  # the node has it (or mined it) already
            raise ChainError(f"chain {self.config.name}: {type(exc).__name__}: {exc}") from exc

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        from web3.exceptions import TransactionNotFound
        try:
            r = self._call(self.w3.eth.get_transaction_receipt, tx_hash)
        except TransactionNotFound:
            return None
        if r is None:
            return None
        return {"status": int(r["status"]), "block_number": int(r["blockNumber"]),
                "block_hash": "0x" + bytes(r["blockHash"]).hex()}

    def head(self) -> int:
        return int(self._call(lambda: self.w3.eth.block_number))

    def canonical_hash(self, block_number: int) -> str | None:
        try:
            block = self._call(self.w3.eth.get_block, block_number)
        except ChainError:
            raise
        except Exception:  # noqa: BLE001
            return None
        return "0x" + bytes(block["hash"]).hex() if block else None

    def read_anchor(self, root: bytes) -> tuple[int, int]:
        """(block number the root was anchored in, tree size) from the contract; (0, 0)
        when the root was never anchored."""
        c = self.contract
        block = int(self._call(c.functions.anchoredIn(root).call))
        size = int(self._call(c.functions.treeSizeOf(root).call))
        return block, size
