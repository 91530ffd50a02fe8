"""Fuzzing the external boundaries: bytecode loader, expression parser, rule compiler.

The property everywhere: a clean ARKA error or success, never another exception, never a hang.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import arka
from arka.base.errors import ArkaError, BytecodeError, CompileError
from arka.lang.parser import Origin, SyntaxFault, parse_expression
from arka.rtvm.loader import load
from arka.rtvm.vm import Limits
from tests.helpers import DEFAULT_CONTEXT, EXAMPLES

VALID = [arka.compile_file(p).bytecode for p in sorted((EXAMPLES / "rules").glob("*.yaml"))
         if ".test." not in p.name]
SMALL = Limits(max_instructions=20_000, max_execution_time=2.0, max_heap_size=1_000_000)


@given(st.binary(max_size=512))
def test_random_bytes_never_crash_the_loader(data: bytes) -> None:
    try:
        load(data)
    except BytecodeError:
        pass


@given(st.binary(max_size=64).map(lambda b: b"RTVM\x01\x00\x00\x00" + b))
def test_random_bytes_after_a_valid_header(data: bytes) -> None:
    try:
        load(data)
    except BytecodeError:
        pass


@given(st.sampled_from(VALID), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)),
                                        min_size=1, max_size=4),
       st.sampled_from(["flip", "truncate", "insert"]))
def test_mutated_bytecode_loads_or_fails_cleanly_and_runs_safely(
        data: bytes, edits: list[tuple[int, int]], mode: str) -> None:
    buf = bytearray(data)
    for pos, value in edits:
        pos %= len(buf)
        if mode == "flip":
            buf[pos] = value
        elif mode == "truncate":
            del buf[pos:]
            break
        else:
            buf.insert(pos, value)
    try:
        rule = arka.load_bytecode(bytes(buf))
    except BytecodeError:
        return
    inp = {"transaction": {"id": "t", "amount": 15000, "currency": "USD", "type": "cash"},
           "customer": {"id": "c", "risk_score": 80, "pep": True, "country": "IR"}}
    try:
        arka.RuleSet([rule], limits=SMALL).evaluate(inp, DEFAULT_CONTEXT)
    except ArkaError:
        pass


EXPRESSION_ALPHABET = st.sampled_from(list("abcxyz0123456789 .,()[]{}+-*/%<>=!'\"$:#\n\\_") +
                                      ["AND", "OR", "NOT", "if", "then", "else", "case", "when",
                                       "end", "=>", "in", "null", "true", "x.items", "sum("])


@given(st.lists(EXPRESSION_ALPHABET, max_size=40).map("".join))
def test_random_text_through_the_parser(text: str) -> None:
    try:
        parse_expression(text, Origin("fuzz"))
    except SyntaxFault:
        pass


@given(st.text(max_size=300))
def test_random_unicode_through_the_parser(text: str) -> None:
    try:
        parse_expression(text, Origin("fuzz"))
    except SyntaxFault:
        pass


SEED = (EXAMPLES / "rules" / "structuring-detection.yaml").read_text()


@given(st.integers(0, len(SEED) - 1), st.integers(0, 20), st.text(max_size=8))
def test_mutated_rule_files_compile_or_report(pos: int, cut: int, insert: str) -> None:
    text = SEED[:pos] + insert + SEED[pos + cut:]
    try:
        arka.compile_rule(text, "fuzz.yaml")
    except CompileError as exc:
        assert exc.diagnostics
        for d in exc.diagnostics:
            assert d.span.line >= 1 and d.span.column >= 1, d
        exc.render()


@given(st.text(max_size=200))
def test_random_text_as_a_rule_file(text: str) -> None:
    try:
        arka.compile_rule(text, "fuzz.yaml")
    except CompileError:
        pass


def test_deeply_nested_yaml_is_rejected_cleanly(tmp_path: Path) -> None:
    text = "rule: " + "[" * 5000 + "]" * 5000
    try:
        arka.compile_rule(text, "deep.yaml")
    except CompileError as exc:
        assert exc.diagnostics[0].code in ("E_YAML",)
