"""The storage of the sanctions-screening allowlist (`store.allowlist`), on SQLite and the
real PostgreSQL: every method, one open entry per subject and entity, the status
transitions, tenant isolation (also by row-level security), the generation, refusal of
malformed values before they reach the database, the migration from 0009, and backup,
restore and copy carrying the entries."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from arka.storage import AllowlistEntryError, Conflict, NotFound, Store, copy_store
from arka.storage.sql import screening
from arka.storage.sql.backup import backup, fingerprint, restore
from tests.service_fixtures import database_url, postgres_database

HASH = "sha256:" + "ab" * 32
OTHER_HASH = "sha256:" + "cd" * 32
DATASETS = [{"name": "us_ofac_sdn", "version": "sha256:" + "01" * 32},
            {"name": "eu_fsf", "version": "2024-05-01"}]
KEYS = {"id", "tenant", "subject_id", "entity_id", "entity_hash", "entity_caption",
        "datasets", "reason", "status", "created_by", "created_at", "reviewed_by",
        "reviewed_at", "review_note", "revoked_by", "revoked_at", "revoke_note"}
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(kind: str, tmp_path: Path) -> Iterator[Store]:
    gen = database_url(kind, tmp_path)
    s = Store(next(gen))
    s.migrate()
    try:
        yield s
    finally:
        s.engine.dispose()
        _close(gen)


def _close(gen: Iterator[str]) -> None:
    for _ in gen:  # runs the database fixture's clean-up
        pass


def event(tenant: str, action: str, resource: str = "allowlist") -> dict[str, Any]:
    return {"id": "aud_" + uuid.uuid4().hex, "tenant": tenant, "at": "2024-01-15T14:00:00Z",
            "actor": "user:alice", "action": action, "resource": resource,
            "outcome": "success", "request_id": None, "details": {"n": 1}}


def add(store: Store, tenant: str = "t1", **over: Any) -> dict[str, Any]:
    values: dict[str, Any] = dict(subject_id="cust-1", entity_id="NK-abc", entity_hash=HASH,
                                  entity_caption="Ivan Petrov", datasets=DATASETS,
                                  reason="date of birth and nationality differ",
                                  status="pending", created_by="user:alice")
    values.update(over)
    return store.allowlist.add(tenant, **values)


def rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM screening_allowlist"))
                   .scalar_one())


def actions(store: Store, tenant: str) -> list[str]:
    return [e["action"] for e in store.audit.chain(tenant)]


# ------------------------------------------------------------------ add, get

def test_add_and_get_answer_the_whole_entry(store: Store) -> None:
    entry = add(store, audit=event("t1", "allowlist.add"))
    assert set(entry) == KEYS
    assert re.fullmatch(r"alw_[0-9a-f]{32}", entry["id"])
    assert entry["tenant"] == "t1" and entry["subject_id"] == "cust-1"
    assert entry["entity_id"] == "NK-abc" and entry["entity_hash"] == HASH
    assert entry["entity_caption"] == "Ivan Petrov" and entry["datasets"] == DATASETS
    assert entry["status"] == "pending" and entry["created_by"] == "user:alice"
    assert STAMP.fullmatch(entry["created_at"])
    assert all(entry[k] is None for k in ("reviewed_by", "reviewed_at", "review_note",
                                          "revoked_by", "revoked_at", "revoke_note"))
    assert store.allowlist.get("t1", entry["id"]) == entry
    # the audit event was written with it, linked into the tenant's chain
    assert actions(store, "t1") == ["allowlist.add"]
    # no caption, no datasets, active at once (four eyes off)
    bare = add(store, entity_id="NK-2", entity_caption=None, datasets=[], status="active")
    assert bare["entity_caption"] is None and bare["datasets"] == [] and \
        bare["status"] == "active"
    assert store.allowlist.get("t1", bare["id"]) == bare


def test_a_missing_entry_is_not_found(store: Store) -> None:
    missing = "alw_" + "0" * 32
    for call in (lambda: store.allowlist.get("t1", missing),
                 lambda: store.allowlist.review("t1", missing, status="active",
                                                reviewed_by="bob", note=None),
                 lambda: store.allowlist.revoke("t1", missing, revoked_by="bob", note=None)):
        with pytest.raises(NotFound, match=f"allowlist entry {missing} not found"):
            call()


# ------------------------------------------------------------------ one open entry

def test_one_open_entry_per_subject_and_entity(store: Store) -> None:
    first = add(store)
    with pytest.raises(Conflict, match=f"open \\(pending\\) allowlist entry .*{first['id']}"):
        add(store, status="active", reason="again", audit=event("t1", "allowlist.add"))
    assert rows(store) == 1 and actions(store, "t1") == []  # nothing of it was stored
    store.allowlist.review("t1", first["id"], status="active", reviewed_by="bob", note=None)
    with pytest.raises(Conflict, match=f"open \\(active\\) allowlist entry .*{first['id']}"):
        add(store)
    # another entity, another subject, another tenant: no conflict
    add(store, entity_id="NK-other")
    add(store, subject_id="cust-2")
    add(store, "t2")
    # once the open entry is final, the pair can be decided again
    store.allowlist.revoke("t1", first["id"], revoked_by="carol", note="list updated")
    second = add(store, entity_hash=OTHER_HASH)
    store.allowlist.review("t1", second["id"], status="rejected", reviewed_by="bob",
                           note="not convinced")
    third = add(store)
    assert len({first["id"], second["id"], third["id"]}) == 3
    assert [e["status"] for e in store.allowlist.list(
        "t1", subject_id="cust-1", entity_id="NK-abc")[0]] == ["pending", "rejected",
                                                                "revoked"]


def test_a_racing_add_of_the_same_pair_is_a_conflict(store: Store,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    first = add(store)
    real = screening._open_entry
    calls: list[int] = []

    def blind_once(*args: Any) -> Any:  # as if the other add committed after our check
        calls.append(1)
        return None if len(calls) == 1 else real(*args)

    monkeypatch.setattr(screening, "_open_entry", blind_once)
    with pytest.raises(Conflict, match=first["id"]):
        add(store, audit=event("t1", "allowlist.add"))
    assert rows(store) == 1 and actions(store, "t1") == []
    # the database itself refuses a second open entry (partial unique index) ...
    with pytest.raises(sa.exc.IntegrityError):
        with store.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO screening_allowlist (id, tenant, subject_id, entity_id, "
                "entity_hash, datasets, reason, status, created_by, created_at) VALUES "
                f"('alw_{'1' * 32}', 't1', 'cust-1', 'NK-abc', '{HASH}', '[]', 'r', "
                "'active', 'x', CURRENT_TIMESTAMP)"))
    # ... and a status outside the four
    with pytest.raises(sa.exc.IntegrityError):
        with store.engine.begin() as conn:
            conn.execute(sa.text(
                f"UPDATE screening_allowlist SET status = 'deleted' WHERE id = '{first['id']}'"))


# ------------------------------------------------------------------ transitions

def test_review_moves_only_a_pending_entry(store: Store) -> None:
    entry = add(store)
    approved = store.allowlist.review("t1", entry["id"], status="active", reviewed_by="bob",
                                      note="checked the passport",
                                      audit=event("t1", "allowlist.approve"))
    assert approved["status"] == "active" and approved["reviewed_by"] == "bob"
    assert approved["review_note"] == "checked the passport"
    assert STAMP.fullmatch(approved["reviewed_at"])
    assert {k: v for k, v in approved.items() if not k.startswith("review") and
            k != "status"} == {k: v for k, v in entry.items() if not k.startswith("review")
                               and k != "status"}
    assert store.allowlist.get("t1", entry["id"]) == approved
    assert actions(store, "t1") == ["allowlist.approve"]
    for status in ("active", "rejected"):
        with pytest.raises(Conflict, match=f"{entry['id']} is active, not pending review"):
            store.allowlist.review("t1", entry["id"], status=status, reviewed_by="carol",
                                   note=None, audit=event("t1", "allowlist.approve"))
    assert actions(store, "t1") == ["allowlist.approve"]

    other = add(store, entity_id="NK-2")
    rejected = store.allowlist.review("t1", other["id"], status="rejected", reviewed_by="bob",
                                      note=None)
    assert rejected["status"] == "rejected" and rejected["review_note"] is None
    with pytest.raises(Conflict, match="is rejected, not pending review"):
        store.allowlist.review("t1", other["id"], status="active", reviewed_by="bob",
                               note=None)
    # a review decides active or rejected, nothing else
    third = add(store, entity_id="NK-3")
    for status in ("pending", "revoked", "approved", ""):
        with pytest.raises(AllowlistEntryError, match="review status must be one of active, "
                                                      "rejected"):
            store.allowlist.review("t1", third["id"], status=status, reviewed_by="bob",
                                   note=None)
    assert store.allowlist.get("t1", third["id"])["status"] == "pending"


def test_revoke_ends_a_pending_or_active_entry(store: Store) -> None:
    active = add(store, status="active")
    revoked = store.allowlist.revoke("t1", active["id"], revoked_by="carol",
                                     note="entity changed", audit=event("t1", "allowlist.revoke"))
    assert revoked["status"] == "revoked" and revoked["revoked_by"] == "carol"
    assert revoked["revoke_note"] == "entity changed" and STAMP.fullmatch(revoked["revoked_at"])
    assert revoked["reviewed_by"] is None
    assert actions(store, "t1") == ["allowlist.revoke"]
    with pytest.raises(Conflict, match="is revoked; only a pending or active entry"):
        store.allowlist.revoke("t1", active["id"], revoked_by="carol", note=None,
                               audit=event("t1", "allowlist.revoke"))
    with pytest.raises(Conflict, match="is revoked, not pending review"):
        store.allowlist.review("t1", active["id"], status="active", reviewed_by="bob",
                               note=None)
    pending = add(store)
    assert store.allowlist.revoke("t1", pending["id"], revoked_by="alice", note=None
                                  )["status"] == "revoked"
    rejected = add(store)
    store.allowlist.review("t1", rejected["id"], status="rejected", reviewed_by="bob",
                           note=None)
    with pytest.raises(Conflict, match="is rejected; only a pending or active entry"):
        store.allowlist.revoke("t1", rejected["id"], revoked_by="carol", note=None)
    assert actions(store, "t1") == ["allowlist.revoke"]


# ------------------------------------------------------------------ list, active, generation

def test_list_filters_and_pages_newest_first(store: Store) -> None:
    made = [add(store, subject_id=f"cust-{i % 2}", entity_id=f"NK-{i}") for i in range(5)]
    store.allowlist.review("t1", made[1]["id"], status="active", reviewed_by="bob", note=None)
    add(store, "t2", entity_id="NK-t2")
    items, total = store.allowlist.list("t1")
    assert total == 5 and [e["id"] for e in items] == [e["id"] for e in reversed(made)]
    page1, total = store.allowlist.list("t1", page=1, per_page=2)
    page3, _ = store.allowlist.list("t1", page=3, per_page=2)
    assert total == 5 and [e["id"] for e in page1] == [made[4]["id"], made[3]["id"]]
    assert [e["id"] for e in page3] == [made[0]["id"]]
    assert store.allowlist.list("t1", page=4, per_page=2) == ([], 5)
    by_subject, n = store.allowlist.list("t1", subject_id="cust-1")
    assert n == 2 and {e["entity_id"] for e in by_subject} == {"NK-1", "NK-3"}
    assert [e["id"] for e in store.allowlist.list("t1", entity_id="NK-2")[0]] == \
        [made[2]["id"]]
    active, n = store.allowlist.list("t1", status="active")
    assert n == 1 and active[0]["id"] == made[1]["id"] and active[0]["status"] == "active"
    assert store.allowlist.list("t1", status="revoked") == ([], 0)
    assert store.allowlist.list("t1", subject_id="cust-0", status="pending")[1] == 3
    assert store.allowlist.list("t1", subject_id="nobody") == ([], 0)


def test_active_lists_the_active_entries_in_order(store: Store) -> None:
    made = {}
    for subject, entity in (("b", "2"), ("a", "9"), ("b", "1"), ("a", "10"), ("c", "1")):
        made[subject, entity] = add(store, subject_id=subject, entity_id=entity,
                                    status="active")
    store.allowlist.revoke("t1", made["c", "1"]["id"], revoked_by="carol", note=None)
    add(store, subject_id="a", entity_id="0")  # pending: not active
    add(store, "t2", subject_id="a", entity_id="1", status="active")
    active = store.allowlist.active("t1")
    assert [(e["subject_id"], e["entity_id"]) for e in active] == [
        ("a", "10"), ("a", "9"), ("b", "1"), ("b", "2")]
    assert active[0] == store.allowlist.get("t1", made["a", "10"]["id"])
    assert store.allowlist.active("t3") == []


def test_generation_changes_with_every_change_of_the_tenant(store: Store) -> None:
    seen = [store.allowlist.generation("t1")]

    def changed() -> None:
        now = store.allowlist.generation("t1")
        assert now not in seen
        seen.append(now)

    entry = add(store)
    changed()
    other = add(store, entity_id="NK-2")
    changed()
    store.allowlist.review("t1", entry["id"], status="active", reviewed_by="bob", note=None)
    changed()
    store.allowlist.review("t1", other["id"], status="rejected", reviewed_by="bob", note=None)
    changed()
    store.allowlist.revoke("t1", entry["id"], revoked_by="carol", note=None)
    changed()
    # reads, refusals and other tenants change nothing
    store.allowlist.list("t1")
    store.allowlist.active("t1")
    with pytest.raises(Conflict):
        store.allowlist.revoke("t1", entry["id"], revoked_by="carol", note=None)
    t2 = add(store, "t2")
    store.allowlist.review("t2", t2["id"], status="active", reviewed_by="bob", note=None)
    assert store.allowlist.generation("t1") == seen[-1]
    assert store.allowlist.generation("t3") == store.allowlist.generation("t4")


# ------------------------------------------------------------------ tenants

def test_another_tenants_entry_is_not_found(store: Store) -> None:
    mine = add(store, "t1", audit=event("t1", "allowlist.add"))
    with pytest.raises(NotFound):
        store.allowlist.get("t2", mine["id"])
    with pytest.raises(NotFound):
        store.allowlist.review("t2", mine["id"], status="active", reviewed_by="bob", note=None)
    with pytest.raises(NotFound):
        store.allowlist.revoke("t2", mine["id"], revoked_by="bob", note=None)
    assert store.allowlist.list("t2") == ([], 0)
    assert store.allowlist.list("t2", subject_id="cust-1") == ([], 0)
    assert store.allowlist.active("t2") == []
    assert store.allowlist.get("t1", mine["id"])["status"] == "pending"  # untouched


def test_postgresql_row_level_security(tmp_path: Path) -> None:
    """The service's database role (not the owner) reaches only the tenant it names."""
    import psycopg

    gen = database_url("postgresql", tmp_path)
    url = next(gen)
    owner = Store(url)
    owner.migrate()
    a = add(owner, "bank-a", status="active")
    add(owner, "bank-b", status="active")
    role = "arka_app_" + uuid.uuid4().hex[:8]
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {role}")
        conn.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
    app_url = plain.replace("postgres@", f"{role}@")
    try:
        with psycopg.connect(app_url) as conn:
            assert conn.execute("SELECT count(*) FROM screening_allowlist").fetchone() == (0,)
            conn.execute("SELECT set_config('arka.tenant', 'bank-a', true)")
            assert conn.execute("SELECT DISTINCT tenant FROM screening_allowlist"
                                ).fetchall() == [("bank-a",)]
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level"):
                conn.execute("INSERT INTO screening_allowlist (id, tenant, subject_id, "
                             "entity_id, entity_hash, datasets, reason, status, created_by, "
                             f"created_at) VALUES ('alw_{'2' * 32}', 'bank-b', 's', 'e', "
                             f"'{HASH}', '[]', 'r', 'active', 'x', now())")
        app = Store(app_url.replace("postgresql://", "postgresql+psycopg://"))
        try:
            assert [e["id"] for e in app.allowlist.active("bank-a")] == [a["id"]]
            with pytest.raises(NotFound):
                app.allowlist.get("bank-b", a["id"])
            b2 = add(app, "bank-b", entity_id="NK-2", audit=event("bank-b", "allowlist.add"))
            assert app.allowlist.review("bank-b", b2["id"], status="active",
                                        reviewed_by="bob", note=None)["status"] == "active"
            assert app.allowlist.revoke("bank-a", a["id"], revoked_by="bob", note=None
                                        )["status"] == "revoked"
            assert app.allowlist.list("bank-b")[1] == 2
        finally:
            app.engine.dispose()
    finally:
        owner.engine.dispose()
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")
        _close(gen)


