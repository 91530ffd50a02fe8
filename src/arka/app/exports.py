"""Exports: every matching evaluation record of a tenant as JSON lines in object storage,
with a manifest (count, SHA-256) and an audit event."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from arka.app.audit import AuditService
from arka.app.vault import Vault
from arka.base.errors import InputError, NotFound
from arka.security.principal import SYSTEM_ACTOR, Actor
from arka.storage.objects import ObjectMissing
from arka.storage.ports import EvaluationStore
from arka.trust.proofs import now_rfc3339

MAX_EXPORT = 100_000
PAGE = 100


class Exports:
    def __init__(self, evaluations: EvaluationStore, vault: Vault, audit: AuditService):
        self.evaluations = evaluations
        self.vault = vault
        self.audit = audit

    def create(self, tenant: str, filters: dict[str, Any], actor: Actor = SYSTEM_ACTOR
               ) -> dict[str, Any]:
        """At most MAX_EXPORT records: narrow the range."""
        self.vault.store()
        export_id = "exp_" + uuid.uuid4().hex
        lines: list[str] = []
        page = 1
        while True:
            items, total = self.evaluations.list(
                tenant, decision=filters.get("decision"), rule_id=filters.get("rule_id"),
                start=filters.get("from"), end=filters.get("to"), page=page, per_page=PAGE)
            if total > MAX_EXPORT:
                raise InputError(f"{total} evaluations match; an export holds at most "
                                 f"{MAX_EXPORT}: narrow from/to")
            lines.extend(json.dumps(r, sort_keys=True, ensure_ascii=False) for r in items)
            if page * PAGE >= total:
                break
            page += 1
        text = "".join(line + "\n" for line in lines)
        ref = self.vault.put(f"exports/{tenant}/{export_id}.jsonl", export_id, text)
        manifest = {"export_id": export_id, "tenant": tenant, "created_at": now_rfc3339(),
                    "created_by": actor.subject, "filters": filters, "count": len(lines),
                    "sha256": ref["sha256"], "bytes": ref["bytes"], "uri": ref["uri"],
                    "key_id": ref["key_id"], "media_type": "application/x-ndjson"}
        self.vault.put_plain(f"exports/{tenant}/{export_id}.json",
                             json.dumps(manifest, sort_keys=True).encode("utf-8"))
        self.audit.record(tenant, "export.create", f"export:{export_id}", actor=actor,
                          details={"count": len(lines), "sha256": ref["sha256"],
                                   "filters": filters})
        return manifest

    def get(self, tenant: str, export_id: str) -> dict[str, Any]:
        if not re.fullmatch(r"exp_[0-9a-f]{32}", export_id):
            raise NotFound(f"export {export_id} not found")
        try:
            manifest: dict[str, Any] = json.loads(
                self.vault.get_plain(f"exports/{tenant}/{export_id}.json"))
        except ObjectMissing:
            raise NotFound(f"export {export_id} not found") from None
        return manifest

    def content(self, tenant: str, export_id: str) -> tuple[dict[str, Any], str]:
        manifest = self.get(tenant, export_id)
        ref = {"key": f"exports/{tenant}/{export_id}.jsonl", "sha256": manifest["sha256"],
               "key_id": manifest["key_id"]}
        return manifest, self.vault.get(ref, export_id)
