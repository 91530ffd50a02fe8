"""The remote RTVM: a gRPC service (`arka-cli rtvm serve`, :8081) that runs evaluations for
ARKA Core, and the client Core uses when `rtvm.host` is configured.

Wire protocol (gRPC, service `arka.rtvm.v1.RTVM`, JSON message bodies, no codegen):

- `Evaluate`: `{"groups": [{"rules": [bytecode_hash...], "tables": [content_hash...],
  "strategy", "order_after", "items": [{"input", "context", "trace", "executor",
  "recorded"?}], "plugin_data"?}],
  "bytecode": {hash: base64}, "table_sources": {hash: yaml}}` → `{"groups": [[{"ok":
  result} | {"error": {"code", "message"}}...]]}`, or `{"missing_rules": [...],
  "missing_tables": [...]}` when the server has not seen some bytecode or table yet; the
  client then resends with those attached. Numbers in inputs travel as exact JSON
  decimals. The server checks every bytecode against its hash and runs the loader's full
  validation before it is used, and every table against its content hash.
- `Health`: `{}` → `{"status": "ok", "programs": n, "pid": ...}`.

The server caches validated programs and tables by hash, in process and, with Redis
configured, in Redis too (`arka:rtvm:bytecode:<hash>`, `arka:rtvm:table:<hash>`), so that
replicas and worker processes share what one of them was sent. `workers` processes share
the port (SO_REUSEPORT). Results are the engine's own JSON, so a remote evaluation is the
same as an in-process one, byte for byte (tested).
"""

from __future__ import annotations

import base64
import json
import logging
import multiprocessing
import os
import signal
import threading
from concurrent import futures
from typing import Any

import grpc
import simplejson

from arka.base import values as V
from arka.base.batching import Batcher
from arka.base.errors import ArkaError, InputError
from arka.compiler import CompiledRule, load_bytecode
from arka.engine import EvaluationResult, RuleSet
from arka.engine.executor import Group, RuleSetCache
from arka.plugins.host import Host, LocalHost
from arka.rpc import stop_with_parent
from arka.rtvm.vm import Limits
from arka.rules.tables import TableSet, parse_table

log = logging.getLogger("arka.rtvm")

SERVICE = "arka.rtvm.v1.RTVM"
MAX_GROUPS = 64  # groups per Evaluate call
MAX_MESSAGE = 256 * 1024 * 1024
_OPTIONS = [("grpc.max_receive_message_length", MAX_MESSAGE),
            ("grpc.max_send_message_length", MAX_MESSAGE)]


class RemoteError(ArkaError):
    api_code = "SERVICE_UNAVAILABLE"
    code = "E_RTVM_REMOTE"


# ---------------------------------------------------------------------------- server

