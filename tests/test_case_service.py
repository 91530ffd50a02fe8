"""Case management in ARKA Core: cases opened and joined from stored evaluations per the
`cases:` policy (escalations, blocks, flags; grouping by entity and queue), idempotent
and race-safe; the state machine with four-eyes closing; the per-case hash chain and its
tamper detection; attachments; the signed bundle verified offline; on SQLite and the
real PostgreSQL."""

from __future__ import annotations

import base64
import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from arka.app.case_bundle import verify_bundle
from arka.app.case_requests import parse_action
from arka.app.core import Core
from arka.app.requests import EvaluateRequest
from arka.base.errors import ArkaError, Conflict, Forbidden, InputError, NotFound
from arka.security.principal import Actor
from arka.settings import Settings
from arka.settings.cases import CasePolicy
from arka.storage import Store
from tests.service_fixtures import database_url

CTX = {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"}
RULE = """
rule:
  metadata: {name: large-cash, version: 1.0.0, jurisdiction: US}
  inputs:
    - {name: customer, type: object}
    - {name: transaction, type: object}
  conditions:
    - id: large
      expression: transaction.amount >= 10000
    - id: huge
      expression: transaction.amount >= 50000
    - id: flagged
      expression: transaction.amount >= 5000
  actions:
    - trigger: large
      type: escalate
      config: {queue: aml-review, priority: medium, sla_hours: 24, assignee_group: aml,
               notes: "large cash"}
    - trigger: huge
      type: escalate
      config: {queue: aml-review, priority: high, sla_hours: 4}
    - trigger: flagged
      type: flag
      config: {severity: high, category: CTR, message: "cash"}
"""
ANALYST = Actor("apikey:a1", person="alice")
ANALYST2 = Actor("apikey:a2", person="bob")
OFFICER = Actor("apikey:o1", person="olga")
OFFICER2 = Actor("apikey:o2", person="oscar")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


def make_core(db: str, tmp_path: Path, approvals: bool = False, objects: bool = True,
              **policy: Any) -> Core:
    store = Store(db)
    store.migrate()
    settings = dataclasses.replace(
        Settings(db, tmp_path / "keys", objects=str(tmp_path / "objects") if objects
                 else None),
        cases=CasePolicy(**policy))
    core = Core(settings, store)
    core.registry.deploy_rule("default", RULE, "yaml")
    if approvals:  # four-eyes on for cases (the rule above is deployed without it)
        core = Core(dataclasses.replace(settings, require_approval=True), store)
        assert core.cases.require_approval
    return core


@pytest.fixture
def core(db: str, tmp_path: Path) -> Core:
    return make_core(db, tmp_path)


def evaluate(core: Core, amount: int, customer: str = "C-1", tenant: str = "default"
             ) -> dict[str, Any]:
    record, _ = core.evaluations.evaluate(tenant, EvaluateRequest.model_validate({
        "context": CTX, "input": {"customer": {"id": customer},
                                  "transaction": {"id": "t", "amount": amount}}}))
    return core.store.evaluations.get(tenant, record["evaluation_id"])


def act(core: Core, case_id: str, actor: Actor, **body: Any) -> dict[str, Any]:
    return core.cases.act("default", case_id, parse_action(body), actor)


# ------------------------------------------------------------------ opening

def test_escalation_opens_and_later_evaluations_join(core: Core) -> None:
    first = evaluate(core, 12000)
    (case,) = core.cases.from_evaluation("default", first)
    assert case["queue"] == "aml-review" and case["status"] == "open"
    assert case["priority"] == "medium" and case["assignee_group"] == "aml"
    assert case["entity_id"] == "C-1" and case["evaluation_ids"] == [first["evaluation_id"]]
    assert case["rule_versions"] == ["large-cash@1.0.0"] and case["version"] == 1
    assert case["escalations"][0]["notes"] == "large cash"
    assert case["due_at"] and not case["sla_breached"]
    # a later, bigger one joins: higher priority, earlier due time (4 h < 24 h)
    second = evaluate(core, 60000)
    (joined,) = core.cases.from_evaluation("default", second)
    assert joined["id"] == case["id"] and joined["priority"] == "high"
    assert joined["due_at"] < case["due_at"] and joined["version"] == 2
    assert joined["evaluation_ids"] == [first["evaluation_id"], second["evaluation_id"]]
    # another customer: another case; a compliant evaluation: none
    (other,) = core.cases.from_evaluation("default", evaluate(core, 15000, "C-2"))
    assert other["id"] != case["id"]
    assert core.cases.from_evaluation("default", evaluate(core, 10)) == []
    events = core.cases.events("default", case["id"])["items"]
    assert [e["action"] for e in events] == ["opened", "evaluation_added"]
    # outbox: opened twice, joined once, in the same transactions
    kinds = [e["type"] for _, e in core.store.outbox.pending(1000)]
    assert kinds.count("arka.case.opened") == 2
    assert kinds.count("arka.case.evaluation_added") == 1
    audit, _ = core.store.audit.events("default", page=1, per_page=100,
                                       action="case.opened")
    assert len(audit) == 2


def test_running_twice_changes_nothing(core: Core) -> None:
    record = evaluate(core, 12000)
    assert len(core.cases.from_evaluation("default", record)) == 1
    assert core.cases.from_evaluation("default", record) == []
    items = core.cases.list("default")["items"]
    assert len(items) == 1 and items[0]["version"] == 1
    # also once the case was closed: the evaluation was handled
    act(core, items[0]["id"], OFFICER, action="close", disposition="no_action",
        reason="nothing to see")
    assert core.cases.from_evaluation("default", record) == []
    assert core.cases.list("default")["total"] == 1


def test_a_closed_case_is_not_joined(core: Core) -> None:
    (case,) = core.cases.from_evaluation("default", evaluate(core, 12000))
    act(core, case["id"], OFFICER, action="close", disposition="false_positive",
        reason="known salary")
    (new,) = core.cases.from_evaluation("default", evaluate(core, 12000))
    assert new["id"] != case["id"] and new["status"] == "open"
    # reopening the old one does not collide with the new open case of the key
    reopened = act(core, case["id"], OFFICER, action="reopen", reason="new facts")
    assert reopened["status"] == "open" and reopened["disposition"] is None


@pytest.mark.parametrize("group_by", ["entity", "none"])
def test_grouping_policies(db: str, tmp_path: Path, group_by: str) -> None:
    core = make_core(db, tmp_path, group_by=group_by)
    a = core.cases.from_evaluation("default", evaluate(core, 12000))
    b = core.cases.from_evaluation("default", evaluate(core, 12000))
    same = a[0]["id"] == b[0]["id"]
    assert same is (group_by == "entity")


def test_flags_and_blocks_open_cases_in_the_default_queue(db: str, tmp_path: Path) -> None:
    core = make_core(db, tmp_path, open_on=("flag:high",), default_queue="triage")
    (case,) = core.cases.from_evaluation("default", evaluate(core, 6000))
    assert case["queue"] == "triage" and case["priority"] == "high"
    assert case["triggers"][0]["triggers"] == ["flag:high"]
    # escalations are not a trigger here: the flag still opens one in the default queue
    (case2,) = core.cases.from_evaluation("default", evaluate(core, 12000))
    assert case2["id"] == case["id"]
    core2 = make_core(db, tmp_path / "x", open_on=("flag:low",))
    assert core2.cases.from_evaluation("default", evaluate(core2, 6000)) == []
    core3 = make_core(db, tmp_path / "y", open_on=("escalation",),
                      rulesets={"other": ("block",)}, enabled=False)
    assert core3.cases.from_evaluation("default", evaluate(core3, 12000)) == []


def test_no_entity_means_no_grouping(core: Core) -> None:
    record = evaluate(core, 12000)
    record = dict(record, input={"transaction": record["input"]["transaction"]})
    record2 = dict(record, evaluation_id=evaluate(core, 12000)["evaluation_id"])
    (a,) = core.cases.from_evaluation("default", record)
    (b,) = core.cases.from_evaluation("default", record2)
    assert a["id"] != b["id"] and a["entity_id"] is None


def test_two_dispatchers_opening_the_same_key_make_one_case(core: Core) -> None:
    records = [evaluate(core, 12000) for _ in range(6)]
    barrier = threading.Barrier(len(records))
    errors: list[BaseException] = []

    def run(record: dict[str, Any]) -> None:
        barrier.wait()
        try:
            core.cases.from_evaluation("default", record)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=run, args=(r,)) for r in records]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    (case,) = core.cases.list("default")["items"]
    assert sorted(case["evaluation_ids"]) == sorted(r["evaluation_id"] for r in records)
    assert core.cases.verify("default", case["id"])["valid"]
    assert case["version"] == 6


