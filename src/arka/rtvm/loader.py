"""Bytecode loader: decode, validate every instruction, and prepare it for execution.

Nothing runs until the whole program passed: known opcodes, operands in range, jumps onto
instruction boundaries inside their function, consistent stack depth on every path with
no underflow, declared max stack matching the computed one, every path ending in
RET/HALT, and no cycles between let/condition functions.

Every readable format version loads: instructions keep the opcode name they have in the
file (so a `full` trace and the disassembly of old bytecode are what they always were),
and the executors treat every name in `bytecode.ACTION_OP_NAMES` as `ACTION`. A format 1
per-type action opcode must match the type its action has in the metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from arka.base.errors import BytecodeError, Span
from arka.base.semver import SEMVER_RE, VERSION_BOUNDS
from arka.lang import builtins as B
from arka.plugins.sdk import NAME_RE
from arka.rtvm import bytecode as bc
from arka.rules.actions import ACTION_TYPES

_CONST_OPS = {"CONST", "LOAD_INPUT", "GET_FIELD", "RULE_REF"}
_STRING_CONST_OPS = {"LOAD_INPUT", "GET_FIELD", "RULE_REF"}


@dataclass(frozen=True, slots=True)
class Instr:
    op: str
    a: int = 0
    b: int = 0
    offset: int = 0


@dataclass(frozen=True, slots=True)
class LoadedFunction:
    name: str
    n_params: int
    n_captures: int
    max_stack: int
    # jump operands are instruction indices here; op names are those of the file's format
    code: tuple[Instr, ...]
    spans: tuple[Span | None, ...]
    depths: tuple[int | None, ...]  # stack depth before each instruction (None: unreachable)


@dataclass(frozen=True, slots=True)
class LoadedProgram:
    program: bc.Program
    functions: tuple[LoadedFunction, ...]
    bytecode: bytes
    bytecode_hash: str

    @property
    def metadata(self) -> dict[str, Any]:
        return self.program.metadata

    @property
    def constants(self) -> tuple[Any, ...]:
        return self.program.constants

    @property
    def version(self) -> int:
        return self.program.version

    @property
    def action_types(self) -> tuple[str, ...]:
        """The registry type of each action, by index (checked against the registry)."""
        return tuple(a["type"] for a in self.program.metadata["actions"])


def _fail(code: str, fn: str, offset: int | None, message: str) -> BytecodeError:
    where = f"{fn}" + (f"+{offset}" if offset is not None else "")
    return BytecodeError(f"{where}: {message}", code=code)


def function_max_stack(code: bytes, n_locals: int, n_consts: int, n_functions: int,
                       is_main: bool, name: str = "?", version: int = bc.FORMAT_VERSION) -> int:
    """Validate control flow and stack use of one function; return its max stack depth."""
    return stack_depths(code, is_main, name, version)[1]


def stack_depths(code: bytes, is_main: bool, name: str = "?",
                 version: int = bc.FORMAT_VERSION) -> tuple[dict[int, int], int]:
    """Validate control flow and stack use of one function.

    Returns the stack depth before each reachable instruction (by index) and the maximum.
    """
    instrs = bc.iter_instructions(code, version)
    if not instrs:
        raise _fail("E_BYTECODE_EMPTY", name, None, "function has no code")
    index = {off: i for i, (off, _, _) in enumerate(instrs)}
    depth_at: dict[int, int] = {0: 0}
    work = [0]
    max_depth = 0
    while work:
        i = work.pop()
        depth = depth_at[i]
        off, op, operands = instrs[i]
        pops, pushes = bc.stack_effect(op, operands)
        if pops > depth:
            raise _fail("E_BYTECODE_STACK", name, off, f"{op.name} pops {pops} but the stack "
                        f"holds {depth} (stack underflow)")
        new = depth - pops + pushes
        max_depth = max(max_depth, new, depth)
        successors: list[int] = []
        if op.code in bc.TERMINATORS:
            if op.name == "HALT" and (not is_main or depth != 0):
                raise _fail("E_BYTECODE_FLOW", name, off, "HALT must end the main function with "
                            "an empty stack")
            if op.name == "RET" and (is_main or depth != 1):
                raise _fail("E_BYTECODE_FLOW", name, off, "RET must return exactly one value "
                            "from a non-main function")
        else:
            if op.code in bc.JUMPS:
                target = operands[0]
                if target not in index:
                    raise _fail("E_BYTECODE_JUMP", name, off, f"jump target {target} is not an "
                                "instruction boundary in this function")
                successors.append(index[target])
            if op.name != "JUMP":
                if i + 1 >= len(instrs):
                    raise _fail("E_BYTECODE_FLOW", name, off, "control falls off the end of the "
                                "function (missing RET/HALT)")
                successors.append(i + 1)
        for s in successors:
            seen = depth_at.get(s)
            if seen is None:
                depth_at[s] = new
                work.append(s)
            elif seen != new:
                raise _fail("E_BYTECODE_STACK", name, instrs[s][0], f"inconsistent stack depth "
                            f"at a merge point ({seen} vs {new})")
    return depth_at, max_depth


def load(data: bytes) -> LoadedProgram:
    """Decode and validate bytecode. Every problem is a BytecodeError, never a crash."""
    try:
        program = bc.decode(data)
        return _validate(program, bytes(data))
    except BytecodeError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as exc:
        raise BytecodeError(f"malformed bytecode: {type(exc).__name__}: {exc}",
                            code="E_BYTECODE_FORMAT") from None


def _bad(what: str) -> BytecodeError:
    return BytecodeError(f"metadata: {what}", code="E_BYTECODE_METADATA")


def _opt_str(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


_SCHEMA_TYPES = {"string", "decimal", "number", "integer", "boolean", "datetime", "date",
                 "duration", "array", "object", "any"}


def _check_schema(spec: Any, path: str, depth: int = 0) -> None:
    if depth > 32 or not isinstance(spec, dict):
        raise _bad(f"schema of {path} must be an object")
    if set(spec) - {"type", "properties", "items", "enum", "required", "additionalProperties"}:
        raise _bad(f"schema of {path} has unknown keys")
    if spec.get("type", "any") not in _SCHEMA_TYPES:
        raise _bad(f"schema of {path} has an unknown type")
    props = spec.get("properties", {})
    if not isinstance(props, dict):
        raise _bad(f"properties of {path} must be an object")
    for name, sub in props.items():
        _check_schema(sub, f"{path}.{name}", depth + 1)
    if "items" in spec:
        _check_schema(spec["items"], f"{path}[]", depth + 1)
    if "enum" in spec and not isinstance(spec["enum"], list):
        raise _bad(f"enum of {path} must be a list")
    if "required" in spec and not _str_list(spec["required"]):
        raise _bad(f"required of {path} must list names")
    if spec.get("additionalProperties", False) not in (True, False):
        raise _bad(f"additionalProperties of {path} must be a boolean")


def _validate_metadata(meta: dict[str, Any], version: int) -> tuple[int, list[str]]:
    """Everything the engine reads from metadata is checked here, so it can trust it."""
    if meta.get("format", version) != version:
        raise _bad(f"format {meta.get('format')!r} differs from the header's version {version}")
    rule = meta.get("rule")
    if not isinstance(rule, dict) or not isinstance(rule.get("name"), str) or \
            not isinstance(rule.get("version"), str):
        raise _bad("rule needs name and version")
    if not SEMVER_RE.match(rule["version"]):
        raise _bad(f"rule.version is not semver within bounds ({VERSION_BOUNDS})")
    if not isinstance(rule.get("jurisdiction", "ALL"), str) or \
            not all(_opt_str(rule.get(k)) for k in ("description", "domain", "effective_date",
                                                     "expiry_date")):
        raise _bad("rule jurisdiction, domain and dates must be text")
    for key in ("effective_date", "expiry_date"):
        if rule.get(key) is not None:
            try:
                date.fromisoformat(rule[key])
            except ValueError:
                raise _bad(f"rule.{key} is not a date") from None
    if not _str_list(rule.get("tags", [])) or not _str_list(rule.get("depends_on", [])):
        raise _bad("rule tags and depends_on must list text")
    conds = meta.get("conditions")
    if not isinstance(conds, list) or not all(
            isinstance(c, dict) and isinstance(c.get("id"), str) and _opt_str(c.get("description"))
            for c in conds):
        raise _bad("conditions must list {id, description}")
    actions = meta.get("actions")
    if not isinstance(actions, list) or not all(
            isinstance(a, dict) and isinstance(a.get("type"), str) and a.get("index") == i and
            isinstance(a.get("trigger"), str) for i, a in enumerate(actions)):
        raise _bad("actions must list {index, type, trigger} in order")
    known = tuple(ACTION_TYPES) if version > 1 else tuple(bc.FORMAT1_ACTION_TYPES.values())
    for a in actions:
        if a["type"] not in ACTION_TYPES or a["type"] not in known:
            raise _bad(f"action {a['index']} has unknown type {a['type']!r} (format {version} "
                       f"knows {', '.join(known)})")
    inputs = meta.get("inputs")
    if not isinstance(inputs, list):
        raise _bad("inputs must be a list")
    for item in inputs:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or \
                not isinstance(item.get("required", True), bool) or \
                not _opt_str(item.get("type")):
            raise _bad("inputs must list {name, type, required, schema}")
        _check_schema(item.get("schema", {}), item["name"])
    scale = meta.get("division_scale")
    if not isinstance(scale, int) or isinstance(scale, bool) or not 0 <= scale <= 38:
        raise _bad("division_scale must be 0..38")
    if not _opt_str(meta.get("file")):
        raise _bad("file must be text")
    _check_plugin_calls(meta, version)
    return len(conds), [a["type"] for a in actions]


def _check_plugin_calls(meta: dict[str, Any], version: int) -> None:
    calls = meta.get("plugins")
    if calls is None:
        return
    if version < bc.PLUGIN_FORMAT_VERSION:
        raise _bad(f"plugins in the metadata of a format {version} program (plugin calls "
                   f"need format {bc.PLUGIN_FORMAT_VERSION})")
    if not isinstance(calls, list):
        raise _bad("plugins must be a list")
    for i, c in enumerate(calls):
        if not isinstance(c, dict) or set(c) != {"plugin", "version", "function", "args",
                                                 "returns"}:
            raise _bad(f"plugins[{i}] must be {{plugin, version, function, args, returns}}")
        if not all(isinstance(c[k], str) and NAME_RE.match(c[k]) for k in ("plugin", "function")):
            raise _bad(f"plugins[{i}]: plugin and function must be names")
        if not isinstance(c["version"], str) or not SEMVER_RE.match(c["version"]):
            raise _bad(f"plugins[{i}].version is not semver")
        args = c["args"]
        if not _str_list(args) or len(set(args)) != len(args) or \
                not all(NAME_RE.match(a) for a in args):
            raise _bad(f"plugins[{i}].args must list distinct parameter names")
        _check_schema(c["returns"], f"plugins[{i}].returns")


def _validate(program: bc.Program, data: bytes) -> LoadedProgram:
    version = program.version
    n_conds, action_types = _validate_metadata(program.metadata, version)
    fns = program.functions
    if not fns:
        raise BytecodeError("no functions", code="E_BYTECODE_FORMAT")
    if fns[0].n_params or fns[0].n_captures:
        raise BytecodeError("function 0 (main) takes no parameters", code="E_BYTECODE_FORMAT")
    memo_edges: dict[int, set[int]] = {}
    loaded: list[LoadedFunction] = []
    lines_by_fn: dict[int, dict[int, tuple[int, int]]] = {}
    for e in program.lines:
        if e.function >= len(fns) or e.offset >= len(fns[e.function].code):
            raise BytecodeError("line table entry out of range", code="E_BYTECODE_FORMAT")
        lines_by_fn.setdefault(e.function, {})[e.offset] = (e.line, e.column)
    file = str(program.metadata.get("file", "<bytecode>"))
    for fi, fn in enumerate(fns):
        n_locals = fn.n_params + fn.n_captures
        depth_at, max_stack = stack_depths(fn.code, fi == 0, fn.name, version)
        if max_stack != fn.max_stack:
            raise _fail("E_BYTECODE_STACK", fn.name, None, f"declares max stack {fn.max_stack} "
                        f"but needs {max_stack}")
        instrs = bc.iter_instructions(fn.code, version)
        index = {off: i for i, (off, _, _) in enumerate(instrs)}
        code: list[Instr] = []
        spans: list[Span | None] = []
        current: Span | None = None
        fn_lines = lines_by_fn.get(fi, {})
        for off, op, operands in instrs:
            _check_operands(fi, fn, off, op, operands, program, n_locals, n_conds, action_types)
            if op.name == "CALL_MEMO":
                memo_edges.setdefault(fi, set()).add(operands[0])
            if op.code in bc.JUMPS:
                operands = (index[operands[0]],)
            if off in fn_lines:
                line, col = fn_lines[off]
                current = Span(file, line, col)
            padded = operands + (0, 0)
            code.append(Instr(op.name, padded[0], padded[1], off))
            spans.append(current)
        loaded.append(LoadedFunction(fn.name, fn.n_params, fn.n_captures, max_stack,
                                     tuple(code), tuple(spans),
                                     tuple(depth_at.get(i) for i in range(len(code)))))
    _check_memo_cycles(memo_edges, fns)
    return LoadedProgram(program, tuple(loaded), data, bc.bytecode_hash(data))


def _check_operands(fi: int, fn: bc.Function, off: int, op: bc.OpInfo, operands: tuple[int, ...],
                    program: bc.Program, n_locals: int, n_conds: int,
                    action_types: list[str]) -> None:
    consts, fns = program.constants, program.functions
    name = op.name
    if name in _CONST_OPS:
        if operands[0] >= len(consts):
            raise _fail("E_BYTECODE_CONST", fn.name, off, f"{name} constant index {operands[0]} out "
                        f"of range ({len(consts)} constants)")
        if name in _STRING_CONST_OPS and not isinstance(consts[operands[0]], str):
            raise _fail("E_BYTECODE_CONST", fn.name, off, f"{name} needs a string constant")
    elif name == "LOAD_LOCAL" and operands[0] >= n_locals:
        raise _fail("E_BYTECODE_LOCAL", fn.name, off, f"local {operands[0]} out of range "
                    f"({n_locals} locals)")
    elif name == "CALL_MEMO":
        t = operands[0]
        if t == 0 or t >= len(fns) or fns[t].n_params or fns[t].n_captures:
            raise _fail("E_BYTECODE_CALL", fn.name, off, f"CALL_MEMO target {t} is not a "
                        "parameterless function")
    elif name == "MAKE_CLOSURE":
        t, n = operands
        if t == 0 or t >= len(fns) or fns[t].n_captures != n:
            raise _fail("E_BYTECODE_CALL", fn.name, off, f"MAKE_CLOSURE of function {t} with {n} "
                        "captures does not match the function table")
    elif name == "CALL_BUILTIN":
        bid, argc = operands
        if bid >= len(B.BUILTINS):
            raise _fail("E_BYTECODE_BUILTIN", fn.name, off, f"unknown builtin id {bid}")
        b = B.BUILTINS[bid]
        if argc < b.min_args or (b.max_args is not None and argc > b.max_args):
            raise _fail("E_BYTECODE_BUILTIN", fn.name, off, f"{b.name}() called with {argc} "
                        "arguments")
    elif name == "CALL_PLUGIN":
        idx, argc = operands
        calls = program.metadata.get("plugins") or []
        if idx >= len(calls):
            raise _fail("E_BYTECODE_OPERAND", fn.name, off, f"CALL_PLUGIN index {idx} out of "
                        f"range ({len(calls)} plugin calls in the metadata)")
        if argc != len(calls[idx]["args"]):
            raise _fail("E_BYTECODE_OPERAND", fn.name, off, f"CALL_PLUGIN of "
                        f"{calls[idx]['plugin']}.{calls[idx]['function']} pops {argc} "
                        f"arguments; the metadata names {len(calls[idx]['args'])}")
    elif name == "DIV":
        if operands[0] > 38 or operands[1] not in bc.ROUNDING_MODES:
            raise _fail("E_BYTECODE_OPERAND", fn.name, off, "DIV scale must be 0..38 with a known "
                        "rounding mode")
    elif name == "COND_RESULT":
        if fi != 0 or operands[0] >= n_conds:
            raise _fail("E_BYTECODE_OPERAND", fn.name, off, "COND_RESULT index out of range")
    elif name == "EVIDENCE" or name in bc.ACTION_OP_NAMES:
        if fi != 0:
            raise _fail("E_BYTECODE_OPERAND", fn.name, off, f"{name} outside the main function")
        if operands[0] >= len(action_types):
            raise _fail("E_BYTECODE_OPERAND", fn.name, off, f"{name} action index {operands[0]} "
                        f"out of range ({len(action_types)} actions in the metadata)")
        wanted = bc.FORMAT1_ACTION_TYPES.get(name)
        if wanted is not None and action_types[operands[0]] != wanted:
            raise _fail("E_BYTECODE_OPERAND", fn.name, off, f"{name} emits a {wanted} action, "
                        f"but action {operands[0]}'s type is {action_types[operands[0]]}")


def _check_memo_cycles(edges: dict[int, set[int]], fns: tuple[bc.Function, ...]) -> None:
    """Depth-first search with an explicit stack: a chain of 65,535 functions is fine."""
    state: dict[int, int] = {}  # 1 on the current path, 2 finished
    for root in sorted(edges):
        if root in state:
            continue
        state[root] = 1
        path: list[tuple[int, list[int]]] = [(root, sorted(edges.get(root, ()), reverse=True))]
        while path:
            n, todo = path[-1]
            if not todo:
                state[n] = 2
                path.pop()
                continue
            m = todo.pop()
            if state.get(m) == 1:
                raise BytecodeError(f"cycle between functions {fns[n].name} and {fns[m].name}",
                                    code="E_BYTECODE_CYCLE")
            if m not in state:
                state[m] = 1
                path.append((m, sorted(edges.get(m, ()), reverse=True)))
