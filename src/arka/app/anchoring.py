"""Anchoring signed tree heads on EVM chains: a persisted state machine per chain.

    pending ──submit──► submitted ──enough confirmations, still canonical──► confirmed
       │                    │  └─ receipt's block no longer canonical (reorg) ─► resend
       └── reverted / too many failed attempts ─────────────────────────────────► failed

Every transition is written to the store before the next step, and the signed raw
transaction is stored before it is broadcast, so a restart at any point neither loses an
anchor nor sends a second one: it rebroadcasts the same transaction (same nonce, same
hash). Nothing is marked confirmed unless its block is canonical at that moment.
"""

from __future__ import annotations

import builtins
import logging
import time
from collections.abc import Callable
from datetime import UTC
from typing import Any

from arka.app.events import EventFactory
from arka.observability import metrics as M
from arka.security.principal import SYSTEM_TENANT
from arka.storage import Store
from arka.trust.chain import DEV_CHAIN, AnchorPolicy, ChainAdapter, ChainConfig, ChainError

log = logging.getLogger("arka.anchor")

MAX_ATTEMPTS = 8
BACKOFF_SECONDS = 2.0
BACKOFF_MAX = 300.0


class AnchorService:
    def __init__(self, store: Store, tree_head: Callable[[], dict[str, Any]],
                 chains: list[ChainConfig], policy: AnchorPolicy | None = None,
                 adapters: dict[str, ChainAdapter] | None = None,
                 clock: Callable[[], float] = time.time,
                 events: EventFactory | None = None):
        self.store = store
        self.events = events  # `arka.anchor.confirmed` to every tenant's subscribers
        self.tree_head = tree_head
        self.chains = [c for c in chains if c.enabled]
        self.policy = policy or AnchorPolicy()
        self.adapters = dict(adapters or {})
        self.clock = clock
        self.status: dict[str, dict[str, Any]] = {}

    def adapter(self, chain: ChainConfig) -> ChainAdapter:
        if chain.name not in self.adapters:
            adapter = ChainAdapter(chain)
            if adapter.address is None and chain.rpc_url == DEV_CHAIN:
                adapter.deploy()  # the in-process development chain starts empty
            self.adapters[chain.name] = adapter
        return self.adapters[chain.name]

    # ------------------------------------------------------------ one pass
    def run_once(self, force: bool = False) -> None:
        """One step for every chain: start an anchor if due, advance those in flight."""
        for chain in self.chains:
            state = self.status.setdefault(chain.name, {"chain": chain.name, "healthy": True,
                                                        "last_error": None})
            try:
                self._maybe_start(chain, force)
                for anchor in self.store.anchors.of_chain(chain.name, ("pending", "submitted")):
                    self._advance(chain, anchor)
                state.update(healthy=True, last_error=None, checked_at=self.clock())
            except ChainError as exc:
                log.warning("anchoring on %s: %s", chain.name, exc)
                state.update(healthy=False, last_error=str(exc), checked_at=self.clock())

    def _maybe_start(self, chain: ChainConfig, force: bool) -> None:
        head = self.tree_head()
        size = int(head["tree_size"])
        if size == 0:
            return
        last = self.store.anchors.latest(chain.name)
        if last is not None and last["tree_size"] >= size:
            return
        grown = size - (last["tree_size"] if last else 0)
        created = last["created_at"] if last else None
        if created is not None and created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        since = self.clock() - (created.timestamp() if created else 0.0)
        due = force or grown >= self.policy.batch_entries or \
            since >= self.policy.batch_minutes * 60
        if due and not self.store.anchors.of_chain(chain.name, ("pending",)):
            self.store.anchors.create(chain.name, size, head["root_hash"])

    def _advance(self, chain: ChainConfig, anchor: dict[str, Any]) -> None:
        if anchor["next_attempt_at"] > self.clock():
            return
        adapter = self.adapter(chain)
        try:
            if anchor["status"] == "pending":
                self._submit(adapter, anchor)
            else:
                self._check(chain, adapter, anchor)
        except ChainError as exc:
            attempts = anchor["attempts"] + 1
            if attempts >= MAX_ATTEMPTS and anchor["status"] == "pending":
                self.store.anchors.update(anchor["id"], status="failed", attempts=attempts,
                                         last_error=str(exc))
                M.PROOFS_ANCHORED.labels(chain.name, "failed").inc()
            else:
                delay = min(BACKOFF_SECONDS * 2 ** (attempts - 1), BACKOFF_MAX)
                self.store.anchors.update(anchor["id"], attempts=attempts, last_error=str(exc),
                                         next_attempt_at=self.clock() + delay)
            raise

    def _submit(self, adapter: ChainAdapter, anchor: dict[str, Any]) -> None:
        tx_hash, raw, nonce = adapter.build_anchor(bytes.fromhex(anchor["root_hash"]),
                                                   int(anchor["tree_size"]))
        # persist first (and only if no other process got there): a crash after this line
        # resends this very transaction
        if self.store.anchors.claim(anchor["id"], "pending", status="submitted", tx_hash=tx_hash,
                                   raw_tx=raw, nonce=nonce, last_error=None):
            M.PROOFS_ANCHORED.labels(anchor["chain"], "submitted").inc()
            adapter.broadcast(raw)

    def _check(self, chain: ChainConfig, adapter: ChainAdapter, anchor: dict[str, Any]) -> None:
        receipt = adapter.receipt(anchor["tx_hash"])
        if receipt is None:
            # not mined (or dropped, or reorganised away): make sure the node has it
            if anchor["block_number"] is not None:
                self.store.anchors.update(anchor["id"], block_number=None, block_hash=None,
                                         confirmations=0, reorgs=anchor["reorgs"] + 1)
            adapter.broadcast(anchor["raw_tx"])
            return
        if receipt["status"] != 1:
            M.PROOFS_ANCHORED.labels(chain.name, "failed").inc()
            self.store.anchors.update(anchor["id"], status="failed",
                                     last_error="the anchor transaction reverted",
                                     block_number=receipt["block_number"],
                                     block_hash=receipt["block_hash"])
            return
        canonical = adapter.canonical_hash(receipt["block_number"])
        if canonical != receipt["block_hash"]:  # the receipt's block was reorganised away
            self.store.anchors.update(anchor["id"], block_number=None, block_hash=None,
                                     confirmations=0, reorgs=anchor["reorgs"] + 1)
            adapter.broadcast(anchor["raw_tx"])
            return
        confirmations = adapter.head() - receipt["block_number"] + 1
        status = "confirmed" if confirmations >= chain.confirmation_blocks else "submitted"
        events = []
        if status == "confirmed":
            M.PROOFS_ANCHORED.labels(chain.name, "confirmed").inc()
            if self.events is not None:
                events.append(self.events.make(SYSTEM_TENANT, "arka.anchor.confirmed", {
                    "anchor_id": anchor["id"], "chain": chain.name,
                    "tree_size": anchor["tree_size"], "root_hash": anchor["root_hash"],
                    "tx_hash": anchor.get("tx_hash"), "block_number": receipt["block_number"],
                    "block_hash": receipt["block_hash"], "confirmations": confirmations},
                    subject=f"{chain.name}/{anchor['tree_size']}"))
        self.store.anchors.update(anchor["id"], events, status=status,
                                 confirmations=confirmations,
                                 block_number=receipt["block_number"],
                                 block_hash=receipt["block_hash"], attempts=0, last_error=None)