def test_manual_opening(core: Core) -> None:
    record = evaluate(core, 10)
    case = core.cases.open("default", _open_request([record["evaluation_id"]]), ANALYST)
    assert case["opened_by"] == "alice" and case["reason"] == "customer called"
    assert case["rule_versions"] == ["large-cash@1.0.0"]
    with pytest.raises(NotFound, match="eval_nope"):
        core.cases.open("default", _open_request(["eval_nope"]), ANALYST)
    with pytest.raises(NotFound):  # another tenant's evaluation does not exist here
        core.cases.open("bank-b", _open_request([record["evaluation_id"]]), ANALYST)


def _open_request(ids: list[str]) -> Any:
    from arka.app.case_requests import OpenCaseRequest
    return OpenCaseRequest.model_validate({"queue": "manual", "evaluation_ids": ids,
                                           "reason": "customer called"})


# ------------------------------------------------------------------ the state machine

def _case(core: Core) -> str:
    (case,) = core.cases.from_evaluation("default", evaluate(core, 12000))
    return str(case["id"])


def test_every_action(core: Core) -> None:
    cid = _case(core)
    c = act(core, cid, ANALYST, action="assign", assignee="bob", assignee_group="aml-2")
    assert c["assignee"] == "bob" and c["assignee_group"] == "aml-2" and c["status"] == "open"
    c = act(core, cid, ANALYST, action="claim")
    assert c["assignee"] == "alice" and c["status"] == "in_review"
    c = act(core, cid, ANALYST, action="release")
    assert c["assignee"] is None and c["status"] == "open"
    with pytest.raises(Conflict, match="no assignee"):
        act(core, cid, ANALYST, action="release")
    c = act(core, cid, ANALYST, action="comment", text="looked at the statements")
    c = act(core, cid, ANALYST, action="escalate", reason="needs a senior look",
            queue="aml-senior", priority="critical")
    assert c["status"] == "escalated" and c["queue"] == "aml-senior"
    assert c["priority"] == "critical"
    c = act(core, cid, OFFICER, action="close", disposition="false_positive",
            reason="salary, documented")
    assert c["status"] == "closed" and c["disposition"] == "false_positive"
    assert c["closed_at"] and not c["sla_breached"]
    with pytest.raises(Conflict, match=r"it is closed; allowed now: comment, reopen"):
        act(core, cid, ANALYST, action="claim")
    c = act(core, cid, OFFICER, action="reopen", reason="new information arrived")
    assert c["status"] == "open" and c["closed_at"] is None
    events = core.cases.events("default", cid)["items"]
    assert [e["action"] for e in events] == [
        "opened", "assign", "claim", "release", "comment",
        "escalate", "close", "reopen"]
    assert events[4]["details"]["text"] == "looked at the statements"
    assert events[1]["actor"] == "alice"
    assert core.cases.verify("default", cid)["valid"]
    kinds = [e["type"] for _, e in core.store.outbox.pending(1000)]
    for kind in ("arka.case.assigned", "arka.case.escalated", "arka.case.closed",
                 "arka.case.reopened"):
        assert kind in kinds
    actions = {e["action"] for e in core.store.audit.events(
        "default", page=1, per_page=100)[0]}
    assert {"case.assign", "case.claim", "case.close", "case.reopen"} <= actions


