"""Storage integrity on SQLite and the real PostgreSQL: the append-only tables refuse every
kind of raw SQL change (data unchanged); `arka-cli db check` is clean on a good database
and names the gap for each kind of damage done with the triggers disabled; unsealed rows
in a sealing store are integrity faults, never data; the backup refuses a damaged store."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from arka.app.core import Core
from arka.app.integrity import Report
from arka.app.vault import Vault
from arka.base.errors import ArkaError
from arka.security.crypto import KeyError_, RecordCipher
from arka.security.sealing import IntegrityFault
from arka.settings import Settings
from arka.settings.cases import CasePolicy
from arka.storage import Store
from arka.storage.objects import open_objects
from arka.storage.sql import schema as S
from tests.helpers import EXAMPLES, evaluate_body
from tests.service_fixtures import PG_ADMIN, postgres_database

CLI = str(Path(sys.executable).parent / "arka-cli")
CTX = {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"}
N = 12  # evaluations in the base store (two tenants, one with an idempotency key)


def _tx(amount: int) -> dict[str, Any]:
    return {"transaction": {"id": f"t{amount}", "amount": amount, "currency": "USD",
                            "type": "cash"}}


@dataclass
class Base:
    kind: str
    url: str
    data: Path  # data directory: keys/ holds the signing and record keys
    leaves: list[tuple[int, str]]  # (index, evaluation id)


def _fill(url: str, data: Path) -> list[tuple[int, str]]:
    store = Store(url)
    store.migrate()
    # every flag opens a case here, so that case events exist to attack
    core = Core(dataclasses.replace(Settings(url, data / "keys"), cases=CasePolicy(
        open_on=("escalation", "block", "flag:critical", "flag:high", "flag:medium",
                 "flag:low"))), store)
    rule = (EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text()
    for tenant in ("t1", "t2"):
        core.registry.deploy_rule(tenant, rule, "yaml")
    for i in range(N):
        options = {"idempotency_key": f"k{i}"} if i % 3 == 0 else {}
        evaluate_body(core, "t1" if i % 2 else "t2",
                      {"context": CTX, "input": _tx(9000 + 1000 * i), "options": options})
        if i % 4 == 3:
            core.transparency.sth()
    size = core.transparency.sth()["tree_size"]
    # a witness's cosignature row to attack (its signature need not verify for that)
    core.store.log.add_cosignature(core.transparency.origin, size, "w.example/w",
                                   "\u2014 w.example/w AAAAAAA=\n", 1, "2026-01-01T00:00:00Z")
    core.delivery.dispatch_once()  # opens the cases
    core.audit.record_config("sha256:x", "test")
    with store.engine.connect() as conn:
        leaves = [(int(i), e) for i, e in conn.execute(sa.text(
            "SELECT idx, evaluation_id FROM log_leaves ORDER BY idx"))]
    store.engine.dispose()
    return leaves


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def base(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Base]:
    data = tmp_path_factory.mktemp("base")
    if request.param == "sqlite":
        url = f"sqlite:///{data / 'base.db'}"
        yield Base("sqlite", url, data, _fill(url, data))
        return
    gen = postgres_database()
    url = next(gen)
    try:
        yield Base("postgresql", url, data, _fill(url, data))
    finally:
        gen.close()


@pytest.fixture
def clone(base: Base, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the base store for one test (SQLite file / PostgreSQL template)."""
    if base.kind == "sqlite":
        shutil.copy(base.data / "base.db", tmp_path / "pact.db")
        yield f"sqlite:///{tmp_path / 'pact.db'}"
        return
    name = "arka_test_" + uuid.uuid4().hex[:12]
    source = base.url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    try:
        yield base.url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _core(url: str, base: Base) -> Core:
    return Core(Settings(url, base.data / "keys"), Store(url))


def _snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return {t: [tuple(r) for r in conn.execute(sa.text(
                f"SELECT * FROM {t} ORDER BY 1"))] for t in S.APPEND_ONLY}
    finally:
        engine.dispose()


# ------------------------------------------------------------------ bypass attempts

