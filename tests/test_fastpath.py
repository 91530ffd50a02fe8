"""The fast path: it is used for compiled rules, falls back cleanly, and matches the
interpreter (the bulk of the agreement checks is in test_differential and test_cases)."""

from __future__ import annotations

import dataclasses
import struct
from decimal import Decimal

import pytest

import arka
from arka.base.errors import CompileError
from arka.rtvm import bytecode as bc
from arka.rtvm.fastpath import translate
from arka.rtvm.loader import load
from arka.rtvm.vm import Limits
from tests.helpers import DEFAULT_CONTEXT, EXAMPLES


def op(name: str, *operands: int) -> bytes:
    info = bc.BY_NAME[name]
    return bytes([info.code]) + (struct.pack("<" + info.operands, *operands) if info.operands else b"")


def test_every_example_rule_takes_the_fast_path() -> None:
    rules = arka.load_rules([EXAMPLES / "rules"])
    for info in arka.RuleSet(rules)._infos:
        assert info.fast is not None, info.name


def test_unstructured_bytecode_falls_back_to_the_interpreter() -> None:
    compiled = arka.compile_rule(
        "rule:\n  metadata: {name: r, version: 1.0.0}\n  conditions:\n"
        "    - {id: c, expression: 'true'}\n  actions:\n"
        "    - {trigger: c, type: flag, config: {severity: low, category: X}}\n", "r.yaml")
    prog = bc.decode(compiled.bytecode)
    main = prog.functions[0]
    # Prepend an unconditional jump over a dead instruction: valid bytecode, but not a
    # shape the compiler emits.
    skip = op("JUMP", 6) + op("POP")
    shifted = _shift_jumps(main.code, len(skip))
    fns = (dataclasses.replace(main, code=skip + shifted),) + prog.functions[1:]
    data = bc.encode(dataclasses.replace(prog, functions=fns, lines=()))
    loaded = load(data)
    assert translate(loaded, Limits()) is None
    rule = arka.load_bytecode(data)
    res = arka.RuleSet([rule]).evaluate({}, DEFAULT_CONTEXT)
    assert res.result["flags"][0]["category"] == "X"


def _shift_jumps(code: bytes, by: int) -> bytes:
    out = bytearray()
    for _, info, operands in bc.iter_instructions(code):
        if info.code in bc.JUMPS:
            operands = (operands[0] + by,)
        out += op(info.name, *operands)
    return bytes(out)


def test_runtime_errors_on_the_fast_path_report_source_positions() -> None:
    compiled = arka.compile_rule(
        "rule:\n  metadata: {name: r, version: 1.0.0}\n  inputs: [{name: t}]\n"
        "  conditions:\n    - {id: c, expression: 't.a / t.b > 1'}\n", "pos.yaml")
    res = arka.RuleSet([compiled]).evaluate({"t": {"a": 1, "b": 0}}, DEFAULT_CONTEXT)
    err = res.rule_results[0]["error"]
    assert (err["code"], err["line"], err["column"]) == ("E_DIVISION_BY_ZERO", 5, 32)


def test_compile_expression() -> None:
    e = arka.compile_expression("sum(tx.items, i => i.amount) >= limit")
    assert e.names == ("limit", "tx")
    assert e.evaluate({"tx": {"items": [{"amount": 4}, {"amount": 7}]}, "limit": 10}) is True
    assert e.evaluate({"tx": {"items": []}, "limit": 10}) is False
    assert arka.compile_expression("1 / 3").evaluate() == Decimal("0.333333333333333333")
    now = arka.compile_expression("now()").evaluate(context={"timestamp": "2024-01-01T00:00:00Z"})
    assert now.year == 2024


def test_compile_expression_errors() -> None:
    with pytest.raises(CompileError) as info:
        arka.compile_expression("1 +")
    assert info.value.diagnostics[0].code == "E_SYNTAX"
    with pytest.raises(CompileError) as info:
        arka.compile_expression("'a' - 1")
    assert info.value.diagnostics[0].code == "E_TYPE"
    with pytest.raises(arka.EvalError):
        arka.compile_expression("x / 0").evaluate({"x": 1})
