"""Governance and context fail-open: four-eyes compares persons (not keys), jurisdiction
and domain codes are normalised or refused (never silently `compliant`), an evaluation no
rule decides is refused, and dependency cycles across versions are refused at deploy
(a stored one fails only the contexts it decides). Through a real uvicorn server and
in process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arka.app.core import Core
from arka.app.requests import EvaluateRequest
from arka.base.calendar import normalize_jurisdiction
from arka.base.errors import Conflict
from arka.interfaces.http.app import create_app
from arka.security.ratelimit import RateLimitSettings
from arka.settings import Settings
from arka.storage import Store
from tests.live_server import MB, LiveServer, live_server

YAML = {"content-type": "application/x-yaml"}
CASH = {"tx": {"amount": 15000, "type": "cash"}}
TS = "2024-01-15T14:00:00Z"


def rule(name: str, version: str = "1.0.0", deps: tuple[str, ...] = (),
         jurisdiction: str = "US", domain: str | None = "AML") -> str:
    extra = f"\n    depends_on: [{', '.join(deps)}]" if deps else ""
    extra += f"\n    domain: {domain}" if domain else ""
    return f"""rule:
  metadata:
    name: {name}
    version: {version}
    jurisdiction: {jurisdiction}{extra}
  inputs:
    - name: tx
      schema: {{ properties: {{ amount: {{ type: decimal }}, type: {{ type: string }} }} }}
  conditions:
    - id: big_cash
      expression: tx.amount >= 10000 AND tx.type == "cash"
  actions:
    - trigger: big_cash
      type: flag
      config: {{ severity: high, category: CTR }}
"""


def codes(r: Any) -> list[str]:
    return [d.get("code", "") for d in r.json()["error"]["details"]]


def refused_jurisdiction(r: Any) -> bool:
    """400 naming context.jurisdiction (E_CONTEXT, or the request check of every text
    field, which refuses NUL characters), or E_NO_RULES for a valid code no rule covers."""
    details = r.json()["error"]["details"]
    return r.status_code == 400 and len(details) == 1 and (
        details[0].get("code") == "E_NO_RULES"
        or details[0]["path"] == "context.jurisdiction")


# ------------------------------------------------------------------ the real server

@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("governance")
    config = tmp / "arka.yaml"
    config.write_text("governance:\n  require_approval: true\n")
    with live_server(tmp, config=config) as server:
        yield server


def _approved(srv: LiveServer, tenant: str, text: str) -> None:
    """Deploy as the tenant's admin, approve as its compliance officer (another person)."""
    r = srv.client("admin", tenant).post("/api/v1/rules", content=text, headers=YAML)
    assert r.status_code == 201, r.text
    body = r.json()
    r = srv.client("compliance_officer", tenant).post(
        f"/api/v1/rules/{body['name']}/versions/{body['version']}/approve")
    assert r.status_code == 200, r.text


