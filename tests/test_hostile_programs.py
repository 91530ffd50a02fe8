"""Hostile rule programs, generated: deep nesting of every construct, long chains of every
operator, mixed chains, long chains of lets. Each must give a clean positioned E_NESTING
(deeper than 64 levels) or compile and evaluate correctly (runs of one operator level,
which are one level however long) within a time bound, the same way through the Python
API, the real server (validate and deploy: 400 and nothing stored, never 500) and the
CLI (`rule validate`, `rule test`).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import arka
from arka.base.errors import CompileError
from arka.compiler.check import MAX_DEFINITION_CHAIN
from arka.lang.parser import MAX_NESTING
from tests.helpers import DEFAULT_CONTEXT, EXECUTORS
from tests.live_server import CLI, MB, LiveServer, live_server
from tests.timeouts import within

SECONDS = 10.0  # per program, through any path, on a loaded 2-core machine
EXPR_LINE = 9   # where `program()` puts the expression (column EXPR_COLUMN)
EXPR_COLUMN = 7

# Constructs that nest one level per unit (a few nest more: `levels`), as text around `x`.
NESTED: dict[str, tuple[int, Callable[[int], str]]] = {
    "field": (1, lambda n: "x" + ".a" * n),
    "index": (1, lambda n: "x" + "[0]" * n),
    "method": (1, lambda n: "x" + ".filter(v => true)" * n),
    "method_mixed": (1, lambda n: "x" + "".join((".filter(v => true)", ".map(v => v)",
                                                  "[0]", ".a")[i % 4] for i in range(n))),
    "not": (1, lambda n: "NOT " * n + "true"),
    "negate": (1, lambda n: "-" * n + "x"),
    "parentheses": (1, lambda n: "(" * n + "x" + ")" * n),
    "list": (1, lambda n: "[" * n + "x" + "]" * n),
    "object": (1, lambda n: "{a: " * n + "x" + "}" * n),
    "call": (1, lambda n: "abs(" * n + "1" + ")" * n),
    "lambda": (2, lambda n: "x.map(v => " * n + "v" + ")" * n),
    "if_else": (1, lambda n: "if x == 1 then 1 else " * n + "2"),
    "if_condition": (1, lambda n: "if " * n + "true" + " then true else false" * n),
    "case": (1, lambda n: "case when true then " * n + "1" + " end" * n),
    "right_nested_or": (1, lambda n: "(x == 1 OR " * n + "true" + ")" * n),
    "right_nested_plus": (1, lambda n: "(1 + " * n + "x" + ")" * n),
    "comparison": (1, lambda n: "(x == " * n + "1" + ")" * n),
    "ladder": (9, lambda n: "(x OR (x AND NOT (x == (x + (x * -count([" * n + "x" + ("])" + ")" * 5) * n),
}

# Runs of one operator level: one n-ary node however long. (text for n terms, input x,
# expected value)
FLAT: dict[str, Callable[[int], tuple[str, Any, Any]]] = {
    "or": lambda n: (" OR ".join(f"x == {i}" for i in range(n)), n - 1, True),
    "and": lambda n: (" AND ".join(f"x != {i + 1}" for i in range(n)), 0, True),
    "plus": lambda n: ("x" + " + 1" * (n - 1), 0, n - 1),
    "minus": lambda n: ("x" + " - 2" * (n - 1), 0, -2 * (n - 1)),
    "plus_minus": lambda n: ("x" + "".join(" + 3" if i % 2 else " - 1" for i in range(n - 1)),
                             0, sum(3 if i % 2 else -1 for i in range(n - 1))),
    "times": lambda n: ("x" + " * 1" * (n - 1), 3, 3),
    "concat": lambda n: (" + ".join(["'ab'"] * n), 0, "ab" * n),
    "or_of_ands": lambda n: (" OR ".join(f"(x == {i} AND x >= 0)" for i in range(n)), n - 1,
                             True),
}

HOSTILE = settings(max_examples=25, deadline=timedelta(seconds=SECONDS),
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def program(expr: str, name: str = "hostile", lets: str = "") -> str:
    """A rule whose `let result` is `expr` (line EXPR_LINE, column EXPR_COLUMN), with input
    `x` (any type) and an annotate action showing the result."""
    return (
        "rule:\n"
        f"  metadata: {{name: {name}, version: 1.0.0}}\n"
        "  inputs:\n"
        "    - {name: x, required: false}\n"
        "  conditions:\n"
        "    - {id: always, expression: 'true'}\n"
        "  let:\n"
        "    result: |\n"
        f"      {expr}\n"
        f"{lets}"
        "  actions:\n"
        "    - trigger: always\n"
        "      type: annotate\n"
        "      config: {annotations: {value: '${result}'}}\n")


def let_chain(n: int) -> tuple[str, int]:
    """A rule whose `result` uses a chain of n lets (l1 uses l2 uses ... ln, on the lines
    after `result`), and the line of the definition that starts a chain of MAX + 1."""
    lets = "".join(f"    l{i}: l{i + 1} + 1\n" for i in range(1, n)) + f"    l{n}: 1\n"
    first = n - MAX_DEFINITION_CHAIN  # l0 is `result` itself, on the line above its text
    return program("l1", lets=lets), EXPR_LINE - 1 if first == 0 else EXPR_LINE + first


def named(text: str) -> str:
    """The same program under a name unique to its text (deploys never collide)."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return text.replace("name: hostile,", f"name: hostile-{digest},", 1)


