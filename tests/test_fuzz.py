"""Fuzzing the external boundaries: bytecode loader, expression parser, rule compiler.

The property everywhere: a clean ARKA error or success, never another exception, never a hang
(each example runs under a hard time bound, `HOSTILE_SECONDS`).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import arka
from arka.base.errors import ArkaError, BytecodeError, CompileError
from arka.lang.parser import Origin, SyntaxFault, parse_expression
from arka.rtvm.loader import load
from arka.rtvm.vm import Limits
from arka.rules.actions import DECISIONS
from tests.helpers import DEFAULT_CONTEXT, EXAMPLES
from tests.timeouts import within

VALID = [arka.compile_file(p).bytecode for p in sorted((EXAMPLES / "rules").glob("*.yaml"))
         if ".test." not in p.name]
SMALL = Limits(max_instructions=20_000, max_execution_time=2.0, max_heap_size=1_000_000)
HOSTILE_SECONDS = 5.0


def _loads_or_rejects(data: bytes) -> None:
    with within(HOSTILE_SECONDS):
        try:
            load(data)
        except BytecodeError as exc:
            assert exc.code.startswith("E_BYTECODE"), exc.code
            assert str(exc)


@given(st.binary(max_size=512))
def test_random_bytes_never_crash_the_loader(data: bytes) -> None:
    _loads_or_rejects(data)


@given(st.binary(max_size=64).map(lambda b: b"RTVM\x01\x00\x00\x00" + b))
def test_random_bytes_after_a_valid_header(data: bytes) -> None:
    _loads_or_rejects(data)


def test_the_loader_rejects_what_is_not_bytecode() -> None:
    for data in (b"", b"RTVM", b"RTVM\x01\x00\x00\x00", b"\x00" * 64, VALID[0][:-1]):
        with pytest.raises(BytecodeError) as info:
            load(data)
        assert info.value.code.startswith("E_BYTECODE"), (data, info.value.code)


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
    with within(HOSTILE_SECONDS):
        try:
            rule = arka.load_bytecode(bytes(buf))
        except BytecodeError as exc:
            assert exc.code.startswith("E_BYTECODE"), exc.code
            return
        inp = {"transaction": {"id": "t", "amount": 15000, "currency": "USD", "type": "cash"},
               "customer": {"id": "c", "risk_score": 80, "pep": True, "country": "IR"}}
        try:
            result = arka.RuleSet([rule], limits=SMALL).evaluate(inp, DEFAULT_CONTEXT)
        except ArkaError as exc:
            assert exc.code.startswith("E_"), exc.code
            return
    # Bytecode that loads runs to a decision; a rule that cannot finish fails closed.
    assert result.decision in DECISIONS, result.decision


EXPRESSION_ALPHABET = st.sampled_from(list("abcxyz0123456789 .,()[]{}+-*/%<>=!'\"$:#\n\\_") +
                                      ["AND", "OR", "NOT", "if", "then", "else", "case", "when",
                                       "end", "=>", "in", "null", "true", "x.items", "sum("])


def _parses_or_reports(text: str) -> None:
    with within(HOSTILE_SECONDS):
        try:
            parse_expression(text, Origin("fuzz"))
        except SyntaxFault as fault:
            assert fault.code in ("E_SYNTAX", "E_NESTING", "E_TOO_LARGE"), fault.code
            assert 0 <= fault.offset <= len(text), (fault.offset, len(text))


@given(st.lists(EXPRESSION_ALPHABET, max_size=40).map("".join))
def test_random_text_through_the_parser(text: str) -> None:
    _parses_or_reports(text)


@given(st.text(max_size=300))
def test_random_unicode_through_the_parser(text: str) -> None:
    _parses_or_reports(text)


SEED = (EXAMPLES / "rules" / "structuring-detection.yaml").read_text()


@given(st.integers(0, len(SEED) - 1), st.integers(0, 20), st.text(max_size=8))
def test_mutated_rule_files_compile_or_report(pos: int, cut: int, insert: str) -> None:
    text = SEED[:pos] + insert + SEED[pos + cut:]
    _compiles_or_reports(text)


def _compiles_or_reports(text: str) -> None:
    with within(HOSTILE_SECONDS):
        try:
            arka.compile_rule(text, "fuzz.yaml")
        except CompileError as exc:
            assert exc.diagnostics
            for d in exc.diagnostics:
                assert d.code.startswith("E_") and d.message, d
                assert d.span.file == "fuzz.yaml" and d.span.line >= 1 and d.span.column >= 1, d
            assert exc.render()


@given(st.text(max_size=200))
def test_random_text_as_a_rule_file(text: str) -> None:
    _compiles_or_reports(text)


@pytest.mark.parametrize("text", ["rule: " + "[" * 5000 + "]" * 5000,
                                  "rule: " + "{a: " * 5000 + "1" + "}" * 5000,
                                  "rule:\n" + "".join("  " * i + "a:\n" for i in range(1, 200))])
def test_deeply_nested_yaml_is_rejected_cleanly(text: str) -> None:
    with within(HOSTILE_SECONDS), pytest.raises(CompileError) as info:
        arka.compile_rule(text, "deep.yaml")
    first = info.value.diagnostics[0]
    assert first.code in ("E_YAML", "E_NESTING"), first
    assert first.span.file == "deep.yaml" and first.span.line >= 1, first
