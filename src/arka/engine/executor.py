"""Executors: where evaluations run. ARKA Core hands an executor groups of inputs that
share one rule selection; the in-process executor runs them here (caching the prepared
rule set by content), the remote one (`arka.rpc.rtvm`) on an RTVM service. Both return
the same results, byte for byte."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from arka.base.errors import InputError
from arka.base.lru import LRUCache
from arka.compiler import CompiledRule
from arka.engine.result import EvaluationResult
from arka.engine.ruleset import RuleSet
from arka.plugins.host import Host
from arka.rtvm.vm import Limits
from arka.rules.tables import TableSet


@dataclass
class Item:
    """One input under the group's rules. `values` is the input in language values
    (`values.from_json`) and `context` normalized (`normalize_context`); `recorded` the
    plugin calls of the evaluation being replayed (answered from them, never made)."""

    values: Any
    context: dict[str, Any]
    trace: str = "none"
    executor: str = "vm"
    recorded: list[dict[str, Any]] | None = None


@dataclass
class Group:
    rules: Sequence[CompiledRule]
    tables: TableSet
    strategy: str
    order: dict[str, tuple[str, ...]]
    items: list[Item]
    # tenant data applied to plugin answers, by plugin (`RuleSet.evaluate_values`)
    plugin_data: dict[str, Any] | None = None


class Executor(Protocol):
    def evaluate(self, group: Group) -> list[EvaluationResult | InputError]:
        """Each item's result, or the InputError that rejected it."""
        ...

    def ping(self) -> bool: ...


class RuleSetCache:
    """Prepared rule sets by content: rule bytecode hashes, table content hashes,
    strategy and order constraints."""

    def __init__(self, limits: Limits | None = None, capacity: int = 256,
                 plugins: Host | None = None):
        self.limits = limits
        self.plugins = plugins
        self._cache: LRUCache[RuleSet] = LRUCache(capacity)

    def get(self, rules: Sequence[CompiledRule], tables: TableSet, strategy: str,
            order: dict[str, tuple[str, ...]]) -> RuleSet:
        key = (strategy, tuple(sorted(t.content_hash for t in tables.tables.values())),
               tuple(sorted(order.items())), tuple(sorted(r.bytecode_hash for r in rules)))
        return self._cache.get_or_build(key, lambda: RuleSet(
            rules, tables, strategy=strategy, limits=self.limits, order_after=order,
            plugins=self.plugins))


class InProcessExecutor:
    """Runs groups in this process; plugin calls go to `plugins` (a LocalHost, or a
    remote plugin host client)."""

    def __init__(self, limits: Limits | None = None, plugins: Host | None = None):
        self.plugins = plugins
        self.rulesets = RuleSetCache(limits, plugins=plugins)

    def evaluate(self, group: Group) -> list[EvaluationResult | InputError]:
        rs = self.rulesets.get(group.rules, group.tables, group.strategy, group.order)
        out: list[EvaluationResult | InputError] = []
        for item in group.items:
            try:
                out.append(rs.evaluate_values(item.values, item.context, trace=item.trace,
                                              executor=item.executor,
                                              recorded_calls=item.recorded,
                                              plugin_data=group.plugin_data))
            except InputError as exc:
                out.append(exc)
        return out

    def ping(self) -> bool:
        return True
