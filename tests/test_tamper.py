"""Tampering with a stored evaluation record is always detected, and names the check.

A real record comes from a real server (tests/live_server.py) evaluating rich rules
(a flag, an annotation, an escalation, and a rule that fails with an error). Then:
every leaf of its JSON tree is changed in a type-appropriate way, every key deleted, an
extra key added to every object, and each variant must fail `verify_record` naming the
check that covers that field; a sample of them through `arka-cli verify` on files too.
The stored rows are edited directly with SQL (SQLite and PostgreSQL, triggers dropped or
disabled for the test) and reading back through the API + verify must fail. Malformed and
deep files never crash the CLI.
"""

from __future__ import annotations

import copy
import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from arka.trust.proofs import load_public_keys, verify_record
from tests.live_server import CLI, MB, LiveServer, live_server
from tests.service_fixtures import postgres_database

RICH = """
rule:
  metadata: {name: rich-rule, description: every action kind, jurisdiction: US, domain: AML,
             version: 1.0.0}
  inputs:
    - name: transaction
      type: Transaction
      required: true
      schema: {properties: {amount: {type: decimal}, divisor: {type: decimal}}}
  conditions:
    - {id: big, expression: transaction.amount > 100}
  actions:
    - trigger: big
      type: flag
      config: {severity: high, category: BIG, code: FL-9, message: "amount ${transaction.amount}"}
    - trigger: big
      type: annotate
      config: {annotations: {note: checked, level: 2}}
    - trigger: big
      type: escalate
      config: {queue: q1, priority: high, sla_hours: 4}
"""
FAILING = """
rule:
  metadata: {name: failing-rule, description: divides by zero, jurisdiction: US, domain: AML,
             version: 1.0.0}
  inputs:
    - name: transaction
      type: Transaction
      required: true
      schema: {properties: {amount: {type: decimal}, divisor: {type: decimal}}}
  conditions:
    - {id: ratio, expression: transaction.amount / transaction.divisor > 1}
  actions:
    - trigger: ratio
      type: flag
      config: {severity: low, category: RATIO, code: FL-10, message: ratio}
"""
BODY = {"context": {"jurisdiction": "US", "domain": "AML", "timestamp": "2024-03-01T10:00:00Z"},
        "input": {"transaction": {"amount": 500.5, "divisor": 0, "note": "ünï", "tags": ["a"]}},
        "options": {"trace": "full"}}

#: the check that must fail when a top-level field of the record is changed
EXPECTED = {"evaluation_id": {"evaluation_id"}, "timestamp": {"timestamp"},
            "context": {"context_hash"}, "input": {"input_hash"}, "result": {"output_hash"},
            "rule_results": {"rule_results_hash"}, "metadata": {"metadata_hash", "rules_hash",
                                                                "evaluation_duration_ms"},
            "trace": {"trace_hash"}, "full_trace": {"full_trace_hash"},
            "full_trace_ref": {"full_trace_ref_hash", "full_trace_hash"},
            "trust_proof": {"signature", "proof_fields", "proof_version"},
            "log_index": {"log_index", "inclusion"}}