def anchor_view(anchor: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "chain", "tree_size", "root_hash", "status", "tx_hash", "nonce",
            "block_number", "block_hash", "confirmations", "attempts", "reorgs", "last_error")
    out = {k: anchor.get(k) for k in keys}
    for k in ("created_at", "updated_at"):
        if anchor.get(k) is not None:
            out[k] = anchor[k].strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


class Anchors:
    """Anchors as the API shows them, with each configured chain's health."""

    def __init__(self, store: Store, chains: list[ChainConfig], worker: AnchorService | None,
                 checkpoint: Callable[[int], str | None] | None = None):
        self.store = store
        self.chains = chains
        self.worker = worker
        self.checkpoint = checkpoint  # the signed checkpoint of a tree size, if any

    def list(self, page: int, per_page: int, chain: str | None, status: str | None
             ) -> dict[str, Any]:
        items, total = self.store.anchors.list(page, per_page, chain, status)
        chains = []
        for c in self.chains:
            state = dict(self.worker.status.get(c.name, {})) if self.worker else {}
            chains.append({"chain": c.name, "confirmation_blocks": c.confirmation_blocks,
                           "contract_address": c.contract_address,
                           "healthy": state.get("healthy"), "last_error": state.get("last_error")})
        return {"items": [anchor_view(a) for a in items], "page": page, "per_page": per_page,
                "total": total, "chains": chains}

    def get(self, anchor_id: int) -> dict[str, Any]:
        """One anchor, with the checkpoint of the tree it anchors: the same size and root,
        signed by the log (and cosigned by the witnesses that saw it)."""
        anchor = anchor_view(self.store.anchors.get(anchor_id))
        if self.checkpoint is not None:
            anchor["checkpoint"] = self.checkpoint(int(anchor["tree_size"]))
        return anchor

    def covering(self, log_index: int) -> builtins.list[dict[str, Any]]:
        return [anchor_view(a) for a in self.store.anchors.covering(log_index)]
