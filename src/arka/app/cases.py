"""Case management: what evaluations raise (escalations, blocks, flags) becomes work for
an analyst, with a deadline, a decision and an audit trail.

Opening: the event dispatcher hands every evaluation that needs attention to
`from_evaluation`. Each escalation opens or joins a case in its queue; without one, a
block or a flag of a listed severity (`cases.open_on`, per ruleset `cases.rulesets`)
opens one in `cases.default_queue`. A later evaluation of the same entity (the first of
`cases.entity_paths` in its input) joins the open case of its grouping key
(`cases.group_by`): the case keeps the earlier due time and the higher priority.

Working: `act` moves a case through its states (the `ACTIONS` table says who may do
what from which state); every change appends an event to the case's own hash chain and
an audit event, and writes the outbox event other systems hear of, in one transaction.
With four-eyes on (`governance.require_approval`) a closing with one of
`cases.approval_dispositions` waits for a second person.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from arka.app.audit import audit_event
from arka.app.case_requests import (
    MAX_ATTACHMENT_BYTES,
    Approve,
    Assign,
    AttachmentRequest,
    CaseActionModel,
    Claim,
    Close,
    Comment,
    Escalate,
    OpenCaseRequest,
    Reject,
    Release,
    Reopen,
)
from arka.app.events import EventFactory
from arka.base import values as V
from arka.base.errors import Conflict, Forbidden, InputError, NotFound
from arka.observability import metrics as M
from arka.security.case_chain import verify_case_chain
from arka.security.crypto import KeyError_ as RecordKeyError
from arka.security.principal import SYSTEM_ACTOR, Actor
from arka.security.sealing import IntegrityFault
from arka.settings.cases import CasePolicy
from arka.storage.ports import CaseChange, CaseStore, EvaluationStore
from arka.storage.sql.cases import CaseValueError

STATUSES = ("open", "in_review", "escalated", "pending_approval", "closed")
WORKING = ("open", "in_review", "escalated")
# how priorities compare when an evaluation joins a case (unknown ones count as medium)
PRIORITY_RANK = {"low": 1, "medium": 2, "normal": 2, "high": 3, "urgent": 4, "critical": 4}
_CASE_ID = re.compile(r"case_[0-9a-f]{32}\Z")
_ATTACHMENT_ID = re.compile(r"att_[0-9a-f]{32}\Z")
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ ()+-]")


@dataclass(frozen=True)
class Action:
    """One action on a case: the permission it needs, the states it may start from, the
    event type other systems hear of (None: none)."""

    permission: str
    sources: tuple[str, ...]
    event_type: str | None
    description: str


ACTIONS: dict[str, Action] = {
    "assign": Action("cases:work", WORKING, "arka.case.assigned",
                     "give the case to a person and/or group"),
    "claim": Action("cases:work", WORKING, "arka.case.assigned",
                    "take the case yourself (open -> in_review)"),
    "release": Action("cases:work", WORKING, "arka.case.assigned",
                      "give it back (in_review -> open)"),
    "comment": Action("cases:work", STATUSES, None, "add a note"),
    "attach": Action("cases:work", (*WORKING, "pending_approval"), None, "attach a file"),
    "escalate": Action("cases:work", WORKING, "arka.case.escalated",
                       "escalate, optionally to another queue or priority"),
    "close": Action("cases:close", WORKING, "arka.case.closed",
                    "close with a disposition and a reason"),
    "approve": Action("cases:close", ("pending_approval",), "arka.case.closed",
                      "confirm another person's closing"),
    "reject": Action("cases:close", ("pending_approval",), None,
                     "refuse another person's closing (-> in_review)"),
    "reopen": Action("cases:close", ("closed",), "arka.case.reopened",
                     "reopen a closed case"),
}


def permission_of(action: str) -> str:
    return ACTIONS[action].permission if action in ACTIONS else "cases:work"


def rank(priority: str) -> int:
    return PRIORITY_RANK.get(priority.lower(), 2)


def _text_of(value: Any, limit: int = 256) -> str | None:
    """A value as one line of text a case column can hold: strings and numbers of at
    most `limit` characters; anything else is none (the default applies)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | Decimal | float):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > limit or \
            re.search(r"[\x00-\x1f\x7f]", value) or value != value.strip():
        return None
    return value


