"""Upgrading a database that already holds data: at revision 0004 (before tenants,
security and approvals) with rules, an evaluation in the log and an idempotency key, then
migrated to head on SQLite and the real PostgreSQL. Everything stays, joins the tenant
`default`, stays append-only, and verifies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from arka.app.core import Core
from arka.settings import Settings
from arka.storage import Store
from tests.helpers import EXAMPLES, evaluate_body
from tests.service_fixtures import database_url

CTX = {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"}


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from database_url(request.param, tmp_path)


def test_upgrade_from_0004_keeps_everything(db_url: str, tmp_path: Path) -> None:
    # a database at 0004, filled by SQL with rows as the 0004 code wrote them (made by
    # today's code in a scratch database, records in plaintext as 0004 stored them)
    store = Store(db_url)
    cfg = store._alembic()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
    source = Store(f"sqlite:///{tmp_path / 'source.db'}")
    source.migrate()
    core = Core(Settings(source.url, tmp_path / "keys", encryption_key=None), source)
    core.store.sealer.cipher = None  # 0004 stored plaintext records
    core.registry.deploy_rule("default", (EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text(),
                     "yaml")
    rec, _ = evaluate_body(core, "default", {"context": CTX, "options": {"idempotency_key": "k1"},
                                       "input": {"transaction": {"id": "t", "amount": 12500,
                                                                 "currency": "USD",
                                                                 "type": "cash"}}})
    with source.engine.connect() as src, store.engine.begin() as dst:
        for table, columns in (
            ("rules", "name, version, major, minor, patch, source, source_format, source_hash, "
                      "bytecode, bytecode_hash, jurisdiction, domain, effective_date, "
                      "expiry_date, created_at"),
            ("evaluations", "id, timestamp, created_at, decision, rule_ids, "
                            "idempotency_key, request_hash, output_hash, record"),
            ("log_leaves", "idx, evaluation_id, leaf_hash"),
            ("log_nodes", "key, hash"),
        ):
            rows = src.execute(text(f"SELECT {columns} FROM {table}")).mappings().all()
            names = [c.strip() for c in columns.split(",")]
            dst.execute(text(f"INSERT INTO {table} ({columns}) VALUES "
                             f"({', '.join(':' + n for n in names)})"), [dict(r) for r in rows])
    assert store.current_revision() == "0004"

    store.migrate()
    assert store.status()["up_to_date"]
    upgraded = Core(Settings(db_url, tmp_path / "keys"), store)
    stored = upgraded.evaluations.get("default", rec["evaluation_id"])
    assert stored["trust_proof"] == rec["trust_proof"]
    assert upgraded.evaluations.verify("default", rec["evaluation_id"])["valid"]
    assert upgraded.evaluations.replay("default", rec["evaluation_id"])["match"]
    row = upgraded.store.registry.get_rule("default", "ctr-threshold-flag", "1.0.0")
    assert row is not None and row.review["status"] == "active"
    # the idempotency key is still honoured, now per tenant
    again, created = evaluate_body(upgraded, "default", {
        "context": CTX, "options": {"idempotency_key": "k1"},
        "input": {"transaction": {"id": "t", "amount": 12500, "currency": "USD",
                                  "type": "cash"}}})
    assert not created and again["evaluation_id"] == rec["evaluation_id"]
    # still append-only after SQLite's table rebuild
    with pytest.raises(Exception, match="append-only"):
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM evaluations"))
    # new evaluations are encrypted, old plaintext ones still read
    new, _ = evaluate_body(upgraded, "default", {"context": CTX, "input": {"transaction": {
        "id": "t2", "amount": 50, "currency": "USD", "type": "cash"}}})
    with store.engine.connect() as conn:
        kinds = dict(conn.execute(text("SELECT id, key_id FROM evaluations")).all())
    assert kinds[rec["evaluation_id"]] is None and kinds[new["evaluation_id"]] is not None
    assert new["log_index"] == rec["log_index"] + 1
    # plaintext from before sealing began still reads; the store now seals from the new one
    assert upgraded.evaluations.get("default", rec["evaluation_id"])["trust_proof"] == \
        rec["trust_proof"]
    with store.engine.connect() as conn:
        mark = conn.execute(text("SELECT value FROM store_marks WHERE name = "
                                 "'records_sealed_from'")).scalar_one()
        seqs = dict(conn.execute(text("SELECT id, seq FROM evaluations")).all())
    assert seqs[rec["evaluation_id"]] < mark <= seqs[new["evaluation_id"]]
    assert upgraded.integrity.check().ok
    # the upgraded tables refuse a key collision too (REPLACE / upsert)
    upsert = ("INSERT INTO log_leaves (idx, evaluation_id, leaf_hash) SELECT idx, 'forged', "
              "leaf_hash FROM log_leaves WHERE idx = 0 ON CONFLICT (idx) DO UPDATE SET "
              "evaluation_id = excluded.evaluation_id")
    for sql in ([upsert, "REPLACE INTO evaluations SELECT * FROM evaluations"]
                if store.dialect == "sqlite" else [upsert]):
        with pytest.raises(Exception, match="append-only"):
            with store.engine.begin() as conn:
                conn.execute(text(sql))
    assert upgraded.integrity.check().ok
