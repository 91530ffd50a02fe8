"""Security end to end: authentication (API keys, JWT HS256 and RS256 via JWKS), every role
against every endpoint, tenant isolation (also by PostgreSQL row-level security), rate
limits (in process and in the real Redis), the audit chain, encryption at rest, and that no
secret leaks into responses or logs."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from arka.app.core import Core
from arka.interfaces.http.app import create_app
from arka.security.auth import AuthSettings
from arka.security.principal import PERMISSIONS, ROLE_PERMISSIONS, ROLES
from arka.security.ratelimit import LocalLimiter, RateLimitSettings, RedisLimiter
from arka.settings import Settings
from arka.storage import Store
from tests.helpers import EXAMPLES, evaluate_body
from tests.service_fixtures import _require_or_skip, api_client, database_url

CTR = (EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text()
FX = (EXAMPLES / "tables" / "fx-rates.yaml").read_text()
CASH = {"transaction": {"id": "t1", "amount": 12500, "currency": "USD", "type": "cash"}}
CTX = {"jurisdiction": "US", "domain": "AML", "timestamp": "2024-01-15T14:00:00Z"}
YAML = {"content-type": "application/x-yaml"}
RULESET = """ruleset:
  metadata: { name: a-only, jurisdiction: US, domain: AML, version: 1.0.0 }
  rules:
    - { ref: ctr-threshold-flag, version: "^1.0.0", required: true }
