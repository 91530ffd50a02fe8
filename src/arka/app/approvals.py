"""Four-eyes approval: a new rule, ruleset or table version decides nothing until someone
other than its deployer approves it (when `governance.require_approval` is on)."""

from __future__ import annotations

from typing import Any

from arka.app.audit import audit_event
from arka.app.registry import Registry
from arka.base.errors import Forbidden
from arka.security.principal import SYSTEM_ACTOR, Actor
from arka.storage.ports import RegistryStore

KINDS = ("rule", "ruleset", "table")


class Approvals:
    def __init__(self, store: RegistryStore, registry: Registry):
        self.store = store
        self.registry = registry

    def review(self, tenant: str, kind: str, name: str, version: str, approve: bool,
               actor: Actor = SYSTEM_ACTOR, note: str | None = None) -> dict[str, Any]:
        """Approve or reject a pending version. Who deployed it cannot review it."""
        current = self.registry.versioned_view(tenant, kind, name, version)
        if current.get("deployed_by") == actor.subject:
            raise Forbidden(f"{actor.subject} deployed {kind} {name}@{version} and cannot "
                            "review it; another approver must")
        action = f"{kind}.{'approve' if approve else 'reject'}"
        self.store.review(tenant, kind, name, version, "active" if approve else "rejected",
                          actor.subject, note, audit_event(
                              tenant, action, f"{kind}:{name}@{version}", actor=actor,
                              details={"note": note} if note else {}))
        self.registry.changed(tenant)
        return self.registry.versioned_view(tenant, kind, name, version)

    def pending(self, tenant: str) -> dict[str, Any]:
        items = self.store.pending(tenant)
        return {"items": items, "page": 1, "per_page": max(len(items), 1), "total": len(items)}
