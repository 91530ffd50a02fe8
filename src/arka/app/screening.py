"""Sanctions screening outside rules (`POST /api/v1/screen`) and the allowlist of
false-positive decisions that rules' and direct screenings apply.

An analyst records that a subject (a customer, by the id rules pass as `subject_id`) is
not a listed entity, with a reason. The entry keeps the entity's content hash as the
lists held it then: when a list update changes the entity, the decision no longer
applies and the match comes back, marked `reopened`. With four-eyes review on
(`governance.require_approval`) an entry is `pending` until a second person approves it;
only `active` entries apply. Every change is in the audit log.
"""

from __future__ import annotations

import re
import threading
import time
from decimal import Decimal
from typing import Any

from arka.app.apikeys import ApiKeyService
from arka.app.audit import audit_event
from arka.app.plugins import Plugins
from arka.app.requests import AllowlistRequest, ScreenBatchRequest, ScreenRequest
from arka.base.errors import ArkaError, Forbidden, InputError, NotFound
from arka.screening import allowlist as A
from arka.security.principal import Actor, parties_of
from arka.storage import AllowlistEntryError
from arka.storage.ports import AllowlistStore

PLUGIN = "sanctions"
# how long the active entries of a tenant are reused unchecked (this process's own changes
# apply at once; another process's within this time)
REFRESH_SECONDS = 1.0


_ENTRY_ID = re.compile(r"alw_[0-9a-f]{32}\Z")


def _known(entry_id: str) -> None:
    """An id that no entry can have is not found (not a malformed request)."""
    if not _ENTRY_ID.match(entry_id):
        raise NotFound(f"allowlist entry {entry_id} not found")


class ScreeningUnavailable(ArkaError):
    api_code = "SERVICE_UNAVAILABLE"
    code = "E_PLUGIN_UNAVAILABLE"