"""
SECRET = "test-jwt-secret-" + "s" * 40
ISSUER, AUDIENCE = "https://idp.example.test/", "arka-core"
REDIS_URL = os.environ.get("ARKA_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


def make_core(url: str, tmp_path: Path, **settings: Any) -> Core:
    store = Store(url)
    store.migrate()
    settings.setdefault("rate_limit", RateLimitSettings(enabled=False))
    settings.setdefault("auth", AuthSettings(jwt_secret=SECRET, issuer=ISSUER,
                                             audience=AUDIENCE))
    return Core(Settings(url, tmp_path / "keys", **settings), store)


@pytest.fixture
def core(db_url: str, tmp_path: Path) -> Core:
    return make_core(db_url, tmp_path)


def token(claims: dict[str, Any] | None = None, key: Any = SECRET, alg: str = "HS256",
          headers: dict[str, Any] | None = None, drop: tuple[str, ...] = ()) -> str:
    now = int(time.time())
    body = {"sub": "alice", "tenant": "default", "roles": ["admin"], "iss": ISSUER,
            "aud": AUDIENCE, "iat": now, "exp": now + 300}
    body.update(claims or {})
    for k in drop:
        body.pop(k)
    return jwt.encode(body, key, algorithm=alg, headers=headers)


def bearer(t: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {t}"}


def error_code(r: Any) -> str:
    return str(r.json()["error"]["code"])


# ------------------------------------------------------------------ authentication

def test_requests_without_or_with_bad_credentials_are_refused(core: Core) -> None:
    client = TestClient(create_app(core, sth_interval=0))
    r = client.get("/api/v1/rules")
    assert r.status_code == 401 and error_code(r) == "AUTHENTICATION_ERROR"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    valid = core.apikeys.create("default", "v", ["viewer"], None)["key"]
    for headers in ({"X-API-Key": "nonsense"}, {"X-API-Key": "arka_000000000000_" + "x" * 43},
                    {"X-API-Key": valid, "Authorization": "Bearer junk"},
                    {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"},
                    {"Authorization": "Bearer not.a.jwt"}):
        r = client.get("/api/v1/rules", headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert error_code(r) == "AUTHENTICATION_ERROR"
    # health, the OpenAPI document and the public signing keys need nothing
    for path in ("/health/live", "/health/ready", "/api/v1/openapi.json", "/api/v1/keys"):
        assert client.get(path).status_code == 200, path
    # each refusal is in the audit log's system chain
    events, total = core.store.audit.events("_system", page=1, per_page=100,
                                            action="auth.failure")
    assert total == 7 and all(e["outcome"] == "denied" for e in events)


def test_api_keys_lifecycle(core: Core) -> None:
    admin = api_client(core)
    r = admin.post("/api/v1/apikeys", json={"name": "payments", "roles": ["service"]})
    assert r.status_code == 201, r.text
    created = r.json()
    key, key_id = created["key"], created["id"]
    assert key.startswith(f"arka_{key_id}_") and created["roles"] == ["service"]
    service = TestClient(create_app(core), headers={"X-API-Key": key})
    admin.post("/api/v1/rules", content=CTR, headers=YAML)
    assert service.post("/api/v1/evaluate", json={"context": CTX, "input": CASH}
                        ).status_code == 201
    listed = admin.get("/api/v1/apikeys").json()["items"]
    mine = next(k for k in listed if k["id"] == key_id)
    assert "key" not in mine and mine["last_used_at"] is not None
    assert key not in json.dumps(listed)
    # only the hash is stored
    with core.store.engine.connect() as conn:
        dump = json.dumps([dict(r._mapping) for r in conn.execute(text("SELECT * FROM api_keys"))],
                          default=str)
    assert key not in dump and key.split("_", 2)[2] not in dump
    # revoke: refused at once in this process
    assert admin.delete(f"/api/v1/apikeys/{key_id}").json()["revoked_at"] is not None
    r = service.post("/api/v1/evaluate", json={"context": CTX, "input": CASH})
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    assert admin.delete("/api/v1/apikeys/nope").status_code == 404
    # a key cannot be created with roles its creator lacks, nor with bad input
    officer_key = core.apikeys.create("default", "officer", ["compliance_officer"], None)["key"]
    for body, code in (({"name": "x", "roles": ["root"]}, 400),
                       ({"name": "", "roles": ["viewer"]}, 400),
                       ({"name": "x", "roles": "admin"}, 400),
                       ({"name": "x", "roles": ["viewer"], "expires_at": "yesterday"}, 400),
                       ({"name": "x", "roles": ["viewer"],
                         "expires_at": "2001-01-01T00:00:00Z"}, 400),
                       ({"name": "x", "roles": ["viewer"], "scope": "all"}, 400)):
        r = admin.post("/api/v1/apikeys", json=body)
        assert r.status_code == code, (body, r.text)
    officer = TestClient(create_app(core), headers={"X-API-Key": officer_key})
    assert officer.post("/api/v1/apikeys", json={"name": "x", "roles": ["admin"]}
                        ).status_code == 403


def test_expired_api_key_is_refused(core: Core) -> None:
    created = core.apikeys.create("default", "short", ["viewer"],
                                  datetime.now(UTC) + timedelta(seconds=1))
    client = TestClient(create_app(core), headers={"X-API-Key": created["key"]})
    assert client.get("/api/v1/rules").status_code == 200
    time.sleep(2.1)  # past expiry and past the key cache
    r = client.get("/api/v1/rules")
    assert r.status_code == 401 and "expired" in r.json()["error"]["message"]


def test_jwt_hs256(core: Core) -> None:
    client = TestClient(create_app(core))
    assert client.get("/api/v1/rules", headers=bearer(token())).status_code == 200
    bad = {
        "expired": token({"exp": int(time.time()) - 3600}),
        "other key": token(key="another-secret-" + "k" * 40),
        "wrong audience": token({"aud": "someone-else"}),
        "wrong issuer": token({"iss": "https://evil.example/"}),
        "no tenant": token(drop=("tenant",)),
        "bad tenant": token({"tenant": "../etc"}),
        "no exp": token(drop=("exp",)),
        "no sub": token(drop=("sub",)),
        "alg none": jwt.encode({"sub": "alice", "tenant": "default", "roles": ["admin"],
                                "exp": int(time.time()) + 300, "iss": ISSUER,
                                "aud": AUDIENCE}, None, algorithm="none"),
        "HS512": token(alg="HS512", key=SECRET * 2),
    }
    for what, t in bad.items():
        r = client.get("/api/v1/rules", headers=bearer(t))
        assert r.status_code == 401, (what, r.text)
        assert SECRET not in r.text
    # clock skew: a token that expired 10 s ago passes within the 30 s leeway
    assert client.get("/api/v1/rules", headers=bearer(token(
        {"exp": int(time.time()) - 10}))).status_code == 200
    # a valid token with no known role may do nothing
    r = client.get("/api/v1/rules", headers=bearer(token({"roles": ["superuser"]})))
    assert r.status_code == 403 and error_code(r) == "AUTHORIZATION_ERROR"
    # roles as a space-separated string
    assert client.get("/api/v1/rules", headers=bearer(token({"roles": "viewer"}))
                      ).status_code == 200


class _Jwks:
    """A JWKS endpoint on 127.0.0.1 that counts its fetches."""

    def __init__(self, keys: list[Any]):
        self.fetches = 0
        outer = self
        jwks = {"keys": []}
        for kid, k in keys:
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(k.public_key())
                             if isinstance(k, rsa.RSAPrivateKey)
                             else jwt.algorithms.ECAlgorithm.to_jwk(k.public_key()))
            jwk["kid"] = kid
            jwks["keys"].append(jwk)
        body = json.dumps(jwks).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks.json"


def test_jwt_rs256_and_es256_via_jwks(tmp_path: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    server = _Jwks([("rsa-1", rsa_key), ("ec-1", ec_key)])
    try:
        core = make_core(f"sqlite:///{tmp_path / 'pact.db'}", tmp_path, auth=AuthSettings(
            jwks_url=server.url, issuer=ISSUER, audience=AUDIENCE))
        client = TestClient(create_app(core))
        for _ in range(3):
            r = client.get("/api/v1/rules", headers=bearer(token(
                key=rsa_key, alg="RS256", headers={"kid": "rsa-1"})))
            assert r.status_code == 200, r.text
        assert client.get("/api/v1/rules", headers=bearer(token(
            key=ec_key, alg="ES256", headers={"kid": "ec-1"}))).status_code == 200
        assert server.fetches == 1  # cached
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for t in (token(key=other, alg="RS256", headers={"kid": "rsa-1"}),  # wrong key
                  token(key=other, alg="RS256", headers={"kid": "unknown"}),
                  token(alg="HS256"),  # HS256 is not configured here
                  ):
            assert client.get("/api/v1/rules", headers=bearer(t)).status_code == 401
    finally:
        server.server.shutdown()


def test_weak_jwt_secret_and_no_auth_in_production_are_refused(tmp_path: Path) -> None:
    from arka.base.errors import ArkaError
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    with pytest.raises(ArkaError, match="at least 32 bytes"):
        Core(Settings(url, tmp_path / "keys", auth=AuthSettings(jwt_secret="short")))
    with pytest.raises(ArkaError, match="cannot be disabled"):
        Core(Settings(url, tmp_path / "keys", environment="production",
                      auth=AuthSettings(enabled=False), encryption_key="00" * 32))
    with pytest.raises(ArkaError, match="encryption key"):
        Core(Settings(url, tmp_path / "keys", environment="production"))


# ------------------------------------------------------------------ authorization

def _endpoints(eval_id: str, key_id: str) -> list[tuple[str, str, str, Any]]:
    """(method, path, permission, body) for every protected operation."""
    ev = {"context": CTX, "input": CASH}
    return [
        ("POST", "/api/v1/rules", "rules:write", CTR),
        ("POST", "/api/v1/rules/validate", "rules:read", CTR),
        ("GET", "/api/v1/rules", "rules:read", None),
        ("GET", "/api/v1/rules/ctr-threshold-flag", "rules:read", None),
        ("GET", "/api/v1/rules/ctr-threshold-flag/versions", "rules:read", None),
        ("GET", "/api/v1/rules/ctr-threshold-flag/versions/1.0.0", "rules:read", None),
        ("POST", "/api/v1/tables", "rules:write", FX),
        ("GET", "/api/v1/tables", "rules:read", None),
        ("GET", "/api/v1/tables/fx-rates", "rules:read", None),
        ("GET", "/api/v1/tables/fx-rates/versions/1.0.0", "rules:read", None),
        ("POST", "/api/v1/schemas", "rules:write",
         "schema: {name: x, version: 1.0.0, properties: {a: {type: string}}}\n"),
        ("GET", "/api/v1/schemas", "rules:read", None),
        ("GET", "/api/v1/schemas/x", "rules:read", None),
        ("GET", "/api/v1/schemas/x/versions/1.0.0", "rules:read", None),
        ("POST", "/api/v1/schemas/x/versions/1.0.0/approve", "rules:approve", {}),
        ("POST", "/api/v1/schemas/x/versions/1.0.0/reject", "rules:approve", {}),
        ("POST", "/api/v1/rulesets", "rules:write", "metadata: {name: x, version: 1.0.0}\n"
                                                     "rules: []\n"),
        ("GET", "/api/v1/rulesets", "rules:read", None),
        ("GET", "/api/v1/rulesets/x", "rules:read", None),
        ("GET", "/api/v1/approvals", "rules:read", None),
        ("POST", "/api/v1/rules/ctr-threshold-flag/versions/1.0.0/approve", "rules:approve",
         {}),
        ("POST", "/api/v1/rules/ctr-threshold-flag/versions/1.0.0/reject", "rules:approve", {}),
        ("POST", "/api/v1/tables/fx-rates/versions/1.0.0/approve", "rules:approve", {}),
        ("POST", "/api/v1/tables/fx-rates/versions/1.0.0/reject", "rules:approve", {}),
        ("POST", "/api/v1/rulesets/x/versions/1.0.0/approve", "rules:approve", {}),
        ("POST", "/api/v1/rulesets/x/versions/1.0.0/reject", "rules:approve", {}),
        ("POST", "/api/v1/evaluate", "evaluations:create", ev),
        ("POST", "/api/v1/evaluate/batch", "evaluations:create",
         {"context": CTX, "inputs": [{"id": "a", "input": CASH}]}),
        ("POST", "/api/v1/evaluate/replay", "evaluations:read", {"evaluation_id": eval_id}),
        ("GET", f"/api/v1/evaluations/{eval_id}", "evaluations:read", None),
        ("GET", "/api/v1/evaluations", "evaluations:read", None),
        ("GET", "/api/v1/stats/evaluations", "evaluations:read", None),
        ("GET", f"/api/v1/evaluations/{eval_id}/trace", "evaluations:read", None),
        ("POST", "/api/v1/exports", "evaluations:read", {}),
        ("GET", f"/api/v1/exports/exp_{'0' * 32}", "evaluations:read", None),
        ("GET", f"/api/v1/exports/exp_{'0' * 32}/download", "evaluations:read", None),
        ("POST", f"/api/v1/proofs/{eval_id}/verify", "proofs:read", None),
        ("GET", "/api/v1/log/sth", "log:read", None),
        ("GET", f"/api/v1/log/inclusion?evaluation_id={eval_id}", "proofs:read", None),
        ("GET", "/api/v1/log/consistency?first=1&second=1", "log:read", None),
        ("GET", "/api/v1/log/checkpoint", "log:read", None),
        ("GET", "/api/v1/log/key", "log:read", None),
        ("GET", "/api/v1/log/witnesses", "log:read", None),
        ("GET", "/api/v1/log/tile/0/000.p/1", "log:read", None),
        ("GET", "/api/v1/log/tile/entries/000.p/1", "log:entries", None),
        ("GET", f"/api/v1/evaluations/{eval_id}/proof-bundle", "proofs:read", None),
        ("GET", "/api/v1/anchors", "log:read", None),
        ("GET", "/api/v1/anchors/1", "log:read", None),
        ("POST", "/api/v1/apikeys", "keys:manage", {"name": "k", "roles": ["viewer"]}),
        ("GET", "/api/v1/apikeys", "keys:manage", None),
        ("DELETE", f"/api/v1/apikeys/{key_id}", "keys:manage", None),
        ("GET", "/api/v1/audit/events", "audit:read", None),
        ("GET", "/api/v1/audit/verify", "audit:read", None),
        ("GET", "/api/v1/plugins", "rules:read", None),
        ("GET", "/api/v1/plugins/x", "rules:read", None),
        ("POST", "/api/v1/screen", "screening:run", {"name": "Ivan Petrov"}),
        ("POST", "/api/v1/screening/allowlist", "screening:write",
         {"subject_id": "c1", "entity_id": "e1", "reason": "not the same person"}),
        ("GET", "/api/v1/screening/allowlist", "screening:read", None),
        ("GET", f"/api/v1/screening/allowlist/alw_{'0' * 32}", "screening:read", None),
        ("POST", f"/api/v1/screening/allowlist/alw_{'0' * 32}/approve", "screening:approve",
         {}),
        ("POST", f"/api/v1/screening/allowlist/alw_{'0' * 32}/reject", "screening:approve",
         {}),
        ("POST", f"/api/v1/screening/allowlist/alw_{'0' * 32}/revoke", "screening:write", {}),
        ("POST", "/api/v1/webhooks", "webhooks:manage",
         {"url": "https://example.com/hook", "events": ["arka.case.opened"]}),
        ("GET", "/api/v1/webhooks", "webhooks:manage", None),
        ("GET", f"/api/v1/webhooks/whk_{'0' * 32}", "webhooks:manage", None),
        ("POST", f"/api/v1/webhooks/whk_{'0' * 32}/disable", "webhooks:manage", None),
        ("POST", f"/api/v1/webhooks/whk_{'0' * 32}/enable", "webhooks:manage", None),
        ("POST", f"/api/v1/webhooks/whk_{'0' * 32}/rotate", "webhooks:manage", {}),
        ("POST", f"/api/v1/webhooks/whk_{'0' * 32}/test", "webhooks:manage", None),
        ("GET", f"/api/v1/webhooks/whk_{'0' * 32}/deliveries", "webhooks:manage", None),
        ("GET", "/api/v1/deliveries", "webhooks:manage", None),
        ("GET", f"/api/v1/deliveries/dlv_{'0' * 32}", "webhooks:manage", None),
        ("POST", f"/api/v1/deliveries/dlv_{'0' * 32}/redeliver", "webhooks:manage", None),
        ("GET", "/api/v1/cases", "cases:read", None),
        ("POST", "/api/v1/cases", "cases:work",
         {"queue": "q", "reason": "look at it", "evaluation_ids": [eval_id]}),
        ("GET", f"/api/v1/cases/case_{'0' * 32}", "cases:read", None),
        ("POST", f"/api/v1/cases/case_{'0' * 32}/actions", "cases:work",
         {"action": "comment", "text": "a note"}),
        ("POST", f"/api/v1/cases/case_{'0' * 32}/actions", "cases:close",
         {"action": "close", "disposition": "false_positive", "reason": "not a match"}),
        ("GET", f"/api/v1/cases/case_{'0' * 32}/events", "cases:read", None),
        ("GET", f"/api/v1/cases/case_{'0' * 32}/verify", "cases:read", None),
        ("POST", f"/api/v1/cases/case_{'0' * 32}/attachments", "cases:work",
         {"name": "a.txt", "media_type": "text/plain", "content_base64": "aGk="}),
        ("GET", f"/api/v1/cases/case_{'0' * 32}/attachments/att_{'0' * 32}", "cases:read",
         None),
        ("GET", f"/api/v1/cases/case_{'0' * 32}/export", "cases:read", None),
        ("GET", f"/api/v1/cases/case_{'0' * 32}/sar", "cases:read", None),
        ("GET", "/api/v1/queues", "cases:read", None),
    ]


def test_me_answers_every_role(core: Core) -> None:
    """`GET /api/v1/me` needs a valid credential, no permission: each role sees exactly
    its own permissions; no credential or a revoked one is 401."""
    assert TestClient(create_app(core)).get("/api/v1/me").status_code == 401
    for role in ROLES:
        made = core.apikeys.create("default", f"me-{role}", [role], None)
        client = TestClient(create_app(core), headers={"X-API-Key": made["key"]})
        me = client.get("/api/v1/me").json()
        assert me["roles"] == [role] and me["tenant"] == "default"
        assert set(me["permissions"]) == ROLE_PERMISSIONS[role]
        assert me["method"] == "api_key" and me["subject"] == f"apikey:{made['id']}"
        core.apikeys.revoke("default", made["id"])
        assert TestClient(create_app(core), headers={"X-API-Key": made["key"]}
                          ).get("/api/v1/me").status_code == 401


def _call(client: TestClient, method: str, path: str, body: Any, **kw: Any) -> Any:
    if isinstance(body, str):
        return client.request(method, path, content=body, headers=YAML, **kw)
    return client.request(method, path, json=body, **kw)


def test_every_role_against_every_endpoint(core: Core) -> None:
    admin = api_client(core)
    admin.post("/api/v1/rules", content=CTR, headers=YAML)
    eval_id = admin.post("/api/v1/evaluate", json={"context": CTX, "input": CASH}
                         ).json()["evaluation_id"]
    victim = core.apikeys.create("default", "victim", ["viewer"], None)["id"]
    endpoints = _endpoints(eval_id, victim)
    # the table covers every operation of the OpenAPI document but the public ones
    documented = {(m.upper(), p) for p, ops in admin.get("/api/v1/openapi.json").json()[
        "paths"].items() for m in ops}
    covered = {(m, p.split("?")[0].replace(eval_id, "{evaluation_id}")
                .replace(victim, "{key_id}")) for m, p, _, _ in endpoints}
    public = {("GET", "/api/v1/keys"), ("GET", "/health/live"), ("GET", "/health/ready"),
              ("GET", "/health/startup"),
              ("GET", "/api/v1/me")}  # any credential: test_me_answers_every_role
    generic = {(m, p.replace("ctr-threshold-flag", "{name}").replace("fx-rates", "{name}")
                .replace("/x", "/{name}").replace("1.0.0", "{version}")
                .replace("/anchors/1", "/anchors/{anchor_id}")
                .replace("/tile/entries/000.p/1", "/tile/entries/{path}")
                .replace("/tile/0/000.p/1", "/tile/{path}")
                .replace(f"exp_{'0' * 32}", "{export_id}")
                .replace(f"alw_{'0' * 32}", "{entry_id}")
                .replace(f"whk_{'0' * 32}", "{webhook_id}")
                .replace(f"dlv_{'0' * 32}", "{delivery_id}")
                .replace(f"case_{'0' * 32}", "{case_id}")
                .replace(f"att_{'0' * 32}", "{attachment_id}")) for m, p in covered}
    assert documented - public <= generic, documented - public - generic
    assert {perm for _, _, perm, _ in endpoints} == set(PERMISSIONS)
    for role in ROLES:
        key = core.apikeys.create("default", f"{role}-key", [role], None)["key"]
        client = TestClient(create_app(core), headers={"X-API-Key": key})
        for method, path, permission, body in endpoints:
            r = _call(client, method, path, body)
            if permission in ROLE_PERMISSIONS[role]:
                four_eyes = r.status_code == 403 and "cannot review it" in r.text
                assert r.status_code != 401 and (r.status_code != 403 or four_eyes), (
                    role, method, path, r.text)
            else:
                assert r.status_code == 403, (role, method, path, r.status_code)
                assert error_code(r) == "AUTHORIZATION_ERROR"
    denied, total = core.store.audit.events("default", page=1, per_page=1,
                                            action="access.denied")
    assert total > 0 and denied[0]["outcome"] == "denied"


def test_role_table_in_docs_matches_the_code() -> None:
    from arka.security.principal import role_table_markdown
    doc = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
    assert role_table_markdown() in doc, "run: python -m arka.interfaces.docgen docs"


# ------------------------------------------------------------------ tenants

def test_tenants_cannot_see_each_other(core: Core) -> None:
    a = api_client(core, tenant="bank-a")
    b = api_client(core, tenant="bank-b")
    assert a.post("/api/v1/rules", content=CTR, headers=YAML).status_code == 201
    assert a.post("/api/v1/tables", content=FX, headers=YAML).status_code == 201
    assert a.post("/api/v1/rulesets", content=RULESET, headers=YAML).status_code == 201
    # B cannot evaluate against A's ruleset: it does not exist for B
    r = b.post("/api/v1/evaluate", json={"context": dict(CTX, ruleset="a-only"), "input": CASH})
    assert r.status_code == 400 and "no ruleset named 'a-only'" in r.text
    rec = a.post("/api/v1/evaluate", json={"context": CTX, "input": CASH,
                                           "options": {"idempotency_key": "k-1"}}).json()
    eid = rec["evaluation_id"]
    assert rec["result"]["decision"] != "compliant"
    a_key = a.post("/api/v1/apikeys", json={"name": "a", "roles": ["viewer"]}).json()["id"]
    # B sees none of it, and cannot tell it exists (404, as for what does not exist)
    for path in ("/api/v1/rules/ctr-threshold-flag", "/api/v1/rules/ctr-threshold-flag/versions",
                 "/api/v1/rules/ctr-threshold-flag/versions/1.0.0", "/api/v1/tables/fx-rates",
                 "/api/v1/rulesets/a-only",
                 f"/api/v1/evaluations/{eid}", f"/api/v1/log/inclusion?evaluation_id={eid}"):
        r = b.get(path)
        assert r.status_code == 404, (path, r.text)
        assert "bank-a" not in r.text
    assert b.post("/api/v1/evaluate/replay", json={"evaluation_id": eid}).status_code == 404
    assert b.post(f"/api/v1/proofs/{eid}/verify").status_code == 404
    assert b.delete(f"/api/v1/apikeys/{a_key}").status_code == 404
    for path in ("/api/v1/rules", "/api/v1/tables", "/api/v1/rulesets", "/api/v1/evaluations"):
        assert b.get(path).json()["total"] == 0, path
    assert a_key not in b.get("/api/v1/apikeys").text
    # B's own (empty) rule set decides nothing: refused, never compliant by default
    rb = b.post("/api/v1/evaluate", json={"context": CTX, "input": CASH,
                                          "options": {"idempotency_key": "k-1"}})
    assert rb.status_code == 400 and rb.json()["error"]["details"][0]["code"] == "E_NO_RULES"
    # B may deploy its own rule of the same name and version, with other content
    other = CTR.replace("10000", "5000")
    assert other != CTR
    assert b.post("/api/v1/rules", content=other, headers=YAML).status_code == 201
    # the same idempotency key is B's own
    rb = b.post("/api/v1/evaluate", json={"context": CTX, "input": CASH,
                                          "options": {"idempotency_key": "k-1"}})
    assert rb.status_code == 201 and rb.json()["evaluation_id"] != eid, rb.text
    assert [r["version"] for r in rb.json()["rule_results"]] == ["1.0.0"]
    assert a.get("/api/v1/rules/ctr-threshold-flag/versions/1.0.0").json()["bytecode_hash"] != \
        b.get("/api/v1/rules/ctr-threshold-flag/versions/1.0.0").json()["bytecode_hash"]
    # each tenant's audit chain holds its own events and verifies
    for client in (a, b):
        assert client.get("/api/v1/audit/verify").json()["valid"]
    a_actions = {e["action"] for e in a.get("/api/v1/audit/events").json()["items"]}
    assert {"rule.deploy", "table.deploy", "apikey.create"} <= a_actions
    assert all(e["tenant"] == "bank-b" for e in b.get("/api/v1/audit/events").json()["items"])


def test_postgresql_row_level_security(tmp_path: Path) -> None:
    """The service's database role (not the owner) sees only the tenant it names."""
    import psycopg

    gen = database_url("postgresql", tmp_path)
    url = next(gen)
    try:
        core = make_core(url, tmp_path)
        core.registry.deploy_rule("bank-a", CTR, "yaml")
        core.registry.deploy_rule("bank-b", CTR, "yaml")
        evaluate_body(core, "bank-a", {"context": CTX, "input": CASH})
        evaluate_body(core, "bank-b", {"context": CTX, "input": CASH})
        role = "arka_app_" + uuid.uuid4().hex[:8]
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {role} LOGIN")
            conn.execute(f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO {role}")
            conn.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
        try:
            app_url = plain.replace("postgres@", f"{role}@")
            with psycopg.connect(app_url) as conn:
                for table in ("rules", "evaluations", "audit_events", "api_keys"):
                    assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
                conn.execute("SELECT set_config('arka.tenant', 'bank-a', true)")
                tenants = conn.execute("SELECT DISTINCT tenant FROM evaluations").fetchall()
                assert tenants == [("bank-a",)]
                assert conn.execute("SELECT count(*) FROM rules").fetchone() == (1,)
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level"):
                    conn.execute("INSERT INTO rules (tenant, name, version, major, minor, patch,"
                                 " source, source_hash, source_format, bytecode, bytecode_hash,"
                                 " jurisdiction, created_at) VALUES ('bank-b', 'x', '1.0.0', 1,"
                                 " 0, 0, '', '', 'yaml', '', '', 'US', now())")
            # the whole service works as that role, and still sees only its tenant
            app_store = Store(app_url.replace("postgresql://", "postgresql+psycopg://"))
            app_core = Core(Settings(app_store.url, tmp_path / "keys"), app_store)
            items, total = app_store.evaluations.list("bank-b", decision=None, rule_id=None,
                                                      start=None, end=None, page=1,
                                                      per_page=10)
            assert total == 1
            assert app_core.evaluations.verify("bank-b", items[0]["evaluation_id"])["valid"]
        finally:
            core.store.engine.dispose()
            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute(f"DROP OWNED BY {role}")
                conn.execute(f"DROP ROLE {role}")
    finally:
        for _ in gen:
            pass


# ------------------------------------------------------------------ rate limits

def _redis_client() -> Any:
    import redis
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        _require_or_skip(f"Redis at {REDIS_URL}: {exc}")
    return client


@pytest.mark.parametrize("backend", ["local", "redis"])
def test_rate_limit_burst_and_headers(backend: str, tmp_path: Path) -> None:
    # 6/minute: one token per 10 s, so a slow machine cannot refill the bucket mid-test;
    # the in-process limiter runs on a clock the test moves (Redis uses its server clock)
    from arka.interfaces.http.guard import Guard
    limits = RateLimitSettings(True, requests_per_minute=6, burst=5)
    core = make_core(f"sqlite:///{tmp_path / 'pact.db'}", tmp_path, rate_limit=limits)
    now = [1000.0]
    limiter: Any = (LocalLimiter(limits, clock=lambda: now[0]) if backend == "local" else
                    RedisLimiter(limits, _redis_client(), prefix=f"arka:test:{uuid.uuid4().hex}:"))
    key = core.apikeys.create("default", "t", ["viewer"], None)["key"]
    client = TestClient(create_app(core, guard=Guard(core, limiter)), headers={"X-API-Key": key})
    seen = [client.get("/api/v1/rules") for _ in range(8)]
    statuses = [r.status_code for r in seen]
    assert statuses[:5] == [200] * 5 and statuses[5:] == [429] * 3, statuses
    assert [int(r.headers["X-RateLimit-Remaining"]) for r in seen[:5]] == [4, 3, 2, 1, 0]
    assert all(r.headers["X-RateLimit-Limit"] == "6" for r in seen)
    refused = seen[-1]
    assert error_code(refused) == "RATE_LIMITED"
    assert 1 <= int(refused.headers["Retry-After"]) <= 10
    assert 1 <= int(refused.headers["X-RateLimit-Reset"]) <= 50
    if backend == "local":  # Redis refill is covered by the bucket-arithmetic test
        now[0] += 10.5  # one token back (6/minute)
        assert client.get("/api/v1/rules").status_code == 200
        assert client.get("/api/v1/rules").status_code == 429
    # another credential has its own bucket
    other = core.apikeys.create("default", "other", ["viewer"], None)["key"]
    assert client.get("/api/v1/rules", headers={"X-API-Key": other}).status_code == 200


def test_bucket_arithmetic_is_the_same_in_process_and_in_redis() -> None:
    limits = RateLimitSettings(True, requests_per_minute=600, burst=3)
    now = [0.0]
    local = LocalLimiter(limits, clock=lambda: now[0])
    redis_limiter = RedisLimiter(limits, _redis_client(), prefix=f"arka:test:{uuid.uuid4()}:")
    pattern = []
    for _ in range(5):
        pattern.append((local.hit("k").allowed, redis_limiter.hit("k").allowed))
    assert [p[0] for p in pattern] == [True, True, True, False, False]
    assert [p[1] for p in pattern] == [True, True, True, False, False]
    now[0] += 0.25  # 600/min = 10/s: 2.5 tokens back
    time.sleep(0.25)
    assert [local.hit("k").allowed for _ in range(3)] == [True, True, False]
    assert [redis_limiter.hit("k").allowed for _ in range(3)] == [True, True, False]


def test_redis_outage_lets_requests_through(caplog: pytest.LogCaptureFixture) -> None:
    import redis
    limits = RateLimitSettings(True, requests_per_minute=60, burst=1, on_redis_error="allow")
    dead = RedisLimiter(limits, redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2))
    with caplog.at_level(logging.ERROR, logger="arka.ratelimit"):
        assert all(dead.hit("k").allowed for _ in range(3))
    assert "Redis unavailable" in caplog.text