class RtvmService:
    """What one server process does; usable in process for tests."""

    def __init__(self, limits: Limits | None = None, redis_url: str | None = None,
                 plugins: Host | None = None):
        self.limits = limits or Limits()
        self._programs: dict[str, CompiledRule] = {}
        self._tables: dict[str, Any] = {}
        self._rulesets = RuleSetCache(self.limits, plugins=plugins)
        self._redis = None
        if redis_url:
            import redis
            self._redis = redis.Redis.from_url(redis_url, socket_timeout=2,
                                               socket_connect_timeout=2)

    # -- caches
    def _remember_program(self, h: str, data: bytes) -> CompiledRule:
        rule = load_bytecode(data)  # full loader validation
        if rule.bytecode_hash != h:
            raise RemoteError(f"bytecode sent for {h} hashes to {rule.bytecode_hash}")
        self._programs[h] = rule
        return rule

    def _remember_table(self, h: str, source: str) -> Any:
        table, diags = parse_table(source, f"table {h}")
        if table is None:
            raise RemoteError(f"table {h} does not parse: {diags[0].message if diags else ''}")
        if table.content_hash != h:
            raise RemoteError(f"table sent for {h} has content hash {table.content_hash}")
        self._tables[h] = table
        return table

    def _from_redis(self, kind: str, h: str) -> bytes | None:
        if self._redis is None:
            return None
        try:
            data = self._redis.get(f"arka:rtvm:{kind}:{h}")
        except Exception as exc:  # noqa: BLE001 - the client resends what is missing
            log.warning("RTVM cache: Redis unavailable (%s)", type(exc).__name__)
            return None
        if data is None:
            return None
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)

    def _to_redis(self, kind: str, h: str, data: bytes) -> None:
        if self._redis is None:
            return
        try:
            self._redis.set(f"arka:rtvm:{kind}:{h}", data)
        except Exception as exc:  # noqa: BLE001
            log.warning("RTVM cache: Redis unavailable (%s)", type(exc).__name__)

    def _resolve(self, request: dict[str, Any]) -> tuple[list[str], list[str]]:
        for h, b64 in (request.get("bytecode") or {}).items():
            data = base64.b64decode(b64)
            self._remember_program(h, data)
            self._to_redis("bytecode", h, data)
        for h, source in (request.get("table_sources") or {}).items():
            self._remember_table(h, source)
            self._to_redis("table", h, source.encode("utf-8"))
        missing_rules, missing_tables = [], []
        for group in request["groups"]:
            for h in group["rules"]:
                if h not in self._programs:
                    cached = self._from_redis("bytecode", h)
                    if cached is None:
                        missing_rules.append(h)
                    else:
                        self._remember_program(h, cached)
            for h in group["tables"]:
                if h not in self._tables:
                    cached = self._from_redis("table", h)
                    if cached is None:
                        missing_tables.append(h)
                    else:
                        self._remember_table(h, cached.decode("utf-8"))
        return sorted(set(missing_rules)), sorted(set(missing_tables))

    def _ruleset(self, group: dict[str, Any]) -> RuleSet:
        order = {k: tuple(v) for k, v in (group.get("order_after") or {}).items()}
        tables = TableSet()
        for h in group["tables"]:
            t = self._tables[h]
            tables.tables[t.name] = t
        return self._rulesets.get([self._programs[h] for h in group["rules"]], tables,
                                  group["strategy"], order)

    def evaluate(self, request: dict[str, Any]) -> dict[str, Any]:
        missing_rules, missing_tables = self._resolve(request)
        if missing_rules or missing_tables:
            return {"missing_rules": missing_rules, "missing_tables": missing_tables}
        out = []
        for group in request["groups"]:
            rs = self._ruleset(group)
            results = []
            for item in group["items"]:
                try:
                    res = rs.evaluate(item["input"], item["context"],
                                      trace=item.get("trace", "none"),
                                      executor=item.get("executor", "vm"),
                                      recorded_calls=item.get("recorded"),
                                      plugin_data=group.get("plugin_data"))
                except InputError as exc:
                    results.append({"error": {"code": exc.code, "message": exc.message}})
                    continue
                body = res.to_dict()
                body["tables_used"] = res.tables_used
                results.append({"ok": body})
            out.append(results)
        return {"groups": out}

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "programs": len(self._programs), "pid": os.getpid()}


def _handlers(service: RtvmService) -> grpc.GenericRpcHandler:
    def evaluate(request: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            body = simplejson.loads(request, use_decimal=True)
            return json.dumps(service.evaluate(body), ensure_ascii=False).encode("utf-8")
        except (RemoteError, ArkaError) as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, exc.message)
        except (ValueError, KeyError, TypeError) as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed request: {exc}")
        raise AssertionError("unreachable")

    def health(request: bytes, context: grpc.ServicerContext) -> bytes:
        return json.dumps(service.health()).encode("utf-8")

    return grpc.method_handlers_generic_handler(SERVICE, {
        "Evaluate": grpc.unary_unary_rpc_method_handler(evaluate),
        "Health": grpc.unary_unary_rpc_method_handler(health),
    })


def plugin_host_for(target: str | None) -> Host:
    """The plugin host an RTVM process calls: the remote one at `target`, else the
    plugins installed here (in process when trusted, worker processes otherwise)."""
    if target:
        from arka.rpc.plugins import RemoteHost
        return RemoteHost(target)
    return LocalHost()


def make_server(host: str, port: int, limits: Limits | None = None,
                redis_url: str | None = None, threads: int = 4,
                reuse_port: bool = False, plugin_host: str | None = None
                ) -> tuple[grpc.Server, int]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads),
                         options=[*_OPTIONS, ("grpc.so_reuseport", 1 if reuse_port else 0)])
    service = RtvmService(limits, redis_url, plugin_host_for(plugin_host))
    server.add_generic_rpc_handlers((_handlers(service),))
    bound = server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise RemoteError(f"cannot listen on {host}:{port}")
    server.start()
    return server, bound


def _worker(host: str, port: int, limits: Limits, redis_url: str | None,
            plugin_host: str | None, parent: int) -> None:
    server, _ = make_server(host, port, limits, redis_url, reuse_port=True,
                            plugin_host=plugin_host)
    signal.signal(signal.SIGTERM, lambda *_: server.stop(grace=5))
    stop_with_parent(lambda: server.stop(grace=5), parent)
    server.wait_for_termination()