# table -> (the key column, a column to change, the changed value as SQL)
CHANGE = {
    "evaluations": ("seq", "decision", {"sqlite": "'compliant'", "postgresql": "'compliant'"}),
    "log_leaves": ("idx", "leaf_hash", {"sqlite": "randomblob(32)",
                                        "postgresql": "sha256(leaf_hash)"}),
    "log_nodes": ("key", "hash", {"sqlite": "randomblob(32)", "postgresql": "sha256(hash)"}),
    "log_heads": ("tree_size", "root_hash", {"sqlite": "'00'", "postgresql": "'00'"}),
    "audit_events": ("seq", "outcome", {"sqlite": "'forged'", "postgresql": "'forged'"}),
    "store_marks": ("name", "value", {"sqlite": "value + 1", "postgresql": "value + 1"}),
    "case_events": ("seq", "action", {"sqlite": "'forged'", "postgresql": "'forged'"}),
    # (..., the columns of the key an ON CONFLICT names, when it has several)
    "log_checkpoints": ("tree_size", "note", {"sqlite": "'forged'", "postgresql": "'forged'"},
                        "origin, tree_size"),
    "log_cosignatures": ("tree_size", "signature", {"sqlite": "'forged'",
                                                    "postgresql": "'forged'"},
                         "origin, tree_size, witness"),
}


def _attempts(kind: str, table: str) -> list[tuple[str, bool]]:
    """(statement, must it fail): every way SQL has of changing or removing a row."""
    key, col, value, *composite = CHANGE[table]
    conflict = composite[0] if composite else key
    value = value[kind]
    cols = [c.name for c in S.metadata.tables[table].columns]
    changed = ", ".join(value if c == col else c for c in cols)
    one = f"SELECT {changed} FROM {table} ORDER BY {key} LIMIT 1"
    names = ", ".join(cols)
    common = [
        (f"UPDATE {table} SET {col} = {value}", True),
        (f"DELETE FROM {table}", True),
        (f"DELETE FROM {table} WHERE {key} = (SELECT MIN({key}) FROM {table})", True),
        (f"INSERT INTO {table} ({names}) SELECT * FROM ({one}) AS x WHERE true "
         f"ON CONFLICT ({conflict}) DO UPDATE SET {col} = excluded.{col}", True),
    ]
    if kind == "sqlite":
        return common + [
            (f"INSERT OR REPLACE INTO {table} ({names}) {one}", True),
            (f"REPLACE INTO {table} ({names}) {one}", True),
            (f"UPDATE OR REPLACE {table} SET {col} = {value}", True),
            (f"INSERT OR IGNORE INTO {table} ({names}) {one}", False),  # harmless either way
            (f"CREATE VIEW v_{table} AS SELECT * FROM {table}", False),
            (f"CREATE TRIGGER v_{table}_up INSTEAD OF UPDATE ON v_{table} BEGIN "
             f"UPDATE {table} SET {col} = {value}; END", False),
            (f"UPDATE v_{table} SET {key} = {key}", True),
        ]
    return common + [
        (f"TRUNCATE {table}", True),
        (f"TRUNCATE {table} CASCADE", True),
        (f"MERGE INTO {table} t USING (SELECT {key} AS k FROM {table}) s ON t.{key} = s.k "
         f"WHEN MATCHED THEN UPDATE SET {col} = {value}", True),
        (f"MERGE INTO {table} t USING (SELECT {key} AS k FROM {table}) s ON t.{key} = s.k "
         f"WHEN MATCHED THEN DELETE", True),
        (f"INSERT INTO {table} ({names}) {one} ON CONFLICT DO NOTHING", False),
        (f"CREATE VIEW v_{table} AS SELECT * FROM {table}", False),
        (f"UPDATE v_{table} SET {col} = {value}", True),  # an updatable view
        (f"DELETE FROM v_{table}", True),
    ]


@pytest.mark.parametrize("table", S.APPEND_ONLY)
def test_every_raw_sql_change_is_refused(base: Base, clone: str, table: str) -> None:
    before = _snapshot(clone)
    assert before[table], f"the base store has no {table} rows to attack"
    engine = sa.create_engine(clone)
    passed = []
    try:
        for sql, must_fail in _attempts(base.kind, table):
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(sql)
            except sa.exc.DBAPIError as exc:
                assert "append-only" in str(exc.orig), (sql, exc)
                continue
            if must_fail:
                passed.append(sql)
    finally:
        engine.dispose()
    assert passed == []
    assert _snapshot(clone) == before


# ------------------------------------------------------------------ db check