def test_unauthenticated_callers_are_limited_by_address(tmp_path: Path) -> None:
    limits = RateLimitSettings(True, requests_per_minute=1, burst=3)  # no refill mid-test
    core = make_core(f"sqlite:///{tmp_path / 'pact.db'}", tmp_path, rate_limit=limits)
    client = TestClient(create_app(core))
    statuses = [client.get("/api/v1/rules").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    # the public key endpoint is limited too; health probes are not
    assert client.get("/api/v1/keys").status_code == 429
    assert all(client.get("/health/live").status_code == 200 for _ in range(5))


# ------------------------------------------------------------------ CORS, limits

def test_cors_from_configuration(tmp_path: Path) -> None:
    cors = {"allow_origins": ["https://dashboard.example.test"], "allow_methods": ["GET", "POST"],
            "allow_headers": ["Authorization", "Content-Type"], "expose_headers": [],
            "allow_credentials": False, "max_age": 600}
    core = make_core(f"sqlite:///{tmp_path / 'pact.db'}", tmp_path, cors=cors)
    client = TestClient(create_app(core))
    pre = {"Origin": "https://dashboard.example.test", "Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "Authorization"}
    r = client.options("/api/v1/evaluate", headers=pre)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "https://dashboard.example.test"
    r = client.options("/api/v1/evaluate", headers=dict(pre, Origin="https://evil.example"))
    assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
    r = client.get("/health/live", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers


def test_body_read_timeout(tmp_path: Path) -> None:
    import asyncio

    from arka.interfaces.http.middleware import RequestContext

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()

    sent: list[Any] = []

    async def never() -> Any:
        await asyncio.sleep(10)

    async def send(message: Any) -> None:
        sent.append(message)

    from arka.interfaces.http.errors import RequestTimeout
    with pytest.raises(RequestTimeout, match="read_timeout"):
        asyncio.run(RequestContext(app, 1000, read_timeout=0.05)(
            {"type": "http", "headers": []}, never, send))


# ------------------------------------------------------------------ audit log

def test_audit_chain_detects_tampering(core: Core, db_url: str) -> None:
    admin = api_client(core)
    for doc in (CTR, FX):
        path = "/api/v1/rules" if doc is CTR else "/api/v1/tables"
        assert admin.post(path, content=doc, headers=YAML).status_code == 201
    admin.post("/api/v1/apikeys", json={"name": "x", "roles": ["viewer"]})
    good = admin.get("/api/v1/audit/verify").json()
    assert good["valid"] and good["events"] == 4  # key for the test client, 2 deploys, 1 key
    events = admin.get("/api/v1/audit/events").json()["items"]
    assert [e["idx"] for e in events] == [3, 2, 1, 0]  # newest first
    deploy = next(e for e in events if e["action"] == "rule.deploy")
    assert deploy["resource"] == "rule:ctr-threshold-flag@1.0.0"
    assert deploy["actor"].startswith("apikey:") and deploy["request_id"]
    # the database refuses changes; an attacker with owner rights who bypasses that is caught
    with pytest.raises(DBAPIError, match="append-only"):
        with core.store.engine.begin() as conn:
            conn.execute(text("UPDATE audit_events SET actor = 'mallory'"))
    with core.store.engine.begin() as conn:
        if core.store.dialect == "postgresql":
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        else:
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE idx = 1 "
                          "AND tenant = 'default'"))
    bad = admin.get("/api/v1/audit/verify").json()
    assert not bad["valid"] and bad["events"] == 1 and "index 1" in bad["error"]
    from click.testing import CliRunner

    from arka.interfaces.cli import main
    result = CliRunner().invoke(main, ["audit", "verify", "--database-url", db_url,
                                       "--data-dir", str(Path(core.settings.key_dir).parent)])
    assert result.exit_code == 1 and "BROKEN" in result.output


def test_audit_chain_unit() -> None:
    from arka.security import audit
    events = []
    prev = audit.GENESIS
    for i in range(3):
        e = {"id": f"aud_{i}", "tenant": "t", "idx": i, "at": "2026-01-01T00:00:00Z",
             "actor": "a", "action": "x", "resource": "r", "outcome": "success",
             "request_id": None, "details": {"n": i}, "prev_hash": prev}
        e["hash"] = prev = audit.chain_hash(prev, e)
        events.append(e)
    assert audit.verify_chain(events)["valid"]
    assert not audit.verify_chain([events[0], events[2]])["valid"]  # removed
    assert not audit.verify_chain([events[1], events[0], events[2]])["valid"]  # reordered
    assert not audit.verify_chain([dict(events[0], details={"n": 9}), *events[1:]])["valid"]


# ------------------------------------------------------------------ encryption at rest

def test_records_are_encrypted_at_rest_and_keys_rotate(db_url: str, tmp_path: Path) -> None:
    k1, k2 = "11" * 32, "22" * 32
    core = make_core(db_url, tmp_path, encryption_key=k1)
    core.registry.deploy_rule("default", CTR, "yaml")
    secret_id = "customer-7f3a9c"
    body = {"context": CTX, "input": {"transaction": dict(CASH["transaction"], id=secret_id)}}
    first, _ = evaluate_body(core, "default", body)
    with core.store.engine.connect() as conn:
        row = conn.execute(text("SELECT record, key_id FROM evaluations")).one()
    assert secret_id not in row.record and row.record.startswith("v1.")
    assert row.key_id == core.store.sealer.cipher.current_id  # type: ignore[union-attr]
    # rotate: new key current, old key kept for reading
    rotated = make_core(db_url, tmp_path, encryption_key=k2, previous_encryption_keys=(k1,))
    second, _ = evaluate_body(rotated, "default", body)
    assert rotated.evaluations.get("default", first["evaluation_id"])["input"] == first["input"]
    assert rotated.evaluations.verify("default", first["evaluation_id"])["valid"]
    assert rotated.evaluations.replay("default", second["evaluation_id"])["match"]
    with rotated.store.engine.connect() as conn:
        kids = {r.key_id for r in conn.execute(text("SELECT key_id FROM evaluations"))}
    assert len(kids) == 2
    # without the old key the old record cannot be read, and the error says which key
    forgetful = make_core(db_url, tmp_path, encryption_key=k2)
    client = api_client(forgetful)
    r = client.get(f"/api/v1/evaluations/{first['evaluation_id']}")
    assert r.status_code == 500 and row.key_id in r.json()["error"]["message"]
    assert k1 not in r.text and k2 not in r.text
    assert client.get(f"/api/v1/evaluations/{second['evaluation_id']}").status_code == 200


def test_ciphertext_moved_to_another_row_does_not_open() -> None:
    from arka.security.crypto import KeyError_, RecordCipher
    cipher = RecordCipher.from_texts("33" * 32)
    sealed, kid = cipher.seal('{"a": 1}', "eval_1")
    assert cipher.open(sealed, kid, "eval_1") == '{"a": 1}'
    with pytest.raises(KeyError_, match="moved from another row"):
        cipher.open(sealed, kid, "eval_2")
    for bad in ("short", "zz" * 32, "11" * 31):
        with pytest.raises(KeyError_) as info:
            RecordCipher.from_texts(bad)
        assert bad not in info.value.message


# ------------------------------------------------------------------ no secret leaks

def test_no_secret_in_responses_or_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture
                                        ) -> None:
    enc = "44" * 32
    core = make_core(f"sqlite:///{tmp_path / 'pact.db'}", tmp_path, encryption_key=enc)
    key = core.apikeys.create("default", "k", ["viewer"], None)["key"]
    revoked = core.apikeys.create("default", "r", ["viewer"], None)
    core.apikeys.revoke("default", revoked["id"])
    client = TestClient(create_app(core), raise_server_exceptions=False)
    texts = []
    with caplog.at_level(logging.DEBUG):
        for headers in ({"X-API-Key": key}, {"X-API-Key": key + "x"},
                        {"X-API-Key": revoked["key"]},
                        bearer(token(key=SECRET + "x")), bearer(token({"exp": 1})),
                        bearer(token(alg="HS512", key=SECRET * 2))):
            for path in ("/api/v1/rules", "/api/v1/apikeys", "/api/v1/evaluations/x"):
                r = client.get(path, headers=headers)
                texts.append(r.text + json.dumps(dict(r.headers)))
    events = core.store.audit.events("_system", page=1, per_page=100)[0]
    blob = "\n".join(texts) + caplog.text + json.dumps(events)
    for secret in (SECRET, key, key.split("_", 2)[2], revoked["key"], enc):
        assert secret not in blob