def test_a_second_key_of_the_deployer_cannot_approve(srv: LiveServer) -> None:
    admin = srv.client("admin", "t1")
    assert admin.post("/api/v1/rules", content=rule("four-eyes"), headers=YAML
                      ).json()["status"] == "pending"
    me = {k["id"]: k for k in admin.get("/api/v1/apikeys").json()["items"]}
    admin_key = srv.keys[("t1", "admin")].split("_")[1]
    admin_person = me[admin_key]["owner"]
    # the admin mints a second key for itself, and one "for" somebody else
    second = admin.post("/api/v1/apikeys", json={"name": "mine too",
                                                 "roles": ["compliance_officer"]})
    assert second.status_code == 201 and second.json()["owner"] == admin_person
    other = admin.post("/api/v1/apikeys", json={"name": "for bob", "owner": "Bob@Example.com",
                                                "roles": ["compliance_officer"]})
    assert other.status_code == 201, other.text
    assert other.json()["owner"] == "bob@example.com"
    assert other.json()["issued_by"] == admin_person
    url = "/api/v1/rules/four-eyes/versions/1.0.0/approve"
    for key in (second.json()["key"], other.json()["key"]):
        with srv.client() as c:
            c.headers["X-API-Key"] = key
            started = time.monotonic()
            r = c.post(url)
            assert time.monotonic() - started < 5
        assert r.status_code == 403, r.text
        assert codes(r) == ["E_SAME_PERSON"] and "another person" in r.text
    assert srv.rows("rules", "WHERE name = 'four-eyes' AND status = 'pending'") == 1
    # a different person approves
    r = srv.client("compliance_officer", "t1").post(url)
    assert r.status_code == 200 and r.json()["status"] == "active"
    # the key creations are audited with creator and owner
    events = admin.get("/api/v1/audit/events", params={"action": "apikey.create",
                                                       "per_page": 100}).json()["items"]
    by_key = {e["details"]["key_id"]: e["details"] for e in events}
    for created, owner in ((second, admin_person), (other, "bob@example.com")):
        details = by_key[created.json()["id"]]
        assert details["creator"] == admin_person and details["owner"] == owner
        assert details["roles"] == ["compliance_officer"]


def test_an_owner_that_is_not_a_name_is_refused(srv: LiveServer) -> None:
    admin = srv.client("admin", "t1")
    before = srv.rows("api_keys")
    for owner in ("", "apikey:abc", "bob\u0000", "a" * 200, "b\u043e\u0432", " bob"):
        r = admin.post("/api/v1/apikeys", json={"name": "x", "owner": owner,
                                                "roles": ["viewer"]})
        assert r.status_code == 400, (owner, r.text)
    assert srv.rows("api_keys") == before
    done = srv.cli("apikey", "create", "--name", "x", "--role", "viewer", "--tenant", "t1",
                   "--owner", "not a name", check=False)
    assert done.returncode == 2 and "owner" in done.stderr
    assert srv.rows("api_keys") == before


def test_cli_keys_of_one_owner_are_one_person(srv: LiveServer) -> None:
    key = srv.cli("apikey", "create", "--name", "carol-ci", "--role", "compliance_officer",
                  "--tenant", "t2", "--owner", "carol", "--key-only").stdout.strip()
    key2 = srv.cli("apikey", "create", "--name", "carol-laptop", "--role",
                   "compliance_officer", "--tenant", "t2", "--owner", "Carol",
                   "--key-only").stdout.strip()
    with srv.client("admin", "t2") as carol, srv.client("admin", "t2") as carol2:
        carol.headers["X-API-Key"], carol2.headers["X-API-Key"] = key, key2
        assert carol.post("/api/v1/rules", content=rule("carols"), headers=YAML
                          ).status_code == 201
        r = carol2.post("/api/v1/rules/carols/versions/1.0.0/approve")
        assert r.status_code == 403 and codes(r) == ["E_SAME_PERSON"]
        r = carol2.post("/api/v1/rules/carols/versions/1.0.0/reject")
        assert r.status_code == 403
    assert srv.client("admin", "t2").post("/api/v1/rules/carols/versions/1.0.0/reject"
                                          ).status_code == 200


