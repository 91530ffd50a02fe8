"""The plugin calls of one evaluation: made once, checked against the manifest the rule
was compiled with, and recorded so that a replay never calls a plugin.

Each call is recorded in the `plugin_calls` of the rule that made it (`rule_results`),
as `{plugin, function, version, args, result}` or `{..., error: {code, message}}`, with
the plugin's `data_version` when it reports one (the lists a screening consulted). The
basic trace has the call where it happened: `{"event": "plugin_call", "call": i,
"plugin", "function", "args", "result"}` (`call` is the index in that list). Tenant data
the engine is handed applies to some answers before the rule sees them
(`RESULT_FILTERS`: the sanctions allowlist). The same call (plugin, function and
arguments) twice in one evaluation is made once: the second use, in any rule, reuses the
first answer. A call that fails or times out is an error of the rule (the evaluation
fails closed, `needs_review`).

A replay hands the recorded calls back (`recorded`): every call is answered from them,
and a call that was not recorded is an error, never a live call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

import simplejson

from arka import observability as OBS
from arka.base import values as V
from arka.base.errors import EvalError, InputError
from arka.base.lru import LRUCache
from arka.engine.inputs import Converter, compile_schema, convert_input
from arka.observability import metrics as M
from arka.plugins.host import Call, Host, Reply
from arka.screening import allowlist

# Tenant data applied to a plugin's answer before the rule sees it, by (plugin,
# function): (result JSON, call arguments, the plugin's `plugin_data`) -> result JSON.
# The sanctions allowlist: matches of pairs an analyst decided are not the same person.
ResultFilter = Callable[[Any, Mapping[str, Any], Any], Any]
RESULT_FILTERS: dict[tuple[str, str], ResultFilter] = {
    ("sanctions", "screen"): lambda result, args, data: allowlist.apply(
        result, args.get("subject_id"),
        allowlist.entries_for((data or {}).get("allowlist"), args.get("subject_id"))),
}

_CONVERTERS: LRUCache[Converter] = LRUCache(1024)


def _plugin_json(v: Any) -> Any:
    if isinstance(v, datetime):
        return V.datetime_text(v)
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, timedelta):
        return V.duration_text(v)
    raise TypeError(f"cannot pass {V.a_type_name(v)} to a plugin")


def args_text(args: Mapping[str, Any]) -> str:
    """Arguments as canonical JSON text: sorted keys, exact decimals, ISO 8601 times."""
    return str(simplejson.dumps(args, use_decimal=True, sort_keys=True, ensure_ascii=False,
                                separators=(",", ":"), default=_plugin_json))


def call_key(plugin: str, function: str, args: Mapping[str, Any]) -> tuple[str, str, str]:
    """What makes two calls the same call: plugin, function and the argument values as
    the record writes them (so 1.5 and 1.50 are the same argument)."""
    return (plugin, function, V.dumps(V.to_json(dict(args)), indent=None))


def record_key(record: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """The key of a recorded call (None for a malformed record)."""
    try:
        args = V.from_json(record.get("args", {}))
        if not isinstance(args, dict):
            return None
        return call_key(str(record["plugin"]), str(record["function"]), args)
    except (KeyError, TypeError, InputError, EvalError):
        return None


def recorded_calls(rule_results: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every call recorded in a stored evaluation's rule results, for its replay."""
    out: list[dict[str, Any]] = []
    for entry in rule_results:
        calls = entry.get("plugin_calls") if isinstance(entry, Mapping) else None
        if isinstance(calls, list):
            out += [c for c in calls if isinstance(c, dict)]
    return out


