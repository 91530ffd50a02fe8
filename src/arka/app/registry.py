"""The rule registry: rules, reference tables, named schemas and rulesets of each tenant,
every version immutable, compiled once and cached by bytecode hash; and which of them
apply to an evaluation (version selection by date, jurisdiction, ruleset ranges).

Rules compile with the tenant's approved schemas (every version, so `type: Name@1.0.0`
pins resolve); the versions a rule was typed with are part of its bytecode, so a replay
uses them whatever was deployed since."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from arka.app import dependencies as D
from arka.app.audit import audit_event
from arka.base.calendar import in_force, jurisdiction_covers
from arka.base.errors import CompileError, Conflict, Diagnostic, InputError, NotFound
from arka.base.graph import Cycle, cycle_through, dependency_order
from arka.base.semver import max_satisfying, version_key
from arka.compiler import CompiledRule, compile_rule, load_bytecode
from arka.observability import metrics as M
from arka.plugins import Catalog
from arka.rtvm.disasm import disassemble
from arka.rules.rulesets import parse_ruleset, pins_allow, ruleset_error, schema_versions
from arka.rules.schemas import Schema, SchemaSet, parse_schema
from arka.rules.tables import TableSet, parse_table
from arka.security.principal import SYSTEM_ACTOR, Actor
from arka.storage.ports import RegistryStore
from arka.storage.records import RuleRow
from arka.storage.sql.database import SYSTEM

REFRESH_SECONDS = 1.0  # how stale another process's deploys may be seen
REVIEW_KEYS = ("status", "deployed_by", "reviewed_by", "reviewed_at", "review_note")


@dataclass(frozen=True)
class Selection:
    """The rules that decide an evaluation, and how they combine."""

    rules: list[CompiledRule]
    strategy: str
    ruleset: dict[str, Any] | None  # {name, version} when chosen by context.ruleset
    order: dict[str, tuple[str, ...]]


def content_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


class _TenantCache:
    """Per tenant: what was read from the store, re-read when its generation changed
    (asked at most every REFRESH_SECONDS); a change in this process is seen at once."""

    def __init__(self, generation: Any, load: Any, empty: Any):
        self._generation, self._load, self._empty = generation, load, empty
        self._data: dict[str, tuple[Any, Any]] = {}
        self._checked: dict[str, float] = {}
        self._lock = threading.Lock()

    def get(self, tenant: str) -> Any:
        now = time.monotonic()
        generation, data = self._data.get(tenant, (None, self._empty))
        if now - self._checked.get(tenant, -1e9) > REFRESH_SECONDS:
            current = self._generation(tenant)  # an outage raises: nothing is marked
            if current != generation:
                data = self._load(tenant)
                with self._lock:
                    self._data[tenant] = (current, data)
            self._checked[tenant] = now  # checked only once it was read
        return data

    def invalidate(self, tenant: str) -> None:
        self._checked.pop(tenant, None)


class Registry:
    def __init__(self, store: RegistryStore, require_approval: bool = False,
                 strict_rules: bool = False, plugins: Callable[[], Catalog] | None = None):
        self.store = store
        self.plugins = plugins  # the plugin manifests rules compile against (None: installed)
        self.require_approval = require_approval
        self.strict_rules = strict_rules  # warnings (W_ codes) refuse a rule too
        self._compiled: dict[str, CompiledRule] = {}
        self._rules = _TenantCache(lambda t: store.generation(t, "rule"), store.all_rules, [])
        self._tables = _TenantCache(lambda t: store.generation(t, "table"),
                                    self._load_tables, TableSet())
        self._schemas = _TenantCache(lambda t: store.generation(t, "schema"),
                                     self._load_schemas, SchemaSet())
        self.loaded = False

    @property
    def new_status(self) -> str:
        return "pending" if self.require_approval else "active"

    def changed(self, tenant: str) -> None:
        """A version of the tenant was added or reviewed here: read again next time."""
        self._rules.invalidate(tenant)
        self._tables.invalidate(tenant)
        self._schemas.invalidate(tenant)

    def warm(self) -> int:
        """Load and validate every stored rule's bytecode; the startup probe waits for it."""
        rows = self.store.all_rules(SYSTEM)
        for row in rows:
            self.program(row)
        self.loaded = True
        M.RULES_LOADED.set(len(self._compiled))
        return len(rows)

    def program(self, row: RuleRow) -> CompiledRule:
        rule = self._compiled.get(row.bytecode_hash)
        if rule is None:
            rule = load_bytecode(row.bytecode)
            if rule.bytecode_hash != row.bytecode_hash:
                raise RuntimeError(f"stored bytecode of {row.name}@{row.version} does not match "
                                   "its hash")
            self._compiled[row.bytecode_hash] = rule
        return rule

    # ------------------------------------------------------------ rules
    def validate_rule(self, text: str, file: str = "request", *, tenant: str | None = None
                      ) -> CompiledRule:
        """Compile a rule with the tenant's approved schemas (none without a tenant); with
        `strict_rules`, a warning refuses it like an error."""
        schemas = self.current_schemas(tenant) if tenant is not None else None
        compiled = compile_rule(text, file, schemas=schemas, strict=self.strict_rules,
                                plugins=self.plugins() if self.plugins is not None else None)
        D.check_rule_codes(compiled.metadata, text)
        return compiled

    def _versions(self, tenant: str) -> list[D.Version]:
        """Every stored rule version of the tenant as the dependency checks see it."""
        return [D.version_of(r.name, r.version, r.review.get("status", "active"),
                             self.program(r).metadata)
                for r in self.store.all_rules(tenant)]

    def _live_rulesets(self, tenant: str) -> list[dict[str, Any]]:
        return [v["spec"] for n in self.store.ruleset_names(tenant)
                for v in self.store.ruleset_versions(tenant, n) if v["status"] != "rejected"]

    def deploy_rule(self, tenant: str, text: str, source_format: str,
                    actor: Actor = SYSTEM_ACTOR) -> tuple[dict[str, Any], bool]:
        compiled = self.validate_rule(text, tenant=tenant)
        meta = compiled.metadata
        for dep in meta.get("depends_on", ()):
            if not self.store.rule_versions(tenant, dep):
                raise CompileError([Diagnostic("E_DEPENDENCY", D.key_span(text, "depends_on"),
                                               f"depends_on names {dep!r}, which is not "
                                               "deployed; deploy it first")], text)
        if self.store.get_rule(tenant, compiled.name, compiled.version, missing_ok=True) is None:
            D.check_rule_cycles(self._versions(tenant), D.version_of(
                compiled.name, compiled.version, "active", meta), text,
                self._live_rulesets(tenant))
        row, created = self.store.put_rule(
            tenant, name=compiled.name, version=compiled.version, source=text,
            source_format=source_format, source_hash=content_hash(text),
            bytecode=compiled.bytecode, bytecode_hash=compiled.bytecode_hash,
            jurisdiction=meta.get("jurisdiction") or "ALL", domain=meta.get("domain"),
            effective_date=meta.get("effective_date"), expiry_date=meta.get("expiry_date"),
            audit=audit_event(tenant, "rule.deploy", f"rule:{compiled.name}@"
                              f"{compiled.version}", actor=actor,
                              details={"bytecode_hash": compiled.bytecode_hash,
                                       "source_hash": content_hash(text),
                                       "schemas": schemas_of(compiled),
                                       "status": self.new_status}),
            status=self.new_status, deployed_by=actor.subject)
        if compiled.bytecode_hash == row.bytecode_hash:  # not when stored with other schemas
            self._compiled.setdefault(row.bytecode_hash, compiled)
        M.RULES_LOADED.set(len(self._compiled))
        self.changed(tenant)
        return dict(self.rule_view(row), warnings=warnings_of(compiled)), created

    def rule_view(self, row: RuleRow, detail: bool = False) -> dict[str, Any]:
        out = row.summary()
        if detail:
            out["source"] = row.source
            out["source_format"] = row.source_format
            out["disassembly"] = disassemble(self.program(row).program)
        return out

    def _sorted_versions(self, tenant: str, name: str) -> list[RuleRow]:
        return sorted(self.store.rule_versions(tenant, name),
                      key=lambda r: version_key(r.version))

    def list_rules(self, tenant: str, page: int, per_page: int) -> dict[str, Any]:
        names, total = self.store.rule_names(tenant, page, per_page)
        items = []
        for name in names:
            versions = self._sorted_versions(tenant, name)
            item = versions[-1].summary()
            item["versions"] = [v.version for v in versions]
            items.append(item)
        return {"items": items, "page": page, "per_page": per_page, "total": total}

    def rule(self, tenant: str, name: str) -> dict[str, Any]:
        versions = self._sorted_versions(tenant, name)
        if not versions:
            raise NotFound(f"rule {name} not found")
        out = self.rule_view(versions[-1])
        out["versions"] = [v.version for v in versions]
        return out

    def rule_versions(self, tenant: str, name: str) -> dict[str, Any]:
        versions = self._sorted_versions(tenant, name)
        if not versions:
            raise NotFound(f"rule {name} not found")
        items = [v.summary() for v in versions]
        return {"items": items, "page": 1, "per_page": len(items), "total": len(items)}

    def rule_version(self, tenant: str, name: str, version: str) -> dict[str, Any]:
        row = self.store.get_rule(tenant, name, version)
        assert row is not None
        return self.rule_view(row, detail=True)

    # ------------------------------------------------------------ reference tables
    def deploy_table(self, tenant: str, text: str, actor: Actor = SYSTEM_ACTOR
                     ) -> tuple[dict[str, Any], bool]:
        table, diags = parse_table(text, "request")
        if table is None:
            raise CompileError(diags, text)
        D.check_table_codes(table.kind, table.rows, text)
        stored, created = self.store.put_table(
            tenant, name=table.name, version=table.version, kind=table.kind, source=text,
            source_hash=content_hash(text), content_hash=table.content_hash,
            audit=audit_event(tenant, "table.deploy", f"table:{table.name}@{table.version}",
                              actor=actor, details={"content_hash": table.content_hash,
                                                    "status": self.new_status}),
            status=self.new_status, deployed_by=actor.subject)
        self.changed(tenant)
        return table_view(stored), created

    def table(self, tenant: str, name: str, version: str | None = None) -> dict[str, Any]:
        """A table's `version` (default: the latest deployed) with its source and the list
        of its versions."""
        versions = [t for t in self.store.all_tables(tenant) if t["name"] == name]
        if not versions:
            raise NotFound(f"table {name} not found")
        known = [t["version"] for t in versions]
        chosen = versions[-1] if version is None else next(
            (t for t in versions if t["version"] == version), None)
        if chosen is None:
            raise NotFound(f"table {name} has no version {version} (it has "
                           f"{', '.join(known)})")
        out = table_view(chosen)
        out["versions"] = known
        out["source"] = chosen["source"]
        return out

    def list_tables(self, tenant: str) -> dict[str, Any]:
        latest: dict[str, dict[str, Any]] = {}
        for t in self.store.all_tables(tenant):
            latest[t["name"]] = t
        items = [table_view(t) for t in latest.values()]
        return {"items": items, "page": 1, "per_page": max(len(items), 1), "total": len(items)}

    def current_tables(self, tenant: str) -> TableSet:
        """The latest approved version of every table of the tenant."""
        tables: TableSet = self._tables.get(tenant)
        return tables

    def _load_tables(self, tenant: str) -> TableSet:
        latest: dict[str, dict[str, Any]] = {}
        for row in self.store.all_tables(tenant):
            if row["status"] == "active":
                latest[row["name"]] = row
        return table_set(latest.values())

    def recorded_tables(self, tenant: str, refs: list[dict[str, str]]) -> TableSet:
        """The table versions an evaluation recorded it used, checked against their hashes."""
        used = []
        for ref in refs:
            row = self.store.get_table(tenant, ref["table"], ref["version"])
            assert row is not None
            if row["content_hash"] != ref["content_hash"]:
                raise Conflict(f"table {ref['table']}@{ref['version']} no longer has the "
                               "content the evaluation used")
            used.append(row)
        return table_set(used)

    def recorded_rules(self, tenant: str, refs: list[dict[str, str]]) -> list[CompiledRule]:
        """The rule versions an evaluation recorded it ran, checked against their hashes."""
        rules = []
        for ref in refs:
            row = self.store.get_rule(tenant, ref["rule_id"], ref["version"])
            assert row is not None
            if row.bytecode_hash != ref["bytecode_hash"]:
                raise Conflict(f"rule {ref['rule_id']}@{ref['version']} no longer has the "
                               "bytecode the evaluation used")
            rules.append(self.program(row))
        return rules

    # ------------------------------------------------------------ named schemas
    def deploy_schema(self, tenant: str, text: str, actor: Actor = SYSTEM_ACTOR
                      ) -> tuple[dict[str, Any], bool]:
        """Store a schema version: its other schema names must resolve (to approved
        versions, or itself) without a cycle. Same content again: (view, False); other
        content under a stored version: Conflict."""
        schema, diags = parse_schema(text, "request")
        if schema is None:
            raise CompileError(diags, text)
        known = SchemaSet.of([s for s in self._schema_list(tenant)
                              if (s.name, s.version) != (schema.name, schema.version)])
        known.add(schema)
        problems = known.problems(schema)
        if problems:
            raise CompileError(problems, text)
        stored, created = self.store.put_schema(
            tenant, name=schema.name, version=schema.version, source=text,
            source_hash=content_hash(text), content_hash=schema.content_hash,
            audit=audit_event(tenant, "schema.deploy", f"schema:{schema.name}@"
                              f"{schema.version}", actor=actor,
                              details={"content_hash": schema.content_hash,
                                       "source_hash": content_hash(text),
                                       "status": self.new_status}),
            status=self.new_status, deployed_by=actor.subject)
        self.changed(tenant)
        return schema_view(stored), created

    def _schema_versions(self, tenant: str, name: str) -> list[dict[str, Any]]:
        versions = [s for s in self.store.all_schemas(tenant) if s["name"] == name]
        if not versions:
            raise NotFound(f"schema {name} not found")
        return sorted(versions, key=lambda s: version_key(s["version"]))

    def list_schemas(self, tenant: str, page: int = 1, per_page: int = 100) -> dict[str, Any]:
        """The latest version of each schema (with every version's number), by name."""
        by_name: dict[str, list[dict[str, Any]]] = {}
        for s in self.store.all_schemas(tenant):
            by_name.setdefault(s["name"], []).append(s)
        items = []
        for name in sorted(by_name)[(page - 1) * per_page:page * per_page]:
            versions = sorted(by_name[name], key=lambda s: version_key(s["version"]))
            items.append(dict(schema_view(versions[-1]),
                              versions=[v["version"] for v in versions]))
        return {"items": items, "page": page, "per_page": per_page, "total": len(by_name)}

    def schema(self, tenant: str, name: str) -> dict[str, Any]:
        """The latest version with its source, and every version's number."""
        versions = self._schema_versions(tenant, name)
        return dict(schema_view(versions[-1]), versions=[v["version"] for v in versions],
                    source=versions[-1]["source"])

    def schema_version(self, tenant: str, name: str, version: str) -> dict[str, Any]:
        stored = self.store.get_schema(tenant, name, version)
        assert stored is not None
        return dict(schema_view(stored), source=stored["source"])

    def current_schemas(self, tenant: str) -> SchemaSet:
        """Every approved version of every schema of the tenant (`Name` is the latest)."""
        schemas: SchemaSet = self._schemas.get(tenant)
        return schemas

    def _schema_list(self, tenant: str) -> list[Schema]:
        return [s for versions in self.current_schemas(tenant).versions.values()
                for s in versions]

    def _load_schemas(self, tenant: str) -> SchemaSet:
        out = []
        for row in self.store.all_schemas(tenant):
            if row["status"] != "active":
                continue
            schema, diags = parse_schema(row["source"], f"schema {row['name']}@"
                                         f"{row['version']}")
            if schema is None:
                raise RuntimeError(f"stored schema {row['name']}@{row['version']} does not "
                                   f"parse: {diags[0].message if diags else ''}")
            out.append(schema)
        return SchemaSet.of(out)

    # ------------------------------------------------------------ rulesets
    def _schema_use(self, row: RuleRow) -> dict[str, str]:
        """The schema versions a stored rule version was typed with."""
        return schema_versions(self.program(row).program.metadata.get("inputs", []))

    def deploy_ruleset(self, tenant: str, text: str, actor: Actor = SYSTEM_ACTOR
                       ) -> tuple[dict[str, Any], bool]:
        spec = parse_ruleset(text)
        D.check_ruleset_codes(spec, text)
        pins = spec.get("schemas", [])
        for pin in pins:
            known = [s.version for s in self.current_schemas(tenant).versions.get(pin["ref"], [])]
            if max_satisfying(known, pin["version"]) is None:
                raise ruleset_error(f"no deployed version of schema {pin['ref']!r} satisfies "
                                    f"{pin['version']!r} (deployed: {', '.join(known) or 'none'})",
                                    text)
        for entry in spec["rules"]:
            rows = self.store.rule_versions(tenant, entry["ref"])
            versions = [r.version for r in rows]
            if not versions:
                if entry["required"]:
                    raise ruleset_error(f"required rule {entry['ref']!r} is not deployed", text)
                continue
            if max_satisfying(versions, entry["version"]) is None:
                raise ruleset_error(f"no deployed version of {entry['ref']!r} satisfies "
                                    f"{entry['version']!r} (deployed: {', '.join(versions)})",
                                    text)
            fitting = [r.version for r in rows if pins_allow(pins, self._schema_use(r)) is None]
            if pins and max_satisfying(fitting, entry["version"]) is None:
                why = "; ".join(f"{r.version}: {pins_allow(pins, self._schema_use(r))}"
                                for r in rows)
                raise ruleset_error(f"no deployed version of {entry['ref']!r} in "
                                    f"{entry['version']!r} was typed with the pinned schema "
                                    f"versions ({why})", text)
        D.check_ruleset_cycles(spec, self._versions(tenant), text)
        meta = spec["metadata"]
        stored, created = self.store.put_ruleset(
            tenant, name=meta["name"], version=meta["version"], source=text,
            source_hash=content_hash(text), spec=spec,
            audit=audit_event(tenant, "ruleset.deploy",
                              f"ruleset:{meta['name']}@{meta['version']}", actor=actor,
                              details={"source_hash": content_hash(text),
                                       "status": self.new_status}),
            status=self.new_status, deployed_by=actor.subject)
        return ruleset_view(stored), created

    def ruleset(self, tenant: str, name: str) -> dict[str, Any]:
        versions = self.store.ruleset_versions(tenant, name)
        if not versions:
            raise NotFound(f"ruleset {name} not found")
        latest = max(versions, key=lambda r: version_key(r["version"]))
        out = ruleset_view(latest)
        out["versions"] = [v["version"] for v in versions]
        return out

    def list_rulesets(self, tenant: str) -> dict[str, Any]:
        items = [self.ruleset(tenant, n) for n in self.store.ruleset_names(tenant)]
        return {"items": items, "page": 1, "per_page": max(len(items), 1), "total": len(items)}

    def versioned_view(self, tenant: str, kind: str, name: str, version: str
                       ) -> dict[str, Any]:
        if kind == "rule":
            row = self.store.get_rule(tenant, name, version)
            assert row is not None
            return self.rule_view(row)
        if kind == "table":
            stored = self.store.get_table(tenant, name, version)
            assert stored is not None
            return table_view(stored)
        if kind == "schema":
            found = self.store.get_schema(tenant, name, version)
            assert found is not None
            return schema_view(found)
        ruleset = self.store.get_ruleset(tenant, name, version)
        assert ruleset is not None
        return ruleset_view(ruleset)

    # ------------------------------------------------------------ selection
    def select(self, tenant: str, ctx: dict[str, Any]) -> Selection:
        """The rules for a context: the named ruleset's, or every rule's newest approved
        version in force on the context's date (plus what they depend on).

        Before refusing a context that nothing decides (E_NO_RULES), the store is asked
        again: another process's deploy of the last REFRESH_SECONDS is not a reason to
        refuse."""
        try:
            return self._select(tenant, ctx)
        except InputError as exc:
            if exc.code != "E_NO_RULES":
                raise
        for cache in self._caches():
            cache.invalidate(tenant)
        return self._select(tenant, ctx)

    def _caches(self) -> list[_TenantCache]:
        return [v for v in vars(self).values() if isinstance(v, _TenantCache)]

    def _select(self, tenant: str, ctx: dict[str, Any]) -> Selection:
        ref = ctx.get("ruleset")
        if ref:
            return _checked(self._select_ruleset(tenant, str(ref)), ctx)
        on: date = ctx["timestamp"].date()
        by_name: dict[str, list[RuleRow]] = {}
        rows: list[RuleRow] = self._rules.get(tenant)
        for row in rows:
            if row.active:  # pending or rejected versions never decide
                by_name.setdefault(row.name, []).append(row)
        chosen = []
        for versions in by_name.values():
            current = [r for r in versions if in_force(r.effective_date, r.expiry_date, on)]
            if current:
                chosen.append(max(current, key=lambda r: version_key(r.version)))
        # a dependency not in force still has to be present for rule_result()
        names = {r.name for r in chosen}
        for r in list(chosen):
            for dep in self.program(r).metadata.get("depends_on", ()):
                if dep not in names and dep in by_name:
                    chosen.append(max(by_name[dep], key=lambda x: version_key(x.version)))
                    names.add(dep)
        return _checked(Selection([self.program(r) for r in chosen], "most_severe", None, {}),
                        ctx)

    def _select_ruleset(self, tenant: str, ref: str) -> Selection:
        name, _, rng = ref.partition("@")
        versions = [v["version"] for v in self.store.ruleset_versions(tenant, name)
                    if v["status"] == "active"]
        if not versions:
            raise InputError(f"context.ruleset: no ruleset named {name!r} (or none approved)")
        chosen = max_satisfying(versions, rng or "*")
        if chosen is None:
            raise InputError(f"context.ruleset: no version of {name!r} satisfies {rng!r}")
        spec = self.store.get_ruleset(tenant, name, chosen)
        assert spec is not None
        rules = []
        pins = spec["spec"].get("schemas", [])
        for entry in spec["spec"]["rules"]:
            # A ruleset's schema pins narrow the versions it may pick to those typed with them.
            rows = [r for r in self.store.rule_versions(tenant, entry["ref"]) if r.active and
                    pins_allow(pins, self._schema_use(r)) is None]
            version = max_satisfying([r.version for r in rows], entry["version"])
            if version is None:
                if entry["required"]:
                    pinned = " and the ruleset's schema pins" if pins else ""
                    raise InputError(f"ruleset {name}@{chosen}: required rule {entry['ref']} "
                                     f"has no version satisfying {entry['version']}{pinned}")
                continue
            rules.append(self.program(next(r for r in rows if r.version == version)))
        strategy = spec["spec"].get("aggregate_decision", {}).get("strategy", "most_severe")
        present = {r.name for r in rules}
        order = {e["ref"]: tuple(d for d in e["depends_on"] if d in present)
                 for e in spec["spec"]["rules"] if e["ref"] in present}
        return Selection(rules, strategy, {"name": name, "version": chosen}, order)