def test_invalid_transitions_and_values(core: Core) -> None:
    cid = _case(core)
    for body, match in (({"action": "approve"}, "it is open"),
                        ({"action": "reject", "note": "no"}, "it is open"),
                        ({"action": "reopen", "reason": "why not"}, "it is open")):
        with pytest.raises(Conflict, match=match):
            act(core, cid, OFFICER, **body)
    with pytest.raises(InputError, match="disposition must be one of"):
        act(core, cid, OFFICER, action="close", disposition="maybe", reason="unsure")
    with pytest.raises(InputError, match="assign needs"):
        act(core, cid, ANALYST, action="assign")
    with pytest.raises(Conflict, match="version 1, not 0"):
        act(core, cid, ANALYST, action="claim", expected_version=0)
    assert act(core, cid, ANALYST, action="claim", expected_version=1)["version"] == 2
    with pytest.raises(NotFound):
        act(core, "case_" + "0" * 32, ANALYST, action="claim")
    with pytest.raises(NotFound):
        act(core, "nonsense", ANALYST, action="claim")
    with pytest.raises(NotFound):  # another tenant's case
        core.cases.act("bank-b", cid, parse_action({"action": "claim"}), ANALYST)
    for body, match in (({"action": "dance"}, "action must be one of"),
                        ({}, "action is required"),
                        ({"action": "close", "disposition": "no_action"}, "reason"),
                        ({"action": "close", "disposition": "no_action", "reason": "   "},
                         "reason"),
                        ({"action": "comment", "text": "x" * 5000}, "text"),
                        ({"action": "claim", "extra": 1}, "unknown field")):
        with pytest.raises(InputError, match=match):
            parse_action(body)


