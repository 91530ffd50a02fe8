"""Checked rule → RTVM bytecode. Deterministic to the byte: no hash-ordered iteration,
constants numbered in first-use order, functions in definition order."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from arka.base.errors import Span
from arka.compiler.literals import require_literals
from arka.lang import ast
from arka.lang import builtins as B
from arka.plugins.sdk import Catalog
from arka.rtvm import bytecode as bc
from arka.rtvm.loader import function_max_stack
from arka.rules.model import InputDef, RuleDef

COMPILER_VERSION = "arka-compiler/2"


@dataclass
class _Fn:
    name: str
    n_params: int = 0
    n_captures: int = 0
    locals: dict[str, int] = field(default_factory=dict)
    code: bytearray = field(default_factory=bytearray)
    lines: list[tuple[int, int, int]] = field(default_factory=list)


class _Label:
    def __init__(self) -> None:
        self.target: int | None = None
        self.patches: list[int] = []


class Codegen:
    def __init__(self, rule: RuleDef, division_scale: int, plugins: Catalog | None = None):
        self.rule = rule
        self.division_scale = division_scale
        self.plugins = plugins or Catalog()
        # metadata.plugins: one entry per distinct (function, supplied arguments) call shape
        self.plugin_calls: list[dict[str, Any]] = []
        self.plugin_index: dict[str, int] = {}
        self.constants: list[Any] = []
        self.const_index: dict[tuple[str, str], int] = {}
        self.functions: list[_Fn] = []
        self.memo_fn: dict[str, int] = {}
        self.inputs = {i.name for i in rule.inputs}
        self.cond_index = {c.id: i for i, c in enumerate(rule.conditions)}

    # ------------------------------------------------------------ plumbing
    def const(self, value: Any) -> int:
        key = (type(value).__name__, repr(value) if not isinstance(value, Decimal) else str(value))
        idx = self.const_index.get(key)
        if idx is None:
            idx = len(self.constants)
            self.constants.append(value)
            self.const_index[key] = idx
        return idx

    def emit(self, fn: _Fn, span: Span | None, name: str, *operands: int) -> int:
        op = bc.EMIT[name]
        offset = len(fn.code)
        if span is not None and (not fn.lines or fn.lines[-1][1:] != (span.line, span.column)):
            fn.lines.append((offset, span.line, span.column))
        fn.code.append(op.code)
        if op.operands:
            fn.code += struct.pack("<" + op.operands, *operands)
        return offset

    def jump(self, fn: _Fn, span: Span | None, name: str, label: _Label) -> None:
        offset = self.emit(fn, span, name, 0)
        label.patches.append(offset + 1)

    def place(self, fn: _Fn, label: _Label) -> None:
        label.target = len(fn.code)
        for at in label.patches:
            fn.code[at:at + 4] = struct.pack("<I", label.target)

    def new_fn(self, name: str) -> tuple[int, _Fn]:
        fn = _Fn(name)
        self.functions.append(fn)
        return len(self.functions) - 1, fn

    # ------------------------------------------------------------ rule
    def compile(self) -> bc.Program:
        rule = self.rule
        require_literals(rule)  # no program is generated around an out-of-bounds constant
        _, main = self.new_fn("main")
        # Reserve function slots for lets and conditions first, so ids are stable.
        pending: list[tuple[int, _Fn, ast.Node, bool]] = []
        for let in rule.lets:
            idx, fn = self.new_fn(f"let:{let.name}")
            self.memo_fn[let.name] = idx
            pending.append((idx, fn, let.expr, False))
        for cond in rule.conditions:
            idx, fn = self.new_fn(f"cond:{cond.id}")
            self.memo_fn[cond.id] = idx
            pending.append((idx, fn, cond.expr, True))
        for _, fn, expr, is_cond in pending:
            self.expr(fn, expr)
            if is_cond:
                self.emit(fn, None, "TO_BOOL")
            self.emit(fn, None, "RET")
        for i, cond in enumerate(rule.conditions):
            self.emit(main, cond.span, "CALL_MEMO", self.memo_fn[cond.id])
            self.emit(main, None, "COND_RESULT", i)
        for action in rule.actions:
            skip = _Label()
            self.expr(main, action.trigger)
            self.emit(main, action.span, "TO_BOOL")
            self.emit(main, None, "DUP")
            self.emit(main, None, "EVIDENCE", action.index)
            self.jump(main, None, "JUMP_IF_FALSE", skip)
            self.expr(main, action.config)
            self.emit(main, action.span, "ACTION", action.index)
            self.place(main, skip)
        self.emit(main, None, "HALT")
        return self._program()

    def _program(self) -> bc.Program:
        rule = self.rule
        # A rule that calls plugins needs CALL_PLUGIN, which format 3 added; every other
        # rule stays in format 2, so its bytes (and bytecode hash) are what they were.
        version = bc.PLUGIN_FORMAT_VERSION if self.plugin_calls else bc.FORMAT_VERSION
        metadata = {
            "compiler": COMPILER_VERSION,
            "format": version,
            "division_scale": self.division_scale,
            "rule": rule.metadata.to_json(),
            # Positions name the rule, never the file it was read from: the same rule gives
            # the same bytes from a file, an API request or a string.
            "file": rule.metadata.name,
            "inputs": [_input_json(i) for i in rule.inputs],
            "conditions": [{"id": c.id, "description": c.description} for c in rule.conditions],
            "actions": [{"index": a.index, "type": a.type, "trigger": a.trigger_text}
                        for a in rule.actions],
        }
        if self.plugin_calls:
            metadata["plugins"] = self.plugin_calls
        functions = []
        lines = []
        for i, fn in enumerate(self.functions):
            code = bytes(fn.code)
            max_stack = function_max_stack(code, fn.n_params + fn.n_captures, len(self.constants),
                                           len(self.functions), is_main=i == 0, version=version)
            functions.append(bc.Function(fn.name, fn.n_params, fn.n_captures, max_stack, code))
            lines += [bc.LineEntry(i, off, ln, col) for off, ln, col in fn.lines]
        return bc.Program(metadata, tuple(self.constants), tuple(functions), tuple(lines),
                          version)

    # ------------------------------------------------------------ expressions
    def expr(self, fn: _Fn, node: ast.Node) -> None:
        e = self.emit
        match node:
            case ast.Literal(value=v):
                e(fn, node.span, "CONST", self.const(v))
            case ast.Name(name=name):
                self.name(fn, node, name)
            case ast.Field(obj=obj, name=fname):
                self.expr(fn, obj)
                e(fn, node.span, "GET_FIELD", self.const(fname))
            case ast.Index(obj=obj, index=index):
                self.expr(fn, obj)
                self.expr(fn, index)
                e(fn, node.span, "GET_INDEX")
            case ast.Call():
                self.call(fn, node)
            case ast.PluginCall():
                self.plugin_call(fn, node)
            case ast.Unary(op=op, operand=operand):
                self.expr(fn, operand)
                e(fn, node.span, "NOT" if op == "not" else "NEG")
            case ast.Binary(op=op, left=left, right=right):
                self.expr(fn, left)
                self.expr(fn, right)
                e(fn, node.span, _BINARY_OPS[op])
            case ast.Arithmetic(ops=ops, operands=operands, op_spans=spans):
                # The code of the left-nested pairs ((a + b) - c), step by step.
                self.expr(fn, operands[0])
                for op, span, operand in zip(ops, spans, operands[1:], strict=True):
                    self.expr(fn, operand)
                    if op == "/":
                        e(fn, span, "DIV", self.division_scale, 0)
                    else:
                        e(fn, span, _BINARY_OPS[op])
            case ast.Logical(op=op, operands=operands, op_spans=spans):
                # As for ((a or b) or c): each step short-circuits on the value so far, so
                # the jumps run in sequence, never nested, however many operands.
                self.expr(fn, operands[0])
                for span, operand in zip(spans, operands[1:], strict=True):
                    short, end = _Label(), _Label()
                    self.jump(fn, span, "JUMP_IF_FALSE" if op == "and" else "JUMP_IF_TRUE",
                              short)
                    self.expr(fn, operand)
                    e(fn, span, "TO_BOOL")
                    self.jump(fn, None, "JUMP", end)
                    self.place(fn, short)
                    e(fn, None, "CONST", self.const(op == "or"))
                    self.place(fn, end)
            case ast.If(cond=c, then=then, orelse=orelse):
                other, end = _Label(), _Label()
                self.expr(fn, c)
                self.jump(fn, node.span, "JUMP_IF_FALSE", other)
                self.expr(fn, then)
                self.jump(fn, None, "JUMP", end)
                self.place(fn, other)
                self.expr(fn, orelse)
                self.place(fn, end)
            case ast.Case():
                self.case(fn, node)
            case ast.ListLit(items=items):
                for item in items:
                    self.expr(fn, item)
                e(fn, node.span, "BUILD_LIST", len(items))
            case ast.ObjectLit(items=items):
                for key, value in items:
                    e(fn, None, "CONST", self.const(key))
                    self.expr(fn, value)
                e(fn, node.span, "BUILD_OBJECT", len(items))
            case ast.Interpolation(parts=parts):
                for part in parts:
                    if isinstance(part, str):
                        e(fn, None, "CONST", self.const(part))
                    else:
                        self.expr(fn, part)
                e(fn, node.span, "CONCAT", len(parts))
            case _:
                raise AssertionError(f"checked rule has unexpected node {type(node).__name__}")

    def name(self, fn: _Fn, node: ast.Node, name: str) -> None:
        if name in fn.locals:
            self.emit(fn, node.span, "LOAD_LOCAL", fn.locals[name])
        elif name in self.memo_fn:
            self.emit(fn, node.span, "CALL_MEMO", self.memo_fn[name])
        elif name in self.inputs:
            self.emit(fn, node.span, "LOAD_INPUT", self.const(name))
        elif name == "context":
            self.emit(fn, node.span, "LOAD_CONTEXT")
        else:
            raise AssertionError(f"unresolved name {name!r} after checking")

    def case(self, fn: _Fn, node: ast.Case) -> None:
        end = _Label()
        if node.subject is not None:
            self.expr(fn, node.subject)
        for value, result in node.whens:
            nxt = _Label()
            if node.subject is not None:
                self.emit(fn, None, "DUP")
                self.expr(fn, value)
                self.emit(fn, value.span, "EQ")
            else:
                self.expr(fn, value)
            self.jump(fn, value.span, "JUMP_IF_FALSE", nxt)
            if node.subject is not None:
                self.emit(fn, None, "POP")
            self.expr(fn, result)
            self.jump(fn, None, "JUMP", end)
            self.place(fn, nxt)
        if node.subject is not None:
            self.emit(fn, None, "POP")
        if node.default is not None:
            self.expr(fn, node.default)
        else:
            self.emit(fn, node.span, "CONST", self.const(None))
        self.place(fn, end)

    def call(self, fn: _Fn, node: ast.Call) -> None:
        if node.func == "now" and not node.args and not node.kwargs:
            self.emit(fn, node.span, "NOW")
            return
        if node.func == "rule_result" and len(node.args) == 1 and \
                isinstance(node.args[0], ast.Literal):
            self.emit(fn, node.span, "RULE_REF", self.const(node.args[0].value))
            return
        bid = B.BY_NAME[node.func]
        b = B.BUILTINS[bid]
        args = list(node.args) + [v for _, v in node.kwargs]
        binding = B.bind_arguments(b, len(node.args), [k for k, _ in node.kwargs])
        assert not isinstance(binding, str)
        for arg_index in binding:
            if arg_index is None:
                self.emit(fn, None, "CONST", self.const(None))
            elif isinstance(args[arg_index], ast.Lambda):
                self.closure(fn, args[arg_index])  # type: ignore[arg-type]
            else:
                self.expr(fn, args[arg_index])
        self.emit(fn, node.span, "CALL_BUILTIN", bid, len(binding))

    def plugin_call(self, fn: _Fn, node: ast.PluginCall) -> None:
        """Push the supplied arguments in parameter order, then CALL_PLUGIN of the call's
        metadata entry (plugin, manifest version, function, argument names, result type)."""
        manifest = self.plugins.get(node.plugin)
        exp = manifest.export(node.func) if manifest is not None else None
        assert manifest is not None and exp is not None, "checked rule calls a known plugin"
        args = list(node.args) + [v for _, v in node.kwargs]
        binding = B.bind_arguments(exp, len(node.args), [k for k, _ in node.kwargs])
        assert not isinstance(binding, str)
        names = []
        for slot, arg_index in enumerate(binding):
            if arg_index is not None:
                self.expr(fn, args[arg_index])
                names.append(exp.params[slot].name)
        entry = {"plugin": node.plugin, "version": manifest.version, "function": node.func,
                 "args": names, "returns": exp.returns.to_json()}
        key = repr(sorted(entry.items()))
        idx = self.plugin_index.get(key)
        if idx is None:
            idx = self.plugin_index[key] = len(self.plugin_calls)
            self.plugin_calls.append(entry)
        self.emit(fn, node.span, "CALL_PLUGIN", idx, len(names))

    def closure(self, outer: _Fn, lam: ast.Lambda) -> None:
        captured = sorted({n.name for n in ast.free_names(lam) if n.name in outer.locals})
        idx, fn = self.new_fn(f"lambda@{lam.span.line}:{lam.span.column}")
        fn.n_captures = len(captured)
        fn.n_params = len(lam.params)
        fn.locals = {name: i for i, name in enumerate(captured)}
        for i, p in enumerate(lam.params):
            fn.locals[p] = len(captured) + i
        self.expr(fn, lam.body)
        self.emit(fn, None, "RET")
        for name in captured:
            self.emit(outer, lam.span, "LOAD_LOCAL", outer.locals[name])
        self.emit(outer, lam.span, "MAKE_CLOSURE", idx, len(captured))


_BINARY_OPS = {"+": "ADD", "-": "SUB", "*": "MUL", "%": "MOD", "==": "EQ", "!=": "NE",
               "<": "LT", "<=": "LE", ">": "GT", ">=": "GE", "in": "IN", "not in": "NOT_IN"}


def _input_json(i: InputDef) -> dict[str, Any]:
    out: dict[str, Any] = {"name": i.name, "type": i.type_name, "required": i.required,
                           "schema": i.spec.to_json()}
    if i.schemas:
        out["schemas"] = [s.to_json() for s in i.schemas]
    return out
