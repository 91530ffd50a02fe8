"""Named schemas in ARKA Core, on a live server (SQLite and the real PostgreSQL): deployed
and versioned like reference tables (201 / 200 / 409, four-eyes, tenants), typing the
rules deployed after them (errors with positions, warnings in the answer, refused in
strict mode), pinned in a rule's bytecode so a replay still matches after a new schema
version, kept by backup / restore and `db copy`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from arka.app.core import Core
from arka.settings import Settings
from arka.settings.file import ConfigError, parse_config, strict_rules
from arka.storage import Store, copy_store
from arka.storage.sql.backup import backup, fingerprint, restore
from tests.live_server import LiveServer, live_server
from tests.service_fixtures import database_url, postgres_database

YAML = {"content-type": "application/x-yaml"}
CTX = {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"}

PARTY = """schema:
  name: Party
  version: 1.0.0
  properties:
    name: { type: string }
    country: { type: string }
  required: [name]
"""
TXN_V1 = """schema:
  name: Transaction
  version: 1.0.0
  description: A payment or cash movement
  properties:
    id: { type: string }
    amount: { type: decimal }
    currency: { type: string }
    channel: { type: string, enum: [cash, wire] }
    counterparty: { type: Party }
  required: [id, amount, currency]
"""
# v2 drops `channel`
TXN_V2 = TXN_V1.replace("version: 1.0.0", "version: 2.0.0").replace(
    "    channel: { type: string, enum: [cash, wire] }\n", "")


def rule(name: str, version: str, expression: str, type_: str = "Transaction") -> str:
    return f"""rule:
  metadata:
    name: {name}
    version: {version}
    jurisdiction: US
  inputs:
    - name: transaction
      type: {type_}
      required: true
  conditions:
    - id: large
      expression: {expression}
  actions:
    - trigger: large
      type: flag
      config: {{ severity: high, category: LARGE, message: "large" }}