def test_four_eyes_closing(db: str, tmp_path: Path) -> None:
    core = make_core(db, tmp_path, approvals=True)
    cid = _case(core)
    c = act(core, cid, OFFICER, action="close", disposition="true_positive",
            reason="structuring confirmed")
    assert c["status"] == "pending_approval"
    assert c["pending_close"]["requested_by"] == "olga"
    with pytest.raises(Forbidden, match="another person must approve"):
        act(core, cid, Actor("jwt:olga", person="OLGA"), action="approve")
    with pytest.raises(Forbidden, match="another person must approve"):
        act(core, cid, OFFICER, action="reject", note="withdrawn")
    c = act(core, cid, OFFICER2, action="reject", note="needs the bank statements")
    assert c["status"] == "in_review" and c["pending_close"] is None
    act(core, cid, OFFICER, action="close", disposition="true_positive", reason="confirmed")
    c = act(core, cid, OFFICER2, action="approve", note="agreed")
    assert c["status"] == "closed" and c["disposition"] == "true_positive"
    # dispositions that need no second person close at once
    cid2 = _case(core)
    assert act(core, cid2, OFFICER, action="close", disposition="false_positive",
               reason="known customer")["status"] == "closed"
    kinds = [e["type"] for _, e in core.store.outbox.pending(1000)]
    assert kinds.count("arka.case.close_requested") == 2


# ------------------------------------------------------------------ the chain