@st.composite
def deep_programs(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(sorted(NESTED)))
    levels, build = NESTED[kind]
    units = draw(st.one_of(st.integers(MAX_NESTING // levels + 1, 200),
                           st.integers(201, 3000 // levels)))
    while len(build(units)) > 60_000:  # stay under the expression length limit
        units //= 2
    return kind, build(units)


@st.composite
def shallow_programs(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(sorted(NESTED)))
    levels, build = NESTED[kind]
    return kind, build(draw(st.integers(1, (MAX_NESTING - 4) // levels)))


@st.composite
def flat_chains(draw: st.DrawFn) -> tuple[str, Any, Any]:
    kind = draw(st.sampled_from(sorted(FLAT)))
    return FLAT[kind](draw(st.one_of(st.integers(2, 100), st.integers(101, 2000))))


@st.composite
def mixed_arithmetic(draw: st.DrawFn) -> tuple[str, int]:
    """`3 + 4 * -1 - 2 ...`: + - * mixed; the value is computed here with `*` binding
    tighter and everything left to right."""
    n = draw(st.integers(1, 1500))
    first = draw(st.integers(0, 9))
    text, total, sign, product = [str(first)], 0, 1, first
    for _ in range(n):
        op = draw(st.sampled_from(["+", "-", "*"]))
        if op == "*":
            factor = draw(st.sampled_from([1, -1]))
            product *= factor
        else:
            factor = draw(st.integers(0, 9))
            total += sign * product
            sign, product = (1 if op == "+" else -1), factor
        text += [op, str(factor)]
    return " ".join(text), total + sign * product


@st.composite
def mixed_logic(draw: st.DrawFn) -> tuple[str, bool]:
    """`true AND NOT false OR ...`: AND binds tighter than OR, checked against Python."""
    n = draw(st.integers(1, 1500))
    words: list[str] = []
    groups: list[bool] = [True]  # the AND groups joined by OR
    for i in range(n + 1):
        if i:
            op = draw(st.sampled_from(["AND", "OR"]))
            words.append(op)
            if op == "OR":
                groups.append(True)
        negate, value = draw(st.booleans()), draw(st.booleans())
        words += (["NOT"] if negate else []) + ["true" if value else "false"]
        groups[-1] = groups[-1] and (value != negate)
    return " ".join(words), any(groups)


def _outcome(rule: arka.CompiledRule, x: Any, executor: str) -> tuple[str, Any]:
    """("fired", the value) or ("error", the rule error's code)."""
    res = arka.RuleSet([rule]).evaluate({"x": x}, DEFAULT_CONTEXT, executor=executor)
    rr = res.rule_results[0]
    if rr["status"] == "error":
        return "error", rr["error"]["code"]
    assert rr["status"] == "fired", rr
    return "fired", res.result["annotations"]["value"]


def _evaluate(rule: arka.CompiledRule, x: Any, executor: str) -> Any:
    status, value = _outcome(rule, x, executor)
    assert status == "fired", (executor, value)
    return value


def _expect_nesting(exc: CompileError, line: int, text: str) -> None:
    first = exc.diagnostics[0]
    assert first.code == "E_NESTING", exc.diagnostics
    assert first.span.line == line, first
    width = max(len(s) for s in text.splitlines()) + 1
    assert 1 <= first.span.column <= width, first


# ------------------------------------------------------------------ Python API

@HOSTILE
@given(deep_programs())
def test_deep_programs_are_refused_with_a_position(case: tuple[str, str]) -> None:
    _, expr = case
    text = program(expr)
    with within(SECONDS):
        with pytest.raises(CompileError) as info:
            arka.compile_rule(text, "hostile.yaml")
        _expect_nesting(info.value, EXPR_LINE, text)
        rule, diags = arka.check_source(text, "hostile.yaml")
        assert rule is None and diags[0].code == "E_NESTING", diags
        with pytest.raises(CompileError) as single:
            arka.compile_expression(expr)
        assert single.value.diagnostics[0].code == "E_NESTING"
        assert single.value.diagnostics[0].span.line == 1


@HOSTILE
@given(shallow_programs())
def test_programs_within_the_limit_compile_and_run_everywhere(case: tuple[str, str]) -> None:
    kind, expr = case
    with within(SECONDS):
        rule = arka.compile_rule(program(expr), "ok.yaml")
        outcomes = [_outcome(rule, 1, ex) for ex in EXECUTORS]
    assert outcomes[0] == outcomes[1] == outcomes[2], (kind, outcomes)


@HOSTILE
@given(flat_chains())
def test_long_runs_of_one_operator_compile_and_evaluate(case: tuple[str, Any, Any]) -> None:
    expr, x, expected = case
    with within(SECONDS):
        rule = arka.compile_rule(program(expr), "flat.yaml")
        for executor in EXECUTORS:
            assert _evaluate(rule, x, executor) == expected, executor


@HOSTILE
@given(st.one_of(mixed_arithmetic(), mixed_logic()))
def test_mixed_operator_chains_keep_precedence(case: tuple[str, Any]) -> None:
    expr, expected = case
    with within(SECONDS):
        rule = arka.compile_rule(program(expr), "mixed.yaml")
        for executor in EXECUTORS:
            assert _evaluate(rule, 0, executor) == expected, executor


@HOSTILE
@given(st.integers(MAX_DEFINITION_CHAIN, 3000))
def test_long_chains_of_lets_are_refused_with_a_position(n: int) -> None:
    text, line = let_chain(n)
    with within(SECONDS), pytest.raises(CompileError) as info:
        arka.compile_rule(text, "lets.yaml")
    first = info.value.diagnostics[0]
    assert (first.code, first.span.line) == ("E_NESTING", line), first


def test_a_chain_of_lets_within_the_limit_runs_everywhere() -> None:
    text, _ = let_chain(MAX_DEFINITION_CHAIN - 1)  # result + 63 lets = 64 in a row
    rule = arka.compile_rule(text, "lets.yaml")
    assert [_evaluate(rule, 0, ex) for ex in EXECUTORS] == [MAX_DEFINITION_CHAIN - 1] * 3


def test_a_generated_2000_term_or_evaluates_true_and_false() -> None:
    expr, _, _ = FLAT["or"](2000)
    rule = arka.compile_rule(program(expr), "or.yaml")
    for executor in EXECUTORS:
        assert _evaluate(rule, 1999, executor) is True
        assert _evaluate(rule, 2000, executor) is False


def test_prefix_operators_in_a_long_run_do_not_add_up() -> None:
    # Each `-1` and `NOT` nests one level below its own operator only.
    expr = " + ".join(["-1"] * 1000) + " == -1000 AND " + " AND ".join(["NOT false"] * 1000)
    rule = arka.compile_rule(program(expr), "prefix.yaml")
    assert [_evaluate(rule, 0, ex) for ex in EXECUTORS] == [True] * 3


def test_rule_files_on_disk_fail_to_load_cleanly(tmp_path: Path) -> None:
    (tmp_path / "deep.yaml").write_text(program(NESTED["index"][1](500)))
    with pytest.raises(CompileError) as info:
        arka.load_rules([tmp_path])
    assert info.value.diagnostics[0].code == "E_NESTING"


def _depth() -> int:
    frame: FrameType | None = sys._getframe()
    n = 0
    while frame is not None:
        frame, n = frame.f_back, n + 1
    return n


def _at_depth(frames: int, fn: Callable[[], Any]) -> Any:
    return fn() if frames <= 0 else _at_depth(frames - 1, fn)


HEADROOM = 450  # Python frames left to the compiler and evaluators by the caller


@pytest.mark.parametrize("kind", sorted(NESTED))
def test_the_deepest_accepted_programs_fit_a_deep_caller(kind: str) -> None:
    """Whatever the caller already uses (a server thread, a test runner) up to
    recursionlimit - HEADROOM frames, the deepest program the limit accepts compiles and
    runs on every executor."""
    levels, build = NESTED[kind]
    text = program(build((MAX_NESTING - 2) // levels))

    def run() -> list[Any]:
        rule = arka.compile_rule(text, "deep.yaml")
        return [_outcome(rule, 1, ex) for ex in EXECUTORS]

    outcomes = _at_depth(sys.getrecursionlimit() - HEADROOM - _depth(), run)
    assert outcomes[0] == outcomes[1] == outcomes[2], outcomes
    assert outcomes[0][1] != "E_LIMIT_CALL_DEPTH", outcomes


# ------------------------------------------------------------------ the real server

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("hostile-programs")) as srv:
        yield srv
        assert srv.alive()
        assert srv.rss() < srv.start_rss + 200 * MB, (srv.rss(), srv.start_rss)


def _post(srv: LiveServer, path: str, text: str) -> tuple[int, dict[str, Any], float]:
    with srv.client("admin", "t1") as client:
        start = time.monotonic()
        r = client.post(path, content=text.encode(), headers={"Content-Type":
                                                               "application/yaml"})
        return r.status_code, r.json(), time.monotonic() - start


def _error(body: dict[str, Any]) -> dict[str, Any]:
    err = body.get("error", body)
    assert isinstance(err, dict), body
    return err


LIVE = settings(max_examples=12, deadline=timedelta(seconds=3 * SECONDS),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@LIVE
@given(st.one_of(deep_programs().map(lambda c: (program(c[1]), EXPR_LINE)),
                 st.integers(MAX_DEFINITION_CHAIN, 2000).map(let_chain)))
def test_server_refuses_deep_programs_and_stores_nothing(server: LiveServer,
                                                         case: tuple[str, int]) -> None:
    text, line = case
    text = named(text)
    rules, audit = server.rows("rules"), server.rows("audit_events")
    for path in ("/api/v1/rules/validate", "/api/v1/rules"):
        status, body, took = _post(server, path, text)
        assert status == 400, (path, status, body)
        err = _error(body)
        assert err["code"] == "VALIDATION_ERROR", body
        first = err["details"][0]
        assert (first["code"], first["line"]) == ("E_NESTING", line), body
        assert first["column"] >= 1 and first["message"], body
        assert took < SECONDS, (path, took)
    assert server.rows("rules") == rules
    assert server.rows("audit_events") == audit


@LIVE
@given(st.one_of(flat_chains().map(lambda c: c[0]), mixed_arithmetic().map(lambda c: c[0]),
                 mixed_logic().map(lambda c: c[0])))
def test_server_accepts_long_flat_chains(server: LiveServer, expr: str) -> None:
    text = named(program(expr))
    status, body, took = _post(server, "/api/v1/rules/validate", text)
    assert (status, body.get("valid")) == (200, True), body
    assert took < SECONDS
    status, body, took = _post(server, "/api/v1/rules", text)
    assert status in (200, 201), body
    assert took < SECONDS
    name = text.split("name: ", 1)[1].split(",", 1)[0]
    with server.client("viewer", "t1") as client:
        assert client.get(f"/api/v1/rules/{name}").status_code == 200


def test_server_accepts_the_deepest_programs_the_limit_allows(server: LiveServer) -> None:
    # Compiled in a server worker thread, whatever frames it already uses.
    for kind, (levels, build) in sorted(NESTED.items()):
        text = named(program(build((MAX_NESTING - 2) // levels)))
        status, body, took = _post(server, "/api/v1/rules/validate", text)
        assert (status, body.get("valid")) == (200, True), (kind, body)
        assert took < SECONDS, (kind, took)


# ------------------------------------------------------------------ the CLI

def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


CLI_CASES = settings(max_examples=4, deadline=timedelta(seconds=60),
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                            HealthCheck.function_scoped_fixture])


@CLI_CASES
@given(deep_programs())
def test_cli_validate_and_test_report_the_nesting(tmp_path: Path, case: tuple[str, str]) -> None:
    rule = tmp_path / "deep.yaml"
    rule.write_text(program(case[1]))
    (tmp_path / "deep.test.yaml").write_text(
        "tests:\n  - name: t\n    input: {x: 1}\n    expected: {decision: compliant}\n")
    start = time.monotonic()
    done = _cli("rule", "validate", "--output", "json", "deep.yaml", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["valid"] is False
    first = report["files"][0]["errors"][0]
    assert (first["code"], first["line"]) == ("E_NESTING", EXPR_LINE), first
    done = _cli("rule", "test", "deep.yaml", cwd=tmp_path)
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert f"deep.yaml:{EXPR_LINE}:" in out and "E_NESTING" in out, out[:2000]
    assert "Traceback" not in out, out[-3000:]
    assert time.monotonic() - start < 2 * SECONDS + 10  # two CLI starts on a loaded machine


def test_cli_runs_a_long_flat_chain(tmp_path: Path) -> None:
    expr, x, _ = FLAT["or"](2000)
    (tmp_path / "or.yaml").write_text(program(expr))
    (tmp_path / "or.test.yaml").write_text(
        f"tests:\n  - name: t\n    input: {{x: {x}}}\n"
        "    expected: {annotations: {value: true}}\n")
    done = _cli("rule", "validate", "or.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    done = _cli("rule", "test", "or.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "1 passed, 0 failed" in done.stdout
