"""Worker leases (one dispatcher at a time across processes): under a race exactly one
holder takes a free or expired lease, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from arka.storage import Store
from tests.service_fixtures import database_url


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    for url in database_url(request.param, tmp_path):
        s = Store(url)
        s.migrate()
        yield s
        s.engine.dispose()


def race(store: Store, name: str, holders: int, seconds: float) -> list[str]:
    """`holders` threads ask for the lease at the same moment; who got it."""
    barrier = threading.Barrier(holders)
    won: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def ask(holder: str) -> None:
        barrier.wait()
        try:
            got = store.outbox.lease(name, holder, seconds)
        except Exception as exc:  # noqa: BLE001 - a lost race must be False, not an error
            with lock:
                errors.append(exc)
            return
        if got:
            with lock:
                won.append(holder)
    threads = [threading.Thread(target=ask, args=(f"h{n}",)) for n in range(holders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    return won


def test_one_holder_takes_a_free_lease(store: Store) -> None:
    for round_ in range(10):
        assert len(race(store, f"free-{round_}", 6, 60)) == 1


def test_one_holder_takes_an_expired_lease(store: Store) -> None:
    for round_ in range(5):
        name = f"expired-{round_}"
        assert store.outbox.lease(name, "old", 0.05)
        time.sleep(0.1)
        assert len(race(store, name, 6, 60)) == 1
        assert not store.outbox.lease(name, "old", 60)  # taken over, not expired


def test_a_holder_renews_its_own_lease(store: Store) -> None:
    assert store.outbox.lease("mine", "a", 60)
    assert store.outbox.lease("mine", "a", 60)
    assert not store.outbox.lease("mine", "b", 60)
    store.outbox.release("mine", "a")
    assert store.outbox.lease("mine", "b", 60)