def test_events_are_append_only_and_tampering_is_detected(core: Core) -> None:
    cid = _case(core)
    act(core, cid, ANALYST, action="comment", text="original note")
    assert core.cases.verify("default", cid)["valid"]
    with pytest.raises(sa.exc.DBAPIError), core.store.engine.begin() as conn:
        core.store.scope(conn, "*")
        conn.execute(sa.text("UPDATE case_events SET actor = 'mallory'"))
    with pytest.raises(sa.exc.DBAPIError), core.store.engine.begin() as conn:
        core.store.scope(conn, "*")
        conn.execute(sa.text("DELETE FROM case_events"))
    # someone with the database owner's power (and the record key) drops the guard and
    # edits the note: the chain no longer checks
    event = core.cases.events("default", cid)["items"][1]
    text, _ = core.store.sealer.seal_object(event["id"], {"text": "edited note"})
    _without_triggers(core, f"UPDATE case_events SET details = '{text}' "
                            "WHERE action = 'comment'")
    assert core.cases.events("default", cid)["items"][1]["details"]["text"] == "edited note"
    report = core.cases.verify("default", cid)
    assert not report["valid"] and "does not match its hash" in report["error"]
    # without the key, the altered ciphertext does not even open
    _without_triggers(core, "UPDATE case_events SET details = 'v1.AAAA' "
                            "WHERE action = 'comment'")
    report = core.cases.verify("default", cid)
    assert not report["valid"] and report["error"]


def test_a_removed_event_is_detected(core: Core) -> None:
    cid = _case(core)
    act(core, cid, ANALYST, action="comment", text="one")
    act(core, cid, ANALYST, action="comment", text="two")
    _without_triggers(core, "DELETE FROM case_events WHERE idx = 2")
    report = core.cases.verify("default", cid)
    assert not report["valid"] and "version 3" in report["error"]


def _without_triggers(core: Core, statement: str) -> None:
    with core.store.engine.begin() as conn:
        if core.store.postgres:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            conn.exec_driver_sql(statement)
            return
        names = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = "
                                     "'trigger' AND tbl_name = 'case_events'").all()
        for name, _ in names:
            conn.exec_driver_sql(f"DROP TRIGGER {name}")
        conn.exec_driver_sql(statement)
        for _, sql in names:
            conn.exec_driver_sql(sql)


# ------------------------------------------------------------------ attachments

def test_attachments(core: Core, tmp_path: Path) -> None:
    from arka.app.case_requests import AttachmentRequest
    cid = _case(core)
    content = b"%PDF-1.4 statement"
    req = AttachmentRequest.model_validate({
        "name": "../../etc/statement 2024.pdf", "media_type": "application/pdf",
        "content_base64": base64.b64encode(content).decode()})
    added = core.cases.attach("default", cid, req, ANALYST)
    assert added["name"] == "statement 2024.pdf" and added["bytes"] == len(content)
    meta, data = core.cases.attachment("default", cid, added["attachment_id"])
    assert data == content and meta["media_type"] == "application/pdf"
    events = core.cases.events("default", cid)["items"]
    assert events[-1]["action"] == "attachment_added"
    assert events[-1]["details"]["sha256"] == added["sha256"]
    with pytest.raises(NotFound):
        core.cases.attachment("default", cid, "att_" + "0" * 32)
    # the stored object replaced: refused
    for path in (tmp_path / "objects").rglob("*"):
        if path.is_file():
            path.write_bytes(base64.b64encode(b"forged"))
    with pytest.raises(ArkaError):
        core.cases.attachment("default", cid, added["attachment_id"])


def test_attachments_need_object_storage(db: str, tmp_path: Path) -> None:
    from arka.app.case_requests import AttachmentRequest
    core = make_core(db, tmp_path, objects=False)
    cid = _case(core)
    req = AttachmentRequest.model_validate({"name": "a.txt", "media_type": "text/plain",
                                            "content_base64": "aGk="})
    with pytest.raises(ArkaError, match="object storage is not configured") as info:
        core.cases.attach("default", cid, req, ANALYST)
    assert info.value.http_status == 503


# ------------------------------------------------------------------ the bundle