"""


CASH_RULE = rule("large-cash", "1.0.0", 'transaction.amount > 10000 AND transaction.channel == "cash"')
TXN = {"id": "t1", "amount": 12500, "currency": "USD", "channel": "cash",
       "counterparty": {"name": "ACME", "country": "US"}}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp(f"schemas-{request.param}")
    urls = database_url(request.param, tmp)
    url = next(urls)
    try:
        with live_server(tmp, database_url=None if request.param == "sqlite" else url) as s:
            yield s
    finally:
        urls.close()


def post(c: httpx.Client, path: str, text: str) -> httpx.Response:
    return c.post(path, content=text, headers=YAML)


def details(r: httpx.Response) -> list[dict[str, Any]]:
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "VALIDATION_ERROR" and err["request_id"]
    return list(err["details"])


def position(text: str, read: str) -> tuple[int, int]:
    """Line and column of the field name in the first `transaction.<read>` of `text`."""
    for number, line in enumerate(text.splitlines(), 1):
        if f"transaction.{read}" in line:
            return number, line.index(f"transaction.{read}") + len("transaction.") + 1
    raise AssertionError(read)


def evaluate(c: httpx.Client, txn: dict[str, Any]) -> httpx.Response:
    return c.post("/api/v1/evaluate", content=json.dumps({"context": CTX,
                                                          "input": {"transaction": txn}}))


# ------------------------------------------------------------------ one server per backend,
# the tests in order: schemas first, then the rules typed with them

def test_schema_deploy_is_201_then_200_then_409(srv: LiveServer) -> None:
    c = srv.client("compliance_officer")
    r = post(c, "/api/v1/schemas", PARTY)
    assert r.status_code == 201, r.text
    assert "X-RateLimit-Limit" in r.headers
    r = post(c, "/api/v1/schemas", TXN_V1)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "Transaction" and body["version"] == "1.0.0"
    assert body["content_hash"].startswith("sha256:") and body["status"] == "active"
    again = post(c, "/api/v1/schemas", TXN_V1)
    assert again.status_code == 200 and again.json()["content_hash"] == body["content_hash"]
    r = post(c, "/api/v1/schemas", TXN_V1.replace("description: A payment",
                                                 "description: Any payment"))
    assert r.status_code == 409 and r.json()["error"]["code"] == "CONFLICT"
    # JSON bodies too
    doc = {"schema": {"name": "Note", "version": "1.0.0",
                      "properties": {"text": {"type": "string"}}}}
    r = c.post("/api/v1/schemas", content=json.dumps(doc),
               headers={"content-type": "application/json"})
    assert r.status_code == 201, r.text
    listing = c.get("/api/v1/schemas").json()
    assert [i["name"] for i in listing["items"]] == ["Note", "Party", "Transaction"]
    assert listing["total"] == 3
    got = srv.client("viewer").get("/api/v1/schemas/Transaction").json()
    assert got["versions"] == ["1.0.0"] and got["source"] == TXN_V1
    one = c.get("/api/v1/schemas/Transaction/versions/1.0.0").json()
    assert one["source"] == TXN_V1 and one["content_hash"] == body["content_hash"]
    assert c.get("/api/v1/schemas/Nope").status_code == 404
    assert c.get("/api/v1/schemas/Transaction/versions/9.9.9").status_code == 404
    # deploying needs rules:write
    r = post(srv.client("analyst"), "/api/v1/schemas", PARTY)
    assert r.status_code == 403 and r.json()["error"]["code"] == "AUTHORIZATION_ERROR"
    audit = srv.client("auditor").get("/api/v1/audit/events",
                                      params={"action": "schema.deploy"}).json()
    assert {e["resource"] for e in audit["items"]} >= {"schema:Transaction@1.0.0",
                                                       "schema:Party@1.0.0"}


BAD_SCHEMAS = [
    ("not yaml", "schema: [", "E_YAML"),
    ("not a schema", "rule: {}\n", "E_NOT_A_SCHEMA"),
    ("unknown key", TXN_V1.replace("properties:", "propertes:").replace("Transaction", "Bad1"),
     "E_UNKNOWN_KEY"),
    ("bad version", TXN_V1.replace("version: 1.0.0", "version: 1.0").replace("Transaction",
                                                                               "Bad2"),
     "E_VERSION"),
    ("bad name", TXN_V1.replace("name: Transaction", "name: 9lives"), "E_NAME"),
    ("value type name", TXN_V1.replace("name: Transaction", "name: string"), "E_NAME"),
    ("unknown nested type", TXN_V1.replace("type: Party", "type: Partie").replace(
        "Transaction", "Bad3"), "E_SCHEMA_TYPE"),
    ("self reference", "schema:\n  name: Node\n  version: 1.0.0\n  properties:\n"
                       "    next: { type: Node }\n", "E_SCHEMA_CYCLE"),
]


@pytest.mark.parametrize("label, text, code", BAD_SCHEMAS, ids=[b[0] for b in BAD_SCHEMAS])
def test_malformed_schemas_are_refused_and_nothing_is_stored(
        srv: LiveServer, label: str, text: str, code: str) -> None:
    before = srv.rows("schemas")
    found = details(post(srv.client(), "/api/v1/schemas", text))
    assert code in [d["code"] for d in found], found
    assert all(d["line"] >= 1 and d["column"] >= 1 and d["message"] for d in found)
    assert srv.rows("schemas") == before


def test_a_schema_cycle_through_two_schemas_is_refused(srv: LiveServer) -> None:
    c = srv.client()
    a1 = "schema:\n  name: CycA\n  version: 1.0.0\n  properties:\n    x: { type: string }\n"
    b1 = "schema:\n  name: CycB\n  version: 1.0.0\n  properties:\n    a: { type: CycA }\n"
    assert post(c, "/api/v1/schemas", a1).status_code == 201
    assert post(c, "/api/v1/schemas", b1).status_code == 201
    a2 = a1.replace("1.0.0", "2.0.0").replace("x: { type: string }", "b: { type: CycB }")
    found = details(post(c, "/api/v1/schemas", a2))
    assert found[0]["code"] == "E_SCHEMA_CYCLE" and "CycA -> CycB -> CycA" in found[0]["message"]
    assert found[0]["line"] == 5, found
    assert c.get("/api/v1/schemas/CycA").json()["versions"] == ["1.0.0"]


def test_rules_are_typed_with_the_deployed_schemas(srv: LiveServer) -> None:
    c = srv.client("compliance_officer")
    typo = CASH_RULE.replace("transaction.channel", "transaction.chanel")
    for path in ("/api/v1/rules", "/api/v1/rules/validate"):
        found = details(post(c, path, typo))
        assert found[0]["code"] == "E_UNKNOWN_FIELD" and "'channel'" in found[0]["message"]
        assert (found[0]["line"], found[0]["column"]) == position(typo, "chanel"), found
    r = post(c, "/api/v1/rules/validate", CASH_RULE)
    assert r.status_code == 200 and r.json()["warnings"] == []
    r = post(c, "/api/v1/rules", CASH_RULE)
    assert r.status_code == 201 and r.json()["warnings"] == [], r.text
    audit = srv.client("auditor").get("/api/v1/audit/events",
                                      params={"action": "rule.deploy"}).json()
    (deployed,) = [e for e in audit["items"] if e["resource"] == "rule:large-cash@1.0.0"]
    assert deployed["details"]["schemas"] == ["Transaction@1.0.0", "Party@1.0.0"]
    # a field read through an input no schema types: deployed, with the warning
    loose = rule("loose", "1.0.0", "transaction.amount > 5", type_="object")
    r = post(c, "/api/v1/rules/validate", loose)
    assert r.status_code == 200 and r.json()["warnings"][0]["code"] == "W_UNTYPED_FIELD"
    r = post(c, "/api/v1/rules", loose)
    assert r.status_code == 201, r.text
    (warning,) = r.json()["warnings"]
    assert warning["code"] == "W_UNTYPED_FIELD" and warning["severity"] == "warning"
    assert (warning["line"], warning["column"]) == position(loose, "amount")
    # the schema's types hold at evaluation: a field it does not declare is refused
    assert evaluate(c, dict(TXN, extra=1)).status_code == 400


def test_a_new_schema_version_leaves_older_rules_and_their_replays_alone(
        srv: LiveServer) -> None:
    c = srv.client()
    first = evaluate(c, TXN)
    assert first.status_code == 201, first.text
    assert first.json()["result"]["decision"] != "compliant"
    r = post(c, "/api/v1/schemas", TXN_V2)
    assert r.status_code == 201, r.text
    assert c.get("/api/v1/schemas/Transaction").json()["versions"] == ["1.0.0", "2.0.0"]
    # `type: Transaction` is now 2.0.0, which has no `channel`
    found = details(post(c, "/api/v1/rules", CASH_RULE.replace("version: 1.0.0",
                                                               "version: 1.1.0")))
    assert found[0]["code"] == "E_UNKNOWN_FIELD"
    # ... unless the rule pins the version it was written for
    pinned = rule("large-cash-pinned", "1.0.0", CASH_RULE.split("expression: ")[1]
                  .split("\n")[0], type_="Transaction@1.0.0")
    assert post(c, "/api/v1/rules", pinned).status_code == 201
    v2 = rule("large-cash", "2.0.0", "transaction.amount > 10000")
    r = post(c, "/api/v1/rules", v2)
    assert r.status_code == 201 and r.json()["warnings"] == [], r.text
    # the first evaluation replays with the schema version baked into its rule
    replay = c.post("/api/v1/evaluate/replay",
                    content=json.dumps({"evaluation_id": first.json()["evaluation_id"]}))
    assert replay.status_code == 200 and replay.json()["match"] is True, replay.text
    # new evaluations run large-cash 2.0.0 (schema 2.0.0 refuses `channel`) and the pinned
    # rule (schema 1.0.0 accepts it): the input must suit both
    assert evaluate(c, TXN).status_code == 400
    txn = {k: v for k, v in TXN.items() if k != "channel"}
    r = evaluate(c, txn)
    assert r.status_code == 201, r.text
    ran = {x["rule_id"]: x["version"] for x in r.json()["rule_results"]}
    assert ran["large-cash"] == "2.0.0" and ran["large-cash-pinned"] == "1.0.0"


def test_tenants_do_not_see_each_others_schemas(srv: LiveServer) -> None:
    other = srv.client("admin", "t2")
    assert other.get("/api/v1/schemas").json()["total"] == 0
    assert other.get("/api/v1/schemas/Transaction").status_code == 404
    assert other.get("/api/v1/schemas/Transaction/versions/1.0.0").status_code == 404
    # t1's schema does not type t2's rules
    r = post(other, "/api/v1/rules", CASH_RULE)
    assert r.status_code == 201, r.text
    assert {w["code"] for w in r.json()["warnings"]} == {"W_UNTYPED_INPUT", "W_UNTYPED_FIELD"}
    # and t2 deploys its own Transaction 1.0.0 with other content without a conflict
    assert post(other, "/api/v1/schemas", TXN_V1.replace("counterparty: { type: Party }",
                                                         "note: { type: string }")
                ).status_code == 201


def test_backup_restore_and_copy_keep_schemas(srv: LiveServer, tmp_path: Path) -> None:
    source = Store(srv.database_url)
    keys = Path(srv.store_args[1]) / "keys"
    before = fingerprint(source)
    assert before["counts"]["schemas"] >= 5
    manifest = backup(source, tmp_path / "backup")
    assert manifest["counts"]["schemas"] == before["counts"]["schemas"]
    targets = (database_url("sqlite", tmp_path / "restored") if source.dialect == "sqlite"
               else postgres_database())
    copies = postgres_database()
    try:
        target = Store(next(targets))
        restore(tmp_path / "backup", target)
        copy = Store(next(copies))
        copy.migrate()
        counts = copy_store(source, copy)
        assert counts["schemas"] == before["counts"]["schemas"]
        for store in (target, copy):
            core = Core(Settings(store.url, keys), store)
            schemas = core.registry.current_schemas("t1")
            assert [s.version for s in schemas.versions["Transaction"]] == ["1.0.0", "2.0.0"]
            assert core.registry.current_schemas("t2").get("Party") is None
            items, _ = core.store.evaluations.list("t1", decision=None, rule_id=None,
                                                   start=None, end=None, page=1, per_page=100)
            assert items and all(core.evaluations.replay("t1", e["evaluation_id"])["match"]
                                 for e in items)
            # a rule deployed on the copy is typed with the copied schemas
            view, _ = core.registry.deploy_rule("t1", rule(
                "copied", "1.0.0", 'transaction.channel == "cash"', "Transaction@1.0.0"), "yaml")
            assert view["warnings"] == []
            store.engine.dispose()
    finally:
        source.engine.dispose()
        targets.close()
        copies.close()


# ------------------------------------------------------------------ strict validation

def test_strict_validation_refuses_warnings(tmp_path: Path) -> None:
    with live_server(tmp_path, env={"ARKA_STRICT_RULES": "true"}) as srv:
        c = srv.client()
        loose = rule("loose", "1.0.0", "transaction.amount > 5", type_="object")
        for path in ("/api/v1/rules", "/api/v1/rules/validate"):
            found = details(post(c, path, loose))
            assert [d["code"] for d in found] == ["W_UNTYPED_FIELD"]
            assert (found[0]["line"], found[0]["column"]) == position(loose, "amount")
        assert srv.rows("rules") == 0
        # typed by a deployed schema, the same rule is fine
        assert post(c, "/api/v1/schemas", TXN_V1.replace("counterparty: { type: Party }",
                                                         "note: { type: string }")
                    ).status_code == 201
        r = post(c, "/api/v1/rules", rule("typed", "1.0.0", "transaction.amount > 5"))
        assert r.status_code == 201 and r.json()["warnings"] == [], r.text


def test_strict_validation_setting() -> None:
    assert strict_rules({}, None, "development") is False
    assert strict_rules({}, None, "production") is True
    assert strict_rules({}, False, "production") is False
    assert strict_rules({"ARKA_STRICT_RULES": "false"}, True, "production") is False
    assert strict_rules({"ARKA_STRICT_RULES": "1"}, None, "development") is True
    with pytest.raises(ConfigError, match="ARKA_STRICT_RULES"):
        strict_rules({"ARKA_STRICT_RULES": "maybe"}, None, "development")
    prod = parse_config({"environment": "production"}, {})
    assert prod.rules.strict_validation is None
    settings = Settings.from_config(parse_config({"rules": {"strict_validation": True}}, {}),
                                    {}, database_url="sqlite://")
    assert settings.strict_rules is True
    assert Settings.from_config(prod, {}, database_url="sqlite://").strict_rules is True
    with pytest.raises(ConfigError, match="rules.strict_validationn: unknown key"):
        parse_config({"rules": {"strict_validationn": True}}, {})


def test_schemas_wait_for_approval_like_tables(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    store = Store(url)
    store.migrate()
    core = Core(Settings(url, tmp_path / "keys", require_approval=True), store)
    from arka.security.principal import Actor
    alice = Actor("apikey:alice", person="alice")
    bob = Actor("apikey:bob", person="bob")
    view, created = core.registry.deploy_schema("default", PARTY, alice)
    assert created and view["status"] == "pending"
    assert core.registry.current_schemas("default").get("Party") is None
    pending = core.approvals.pending("default")["items"]
    assert [(p["kind"], p["name"]) for p in pending] == [("schema", "Party")]
    reviewed = core.approvals.review("default", "schema", "Party", "1.0.0", True, bob)
    assert reviewed["status"] == "active" and reviewed["reviewed_by"] == "apikey:bob"
    assert core.registry.current_schemas("default").get("Party") is not None