def entity_of(policy: CasePolicy, data: Any) -> str | None:
    """The first of the policy's entity paths present in an evaluation's input."""
    for path in policy.entity_paths:
        value: Any = data
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        found = _text_of(value)
        if found is not None:
            return found
    return None


def grouping_key(policy: CasePolicy, entity: str | None, queue: str) -> str | None:
    """What later evaluations must share to join a case: None (never joined) without an
    entity or with group_by none."""
    if entity is None or policy.group_by == "none":
        return None
    parts = [entity, queue] if policy.group_by == "entity_queue" else [entity]
    return f"{policy.group_by}:" + hashlib.sha256(
        "\x1f".join(parts).encode("utf-8")).hexdigest()


def _t(value: datetime | None) -> str | None:
    return V.datetime_text(value) if value is not None else None


def _now() -> datetime:
    return datetime.now(UTC)


def _hours(value: Any, default: float) -> float:
    try:
        hours = float(value)
    except (TypeError, ValueError):
        return default
    return hours if 0 < hours <= 24 * 3660 else default


class Cases:
    def __init__(self, store: CaseStore, evaluations: EvaluationStore, policy: CasePolicy,
                 events: EventFactory, keys: Any, transparency: Any, vault: Any,
                 require_approval: bool = False):
        self.store = store
        self.evaluations = evaluations
        self.policy = policy
        self.event_factory = events
        self.keys = keys
        self.transparency = transparency
        self.vault = vault
        self.require_approval = require_approval
        self._queues_seen: set[str] = set()

    # ------------------------------------------------------------ views
    def view(self, case: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
        """A case as the API shows it."""
        at = at or _now()
        d = case["details"]
        due = case["due_at"]
        return {
            "id": case["id"], "queue": case["queue"], "status": case["status"],
            "priority": case["priority"], "due_at": _t(due),
            "sla_breached": bool(due is not None and case["status"] != "closed" and due < at),
            "entity_id": case["entity_id"], "assignee": case["assignee"],
            "assignee_group": case["assignee_group"], "disposition": case["disposition"],
            "evaluation_ids": case["evaluation_ids"],
            "rule_versions": d.get("rule_versions", []),
            "triggers": d.get("triggers", []),
            "escalations": d.get("escalations", []),
            "attachments": [{k: a[k] for k in ("attachment_id", "name", "media_type",
                                               "bytes", "sha256")}
                            for a in d.get("attachments", [])],
            "opened_by": d.get("opened_by"), "reason": d.get("reason"),
            "opened_at": _t(case["opened_at"]), "updated_at": _t(case["updated_at"]),
            "closed_at": _t(case["closed_at"]), "version": case["version"],
            "head_hash": case["head_hash"], "pending_close": d.get("pending_close"),
        }

    def _event(self, tenant: str, type_: str | None, case: dict[str, Any],
               **data: Any) -> tuple[dict[str, Any], ...]:
        if type_ is None:
            return ()
        body = {"case_id": case["id"], "queue": case["queue"], "status": case["status"],
                "priority": case["priority"], "due_at": _t(case["due_at"]),
                "entity_id": case["entity_id"], **data}
        return (self.event_factory.make(tenant, type_, body, subject=case["id"]),)

    # ------------------------------------------------------------ opening
    def _plans(self, record: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Per queue: what the evaluation brings to a case there (priority, SLA, group,
        triggers, escalation notes)."""
        result = record.get("result") or {}
        meta = record.get("metadata") or {}
        ruleset = meta.get("ruleset") if isinstance(meta.get("ruleset"), dict) else None
        triggers = self.policy.triggers(ruleset.get("name") if ruleset else None)
        evaluation_id = record["evaluation_id"]
        plans: dict[str, dict[str, Any]] = {}
        if "escalation" in triggers:
            for esc in result.get("escalations") or []:
                queue = _text_of(esc.get("queue"), 128) or self.policy.default_queue
                priority = _text_of(esc.get("priority"), 32) or self.policy.default_priority
                plan = plans.setdefault(queue, {
                    "priority": priority, "sla_hours": None,
                    "assignee_group": None, "triggers": [], "escalations": []})
                if rank(priority) > rank(plan["priority"]):
                    plan["priority"] = priority
                hours = _hours(esc.get("sla_hours"), self.policy.default_sla_hours)
                plan["sla_hours"] = hours if plan["sla_hours"] is None else min(
                    plan["sla_hours"], hours)
                plan["assignee_group"] = plan["assignee_group"] or _text_of(
                    esc.get("assignee_group"), 128)
                plan["triggers"].append("escalation")
                plan["escalations"].append({
                    "evaluation_id": evaluation_id, "rule_id": esc.get("rule_id"),
                    "rule_version": esc.get("rule_version"),
                    "condition_id": esc.get("condition_id"), "queue": queue,
                    "priority": priority, "notes": esc.get("notes")})
        if plans:
            return plans
        reasons, priority = [], self.policy.default_priority
        if "block" in triggers and result.get("blocked"):
            reasons.append("block")
            priority = priority if rank(priority) >= rank("high") else "high"
        for flag in result.get("flags") or []:
            severity = flag.get("severity")
            if isinstance(severity, str) and f"flag:{severity}" in triggers:
                reasons.append(f"flag:{severity}")
                if rank(severity) > rank(priority):
                    priority = severity
        if reasons:
            plans[self.policy.default_queue] = {
                "priority": priority, "sla_hours": self.policy.default_sla_hours,
                "assignee_group": None, "triggers": sorted(set(reasons)), "escalations": []}
        return plans

    def from_evaluation(self, tenant: str, record: dict[str, Any]) -> list[dict[str, Any]]:
        """Open or join the cases a stored evaluation raises; the cases it changed (none
        when it raises nothing, or was handled before: this is safe to repeat)."""
        if not self.policy.enabled:
            return []
        plans = self._plans(record)
        if not plans:
            return []
        evaluation_id = record["evaluation_id"]
        entity = entity_of(self.policy, record.get("input"))
        rules = list((record.get("metadata") or {}).get("rules_evaluated") or [])
        out = []
        for queue, plan in sorted(plans.items()):
            source = f"{evaluation_id}:{queue}"
            key = grouping_key(self.policy, entity, queue)
            done = self.store.open_or_join(
                tenant, source=source, evaluation_id=evaluation_id, grouping_key=key,
                new=functools.partial(self._opening, tenant, evaluation_id, queue, plan,
                                      source, key, entity, rules),
                join=functools.partial(self._joining, tenant, evaluation_id=evaluation_id,
                                       plan=plan, source=source, rules=rules))
            if done is not None:
                case, opened = done
                M.CASE_ACTIONS.labels("opened" if opened else "evaluation_added").inc()
                out.append(self.view(case))
        return out

    def _opening(self, tenant: str, evaluation_id: str, queue: str, plan: dict[str, Any],
                 source: str, key: str | None, entity: str | None, rules: list[str]
                 ) -> tuple[dict[str, Any], CaseChange]:
        at = _now()
        case = {"id": "case_" + uuid.uuid4().hex, "queue": queue, "status": "open",
                "priority": plan["priority"],
                "due_at": at + timedelta(hours=plan["sla_hours"]), "entity_id": entity,
                "grouping_key": key, "assignee": None,
                "assignee_group": plan["assignee_group"], "opened_at": at}
        details = {"sources": [source], "rule_versions": sorted(set(rules)),
                   "triggers": [{"evaluation_id": evaluation_id, "triggers": plan["triggers"]}],
                   "escalations": plan["escalations"], "opened_by": SYSTEM_ACTOR.subject,
                   "sla_hours": plan["sla_hours"], "grouping": self.policy.group_by}
        event = {"evaluation_ids": [evaluation_id], "queue": queue,
                 "priority": plan["priority"], "due_at": _t(case["due_at"]),
                 "entity_id": entity, "assignee_group": plan["assignee_group"],
                 "triggers": plan["triggers"], "rule_versions": details["rule_versions"],
                 "escalations": plan["escalations"]}
        view = dict(case, version=0)
        return case, CaseChange(
            "opened", SYSTEM_ACTOR.subject, event, details=details,
            evaluation_ids=(evaluation_id,),
            audit=audit_event(tenant, "case.opened", f"case:{case['id']}",
                              actor=SYSTEM_ACTOR, details={"evaluation_id": evaluation_id,
                                                           "queue": queue}),
            outbox=self._event(tenant, "arka.case.opened", view,
                               evaluation_ids=[evaluation_id], triggers=plan["triggers"]))

    def _joining(self, tenant: str, case: dict[str, Any], *, evaluation_id: str,
                 plan: dict[str, Any], source: str, rules: list[str]) -> CaseChange:
        d = dict(case["details"])
        priority = plan["priority"] if rank(plan["priority"]) > rank(case["priority"]) \
            else case["priority"]
        due = _now() + timedelta(hours=plan["sla_hours"])
        if case["due_at"] is not None and case["due_at"] < due:
            due = case["due_at"]
        d["sources"] = [*d.get("sources", []), source]
        d["rule_versions"] = sorted(set(d.get("rule_versions", [])) | set(rules))
        d["triggers"] = [*d.get("triggers", []),
                         {"evaluation_id": evaluation_id, "triggers": plan["triggers"]}]
        d["escalations"] = [*d.get("escalations", []), *plan["escalations"]]
        event = {"evaluation_id": evaluation_id, "triggers": plan["triggers"],
                 "rule_versions": sorted(set(rules)), "escalations": plan["escalations"],
                 "priority": priority, "due_at": _t(due)}
        after = dict(case, priority=priority, due_at=due)
        return CaseChange(
            "evaluation_added", SYSTEM_ACTOR.subject, event,
            values={"priority": priority, "due_at": due}, details=d,
            evaluation_ids=(evaluation_id,),
            audit=audit_event(tenant, "case.evaluation_added", f"case:{case['id']}",
                              actor=SYSTEM_ACTOR, details={"evaluation_id": evaluation_id}),
            outbox=self._event(tenant, "arka.case.evaluation_added", after,
                               evaluation_id=evaluation_id))

    def open(self, tenant: str, request: OpenCaseRequest, actor: Actor) -> dict[str, Any]:
        """A case opened by an analyst for evaluations of the tenant (never joined by
        later evaluations)."""
        ids = list(dict.fromkeys(request.evaluation_ids))
        rules: set[str] = set()
        for evaluation_id in ids:
            try:
                record = self.evaluations.get(tenant, evaluation_id)
            except NotFound:
                raise NotFound(f"evaluation {evaluation_id} not found") from None
            rules |= set((record.get("metadata") or {}).get("rules_evaluated") or [])
        at = _now()
        hours = float(request.sla_hours or self.policy.default_sla_hours)
        priority = request.priority or self.policy.default_priority
        who = actor.person or actor.subject
        due = at + timedelta(hours=hours)
        case: dict[str, Any] = {
                "id": "case_" + uuid.uuid4().hex, "queue": request.queue, "status": "open",
                "priority": priority, "due_at": due,
                "entity_id": request.entity_id, "grouping_key": None, "assignee": None,
                "assignee_group": None, "opened_at": at}
        details = {"sources": [], "rule_versions": sorted(rules), "triggers": [],
                   "escalations": [], "opened_by": who, "reason": request.reason,
                   "sla_hours": hours, "grouping": "none"}
        event = {"evaluation_ids": ids, "queue": request.queue, "priority": priority,
                 "due_at": _t(due), "entity_id": request.entity_id,
                 "reason": request.reason, "rule_versions": sorted(rules)}
        created = self.store.create(tenant, case, CaseChange(
            "opened", who, event, details=details, evaluation_ids=tuple(ids),
            audit=audit_event(tenant, "case.opened", f"case:{case['id']}", actor=actor,
                              details={"evaluation_ids": ids, "queue": request.queue}),
            outbox=self._event(tenant, "arka.case.opened", dict(case, version=0),
                               evaluation_ids=ids, opened_by=who)))
        M.CASE_ACTIONS.labels("opened").inc()
        return self.view(created)

    # ------------------------------------------------------------ reading
    def get(self, tenant: str, case_id: str) -> dict[str, Any]:
        return self.view(self._case(tenant, case_id))

    def _case(self, tenant: str, case_id: str) -> dict[str, Any]:
        _known(case_id)
        return self.store.get(tenant, case_id)

    def list(self, tenant: str, *, status: str | None = None, queue: str | None = None,
             assignee: str | None = None, entity_id: str | None = None,
             start: str | None = None, end: str | None = None, page: int = 1,
             per_page: int = 20) -> dict[str, Any]:
        try:
            items, total = self.store.list(
                tenant, status=status, queue=queue, assignee=assignee, entity_id=entity_id,
                start=V.parse_datetime(start) if start else None,
                end=V.parse_datetime(end) if end else None, page=page, per_page=per_page)
        except CaseValueError:  # a filter no case can have: nothing matches
            items, total = [], 0
        at = _now()
        return {"items": [self.view(c, at) for c in items], "page": page,
                "per_page": per_page, "total": total}

    def events(self, tenant: str, case_id: str) -> dict[str, Any]:
        _known(case_id)
        items = self.store.events(tenant, case_id)
        return {"case_id": case_id, "items": items, "total": len(items)}

    def verify(self, tenant: str, case_id: str) -> dict[str, Any]:
        """Re-check the case's chain: every event linked to the one before and hashing to
        its stored hash, and the case's head and version the chain's last."""
        case = self._case(tenant, case_id)
        try:
            report = verify_case_chain(self.store.events(tenant, case_id), case_id)
        except (IntegrityFault, RecordKeyError) as exc:  # a row that no longer opens
            report = {"valid": False, "events": 0, "head": None, "error": exc.message}
        if report["valid"] and (report["head"] != case["head_hash"] or
                                report["events"] != case["version"]):
            report = dict(report, valid=False, error=(
                f"the case says version {case['version']} with head {case['head_hash']}, "
                f"its chain has {report['events']} events ending in {report['head']} (an "
                "event was removed or the case row altered)"))
        return dict(report, case_id=case_id, version=case["version"],
                    head_hash=case["head_hash"])

    def queues(self, tenant: str) -> dict[str, Any]:
        items = self.store.queues(tenant, _now())
        for q in items:
            due = q["oldest_due_at"]
            q["oldest_due_at"] = _t(due) if isinstance(due, datetime) else None
        return {"items": items, "page": 1, "per_page": max(len(items), 1),
                "total": len(items)}

    def refresh_metrics(self) -> None:
        """Set the open-case and SLA-breach gauges per queue (called periodically)."""
        counts = self.store.open_by_queue(_now())
        for queue in self._queues_seen - set(counts):
            M.CASES_OPEN.labels(queue).set(0)
            M.CASE_SLA_BREACHES.labels(queue).set(0)
        for queue, (n, late) in counts.items():
            M.CASES_OPEN.labels(queue).set(n)
            M.CASE_SLA_BREACHES.labels(queue).set(late)
        self._queues_seen |= set(counts)

    # ------------------------------------------------------------ working
    def act(self, tenant: str, case_id: str, request: CaseActionModel, actor: Actor,
            permissions: frozenset[str] | None = None) -> dict[str, Any]:
        """Apply one action (see ACTIONS); Conflict when the case's state does not allow
        it or `expected_version` is stale; Forbidden without the action's permission."""
        _known(case_id)
        name = request.action
        spec = ACTIONS[name]
        if permissions is not None and spec.permission not in permissions:
            raise Forbidden(f"{name} needs the {spec.permission} permission")

        def decide(case: dict[str, Any]) -> CaseChange:
            self._check(case, name, request.expected_version)
            return self._decide(tenant, case, request, actor)
        case = self.store.update(tenant, case_id, decide)
        M.CASE_ACTIONS.labels(name).inc()
        if case["status"] == "closed" and name in ("close", "approve"):
            opened = case["opened_at"]
            M.CASE_TIME_TO_CLOSE.labels(case["queue"]).observe(
                max((case["closed_at"] - opened).total_seconds(), 0.0))
        return self.view(case)

    def _check(self, case: dict[str, Any], name: str, expected: int | None) -> None:
        if expected is not None and expected != case["version"]:
            raise Conflict(f"case {case['id']} is at version {case['version']}, not "
                           f"{expected}: it changed since you read it; read it again")
        status = case["status"]
        if status not in ACTIONS[name].sources:
            allowed = [a for a, s in ACTIONS.items() if status in s.sources]
            raise Conflict(f"cannot {name} case {case['id']}: it is {status}; allowed now: "
                           f"{', '.join(allowed)}", details=[{
                               "path": "action", "code": "E_CASE_STATE",
                               "message": f"status {status} allows {', '.join(allowed)}"}])

    def _decide(self, tenant: str, case: dict[str, Any], request: CaseActionModel,
                actor: Actor) -> CaseChange:
        who = actor.person or actor.subject
        name: str = request.action
        d = dict(case["details"])
        values: dict[str, Any] = {}
        event: dict[str, Any] = {}
        event_type = ACTIONS[name].event_type
        if isinstance(request, Assign):
            if request.assignee is None and request.assignee_group is None:
                raise InputError("assign needs assignee and/or assignee_group")
            if request.assignee is not None:
                values["assignee"] = event["assignee"] = request.assignee
            if request.assignee_group is not None:
                values["assignee_group"] = event["assignee_group"] = request.assignee_group
        elif isinstance(request, Claim):
            values["assignee"] = event["assignee"] = who
            if case["status"] == "open":
                values["status"] = "in_review"
        elif isinstance(request, Release):
            if case["assignee"] is None:
                raise Conflict(f"case {case['id']} has no assignee to release")
            values["assignee"] = None
            event["previous_assignee"] = case["assignee"]
            if case["status"] == "in_review":
                values["status"] = "open"
        elif isinstance(request, Comment):
            event["text"] = request.text
        elif isinstance(request, Escalate):
            values["status"] = "escalated"
            event["reason"] = request.reason
            for field in ("queue", "priority"):
                value = getattr(request, field)
                if value is not None and value != case[field]:
                    values[field] = event[field] = value
                    event[f"previous_{field}"] = case[field]
        elif isinstance(request, Close):
            if request.disposition not in self.policy.dispositions:
                raise InputError(f"disposition must be one of "
                                 f"{', '.join(self.policy.dispositions)}",
                                 details=[{"path": "disposition",
                                           "message": "not a configured disposition"}])
            event.update(disposition=request.disposition, reason=request.reason)
            if self.require_approval and \
                    request.disposition in self.policy.approval_dispositions:
                values["status"] = "pending_approval"
                d["pending_close"] = {"disposition": request.disposition,
                                      "reason": request.reason, "requested_by": who,
                                      "requested_at": V.datetime_text(_now()),
                                      "parties": sorted(actor.parties)}
                event["awaiting_approval"] = True
                event_type, name = "arka.case.close_requested", "close_requested"
            else:
                values.update(self._closing(request.disposition))
        elif isinstance(request, Approve):
            pending = d.get("pending_close") or {}
            _other_person(case["id"], pending, actor)
            values.update(self._closing(pending["disposition"]))
            event.update(disposition=pending["disposition"], note=request.note,
                         requested_by=pending.get("requested_by"))
            d.pop("pending_close", None)
        elif isinstance(request, Reject):
            pending = d.pop("pending_close", None) or {}
            _other_person(case["id"], pending, actor)
            values["status"] = "in_review"
            event.update(note=request.note, disposition=pending.get("disposition"),
                         requested_by=pending.get("requested_by"))
        elif isinstance(request, Reopen):
            values.update(status="in_review" if case["assignee"] else "open",
                          disposition=None, closed_at=None)
            event.update(reason=request.reason, previous_disposition=case["disposition"])
        after = dict(case, **values)
        return CaseChange(
            name, who, event, values=values, details=d,
            audit=audit_event(tenant, f"case.{name}", f"case:{case['id']}", actor=actor,
                              details={k: v for k, v in event.items()
                                       if k not in ("text",)}),
            outbox=self._event(tenant, event_type, after, action=name, actor=who,
                               **{k: v for k, v in event.items()
                                  if k in ("assignee", "assignee_group", "disposition",
                                           "reason")}))

    def _closing(self, disposition: str) -> dict[str, Any]:
        """A final closing releases the grouping key: later evaluations open a new case."""
        return {"status": "closed", "disposition": disposition, "closed_at": _now(),
                "grouping_key": None}

    # ------------------------------------------------------------ attachments
    def attach(self, tenant: str, case_id: str, request: AttachmentRequest, actor: Actor
               ) -> dict[str, Any]:
        """Keep a file with the case: sealed in object storage, its SHA-256 in the chain."""
        _known(case_id)
        try:
            data = base64.b64decode(request.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise InputError("content_base64 is not base64") from None
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise InputError(f"the attachment is larger than {MAX_ATTACHMENT_BYTES} bytes")
        case = self.store.get(tenant, case_id)
        self._check(case, "attach", None)
        name = safe_name(request.name)
        attachment_id = "att_" + uuid.uuid4().hex
        ref = self.vault.put(f"cases/{tenant}/{case_id}/{attachment_id}",
                             f"{case_id}/{attachment_id}", request.content_base64)
        meta = {"attachment_id": attachment_id, "name": name,
                "media_type": request.media_type, "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest()}
        who = actor.person or actor.subject

        def decide(current: dict[str, Any]) -> CaseChange:
            self._check(current, "attach", None)
            d = dict(current["details"])
            d["attachments"] = [*d.get("attachments", []), dict(meta, ref=ref)]
            return CaseChange("attachment_added", who, meta, details=d,
                              audit=audit_event(tenant, "case.attachment_added",
                                                f"case:{case_id}", actor=actor,
                                                details=meta))
        updated = self.store.update(tenant, case_id, decide)
        M.CASE_ACTIONS.labels("attachment_added").inc()
        return dict(meta, case_id=case_id, version=updated["version"])

    def attachment(self, tenant: str, case_id: str, attachment_id: str
                   ) -> tuple[dict[str, Any], bytes]:
        """An attachment's content, checked against the SHA-256 recorded for it."""
        case = self._case(tenant, case_id)
        found = [a for a in case["details"].get("attachments", [])
                 if a["attachment_id"] == attachment_id] if _ATTACHMENT_ID.match(
            attachment_id) else []
        if not found:
            raise NotFound(f"attachment {attachment_id} of case {case_id} not found")
        meta = found[0]
        text = self.vault.get(meta["ref"], f"{case_id}/{attachment_id}")
        data = base64.b64decode(text)
        if hashlib.sha256(data).hexdigest() != meta["sha256"]:
            from arka.security.sealing import integrity_fault
            raise integrity_fault("altered_attachment", f"cases/{case_id}/{attachment_id}",
                                  "the content does not match the SHA-256 recorded for it")
        return {k: meta[k] for k in ("attachment_id", "name", "media_type", "bytes",
                                     "sha256")}, data

    # ------------------------------------------------------------ export
    def export(self, tenant: str, case_id: str) -> dict[str, Any]:
        """The case as a signed bundle anyone can verify offline (`arka-cli verify`)."""
        from arka.app.case_bundle import build_bundle
        case = self._case(tenant, case_id)
        return build_bundle(tenant, self.view(case), self.store.events(tenant, case_id),
                            [self.evaluations.get(tenant, e) for e in case["evaluation_ids"]],
                            self.transparency, self.keys)

    def report(self, tenant: str, case_id: str, format: str = "json") -> dict[str, Any] | bytes:
        """A SAR/STR draft of a closed case with a reportable disposition: JSON, or goAML
        XML (`format` goaml)."""
        from arka.app.case_sar import draft, goaml_xml
        case = self._case(tenant, case_id)
        view = self.view(case)
        events = self.store.events(tenant, case_id) if case["status"] == "closed" else []
        records = [self.evaluations.get(tenant, e) for e in case["evaluation_ids"]] \
            if case["status"] == "closed" else []
        report = draft(tenant, view, events, records, V.datetime_text(_now()))
        return goaml_xml(report) if format == "goaml" else report


def safe_name(name: str) -> str:
    """A file name without directories or characters that need quoting."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    cleaned = _UNSAFE_NAME.sub("_", base).lstrip(".") or "attachment"
    return cleaned[:200]


def _other_person(case_id: str, pending: dict[str, Any], actor: Actor) -> None:
    """Four-eyes: who requested a closing cannot approve or reject it (people compared,
    with every party of the request and of the credential)."""
    by = pending.get("requested_by")
    if set(pending.get("parties", [])) & actor.parties or by in (actor.subject, actor.person):
        raise Forbidden(f"case {case_id}: the closing was requested by {by}; another person "
                        "must approve or reject it (you cannot review it)",
                        code="E_SAME_PERSON",
                        details=[{"path": f"case:{case_id}", "code": "E_SAME_PERSON",
                                  "message": f"requested by {by}"}])


def _known(case_id: str) -> None:
    """An id that no case can have is not found (not a malformed request)."""
    if not _CASE_ID.match(case_id):
        raise NotFound(f"case {case_id} not found")