def test_check_is_clean_on_a_good_database(base: Base, clone: str) -> None:
    report = _core(clone, base).integrity.check(batch=5)  # several batches
    assert report.ok, report.problems
    assert report.counts == {"evaluations": N, "log_leaves": N, "log_heads": 3}
    out = subprocess.run([CLI, "db", "check", "--json", "--data-dir", str(base.data),
                          "--database-url", clone], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    body = json.loads(out.stdout)
    assert body["ok"] and body["problem_count"] == 0 and body["counts"]["evaluations"] == N


def _untriggered(url: str, statements: list[str], params: dict[str, Any] | None = None) -> None:
    """Run statements as someone with DDL rights would: triggers off."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            else:
                for (name,) in conn.exec_driver_sql(
                        "SELECT name FROM sqlite_master WHERE type = 'trigger'").all():
                    conn.exec_driver_sql(f"DROP TRIGGER {name}")
            for sql in statements:
                conn.execute(sa.text(sql), params or {})
    finally:
        engine.dispose()


def _plaintext_row(url: str, base: Base, evaluation_id: str) -> None:
    """The sealed record replaced by an edited plaintext copy with key_id NULL."""
    core = _core(url, base)
    with core.store.engine.connect() as conn:
        tenant = conn.execute(sa.text("SELECT tenant FROM evaluations WHERE id = :i"),
                              {"i": evaluation_id}).scalar_one()
    record = core.store.evaluations.get(tenant, evaluation_id)
    core.store.engine.dispose()
    record["result"]["decision"] = "compliant"
    _untriggered(url, ["UPDATE evaluations SET record = :r, key_id = NULL WHERE id = :i"],
                 {"r": json.dumps(record, sort_keys=True), "i": evaluation_id})


def _forged_head(url: str, base: Base, _: str) -> None:
    # an INSERT, which the triggers allow: the check must catch it on its own
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO log_heads (tree_size, root_hash, timestamp, key_id, "
                             "signature) SELECT tree_size + 100, root_hash, timestamp, key_id, "
                             "signature FROM log_heads ORDER BY tree_size DESC LIMIT 1"))
    engine.dispose()


K = 5  # the leaf the damage is done to (not the newest: the full check must find it)

# name -> (damage(url, base, evaluation id of leaf K), expected problems {(kind, where)})
DAMAGE: dict[str, tuple[Callable[[str, Base, str], None], Callable[[Base], set[tuple[str, str]]]]] = {
    "deleted evaluation": (
        lambda url, b, e: _untriggered(url, [f"DELETE FROM evaluations WHERE id = '{e}'"]),
        lambda b: {("evaluation_missing", f"log_leaves/{K}")}),
    "deleted leaf": (
        lambda url, b, e: _untriggered(url, [f"DELETE FROM log_leaves WHERE idx = {K}"]),
        lambda b: {("log_gap", f"log_leaves/{K}"),
                   ("evaluation_unlogged", f"evaluations/{b.leaves[K][1]}")}),
    "edited leaf": (
        lambda url, b, e: _untriggered(url, [
            f"UPDATE log_leaves SET leaf_hash = (SELECT leaf_hash FROM log_leaves WHERE "
            f"idx = {K + 1}) WHERE idx = {K}"]),
        lambda b: {("leaf_mismatch", f"log_leaves/{K}"), ("node_mismatch", f"log_nodes/0:{K}"),
                   ("head_root", f"log_heads/{N}")}),
    "edited record column": (
        lambda url, b, e: _untriggered(url, [
            f"UPDATE evaluations SET decision = 'compliant' WHERE id = '{e}'"]),
        lambda b: {("column_mismatch", f"evaluations/{b.leaves[K][1]}")}),
    "reordered index": (
        lambda url, b, e: _untriggered(url, [
            f"UPDATE log_leaves SET idx = -1 WHERE idx = {K}",
            f"UPDATE log_leaves SET idx = {K} WHERE idx = {K + 1}",
            f"UPDATE log_leaves SET idx = {K + 1} WHERE idx = -1"]),
        lambda b: {("node_mismatch", f"log_nodes/0:{K}"), ("node_mismatch", f"log_nodes/0:{K + 1}"),
                   ("head_root", f"log_heads/{N}"),
                   ("index_mismatch", f"evaluations/{b.leaves[K][1]}"),
                   ("index_mismatch", f"evaluations/{b.leaves[K + 1][1]}")}),
    "edited subtree hash": (
        lambda url, b, e: _untriggered(url, [
            f"UPDATE log_nodes SET hash = (SELECT hash FROM log_nodes WHERE key = {K + 1}) "
            f"WHERE key = {(1 << 48) | (K // 2)}"]),
        lambda b: {("node_mismatch", f"log_nodes/1:{K // 2}")}),
    "forged head signature": (
        lambda url, b, e: _untriggered(url, [
            f"UPDATE log_heads SET root_hash = '{'ab' * 32}' WHERE tree_size = {N}"]),
        lambda b: {("head_signature", f"log_heads/{N}"), ("head_root", f"log_heads/{N}")}),
    "forged head beyond the log": (
        _forged_head, lambda b: {("head_signature", f"log_heads/{N + 100}"),
                                 ("head_beyond_log", f"log_heads/{N + 100}")}),
    "plaintext row with encryption on": (
        _plaintext_row, lambda b: {("record_unreadable", f"evaluations/{b.leaves[K][1]}")}),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_check_names_each_kind_of_damage(base: Base, clone: str, damage: str) -> None:
    do, expected = DAMAGE[damage]
    do(clone, base, base.leaves[K][1])
    report: Report = _core(clone, base).integrity.check(batch=4)
    found = {(p.kind, p.where) for p in report.problems}
    assert not report.ok
    assert expected(base) <= found, report.problems
    out = subprocess.run([CLI, "db", "check", "--data-dir", str(base.data), "--database-url",
                          clone], capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr
    for _, where in expected(base):
        assert where in out.stdout


def test_readiness_sample_names_damage_among_the_newest_leaves(base: Base, clone: str) -> None:
    core = _core(clone, base)
    assert core.integrity.sample().ok
    _plaintext_row(clone, base, base.leaves[-1][1])
    core.integrity.interval = 0  # the next probe samples again
    report = core.integrity.sample()
    assert {(p.kind, p.where) for p in report.problems} == {
        ("record_unreadable", f"evaluations/{base.leaves[-1][1]}")}
    _untriggered(clone, [f"DELETE FROM evaluations WHERE id = '{base.leaves[-2][1]}'"])
    kinds = {p.kind for p in core.integrity.sample().problems}
    assert {"count_mismatch", "evaluation_missing"} <= kinds


# ------------------------------------------------------------------ no plaintext downgrade

def test_unsealed_rows_are_faults_not_data(base: Base, clone: str) -> None:
    _plaintext_row(clone, base, base.leaves[K][1])
    core = _core(clone, base)
    with core.store.engine.connect() as conn:
        tenant = conn.execute(sa.text("SELECT tenant FROM evaluations WHERE id = :i"),
                              {"i": base.leaves[K][1]}).scalar_one()
    with pytest.raises(IntegrityFault) as caught:
        core.store.evaluations.get(tenant, base.leaves[K][1])
    assert caught.value.code == "E_INTEGRITY" and caught.value.http_status == 500
    assert caught.value.details[0]["path"] == f"evaluations/{base.leaves[K][1]}"
    with pytest.raises(IntegrityFault):
        core.store.evaluations.list(tenant, per_page=100)
    # a sealed row still opens; a process without the key may not add plaintext
    assert core.store.evaluations.get(tenant, _other(base, clone, tenant))["result"]
    plain = Store(clone)
    before = plain.evaluations.count()
    record = dict(core.store.evaluations.get(tenant, _other(base, clone, tenant)),
                  evaluation_id="eval_" + uuid.uuid4().hex)
    with pytest.raises(KeyError_, match="seals its evaluation records"):
        plain.evaluations.put_many([tenant], [record], [b"\x00" * 32])
    assert plain.evaluations.count() == before


def _other(base: Base, url: str, tenant: str) -> str:
    """An untouched evaluation of `tenant`."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        ids = [e for (e,) in conn.execute(sa.text(
            "SELECT id FROM evaluations WHERE tenant = :t ORDER BY seq"), {"t": tenant})]
    engine.dispose()
    return next(e for e in ids if e != base.leaves[K][1])