class Service:
    def __init__(self, srv: LiveServer, tmp: Path):
        self.srv = srv
        self.tmp = tmp
        self.admin = srv.client("admin", "t1")
        for doc in (RICH, FAILING):
            r = self.admin.post("/api/v1/rules", content=doc,
                                headers={"content-type": "application/x-yaml"})
            assert r.status_code == 201, r.text
        self.keys_text = self.admin.get("/api/v1/keys").text
        self.keys = load_public_keys(self.keys_text)
        (tmp / "keys.json").write_text(self.keys_text)

    def evaluate(self, body: dict[str, Any] = BODY) -> dict[str, Any]:
        r = self.admin.post("/api/v1/evaluate", json=body)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    def stored(self, eid: str, tenant: str = "t1") -> dict[str, Any]:
        r = self.srv.client("auditor", tenant).get(f"/api/v1/evaluations/{eid}")
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def inclusion(self, eid: str) -> dict[str, Any]:
        r = self.admin.get(f"/api/v1/log/inclusion?evaluation_id={eid}")
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def api_verify(self, eid: str, tenant: str = "t1") -> dict[str, Any]:
        r = self.srv.client("auditor", tenant).post(f"/api/v1/proofs/{eid}/verify")
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    def cli_verify(self, record: Any, inclusion: Any = None, name: str = "rec",
                   raw: str | None = None, extra: list[str] | None = None
                   ) -> subprocess.CompletedProcess[str]:
        path = self.tmp / f"{name}.json"
        path.write_text(raw if raw is not None else json.dumps(record))
        args = [CLI, "verify", str(path), "--key", str(self.tmp / "keys.json"), *(extra or [])]
        if inclusion is not None:
            (self.tmp / f"{name}.inc.json").write_text(json.dumps(inclusion))
            args += ["--inclusion", str(self.tmp / f"{name}.inc.json")]
        started = time.monotonic()
        done = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert time.monotonic() - started < 30
        assert "Traceback" not in done.stderr + done.stdout, done.stderr
        return done


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp(f"tamper-{request.param}")
    urls = postgres_database() if request.param == "postgres" else iter([None])
    url = next(urls)
    try:
        with live_server(tmp, database_url=url) as srv:
            yield Service(srv, tmp)
    finally:
        for _ in urls:  # drops the PostgreSQL database
            pass


# ------------------------------------------------------------------ the JSON tree

def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value + 0.5
    if isinstance(value, str):
        return value + "x"
    if value is None:
        return "x"
    if isinstance(value, list):
        return [*value, 1]
    return {**value, "extra": 1}


def mutations(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[str, tuple[Any, ...],
                                                                       Any]]:
    """(kind, path, new value or None) for every leaf change, deletion and addition."""
    if isinstance(value, dict):
        yield "add", path, "__extra__"
        for k, v in value.items():
            yield "delete", (*path, k), None
            yield from mutations(v, (*path, k))
    elif isinstance(value, list):
        if not value:
            yield "change", path, [1]
        for i, v in enumerate(value):
            yield from mutations(v, (*path, i))
    else:
        yield "change", path, _changed(value)


def apply(record: dict[str, Any], kind: str, path: tuple[Any, ...], new: Any) -> dict[str, Any]:
    out = copy.deepcopy(record)
    target: Any = out
    for step in path[:-1] if kind != "add" else path:
        target = target[step]
    if kind == "add":
        target["__extra__"] = "unsigned claim"
    elif kind == "delete":
        del target[path[-1]]
    else:
        target[path[-1]] = new
    return out


def rich_record(service: Service) -> tuple[dict[str, Any], dict[str, Any]]:
    eid = service.evaluate()["evaluation_id"]
    record = service.stored(eid)
    record.pop("anchors")  # the service's read-time list, tested on its own below
    return record, service.inclusion(eid)