class Screening:
    def __init__(self, store: AllowlistStore, plugins: Plugins,
                 keys: ApiKeyService | None = None, require_approval: bool = False):
        self.store = store
        self.plugins = plugins
        self.keys = keys
        self.require_approval = require_approval
        self._cache: dict[str, tuple[str, float, dict[str, list[dict[str, Any]]]]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ the allowlist in force
    def active(self, tenant: str) -> dict[str, list[dict[str, Any]]]:
        """The tenant's active entries by subject, re-read when they change."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(tenant)
        if cached is not None and now - cached[1] < REFRESH_SECONDS:
            return cached[2]
        generation = self.store.generation(tenant)
        if cached is not None and cached[0] == generation:
            with self._lock:
                self._cache[tenant] = (generation, now, cached[2])
            return cached[2]
        by_subject: dict[str, list[dict[str, Any]]] = {}
        for e in self.store.active(tenant):
            by_subject.setdefault(e["subject_id"], []).append(
                {k: e[k] for k in ("id", "subject_id", "entity_id", "entity_hash", "reason",
                                   "created_by", "created_at")})
        with self._lock:
            self._cache[tenant] = (generation, now, by_subject)
        return by_subject

    def _changed(self, tenant: str) -> None:
        with self._lock:
            self._cache.pop(tenant, None)

    def plugin_data(self, tenant: str) -> dict[str, Any] | None:
        """What evaluations of the tenant apply to plugin answers (`Group.plugin_data`)."""
        entries = self.active(tenant)
        return {PLUGIN: {"allowlist": entries}} if entries else None

    # ------------------------------------------------------------ screening
    def _call(self, function: str, args: dict[str, Any]) -> dict[str, Any]:
        try:
            record = self.plugins.call(PLUGIN, function, args)
        except NotFound:
            raise ScreeningUnavailable("the sanctions plugin is not installed on the plugin "
                                       "host") from None
        error = record.get("error")
        if error is not None:
            message = str(error.get("message", ""))
            if error.get("code") == "E_SCREENING":  # the query itself is invalid
                raise InputError(message)
            raise ScreeningUnavailable(f"screening failed ({error.get('code')}): {message}")
        return record

    def screen(self, tenant: str, request: ScreenRequest) -> dict[str, Any]:
        """A query by example: the matches, each with its score and why, the allowlist
        decisions that skipped or no longer apply, and the list versions consulted."""
        args = request.args()
        record = self._call("screen", args)
        result = record["result"]
        if request.subject_id is not None:
            result = A.apply(result, request.subject_id,
                             A.entries_for(self.active(tenant), request.subject_id))
        return {**result, "plugin_version": record.get("version"),
                "data_version": record.get("data_version")}

    def screen_batch(self, tenant: str, request: ScreenBatchRequest) -> dict[str, Any]:
        """Queries by example in FollowTheMoney form (as OpenSanctions' matching API
        takes them): each query's names are screened (the best score per entity wins),
        with its birth date and countries; the answer per query is `{status, results,
        total, query}` where each result is a match with `id` and `match: true`."""
        out: dict[str, Any] = {}
        version = data_version = None
        for key, example in sorted(request.queries.items()):
            props = example.properties
            names = list(dict.fromkeys([*props.get("name", []), *props.get("alias", [])]))
            if not props.get("name"):
                out[key] = {"status": 400, "error": {
                    "code": "VALIDATION_ERROR",
                    "message": f"queries.{key}.properties.name: a query needs a name"}}
                continue
            countries = list(dict.fromkeys(
                c for p in ("nationality", "country", "citizenship", "jurisdiction")
                for c in props.get(p, [])))
            best: dict[str, dict[str, Any]] = {}
            try:
                for name in names:
                    args: dict[str, Any] = {"name": name, "schema": example.schema_,
                                            "countries": countries,
                                            "threshold": request.threshold,
                                            "limit": request.limit}
                    if props.get("birthDate"):
                        args["birth_date"] = props["birthDate"][0]
                    if request.topics is not None:
                        args["topics"] = list(request.topics)
                    record = self._call("screen", args)
                    version, data_version = record.get("version"), record.get("data_version")
                    for m in record["result"]["matches"]:
                        if m["entity_id"] not in best or \
                                Decimal(str(m["score"])) > Decimal(str(best[m["entity_id"]]["score"])):
                            best[m["entity_id"]] = m
            except InputError as exc:
                out[key] = {"status": 400, "error": {"code": "VALIDATION_ERROR",
                                                     "message": exc.message}}
                continue
            results = sorted(best.values(), key=lambda m: (-Decimal(str(m["score"])),
                                                           m["entity_id"]))[:request.limit]
            out[key] = {"status": 200, "total": {"value": len(results)},
                        "results": [{"id": m["entity_id"], "match": True, **m}
                                    for m in results],
                        "query": {"schema": example.schema_,
                                  "properties": dict(sorted(props.items()))}}
        return {"responses": out, "plugin_version": version, "data_version": data_version}

    # ------------------------------------------------------------ decisions
    def add(self, tenant: str, request: AllowlistRequest, actor: Actor) -> dict[str, Any]:
        """Record that the subject is not the entity, as the lists hold the entity now."""
        record = self._call("entity", {"entity_id": request.entity_id})
        found = record["result"]
        if not found.get("found"):
            raise NotFound(f"entity {request.entity_id!r} is not on the configured lists")
        status = "pending" if self.require_approval else "active"
        datasets = [{"name": d} for d in found.get("datasets", [])]
        listed = (record.get("data_version") or {}).get("datasets") or []
        versions = {v["name"]: v["version"] for v in listed if isinstance(v, dict)}
        for d in datasets:
            if d["name"] in versions:
                d["version"] = versions[d["name"]]
        details = {"subject_id": request.subject_id, "entity_id": request.entity_id,
                   "entity_hash": found["entity_hash"], "reason": request.reason,
                   "status": status}
        entry = self.store.add(
            tenant, subject_id=request.subject_id, entity_id=request.entity_id,
            entity_hash=found["entity_hash"], entity_caption=found.get("caption"),
            datasets=datasets, reason=request.reason, status=status,
            created_by=actor.person or actor.subject,
            audit=audit_event(tenant, "screening.allowlist.add",
                              f"allowlist:{request.subject_id}:{request.entity_id}",
                              actor=actor, details=details))
        self._changed(tenant)
        return entry

    def get(self, tenant: str, entry_id: str) -> dict[str, Any]:
        _known(entry_id)
        return self.store.get(tenant, entry_id)

    def list(self, tenant: str, *, subject_id: str | None, entity_id: str | None,
             status: str | None, page: int, per_page: int) -> dict[str, Any]:
        try:
            items, total = self.store.list(tenant, subject_id=subject_id,
                                           entity_id=entity_id, status=status, page=page,
                                           per_page=per_page)
        except AllowlistEntryError:  # a filter no entry can have: nothing matches
            items, total = [], 0
        return {"items": items, "page": page, "per_page": per_page, "total": total}

    def review(self, tenant: str, entry_id: str, approve: bool, actor: Actor,
               note: str | None = None) -> dict[str, Any]:
        """Approve or reject a pending decision; who recorded it cannot review it."""
        _known(entry_id)
        entry = self.store.get(tenant, entry_id)
        creator = entry.get("created_by")
        theirs = (self.keys.parties(tenant, creator) if self.keys is not None and creator
                  else parties_of(creator) if creator else frozenset())
        shared = theirs & actor.parties
        if creator in (actor.subject, actor.person) or shared:
            raise Forbidden(f"allowlist entry {entry_id} was recorded by {creator}; another "
                            "person must approve or reject it", code="E_SAME_PERSON",
                            details=[{"path": f"allowlist:{entry_id}", "code": "E_SAME_PERSON",
                                      "message": f"recorded by {creator}; reviewer "
                                                 f"{actor.subject} is the same person"}])
        action = "approve" if approve else "reject"
        entry = self.store.review(
            tenant, entry_id, status="active" if approve else "rejected",
            reviewed_by=actor.person or actor.subject, note=note,
            audit=audit_event(tenant, f"screening.allowlist.{action}",
                              f"allowlist:{entry_id}", actor=actor,
                              details={"note": note} if note else {}))
        self._changed(tenant)
        return entry

    def revoke(self, tenant: str, entry_id: str, actor: Actor,
               note: str | None = None) -> dict[str, Any]:
        """Withdraw a decision: later screenings of the subject report the entity again."""
        _known(entry_id)
        entry = self.store.revoke(
            tenant, entry_id, revoked_by=actor.person or actor.subject, note=note,
            audit=audit_event(tenant, "screening.allowlist.revoke", f"allowlist:{entry_id}",
                              actor=actor, details={"note": note} if note else {}))
        self._changed(tenant)
        return entry
