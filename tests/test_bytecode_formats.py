"""Bytecode format versions: every rule compiles to the current format and runs the same on
every executor; format 1 files (tests/fixtures/bytecode_v1) still load, keep their hash
and give the results they always gave; malformed action instructions are load errors."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest

import arka
from arka.base import values as V
from arka.base.errors import BytecodeError, InputError
from arka.engine import RuleSet
from arka.rtvm import bytecode as bc
from arka.rtvm.disasm import disassemble
from arka.rtvm.loader import load
from arka.rules.source import load_document
from arka.testing import load_tests
from tests.helpers import DEFAULT_CONTEXT, EXAMPLES, EXECUTORS, expression_rule

V1 = Path(__file__).parent / "fixtures" / "bytecode_v1"
CASES_DIR = Path(__file__).parent / "cases"
EXPECTED_V1 = json.loads((V1 / "expected.json").read_text(encoding="utf-8"))


def _dump(value: Any) -> str:
    """The JSON text of a result, keys in their own order (the order is part of the hash)."""
    return json.dumps(value, ensure_ascii=False)


def _comparable(res: arka.EvaluationResult) -> dict[str, Any]:
    """An evaluation's JSON without what names the program's bytes or the engine build."""
    out = res.to_dict(timing=False)
    meta = out["metadata"]
    meta.pop("engine_version")
    meta["rules"] = [{k: v for k, v in r.items() if k != "bytecode_hash"} for r in meta["rules"]]
    return out


# ----------------------------------------------------------------- every rule, format 2

def _rule_evaluations() -> list[Any]:
    """(rule source, file, [(input, context)], tables?) for every example rule and every
    case of tests/cases that compiles (expression cases inside their generated rule)."""
    out = []
    for path in sorted((EXAMPLES / "rules").glob("*.yaml")):
        if ".test." in path.name:
            continue
        tests = load_tests(path.with_name(path.stem + ".test.yaml"))
        runs = [(V.to_json(t.input), t.context or DEFAULT_CONTEXT) for t in tests]
        out.append(pytest.param(path.read_text(encoding="utf-8"), path.name, runs, True,
                                id=f"examples/{path.stem}"))
    for path in sorted(CASES_DIR.rglob("*.yaml")):
        doc = load_document(path.read_text(encoding="utf-8"), str(path)).plain()
        for case in doc["cases"]:
            if "expect_errors" in case or "expect_compile" in case:
                continue
            if "rule" not in case:
                case = case | {"rule": expression_rule(case["expr"], list(case.get("input", {})))}
            runs = [(V.to_json(case.get("input", {})), case.get("context", DEFAULT_CONTEXT))]
            out.append(pytest.param(case["rule"], "case.yaml", runs, bool(case.get("tables")),
                                    id=f"{path.relative_to(CASES_DIR).with_suffix('')}:"
                                       f"{case['name']}"))
    return out


RULES = _rule_evaluations()
TABLES = arka.load_tables([EXAMPLES / "tables"])


def test_there_are_rules_to_check() -> None:
    assert len(RULES) >= 150


@pytest.mark.parametrize(("source", "file", "runs", "tables"), RULES)
def test_rule_compiles_to_the_current_format_and_runs_alike_everywhere(
        source: str, file: str, runs: list[Any], tables: bool) -> None:
    compiled = arka.compile_rule(source, file)
    data = compiled.bytecode
    assert struct.unpack("<H", data[4:6])[0] == bc.FORMAT_VERSION == compiled.program.version
    assert compiled.program.metadata["format"] == bc.FORMAT_VERSION
    ops = [ins.op for fn in compiled.program.functions for ins in fn.code]
    assert not set(ops) & set(bc.FORMAT1_ACTION_TYPES)
    assert ops.count("ACTION") == len(compiled.program.metadata["actions"])
    assert bc.encode(bc.decode(data)) == data
    ruleset = RuleSet([compiled], TABLES if tables else None)
    for inp, ctx in runs:
        for trace in ("none", "basic"):
            outputs = {ex: _outcome(ruleset, inp, ctx, trace, ex) for ex in EXECUTORS}
            assert len(set(outputs.values())) == 1, (trace, outputs)


def _outcome(ruleset: RuleSet, inp: Any, ctx: Any, trace: str, executor: str) -> str:
    try:
        return _dump(_comparable(ruleset.evaluate(inp, ctx, trace=trace, executor=executor)))
    except InputError as exc:
        return _dump(exc.to_dict())


# ----------------------------------------------------------------- format 1 files

V1_FILES = sorted(EXPECTED_V1["rules"])


def test_the_fixtures_cover_every_format_1_action_opcode() -> None:
    seen: set[str] = set()
    for name in V1_FILES:
        program = bc.decode((V1 / name).read_bytes())
        for fn in program.functions:
            seen |= {op.name for _, op, _ in bc.iter_instructions(fn.code, program.version)}
    assert set(bc.FORMAT1_ACTION_TYPES) <= seen
    assert EXPECTED_V1["engine_version"].endswith("rtvm/1")


@pytest.mark.parametrize("name", V1_FILES)
def test_format_1_file_loads_with_its_recorded_hash(name: str) -> None:
    data = (V1 / name).read_bytes()
    assert struct.unpack("<H", data[4:6])[0] == 1
    rule = arka.load_bytecode(data)
    assert rule.program.version == 1
    recorded = EXPECTED_V1["rules"][name]
    assert rule.bytecode_hash == "sha256:" + hashlib.sha256(data).hexdigest()
    assert rule.bytecode_hash == recorded["bytecode_hash"]
    assert (rule.name, rule.version) == (recorded["rule"], recorded["version"])
    assert rule.bytecode == data
    assert bc.encode(bc.decode(data)) == data  # decode and encode keep the old format
    text = disassemble(rule.program)
    assert "; format 1," in text
    assert not any(line.split()[1:2] == ["ACTION"] for line in text.splitlines())
    assert RuleSet([rule])._infos[0].fast is not None  # the fast path takes old programs too


def _v1_rule(stem: str) -> arka.CompiledRule:
    return arka.load_bytecode((V1 / f"{stem}.rtvm").read_bytes())


V1_TABLES = arka.load_tables([V1 / "tables"])


@pytest.mark.parametrize("case", EXPECTED_V1["cases"], ids=lambda c: f"{c['file']}:{c['name']}")
def test_format_1_file_evaluates_as_it_did_and_as_its_recompiled_source(
        case: dict[str, Any]) -> None:
    stem = case["file"].split(".")[0]
    old = RuleSet([_v1_rule(stem)], V1_TABLES)
    new = RuleSet([arka.compile_file(V1 / "rules" / f"{stem}.yaml")], V1_TABLES)
    assert new.rules[0].program.version == bc.FORMAT_VERSION
    inp, ctx = case["input"], case["context"]
    for executor in ("vm", "interpreter"):
        res = old.evaluate(inp, ctx, trace="basic", executor=executor).to_dict(timing=False)
        recorded = case[executor]
        for key in ("result", "rule_results", "trace"):
            assert _dump(res[key]) == _dump(recorded[key]), (executor, key)
        # the same bytes, so the same hash in what the proof covers
        assert [r["bytecode_hash"] for r in res["metadata"]["rules"]] == \
            [EXPECTED_V1["rules"][f"{stem}.rtvm"]["bytecode_hash"]]
    for executor in EXECUTORS:
        a = old.evaluate(inp, ctx, trace="basic", executor="vm")
        b = new.evaluate(inp, ctx, trace="basic", executor=executor)
        assert _dump(_comparable(a)) == _dump(_comparable(b)), executor
    full = old.evaluate(inp, ctx, trace="full", executor="interpreter").to_dict(timing=False)
    text = json.dumps(full["trace"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert "sha256:" + hashlib.sha256(text.encode()).hexdigest() == case["full_trace"]


def test_full_traces_of_both_formats_differ_only_in_the_action_opcode() -> None:
    case = next(c for c in EXPECTED_V1["cases"] if c["file"].startswith("enhanced"))
    old = RuleSet([_v1_rule("enhanced-due-diligence")], V1_TABLES)
    new = RuleSet([arka.compile_file(V1 / "rules" / "enhanced-due-diligence.yaml")], V1_TABLES)
    a = old.evaluate(case["input"], case["context"], trace="full", executor="interpreter").trace
    b = new.evaluate(case["input"], case["context"], trace="full", executor="interpreter").trace
    assert a is not None and b is not None
    events_a, events_b = a[0]["events"], b[0]["events"]
    assert len(events_a) == len(events_b)
    renamed = 0
    for x, y in zip(events_a, events_b, strict=True):
        if x.get("op") in bc.FORMAT1_ACTION_TYPES:
            assert y["op"] == "ACTION"
            x = x | {"op": "ACTION"}
            renamed += 1
        assert x == y
    assert renamed >= 3


# ----------------------------------------------------------------- malformed action code

def _program(version: int = bc.FORMAT_VERSION) -> bc.Program:
    if version == 1:
        return bc.decode((V1 / "ctr-threshold-flag.rtvm").read_bytes())
    return bc.decode(arka.compile_file(EXAMPLES / "rules" / "ctr-threshold-flag.yaml").bytecode)


def _op(name: str, *operands: int, version: int = bc.FORMAT_VERSION) -> bytes:
    info = bc.NAMES[version][name]
    return bytes([info.code]) + (struct.pack("<" + info.operands, *operands) if info.operands
                                 else b"")


def _replace_action_ops(prog: bc.Program, new: bytes) -> bytes:
    """The program with its first action instruction's bytes replaced by `new`."""
    main = prog.functions[0]
    for off, op, _ in bc.iter_instructions(main.code, prog.version):
        if op.name in bc.ACTION_OP_NAMES:
            code = main.code[:off] + new + main.code[off + 3:]
            fns = (dataclasses.replace(main, code=code),) + prog.functions[1:]
            return bc.encode(dataclasses.replace(prog, functions=fns))
    raise AssertionError("no action instruction")