def test_the_rich_record_verifies_and_every_field_is_checked(service: Service) -> None:
    record, inclusion = rich_record(service)
    assert record["result"]["flags"] and record["result"]["annotations"]
    # the full trace is kept in object storage: the record holds its signed reference
    assert record["result"]["escalations"] and "full_trace" not in record
    assert record["full_trace_ref"]["sha256"]
    assert any(r["status"] == "error" and r["error"]["code"] == "E_DIVISION_BY_ZERO"
               for r in record["rule_results"])
    report = verify_record(record, service.keys, inclusion=inclusion, tenant="t1")
    assert report.verdict == "valid", report.to_json()
    assert {f["field"] for f in report.fields()} == set(record)
    assert all(f["status"] == "ok" for f in report.fields())
    done = service.cli_verify(record, inclusion)
    assert done.returncode == 0 and done.stdout.strip().endswith("VALID"), done.stdout
    for name in ("rule_results -> rule_results_hash -> ok", "log_index -> log_index -> ok",
                 "metadata -> evaluation_duration_ms, metadata_hash, rules_hash -> ok"):
        assert name in done.stdout
    # without the inclusion proof log_index is not checked, and says so; exit 0 unless
    # --require-complete
    done = service.cli_verify(record)
    assert done.returncode == 0, done.stdout
    assert "NOT CHECKED log_index" in done.stdout
    assert "VALID (not checked offline: log_index needs --inclusion or --bundle)" in done.stdout
    done = service.cli_verify(record, extra=["--require-complete"])
    assert done.returncode == 3, done.stdout
    assert "INCOMPLETE: nothing failed, NOT CHECKED: log_index" in done.stdout
    assert "\nVALID" not in done.stdout
    api = service.api_verify(record["evaluation_id"])
    assert api["verdict"] == "valid" and api["complete"] and not api["failed"], api


def test_the_answer_with_its_full_trace_verifies_and_the_trace_is_signed(service: Service
                                                                          ) -> None:
    answer = service.evaluate()
    inclusion = service.inclusion(answer["evaluation_id"])
    assert answer["full_trace"] and "full_trace_ref" in answer
    assert verify_record(answer, service.keys, inclusion=inclusion).verdict == "valid"
    answer["full_trace"][0]["events"].append({"op": "NOP"})
    report = verify_record(answer, service.keys, inclusion=inclusion)
    assert report.to_json()["failed"] == ["full_trace_hash"]


def test_every_change_deletion_and_addition_fails_naming_the_check(service: Service) -> None:
    record, inclusion = rich_record(service)
    count = 0
    for kind, path, new in mutations(record):
        tampered = apply(record, kind, path, new)
        report = verify_record(tampered, service.keys, inclusion=inclusion, tenant="t1")
        failed = {c.name for c in report.checks if c.status == "failed"}
        where = f"{kind} {'.'.join(map(str, path))}"
        assert not report.valid and failed, where
        if not path:
            expected = {"record_fields"}  # an extra top-level field: an unsigned claim
        else:
            expected = EXPECTED[path[0]] | ({"proof_fields"} if kind == "add" else set())
        assert failed & expected, (where, failed, expected)
        count += 1
    assert count > 150  # the whole tree was walked


def test_the_cli_fails_a_changed_field_of_each_kind(service: Service) -> None:
    record, inclusion = rich_record(service)
    samples = {}
    for kind, path, new in mutations(record):
        key = (kind, path[0] if path else "")
        samples.setdefault(key, (kind, path, new))
    for i, (kind, path, new) in enumerate(samples.values()):
        done = service.cli_verify(apply(record, kind, path, new), inclusion, name=f"s{i}")
        assert done.returncode == 1, (kind, path, done.stdout)
        line = done.stdout.strip().splitlines()[-1]
        assert line.startswith("INVALID: failed "), line
        failed = set(line.removeprefix("INVALID: failed ").split(", "))
        expected = {"record_fields"} if kind == "add" and not path else \
            EXPECTED[path[0]] | {"proof_fields", "record_fields"}
        assert failed & expected, (kind, path, failed)


def test_anchors_are_not_signed_so_listed_ones_are_reported_not_checked(service: Service
                                                                          ) -> None:
    eid = service.evaluate()["evaluation_id"]
    record, inclusion = service.stored(eid), service.inclusion(eid)
    assert record["anchors"] == []
    assert verify_record(record, service.keys, inclusion=inclusion).verdict == "valid"
    record["anchors"] = [{"chain": "ethereum", "tree_size": 10**6, "root_hash": "ab" * 32,
                          "status": "confirmed"}]
    report = verify_record(record, service.keys, inclusion=inclusion)
    assert report.verdict == "incomplete" and "anchors" in report.to_json()["not_checked"]
    forged = verify_record(record, service.keys, inclusion=inclusion,
                           anchor_reader=lambda root: (0, 0))
    assert not forged.valid and forged.to_json()["failed"] == ["anchors"]
    record["anchors"] = "confirmed"
    assert verify_record(record, service.keys, inclusion=inclusion).to_json()["failed"] == [
        "anchors"]


