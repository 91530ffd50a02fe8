"""Idempotency keys across processes: two ARKA Core instances (as two workers or replicas
would be) share the database and the real Redis; the same key sent to both at once is
evaluated and stored exactly once, and both callers get that record."""

from __future__ import annotations

import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from arka.app.core import Core
from arka.app.idempotency import Idempotency
from arka.base import values as V
from arka.settings import Settings
from arka.storage import Conflict, Store
from arka.trust.proofs import digest
from tests.helpers import EXAMPLES, evaluate_body
from tests.service_fixtures import _require_or_skip, database_url

REDIS_URL = os.environ.get("ARKA_TEST_REDIS", "redis://127.0.0.1:6379/0")
CTX = {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"}


def _redis() -> str:
    import redis
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        _require_or_skip(f"Redis at {REDIS_URL}: {exc}")
    return REDIS_URL


def _body(key: str, amount: int = 12500) -> dict[str, Any]:
    return {"context": CTX, "options": {"idempotency_key": key},
            "input": {"transaction": {"id": "t", "amount": amount, "currency": "USD",
                                      "type": "cash"}}}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_same_key_on_two_instances_is_evaluated_once(backend: str, tmp_path: Path) -> None:
    redis_url = _redis()
    gen = database_url(backend, tmp_path)
    url = next(gen)
    try:
        Store(url).migrate()
        cores = [Core(Settings(url, tmp_path / "keys", redis_url=redis_url), Store(url))
                 for _ in range(2)]
        ctr = (EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text()
        for tenant in ("default", "bank-b"):
            cores[0].registry.deploy_rule(tenant, ctr, "yaml")
        runs = []
        lock = threading.Lock()
        for core in cores:
            original = core.evaluations._records

            def counting(*args: Any, _original: Any = original) -> Any:
                with lock:
                    runs.append(1)
                return _original(*args)
            core.evaluations._records = counting  # type: ignore[method-assign]
        key = "idem-" + uuid.uuid4().hex
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: evaluate_body(cores[i % 2], "default", _body(key)),
                                    range(16)))
        ids = {rec["evaluation_id"] for rec, _ in results}
        assert len(ids) == 1
        assert sum(created for _, created in results) == 1
        assert len(runs) == 1  # evaluated once, not once per racing caller
        assert cores[0].store.evaluations.count() == 1
        # answered keys come back from Redis; another body under the key is a conflict
        again, created = evaluate_body(cores[1], "default", _body(key))
        assert not created and again["evaluation_id"] in ids
        with pytest.raises(Conflict):
            evaluate_body(cores[0], "default", _body(key, amount=1))
        # keys are per tenant
        other, created = evaluate_body(cores[1], "bank-b", _body(key))
        assert created and other["evaluation_id"] not in ids
    finally:
        for _ in gen:
            pass


def test_without_redis_or_with_redis_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    Store(url).migrate()
    for redis_url in (None, "redis://127.0.0.1:1/0"):
        core = Core(Settings(url, tmp_path / "keys", redis_url=redis_url), Store(url))
        core.registry.deploy_rule("default", (EXAMPLES / "rules" / "ctr-threshold-flag.yaml")
                         .read_text(), "yaml")
        key = "k-" + uuid.uuid4().hex
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda _, c=core, k=key: evaluate_body(c, "default", _body(k)),
                                    range(8)))
        assert len({rec["evaluation_id"] for rec, _ in results}) == 1
        assert sum(created for _, created in results) == 1


def test_idempotency_unit_lock_serialises() -> None:
    idem = Idempotency(_redis())
    inside = []
    key = "unit-" + uuid.uuid4().hex

    def work(i: int) -> None:
        with idem.claim("t", key):
            inside.append(("in", i))
            inside.append(("out", i))

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(work, range(6)))
    # never two holders at once: every "in" is followed by its own "out"
    for a, b in zip(inside[::2], inside[1::2], strict=True):
        assert a[0] == "in" and b == ("out", a[1])
    idem.remember("t", key, "h", "eval_x")
    assert idem.recall("t", key) == {"request_hash": "h", "evaluation_id": "eval_x"}
    assert idem.recall("other", key) is None


def test_a_stale_redis_entry_never_wins_over_the_database(tmp_path: Path) -> None:
    """Redis may remember keys of another (e.g. a restored) database: only a hint."""
    redis_url = _redis()
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    Store(url).migrate()
    core = Core(Settings(url, tmp_path / "keys", redis_url=redis_url), Store(url))
    core.registry.deploy_rule("default", (EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text(),
                     "yaml")
    key = "stale-" + uuid.uuid4().hex
    core.idempotency.remember("default", key, "sha256:" + "0" * 64, "eval_gone")
    rec, created = evaluate_body(core, "default", _body(key))  # another request hash: not a conflict
    assert created
    # the same request hash, but the remembered evaluation is not in this database
    again_key = "stale-" + uuid.uuid4().hex
    first, _ = evaluate_body(core, "default", _body(again_key))
    body = _body(again_key)
    request_hash = digest(V.to_json(V.from_json({"context": body["context"],
                                                 "input": body["input"]})))
    core.idempotency.remember("default", again_key, request_hash, "eval_gone")
    second, created = evaluate_body(core, "default", body)
    assert not created and second["evaluation_id"] == first["evaluation_id"]