def _with_metadata(prog: bc.Program, **changes: Any) -> bytes:
    return bc.encode(dataclasses.replace(prog, metadata=prog.metadata | changes))


def _retyped(prog: bc.Program, index: int, atype: str) -> bytes:
    actions = [dict(a) for a in prog.metadata["actions"]]
    actions[index]["type"] = atype
    return _with_metadata(prog, actions=actions)


MALFORMED = {
    "ACTION index past the metadata's actions": (
        lambda: _replace_action_ops(_program(), _op("ACTION", 7)), "E_BYTECODE_OPERAND",
        "ACTION action index 7 out of range (2 actions in the metadata)"),
    "ACTION of an action type the registry does not know": (
        lambda: _retyped(_program(), 0, "teleport"), "E_BYTECODE_METADATA",
        "action 0 has unknown type 'teleport'"),
    "ACTION in a format 1 file": (
        lambda: _replace_action_ops(_program(1), _op("ACTION", 0)), "E_BYTECODE_OPCODE",
        "unknown opcode 0x69"),
    "a format 1 action opcode in a format 2 file": (
        lambda: _replace_action_ops(_program(), _op("FLAG", 0, version=1)), "E_BYTECODE_OPCODE",
        "unknown opcode 0x62"),
    "format 1 opcode of another type than its action": (
        lambda: _replace_action_ops(_program(1), _op("BLOCK", 0, version=1)),
        "E_BYTECODE_OPERAND", "BLOCK emits a block action, but action 0's type is flag"),
    "format 1 metadata retyping an action its opcode fixes": (
        lambda: _retyped(_program(1), 0, "annotate"), "E_BYTECODE_OPERAND",
        "FLAG emits a flag action, but action 0's type is annotate"),
    "format 1 action opcode index past the metadata's actions": (
        lambda: _replace_action_ops(_program(1), _op("FLAG", 9, version=1)),
        "E_BYTECODE_OPERAND", "FLAG action index 9 out of range"),
    "metadata format differs from the header": (
        lambda: _with_metadata(_program(), format=1), "E_BYTECODE_METADATA",
        "format 1 differs from the header's version 2"),
    "unsupported version": (
        lambda: bc.encode(_program())[:4] + struct.pack("<H", 4) + bc.encode(_program())[6:],
        "E_BYTECODE_VERSION", "reads versions 1, 2, 3"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_action_code_is_rejected(name: str) -> None:
    make, code, message = MALFORMED[name]
    with pytest.raises(BytecodeError) as info:
        load(make())
    assert info.value.code == code, info.value.message
    assert message in info.value.message


def test_action_outside_main_is_rejected() -> None:
    prog = _program()
    fi = next(i for i, f in enumerate(prog.functions) if f.name.startswith("let:"))
    fns = list(prog.functions)
    fns[fi] = dataclasses.replace(fns[fi], code=_op("CONST", 0) + _op("ACTION", 0) +
                                  _op("CONST", 0) + _op("RET"), max_stack=1)
    data = bc.encode(dataclasses.replace(prog, functions=tuple(fns),
                                         lines=tuple(e for e in prog.lines if e.function != fi)))
    with pytest.raises(BytecodeError) as info:
        load(data)
    assert info.value.code == "E_BYTECODE_OPERAND"
    assert "ACTION outside the main function" in info.value.message


def test_encode_refuses_an_unknown_version() -> None:
    with pytest.raises(ValueError):
        bc.encode(dataclasses.replace(_program(), version=9))
