"""The remote plugin host: a gRPC service (`arka-cli plugin-host serve`, :8082) that runs
plugin calls for ARKA Core and the RTVM, and the client they use when `plugins.host` is
configured.

Wire protocol (gRPC, service `arka.plugins.v1.PluginHost`, JSON message bodies, no codegen):

- `Manifests`: `{}` → `{"plugins": [manifest...], "problems": {entry point: reason}}`, the
  plugins installed on the host (`Manifest.to_json()`) and those that did not load.
- `Call`: `{"calls": [{"plugin", "function", "args"}...]}` (at most `MAX_CALLS`; `args` is
  the arguments as canonical JSON text) → `{"replies": [reply...]}`, one `Reply.to_json()`
  per call in order. Numbers travel as exact JSON decimals. A request that is not that
  shape is refused with INVALID_ARGUMENT and says what is wrong.
- `Health`: `{}` → `{"status": "ok", "plugins": n, "problems": n, "pid": ...}`.

The service also answers the standard `grpc.health.v1.Health/Check` (SERVING), so
Kubernetes' gRPC probe works against the port.

The server is a `LocalHost`: trusted plugins run in its process, untrusted ones in worker
processes with their limits; the calls of one message run side by side. `workers`
processes share the port (SO_REUSEPORT). A reply is the host's own, so a remote call gives
the same `Reply.to_json()` as an in-process one (tested).

`RemoteHost` is the client and implements the `Host` protocol: concurrent callers share
RPCs (`arka.base.batching`); a host that cannot be reached or does not answer in time
fails each call with `E_PLUGIN_UNAVAILABLE` or `E_PLUGIN_TIMEOUT`, never an exception.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent import futures
from decimal import Decimal
from typing import Any

import grpc
import simplejson

from arka.base.batching import Batcher
from arka.base.errors import ArkaError
from arka.plugins.host import Call, LocalHost, Reply, discover
from arka.plugins.sdk import Catalog, Manifest, PluginError
from arka.rpc import stop_with_parent

log = logging.getLogger("arka.plugins")

SERVICE = "arka.plugins.v1.PluginHost"
HEALTH_SERVICE = "grpc.health.v1.Health"
DEFAULT_PORT = 8082
MAX_CALLS = 256  # calls per Call message
MAX_MESSAGE = 64 * 1024 * 1024
_OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE)]
# a restarted host is reached again within a fraction of a second, not after grpc's 1s+
_RECONNECT = [("grpc.initial_reconnect_backoff_ms", 100), ("grpc.min_reconnect_backoff_ms", 100),
              ("grpc.max_reconnect_backoff_ms", 5000)]
_SERVING = b"\x08\x01"  # grpc.health.v1.HealthCheckResponse{status: SERVING}
_CALL_KEYS = frozenset({"plugin", "function", "args"})


class PluginHostError(ArkaError):
    """The plugin host cannot be listened on, reached or understood."""

    api_code = "SERVICE_UNAVAILABLE"
    code = "E_PLUGIN_UNAVAILABLE"


class RequestError(ArkaError):
    """A Call message that is not the protocol's shape."""

    code = "E_PLUGIN_REQUEST"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _loads(data: bytes | str) -> Any:
    """JSON with every number an exact Decimal; NaN and Infinity refused."""
    return json.loads(data, parse_float=Decimal, parse_int=Decimal, parse_constant=_no_constant)


def _dumps(data: Any) -> bytes:
    return str(simplejson.dumps(data, use_decimal=True, ensure_ascii=False,
                                allow_nan=False)).encode("utf-8")


# ---------------------------------------------------------------------------- server