def test_settings_from_environment_do_not_echo_secrets(tmp_path: Path) -> None:
    from arka.settings.file import masked, parse_config
    config = parse_config({"database": {"host": "db", "user": "u", "password": "hunter2-pw"},
                           "redis": {"host": "r", "password": "redis-pw"},
                           "storage": {"data_dir": str(tmp_path / "data")}}, env={})
    shown = json.dumps(masked(config))
    assert "hunter2-pw" not in shown and "redis-pw" not in shown
    settings = Settings.from_config(config, env={"jwt-secret": SECRET,
                                                 "encryption-key": "55" * 32})
    assert settings.auth.jwt_secret == SECRET and settings.encryption_key == "55" * 32
    assert SECRET not in repr(settings) and "55" * 32 not in repr(settings)


@pytest.mark.parametrize("backend", ["local", "redis"])
def test_tenant_wide_rate_limit(backend: str, tmp_path: Path) -> None:
    """api.rate_limiting.tenant_*: one more bucket shared by every credential of a tenant."""
    from arka.interfaces.http.guard import Guard
    limits = RateLimitSettings(True, requests_per_minute=1, burst=10,  # no refill mid-test
                               tenant_requests_per_minute=1, tenant_burst=4)
    core = make_core(f"sqlite:///{tmp_path / 'pact.db'}", tmp_path, rate_limit=limits)
    limiter: Any = LocalLimiter(limits) if backend == "local" else RedisLimiter(
        limits, _redis_client(), prefix=f"arka:test:{uuid.uuid4().hex}:")
    app = create_app(core, guard=Guard(core, limiter))
    keys = [core.apikeys.create("default", f"k{i}", ["viewer"], None)["key"] for i in range(2)]
    other = core.apikeys.create("bank-b", "b", ["viewer"], None)["key"]
    client = TestClient(app)
    statuses = [client.get("/api/v1/rules", headers={"X-API-Key": keys[i % 2]}).status_code
                for i in range(6)]
    assert statuses == [200, 200, 200, 200, 429, 429]  # 4 for the tenant, not 10 per key
    refused = client.get("/api/v1/rules", headers={"X-API-Key": keys[0]})
    assert "whole tenant" in refused.json()["error"]["message"]
    assert refused.headers["X-RateLimit-Limit"] == "1"
    # another tenant has its own bucket
    assert client.get("/api/v1/rules", headers={"X-API-Key": other}).status_code == 200