def test_bundle_verifies_offline_and_tampering_fails(core: Core) -> None:
    cid = _case(core)
    core.cases.from_evaluation("default", evaluate(core, 60000))
    act(core, cid, ANALYST, action="comment", text="original note")
    act(core, cid, OFFICER, action="close", disposition="false_positive", reason="salary")
    bundle = core.cases.export("default", cid)
    keys = core.keys.public_keys()
    assert all(c.ok for c in verify_bundle(bundle, keys)), verify_bundle(bundle, keys)
    assert all(c.ok for c in verify_bundle(bundle))  # with the key it carries
    assert len(bundle["evaluations"]) == 2 and len(bundle["inclusion_proofs"]) == 2

    def failed(b: dict[str, Any]) -> set[str]:
        return {c.name for c in verify_bundle(b, keys) if not c.ok}
    import copy
    edited = copy.deepcopy(bundle)
    edited["events"][2]["details"]["text"] = "edited note"
    assert {"bundle_signature", "case_chain"} <= failed(edited)
    dropped = copy.deepcopy(bundle)
    del dropped["events"][2]
    assert {"bundle_signature", "case_chain"} <= failed(dropped)
    changed = copy.deepcopy(bundle)
    changed["evaluations"][0]["result"]["decision"] = "compliant"
    assert f"evaluation {changed['evaluations'][0]['evaluation_id']}" in failed(changed)
    removed = copy.deepcopy(bundle)
    del removed["evaluations"][1]
    assert "evaluation_ids" in failed(removed)
    other = copy.deepcopy(bundle)
    other["public_key"] = {"kty": "OKP", "crv": "Ed25519", "x": "A" * 43}
    assert "bundle_signature" in {c.name for c in verify_bundle(other) if not c.ok}


def test_metrics(core: Core) -> None:
    from arka.observability import metrics as M
    core.cases.from_evaluation("default", evaluate(core, 12000))
    core.cases.refresh_metrics()
    assert M.REGISTRY.get_sample_value("pact_cases_open", {"queue": "aml-review"}) == 1
    assert M.REGISTRY.get_sample_value("pact_case_sla_breaches", {"queue": "aml-review"}) == 0


def test_concurrent_actions_keep_one_chain(core: Core) -> None:
    cid = _case(core)
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            act(core, cid, ANALYST, action="comment", text=f"note {i}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=run, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    report = core.cases.verify("default", cid)
    assert report["valid"] and report["events"] == 9


@pytest.mark.parametrize("hostile", [
    None, [], {"type": "arka.case_bundle"},
    {"type": "arka.case_bundle", "case": [], "events": {}, "evaluations": 1,
     "inclusion_proofs": [], "sth": "x", "key_id": 5, "signature": None},
    {"type": "arka.case_bundle", "case": {"id": 1, "evaluation_ids": "x"},
     "events": [1, {"idx": "0"}], "evaluations": [1, {"evaluation_id": []}],
     "inclusion_proofs": {"a": 1}, "sth": {}, "key_id": "k", "signature": "!!",
     "public_key": {"kty": "OKP", "crv": "Ed25519", "x": "short"}},
    {"type": "arka.case_bundle", "case": {"id": "c"}, "events": [], "evaluations": [],
     "inclusion_proofs": {}, "sth": {}, "key_id": "k", "signature": "AA",
     "public_key": {"kty": "OKP", "crv": "Ed25519", "x": "A" * 43}}])
def test_a_malformed_bundle_fails_without_crashing(hostile: Any) -> None:
    checks = verify_bundle(hostile)
    assert checks and not all(c.ok for c in checks)


def test_values_a_case_cannot_hold_fall_back_to_the_defaults(core: Core) -> None:
    record = evaluate(core, 12000)
    esc = dict(record["result"]["escalations"][0], queue="q" * 300, priority="p\n",
               assignee_group="g" * 200, sla_hours="soon")
    record = dict(record, result=dict(record["result"], escalations=[esc]),
                  input={"customer": {"id": {"nested": 1}}})
    (case,) = core.cases.from_evaluation("default", record)
    assert case["queue"] == "review" and case["priority"] == "medium"
    assert case["assignee_group"] is None and case["entity_id"] is None