def parse_calls(body: bytes) -> list[Call]:
    """The calls of a Call message, or RequestError saying what is wrong with it."""
    try:
        request = json.loads(body, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(f"the request is not JSON: {exc}") from None
    if not isinstance(request, dict) or not isinstance(request.get("calls"), list):
        raise RequestError('the request must be an object {"calls": [...]}')
    if set(request) != {"calls"}:
        raise RequestError(f"unknown request field {sorted(set(request) - {'calls'})[0]!r}")
    items = request["calls"]
    if len(items) > MAX_CALLS:
        raise RequestError(f"{len(items)} calls in one request; at most {MAX_CALLS}")
    calls = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise RequestError(f"calls[{i}] must be an object {{plugin, function, args}}")
        if set(item) != _CALL_KEYS:
            missing = sorted(_CALL_KEYS - set(item))
            raise RequestError(f"calls[{i}] lacks {missing[0]!r}" if missing else
                               f"calls[{i}] has unknown field {sorted(set(item) - _CALL_KEYS)[0]!r}")
        for key in ("plugin", "function", "args"):
            if not isinstance(item[key], str):
                raise RequestError(f"calls[{i}].{key} must be text"
                                   + (" (the arguments as JSON text)" if key == "args" else ""))
        calls.append(Call(item["plugin"], item["function"], item["args"]))
    return calls


class PluginHostService:
    """What one server process does, around a `LocalHost`; usable in process for tests.
    The calls of one message run side by side on up to `threads` threads."""

    def __init__(self, host: LocalHost, threads: int = 32):
        self.host = host
        self._threads = futures.ThreadPoolExecutor(max_workers=threads,
                                                   thread_name_prefix="arka-plugin-call")

    def manifests(self) -> dict[str, Any]:
        return {"plugins": [m.to_json() for _, m in sorted(self.host.manifests().items())],
                "problems": dict(sorted(self.host.catalog.problems.items()))}

    def call(self, calls: Sequence[Call]) -> dict[str, Any]:
        if len(calls) <= 1:
            replies = self.host.call_many(calls)
        else:
            replies = list(self._threads.map(lambda c: self.host.call_many([c])[0], calls))
        return {"replies": [r.to_json() for r in replies]}

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "plugins": len(self.host.manifests()),
                "problems": len(self.host.catalog.problems), "pid": os.getpid()}

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        self.host.close()


def _handlers(service: PluginHostService) -> tuple[grpc.GenericRpcHandler, ...]:
    def manifests(request: bytes, context: grpc.ServicerContext) -> bytes:
        return _dumps(service.manifests())

    def call(request: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            calls = parse_calls(request)
        except RequestError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.message)
        return _dumps(service.call(calls))

    def health(request: bytes, context: grpc.ServicerContext) -> bytes:
        return _dumps(service.health())

    def check(request: bytes, context: grpc.ServicerContext) -> bytes:
        return _SERVING

    return (grpc.method_handlers_generic_handler(SERVICE, {
        "Manifests": grpc.unary_unary_rpc_method_handler(manifests),
        "Call": grpc.unary_unary_rpc_method_handler(call),
        "Health": grpc.unary_unary_rpc_method_handler(health),
    }), grpc.method_handlers_generic_handler(HEALTH_SERVICE, {
        "Check": grpc.unary_unary_rpc_method_handler(check),
    }))