def serve(host: str, port: int, workers: int = 1, limits: Limits | None = None,
          redis_url: str | None = None, plugin_host: str | None = None) -> None:
    """Run the RTVM service until terminated: `workers` processes on one port. Plugin
    calls go to the plugin host at `plugin_host`, else to the plugins installed here."""
    limits = limits or Limits()
    ctx = multiprocessing.get_context("spawn")
    children = [ctx.Process(target=_worker,
                            args=(host, port, limits, redis_url, plugin_host, os.getpid()),
                            daemon=True)
                for _ in range(workers - 1)]
    server, bound = make_server(host, port, limits, redis_url, reuse_port=workers > 1,
                                plugin_host=plugin_host)
    for child in children:
        child.start()

    def stop(signum: int, _frame: Any) -> None:  # finish calls in flight, then exit
        log.info("RTVM stopping (signal %d)", signum)
        server.stop(grace=5)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("RTVM listening on %s:%d with %d worker process(es)", host, bound, workers)
    try:
        server.wait_for_termination()
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.join(10)


# ---------------------------------------------------------------------------- client

class RemoteExecutor:
    """ARKA Core's executor when `rtvm.host` is set: evaluations go to the RTVM service.
    Concurrent callers are batched into one call (`arka.base.batching`), at most
    `max_concurrent` calls are in flight, each with a `timeout`."""

    def __init__(self, host: str, port: int, timeout: float = 30.0, max_concurrent: int = 64):
        self.target = f"{host}:{port}"
        self.timeout = timeout
        self._channel = grpc.insecure_channel(self.target, options=_OPTIONS)
        self._evaluate = self._channel.unary_unary(f"/{SERVICE}/Evaluate")
        self._health = self._channel.unary_unary(f"/{SERVICE}/Health")
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._batcher: Batcher[Group, list[EvaluationResult | InputError]] = Batcher(
            lambda groups: self.call(groups), MAX_GROUPS)

    def close(self) -> None:
        self._channel.close()

    def ping(self) -> bool:
        try:
            self._health(b"{}", timeout=2)
            return True
        except grpc.RpcError:
            return False

    def evaluate(self, group: Group) -> list[EvaluationResult | InputError]:
        """Evaluate a group's items, batched with whatever else is being sent."""
        return self._batcher.submit(group)

    def call(self, groups: list[Group]) -> list[list[EvaluationResult | InputError]]:
        """One Evaluate call (two when the server first needs bytecode or tables)."""
        request: dict[str, Any] = {"groups": [{
            "rules": [r.bytecode_hash for r in g.rules],
            "tables": sorted(t.content_hash for t in g.tables.tables.values()),
            "strategy": g.strategy,
            "order_after": {k: list(v) for k, v in sorted(g.order.items())},
            **({"plugin_data": g.plugin_data} if g.plugin_data else {}),
            "items": [{"input": V.to_json(it.values), "context": V.to_json(it.context),
                       "trace": it.trace, "executor": it.executor,
                       **({"recorded": it.recorded} if it.recorded is not None else {})}
                      for it in g.items],
        } for g in groups]}
        reply = self._send(request)
        if "missing_rules" in reply:
            programs = {r.bytecode_hash: r for g in groups for r in g.rules}
            tables = {t.content_hash: (g.tables, t.name) for g in groups
                      for t in g.tables.tables.values()}
            request["bytecode"] = {h: base64.b64encode(programs[h].bytecode).decode("ascii")
                                   for h in reply["missing_rules"]}
            request["table_sources"] = {h: tables[h][0].sources[tables[h][1]]
                                        for h in reply["missing_tables"]}
            reply = self._send(request)
            if "missing_rules" in reply:
                raise RemoteError("the RTVM still lacks bytecode after it was sent")
        out: list[list[EvaluationResult | InputError]] = []
        for g_reply in reply["groups"]:
            results: list[EvaluationResult | InputError] = []
            for r in g_reply:
                if "error" in r:
                    results.append(InputError(r["error"]["message"]))
                    continue
                ok = r["ok"]
                results.append(EvaluationResult(ok["context"], ok["result"],
                                                ok["rule_results"], ok["metadata"],
                                                ok.get("trace"), ok.get("tables_used", [])))
            out.append(results)
        return out

    def _send(self, request: dict[str, Any]) -> dict[str, Any]:
        payload = simplejson.dumps(request, use_decimal=True, ensure_ascii=False)
        with self._slots:
            try:
                raw = self._evaluate(payload.encode("utf-8"), timeout=self.timeout)
            except grpc.RpcError as exc:
                code = exc.code() if hasattr(exc, "code") else None
                detail = exc.details() if hasattr(exc, "details") else str(exc)
                raise RemoteError(f"RTVM at {self.target}: {code.name if code else 'error'}: "
                                  f"{detail}") from None
        return json.loads(raw)
