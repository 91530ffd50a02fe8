"""Taking the log's checkpoints to its witnesses and keeping their cosignatures.

Each round signs a checkpoint of the current tree (if the log grew), then, for every
configured witness in parallel, posts it to `<url>/add-checkpoint` with the consistency
proof from the size that witness last cosigned. A `409` names the witness's size: the
log records it and retries once with the right proof. A cosignature is kept only when
it verifies with the witness's configured key. A witness that is down, slow or refusing
is recorded (`GET /api/v1/log/witnesses`, `pact_witness_submissions_total`) and tried
again next round; evaluations never wait for witnesses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from arka.app.transparency import Transparency
from arka.base.errors import ArkaError
from arka.observability.metrics import UNWITNESSED_LEAVES, WITNESS_SUBMISSIONS
from arka.settings.transparency import TransparencySettings, WitnessConfig
from arka.storage.ports import LogStore
from arka.trust.proofs import now_rfc3339
from arka.trust.witness import add_checkpoint_body, add_cosignatures, parse_conflict_size

log = logging.getLogger("arka.witnessing")

SIZE_TYPE = "text/x.tlog.size"


class Witnessing:
    def __init__(self, transparency: Transparency, log_store: LogStore,
                 settings: TransparencySettings,
                 client: Callable[[], httpx.Client] | None = None):
        self.transparency = transparency
        self.log = log_store
        self.settings = settings
        self._client = (client or self._default_client)()
        self._pool = ThreadPoolExecutor(max(1, len(settings.witnesses)),
                                        thread_name_prefix="arka-witness")

    def _default_client(self) -> httpx.Client:
        return httpx.Client(timeout=self.settings.witness_timeout, follow_redirects=False,
                            trust_env=False, headers={"Content-Type": "text/plain"})

    @property
    def origin(self) -> str:
        return self.transparency.origin

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def run_once(self) -> dict[str, str]:
        """One round: every witness's outcome {witness name: outcome}."""
        size = int(self.transparency.sth()["tree_size"])
        outcomes: dict[str, str] = {}
        if size and self.settings.witnesses:
            row = self.log.checkpoint(self.origin, size)  # signed by the log alone; sth() made it
            assert row is not None
            note = row["note"]
            states = self.log.witnesses(self.origin)
            futures = {w.name: self._pool.submit(self._cosign, w, note, size,
                                                 states.get(w.name))
                       for w in self.settings.witnesses}
            outcomes = {name: f.result() for name, f in futures.items()}
        witnessed = self.transparency.witnessed_size()
        UNWITNESSED_LEAVES.set(size - (witnessed or 0))
        return outcomes

    def _cosign(self, w: WitnessConfig, note: str, size: int,
                state: dict[str, Any] | None) -> str:
        name = w.name
        old = int(state["size"]) if state else 0
        have = {c["witness"] for c in self.log.cosignatures(self.origin, size)}
        if old == size and name in have:
            return "current"
        try:
            for _ in range(2):
                if old > size:
                    return self._failed(name, "refused", f"the witness has seen a tree of "
                                        f"{old} leaves, larger than the log's {size}: a "
                                        "restore or a fork; investigate before going on")
                proof = [] if old in (0, size) else \
                    self.transparency.consistency_proof(old, size)
                r = self._client.post(w.url.rstrip("/") + "/add-checkpoint",
                                      content=add_checkpoint_body(old, proof, note))
                if r.status_code == 409 and r.headers.get("content-type", "").startswith(
                        SIZE_TYPE):
                    old = parse_conflict_size(r.content)
                    self.log.set_witness(self.origin, name, old, now_rfc3339(), None)
                    WITNESS_SUBMISSIONS.labels(name, "conflict").inc()
                    continue
                if r.status_code != 200:
                    return self._failed(name, "refused", f"HTTP {r.status_code}: "
                                        f"{r.text.strip()[:300]}")
                return self._keep(w, note, size, r.content)
            return self._failed(name, "refused", "the witness's size kept changing")
        except httpx.HTTPError as exc:
            return self._failed(name, "unreachable", f"{type(exc).__name__}: {exc}")
        except (ArkaError, ValueError) as exc:
            return self._failed(name, "refused", f"unusable answer: {exc}")

    def _keep(self, w: WitnessConfig, note: str, size: int, body: bytes) -> str:
        """Store the witness's cosignature from a 200 answer, once it verifies."""
        verifier = w.verifier
        cosigned = add_cosignatures(note, body, [verifier])
        for sig in cosigned.signatures:
            if verifier.matches(sig):
                timestamp = verifier.verify(cosigned.text, sig)
                assert timestamp is not None  # add_cosignatures verified it
                self.log.add_cosignature(self.origin, size, w.name, sig.line(), timestamp, now_rfc3339())
        WITNESS_SUBMISSIONS.labels(w.name, "cosigned").inc()
        return "cosigned"

    def _failed(self, name: str, outcome: str, error: str) -> str:
        log.warning("witness %s: %s", name, error)
        WITNESS_SUBMISSIONS.labels(name, outcome).inc()
        self.log.set_witness(self.origin, name, None, now_rfc3339(), error)
        return outcome

    def status(self) -> list[dict[str, Any]]:
        """Each configured witness: its key, the size it last cosigned, the last error."""
        states = self.log.witnesses(self.origin)
        out = []
        for w in self.settings.witnesses:
            s = states.get(w.name) or {}
            out.append({"name": w.name, "url": w.url, "key": w.key,
                        "size": int(s.get("size") or 0), "updated_at": s.get("updated_at"),
                        "last_error": s.get("last_error")})
        return out
