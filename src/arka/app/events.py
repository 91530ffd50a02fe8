"""The events ARKA tells other systems about (delivered as CloudEvents through the outbox,
to webhook subscriptions and notification channels). One place names them all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from arka.delivery.events import cloud_event

EVENT_TYPES: dict[str, str] = {
    "arka.evaluation.non_compliant": "an evaluation decided non_compliant (a flag or block)",
    "arka.evaluation.needs_review": "an evaluation decided needs_review (an escalation or a "
                                    "failed rule)",
    "arka.notification": "a rule's notify action with a webhook channel",
    "arka.case.opened": "a case was opened",
    "arka.case.evaluation_added": "a later evaluation joined an open case",
    "arka.case.assigned": "a case was assigned, claimed or released",
    "arka.case.escalated": "a case was escalated",
    "arka.case.close_requested": "a closing waits for a second person's confirmation",
    "arka.case.closed": "a case was closed with a disposition",
    "arka.case.reopened": "a closed case was reopened",
    "arka.anchor.confirmed": "a signed tree head was confirmed on a chain",
    "arka.webhook.test": "a test event sent by POST /api/v1/webhooks/{id}/test",
}


class EventFactory:
    """CloudEvents with `source` = `<webhooks.source>/<tenant>`."""

    def __init__(self, source: str = "/arka"):
        self.source = source.rstrip("/") or "/arka"

    def make(self, tenant: str, type: str, data: dict[str, Any], *,
             subject: str | None = None, time: datetime | None = None) -> dict[str, Any]:
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type}")
        return cloud_event(type, f"{self.source}/{tenant}", data, subject=subject, time=time)

    def of_evaluation(self, tenant: str, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The events an evaluation writes with itself: `arka.evaluation.<decision>` when it
        needs attention (non_compliant, needs_review), and one `arka.notification` per
        notify action that fired. A compliant evaluation without notifications writes none
        (the hot path stays free of them)."""
        result = record["result"]
        out: list[dict[str, Any]] = []
        decision = result["decision"]
        evaluation_id = record["evaluation_id"]
        meta = record.get("metadata", {})
        if decision in ("non_compliant", "needs_review"):
            data: dict[str, Any] = {
                "evaluation_id": evaluation_id, "timestamp": record["timestamp"],
                "decision": decision, "blocked": result.get("blocked", False),
                "flags": result.get("flags", []), "escalations": result.get("escalations", []),
                "blocks": result.get("blocks", []),
                "rules_evaluated": meta.get("rules_evaluated", []),
                "output_hash": record["trust_proof"]["output_hash"]}
            if "ruleset" in meta:
                data["ruleset"] = meta["ruleset"]
            out.append(self.make(tenant, f"arka.evaluation.{decision}", data,
                                 subject=evaluation_id))
        for index, note in enumerate(result.get("notifications", [])):
            out.append(self.make(tenant, "arka.notification", {
                "evaluation_id": evaluation_id, "index": index, "decision": decision,
                "rule_id": note.get("rule_id"), "rule_version": note.get("rule_version"),
                "channels": note.get("channels", []), "template": note.get("template"),
                "data": note.get("data", {})}, subject=evaluation_id))
        return out
