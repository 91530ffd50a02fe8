"""The remote RTVM (gRPC on 127.0.0.1): ARKA Core configured with `rtvm.host` gives the
same records as in process, batches concurrent callers, resends bytecode to a restarted
server, shares validated programs through Redis, and refuses bad bytecode."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import signal
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest

from arka.app.core import Core
from arka.app.requests import BatchRequest, parse
from arka.rpc.rtvm import SERVICE, RemoteError, RtvmService, make_server
from arka.settings import Settings
from arka.storage import Store
from tests.helpers import EXAMPLE_SCHEMAS, EXAMPLES, evaluate_body
from tests.service_fixtures import _require_or_skip
from tests.test_server import CLI, _free_port

REDIS_URL = os.environ.get("ARKA_TEST_REDIS", "redis://127.0.0.1:6379/0")
RULES = ("ctr-threshold-flag", "structuring-detection", "enhanced-due-diligence")
CTX = {"jurisdiction": "US", "domain": "AML", "timestamp": "2024-03-01T10:00:00Z"}


def _inputs() -> list[dict[str, Any]]:
    out = []
    for i, (amount, currency, kind) in enumerate([
            (500, "USD", "cash"), (12500, "USD", "cash"), (9500.25, "EUR", "wire"),
            (15000, "GBP", "cash"), (9999.99, "USD", "cash"), (0.1, "USD", "card")]):
        out.append({"transaction": {"id": f"t{i}", "amount": amount, "currency": currency,
                                    "type": kind}})
    return out


def _deploy(core: Core) -> None:
    for path in EXAMPLE_SCHEMAS:
        core.registry.deploy_schema("default", path.read_text())
    core.registry.deploy_table("default", (EXAMPLES / "tables" / "fx-rates.yaml").read_text())
    for rule in RULES:
        core.registry.deploy_rule("default", (EXAMPLES / "rules" / f"{rule}.yaml").read_text(), "yaml")


def _comparable(record: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in record["metadata"].items() if k != "evaluation_duration_ms"}
    return {"result": record["result"], "rule_results": record["rule_results"],
            "metadata": meta, "trace": record["trace"], "context": record["context"],
            "output_hash": record["trust_proof"]["output_hash"],
            "input_hash": record["trust_proof"]["input_hash"]}


@pytest.fixture
def cores(tmp_path: Path) -> Any:
    server, port = make_server("127.0.0.1", 0)
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    store = Store(url)
    store.migrate()
    local = Core(Settings(url, tmp_path / "keys"), store)
    remote = Core(Settings(url, tmp_path / "keys", rtvm_host="127.0.0.1", rtvm_port=port),
                  Store(url))
    _deploy(local)
    yield local, remote, server, port
    remote.executor.close()  # type: ignore[union-attr]
    server.stop(None)


def test_remote_results_equal_in_process_results(cores: Any) -> None:
    local, remote, _, _ = cores
    for body_input in _inputs():
        for trace in ("none", "basic", "full"):
            body = {"context": CTX, "input": body_input, "options": {"trace": trace}}
            a, _ = evaluate_body(local, "default", json.loads(json.dumps(body)))
            b, _ = evaluate_body(remote, "default", json.loads(json.dumps(body)))
            assert _comparable(a) == _comparable(b)
            assert a.get("full_trace") == b.get("full_trace")
            assert remote.evaluations.verify("default", b["evaluation_id"])["valid"]
            # replay through the remote RTVM, with the basic and the full trace
            assert remote.evaluations.replay("default", a["evaluation_id"])["match"]
            full = remote.evaluations.replay("default", b["evaluation_id"], trace="full")
            assert full == dict(local.evaluations.replay("default", b["evaluation_id"], trace="full"))
    # batches: one call for all items, same records as in process, bad items isolated
    items = [{"id": str(i), "input": x} for i, x in enumerate(_inputs())] + \
        [{"id": "bad", "input": {"transaction": {"id": "x", "amount": "lots"}}}, {"id": "no"}]
    a = local.evaluations.evaluate_batch("default", parse(BatchRequest, {"context": CTX, "inputs": items}))
    b = remote.evaluations.evaluate_batch("default", parse(BatchRequest, {"context": CTX, "inputs": items}))
    assert [i["status"] for i in a["items"]] == [i["status"] for i in b["items"]]
    assert [i.get("error") for i in a["items"]] == [i.get("error") for i in b["items"]]
    assert [_comparable(i["evaluation"]) for i in a["items"] if "evaluation" in i] == \
        [_comparable(i["evaluation"]) for i in b["items"] if "evaluation" in i]


def test_rejected_input_and_rulesets_remote(cores: Any) -> None:
    from arka.base.errors import InputError
    _, remote, _, _ = cores
    with pytest.raises(InputError, match="amount"):
        evaluate_body(remote, "default", {"context": CTX, "input": {
            "transaction": {"id": "x", "amount": "lots", "currency": "USD", "type": "cash"}}})


def test_concurrent_callers_are_batched(cores: Any) -> None:
    local, remote, _, _ = cores
    calls = []
    original = remote.executor.call

    def counting(groups: Any) -> Any:
        calls.append(len(groups))
        return original(groups)

    remote.executor.call = counting
    bodies = [{"context": CTX, "input": {"transaction": {"id": f"c{i}", "amount": 9000 + i,
                                                         "currency": "USD", "type": "cash"}}}
              for i in range(64)]
    with ThreadPoolExecutor(16) as pool:
        records = list(pool.map(lambda b: evaluate_body(remote, "default", b)[0], bodies))
    assert len(records) == 64 and sum(calls) == 64
    assert len(calls) < 64  # callers that arrived together shared a call
    for body, rec in zip(bodies, records, strict=True):
        mine, _ = evaluate_body(local, "default", body)
        assert _comparable(mine)["result"] == _comparable(rec)["result"]


def test_restarted_server_is_sent_the_bytecode_again(cores: Any) -> None:
    _, remote, server, port = cores
    body = {"context": CTX, "input": _inputs()[1]}
    first, _ = evaluate_body(remote, "default", body)
    server.stop(None).wait()
    fresh, _ = make_server("127.0.0.1", port)  # an empty cache on the same port
    try:
        again, _ = evaluate_body(remote, "default", body)
        assert _comparable(again)["result"] == _comparable(first)["result"]
    finally:
        fresh.stop(None)


def test_bad_bytecode_and_malformed_requests_are_refused(cores: Any) -> None:
    local, _, _, port = cores
    rule = next(iter(local.registry._compiled.values()))
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    call = channel.unary_unary(f"/{SERVICE}/Evaluate")
    group = {"rules": [rule.bytecode_hash], "tables": [], "strategy": "most_severe",
             "order_after": {}, "items": [{"input": {}, "context": CTX}]}
    tampered = bytearray(rule.bytecode)
    tampered[-1] ^= 0xFF
    for payload, needle in [
        (b"not json", "malformed"),
        (json.dumps({"groups": [group], "bytecode": {
            rule.bytecode_hash: base64.b64encode(bytes(tampered)).decode()}}).encode(), ""),
        (json.dumps({"groups": [dict(group, rules=["sha256:" + "0" * 64])], "bytecode": {
            "sha256:" + "0" * 64: base64.b64encode(rule.bytecode).decode()}}).encode(),
         "hashes to"),
        (json.dumps({"nothing": 1}).encode(), "malformed"),
    ]:
        with pytest.raises(grpc.RpcError) as info:
            call(payload, timeout=10)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, payload
        assert needle in (info.value.details() or "")
    channel.close()


def test_unreachable_rtvm_is_a_clear_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    Store(url).migrate()
    core = Core(Settings(url, tmp_path / "keys", rtvm_host="127.0.0.1", rtvm_port=_free_port(),
                         rtvm_timeout=2))
    _deploy(core)
    with pytest.raises(RemoteError, match="UNAVAILABLE"):
        evaluate_body(core, "default", {"context": CTX, "input": _inputs()[0]})
    assert core.executor is not None and not core.executor.ping()


def test_programs_are_shared_through_redis(cores: Any) -> None:
    import redis
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        _require_or_skip(f"Redis at {REDIS_URL}: {exc}")
    # a program no other test has sent: its hash is unique to this run
    text = (EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text().replace(
        "ctr-threshold-flag", "ctr-" + uuid.uuid4().hex[:8])
    from arka.compiler import compile_rule
    rule = compile_rule(text, "x.yaml")
    group = {"rules": [rule.bytecode_hash], "tables": [], "strategy": "most_severe",
             "order_after": {}, "items": [{"input": _inputs()[1], "context": CTX}]}
    a, b = RtvmService(redis_url=REDIS_URL), RtvmService(redis_url=REDIS_URL)
    assert b.evaluate({"groups": [group]})["missing_rules"] == [rule.bytecode_hash]
    out_a = a.evaluate({"groups": [group], "bytecode": {
        rule.bytecode_hash: base64.b64encode(rule.bytecode).decode()}})
    out_b = b.evaluate({"groups": [group]})  # found in Redis, validated, used
    assert "missing_rules" not in out_b

    def strip(out: dict[str, Any]) -> Any:
        for group in out["groups"]:
            for item in group:
                item["ok"]["metadata"].pop("evaluation_duration_ms")
        return out
    assert strip(out_a) == strip(out_b)


def test_rtvm_serve_command_with_workers(tmp_path: Path) -> None:
    port = _free_port()
    bad = subprocess.run([CLI, "rtvm", "serve", "--max-heap-size", "lots"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "size" in bad.stderr
    proc = subprocess.Popen([CLI, "rtvm", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", "2", "--max-heap-size", "8GB"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"sqlite:///{tmp_path / 'pact.db'}"
        Store(url).migrate()
        core = Core(Settings(url, tmp_path / "keys", rtvm_host="127.0.0.1", rtvm_port=port))
        assert core.executor is not None
        for _ in range(100):
            if core.executor.ping():
                break
            import time
            time.sleep(0.1)
        _deploy(core)
        from tests.service_fixtures import api_client
        client = api_client(core)
        assert client.get("/health/ready").json()["checks"]["rtvm"] is True
        pids = set()
        for body_input in _inputs() * 5:
            r = client.post("/api/v1/evaluate", json={"context": CTX, "input": body_input})
            assert r.status_code == 201, r.text
        for _ in range(20):
            pids.add(json.loads(core.executor._health(b"{}", timeout=5))["pid"])
        assert len(pids) >= 1
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        r = client.get("/health/ready")
        assert r.status_code == 503 and r.json()["checks"]["rtvm"] is False
    finally:
        if proc.poll() is None:
            proc.kill()


def test_settings_from_the_guides_rtvm_block(tmp_path: Path) -> None:
    from arka.settings.file import parse_config
    config = parse_config({"storage": {"data_dir": str(tmp_path)},
                           "rtvm": {"host": "arka-rtvm", "port": 8081, "timeout": "30s",
                                    "max_concurrent": 1000}}, {})
    s = Settings.from_config(config, {})
    assert (s.rtvm_host, s.rtvm_port, s.rtvm_timeout, s.rtvm_max_concurrent) == (
        "arka-rtvm", 8081, 30.0, 1000)
    assert dataclasses.replace(s, rtvm_host=None).rtvm_host is None