def make_server(host: str, port: int, service: PluginHostService, threads: int = 16,
                reuse_port: bool = False) -> tuple[grpc.Server, int]:
    """A started gRPC server for `service` on host:port (0: a free port) and its port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads),
                         options=[*_OPTIONS, ("grpc.so_reuseport", 1 if reuse_port else 0)])
    server.add_generic_rpc_handlers(_handlers(service))
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise PluginHostError(f"cannot listen on {host}:{port}")
    server.start()
    return server, bound


def _local_host(config: Mapping[str, Mapping[str, Any]] | None, plugin_workers: int,
                isolate_all: bool) -> LocalHost:
    return LocalHost(discover(), config, workers=plugin_workers, isolate_all=isolate_all)


def _worker(host: str, port: int, config: Mapping[str, Mapping[str, Any]] | None,
            plugin_workers: int, isolate_all: bool, parent: int) -> None:
    service = PluginHostService(_local_host(config, plugin_workers, isolate_all))
    service.host.warm()
    server, _ = make_server(host, port, service, reuse_port=True)
    signal.signal(signal.SIGTERM, lambda *_: server.stop(grace=5))
    stop_with_parent(lambda: server.stop(grace=5), parent)
    try:
        server.wait_for_termination()
    finally:
        service.close()


def serve(host: str = "0.0.0.0", port: int = DEFAULT_PORT, workers: int = 1,
          config: Mapping[str, Mapping[str, Any]] | None = None, *, plugin_workers: int = 2,
          isolate_all: bool = False) -> None:
    """Run the plugin host until SIGTERM or SIGINT: `workers` server processes on one
    port, each with its own `LocalHost` (`config`: each plugin's settings by name;
    `plugin_workers`: worker processes per untrusted plugin). Calls in flight finish."""
    config = {k: dict(v) for k, v in (config or {}).items()}
    ctx = multiprocessing.get_context("spawn")
    children = [ctx.Process(target=_worker, daemon=True,
                            args=(host, port, config, plugin_workers, isolate_all, os.getpid()))
                for _ in range(workers - 1)]
    service = PluginHostService(_local_host(config, plugin_workers, isolate_all))
    service.host.warm()  # lists load before the port opens
    try:
        server, bound = make_server(host, port, service, reuse_port=workers > 1)
    except PluginHostError:
        service.close()
        raise
    for child in children:
        child.start()

    def stop(signum: int, _frame: Any) -> None:
        log.info("plugin host stopping (signal %d)", signum)
        server.stop(grace=5)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    problems = service.host.catalog.problems
    for name, reason in sorted(problems.items()):
        log.warning("plugin %s did not load: %s", name, reason)
    log.info("plugin host listening on %s:%d with %d worker process(es), plugins: %s",
             host, bound, workers, ", ".join(sorted(service.host.manifests())) or "none")
    try:
        server.wait_for_termination()
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.join(10)
        service.close()


# ---------------------------------------------------------------------------- client

def _plain(data: Any) -> Any:
    """A data version as plain JSON data (ints and floats), as LocalHost hands it back."""
    return json.loads(simplejson.dumps(data, use_decimal=True))


def _reply(data: Any) -> Reply:
    if not isinstance(data, dict) or not isinstance(data.get("version"), str):
        raise ValueError("a reply must be an object with a version")
    error = data.get("error")
    if error is not None:
        if not isinstance(error, dict) or not isinstance(error.get("code"), str) or \
                not isinstance(error.get("message"), str):
            raise ValueError("a reply's error must be {code, message}")
        return Reply(error={"code": error["code"], "message": error["message"]},
                     version=data["version"], data_version=_plain(data.get("data_version")))
    if "result" not in data:
        raise ValueError("a reply needs a result or an error")
    return Reply(result=data["result"], version=data["version"],
                 data_version=_plain(data.get("data_version")))


class RemoteHost:
    """The `Host` of an engine whose plugins run on a plugin host at `target`
    (`host:port`). Manifests are fetched once (`refresh()` fetches them again); calls of
    concurrent callers share RPCs of up to `max_batch` calls, each RPC with a deadline of
    `timeout` seconds (make it longer than the slowest plugin's `max_time`)."""

    def __init__(self, target: str, timeout: float = 10.0, max_batch: int = 256):
        self.target = target
        self.timeout = timeout
        self.max_batch = max(1, min(max_batch, MAX_CALLS))
        self._connect()
        self._lock = threading.Lock()
        self._catalog: Catalog | None = None
        self._batcher: Batcher[tuple[Call, ...], list[Reply]] = Batcher(self._process,
                                                                        self.max_batch)
        self.rpcs = 0  # Call RPCs sent, for tests and metrics

    def _connect(self) -> None:
        self._channel = grpc.insecure_channel(self.target, options=[*_OPTIONS, *_RECONNECT])
        self._manifests_rpc = self._channel.unary_unary(f"/{SERVICE}/Manifests")
        self._call_rpc = self._channel.unary_unary(f"/{SERVICE}/Call")
        self._health_rpc = self._channel.unary_unary(f"/{SERVICE}/Health")

    # -- manifests
    def catalog(self) -> Catalog:
        """The host's plugins as a Catalog (manifests and problems, no classes), so rules
        can be type-checked against them. PluginHostError when the host does not answer."""
        with self._lock:
            if self._catalog is not None:
                return self._catalog
        return self.refresh()

    def refresh(self) -> Catalog:
        """Fetch the manifests again (after the host was upgraded)."""
        try:
            raw = self._manifests_rpc(b"{}", timeout=self.timeout)
            # plain JSON numbers: a manifest holds ints and floats, as LocalHost's does
            body = json.loads(raw, parse_constant=_no_constant)
            plugins, problems = body["plugins"], body.get("problems", {})
            if not isinstance(plugins, list) or not isinstance(problems, dict):
                raise ValueError("plugins must be a list and problems an object")
        except grpc.RpcError as exc:
            raise PluginHostError(f"the plugin host at {self.target} did not send its "
                                  f"manifests: {_rpc_text(exc)}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise PluginHostError(f"the plugin host at {self.target} sent malformed "
                                  f"manifests: {exc}") from None
        cat = Catalog(problems={str(k): str(v) for k, v in problems.items()})
        for data in plugins:
            try:
                manifest = Manifest.from_json(data)
            except (PluginError, KeyError, TypeError) as exc:
                name = data.get("name") if isinstance(data, dict) else None
                cat.problems[str(name or "?")] = f"the host sent a manifest that does not " \
                    f"read: {getattr(exc, 'message', exc)}"
                continue
            cat.manifests[manifest.name] = manifest
        with self._lock:
            self._catalog = cat
        return cat

    def manifests(self) -> dict[str, Manifest]:
        return dict(self.catalog().manifests)

    # -- calls
    def call_many(self, calls: Sequence[Call]) -> list[Reply]:
        """One Reply per call, in order; batched with whatever else is being sent."""
        if not calls:
            return []
        return self._batcher.submit(tuple(calls))

    def _process(self, batch: list[tuple[Call, ...]]) -> list[list[Reply]]:
        flat = [c for calls in batch for c in calls]
        replies: list[Reply] = []
        for i in range(0, len(flat), self.max_batch):
            chunk = flat[i:i + self.max_batch]
            try:
                replies += self._send(chunk)
            except Exception as exc:  # noqa: BLE001 - a call fails, the engine goes on
                replies += self._failed(chunk, "E_PLUGIN_UNAVAILABLE", f"the calls could "
                                        f"not be sent to {self.target}: {exc}")
        out, at = [], 0
        for calls in batch:
            out.append(replies[at:at + len(calls)])
            at += len(calls)
        return out

    def _send(self, calls: list[Call]) -> list[Reply]:
        """One Call RPC; every failure becomes each call's error reply."""
        payload = _dumps({"calls": [{"plugin": c.plugin, "function": c.function,
                                     "args": c.args} for c in calls]})
        started = time.perf_counter()
        self.rpcs += 1
        try:
            raw = self._call_rpc(payload, timeout=self.timeout)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                return self._failed(calls, "E_PLUGIN_TIMEOUT", f"the plugin host at "
                                    f"{self.target} gave no answer within {self.timeout:g}s")
            return self._failed(calls, "E_PLUGIN_UNAVAILABLE", f"the plugin host at "
                                f"{self.target} did not answer: {_rpc_text(exc)}")
        try:
            body = _loads(raw)
            items = body["replies"]
            if not isinstance(items, list) or len(items) != len(calls):
                raise ValueError(f"{len(calls)} calls were sent, the answer does not hold "
                                 f"{len(calls)} replies")
            replies = [_reply(item) for item in items]
        except (ValueError, KeyError, TypeError) as exc:
            return self._failed(calls, "E_PLUGIN_UNAVAILABLE", f"the plugin host at "
                                f"{self.target} sent a malformed answer: {exc}")
        duration = time.perf_counter() - started
        for r in replies:
            r.duration = duration
        return replies

    @staticmethod
    def _failed(calls: list[Call], code: str, message: str) -> list[Reply]:
        log.warning("plugin calls failed: %s", message)
        return [Reply(error={"code": code, "message": message}) for _ in calls]

    # -- operation
    def health(self) -> dict[str, Any]:
        """The host's Health answer; PluginHostError when it does not answer."""
        try:
            return dict(json.loads(self._health_rpc(b"{}", timeout=min(self.timeout, 5.0))))
        except grpc.RpcError as exc:
            raise PluginHostError(f"the plugin host at {self.target} did not answer: "
                                  f"{_rpc_text(exc)}") from None

    def ping(self) -> bool:
        try:
            self.health()
            return True
        except PluginHostError:
            return False

    def close(self) -> None:
        """Close the connection; a later call opens a new one."""
        channel = self._channel
        self._connect()
        channel.close()


def _rpc_text(exc: grpc.RpcError) -> str:
    code = exc.code() if hasattr(exc, "code") else None
    detail = exc.details() if hasattr(exc, "details") else str(exc)
    return f"{code.name if code else 'error'}: {detail}"
