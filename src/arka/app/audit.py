"""The audit log as a service: events for every change and refusal, per-tenant hash
chains, verification."""

from __future__ import annotations

import uuid
from typing import Any

from arka.security import audit as chain
from arka.security.principal import SYSTEM_ACTOR, SYSTEM_TENANT, Actor
from arka.storage.ports import AuditStore
from arka.trust.proofs import now_rfc3339


def audit_event(tenant: str, action: str, resource: str, *, actor: Actor,
                outcome: str = "success", details: dict[str, Any] | None = None
                ) -> dict[str, Any]:
    """A new event (the store links it into its tenant's chain when it is appended)."""
    return {"id": "aud_" + uuid.uuid4().hex, "tenant": tenant, "at": now_rfc3339(),
            "actor": actor.subject, "action": action, "resource": resource,
            "outcome": outcome, "request_id": actor.request_id, "details": details or {}}


class AuditService:
    def __init__(self, store: AuditStore):
        self.store = store

    def record(self, tenant: str, action: str, resource: str, *, actor: Actor,
               outcome: str = "success", details: dict[str, Any] | None = None
               ) -> dict[str, Any]:
        event = self.store.append(audit_event(tenant, action, resource, actor=actor,
                                              outcome=outcome, details=details))
        assert event is not None
        return event

    def events(self, tenant: str, page: int, per_page: int, action: str | None = None,
               outcome: str | None = None) -> dict[str, Any]:
        items, total = self.store.events(tenant, page=page, per_page=per_page,
                                         action=action, outcome=outcome)
        return {"items": items, "page": page, "per_page": per_page, "total": total}

    def verify(self, tenant: str) -> dict[str, Any]:
        return dict(chain.verify_chain(self.store.chain(tenant)), tenant=tenant)

    def tenants(self) -> list[str]:
        return self.store.tenants()

    def record_config(self, digest: str | None, environment: str) -> None:
        """Audit a configuration change: the digest of the effective (masked) configuration
        is recorded when it differs from the last one recorded."""
        if digest is None:
            return
        self.store.append(audit_event(SYSTEM_TENANT, "config.applied", "config",
                                      actor=SYSTEM_ACTOR,
                                      details={"digest": digest, "environment": environment}),
                          unless_same="digest")