def _applies(rule: CompiledRule, ctx: dict[str, Any]) -> bool:
    """Whether the rule is in force for the context (jurisdiction, domain, date)."""
    meta = rule.metadata
    domain = (meta.get("domain") or "").upper()
    return jurisdiction_covers(meta.get("jurisdiction") or "ALL", ctx.get("jurisdiction")) \
        and (not domain or not ctx.get("domain") or domain == ctx["domain"].upper()) \
        and in_force(meta.get("effective_date"), meta.get("expiry_date"),
                     ctx["timestamp"].date())


def _checked(selection: Selection, ctx: dict[str, Any]) -> Selection:
    """The selection, unless it decides nothing or its rules depend on each other.

    No rule in force for the context: refused (E_NO_RULES), never `compliant` by default.
    A dependency cycle (stored before deploys were checked for it): the rules on it and
    those depending on them are dropped when none of them applies to this context (they
    would be skipped); when one does, this evaluation is refused (E_DEPENDENCY_CYCLE),
    so only the contexts those rules decide fail, not the whole tenant.
    """
    if not any(_applies(r, ctx) for r in selection.rules):
        where = ", ".join(f"{k} {ctx[k]}" for k in ("jurisdiction", "domain") if ctx.get(k))
        message = (f"no rule in force for {where or 'this context'} on "
                   f"{ctx['timestamp'].date().isoformat()}"
                   f"{' in ruleset ' + selection.ruleset['name'] if selection.ruleset else ''}: "
                   "check context.jurisdiction, context.domain and context.timestamp, or "
                   "deploy (and approve) a rule for them")
        raise InputError(message, code="E_NO_RULES", details=[
            {"path": "context", "code": "E_NO_RULES", "message": message}])
    by_name = {r.name: r for r in selection.rules}

    def deps(name: str) -> set[str]:
        own = set(by_name[name].metadata.get("depends_on", ()))
        return (own | set(selection.order.get(name, ()))) & set(by_name)

    try:
        dependency_order(by_name, deps)
        return selection
    except Cycle:
        pass
    graph = {name: sorted(deps(name)) for name in sorted(by_name)}
    cycles = {n: c for n in graph if (c := cycle_through(graph, n)) is not None}
    broken = {n for n in graph if any(r in cycles for r in _reachable(n, deps))}
    found = cycles[min(cycles)]
    if any(_applies(by_name[n], ctx) for n in broken):
        shown = " -> ".join(f"{n}@{by_name[n].version}" for n in found)
        message = (f"rules in force here depend on each other ({shown}); evaluations "
                   "they decide are refused until a version without the cycle is deployed")
        raise Conflict(message, code="E_DEPENDENCY_CYCLE", details=[
            {"path": "rules", "code": "E_DEPENDENCY_CYCLE", "message": message}])
    keep = [r for r in selection.rules if r.name not in broken]
    return Selection(keep, selection.strategy, selection.ruleset,
                     {k: v for k, v in selection.order.items() if k not in broken})


