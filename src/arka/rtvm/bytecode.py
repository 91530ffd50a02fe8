"""The RTVM bytecode format: opcode tables, binary encoding and decoding.

See docs/rtvm-bytecode.md for the byte layout. This module only (de)serialises; the
loader (`arka.rtvm.loader`) validates a decoded program before anything runs it.

Format 2 (current) emits every action with one `ACTION idx` instruction; the action's
type is `metadata.actions[idx].type`, a name of the action registry. Format 1 had one
opcode per action type. Stored rules keep their bytecode, and proofs record its hash, so
every released format stays readable: decoding takes the opcode table of the file's
version, and the compiler only ever writes the current one.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from arka.base.boundary import number_problem
from arka.base.errors import BytecodeError

MAGIC = b"RTVM"
FORMAT_VERSION = 2
# Format 3 is format 2 plus CALL_PLUGIN; the compiler writes it only for rules that call
# plugins, so every other rule keeps its format 2 bytes.
PLUGIN_FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
# Bounds a file must keep before it is decoded further (E_BYTECODE_LIMIT): every count is
# also limited by the bytes actually present, so no count can allocate ahead of its data.
MAX_CONSTANTS = 1_000_000
MAX_FUNCTIONS = 65_535
MAX_CODE_BYTES = 2 * 1024 * 1024  # all functions together; a large rule compiles to ~100 KiB
MAX_METADATA_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class OpInfo:
    code: int
    name: str
    operands: str  # struct codes of the operands, in order: B=u8, H=u16, I=u32
    pops: int  # -1: depends on an operand (see stack_effect)
    pushes: int
    doc: str


_OPS = (
    # stack
    OpInfo(0x01, "CONST", "I", 0, 1, "push constant[idx]"),
    OpInfo(0x02, "POP", "", 1, 0, "drop the top value"),
    OpInfo(0x03, "DUP", "", 1, 2, "duplicate the top value"),
    OpInfo(0x04, "LOAD_LOCAL", "H", 0, 1, "push local[idx] (captures, then parameters)"),
    OpInfo(0x05, "LOAD_INPUT", "I", 0, 1, "push the input named by constant[idx] (null if absent)"),
    OpInfo(0x06, "LOAD_CONTEXT", "", 0, 1, "push the context object"),
    OpInfo(0x07, "CALL_MEMO", "H", 0, 1,
           "push the value of a let/condition function, running it at most once per evaluation"),
    # decimal arithmetic (every number is an exact decimal)
    OpInfo(0x10, "ADD", "", 2, 1, "a + b (decimals, strings, lists, time + duration)"),
    OpInfo(0x11, "SUB", "", 2, 1, "a - b"),
    OpInfo(0x12, "MUL", "", 2, 1, "a * b (exact)"),
    OpInfo(0x13, "DIV", "BB", 2, 1, "a / b quantized to scale operand 1, rounding operand 2 "
                                     "(0 = HALF_EVEN)"),
    OpInfo(0x14, "MOD", "", 2, 1, "a % b (sign of a)"),
    OpInfo(0x15, "NEG", "", 1, 1, "-a"),
    # comparison and logic
    OpInfo(0x20, "EQ", "", 2, 1, "a == b"),
    OpInfo(0x21, "NE", "", 2, 1, "a != b"),
    OpInfo(0x22, "LT", "", 2, 1, "a < b (false if either is null)"),
    OpInfo(0x23, "LE", "", 2, 1, "a <= b"),
    OpInfo(0x24, "GT", "", 2, 1, "a > b"),
    OpInfo(0x25, "GE", "", 2, 1, "a >= b"),
    OpInfo(0x26, "IN", "", 2, 1, "a in b"),
    OpInfo(0x27, "NOT_IN", "", 2, 1, "a not in b"),
    OpInfo(0x28, "NOT", "", 1, 1, "boolean not (null is false)"),
    OpInfo(0x29, "TO_BOOL", "", 1, 1, "null -> false; booleans unchanged; else a type error"),
    # control flow (jump targets are byte offsets from the function's start)
    OpInfo(0x30, "JUMP", "I", 0, 0, "continue at target"),
    OpInfo(0x31, "JUMP_IF_FALSE", "I", 1, 0, "pop; continue at target if false or null"),
    OpInfo(0x32, "JUMP_IF_TRUE", "I", 1, 0, "pop; continue at target if true"),
    OpInfo(0x33, "RET", "", 1, 0, "return the top value to the caller"),
    OpInfo(0x34, "HALT", "", 0, 0, "end of the rule's main function"),
    OpInfo(0x35, "CALL_BUILTIN", "HB", -1, 1, "pop argc arguments, call builtin[id], push result"),
    OpInfo(0x36, "MAKE_CLOSURE", "HB", -1, 1, "pop n captured values, push a closure of function"),
    # data access
    OpInfo(0x40, "GET_FIELD", "I", 1, 1, "pop object, push its field constant[idx] (null if absent)"),
    OpInfo(0x41, "GET_INDEX", "", 2, 1, "pop index and list/string/object, push element or null"),
    OpInfo(0x42, "BUILD_LIST", "I", -1, 1, "pop n values, push a list of them"),
    OpInfo(0x43, "BUILD_OBJECT", "I", -1, 1, "pop n key/value pairs, push an object"),
    OpInfo(0x44, "CONCAT", "I", -1, 1, "pop n values, push the concatenation of their text"),
    # temporal
    OpInfo(0x50, "NOW", "", 0, 1, "push the context timestamp (never the wall clock)"),
    # domain
    OpInfo(0x60, "COND_RESULT", "H", 1, 0, "pop a boolean, record it as condition[idx]"),
    OpInfo(0x61, "EVIDENCE", "H", 1, 0, "pop a boolean, record it as the trigger of action[idx]"),
    OpInfo(0x68, "RULE_REF", "I", 0, 1, "push the result of the rule named constant[idx]"),
    OpInfo(0x69, "ACTION", "H", 1, 0, "pop config, emit action[idx] (its type is "
                                      "metadata.actions[idx].type)"),
)

_PLUGIN_OPS = (
    OpInfo(0x37, "CALL_PLUGIN", "HB", -1, 1,
           "pop argc arguments, call metadata.plugins[idx] outside the VM, push its result"),
)

# Format 1's per-type action opcodes (0x62-0x67), frozen with the action type each one
# stood for. They are read, never written: format 2 has `ACTION` instead.
_FORMAT1_ACTION_OPS = (
    (OpInfo(0x62, "FLAG", "H", 1, 0, "pop config, emit the flag of action[idx]"), "flag"),
    (OpInfo(0x63, "ANNOTATE", "H", 1, 0, "pop config, merge its annotations"), "annotate"),
    (OpInfo(0x64, "ESCALATE", "H", 1, 0, "pop config, emit an escalation"), "escalate"),
    (OpInfo(0x65, "BLOCK", "H", 1, 0, "pop config, block"), "block"),
    (OpInfo(0x66, "NOTIFY", "H", 1, 0, "pop config, emit a notification intent"), "notify"),
    (OpInfo(0x67, "SCORE", "H", 1, 0, "pop config, emit a score adjustment"),
     "score_adjustment"),
)
FORMAT1_ACTION_TYPES: dict[str, str] = {op.name: t for op, t in _FORMAT1_ACTION_OPS}
FORMAT1_OPS: tuple[OpInfo, ...] = tuple(op for op, _ in _FORMAT1_ACTION_OPS)

# The opcode table of each readable format version, by code and by name.
OPCODES: dict[int, dict[int, OpInfo]] = {
    1: {op.code: op for op in sorted((*(o for o in _OPS if o.name != "ACTION"), *FORMAT1_OPS),
                                     key=lambda o: o.code)},
    2: {op.code: op for op in _OPS},
    3: {op.code: op for op in sorted((*_OPS, *_PLUGIN_OPS), key=lambda o: o.code)},
}
NAMES: dict[int, dict[str, OpInfo]] = {v: {op.name: op for op in ops.values()}
                                       for v, ops in OPCODES.items()}
OPS: dict[int, OpInfo] = OPCODES[FORMAT_VERSION]
BY_NAME: dict[str, OpInfo] = NAMES[FORMAT_VERSION]
# What the compiler emits from: every opcode of the formats it writes (3 is 2 + CALL_PLUGIN).
EMIT: dict[str, OpInfo] = NAMES[PLUGIN_FORMAT_VERSION]
# Every instruction that pops a config and emits action[idx], in any readable format.
ACTION_OP_NAMES = frozenset({"ACTION", *FORMAT1_ACTION_TYPES})
JUMPS = {BY_NAME[n].code for n in ("JUMP", "JUMP_IF_FALSE", "JUMP_IF_TRUE")}
TERMINATORS = {BY_NAME["RET"].code, BY_NAME["HALT"].code}
ROUNDING_MODES = {0: "HALF_EVEN"}


def stack_effect(op: OpInfo, operands: tuple[int, ...]) -> tuple[int, int]:
    """(pops, pushes) of one instruction."""
    if op.pops >= 0:
        return op.pops, op.pushes
    if op.name in ("CALL_BUILTIN", "CALL_PLUGIN"):
        return operands[1], 1
    if op.name == "MAKE_CLOSURE":
        return operands[1], 1
    if op.name == "BUILD_OBJECT":
        return 2 * operands[0], 1
    return operands[0], 1  # BUILD_LIST, CONCAT


@dataclass(frozen=True, slots=True)
class Function:
    name: str  # "main", "let:x", "cond:y", "lambda@line:col"
    n_params: int
    n_captures: int
    max_stack: int
    code: bytes


@dataclass(frozen=True, slots=True)
class LineEntry:
    function: int
    offset: int
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class Program:
    """A decoded bytecode file. `metadata` is the rule's description as plain JSON;
    `version` the format version its code is written in."""

    metadata: dict[str, Any]
    constants: tuple[Any, ...]  # None, bool, Decimal, str
    functions: tuple[Function, ...]
    lines: tuple[LineEntry, ...]
    version: int = FORMAT_VERSION


# ------------------------------------------------------------------ encoding

_TAG_NULL, _TAG_FALSE, _TAG_TRUE, _TAG_DECIMAL, _TAG_STRING = range(5)


def _blob(data: bytes) -> bytes:
    return struct.pack("<I", len(data)) + data


def encode(program: Program) -> bytes:
    """The program's bytes, in its own format version (decode and encode are inverses)."""
    if program.version not in READABLE_VERSIONS:
        raise ValueError(f"format version {program.version} is not one of {READABLE_VERSIONS}")
    out = bytearray(MAGIC)
    out += struct.pack("<HH", program.version, 0)
    out += _blob(json.dumps(program.metadata, sort_keys=True, separators=(",", ":"),
                            ensure_ascii=False).encode())
    out += struct.pack("<I", len(program.constants))
    for c in program.constants:
        if c is None:
            out.append(_TAG_NULL)
        elif c is False:
            out.append(_TAG_FALSE)
        elif c is True:
            out.append(_TAG_TRUE)
        elif isinstance(c, Decimal):
            out.append(_TAG_DECIMAL)
            out += _blob(str(c).encode("ascii"))
        elif isinstance(c, str):
            out.append(_TAG_STRING)
            out += _blob(c.encode("utf-8"))
        else:
            raise TypeError(f"constant of type {type(c).__name__}")
    out += struct.pack("<I", len(program.functions))
    for f in program.functions:
        out += _blob(f.name.encode())
        out += struct.pack("<HHH", f.n_params, f.n_captures, f.max_stack)
        out += _blob(f.code)
    out += struct.pack("<I", len(program.lines))
    for e in program.lines:
        out += struct.pack("<IIII", e.function, e.offset, e.line, e.column)
    return bytes(out)


