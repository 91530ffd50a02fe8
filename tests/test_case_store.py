"""The SQL case store on SQLite and the real PostgreSQL: changes applied with their chain
event, audit event and outbox events in one transaction (or none of it), the grouping
key's partial unique index and the retry of a lost race as a join, value checks,
append-only events, listing, queues, row-level security."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from arka.app.audit import audit_event
from arka.base.errors import NotFound
from arka.security.case_chain import GENESIS, verify_case_chain
from arka.security.principal import SYSTEM_ACTOR
from arka.storage import Store
from arka.storage.ports import CaseChange
from arka.storage.sql.cases import CaseValueError
from tests.service_fixtures import database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    for url in database_url(request.param, tmp_path):
        s = Store(url)
        s.migrate()
        yield s
        s.engine.dispose()


def new_case(key: str | None = "k1", queue: str = "q", due: int = 24, **kw: Any
             ) -> dict[str, Any]:
    at = datetime.now(UTC)
    return dict({"id": "case_" + uuid.uuid4().hex, "queue": queue, "status": "open",
                 "priority": "medium", "due_at": at + timedelta(hours=due),
                 "entity_id": "C-1", "grouping_key": key, "opened_at": at}, **kw)


def opened(source: str = "eval_1:q", audit: bool = True, outbox: tuple[Any, ...] = ()
           ) -> CaseChange:
    return CaseChange("opened", "system", {"evaluation_ids": [source.split(":")[0]]},
                      details={"sources": [source]}, evaluation_ids=(source.split(":")[0],),
                      audit=audit_event("t1", "case.opened", "case:x", actor=SYSTEM_ACTOR)
                      if audit else None, outbox=outbox)


def test_create_update_and_chain(store: Store) -> None:
    case = store.cases.create("t1", new_case(), opened())
    assert case["version"] == 1 and case["evaluation_ids"] == ["eval_1"]
    assert case["details"] == {"sources": ["eval_1:q"]} and case["head_hash"] != GENESIS
    after = store.cases.update("t1", case["id"], lambda c: CaseChange(
        "comment", "alice", {"text": "hello"}, values={"status": "in_review"}))
    assert after["status"] == "in_review" and after["version"] == 2
    assert after["details"] == case["details"]  # unchanged without new details
    events = store.cases.events("t1", case["id"])
    assert [e["idx"] for e in events] == [0, 1] and events[1]["details"] == {"text": "hello"}
    report = verify_case_chain(events, case["id"])
    assert report["valid"] and report["head"] == after["head_hash"]
    with pytest.raises(NotFound):
        store.cases.get("t2", case["id"])
    with pytest.raises(NotFound):
        store.cases.events("t1", "case_" + "0" * 32)


def test_a_refused_change_leaves_nothing(store: Store) -> None:
    case = store.cases.create("t1", new_case(), opened())

    def refuse(c: dict[str, Any]) -> CaseChange:
        raise RuntimeError("no")
    with pytest.raises(RuntimeError):
        store.cases.update("t1", case["id"], refuse)
    bad = CaseChange("comment", "alice", {"text": "x"}, values={"queue": "a\nb"})
    with pytest.raises(CaseValueError, match="control characters"):
        store.cases.update("t1", case["id"], lambda c: bad)
    assert store.cases.get("t1", case["id"])["version"] == 1
    assert len(store.cases.events("t1", case["id"])) == 1


def test_values_are_checked(store: Store) -> None:
    for values, match in (({"queue": "x" * 129}, "queue is longer"),
                          ({"status": "done"}, "status must be one of"),
                          ({"priority": ""}, "priority is required"),
                          ({"due_at": "tomorrow"}, "due_at must be a datetime"),
                          ({"id": "case_1"}, "a case id is")):
        with pytest.raises(CaseValueError, match=match):
            store.cases.create("t1", new_case(**values), opened())
    with pytest.raises(CaseValueError, match="system scope"):
        store.cases.create("*", new_case(), opened())
    with pytest.raises(CaseValueError, match="per_page"):
        store.cases.list("t1", per_page=0)
    with pytest.raises(CaseValueError, match="a case id"):
        store.cases.get("t1", "nope")


def test_one_open_case_per_grouping_key(store: Store) -> None:
    store.cases.create("t1", new_case("k1"), opened())
    with pytest.raises(sa.exc.IntegrityError):
        store.cases.create("t1", new_case("k1"), opened("eval_2:q"))
    store.cases.create("t2", new_case("k1"), opened())  # another tenant's key
    store.cases.create("t1", new_case(None), opened("eval_3:q"))
    store.cases.create("t1", new_case(None), opened("eval_4:q"))


def _join(c: dict[str, Any], source: str) -> CaseChange:
    return CaseChange("evaluation_added", "system", {"evaluation_id": source[:6]},
                      details=dict(c["details"], sources=[*c["details"]["sources"], source]),
                      evaluation_ids=(source.split(":")[0],))


def test_open_or_join_and_idempotency(store: Store) -> None:
    first = store.cases.open_or_join(
        "t1", source="eval_1:q", evaluation_id="eval_1", grouping_key="k1",
        new=lambda: (new_case("k1"), opened()), join=lambda c: _join(c, "eval_1:q"))
    assert first is not None and first[1] is True
    second = store.cases.open_or_join(
        "t1", source="eval_2:q", evaluation_id="eval_2", grouping_key="k1",
        new=lambda: (new_case("k1"), opened("eval_2:q")), join=lambda c: _join(c, "eval_2:q"))
    assert second is not None and second[1] is False and second[0]["id"] == first[0]["id"]
    assert second[0]["evaluation_ids"] == ["eval_1", "eval_2"]
    again = store.cases.open_or_join(
        "t1", source="eval_2:q", evaluation_id="eval_2", grouping_key="k1",
        new=lambda: (new_case("k1"), opened("eval_2:q")), join=lambda c: _join(c, "eval_2:q"))
    assert again is None


def test_a_lost_race_for_the_key_joins(store: Store) -> None:
    if not store.postgres:
        pytest.skip("SQLite has one writer: the race cannot happen there")
    winner: dict[str, Any] = {}

    def new() -> tuple[dict[str, Any], CaseChange]:
        if not winner:  # another replica opens the key's case meanwhile (and commits)
            other = Store(store.url)
            winner.update(other.cases.create("t1", new_case("k1"), opened("eval_9:q")))
            other.engine.dispose()
        return new_case("k1"), opened()
    done = store.cases.open_or_join("t1", source="eval_1:q", evaluation_id="eval_1",
                                    grouping_key="k1", new=new,
                                    join=lambda c: _join(c, "eval_1:q"))
    assert done is not None and done[1] is False and done[0]["id"] == winner["id"]
    assert store.cases.list("t1")[1] == 1


def test_events_are_append_only(store: Store) -> None:
    case = store.cases.create("t1", new_case(), opened())
    for statement in ("UPDATE case_events SET actor = 'mallory'", "DELETE FROM case_events"):
        with pytest.raises(sa.exc.DBAPIError), store.engine.begin() as conn:
            store.scope(conn, "*")
            conn.execute(sa.text(statement))
    assert len(store.cases.events("t1", case["id"])) == 1


def test_list_filters_and_queues(store: Store) -> None:
    a = store.cases.create("t1", new_case("k1", queue="aml", due=-1), opened())
    store.cases.create("t1", new_case("k2", queue="aml", assignee="alice",
                                      status="in_review"), opened("eval_2:aml"))
    store.cases.create("t1", new_case("k3", queue="kyc", entity_id="C-2"), opened("e_3:k"))
    items, total = store.cases.list("t1", queue="aml")
    assert total == 2 and items[0]["opened_at"] >= items[1]["opened_at"]
    assert store.cases.list("t1", assignee="alice")[1] == 1
    assert store.cases.list("t1", entity_id="C-2")[1] == 1
    assert store.cases.list("t1", status="in_review")[1] == 1
    assert store.cases.list("t1", start=datetime.now(UTC) + timedelta(hours=1))[1] == 0
    assert store.cases.list("t1", end=datetime.now(UTC) + timedelta(hours=1))[1] == 3
    page, total = store.cases.list("t1", page=2, per_page=2)
    assert total == 3 and len(page) == 1
    queues = {q["queue"]: q for q in store.cases.queues("t1", datetime.now(UTC))}
    assert queues["aml"]["open"] == 1 and queues["aml"]["in_review"] == 1
    assert queues["aml"]["sla_breached"] == 1
    assert queues["aml"]["oldest_due_at"] == a["due_at"]
    assert queues["kyc"]["sla_breached"] == 0
    assert store.cases.queues("t2", datetime.now(UTC)) == []
    counts = store.cases.open_by_queue(datetime.now(UTC))
    assert counts["aml"] == (2, 1) and counts["kyc"] == (1, 0)


def test_row_level_security(store: Store) -> None:
    if not store.postgres:
        pytest.skip("row-level security is PostgreSQL's")
    case = store.cases.create("t1", new_case(), opened())
    app = "arka_rls_" + uuid.uuid4().hex[:8]
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {app}")
        conn.exec_driver_sql(f"GRANT SELECT ON cases, case_events, case_evaluations TO {app}")
    try:
        with store.engine.begin() as conn:
            conn.exec_driver_sql(f"SET LOCAL ROLE {app}")
            store.scope(conn, "t2")
            for table in ("cases", "case_events", "case_evaluations"):
                assert conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() == 0
            store.scope(conn, "t1")
            assert conn.exec_driver_sql("SELECT id FROM cases").scalar() == case["id"]
    finally:
        with store.engine.begin() as conn:
            conn.exec_driver_sql(f"REVOKE ALL ON cases, case_events, case_evaluations "
                                 f"FROM {app}")
            conn.exec_driver_sql(f"DROP ROLE {app}")