def _reachable(start: str, deps: Any) -> list[str]:
    seen, todo = {start}, [start]
    while todo:
        for d in deps(todo.pop()):
            if d not in seen:
                seen.add(d)
                todo.append(d)
    return sorted(seen)


def table_view(stored: dict[str, Any]) -> dict[str, Any]:
    return {k: stored[k] for k in ("name", "version", "kind", "content_hash", *REVIEW_KEYS)}


def warnings_of(compiled: CompiledRule) -> list[dict[str, Any]]:
    """A compiled rule's warnings as the API shows them (code, severity, line, ...)."""
    return [d.to_dict() for d in compiled.warnings]


def schemas_of(compiled: CompiledRule) -> list[str]:
    """`Name@version` of every schema the rule's bytecode pins, by input."""
    return [f"{ref['name']}@{ref['version']}" for inp in compiled.program.metadata.get(
        "inputs", ()) for ref in inp.get("schemas", ())]


def schema_view(stored: dict[str, Any]) -> dict[str, Any]:
    return {k: stored[k] for k in ("name", "version", "content_hash", "source_hash",
                                   "created_at", *REVIEW_KEYS)}


def table_set(rows: Any) -> TableSet:
    out = TableSet()
    for row in rows:
        table, diags = parse_table(row["source"], f"table {row['name']}@{row['version']}")
        if table is None:
            raise RuntimeError(f"stored table {row['name']}@{row['version']} does not parse: "
                               f"{diags[0].message if diags else ''}")
        out.tables[table.name] = table
        out.sources[table.name] = row["source"]
    return out


def ruleset_view(stored: dict[str, Any]) -> dict[str, Any]:
    return {"name": stored["name"], "version": stored["version"], **{
        k: stored["spec"][k] for k in ("metadata", "rules", "evaluation_order",
                                       "aggregate_decision")},
        **{k: stored[k] for k in REVIEW_KEYS}}