def bytecode_hash(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------------ decoding

class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise BytecodeError(f"truncated bytecode: {what} runs past the end at byte {self.pos}",
                                code="E_BYTECODE_TRUNCATED")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple[int, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def blob(self, what: str, limit: int = 16 * 1024 * 1024) -> bytes:
        (n,) = self.unpack("I", what + " length")
        if n > limit:
            raise BytecodeError(f"{what} of {n} bytes exceeds {limit}", code="E_BYTECODE_LIMIT")
        return self.take(n, what)

    def count(self, what: str, limit: int, item_bytes: int = 1) -> int:
        """A count of items that each take at least `item_bytes`: within `limit` and within
        the bytes left, so no count can allocate ahead of its data."""
        (n,) = self.unpack("I", what)
        if n > limit:
            raise BytecodeError(f"{what} {n} exceeds {limit}", code="E_BYTECODE_LIMIT")
        if n * item_bytes > len(self.data) - self.pos:
            raise BytecodeError(f"truncated bytecode: {what} {n} needs more than the "
                                f"{len(self.data) - self.pos} bytes left",
                                code="E_BYTECODE_TRUNCATED")
        return n


def decode(data: bytes) -> Program:
    """Bytes into a Program; structural errors raise BytecodeError (never anything else)."""
    if not isinstance(data, bytes | bytearray):
        raise BytecodeError("bytecode must be bytes", code="E_BYTECODE_FORMAT")
    r = _Reader(bytes(data))
    if r.take(4, "magic") != MAGIC:
        raise BytecodeError("not RTVM bytecode (bad magic)", code="E_BYTECODE_MAGIC")
    version, reserved = r.unpack("HH", "header")
    if version not in READABLE_VERSIONS:
        raise BytecodeError(f"bytecode format version {version} is not supported (this RTVM "
                            f"reads versions {', '.join(map(str, READABLE_VERSIONS))}); "
                            "recompile the rule", code="E_BYTECODE_VERSION")
    if reserved:
        raise BytecodeError("reserved header field must be 0", code="E_BYTECODE_FORMAT")
    try:
        metadata = json.loads(r.blob("metadata", MAX_METADATA_BYTES).decode("utf-8"),
                              parse_float=Decimal)
    except (UnicodeDecodeError, ValueError):
        raise BytecodeError("metadata is not UTF-8 JSON", code="E_BYTECODE_FORMAT") from None
    if not isinstance(metadata, dict):
        raise BytecodeError("metadata must be a JSON object", code="E_BYTECODE_FORMAT")
    constants: list[Any] = []
    for _ in range(r.count("constant count", MAX_CONSTANTS)):
        (tag,) = r.unpack("B", "constant tag")
        if tag == _TAG_NULL:
            constants.append(None)
        elif tag == _TAG_FALSE:
            constants.append(False)
        elif tag == _TAG_TRUE:
            constants.append(True)
        elif tag == _TAG_DECIMAL:
            raw = r.blob("decimal constant", 1024)
            try:
                d = Decimal(raw.decode("ascii"))
            except (UnicodeDecodeError, InvalidOperation):
                raise BytecodeError("malformed decimal constant", code="E_BYTECODE_CONST") from None
            problem = number_problem(d)
            if problem is not None:  # the bounds of a number literal in a rule
                raise BytecodeError(f"decimal constant {len(constants)}: {problem}",
                                    code="E_BYTECODE_CONST")
            constants.append(d)
        elif tag == _TAG_STRING:
            try:
                constants.append(r.blob("string constant").decode("utf-8"))
            except UnicodeDecodeError:
                raise BytecodeError("string constant is not UTF-8", code="E_BYTECODE_CONST") from None
        else:
            raise BytecodeError(f"unknown constant tag {tag}", code="E_BYTECODE_CONST")
    functions: list[Function] = []
    code_bytes = 0
    for _ in range(r.count("function count", MAX_FUNCTIONS, 14)):  # name/header/code sizes
        try:
            name = r.blob("function name", 1024).decode("utf-8")
        except UnicodeDecodeError:
            raise BytecodeError("function name is not UTF-8", code="E_BYTECODE_FORMAT") from None
        n_params, n_captures, max_stack = r.unpack("HHH", "function header")
        code = r.blob("function code", MAX_CODE_BYTES - code_bytes)
        code_bytes += len(code)
        functions.append(Function(name, n_params, n_captures, max_stack, code))
    # at most one line entry per instruction, so no more entries than code bytes
    lines = [LineEntry(*r.unpack("IIII", "line entry"))
             for _ in range(r.count("line table size", code_bytes, 16))]
    if r.pos != len(r.data):
        raise BytecodeError(f"{len(r.data) - r.pos} trailing bytes after the line table",
                            code="E_BYTECODE_FORMAT")
    return Program(metadata, tuple(constants), tuple(functions), tuple(lines), version)


def iter_instructions(code: bytes, version: int = FORMAT_VERSION
                      ) -> list[tuple[int, OpInfo, tuple[int, ...]]]:
    """(offset, op, operands) for each instruction of a format `version` function;
    unknown opcodes and truncation raise."""
    ops = OPCODES[version]
    out = []
    pos = 0
    while pos < len(code):
        op = ops.get(code[pos])
        if op is None:
            raise BytecodeError(f"unknown opcode 0x{code[pos]:02x} at offset {pos} (format "
                                f"{version})", code="E_BYTECODE_OPCODE")
        size = struct.calcsize("<" + op.operands) if op.operands else 0
        if pos + 1 + size > len(code):
            raise BytecodeError(f"{op.name} at offset {pos} is missing its operands",
                                code="E_BYTECODE_TRUNCATED")
        operands = struct.unpack("<" + op.operands, code[pos + 1:pos + 1 + size]) if size else ()
        out.append((pos, op, operands))
        pos += 1 + size
    return out