def test_jurisdiction_variants_never_decide_compliant_live(srv: LiveServer) -> None:
    _approved(srv, "t1", rule("ctr-live"))
    service = srv.client("service", "t1")
    stored = srv.rows("evaluations")
    r = service.post("/api/v1/evaluate", json={"context": {"jurisdiction": "us",
                                                           "domain": " aml ", "timestamp": TS},
                                               "input": CASH})
    assert r.status_code == 201, r.text
    assert r.json()["context"]["jurisdiction"] == "US" and r.json()["context"]["domain"] == "AML"
    assert r.json()["result"]["decision"] != "compliant"
    stored += 1
    for value, code in (("US\u0000", "E_CONTEXT"), ("XX", "E_CONTEXT"), ("U\u0405", "E_CONTEXT"),
                        ("\uff35\uff33", "E_CONTEXT"), ("US-ZZ", "E_CONTEXT"),
                        ("ALL", "E_CONTEXT"), ("FR", "E_NO_RULES")):
        started = time.monotonic()
        r = service.post("/api/v1/evaluate", json={"context": {"jurisdiction": value,
                                                               "timestamp": TS},
                                                   "input": CASH})
        assert time.monotonic() - started < 5
        assert refused_jurisdiction(r), (value, r.text)
        if code == "E_NO_RULES":
            assert codes(r) == [code]
        else:
            assert "context.jurisdiction" in r.text and r.json()["error"]["details"][0][
                "path"] == "context.jurisdiction"
    r = service.post("/api/v1/evaluate", json={"context": {"domain": "KYC", "timestamp": TS},
                                               "input": CASH})
    assert r.status_code == 400 and codes(r) == ["E_NO_RULES"]
    assert srv.rows("evaluations") == stored
    assert srv.rss() < srv.start_rss + 200 * MB and srv.alive()


def test_a_cycle_across_versions_is_refused_and_the_tenant_keeps_evaluating(
        srv: LiveServer) -> None:
    _approved(srv, "t2", rule("cyc-a"))
    _approved(srv, "t2", rule("cyc-b", deps=("cyc-a",)))
    admin = srv.client("admin", "t2")
    rules_before = srv.rows("rules")
    r = admin.post("/api/v1/rules", content=rule("cyc-a", "2.0.0", deps=("cyc-b",)),
                   headers=YAML)
    assert r.status_code == 409, r.text
    assert codes(r) == ["E_DEPENDENCY_CYCLE"] and "cyc-a -> cyc-b -> cyc-a" in r.text
    # a ruleset that orders cyc-a after cyc-b, while cyc-b depends on cyc-a
    ruleset = ("ruleset:\n  metadata: { name: cyc-set, version: 1.0.0 }\n  rules:\n"
               "    - { ref: cyc-a, version: '^1.0.0', depends_on: [cyc-b] }\n"
               "    - { ref: cyc-b, version: '^1.0.0' }\n")
    r = admin.post("/api/v1/rulesets", content=ruleset, headers=YAML)
    assert r.status_code == 409 and codes(r) == ["E_DEPENDENCY_CYCLE"], r.text
    assert srv.rows("rules") == rules_before and srv.rows("rulesets") == 0
    r = srv.client("service", "t2").post("/api/v1/evaluate", json={
        "context": {"jurisdiction": "US", "timestamp": TS}, "input": CASH})
    assert r.status_code == 201 and r.json()["result"]["decision"] != "compliant"


def test_unknown_codes_in_documents_are_refused_at_deploy(srv: LiveServer) -> None:
    admin = srv.client("admin", "t1")
    before = srv.rows("rules")
    for text in (rule("bad-j", jurisdiction="XX"), rule("bad-j", jurisdiction="US-ZZ"),
                 rule("bad-d", domain="'a m l'")):
        r = admin.post("/api/v1/rules", content=text, headers=YAML)
        assert r.status_code == 400 and codes(r)[0] in ("E_JURISDICTION", "E_DOMAIN"), r.text
        assert r.json()["error"]["details"][0]["line"] > 1
        v = admin.post("/api/v1/rules/validate", content=text, headers=YAML)
        assert v.status_code == 400 and codes(v) == codes(r), v.text
    table = ("table:\n  name: limits\n  version: 1.0.0\n  kind: threshold\n  rows:\n"
             "    - { jurisdiction: us, type: ctr, value: 10000 }\n")
    r = admin.post("/api/v1/tables", content=table, headers=YAML)
    assert r.status_code == 400 and codes(r) == ["E_JURISDICTION"], r.text
    assert srv.rows("rules") == before and srv.rows("reference_tables") == 0