# ------------------------------------------------------------------ the stored rows

def _edit(srv: LiveServer, sql: str, **params: Any) -> None:
    engine = sa.create_engine(srv.database_url)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                for (name,) in conn.execute(sa.text(
                        "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                        "AND tbl_name = 'evaluations'")).all():
                    conn.execute(sa.text(f'DROP TRIGGER "{name}"'))
            else:
                conn.execute(sa.text("ALTER TABLE evaluations DISABLE TRIGGER USER"))
            assert conn.execute(sa.text(sql), params).rowcount == 1
            if engine.dialect.name != "sqlite":
                conn.execute(sa.text("ALTER TABLE evaluations ENABLE TRIGGER USER"))
    finally:
        engine.dispose()


def _cipher(srv: LiveServer) -> Any:
    """The server's record key: the tamperer here holds the database and the record key,
    never the signing key."""
    from arka.security.crypto import RecordCipher
    (key_file,) = Path(srv.store_args[1]).rglob("encryption.key")
    return RecordCipher.from_texts(key_file.read_text().strip())


def _stored_json(srv: LiveServer, eid: str) -> dict[str, Any]:
    engine = sa.create_engine(srv.database_url)
    try:
        with engine.connect() as conn:
            text, key_id = conn.execute(sa.text(
                "SELECT record, key_id FROM evaluations WHERE id = :id"), {"id": eid}).one()
    finally:
        engine.dispose()
    return json.loads(_cipher(srv).open(text, key_id, eid))  # type: ignore[no-any-return]


def _stored_json_as(srv: LiveServer, row_id: str, sealed_as: str) -> dict[str, Any]:
    engine = sa.create_engine(srv.database_url)
    try:
        with engine.connect() as conn:
            text, key_id = conn.execute(sa.text(
                "SELECT record, key_id FROM evaluations WHERE id = :id"), {"id": row_id}).one()
    finally:
        engine.dispose()
    return json.loads(_cipher(srv).open(text, key_id, sealed_as))  # type: ignore[no-any-return]


def _sealed(srv: LiveServer, record: dict[str, Any]) -> tuple[str, str]:
    return _cipher(srv).seal(json.dumps(record, sort_keys=True), record["evaluation_id"])  # type: ignore[no-any-return]


RECORD_EDITS = {  # field edited inside the stored JSON -> the check that must fail
    "result.decision": (("result", "decision"), "blocked", "output_hash"),
    "rule_results error": (("rule_results", 0, "error", "message"), "fine", "rule_results_hash"),
    "metadata.strategy": (("metadata", "strategy"), "first_match", "metadata_hash"),
    "metadata.engine_version": (("metadata", "engine_version"), "x", "metadata_hash"),
    "metadata.evaluation_duration_ms": (("metadata", "evaluation_duration_ms"), 999.0,
                                        "evaluation_duration_ms"),
    "metadata.calendar_version": (("metadata", "calendar_version"), "h/0", "metadata_hash"),
    "timestamp": (("timestamp",), "2020-01-01T00:00:00Z", "timestamp"),
    "log_index": (("log_index",), 7, "log_index"),
    "trace": (("trace", 0, "version"), "9.9.9", "trace_hash"),
    "full_trace_ref": (("full_trace_ref", "sha256"), "0" * 64, "full_trace_ref_hash"),
    "input": (("input", "transaction", "amount"), 1, "input_hash"),
}


def _set(record: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = record
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


@pytest.mark.parametrize("edit", sorted(RECORD_EDITS))
def test_an_edited_record_column_fails_verification(service: Service, edit: str) -> None:
    path, value, check = RECORD_EDITS[edit]
    # a failing rule first, so rule_results[0] has the error
    eid = service.evaluate()["evaluation_id"]
    stored = _stored_json(service.srv, eid)
    if path[0] == "rule_results":
        path = ("rule_results", next(i for i, r in enumerate(stored["rule_results"])
                                     if r["status"] == "error"), *path[2:])
    if path[0] == "trace":
        path = ("trace", 0, "version")
    if path[0] == "log_index":
        value = stored["log_index"] + 1  # another leaf's index
    _set(stored, path, value)
    text, key_id = _sealed(service.srv, stored)
    _edit(service.srv, "UPDATE evaluations SET record = :r, key_id = :k WHERE id = :id",
          r=text, k=key_id, id=eid)
    api = service.api_verify(eid)
    assert not api["valid"] and check in api["failed"], (edit, api["failed"])
    record = service.stored(eid)
    record.pop("anchors")
    done = service.cli_verify(record, service.inclusion(eid), name=f"row-{check}")
    assert done.returncode == 1 and check in done.stdout.strip().splitlines()[-1], done.stdout


@pytest.mark.parametrize("column,value", [
    ("timestamp", "2019-01-01T00:00:00Z"), ("decision", "compliant"),
    ("rule_ids", " other-rule "), ("output_hash", "sha256:" + "0" * 64)])
def test_an_edited_query_column_fails_verification(service: Service, column: str,
                                                   value: str) -> None:
    eid = service.evaluate()["evaluation_id"]
    _edit(service.srv, f"UPDATE evaluations SET {column} = :v WHERE id = :id", v=value, id=eid)
    api = service.api_verify(eid)
    assert not api["valid"] and api["failed"] == ["stored_row"], api["failed"]
    assert column in next(c["detail"] for c in api["checks"] if c["check"] == "stored_row")


def test_a_record_moved_to_another_tenant_fails_verification(service: Service) -> None:
    eid = service.evaluate()["evaluation_id"]
    _edit(service.srv, "UPDATE evaluations SET tenant = 't2' WHERE id = :id", id=eid)
    assert service.srv.client("auditor", "t1").get(f"/api/v1/evaluations/{eid}"
                                                   ).status_code == 404
    api = service.api_verify(eid, tenant="t2")
    assert not api["valid"] and api["failed"] == ["tenant"], api
    record = service.stored(eid, tenant="t2")
    record.pop("anchors")
    path = service.tmp / "moved.json"
    path.write_text(json.dumps(record))
    done = subprocess.run([CLI, "verify", str(path), "--key", str(service.tmp / "keys.json"),
                           "--tenant", "t2"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "FAIL tenant" in done.stdout, done.stdout


def test_a_record_under_another_id_fails_verification(service: Service) -> None:
    eid = service.evaluate()["evaluation_id"]
    other = "eval_" + "f" * 32
    _edit(service.srv, "UPDATE evaluations SET id = :new WHERE id = :id", new=other, id=eid)
    # the sealed row no longer opens under another id: verify says INVALID (no 500)
    api = service.api_verify(other)
    assert not api["valid"] and api["failed"] == ["stored_record"], api["failed"]
    # re-sealed under the new id (the tamperer holds the record key): the proof is for
    # another evaluation
    stored = _stored_json_as(service.srv, other, eid)
    stored["evaluation_id"] = other
    text, key_id = _sealed(service.srv, stored)
    _edit(service.srv, "UPDATE evaluations SET record = :r, key_id = :k WHERE id = :id",
          r=text, k=key_id, id=other)
    api = service.api_verify(other)
    assert not api["valid"] and "evaluation_id" in api["failed"], api["failed"]


# ------------------------------------------------------------------ malformed input

WRONG = [None, True, 0, 1.5, "x", [], {}, [{}], {"a": []}]


def test_wrong_types_for_every_field_are_invalid_never_an_exception(service: Service) -> None:
    record, inclusion = rich_record(service)
    for field in [*record, *(f"trust_proof.{k}" for k in record["trust_proof"])]:
        for wrong in WRONG:
            tampered = copy.deepcopy(record)
            if field.startswith("trust_proof."):
                tampered["trust_proof"][field.split(".", 1)[1]] = wrong
            else:
                tampered[field] = wrong
            report = verify_record(tampered, service.keys, inclusion=inclusion)
            assert not report.valid and report.to_json()["failed"], (field, wrong)
    for wrong in WRONG:
        assert not verify_record(wrong, service.keys).valid
        if wrong is None:  # no inclusion proof given
            continue
        checks = verify_record(record, service.keys, inclusion=wrong).to_json()["failed"]
        assert "inclusion" in checks or "log_index" in checks, wrong
        bad_head = {**inclusion, "sth": wrong}
        assert not verify_record(record, service.keys, inclusion=bad_head).valid


def test_malformed_and_deep_files_give_a_clear_error(service: Service) -> None:
    record, inclusion = rich_record(service)
    cases = {"not-json": ("{not json", 2, "is not valid JSON"),
             "deep": ("[" * 200_000 + "]" * 200_000, 2, "nests too deeply"),
             "digits": ('{"log_index": ' + "9" * 10_000 + "}", 2, "cannot be read"),
             "array": ("[1, 2]", 1, "INVALID: failed record"),
             "no-proof": (json.dumps({**record, "trust_proof": None}), 1, "proof_fields"),
             "deep-object": (json.dumps(_nest(300)), 1, "INVALID: failed record")}
    for name, (raw, code, text) in cases.items():
        done = service.cli_verify(None, inclusion, name=name, raw=raw)
        assert done.returncode == code, (name, done.stdout, done.stderr)
        assert text in done.stdout + done.stderr, (name, done.stdout, done.stderr)
    done = service.cli_verify(record, None, name="bad-inc")
    (service.tmp / "bad.inc.json").write_text("[")
    bad = subprocess.run([CLI, "verify", str(service.tmp / "bad-inc.json"), "--key",
                          str(service.tmp / "keys.json"), "--inclusion",
                          str(service.tmp / "bad.inc.json")], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "inclusion proof" in bad.stderr, bad.stderr


def _nest(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return {"input": value}


def test_the_deepest_input_the_service_accepts_verifies(service: Service) -> None:
    """The boundary bounds input nesting; a record that deep verifies everywhere, and the
    service refuses deeper input without storing anything."""
    before_rss = service.srv.rss()
    accepted = None
    for depth in (62, 60, 50, 30):
        value: Any = "leaf"
        for _ in range(depth):
            value = {"k": [value]}
        body = {**BODY, "input": {"transaction": {"amount": 5, "divisor": 1, "deep": value}}}
        r = service.admin.post("/api/v1/evaluate", json=body)
        if r.status_code == 201:
            accepted = r.json()["evaluation_id"]
            break
        assert r.status_code == 400, r.text
    assert accepted is not None
    assert service.api_verify(accepted)["verdict"] == "valid"
    record = service.stored(accepted)
    record.pop("anchors")
    done = service.cli_verify(record, service.inclusion(accepted), name="deepest")
    assert done.returncode == 0, done.stdout
    rows = service.srv.rows("evaluations")
    deep = '{"k": [' * 5000 + '"leaf"' + "]}" * 5000
    r = service.admin.post("/api/v1/evaluate", content=json.dumps(
        {**BODY, "input": {"deep": "@"}}).replace('"@"', deep),
        headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"], r.text
    assert service.srv.rows("evaluations") == rows
    assert service.srv.alive() and service.srv.rss() < before_rss + 200 * MB


def test_verify_of_an_unknown_evaluation_is_404(service: Service) -> None:
    r = service.srv.client("auditor", "t1").post("/api/v1/proofs/eval_nothing/verify")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND", r.text
