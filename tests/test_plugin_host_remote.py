"""The remote plugin host (gRPC on 127.0.0.1): the same manifests and the same replies as
LocalHost, byte for byte; the plugins' limits hold behind it; a host that is down or slow
fails the calls with E_PLUGIN_UNAVAILABLE / E_PLUGIN_TIMEOUT instead of raising;
malformed requests are refused saying why; concurrent callers share RPCs; and
`arka-cli plugin-host serve` runs it with several processes and stops on SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import grpc
import pytest
import simplejson

from arka.plugins import Call, LocalHost, Reply, discover
from arka.rpc.plugins import (
    HEALTH_SERVICE,
    MAX_CALLS,
    SERVICE,
    PluginHostError,
    PluginHostService,
    RemoteHost,
    make_server,
)
from tests.test_server import CLI, _free_port

pytestmark = pytest.mark.skipif("testkit" not in discover().manifests,
                                reason="the test plugin (tests/plugins/arka-test-plugin) "
                                "is not installed")


def _bytes(reply: Reply) -> str:
    return str(simplejson.dumps(reply.to_json(), use_decimal=True, sort_keys=True,
                                ensure_ascii=False))


def _same(a: Reply, b: Reply) -> None:
    assert _bytes(a) == _bytes(b)
    assert a.to_json() == b.to_json()
    assert type(a.result) is type(b.result)


@pytest.fixture(scope="module")
def local() -> Iterator[LocalHost]:
    host = LocalHost(discover())
    yield host
    host.close()


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[PluginHostService, int]]:
    service = PluginHostService(LocalHost(discover()))
    server, port = make_server("127.0.0.1", 0, service)
    yield service, port
    server.stop(None)
    service.close()


@pytest.fixture
def remote(served: tuple[PluginHostService, int]) -> Iterator[RemoteHost]:
    host = RemoteHost(f"127.0.0.1:{served[1]}")
    yield host
    host.close()


def test_manifests_round_trip(remote: RemoteHost) -> None:
    installed = discover()
    assert remote.manifests() == installed.manifests
    assert {n: m.to_json() for n, m in remote.manifests().items()} == \
        {n: m.to_json() for n, m in installed.manifests.items()}
    catalog = remote.catalog()
    assert catalog.classes == {} and catalog.problems == installed.problems
    assert remote.catalog() is catalog  # fetched once
    assert remote.refresh() is not catalog and remote.catalog().manifests == catalog.manifests
    assert remote.health()["status"] == "ok" and remote.ping()


CALLS = [
    Call("testkit", "add", '{"a":1.5,"b":2}'),
    Call("testkit", "add", '{"a":0.10,"b":"x"}'),
    Call("testkit", "fail", '{"message":"boom"}'),
    Call("testkit", "bad_result", "{}"),
    Call("testkit", "secret", '{"name":"HOME"}'),
    Call("testkit", "read_file", '{"path":"/etc/passwd"}'),
    Call("testkit", "nope", "{}"),
    Call("testkit", "add", "not json"),
    Call("nothing", "here", "{}"),
    Call("trustedkit", "greet", '{"name":"Ann"}'),
    Call("trustedkit", "greet", '{"name":"Bo","punctuation":"?"}'),
]


def test_replies_are_byte_identical_to_local_hosts(remote: RemoteHost,
                                                   local: LocalHost) -> None:
    for call in CALLS:
        (mine,) = remote.call_many([call])
        _same(mine, local.call(call))
    # a decimal keeps its digits; the echo differs only by the worker's pid
    echo = Call("testkit", "echo", '{"value":[1,"x",{"n":1.50,"m":1E+2}]}')
    (r,) = remote.call_many([echo])
    assert r.result["value"] == local.call(echo).result["value"]
    assert str(r.result["value"][2]["n"]) == "1.50" and isinstance(r.result["pid"], Decimal)
    # several calls of one caller: one RPC, replies in order
    before = remote.rpcs
    many = remote.call_many(CALLS)
    assert remote.rpcs == before + 1
    for call, reply in zip(CALLS, many, strict=True):
        _same(reply, local.call(call))


def test_timeouts(served: tuple[PluginHostService, int], local: LocalHost) -> None:
    target = f"127.0.0.1:{served[1]}"
    remote, impatient = RemoteHost(target), RemoteHost(target, timeout=0.5)
    try:
        with ThreadPoolExecutor(4) as pool:  # side by side: the file's runtime
            slow_untrusted = pool.submit(remote.call_many, [Call("testkit", "sleep",
                                                                 '{"seconds":3}')])
            slow_trusted = pool.submit(remote.call_many, [Call("trustedkit", "slow",
                                                               '{"seconds":2}')])
            local_trusted = pool.submit(local.call, Call("trustedkit", "slow",
                                                         '{"seconds":2}'))
            started = time.monotonic()
            (late,) = impatient.call_many([Call("testkit", "sleep", '{"seconds":1.5}')])
            assert time.monotonic() - started < 1.4
            (untrusted,) = slow_untrusted.result()
            (trusted,) = slow_trusted.result()
            _same(trusted, local_trusted.result())
        assert late.error == {"code": "E_PLUGIN_TIMEOUT", "message": f"the plugin host at "
                              f"{target} gave no answer within 0.5s"}
        assert untrusted.error is not None and untrusted.error["code"] == "E_PLUGIN_TIMEOUT"
        assert "within 2s (max_time)" in untrusted.error["message"]
        assert trusted.error is not None and trusted.error["code"] == "E_PLUGIN_TIMEOUT"
        # the host goes on answering
        assert remote.call_many([Call("testkit", "add", '{"a":1,"b":1}')])[0].result == 2
    finally:
        remote.close()
        impatient.close()


def test_limits_hold_behind_the_remote_host(remote: RemoteHost) -> None:
    crash, memory, network, after = remote.call_many([
        Call("testkit", "crash", "{}"), Call("testkit", "allocate", '{"megabytes":1000}'),
        Call("testkit", "connect", '{"host":"127.0.0.1","port":6379}'),
        Call("testkit", "add", '{"a":2,"b":3}')])
    assert crash.error is not None and crash.error["code"] == "E_PLUGIN_CRASH"
    assert memory.error is not None and memory.error["code"] == "E_PLUGIN_MEMORY"
    assert network.error is not None and "may not use the network" in network.error["message"]
    assert after.result == Decimal(5)
    (again,) = remote.call_many([Call("testkit", "add", '{"a":2,"b":4}')])  # after the crash
    assert again.error is None and again.result == Decimal(6) and again.version == "1.0.0"


def test_a_host_that_is_down_fails_each_call() -> None:
    port = _free_port()
    remote = RemoteHost(f"127.0.0.1:{port}", timeout=2)
    try:
        replies = remote.call_many([Call("testkit", "add", '{"a":1,"b":1}'),
                                    Call("trustedkit", "greet", '{"name":"A"}')])
        for r in replies:
            assert r.error is not None and r.error["code"] == "E_PLUGIN_UNAVAILABLE"
            assert f"the plugin host at 127.0.0.1:{port} did not answer: UNAVAILABLE" in \
                r.error["message"]
            assert r.version == "" and r.result is None
        with pytest.raises(PluginHostError, match="did not send its manifests"):
            remote.manifests()
        assert not remote.ping()
        # a host that comes up on that port is used from then on
        service = PluginHostService(LocalHost(discover()))
        server, _ = make_server("127.0.0.1", port, service)
        try:
            deadline = time.monotonic() + 10
            while True:
                (r,) = remote.call_many([Call("testkit", "add", '{"a":1,"b":1}')])
                if r.error is None or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            assert r.result == 2
            assert sorted(remote.manifests()) == ["sanctions", "testkit", "trustedkit"]
        finally:
            server.stop(None)
            service.close()
    finally:
        remote.close()


def _raw(port: int, method: str, payload: bytes) -> bytes:
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        return bytes(channel.unary_unary(f"/{SERVICE}/{method}")(payload, timeout=10))
    finally:
        channel.close()


def test_malformed_requests_are_refused_saying_why(served: tuple[PluginHostService, int]
                                                   ) -> None:
    port = served[1]
    good = {"plugin": "testkit", "function": "add", "args": "{}"}
    for payload, needle in [
        (b"not json", "the request is not JSON"),
        (b"\xff\xfe", "the request is not JSON"),
        (b'{"calls": [NaN]}', "not JSON"),
        (b"[]", 'must be an object {"calls": [...]}'),
        (b'{"calls": {}}', 'must be an object {"calls": [...]}'),
        (json.dumps({"calls": [], "extra": 1}).encode(), "unknown request field 'extra'"),
        (json.dumps({"calls": [good] * (MAX_CALLS + 1)}).encode(),
         f"{MAX_CALLS + 1} calls in one request; at most {MAX_CALLS}"),
        (json.dumps({"calls": [1]}).encode(), "calls[0] must be an object"),
        (json.dumps({"calls": [good, {"plugin": "testkit", "function": "add"}]}).encode(),
         "calls[1] lacks 'args'"),
        (json.dumps({"calls": [dict(good, more=1)]}).encode(), "unknown field 'more'"),
        (json.dumps({"calls": [dict(good, args={"a": 1})]}).encode(),
         "calls[0].args must be text (the arguments as JSON text)"),
        (json.dumps({"calls": [dict(good, plugin=7)]}).encode(), "calls[0].plugin must be text"),
    ]:
        with pytest.raises(grpc.RpcError) as info:
            _raw(port, "Call", payload)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, payload
        assert needle in (info.value.details() or ""), (payload, info.value.details())
    body = json.loads(_raw(port, "Call", json.dumps({"calls": []}).encode()))
    assert body == {"replies": []}
    body = json.loads(_raw(port, "Call", json.dumps({"calls": [dict(
        good, args='{"a":0.1,"b":0.2}')]}).encode()))
    assert body["replies"][0]["result"] == 0.3 and b"0.3" in _raw(
        port, "Call", json.dumps({"calls": [dict(good, args='{"a":0.1,"b":0.2}')]}).encode())
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")  # Kubernetes' gRPC probe
    assert channel.unary_unary(f"/{HEALTH_SERVICE}/Check")(b"", timeout=5) == b"\x08\x01"
    channel.close()


def test_concurrent_callers_share_rpcs(remote: RemoteHost) -> None:
    calls = [Call("testkit", "add", json.dumps({"a": i, "b": 0.5})) for i in range(96)]
    barrier = threading.Barrier(32)

    def one(call: Call) -> Reply:
        if int(json.loads(call.args)["a"]) < 32:  # the first 32 start together
            barrier.wait()
        (r,) = remote.call_many([call])
        return r

    before = remote.rpcs
    with ThreadPoolExecutor(32) as pool:
        replies = list(pool.map(one, calls))
    assert [r.result for r in replies] == [Decimal(i) + Decimal("0.5") for i in range(96)]
    assert remote.rpcs - before < 96  # callers that arrived together shared an RPC


def test_a_batch_larger_than_one_message_is_split(served: tuple[PluginHostService, int]
                                                  ) -> None:
    remote = RemoteHost(f"127.0.0.1:{served[1]}", max_batch=4)
    try:
        replies = remote.call_many([Call("trustedkit", "greet", json.dumps({"name": str(i)}))
                                    for i in range(10)])
        assert [r.result["greeting"] for r in replies] == [f"Hello, {i}!" for i in range(10)]
        assert remote.rpcs == 3
    finally:
        remote.close()


def _cli(*args: str) -> list[str]:
    """`arka-cli plugin-host ...` (the group module itself until arka-cli lists it)."""
    from arka.interfaces.cli import main
    if "plugin-host" in main.commands:
        return [CLI, "plugin-host", *args]
    return [sys.executable, "-m", "arka.interfaces.cli.plugin_host", *args]


def test_plugin_host_serve_command(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("plugins:\n  testkit: [1, 2]\n")
    out = subprocess.run(_cli("serve", "--config", str(bad)), capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and "plugins.testkit: a plugin's settings must be a mapping" \
        in out.stderr, out.stderr
    config = tmp_path / "arka.yaml"
    config.write_text("storage: {data_dir: /nowhere}\nplugins:\n  host: arka-plugin-host:8082\n"
                      "  testkit: {token: '${ARKA_TEST_TOKEN}'}\n")
    port = _free_port()
    proc = subprocess.Popen(_cli("serve", "--host", "127.0.0.1", "--workers", "2",
                                 "--plugin-workers", "1", "--isolate-all"),
                            env={**os.environ, "ARKA_PLUGIN_HOST_PORT": str(port),
                                 "ARKA_CONFIG": str(config), "ARKA_TEST_TOKEN": "t"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    remote = RemoteHost(f"127.0.0.1:{port}")
    try:
        for _ in range(150):
            if remote.ping() or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert remote.ping(), proc.stderr.read() if proc.stderr and proc.poll() is not None \
            else "no answer"
        assert sorted(remote.manifests()) == ["sanctions", "testkit", "trustedkit"]
        (add, greet, pid) = remote.call_many([Call("testkit", "add", '{"a":1.25,"b":1}'),
                                              Call("trustedkit", "greet", '{"name":"Ann"}'),
                                              Call("trustedkit", "pid", "{}")])
        assert add.result == Decimal("2.25") and greet.data_version == {"greetings": "v1"}
        servers = {remote.health()["pid"] for _ in range(20)}
        assert pid.result not in servers  # --isolate-all: a trusted plugin in a worker too
        health = subprocess.run(_cli("health", "--target", f"127.0.0.1:{port}"),
                                capture_output=True, text=True, timeout=60)
        assert health.returncode == 0, health.stderr
        assert json.loads(health.stdout)["plugins"] == {"sanctions": "1.0.0",
                                                        "testkit": "1.0.0",
                                                        "trustedkit": "2.1.0"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        (gone,) = remote.call_many([Call("testkit", "add", '{"a":1,"b":1}')])
        assert gone.error is not None and gone.error["code"] == "E_PLUGIN_UNAVAILABLE"
        down = subprocess.run(_cli("health", "--target", f"127.0.0.1:{port}", "--timeout", "1"),
                              capture_output=True, text=True, timeout=60)
        assert down.returncode == 1 and "did not answer" in down.stderr
    finally:
        remote.close()
        with contextlib.suppress(ProcessLookupError):  # the server and its workers
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                         text=True).stdout
    return {int(p) for p in out.split()}


def test_server_workers_stop_when_the_server_is_killed() -> None:
    """A server killed with SIGKILL cannot stop its worker processes; they notice and
    stop themselves instead of serving the port as orphans."""
    port = _free_port()
    proc = subprocess.Popen(_cli("serve", "--host", "127.0.0.1", "--port", str(port),
                                 "--workers", "2"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    remote = RemoteHost(f"127.0.0.1:{port}")
    try:
        for _ in range(150):
            if remote.ping() and _children(proc.pid):
                break
            time.sleep(0.1)
        workers = _children(proc.pid)
        assert workers, "the server started no worker process"
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 15
        alive = workers
        while alive and time.monotonic() < deadline:
            alive = {w for w in alive if Path(f"/proc/{w}").exists() and
                     "zombie" not in Path(f"/proc/{w}/status").read_text().lower()}
            time.sleep(0.2)
        assert not alive, {w: Path(f"/proc/{w}/cmdline").read_bytes()[:120] for w in alive}
    finally:
        remote.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def test_plugin_settings_from_the_configuration_file(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from arka.interfaces.cli.plugin_host import plugin_settings, read_plugins
    monkeypatch.setenv("ARKA_TEST_LISTS", "/data/lists")
    path = tmp_path / "arka.yaml"
    path.write_text("database: {host: '${NOT_SET_HERE}'}\nplugins:\n"
                    "  host: arka-plugin-host:8082\n  timeout: 10s\n  workers: 3\n"
                    "  sanctions:\n    datasets: ['${ARKA_TEST_LISTS}/ofac.csv']\n"
                    "    threshold: 0.85\n")
    plugins = read_plugins(str(path))
    assert plugins.workers == 3 and plugins.isolate_all is False
    assert plugin_settings(plugins) == {
        "sanctions": {"datasets": ["/data/lists/ofac.csv"], "threshold": 0.85}}
    path.write_text("server: {port: 8080}\n")
    assert plugin_settings(read_plugins(str(path))) == {}
    for text, needle in [("plugins: {workers: 0}\n", "plugins.workers"),
                         ("plugins: {Bad: {}}\n", "not a plugin name"),
                         ("- 1\n", "mapping of sections")]:
        path.write_text(text)
        with pytest.raises(SystemExit) as info:
            read_plugins(str(path))
        assert info.value.code == 2, needle
