"""Evaluations: select the rules, run them (in process or on the remote RTVM), build each
record with its trust proof, and store it with its log leaf; replay and verify later.

One request does each thing once: the body is converted to language values once (the
rules, the request hash and the stored input all use that one conversion), the context is
normalized once, an idempotency key is looked up once under its claim, and a record is
written in one transaction (concurrent ones share it: group commit).
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from arka import observability as OBS
from arka.app.anchoring import Anchors
from arka.app.idempotency import Idempotency
from arka.app.registry import Registry
from arka.app.requests import BatchRequest, EvaluateRequest, batch_item
from arka.app.transparency import Transparency, entry_of
from arka.app.vault import Vault
from arka.base import values as V
from arka.base.errors import EvalError, InputError, NotFound
from arka.engine import ENGINE_VERSION, EvaluationResult, normalize_context
from arka.engine.executor import Executor, Group, Item
from arka.engine.plugins import recorded_calls
from arka.observability import metrics as M
from arka.security.crypto import KeyError_ as RecordKeyError
from arka.security.sealing import IntegrityFault
from arka.storage.ports import EvaluationStore
from arka.trust.proofs import (
    Check,
    KeyRing,
    Verification,
    basic_trace,
    build_proof,
    digest,
    verify_record,
)


def _to_values(input: Any) -> dict[str, Any]:
    if not isinstance(input, dict):
        raise InputError("input must be a JSON object of named inputs")
    try:
        values: dict[str, Any] = V.from_json(input)
    except EvalError as exc:
        raise InputError(exc.message) from None
    return values


def _count(record: dict[str, Any]) -> None:
    M.EVALUATIONS.labels(record["result"]["decision"]).inc()
    statuses = [r["status"] for r in record["rule_results"]]
    for status in statuses:
        if status != "skipped":
            M.RTVM_EXECUTIONS.labels(status).inc()
    if "error" in statuses:
        M.EVALUATION_ERRORS.labels("rule").inc()


class Evaluations:
    def __init__(self, store: EvaluationStore, registry: Registry, executor: Executor,
                 keys: KeyRing, vault: Vault, idempotency: Idempotency, anchors: Anchors,
                 max_batch: int = 10_000, transparency: Transparency | None = None,
                 plugin_data: Callable[[str], dict[str, Any] | None] | None = None,
                 events: Callable[[str, dict[str, Any]], list[dict[str, Any]]] | None = None):
        self.store = store
        # the outbox events a record is stored with (EventFactory.of_evaluation)
        self.events = events or (lambda _tenant, _record: [])
        # tenant data applied to plugin answers (the sanctions allowlist), by tenant
        self.plugin_data = plugin_data
        self.transparency = transparency  # verify checks log_index against the log
        self.registry = registry
        self.executor = executor
        self.keys = keys
        self.vault = vault
        self.idempotency = idempotency
        self.anchors = anchors
        self.max_batch = max_batch

    # ------------------------------------------------------------ evaluate
    def evaluate(self, tenant: str, request: EvaluateRequest) -> tuple[dict[str, Any], bool]:
        """One evaluation, stored with its proof. Returns (record, created)."""
        started = time.perf_counter()
        try:
            record, created = self._evaluate(tenant, request)
        except InputError:
            M.EVALUATION_ERRORS.labels("input").inc()
            raise
        if created:
            _count(record)
            M.EVALUATION_DURATION.observe(time.perf_counter() - started)
        return record, created

    def _evaluate(self, tenant: str, request: EvaluateRequest) -> tuple[dict[str, Any], bool]:
        values = _to_values(request.input)
        stored_input = V.to_json(values)
        key = request.options.idempotency_key
        trace = request.options.trace
        if key is None:
            record = self._evaluate_one(tenant, request.context, values, stored_input, trace)
            with OBS.span("store"):
                return self._store(tenant, record, None, None)
        context_json = V.to_json(_context_values(request.context))
        request_hash = digest({"context": context_json, "input": stored_input})
        known = self.idempotency.recall(tenant, key)
        if known is not None and known["request_hash"] == request_hash:
            # a hint: the database decides (a restored or other database may not have it)
            with contextlib.suppress(NotFound):
                return self.store.get(tenant, known["evaluation_id"]), False
        with self.idempotency.claim(tenant, key):  # the same key, concurrently: once
            prior = self.store.find_idempotent(tenant, key, request_hash)
            created = prior is None
            if prior is None:
                record = self._evaluate_one(tenant, request.context, values, stored_input,
                                            trace)
                with OBS.span("store"):
                    prior, created = self._store(tenant, record, key, request_hash)
            self.idempotency.remember(tenant, key, request_hash, prior["evaluation_id"])
            return prior, created

    def _evaluate_one(self, tenant: str, context: dict[str, Any], values: dict[str, Any],
                      stored_input: Any, trace: str) -> dict[str, Any]:
        (record,) = self._records(tenant, context, [(values, stored_input)], trace,
                                  datetime.now(UTC))
        if isinstance(record, InputError):
            raise record
        return record

    def _records(self, tenant: str, context: dict[str, Any], inputs: list[tuple[Any, Any]],
                 trace: str, received: datetime) -> list[dict[str, Any] | InputError]:
        """Evaluate inputs (language values, stored JSON form) under one context: select the
        rules once, run every input in one executor call, build each record with its proof.
        A rejected input is its InputError in the list; a bad context (or selection) is
        raised, for every input."""
        level = "full" if trace == "full" else "basic"
        ctx = normalize_context(context, received)
        with OBS.span("rule_selection", {"arka.tenant": tenant}) as sp:
            selection = self.registry.select(tenant, ctx)
            if sp is not None:
                sp.set_attribute("arka.rules",
                                 [f"{r.name}@{r.version}" for r in selection.rules])
        with OBS.span("evaluate"):
            results = self.executor.evaluate(Group(
                selection.rules, self.registry.current_tables(tenant), selection.strategy,
                selection.order, [Item(values, ctx, level) for values, _ in inputs],
                self.plugin_data(tenant) if self.plugin_data is not None else None))
        return [res if isinstance(res, InputError) else
                self._record(tenant, res, ctx, stored, trace, selection.strategy,
                             selection.ruleset, selection.order)
                for res, (_, stored) in zip(results, inputs, strict=True)]

    def _record(self, tenant: str, res: EvaluationResult, ctx: dict[str, Any],
                stored_input: Any, trace: str,
                strategy: str, ruleset: dict[str, Any] | None,
                order: dict[str, tuple[str, ...]]) -> dict[str, Any]:
        out = res.to_dict()
        evaluation_id = "eval_" + uuid.uuid4().hex
        meta = out["metadata"]
        meta["strategy"] = strategy
        if ruleset is not None:
            meta["ruleset"] = ruleset
        if order:
            meta["order_after"] = {k: list(v) for k, v in sorted(order.items()) if v}
        record = {
            "evaluation_id": evaluation_id,
            "timestamp": V.datetime_text(ctx["timestamp"]),
            "context": out["context"],
            "input": stored_input,
            "result": out["result"],
            "rule_results": out["rule_results"],
            "metadata": meta,
            # always the basic trace, the one trace_hash covers; a full trace beside it
            "trace": basic_trace(out.get("trace")),
        }
        if trace == "full":
            record["full_trace"] = out.get("trace", [])
            if self.vault.objects is not None:  # kept beside the record, not in it
                record["full_trace_ref"] = self.vault.put(
                    f"traces/{tenant}/{evaluation_id}.json", f"{evaluation_id}/trace",
                    json.dumps(record["full_trace"], sort_keys=True, ensure_ascii=False))
        M.PROOFS_GENERATED.inc()
        with OBS.span("proof", {"arka.evaluation_id": evaluation_id}):
            record["trust_proof"] = build_proof(
                evaluation_id=evaluation_id, tenant=tenant, timestamp=record["timestamp"],
                input=stored_input, context=record["context"], metadata=meta,
                result=record["result"], rule_results=record["rule_results"],
                trace=record["trace"], full_trace=record.get("full_trace"),
                full_trace_ref=record.get("full_trace_ref"), engine_version=ENGINE_VERSION,
                ring=self.keys)
        return record

    def _store(self, tenant: str, record: dict[str, Any], key: str | None,
               request_hash: str | None) -> tuple[dict[str, Any], bool]:
        """Store a new record (a full trace kept in object storage is not stored twice;
        the answer still carries it)."""
        full = record.pop("full_trace") if "full_trace_ref" in record else None
        events = self.events(tenant, record)
        if key is None or request_hash is None:  # group commit with concurrent requests
            self.store.append(tenant, record, entry_of(record), events)
            stored, created = record, True
        else:
            stored, created = self.store.put_keyed(tenant, record, entry_of(record), key,
                                                   request_hash, events)
        if full is not None and created:
            stored["full_trace"] = full
        return stored, created

    def evaluate_batch(self, tenant: str, request: BatchRequest) -> dict[str, Any]:
        """Every item checked first (a bad one is its own 400 in the answer), then the good
        ones evaluated and stored in one transaction; the answer holds only checked ids
        and stored records. A bad context or too many items refuses the whole batch."""
        if len(request.inputs) > self.max_batch:
            raise InputError(f"inputs holds {len(request.inputs)} items; a batch holds at "
                             f"most {self.max_batch}")
        received = datetime.now(UTC)
        prepared: dict[int, tuple[Any, Any] | InputError] = {}
        ids: list[str | None] = []
        for i, raw in enumerate(request.inputs):
            item_id, item = batch_item(i, raw)
            ids.append(item_id)
            if isinstance(item, InputError):
                prepared[i] = item
                continue
            try:
                values = _to_values(item.input)
                prepared[i] = (values, V.to_json(values))
            except InputError as exc:
                prepared[i] = exc
        good = [i for i, p in prepared.items() if not isinstance(p, InputError)]
        done = dict(zip(good, self._records(
            tenant, request.context, [prepared[i] for i in good],  # type: ignore[misc]
            request.options.trace, received), strict=True))
        items: list[dict[str, Any]] = []
        records = []
        for i, item_id in enumerate(ids):
            outcome = done.get(i, prepared[i])
            if isinstance(outcome, InputError):
                items.append({"id": item_id, "status": 400, "error": {
                    "code": "VALIDATION_ERROR", "message": outcome.message}})
            else:
                assert isinstance(outcome, dict)
                records.append(outcome)
                items.append({"id": item_id, "status": 201, "evaluation": outcome})
        # all stored with their log leaves, in one transaction, before answering
        full = [r.pop("full_trace") if "full_trace_ref" in r else None for r in records]
        self.store.put_many([tenant] * len(records), records, [entry_of(r) for r in records],
                            [self.events(tenant, r) for r in records])
        for r, f in zip(records, full, strict=True):
            if f is not None:
                r["full_trace"] = f
        for r in records:
            _count(r)
        if len(records) < len(items):
            M.EVALUATION_ERRORS.labels("input").inc(len(items) - len(records))
        return {"items": items, "succeeded": len(records), "failed": len(items) - len(records)}

    # ------------------------------------------------------------ stored evaluations
    def get(self, tenant: str, evaluation_id: str) -> dict[str, Any]:
        """A stored record, with the confirmed anchors that cover it (one per chain)."""
        record = self.store.get(tenant, evaluation_id)
        if "log_index" in record:
            record["anchors"] = self.anchors.covering(int(record["log_index"]))
        return record

    def list(self, tenant: str, *, decision: str | None, rule_id: str | None,
             start: str | None, end: str | None, page: int, per_page: int,
             flag: str | None = None, entity: str | None = None,
             newest_first: bool = False) -> dict[str, Any]:
        items, total = self.store.list(tenant, decision=decision, rule_id=rule_id,
                                       flag=flag, entity=entity, start=start, end=end,
                                       page=page, per_page=per_page,
                                       newest_first=newest_first)
        return {"items": items, "page": page, "per_page": per_page, "total": total}

    def full_trace(self, tenant: str, evaluation_id: str) -> dict[str, Any]:
        record = self.store.get(tenant, evaluation_id)
        if "full_trace" in record:
            trace = record["full_trace"]
        elif "full_trace_ref" in record:
            trace = json.loads(self.vault.get(record["full_trace_ref"],
                                              f"{evaluation_id}/trace"))
        else:
            raise NotFound(f"evaluation {evaluation_id} has no full trace; evaluate with "
                           "options.trace = full to record one (or replay with the full "
                           "trace: arka-cli rtvm debug)")
        return {"evaluation_id": evaluation_id, "trace": trace}

    def verify(self, tenant: str, evaluation_id: str) -> dict[str, Any]:
        """Every check of the stored record: its proof (as offline), its log_index against
        the log (an inclusion proof under a signed tree head), the tenant and id it was
        read under, and the row's query columns against the signed record. A stored row
        that no longer opens (altered ciphertext, moved to another id) is INVALID here."""
        try:
            record = self.store.get(tenant, evaluation_id)
        except (IntegrityFault, RecordKeyError) as exc:
            report = Verification([Check("stored_record", False, exc.message)])
            return {**report.to_json(), "evaluation_id": evaluation_id}
        inclusion = None
        if self.transparency is not None:
            with contextlib.suppress(NotFound):  # not in the log: log_index fails below
                inclusion = json.loads(json.dumps(
                    self.transparency.inclusion(evaluation_id, None)))
        report = verify_record(record, self.keys.public_keys(), inclusion=inclusion,
                               tenant=tenant, evaluation_id=evaluation_id)
        if self.transparency is not None and inclusion is None:
            report.checks = [c for c in report.checks if c.name != "log_index"]
            report.checks.append(Check("log_index", False, f"evaluation {evaluation_id} has "
                                       "no leaf in the transparency log"))
        drift = self.store.index_drift(tenant, evaluation_id, record)
        report.checks.append(Check("stored_row", not drift, "the row's query columns agree "
                                   "with the record" if not drift else "; ".join(drift)))
        out = report.to_json()
        out["evaluation_id"] = evaluation_id
        return out

    def replay(self, tenant: str, evaluation_id: str, trace: str = "basic") -> dict[str, Any]:
        """Re-run a stored evaluation with its recorded rule and table versions; plugin
        calls are answered from the recorded ones (a replay never calls a plugin)."""
        record = self.store.get(tenant, evaluation_id)
        meta = record["metadata"]
        rules = self.registry.recorded_rules(tenant, meta.get("rules", []))
        tables = self.registry.recorded_tables(tenant, meta.get("tables", []))
        order = {k: tuple(v) for k, v in meta.get("order_after", {}).items()}
        executor = "interpreter" if trace == "full" else "vm"
        (res,) = self.executor.evaluate(Group(
            rules, tables, meta.get("strategy", "most_severe"), order,
            [Item(_to_values(record["input"]), normalize_context(record["context"]), trace,
                  executor, recorded_calls(record.get("rule_results", [])))]))
        if isinstance(res, InputError):
            raise res
        replay_hash = digest(res.result)
        original = record["trust_proof"]["output_hash"]
        out = {"evaluation_id": evaluation_id, "original_output_hash": original,
               "replay_output_hash": replay_hash, "match": replay_hash == original,
               "result": res.result}
        if trace == "full":
            out["rule_results"] = res.rule_results
            out["trace"] = res.trace
        return out


def _context_values(context: dict[str, Any]) -> dict[str, Any]:
    """The context as the request hash sees it: its values, without a defaulted timestamp."""
    try:
        values: dict[str, Any] = V.from_json(context or {})
    except EvalError as exc:
        raise InputError(f"context: {exc.message}") from None
    return values