class PluginSession:
    """What `plugin.<name>.<function>(...)` does during one evaluation."""

    def __init__(self, host: Host | None, recorded: Iterable[Mapping[str, Any]] | None = None,
                 plugin_data: Mapping[str, Any] | None = None):
        self.host = host
        self.plugin_data = plugin_data or {}
        self.replaying = recorded is not None
        self._recorded: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        for r in recorded or ():
            key = record_key(r)
            if key is not None:
                self._recorded.setdefault(key, r)
        self._answers: dict[tuple[str, str, str], tuple[dict[str, Any], Any]] = {}
        self._rule: dict[tuple[str, str, str], int] = {}
        self.rule_calls: list[dict[str, Any]] = []

    def begin_rule(self) -> None:
        self._rule = {}
        self.rule_calls = []

    def call(self, spec: Mapping[str, Any], args: dict[str, Any]) -> tuple[Any, int]:
        """The value a call gives the rule, and its index in the rule's `plugin_calls`."""
        plugin, function = spec["plugin"], spec["function"]
        key = call_key(plugin, function, args)
        answer = self._answers.get(key)
        if answer is None:
            record = self._make(spec, args, key)
            value = None
            if "error" not in record:
                value = self._convert(spec, record)
                if isinstance(value, EvalError):
                    record = {k: v for k, v in record.items() if k != "result"}
                    record["error"] = {"code": value.code, "message": value.message}
            answer = (record, value)
            self._answers[key] = answer
        record, value = answer
        index = self._rule.get(key)
        if index is None:
            index = self._rule[key] = len(self.rule_calls)
            self.rule_calls.append(record)
        if "error" in record:
            raise EvalError(f"plugin.{plugin}.{function}: {record['error']['message']}",
                            code=str(record["error"]["code"]))
        return value, index

    def _make(self, spec: Mapping[str, Any], args: dict[str, Any],
              key: tuple[str, str, str]) -> dict[str, Any]:
        plugin, function = spec["plugin"], spec["function"]
        base: dict[str, Any] = {"plugin": plugin, "function": function,
                                "args": V.to_json(args)}
        if self.replaying:
            rec = self._recorded.get(key)
            if rec is None:
                return {**base, "version": "", "error": {
                    "code": "E_PLUGIN_REPLAY", "message": "no recorded answer for this call: "
                    "a replay (or a rule test that lists plugin_calls) answers only from the "
                    "recorded calls and never calls a plugin"}}
            out = {**base, "version": rec.get("version", "")}
            for k in ("data_version", "result", "error"):
                if k in rec:
                    out[k] = rec[k]
            return out
        if self.host is None:
            reply = Reply(error={"code": "E_PLUGIN_UNAVAILABLE", "message": "no plugin host "
                                 "is configured for this engine"})
        else:
            started = time.perf_counter()
            with OBS.span(f"plugin {plugin}.{function}", {"arka.plugin": plugin,
                                                          "arka.plugin_function": function}):
                try:
                    (reply,) = self.host.call_many([Call(plugin, function,
                                                         args_text(args))])
                except Exception as exc:  # noqa: BLE001 - an unreachable host fails the call
                    reply = Reply(error={"code": "E_PLUGIN_UNAVAILABLE",
                                         "message": f"the plugin host did not answer: {exc}"})
            M.PLUGIN_CALL_DURATION.labels(plugin, function).observe(
                time.perf_counter() - started)
        M.PLUGIN_CALLS.labels(plugin, function,
                              "ok" if reply.error is None else reply.error["code"]).inc()
        out = {**base, "version": reply.version}
        if reply.data_version is not None:
            out["data_version"] = V.to_json(V.from_json(reply.data_version))
        if reply.error is not None:
            out["error"] = {"code": str(reply.error.get("code", "E_PLUGIN")),
                            "message": str(reply.error.get("message", ""))}
            return out
        result = reply.result
        apply = RESULT_FILTERS.get((plugin, function))
        if apply is not None:
            try:
                result = apply(result, args, self.plugin_data.get(plugin))
            except Exception as exc:  # noqa: BLE001 - a result the filter cannot read
                out["error"] = {"code": "E_PLUGIN_RESULT", "message": f"the result cannot "
                                f"be read: {type(exc).__name__}: {exc}"}
                return out
        out["result"] = result
        return out

    def _convert(self, spec: Mapping[str, Any], record: dict[str, Any]) -> Any:
        """The result as the rule sees it (typed as the manifest declared), or the
        EvalError saying how it differs; the record keeps the converted JSON form."""
        returns = spec.get("returns") or {"type": "any"}
        conv = _CONVERTERS.get_or_build(V.dumps(returns, indent=None),
                                        lambda: compile_schema(returns))
        where = f"result of plugin.{spec['plugin']}.{spec['function']}"
        try:
            value = convert_input(where, conv, V.from_json(record["result"], where))
        except InputError as exc:
            return EvalError(f"{exc.message} (the plugin does not return what its manifest "
                             "declares)", code="E_PLUGIN_RESULT")
        record["result"] = V.to_json(value)
        return value