# ------------------------------------------------------------------ in process

def _core(tmp_path: Path, require: bool = False) -> Core:
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    store = Store(url)
    store.migrate()
    return Core(Settings(url, tmp_path / "keys", require_approval=require,
                         rate_limit=RateLimitSettings(enabled=False)), store)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    core = _core(tmp_path_factory.mktemp("inproc"))
    key = core.apikeys.create("default", "admin", ["admin"], None)["key"]
    client = TestClient(create_app(core), headers={"X-API-Key": key})
    assert client.post("/api/v1/rules", content=rule("ctr"), headers=YAML).status_code == 201
    return client


LOOKALIKES = st.sampled_from(["U", "S", "u", "s", "-", "N", "Y", "\u0000", " ", "\t", "\n",
                              "\u0405", "\u0423", "\uff35", "\uff33", "\u00a0", "\u200b",
                              "\u0131", "A", "L", "X", "Z", "1", "c", "a"])


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.lists(LOOKALIKES, min_size=0, max_size=7).map("".join),
                       st.text(max_size=8),
                       st.sampled_from(["us", "Us", " US", "US ", "us-ny", "US-CA", "GB",
                                        "gb-eng", "FR", "EU", "ALL", "*", "GLOBAL", "USA"])))
def test_generated_jurisdictions_are_normalised_or_refused(app: TestClient, value: str
                                                           ) -> None:
    r = app.post("/api/v1/evaluate", json={"context": {"jurisdiction": value, "timestamp": TS},
                                           "input": CASH})
    if r.status_code == 201:
        got = r.json()["context"]["jurisdiction"]
        assert got == normalize_jurisdiction(value, allow_all=False) and got.isascii()
        assert got == "US" or got.startswith("US-")
        assert r.json()["result"]["decision"] != "compliant"
    else:
        assert refused_jurisdiction(r), r.text


def test_a_stored_cycle_fails_only_the_contexts_it_decides(tmp_path: Path) -> None:
    core = _core(tmp_path)
    key = core.apikeys.create("default", "admin", ["admin"], None)["key"]
    client = TestClient(create_app(core), headers={"X-API-Key": key})
    assert client.post("/api/v1/rules", content=rule("us-rule"), headers=YAML
                       ).status_code == 201
    assert client.post("/api/v1/rules", content=rule("gb-a", jurisdiction="GB"), headers=YAML
                       ).status_code == 201
    assert client.post("/api/v1/rules", content=rule("gb-b", deps=("gb-a",), jurisdiction="GB"),
                       headers=YAML).status_code == 201
    # an older release stored gb-a@2 (depends on gb-b) without the deploy-time check
    compiled = core.registry.validate_rule(rule("gb-a", "2.0.0", ("gb-b",), "GB"))
    core.store.registry.put_rule(
        "default", name="gb-a", version="2.0.0", source="legacy", source_format="yaml",
        source_hash="sha256:legacy", bytecode=compiled.bytecode,
        bytecode_hash=compiled.bytecode_hash, jurisdiction="GB", domain="AML",
        effective_date=None, expiry_date=None)
    core.registry.changed("default")
    with core.store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM evaluations")).scalar_one()
    r = client.post("/api/v1/evaluate", json={"context": {"jurisdiction": "GB",
                                                          "timestamp": TS}, "input": CASH})
    assert r.status_code == 409 and codes(r) == ["E_DEPENDENCY_CYCLE"], r.text
    assert "gb-a@2.0.0 -> gb-b@1.0.0 -> gb-a@2.0.0" in r.text
    r = client.post("/api/v1/evaluate", json={"context": {"jurisdiction": "US",
                                                          "timestamp": TS}, "input": CASH})
    assert r.status_code == 201 and r.json()["result"]["decision"] == "non_compliant"
    assert [x["rule_id"] for x in r.json()["rule_results"]] == ["us-rule"]
    with core.store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM evaluations")).scalar_one() == \
            stored + 1