def test_vault_refuses_an_unsealed_object_when_sealing(tmp_path: Path) -> None:
    cipher = RecordCipher(b"\x01" * 32)
    vault = Vault(open_objects(str(tmp_path / "objects")), cipher)
    ref = vault.put("exports/t1/exp.jsonl", "exp", '{"decision": "flagged"}\n')
    assert vault.get(ref, "exp") == '{"decision": "flagged"}\n'
    # the manifest (plain JSON beside it) edited to name a plaintext object
    forged = '{"decision": "compliant"}\n'
    vault.put_plain("exports/t1/exp.jsonl", forged.encode())
    import hashlib
    downgraded = dict(ref, key_id=None, sha256=hashlib.sha256(forged.encode()).hexdigest())
    with pytest.raises(IntegrityFault) as caught:
        vault.get(downgraded, "exp")
    assert caught.value.code == "E_INTEGRITY"
    with pytest.raises(ArkaError):  # the sealed reference no longer opens the replaced object
        vault.get(ref, "exp")
    # without a key configured, plaintext objects are normal
    plain = Vault(open_objects(str(tmp_path / "plain")), None)
    assert plain.get(plain.put("a.json", "a", "{}"), "a") == "{}"


# ------------------------------------------------------------------ backup

def test_backup_refuses_a_damaged_store(base: Base, clone: str, tmp_path: Path) -> None:
    args = ["--data-dir", str(base.data), "--database-url", clone]
    ok = subprocess.run([CLI, "backup", "--to", str(tmp_path / "good"), *args],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["integrity"]["ok"] is True
    _untriggered(clone, [f"DELETE FROM evaluations WHERE id = '{base.leaves[K][1]}'"])
    refused = subprocess.run([CLI, "backup", "--to", str(tmp_path / "bad"), *args],
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1
    assert f"log_leaves/{K}" in refused.stderr and "--allow-problems" in refused.stderr
    assert not (tmp_path / "bad").exists() or not any((tmp_path / "bad").iterdir())
    kept = subprocess.run([CLI, "backup", "--to", str(tmp_path / "evidence"), "--allow-problems",
                           *args], capture_output=True, text=True, timeout=300)
    assert kept.returncode == 0, kept.stderr
    integrity = json.loads(kept.stdout)["integrity"]
    assert integrity["ok"] is False and integrity["problems"][0]["where"] == f"log_leaves/{K}"


# ------------------------------------------------------------------ the real server

@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_real_server_serves_a_tampered_row_as_an_error(kind: str, tmp_path: Path) -> None:
    import time

    from tests.live_server import live_server
    urls = postgres_database() if kind == "postgresql" else None
    url = next(urls) if urls is not None else None
    config = tmp_path / "arka.yaml"
    config.write_text(f"storage:\n  data_dir: {tmp_path / 'live'}\n"
                      "database:\n  integrity_interval: 0.2s\n")
    try:
        with live_server(tmp_path, database_url=url, config=config) as srv:
            admin, analyst = srv.client("admin", "t1"), srv.client("analyst", "t1")
            rule = (EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text()
            assert admin.post("/api/v1/rules", content=rule, headers={
                "Content-Type": "application/x-yaml"}).status_code == 201
            ids = [srv.client("service", "t1").post("/api/v1/evaluate", json={
                "context": CTX, "input": _tx(12000 + i)}).json()["evaluation_id"]
                for i in range(3)]
            assert admin.get("/health/ready").json()["checks"]["integrity"] is True
            base = Base(kind, srv.database_url, tmp_path / "live", [])
            _plaintext_row(srv.database_url, base, ids[1])
            started = time.monotonic()
            r = analyst.get(f"/api/v1/evaluations/{ids[1]}")
            assert r.status_code == 500, r.text
            error = r.json()["error"]
            assert error["code"] == "INTERNAL_ERROR"
            assert error["details"][0]["code"] == "E_INTEGRITY"
            assert error["details"][0]["path"] == f"evaluations/{ids[1]}"
            assert "trust_proof" not in r.text and "compliant" not in r.text
            listed = analyst.get("/api/v1/evaluations", params={"per_page": 100})
            assert listed.status_code == 500 and "trust_proof" not in listed.text
            assert analyst.get(f"/api/v1/evaluations/{ids[0]}").status_code == 200
            time.sleep(0.3)
            ready = admin.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["integrity"] is False
            assert any(p["where"] == f"evaluations/{ids[1]}" for p in ready.json()["problems"])
            assert time.monotonic() - started < 10
            check = srv.cli("db", "check", check=False)
            assert check.returncode == 1 and f"evaluations/{ids[1]}" in check.stdout
            assert srv.alive()
    finally:
        if urls is not None:
            urls.close()
