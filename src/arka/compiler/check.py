"""Static checking of a rule: names, arity, types, cycles, triggers (before anything runs).

Errors are collected, not raised; a broken node is typed `ANY` so it causes no follow-on
errors. Only literal arguments are checked for content (regex patterns, durations, dates).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from decimal import Decimal

from arka.base import values as V
from arka.base.errors import Diagnostic, EvalError, Span
from arka.lang import ast
from arka.lang import builtins as B
from arka.lang import types as T
from arka.lang.types import Type
from arka.plugins.sdk import Catalog
from arka.rules.model import RuleDef

CONTEXT_TYPE = T.object_of({"jurisdiction": T.STRING, "domain": T.STRING,
                            "timestamp": T.DATETIME, "ruleset": T.STRING}, closed=False)
_ORDER = {"<", "<=", ">", ">="}
# The longest run of lets/conditions that use each other (`a: b + 1`, `b: c + 1`, ...).
MAX_DEFINITION_CHAIN = 64
_ORDERED_KINDS = {"decimal", "string", "datetime", "date", "duration"}


def _literal_type(v: object) -> Type:
    if v is None:
        return T.NULL
    if isinstance(v, bool):
        return T.BOOLEAN
    if isinstance(v, Decimal):
        return T.DECIMAL
    return T.STRING


class Checker:
    def __init__(self, rule: RuleDef, plugins: Catalog | None = None):
        self.rule = rule
        self.plugins = plugins or Catalog()
        self.diags: list[Diagnostic] = []
        self.inputs = {i.name: i.static_type for i in rule.inputs}
        self.lets = {let.name: let for let in rule.lets}
        self.conditions = {c.id: c for c in rule.conditions}
        self.let_types: dict[str, Type] = {}
        # Input field paths the rule reads (`transaction.amount`, `history[].amount`), and
        # the untyped ones already reported (a read below one is not reported again).
        self.reads: set[str] = set()
        self._untyped: set[str] = set()

    def error(self, code: str, span: Span, message: str) -> None:
        self.diags.append(Diagnostic(code, span, message))

    def _untyped_read(self, node: ast.Node, path: str, hint: str) -> Type:
        """A read of an input field that no schema declares: typed as any value, reported
        once per path as W_UNTYPED_FIELD (a typo here would otherwise read null)."""
        self.reads.add(path)
        if not any(path == p or path.startswith((p + ".", p + "[")) for p in self._untyped):
            self._untyped.add(path)
            self.diags.append(Diagnostic(
                "W_UNTYPED_FIELD", node.span,
                f"{path} is read untyped: no schema declares it{hint}; give the input a "
                "named schema (type: Name) or an inline schema that declares the field"))
        return Type("any", origin=path)

    # ------------------------------------------------------------ whole rule
    def check(self) -> list[Diagnostic]:
        self._check_duplicates()
        self._check_cycles()
        self._type_lets()
        for cond in self.rule.conditions:
            t = self.expr(cond.expr, {})
            if not T.compatible(t, T.BOOLEAN):
                self.error("E_TYPE", cond.expr.span,
                           f"condition {cond.id!r} must be boolean, but its expression is {t.a}")
        for action in self.rule.actions:
            for name in ast.free_names(action.trigger):
                if name.name not in self.conditions:
                    hint = _did_you_mean(name.name, self.conditions)
                    self.error("E_UNKNOWN_CONDITION", name.span,
                               f"trigger names {name.name!r}, which is not a condition id{hint}")
            t = self.expr(action.trigger, {}, trigger=True)
            if not T.compatible(t, T.BOOLEAN):
                self.error("E_TYPE", action.trigger.span, f"trigger must be boolean, got {t.a}")
            self.expr(action.config, {})
        return self.diags

    def _check_duplicates(self) -> None:
        for let in self.rule.lets:
            if let.name in self.inputs:
                self.error("E_DUPLICATE_NAME", let.span,
                           f"let {let.name!r} has the same name as an input")
        for cond in self.rule.conditions:
            if cond.id in self.lets or cond.id in self.inputs:
                self.error("E_DUPLICATE_NAME", cond.span,
                           f"condition {cond.id!r} has the same name as a let or input")

    def _check_cycles(self) -> None:
        graph: dict[str, list[ast.Name]] = {}
        for let in self.rule.lets:
            graph[let.name] = [n for n in ast.free_names(let.expr)
                               if n.name in self.lets or n.name in self.conditions]
        for cond in self.rule.conditions:
            if cond.id not in graph:
                graph[cond.id] = [n for n in ast.free_names(cond.expr)
                                  if n.name in self.lets or n.name in self.conditions]
        # Depth-first with an explicit stack (a chain of 10,000 lets is no deeper here).
        state: dict[str, int] = {}
        reported: set[frozenset[str]] = set()
        for root in graph:
            if root in state:
                continue
            state[root] = 1
            path = [root]
            stack = [iter(graph[root])]
            while stack:
                ref = next(stack[-1], None)
                if ref is None:
                    stack.pop()
                    state[path.pop()] = 2
                elif state.get(ref.name) == 1:
                    cycle = path[path.index(ref.name):] + [ref.name]
                    key = frozenset(cycle)
                    if key not in reported:
                        reported.add(key)
                        self.error("E_CYCLE", ref.span,
                                   f"cycle between definitions: {' -> '.join(cycle)}")
                elif state.get(ref.name) is None:
                    state[ref.name] = 1
                    path.append(ref.name)
                    stack.append(iter(graph.get(ref.name, [])))
        self._check_chain_length(graph)

    def _check_chain_length(self, graph: dict[str, list[ast.Name]]) -> None:
        """Bound the longest run of definitions that use each other (each link is one
        nested call when the rule runs, and one level of every walk over them)."""
        height: dict[str, int] = {}
        for root in graph:
            if root in height:
                continue
            on_path = {root}
            stack = [(root, iter(graph[root]))]
            while stack:
                name, refs = stack[-1]
                ref = next(refs, None)
                if ref is None:
                    stack.pop()
                    on_path.discard(name)
                    height[name] = 1 + max((height.get(r.name, 0) for r in graph[name]),
                                           default=0)
                elif ref.name in graph and ref.name not in height and ref.name not in on_path:
                    on_path.add(ref.name)
                    stack.append((ref.name, iter(graph[ref.name])))
        spans = {let.name: let.span for let in self.rule.lets}
        for cond in self.rule.conditions:
            spans.setdefault(cond.id, cond.span)
        over = [name for name, h in height.items() if h == MAX_DEFINITION_CHAIN + 1]
        if over:
            name = min(over, key=lambda n: (spans[n].line, spans[n].column))
            self.error("E_NESTING", spans[name],
                       f"{name!r} starts a chain of more than {MAX_DEFINITION_CHAIN} lets and "
                       "conditions that each use the next; at most "
                       f"{MAX_DEFINITION_CHAIN} may use each other in a row")

    def _type_lets(self) -> None:
        """Type each let after the lets it uses, walking with an explicit stack; a let in a
        cycle reads the rest of its cycle as unknown (the cycle is reported)."""
        uses = {let.name: [n.name for n in ast.free_names(let.expr) if n.name in self.lets]
                for let in self.rule.lets}
        for root in uses:
            if root in self.let_types:
                continue
            on_path = {root}
            stack = [(root, iter(uses[root]))]
            while stack:
                name, pending = stack[-1]
                used = next(pending, None)
                if used is None:
                    stack.pop()
                    on_path.discard(name)
                    self.let_types[name] = self.expr(self.lets[name].expr, {})
                elif used not in self.let_types and used not in on_path:
                    on_path.add(used)
                    stack.append((used, iter(uses[used])))

    # ------------------------------------------------------------ expressions
    def expr(self, node: ast.Node, scope: dict[str, Type], trigger: bool = False) -> Type:
        match node:
            case ast.Literal(value=v):
                return _literal_type(v)
            case ast.Name(name=name):
                return self._name(node, name, scope, trigger)
            case ast.Field(obj=obj, name=fname):
                return self._field(node, self.expr(obj, scope, trigger), fname)
            case ast.Index(obj=obj, index=index):
                ot, it = self.expr(obj, scope, trigger), self.expr(index, scope, trigger)
                if ot.kind == "list":
                    self._expect(index, it, T.DECIMAL, "a list index")
                    return ot.elem or T.ANY
                if ot.kind == "any" and ot.origin is not None:
                    return Type("any", origin=f"{ot.origin}[]")
                if ot.kind == "object":
                    self._expect(index, it, T.STRING, "an object key")
                    return T.ANY
                if ot.kind == "string":
                    self._expect(index, it, T.DECIMAL, "a string index")
                    return T.STRING
                if T.is_known(ot):
                    self.error("E_TYPE", node.span, f"cannot index {ot.a}")
                return T.ANY
            case ast.Call():
                return self._call(node, scope, trigger)
            case ast.PluginCall():
                return self._plugin_call(node, scope, trigger)
            case ast.Unary(op=op, operand=operand):
                t = self.expr(operand, scope, trigger)
                if op == "not":
                    self._expect(operand, t, T.BOOLEAN, "NOT")
                    return T.BOOLEAN
                if T.is_known(t) and t.kind not in ("decimal", "duration"):
                    self.error("E_TYPE", node.span, f"cannot negate {t.a}")
                    return T.ANY
                return t
            case ast.Binary():
                return self._binary(node, scope, trigger)
            case ast.Arithmetic(ops=ops, operands=operands, op_spans=spans):
                t = self.expr(operands[0], scope, trigger)
                for op, span, operand in zip(ops, spans, operands[1:], strict=True):
                    t = self._arith(span, op, t, self.expr(operand, scope, trigger))
                return t
            case ast.Logical(operands=operands, op=op):
                for side in operands:
                    self._expect(side, self.expr(side, scope, trigger), T.BOOLEAN, op.upper())
                return T.BOOLEAN
            case ast.If(cond=c, then=then, orelse=orelse):
                self._expect(c, self.expr(c, scope, trigger), T.BOOLEAN, "an if condition")
                return T.join(self.expr(then, scope, trigger), self.expr(orelse, scope, trigger))
            case ast.Case(subject=subject, whens=whens, default=default):
                st = self.expr(subject, scope, trigger) if subject is not None else None
                result = T.NULL
                for value, res in whens:
                    vt = self.expr(value, scope, trigger)
                    if st is None:
                        self._expect(value, vt, T.BOOLEAN, "a when condition")
                    elif T.is_known(st) and T.is_known(vt) and st.kind != vt.kind:
                        self.error("E_TYPE", value.span,
                                   f"case compares {st.a} with {vt.a}; it can never match")
                    result = T.join(result, self.expr(res, scope, trigger))
                if default is not None:
                    result = T.join(result, self.expr(default, scope, trigger))
                return result
            case ast.ListLit(items=items):
                elem = T.NULL
                for item in items:
                    elem = T.join(elem, self.expr(item, scope, trigger))
                return T.list_of(elem if elem.kind != "null" else T.ANY)
            case ast.ObjectLit(items=items):
                return T.object_of({k: self.expr(v, scope, trigger) for k, v in items})
            case ast.Lambda():
                self.error("E_TYPE", node.span, "a lambda can only be an argument of a function "
                           "such as filter, map, any or reduce")
                return T.ANY
            case ast.Interpolation():
                for part in ast.children(node):
                    self.expr(part, scope, trigger)
                return T.STRING
        return T.ANY

    def _name(self, node: ast.Node, name: str, scope: dict[str, Type], trigger: bool) -> Type:
        if name in scope:
            return scope[name]
        if trigger and name not in self.conditions:
            return T.ANY  # reported as E_UNKNOWN_CONDITION
        if name in self.lets:
            return self.let_types.get(name, T.ANY)  # typed in dependency order first
        if name in self.conditions:
            return T.BOOLEAN
        if name in self.inputs:
            return self.inputs[name]
        if name == "context":
            return CONTEXT_TYPE
        known = list(scope) + list(self.lets) + list(self.conditions) + list(self.inputs) + \
            ["context"]
        hint = _did_you_mean(name, known)
        if not hint and name in ("jurisdiction", "domain", "timestamp"):
            hint = f" (use context.{name})"
        self.error("E_UNKNOWN_NAME", node.span, f"unknown name {name!r}{hint}")
        return T.ANY

    def _field(self, node: ast.Node, ot: Type, fname: str) -> Type:
        if ot.kind == "object":
            ft = ot.field_type(fname)
            known = [k for k, _ in ot.fields or ()]
            if ft is None:
                where = f"{ot.origin} has" if ot.origin else "object has"
                self.error("E_UNKNOWN_FIELD", node.span,
                           f"{where} no field {fname!r}{_did_you_mean(fname, known)}")
                return T.ANY
            if ot.origin is not None:
                if fname not in known:
                    return self._untyped_read(node, f"{ot.origin}.{fname}",
                                              _did_you_mean(fname, known))
                self.reads.add(f"{ot.origin}.{fname}")
            return ft
        if ot.kind == "any" and ot.origin is not None:
            return self._untyped_read(node, f"{ot.origin}.{fname}", "")
        if T.is_known(ot):
            self.error("E_TYPE", node.span, f"{ot.a} has no field {fname!r}")
        return T.ANY

    def _expect(self, node: ast.Node, actual: Type, expected: Type, where: str) -> None:
        if not T.compatible(actual, expected):
            self.error("E_TYPE", node.span, f"{where} needs {expected.a}, got {actual.a}")

    def _binary(self, node: ast.Binary, scope: dict[str, Type], trigger: bool) -> Type:
        lt = self.expr(node.left, scope, trigger)
        rt = self.expr(node.right, scope, trigger)
        op = node.op
        known = T.is_known(lt) and T.is_known(rt)
        if op in ("==", "!="):
            if known and lt.kind != rt.kind:
                self.error("E_TYPE", node.span, f"comparing {lt.a} with {rt.a} is always "
                           f"{'false' if op == '==' else 'true'}; convert one side")
            return T.BOOLEAN
        if op in _ORDER:
            for t, side in ((lt, node.left), (rt, node.right)):
                if T.is_known(t) and t.kind not in _ORDERED_KINDS:
                    self.error("E_TYPE", side.span, f"cannot order {t.a} with {op}")
                    return T.BOOLEAN
            if known and lt.kind != rt.kind:
                hint = " (use datetime(s) or date(s))" if {lt.kind, rt.kind} & {"date",
                                                                              "datetime"} else ""
                self.error("E_TYPE", node.span, f"cannot compare {lt.a} {op} {rt.a}{hint}")
            return T.BOOLEAN
        if T.is_known(rt) and rt.kind not in ("list", "string", "object"):
            self.error("E_TYPE", node.right.span, f"`{op}` needs a list, string or object on "
                       f"the right, got {rt.a}")
        elif rt.kind == "string" and T.is_known(lt) and lt.kind != "string":
            self.error("E_TYPE", node.left.span, f"`{op}` a string needs a string, got {lt.a}")
        return T.BOOLEAN

    def _arith(self, span: Span, op: str, lt: Type, rt: Type) -> Type:
        pair = (lt.kind, rt.kind)
        if not (T.is_known(lt) and T.is_known(rt)):
            if "string" in pair and op == "+":
                return T.STRING
            return lt if T.is_known(lt) and lt.kind == "decimal" else \
                rt if T.is_known(rt) and rt.kind == "decimal" and op in ("+", "-", "*") else T.ANY
        table: dict[tuple[str, str], Type] = {("decimal", "decimal"): T.DECIMAL}
        if op == "+":
            table |= {("string", "string"): T.STRING, ("datetime", "duration"): T.DATETIME,
                      ("date", "duration"): T.DATE, ("duration", "datetime"): T.DATETIME,
                      ("duration", "date"): T.DATE, ("duration", "duration"): T.DURATION,
                      ("list", "list"): lt}
        elif op == "-":
            table |= {("datetime", "duration"): T.DATETIME, ("date", "duration"): T.DATE,
                      ("datetime", "datetime"): T.DURATION, ("date", "date"): T.DURATION,
                      ("duration", "duration"): T.DURATION}
        elif op == "*":
            table |= {("duration", "decimal"): T.DURATION}
        result = table.get(pair)
        if result is None:
            hint = " (use to_string() to join text)" if op == "+" and "string" in pair else ""
            self.error("E_TYPE", span, f"cannot apply {op} to {lt.a} and {rt.a}{hint}")
            return T.ANY
        return result

    def _call(self, node: ast.Call, scope: dict[str, Type], trigger: bool) -> Type:
        index = B.BY_NAME.get(node.func)
        args = list(node.args) + [v for _, v in node.kwargs]
        if index is None:
            for a in args:
                if not isinstance(a, ast.Lambda):
                    self.expr(a, scope, trigger)
            self.error("E_UNKNOWN_FUNCTION", node.span,
                       f"unknown function {node.func!r}{_did_you_mean(node.func, B.BY_NAME)}")
            return T.ANY
        b = B.BUILTINS[index]
        binding = B.bind_arguments(b, len(node.args), [k for k, _ in node.kwargs])
        if isinstance(binding, str):
            self.error("E_ARITY", node.span, binding)
            for a in args:
                if not isinstance(a, ast.Lambda):
                    self.expr(a, scope, trigger)
            return T.ANY
        # Type the non-lambda arguments first: lambda parameters take their types from them.
        slot_types: list[Type] = []
        for slot, arg_index in enumerate(binding):
            param = b.params[min(slot, len(b.params) - 1)]
            if arg_index is None:
                slot_types.append(T.NULL)
                continue
            arg = args[arg_index]
            if isinstance(param.type, Type):
                t = self.expr(arg, scope, trigger)
                self._expect(arg, t, param.type, f"argument {param.name!r} of {b.name}()")
                slot_types.append(t)
            else:
                slot_types.append(T.ANY)
        for slot, arg_index in enumerate(binding):
            param = b.params[min(slot, len(b.params) - 1)]
            if arg_index is None or isinstance(param.type, Type):
                continue
            arg = args[arg_index]
            if not isinstance(arg, ast.Lambda):
                self.error("E_TYPE", arg.span, f"argument {param.name!r} of {b.name}() must be "
                           "a lambda, e.g. x => x.amount")
                self.expr(arg, scope, trigger)
                continue
            elem = _element_type(slot_types[0] if slot_types else T.ANY)
            want = (elem,) if param.type == B.FN1 else (slot_types[1] if len(slot_types) > 1
                                                         else T.ANY, elem)
            if len(arg.params) != len(want):
                self.error("E_ARITY", arg.span, f"the lambda for {b.name}() takes {len(want)} "
                           f"parameter(s), it declares {len(arg.params)}")
                continue
            inner = dict(scope)
            inner.update(zip(arg.params, want, strict=True))
            slot_types[slot] = T.function(len(want), self.expr(arg.body, inner, trigger))
        self._check_literal_args(b, node, binding, args)
        return b.returns(slot_types)

    def _plugin_call(self, node: ast.PluginCall, scope: dict[str, Type], trigger: bool
                     ) -> Type:
        """`plugin.<name>.<function>(args)`, typed by the plugin's manifest."""
        args = list(node.args) + [v for _, v in node.kwargs]

        def rest() -> Type:
            for a in args:
                if not isinstance(a, ast.Lambda):
                    self.expr(a, scope, trigger)
            return T.ANY

        manifest = self.plugins.get(node.plugin)
        if manifest is None:
            installed = self.plugins.names()
            self.error("E_UNKNOWN_PLUGIN", node.span,
                       f"plugin {node.plugin!r} is not installed (called plugin.{node.plugin}."
                       f"{node.func}){_did_you_mean(node.plugin, installed)}; installed: "
                       f"{', '.join(installed) or 'none'}")
            return rest()
        exp = manifest.export(node.func)
        if exp is None:
            names = [e.name for e in manifest.exports]
            self.error("E_UNKNOWN_FUNCTION", node.span,
                       f"plugin {node.plugin} {manifest.version} has no function "
                       f"{node.func!r}{_did_you_mean(node.func, names)}; it exports "
                       f"{', '.join(names)}")
            return rest()
        binding = B.bind_arguments(exp, len(node.args), [k for k, _ in node.kwargs],
                                   label=exp.qualified)
        if isinstance(binding, str):
            self.error("E_ARITY", node.span, binding)
            return rest()
        for slot, arg_index in enumerate(binding):
            if arg_index is None:
                continue
            arg, param = args[arg_index], exp.params[slot]
            if isinstance(arg, ast.Lambda):
                self.error("E_TYPE", arg.span, f"argument {param.name!r} of {exp.qualified}() "
                           "cannot be a lambda")
                continue
            self._expect(arg, self.expr(arg, scope, trigger), param.type,
                         f"argument {param.name!r} of {exp.qualified}()")
        return exp.return_type

    def _check_literal_args(self, b: B.Builtin, node: ast.Call, binding: list[int | None],
                            args: list[ast.Node]) -> None:
        def literal(slot: int) -> object:
            if slot < len(binding) and binding[slot] is not None:
                arg = args[binding[slot]]  # type: ignore[index]
                if isinstance(arg, ast.Literal) and isinstance(arg.value, str):
                    return arg
            return None

        checks: dict[str, tuple[int, Callable[[str], object]]] = {
            "regex_match": (1, B.compile_regex), "duration": (0, V.parse_duration),
                  "date": (0, V.parse_date), "datetime": (0, V.parse_datetime)}
        if b.name in checks:
            slot, fn = checks[b.name]
            lit = literal(slot)
            if isinstance(lit, ast.Literal):
                try:
                    fn(lit.value)
                except EvalError as exc:
                    self.error("E_ARGUMENT", lit.span, exc.message)
        if b.name == "rule_result":
            lit = literal(0)
            if not isinstance(lit, ast.Literal):
                self.error("E_DEPENDENCY", node.span, "rule_result() needs a rule name literal")
            elif lit.value not in self.rule.metadata.depends_on:
                self.error("E_DEPENDENCY", lit.span, f"rule_result({lit.value!r}) needs "
                           f"{lit.value!r} in metadata.depends_on")


def _element_type(t: Type) -> Type:
    """What a lambda over the list `t` receives; elements of an untyped input are untyped."""
    if t.kind == "list" and t.elem:
        return t.elem
    if t.kind == "any" and t.origin is not None:
        return Type("any", origin=f"{t.origin}[]")
    return T.ANY


def _did_you_mean(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_rule(rule: RuleDef, plugins: Catalog | None = None) -> list[Diagnostic]:
    return Checker(rule, plugins).check()


def check_rule_reads(rule: RuleDef, plugins: Catalog | None = None
                     ) -> tuple[list[Diagnostic], set[str]]:
    """`check_rule`, plus the input field paths the rule reads."""
    checker = Checker(rule, plugins)
    return checker.check(), checker.reads