# ------------------------------------------------------------------ malformed values

LONG_ID = "x" * 257
BAD_ADDS: list[tuple[dict[str, Any], str]] = [
    ({"subject_id": LONG_ID}, "subject_id is longer than 256 characters"),
    ({"subject_id": ""}, "subject_id is required"),
    ({"subject_id": " cust-1"}, "subject_id must not start or end with whitespace"),
    ({"subject_id": "cust\n1"}, "subject_id must not contain control characters"),
    ({"subject_id": "cust\x001"}, "subject_id must not contain control characters"),
    ({"subject_id": 42}, "subject_id must be text, not int"),
    ({"subject_id": None}, "subject_id must be text, not NoneType"),
    ({"entity_id": LONG_ID}, "entity_id is longer than 256 characters"),
    ({"entity_id": "NK-\ud800"}, "entity_id is not valid Unicode text"),
    ({"entity_hash": "sha256:" + "AB" * 32}, "entity_hash must be sha256: and 64"),
    ({"entity_hash": "md5:abc"}, "entity_hash must be sha256: and 64"),
    ({"entity_hash": None}, "entity_hash must be sha256: and 64"),
    ({"entity_caption": "c" * 1025}, "entity_caption is longer than 1024 characters"),
    ({"entity_caption": "a\x00b"}, "entity_caption must not contain control characters"),
    ({"datasets": None}, "datasets must be a list"),
    ({"datasets": "us_ofac_sdn"}, "datasets must be a list"),
    ({"datasets": [{"name": "x"}]}, r"datasets\[0\] must be an object with exactly name and"),
    ({"datasets": [DATASETS[0], {"name": "x", "version": "1", "extra": 1}]},
     r"datasets\[1\] must be an object"),
    ({"datasets": ["us_ofac_sdn"]}, r"datasets\[0\] must be an object"),
    ({"datasets": [{"name": "", "version": "1"}]}, r"datasets\[0\].name is required"),
    ({"datasets": [{"name": "x", "version": 3}]}, r"datasets\[0\].version must be text"),
    ({"datasets": [{"name": "n" * 129, "version": "1"}]},
     r"datasets\[0\].name is longer than 128"),
    ({"datasets": [{"name": "x", "version": "1"}] * 65}, "datasets has more than 64 items"),
    ({"reason": ""}, "reason is required"),
    ({"reason": "  \n\t"}, "reason is required"),
    ({"reason": None}, "reason must be text"),
    ({"reason": "r" * 4097}, "reason is longer than 4096 characters"),
    ({"reason": "because\x00"}, "reason must not contain control characters"),
    ({"status": "revoked"}, "status must be one of pending, active, not 'revoked'"),
    ({"status": "rejected"}, "status must be one of pending, active"),
    ({"status": None}, "status must be one of pending, active, not 'NoneType'"),
    ({"created_by": ""}, "created_by is required"),
    ({"created_by": "u" * 257}, "created_by is longer than 256 characters"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_ADDS,
                         ids=[f"{next(iter(b))}-{i}" for i, (b, _) in enumerate(BAD_ADDS)])
def test_a_malformed_value_is_refused_before_the_database(store: Store, bad: dict[str, Any],
                                                          message: str) -> None:
    with pytest.raises(AllowlistEntryError, match=message) as caught:
        add(store, audit=event("t1", "allowlist.add"), **bad)
    assert caught.value.code == "E_ALLOWLIST_VALUE" and caught.value.http_status == 400
    assert rows(store) == 0 and actions(store, "t1") == []


def test_the_longest_values_are_stored_whole(store: Store) -> None:
    entry = add(store, subject_id="s" * 256, entity_id="é" * 256, entity_caption="c" * 1024,
                reason="line one\nline two\tand a tab " + "r" * 4000,
                datasets=[{"name": "n" * 128, "version": "v" * 128}] * 64,
                created_by="u" * 256)
    assert store.allowlist.get("t1", entry["id"]) == entry
    assert entry["entity_id"] == "é" * 256 and len(entry["datasets"]) == 64


def test_malformed_queries_and_notes_are_refused(store: Store) -> None:
    entry = add(store)
    allow = store.allowlist
    refused: list[tuple[Any, str]] = [
        (lambda: allow.get("t1", "alw_123"), "alw_ and 32 lowercase hex digits"),
        (lambda: allow.get("t1", entry["id"].upper()), "alw_ and 32 lowercase hex digits"),
        (lambda: allow.get("t1", entry["id"] + "\x00"), "alw_ and 32 lowercase hex digits"),
        (lambda: allow.get("t1", None),  # type: ignore[arg-type]
         "alw_ and 32 lowercase hex digits"),
        (lambda: allow.get("t" * 65, entry["id"]), "tenant is longer than 64 characters"),
        (lambda: allow.get("*", entry["id"]), "not the system scope"),
        (lambda: allow.add("*", subject_id="s", entity_id="e", entity_hash=HASH,
                           entity_caption=None, datasets=[], reason="r", status="active",
                           created_by="x"), "not the system scope"),
        (lambda: allow.list("t1", status="deleted"), "status must be one of pending, active, "
                                                      "rejected, revoked"),
        (lambda: allow.list("t1", subject_id=LONG_ID), "subject_id is longer than 256"),
        (lambda: allow.list("t1", entity_id="a\x00"), "entity_id must not contain control"),
        (lambda: allow.list("t1", page=0), "page must be a whole number from 1 to"),
        (lambda: allow.list("t1", page=10 ** 30), "page must be a whole number from 1 to"),
        (lambda: allow.list("t1", per_page=1001), "per_page must be a whole number from 1"),
        (lambda: allow.list("t1", per_page=True), "per_page must be a whole number"),
        (lambda: allow.review("t1", entry["id"], status="active", reviewed_by="",
                              note=None), "reviewed_by is required"),
        (lambda: allow.review("t1", entry["id"], status="active", reviewed_by="bob",
                              note="n" * 4097), "note is longer than 4096 characters"),
        (lambda: allow.review("t1", entry["id"], status="active", reviewed_by="bob",
                              note="a\x00"), "note must not contain control characters"),
        (lambda: allow.revoke("t1", entry["id"], revoked_by="b" * 257, note=None),
         "revoked_by is longer than 256 characters"),
        (lambda: allow.revoke("t1", entry["id"], revoked_by="bob",
                              note=7),  # type: ignore[arg-type]
         "note must be text, not int"),
    ]
    for call, message in refused:
        with pytest.raises(AllowlistEntryError, match=message):
            call()
    assert allow.get("t1", entry["id"]) == entry  # unchanged
    # a blank note is no note
    reviewed = allow.review("t1", entry["id"], status="active", reviewed_by="bob", note="  ")
    assert reviewed["review_note"] is None


# ------------------------------------------------------------------ migration, backup, copy

def test_the_migration_upgrades_a_0009_database(kind: str, tmp_path: Path) -> None:
    gen = database_url(kind, tmp_path)
    store = Store(next(gen))
    try:
        cfg = store._alembic()
        with store.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0009")
        assert "screening_allowlist" not in sa.inspect(store.engine).get_table_names()
        schema, _ = store.registry.put_schema(
            "t1", name="Party", version="1.0.0", source="schema: {}", source_hash=HASH,
            content_hash=HASH, audit=event("t1", "schema.deploy"))
        assert store.migrate() == store.head_revision() and store.status()["up_to_date"]
        # what was there stays, and the allowlist works
        assert store.registry.get_schema("t1", "Party", "1.0.0") == schema
        entry = add(store, audit=event("t1", "allowlist.add"))
        assert actions(store, "t1") == ["schema.deploy", "allowlist.add"]
        assert [e["idx"] for e in store.audit.chain("t1")] == [0, 1]
        assert store.allowlist.get("t1", entry["id"]) == entry
        indexes = {ix["name"]: ix for ix in sa.inspect(store.engine).get_indexes(
            "screening_allowlist")}
        assert indexes["ix_screening_allowlist_tenant_subject"]["column_names"] == [
            "tenant", "subject_id"]
        assert indexes["uq_screening_allowlist_open"]["unique"]
        if kind == "postgresql":
            with store.engine.connect() as conn:
                assert conn.execute(sa.text(
                    "SELECT relrowsecurity FROM pg_class WHERE relname = "
                    "'screening_allowlist'")).scalar_one() is True
                assert conn.execute(sa.text(
                    "SELECT count(*) FROM pg_policies WHERE tablename = "
                    "'screening_allowlist'")).scalar_one() == 1
    finally:
        store.engine.dispose()
        _close(gen)


def _filled(store: Store) -> list[dict[str, Any]]:
    a = add(store, "t1", status="active", audit=event("t1", "allowlist.add"))
    b = add(store, "t1", entity_id="NK-2", entity_caption=None, datasets=[])
    store.allowlist.review("t1", b["id"], status="rejected", reviewed_by="bob", note="no")
    c = add(store, "t2", subject_id="cust-9", reason="multi\nline")
    store.allowlist.revoke("t1", a["id"], revoked_by="carol", note="list changed")
    add(store, "t1")  # the pair decided again after the revocation
    return [*store.allowlist.list("t1")[0], store.allowlist.get("t2", c["id"])]


def _entries(store: Store) -> list[dict[str, Any]]:
    return [*store.allowlist.list("t1")[0], *store.allowlist.list("t2")[0]]


def test_backup_restore_and_copy_carry_the_entries(kind: str, tmp_path: Path) -> None:
    source_gen = database_url(kind, tmp_path)
    source = Store(next(source_gen))
    restored_gen = (database_url("sqlite", tmp_path / "restored") if kind == "sqlite"
                    else postgres_database())
    copy_gen = (postgres_database() if kind == "sqlite"
                else database_url("sqlite", tmp_path / "copied"))
    stores = [source]
    try:
        source.migrate()
        entries = _filled(source)
        generations = {t: source.allowlist.generation(t) for t in ("t1", "t2")}
        before = fingerprint(source)
        assert before["counts"]["screening_allowlist"] == 4
        manifest = backup(source, tmp_path / "backup")
        assert manifest["counts"]["screening_allowlist"] == 4

        restored = Store(next(restored_gen))
        stores.append(restored)
        restore(tmp_path / "backup", restored)
        assert fingerprint(restored) == before

        (tmp_path / "copied").mkdir()
        copied = Store(next(copy_gen))
        stores.append(copied)
        copied.migrate()
        counts = copy_store(source, copied)
        assert counts["screening_allowlist"] == 4

        for target in (restored, copied):
            assert _entries(target) == entries
            assert {t: target.allowlist.generation(t) for t in ("t1", "t2")} == generations
            # the copies keep the rules: one open entry per pair, transitions, new entries
            with pytest.raises(Conflict, match=entries[0]["id"]):
                add(target, "t1")
            assert target.allowlist.review("t1", entries[0]["id"], status="active",
                                           reviewed_by="bob", note=None)["status"] == "active"
            assert add(target, "t2", entity_id="NK-new")["status"] == "pending"
        with pytest.raises(Exception, match="already holds"):
            copy_store(source, copied)
    finally:
        for s in stores:
            s.engine.dispose()
        _close(source_gen)
        _close(restored_gen)
        _close(copy_gen)
