"""Bytecode format: round trips, golden disassembly, and the loader's rejections."""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import pytest

import arka
from arka.base.errors import BytecodeError
from arka.rtvm import bytecode as bc
from arka.rtvm.disasm import disassemble
from arka.rtvm.loader import load
from tests.helpers import EXAMPLES

GOLDEN = Path(__file__).parent / "golden"


def _examples() -> list[Path]:
    return [p for p in sorted((EXAMPLES / "rules").glob("*.yaml")) if ".test." not in p.name]


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.stem)
def test_decode_encode_round_trip(path: Path) -> None:
    compiled = arka.compile_file(path)
    assert bc.encode(bc.decode(compiled.bytecode)) == compiled.bytecode


@pytest.mark.parametrize("path", _examples(), ids=lambda p: p.stem)
def test_golden_disassembly(path: Path, update_golden: bool) -> None:
    text = disassemble(arka.compile_file(path).program)
    golden = GOLDEN / f"{path.stem}.disasm"
    if update_golden:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), "run pytest --update-golden to create golden files"
    assert text == golden.read_text(), "disassembly changed; review and run --update-golden"


def test_loaded_bytecode_evaluates_like_source() -> None:
    path = EXAMPLES / "rules" / "ctr-threshold-flag.yaml"
    src = arka.compile_file(path)
    loaded = arka.load_bytecode(src.bytecode)
    tables = arka.load_tables([EXAMPLES / "tables"])
    inp = {"transaction": {"id": "t", "amount": 12000, "currency": "EUR", "type": "cash"}}
    ctx = {"jurisdiction": "US", "timestamp": "2024-03-01T00:00:00Z"}
    a = arka.RuleSet([src], tables).evaluate(inp, ctx).to_dict(timing=False)
    b = arka.RuleSet([loaded], tables).evaluate(inp, ctx).to_dict(timing=False)
    assert a == b


def test_bytecode_hash_format() -> None:
    compiled = arka.compile_file(_examples()[0])
    assert compiled.bytecode_hash.startswith("sha256:") and len(compiled.bytecode_hash) == 71


# ----------------------------------------------------------------- loader rejections

def _program() -> bc.Program:
    return bc.decode(arka.compile_file(EXAMPLES / "rules" / "ctr-threshold-flag.yaml").bytecode)


def _with_code(prog: bc.Program, fi: int, code: bytes, max_stack: int | None = None) -> bytes:
    fns = list(prog.functions)
    fns[fi] = dataclasses.replace(fns[fi], code=code,
                                  max_stack=fns[fi].max_stack if max_stack is None else max_stack)
    lines = tuple(e for e in prog.lines if e.function != fi)
    return bc.encode(dataclasses.replace(prog, functions=tuple(fns), lines=lines))


def op(name: str, *operands: int) -> bytes:
    info = bc.BY_NAME[name]
    return bytes([info.code]) + (struct.pack("<" + info.operands, *operands) if info.operands else b"")


def _let_fn(prog: bc.Program) -> int:
    return next(i for i, f in enumerate(prog.functions) if f.name.startswith("let:"))