def _legacy_put(core: Core, text: str) -> None:
    """Store a rule version as an older release did: without the dependency checks."""
    compiled = core.registry.validate_rule(text)
    meta = compiled.metadata
    core.store.registry.put_rule(
        "default", name=compiled.name, version=compiled.version, source=text,
        source_format="yaml", source_hash=f"sha256:{compiled.bytecode_hash}",
        bytecode=compiled.bytecode, bytecode_hash=compiled.bytecode_hash,
        jurisdiction=meta["jurisdiction"], domain=meta.get("domain"),
        effective_date=None, expiry_date=None)
    core.registry.changed("default")


def test_a_stored_cycle_does_not_block_unrelated_deploys_and_can_be_broken(
        tmp_path: Path) -> None:
    core = _core(tmp_path)
    _legacy_put(core, rule("p", deps=("q",)))
    _legacy_put(core, rule("q", deps=("p",)))
    ctx = {"jurisdiction": "US", "timestamp": TS}
    with pytest.raises(Conflict) as caught:
        core.evaluations.evaluate("default", EvaluateRequest(context=ctx, input=CASH))
    assert caught.value.code == "E_DEPENDENCY_CYCLE"
    core.registry.deploy_rule("default", rule("unrelated", jurisdiction="GB"), "yaml")
    with pytest.raises(Conflict):  # q@2 still depends on p, and p@1 on q
        core.registry.deploy_rule("default", rule("q", "2.0.0", deps=("p",)), "yaml")
    # p@2 without the dependency supersedes p@1 on every date: the cycle is gone
    core.registry.deploy_rule("default", rule("p", "2.0.0"), "yaml")
    record, _ = core.evaluations.evaluate("default", EvaluateRequest(context=ctx, input=CASH))
    assert record["result"]["decision"] == "non_compliant"
    assert {(x["rule_id"], x["version"]) for x in record["rule_results"]} >= {
        ("p", "2.0.0"), ("q", "1.0.0")}


def test_legacy_keys_get_their_creators_person(tmp_path: Path) -> None:
    core = _core(tmp_path)
    root = core.apikeys.create("default", "root", ["admin"], None)
    from arka.security.principal import Actor
    minted = core.apikeys.create("default", "minted", ["admin"], None,
                                 Actor(f"apikey:{root['id']}", person=root["owner"]))
    assert minted["owner"] == root["owner"] == f"apikey:{root['id']}"
    # forget the owners, as keys stored before owners existed, and run the migration again
    with core.store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE api_keys SET owner = NULL, issued_by = NULL"))
        conn.execute(sa.text("ALTER TABLE api_keys DROP COLUMN owner"))
        conn.execute(sa.text("ALTER TABLE api_keys DROP COLUMN issued_by"))
        conn.execute(sa.text("DROP TABLE schemas"))  # made by 0009, which runs again too
        conn.execute(sa.text("DROP TABLE screening_allowlist"))  # made by 0010, likewise
        for table in ("outbox", "webhooks", "deliveries", "worker_leases", "cases",
                      "case_evaluations", "case_events"):  # made by 0011, likewise
            conn.execute(sa.text(f"DROP TABLE {table}"))
        for table in ("log_checkpoints", "log_cosignatures", "log_witnesses"):  # 0012
            conn.execute(sa.text(f"DROP TABLE {table}"))
        for column in ("flags", "entities"):  # 0013
            conn.execute(sa.text(f"ALTER TABLE evaluations DROP COLUMN {column}"))
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0007'"))
    core.store.migrate()
    keys = {k["name"]: k for k in core.apikeys.list("default")["items"]}
    assert keys["root"]["owner"] == f"apikey:{root['id']}" and keys["root"]["issued_by"] is None
    assert keys["minted"]["owner"] == keys["root"]["owner"]
    assert keys["minted"]["issued_by"] == keys["root"]["owner"]
