"""Four-eyes approval: a new rule, ruleset, table or schema version is used by nothing until
a person other than its deployer approves it (when `governance.require_approval` is on).

Persons, not credentials, are compared: a second API key of the deployer is the deployer
again, and so is a key the deployer created for someone else (or that was created by the
reviewer for the deployer), since its creator could hold it (`app/apikeys.py`)."""

from __future__ import annotations

from typing import Any

from arka.app.apikeys import ApiKeyService
from arka.app.audit import audit_event
from arka.app.registry import Registry
from arka.base.errors import Forbidden
from arka.security.principal import SYSTEM_ACTOR, Actor, parties_of
from arka.storage.ports import RegistryStore

KINDS = ("rule", "ruleset", "table", "schema")


class Approvals:
    def __init__(self, store: RegistryStore, registry: Registry,
                 keys: ApiKeyService | None = None):
        self.store = store
        self.registry = registry
        self.keys = keys

    def _parties(self, tenant: str, subject: str | None) -> frozenset[str]:
        if self.keys is not None:
            return self.keys.parties(tenant, subject)
        return parties_of(subject) if subject else frozenset()

    def review(self, tenant: str, kind: str, name: str, version: str, approve: bool,
               actor: Actor = SYSTEM_ACTOR, note: str | None = None) -> dict[str, Any]:
        """Approve or reject a pending version. Who deployed it cannot review it."""
        current = self.registry.versioned_view(tenant, kind, name, version)
        deployer = current.get("deployed_by")
        shared = self._shared(tenant, deployer, actor)
        if shared is not None:
            who = ", ".join(sorted(shared)) or actor.subject
            raise Forbidden(f"{kind} {name}@{version} was deployed by {deployer}, and {who} "
                            f"is behind both that credential and this one ({actor.subject}), "
                            "so it cannot review it: another person must approve or reject "
                            "it", code="E_SAME_PERSON",
                            details=[{"path": f"{kind}:{name}@{version}",
                                      "code": "E_SAME_PERSON",
                                      "message": f"deployed by {deployer}; reviewer "
                                                 f"{actor.subject} is the same person"}])
        action = f"{kind}.{'approve' if approve else 'reject'}"
        self.store.review(tenant, kind, name, version, "active" if approve else "rejected",
                          actor.subject, note, audit_event(
                              tenant, action, f"{kind}:{name}@{version}", actor=actor,
                              details={"note": note} if note else {}))
        self.registry.changed(tenant)
        return self.registry.versioned_view(tenant, kind, name, version)

    def _shared(self, tenant: str, deployer: str | None, actor: Actor
                ) -> frozenset[str] | None:
        """The persons behind both the deployer's credential and `actor`'s (empty when
        it is the very same credential); None when `actor` is another person."""
        shared = self._parties(tenant, deployer) & actor.parties
        return shared if deployer == actor.subject or shared else None

    def pending(self, tenant: str, actor: Actor | None = None) -> dict[str, Any]:
        """What waits for review, with the persons behind each deployer's credential
        and, given the asking `actor`, whether they may review it (not their own)."""
        items = self.store.pending(tenant)
        for item in items:
            item["deployed_by_persons"] = sorted(self._parties(tenant, item["deployed_by"]))
            if actor is not None:
                item["reviewable"] = self._shared(tenant, item["deployed_by"], actor) is None
        return {"items": items, "page": 1, "per_page": max(len(items), 1), "total": len(items)}