REJECTIONS = {
    "unknown opcode": (lambda p: _with_code(p, _let_fn(p), b"\xee" + op("RET")), "E_BYTECODE_OPCODE"),
    "truncated operand": (lambda p: _with_code(p, _let_fn(p), op("CONST", 0)[:3]), "E_BYTECODE_TRUNCATED"),
    "constant out of range": (lambda p: _with_code(p, _let_fn(p), op("CONST", 9999) + op("RET"), 1),
                              "E_BYTECODE_CONST"),
    "field name not a string": (lambda p: _with_code(
        p, _let_fn(p), op("LOAD_CONTEXT") + op("GET_FIELD", next(i for i, c in enumerate(p.constants) if not isinstance(c, str))) + op("RET"), 1),
        "E_BYTECODE_CONST"),
    "stack underflow": (lambda p: _with_code(p, _let_fn(p), op("ADD") + op("RET"), 1), "E_BYTECODE_STACK"),
    "jump out of range": (lambda p: _with_code(p, _let_fn(p), op("JUMP", 500) + op("RET")), "E_BYTECODE_JUMP"),
    "jump into an instruction": (lambda p: _with_code(
        p, _let_fn(p), op("CONST", 0) + op("JUMP", 2) + op("RET"), 1), "E_BYTECODE_JUMP"),
    "falls off the end": (lambda p: _with_code(p, _let_fn(p), op("CONST", 0)), "E_BYTECODE_FLOW"),
    "ret with extra values": (lambda p: _with_code(p, _let_fn(p), op("CONST", 0) + op("CONST", 0)
                                                   + op("RET"), 2), "E_BYTECODE_FLOW"),
    "inconsistent merge depth": (lambda p: _with_code(
        p, _let_fn(p), op("CONST", 0) + op("JUMP_IF_FALSE", 20) + op("CONST", 0) + op("CONST", 0)
        + op("CONST", 0) + op("RET"), 2), "E_BYTECODE_STACK"),
    "declared max stack wrong": (lambda p: _with_code(p, _let_fn(p), op("CONST", 0) + op("RET"), 7),
                                 "E_BYTECODE_STACK"),
    "local out of range": (lambda p: _with_code(p, _let_fn(p), op("LOAD_LOCAL", 3) + op("RET"), 1),
                           "E_BYTECODE_LOCAL"),
    "unknown builtin": (lambda p: _with_code(p, _let_fn(p), op("CALL_BUILTIN", 999, 0) + op("RET"), 1),
                        "E_BYTECODE_BUILTIN"),
    "builtin arity": (lambda p: _with_code(p, _let_fn(p), op("CALL_BUILTIN", 0, 0) + op("RET"), 1),
                      "E_BYTECODE_BUILTIN"),
    "memo call to main": (lambda p: _with_code(p, _let_fn(p), op("CALL_MEMO", 0) + op("RET"), 1),
                          "E_BYTECODE_CALL"),
    "memo cycle": (lambda p: _with_code(p, _let_fn(p), op("CALL_MEMO", _let_fn(p)) + op("RET"), 1),
                   "E_BYTECODE_CYCLE"),
    "halt outside main": (lambda p: _with_code(p, _let_fn(p), op("HALT")), "E_BYTECODE_FLOW"),
    "division scale too large": (lambda p: _with_code(
        p, _let_fn(p), op("CONST", 0) + op("CONST", 0) + op("DIV", 39, 0) + op("RET"), 2),
        "E_BYTECODE_OPERAND"),
    "action op in a let": (lambda p: _with_code(p, _let_fn(p), op("CONST", 0) + op("ACTION", 0)
                                                 + op("CONST", 0) + op("RET"), 1),
                           "E_BYTECODE_OPERAND"),
    "bad magic": (lambda p: b"XXXX" + bc.encode(p)[4:], "E_BYTECODE_MAGIC"),
    "future version": (lambda p: bc.encode(p)[:4] + struct.pack("<H", 99) + bc.encode(p)[6:],
                       "E_BYTECODE_VERSION"),
    "trailing bytes": (lambda p: bc.encode(p) + b"\x00", "E_BYTECODE_FORMAT"),
    "truncated file": (lambda p: bc.encode(p)[:-3], "E_BYTECODE_TRUNCATED"),
    "metadata not json": (lambda p: bc.encode(p)[:8] + struct.pack("<I", 3) + b"{{{" +
                          bc.encode(p)[12 + struct.unpack("<I", bc.encode(p)[8:12])[0]:],
                          "E_BYTECODE_FORMAT"),
    "metadata without rule": (lambda p: bc.encode(dataclasses.replace(p, metadata={"x": 1})),
                              "E_BYTECODE_METADATA"),
    "empty": (lambda p: b"", "E_BYTECODE_TRUNCATED"),
}


@pytest.mark.parametrize("name", sorted(REJECTIONS))
def test_loader_rejects(name: str) -> None:
    make, code = REJECTIONS[name]
    data = make(_program())
    with pytest.raises(BytecodeError) as info:
        load(data)
    assert info.value.code == code, info.value.message
