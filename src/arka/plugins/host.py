"""Plugin hosts: where plugin calls run, outside the VM.

`LocalHost` runs trusted plugins in this process (each call on a helper thread, so a
call that outlives `max_time` is abandoned and fails) and untrusted ones in worker
processes with the plugin's limits (`arka.plugins.workers`). A remote host
(`arka.rpc.plugins`, `arka-cli plugin-host serve`) answers the same calls over gRPC.
Every host speaks JSON with exact decimals: arguments go in as canonical JSON text and
results come back as JSON data, so a call gives the same record in process and remote.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import json
import logging
import threading
from collections.abc import Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import simplejson

from arka.base import values as V
from arka.base.errors import ArkaError
from arka.plugins.sdk import Catalog, Manifest, Plugin, PluginError
from arka.plugins.workers import WorkerFault, WorkerPool

log = logging.getLogger("arka.plugins")

ENTRY_POINT_GROUP = "arka.plugins"


@dataclass(frozen=True, slots=True)
class Call:
    plugin: str
    function: str
    args: str  # the arguments as canonical JSON text (an object of parameter name → value)


@dataclass
class Reply:
    """A call's answer: `result` (JSON data, numbers Decimal) or `error` {code, message};
    the version of the plugin that answered and of the data it answered from."""

    result: Any = None
    error: dict[str, str] | None = None
    version: str = ""
    data_version: Any = None
    duration: float = field(default=0.0, compare=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": self.version, "data_version": self.data_version}
        if self.error is not None:
            out["error"] = self.error
        else:
            out["result"] = self.result
        return out


class Host(Protocol):
    def manifests(self) -> dict[str, Manifest]: ...

    def call_many(self, calls: Sequence[Call]) -> list[Reply]: ...

    def close(self) -> None: ...


# ------------------------------------------------------------------ discovery

_discovered: Catalog | None = None
_lock = threading.Lock()


def discover(refresh: bool = False) -> Catalog:
    """The plugins installed in this Python environment (entry-point group
    `arka.plugins`), read once. An entry point that does not load is listed in
    `Catalog.problems` with the reason, never raised."""
    global _discovered
    with _lock:
        if _discovered is not None and not refresh:
            return _discovered
        cat = Catalog()
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP),
                         key=lambda e: e.name):
            dist = ep.dist.name if ep.dist is not None else None
            try:
                cls = ep.load()
                if not (isinstance(cls, type) and issubclass(cls, Plugin)):
                    raise PluginError(f"{ep.value} is not a subclass of arka.plugins.Plugin")
                manifest = cls.manifest(dist)
            except Exception as exc:  # noqa: BLE001 - one broken plugin never hides the rest
                cat.problems[ep.name] = f"{ep.value}: {type(exc).__name__}: {exc}"
                continue
            if manifest.name in cat.manifests:
                cat.problems[ep.name] = (f"{ep.value}: plugin name {manifest.name!r} is "
                                         "registered twice")
                continue
            cat.manifests[manifest.name] = manifest
            cat.classes[manifest.name] = cls
        _discovered = cat
        return cat


def load_class(target: str) -> type[Plugin]:
    """`module:Class` → the plugin class (worker processes load plugins this way)."""
    module, _, name = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, Plugin)):
        raise PluginError(f"{target} is not a plugin class")
    return obj


def target_of(cls: type[Plugin]) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


# ------------------------------------------------------------------ calling

def _default(v: Any) -> Any:
    if isinstance(v, datetime):
        return V.datetime_text(v)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, timedelta):
        return V.duration_text(v)
    if isinstance(v, tuple | set | frozenset):
        return list(v)
    to_json = getattr(v, "to_json", None)
    if callable(to_json):
        return to_json()
    raise TypeError(f"a plugin result cannot hold {type(v).__name__}")


def encode_result(result: Any) -> str:
    """A plugin's result as JSON text with exact decimals (floats by their shortest repr)."""
    try:
        return str(simplejson.dumps(result, use_decimal=True, sort_keys=True,
                                    ensure_ascii=False, default=_default, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise PluginError(f"the result is not JSON data: {exc}") from None


def run_export(plugin: Plugin, function: str, args_text: str) -> Any:
    """Call one exported function of a plugin instance with JSON-text arguments."""
    manifest = type(plugin).manifest()
    if manifest.export(function) is None:
        raise PluginError(f"plugin {manifest.name} has no function {function!r}")
    args = json.loads(args_text, parse_float=Decimal, parse_int=Decimal)
    return getattr(plugin, function)(**args)


def decode_reply(text: str, data_version: Any, version: str) -> Reply:
    try:
        result = V.load_json_text(text)
    except ArkaError as exc:
        return Reply(error={"code": "E_PLUGIN_RESULT", "message": f"the result is out of "
                            f"bounds: {exc.message}"}, version=version)
    return Reply(result=result, version=version, data_version=data_version)


class LocalHost:
    """Plugin calls in this process (trusted plugins) and in worker processes (the rest).

    `config` holds each plugin's settings by plugin name; `workers` the worker processes
    per untrusted plugin; `isolate_all` runs trusted plugins in workers too."""

    def __init__(self, catalog: Catalog | None = None,
                 config: Mapping[str, Mapping[str, Any]] | None = None, *, workers: int = 2,
                 isolate_all: bool = False):
        self.catalog = catalog if catalog is not None else discover()
        self.config = dict(config or {})
        self.workers = workers
        self.isolate_all = isolate_all
        self._instances: dict[str, Plugin] = {}
        self._pools: dict[str, WorkerPool] = {}
        self._lock = threading.Lock()
        self._threads: futures.ThreadPoolExecutor | None = None

    def manifests(self) -> dict[str, Manifest]:
        return dict(self.catalog.manifests)

    def _instance(self, name: str) -> Plugin:
        with self._lock:
            inst = self._instances.get(name)
            if inst is None:
                inst = self.catalog.classes[name](self.config.get(name, {}))
                self._instances[name] = inst
            return inst

    def _pool(self, name: str, manifest: Manifest) -> WorkerPool:
        with self._lock:
            pool = self._pools.get(name)
            if pool is None:
                pool = WorkerPool(target_of(self.catalog.classes[name]),
                                  self.config.get(name, {}), manifest.permissions, self.workers)
                self._pools[name] = pool
            return pool

    def warm(self) -> dict[str, str]:
        """Start the trusted plugins that have settings now (the sanctions lists load and
        index here, not in the first evaluation); the reason for each that did not start.
        A plugin that did not start fails its calls, and is tried again on the next one."""
        failed: dict[str, str] = {}
        for name in sorted(self.config):
            manifest = self.catalog.get(name)
            if manifest is None or not manifest.trusted or self.isolate_all:
                continue
            try:
                self._instance(name)
            except Exception as exc:  # noqa: BLE001 - reported, and again at each call
                failed[name] = f"{type(exc).__name__}: {exc}"
                log.error("plugin %s did not start: %s", name, failed[name])
        return failed

    def call_many(self, calls: Sequence[Call]) -> list[Reply]:
        return [self.call(c) for c in calls]

    def call(self, call: Call) -> Reply:
        import time
        started = time.perf_counter()
        reply = self._call(call)
        reply.duration = time.perf_counter() - started
        return reply

    def _call(self, call: Call) -> Reply:
        manifest = self.catalog.get(call.plugin)
        if manifest is None or call.plugin not in self.catalog.classes:
            return Reply(error={"code": "E_PLUGIN_UNAVAILABLE",
                                "message": f"plugin {call.plugin!r} is not installed here"})
        if manifest.export(call.function) is None:
            return Reply(error={"code": "E_PLUGIN", "message": f"plugin {call.plugin} "
                                f"{manifest.version} has no function {call.function!r}"},
                         version=manifest.version)
        if manifest.trusted and not self.isolate_all:
            return self._in_process(call, manifest)
        try:
            text, data_version, version = self._pool(call.plugin, manifest).call(
                call.function, call.args)
        except WorkerFault as fault:
            return Reply(error={"code": fault.code, "message": fault.message},
                         version=manifest.version)
        return decode_reply(text, data_version, version)

    def _in_process(self, call: Call, manifest: Manifest) -> Reply:
        name = f"plugin.{call.plugin}.{call.function}"
        try:
            plugin = self._instance(call.plugin)
        except Exception as exc:  # noqa: BLE001 - a plugin that does not start fails its calls
            return Reply(error={"code": "E_PLUGIN_START", "message": f"plugin {call.plugin} "
                                f"did not start: {type(exc).__name__}: {exc}"},
                         version=manifest.version)

        def run() -> tuple[str, Any]:
            return encode_result(run_export(plugin, call.function, call.args)), \
                plugin.data_version()

        with self._lock:  # made on first use, and again after close()
            if self._threads is None:
                self._threads = futures.ThreadPoolExecutor(max_workers=16,
                                                           thread_name_prefix="arka-plugin")
            threads = self._threads
        future = threads.submit(run)
        try:
            text, data_version = future.result(timeout=manifest.permissions.max_time)
        except futures.TimeoutError:
            return Reply(error={"code": "E_PLUGIN_TIMEOUT", "message": f"{name} gave no "
                                f"answer within {manifest.permissions.max_time:g}s "
                                "(max_time)"}, version=manifest.version)
        except MemoryError:
            return Reply(error={"code": "E_PLUGIN_MEMORY", "message": f"{name} ran out of "
                                "memory"}, version=manifest.version)
        except ArkaError as exc:  # the plugin's own error, with its code
            return Reply(error={"code": exc.code, "message": exc.message},
                         version=manifest.version)
        except Exception as exc:  # noqa: BLE001 - any failure is the call's error
            return Reply(error={"code": "E_PLUGIN", "message": f"{name} failed: "
                                f"{type(exc).__name__}: {exc}"}, version=manifest.version)
        return decode_reply(text, json.loads(json.dumps(data_version, sort_keys=True,
                                                        default=str)), manifest.version)

    def close(self) -> None:
        """Stop the worker processes and release the plugin instances; a later call
        starts them again."""
        with self._lock:
            pools, self._pools = self._pools, {}
            instances, self._instances = self._instances, {}
            threads, self._threads = self._threads, None
        for pool in pools.values():
            pool.close()
        for inst in instances.values():
            with contextlib.suppress(Exception):
                inst.close()
        if threads is not None:
            threads.shutdown(wait=False, cancel_futures=True)
