"""The RTVM's budgets hold inside builtins, whatever the program and the input.

Generated quadratic programs over a 30,000-element list stop at the rule's limits on the
fast path and on the interpreter (a rule with a 1 s time limit answers in under 3 s, as a
fail-closed rule error); indices, duration factors and shared nested values cannot buy
unbounded work; out-of-bounds literals and versions are positioned compile errors; crafted
bytecode is refused or runs within its limits. A real server answers the same programs
with the fail-closed result, never a 500, and refuses the out-of-bounds rules with a 400
storing nothing. (The reference evaluator has no limits: it is the test oracle for small
generated programs, not an executor of hostile ones.)
"""

from __future__ import annotations

import json
import struct
import subprocess
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import arka
from arka.base import values as V
from arka.base.errors import BytecodeError, CompileError, EvalError
from arka.compiler import check_source
from arka.lang.builtins.lists import _distinct
from arka.rtvm import bytecode as bc
from arka.rtvm.fastpath import translate
from arka.rtvm.loader import function_max_stack, load
from arka.rtvm.vm import Execution, Limits
from tests.helpers import (
    DEFAULT_CONTEXT,
    EXPR_COLUMN,
    EXPR_LINE,
    HOSTILE_DEADLINE,
    expression_rule,
)
from tests.live_server import CLI, MB, LiveServer, live_server

N = 30_000
BIG = [{"a": i, "b": f"k{i % 100}"} for i in range(N)]
ONE_SECOND = Limits(max_execution_time=1.0)
BOUND = 3.0  # seconds a rule with a 1 s time limit may take, whatever it does
LIMIT_CODES = {"E_LIMIT_TIME", "E_LIMIT_INSTRUCTIONS", "E_LIMIT_HEAP"}
EXECUTORS = ("vm", "interpreter")  # "vm" is the fast path where it translates
HOSTILE = settings(max_examples=10, deadline=HOSTILE_DEADLINE,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

_BIG_VALUES = V.from_json({"x": BIG})


def _run(expr: str, executor: str, limits: Limits = ONE_SECOND,
         values: dict[str, Any] | None = None) -> tuple[dict[str, Any], float]:
    """(the rule's result entry, seconds its evaluation took) for an expression rule."""
    compiled = arka.compile_rule(expression_rule(expr, ["x"]), "hostile.yaml")
    if executor == "vm":
        assert translate(compiled.program, limits) is not None, "expected the fast path"
    rules = arka.RuleSet([compiled], limits=limits)
    started = time.monotonic()
    res = rules.evaluate(values if values is not None else _BIG_VALUES, DEFAULT_CONTEXT,
                         executor=executor)
    elapsed = time.monotonic() - started
    rr = res.rule_results[0]
    if rr["status"] == "error":
        assert res.decision == "needs_review", "a rule that hit a limit must fail closed"
    return rr, elapsed


def _limit_error(expr: str, executor: str, limits: Limits = ONE_SECOND,
                 values: dict[str, Any] | None = None, codes: set[str] = LIMIT_CODES) -> str:
    rr, elapsed = _run(expr, executor, limits, values)
    assert rr["status"] == "error", f"{expr} finished: {rr}"
    assert rr["error"]["code"] in codes, rr["error"]
    assert elapsed < BOUND, f"{expr} took {elapsed:.2f} s on {executor}"
    return str(rr["error"]["code"])


# ------------------------------------------------------------------ quadratic programs

# Work over the whole list, done once per element by an outer loop: each is linear, so
# the outer loop makes it quadratic (30,000² elements), far past a 1 s limit.
INNER = (
    "distinct(x)", "sort_by(x, b => b.a)", "x.count(b => b.a == a.a)", "x.filter(b => b.a < 0)",
    "x.map(b => upper(b.b))", "max(x, b => b.a)", "sum(x, b => b.a)", "avg(x, b => b.a)",
    "a in x", "x == x.map(b => b)", "to_string(x)", "x.flat_map(b => [b, b])",
    "group_by(x, b => b.b)", "x.any(b => b.a < 0)", "x.all(b => b.a >= 0)",
    "reduce(x, 0, (acc, b) => acc + b.a)", "x.filter(b => regex_match(b.b, 'k9+$'))",
    "business_days_between(date('1800-01-01'), date('1999-01-01'), 'US')",
    "contains(x, {a: -1, b: 'none'})",
)
# Outer loops that never stop early (no short-circuiting quantifier decides at once).
OUTER = (
    "x.map(a => size([{inner}])).size() > 0",
    "x.filter(a => size([{inner}]) == 0).size() >= 0",
    "count(x, a => size([{inner}]) > 0) > 0",
    "x.all(a => size([{inner}]) > 0)",
    "x.any(a => size([{inner}]) == 0)",
    "sum(x, a => size([{inner}])) > 0",
    "reduce(x, 0, (acc, a) => acc + size([{inner}])) > 0",
    "size(sort_by(x, a => size([{inner}]))) > 0",
)


@HOSTILE
@given(outer=st.sampled_from(OUTER), inner=st.sampled_from(INNER),
       executor=st.sampled_from(EXECUTORS))
def test_generated_quadratic_programs_stop_at_the_limit(outer: str, inner: str,
                                                        executor: str) -> None:
    _limit_error(outer.format(inner=inner), executor)


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("inner", INNER)
def test_every_inner_loop_is_charged(inner: str, executor: str) -> None:
    """One outer loop per inner kind, so each builtin family is covered every run."""
    _limit_error(f"x.map(a => size([{inner}])).size() > 0", executor)


@pytest.mark.parametrize("executor", EXECUTORS)
def test_distinct_of_30k_objects_is_linear(executor: str) -> None:
    """The reported case: `size(distinct(xs))` over 30k objects ran 124 s."""
    rr, elapsed = _run("size(distinct(x)) == 30000", executor, Limits())
    assert rr["status"] == "fired" and rr["conditions"] == {"always": True}
    assert elapsed < BOUND, f"{elapsed:.2f} s"


def test_distinct_keeps_first_occurrences_by_equality() -> None:
    xs = [1, "1", True, None, [1, 2], {"a": 1}, Decimal("1.0"), [1, 2.0], {"a": 1.00},
          "2024-01-01", None, False]
    out = _distinct(_NoMeter(), V.from_json(xs))  # type: ignore[arg-type]
    assert V.to_json(out) == [1, "1", True, None, [1, 2], {"a": 1}, "2024-01-01", False]


class _NoMeter:
    """A bare runtime (as the reference evaluator passes): builtins run unmetered."""

    now = None
    jurisdiction = None
    division_scale = 18


@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_hard_time_limit_holds_inside_one_builtin(executor: str) -> None:
    """A limit of 50 ms stops a single long builtin call, not only between calls."""
    compiled = arka.compile_rule(expression_rule(
        "size(x.map(a => x.count(b => b.a == a.a))) > 0", ["x"]), "t.yaml")
    limits = Limits(max_execution_time=0.05, max_instructions=10**12)
    started = time.monotonic()
    res = arka.RuleSet([compiled], limits=limits).evaluate(_BIG_VALUES, DEFAULT_CONTEXT,
                                                           executor=executor)
    assert time.monotonic() - started < 1.0
    assert res.rule_results[0]["error"]["code"] == "E_LIMIT_TIME"


# ------------------------------------------------------------------ shared and deep values

def _shared(prefix: str, levels: int = 10) -> str:
    """Lets prefix0..prefix9: ten references each to the level below (10^10 when printed)."""
    return f"    {prefix}0: '[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]'\n" + "".join(
        f"    {prefix}{i}: '[{', '.join([f'{prefix}{i - 1}'] * 10)}]'\n"
        for i in range(1, levels))


@pytest.mark.parametrize("use", ["text", "interpolation", "equality", "membership"])
@pytest.mark.parametrize("executor", EXECUTORS)
def test_a_value_sharing_its_parts_costs_its_printed_size(use: str, executor: str) -> None:
    expression = {"text": "to_string(l9) == ''", "interpolation": "true",
                  "equality": "l9 == m9", "membership": "m8 in l9"}[use]
    note = "'${l9}'" if use == "interpolation" else "'yes'"
    text = (f"rule:\n  metadata: {{name: dag, version: 1.0.0}}\n  let:\n{_shared('l')}"
            f"{_shared('m')}  conditions:\n    - {{id: c, expression: \"{expression}\"}}\n"
            f"  actions:\n    - {{trigger: c, type: annotate, config: {{annotations: "
            f"{{v: {note}}}}}}}\n")
    compiled = arka.compile_rule(text, "dag.yaml")
    started = time.monotonic()
    res = arka.RuleSet([compiled], limits=ONE_SECOND).evaluate({}, DEFAULT_CONTEXT,
                                                               executor=executor)
    assert time.monotonic() - started < BOUND
    rr = res.rule_results[0]
    assert rr["status"] == "error" and rr["error"]["code"] in LIMIT_CODES, rr
    assert res.decision == "needs_review"


DEEP = "x.reduce([], (acc, a) => [acc])"  # a list nested once per element of x


@pytest.mark.parametrize("executor", EXECUTORS)
@pytest.mark.parametrize("expr", [f"to_string({DEEP}) == ''", f"distinct([{DEEP}]) == []",
                                  f"size(group_by(x, a => {DEEP})) > 0"])
def test_values_nested_past_the_bound_are_an_error_not_a_crash(expr: str,
                                                               executor: str) -> None:
    rr, elapsed = _run(expr, executor, Limits(), V.from_json({"x": list(range(N))}))
    assert elapsed < BOUND
    assert rr["status"] == "error" and rr["error"]["code"] == "E_LIMIT_VALUE_DEPTH", rr


@pytest.mark.parametrize("executor", EXECUTORS)
def test_deep_values_compare_without_recursion(executor: str) -> None:
    rr, elapsed = _run(f"{DEEP} == {DEEP}", executor, Limits(),
                       V.from_json({"x": list(range(N))}))
    assert rr["status"] == "fired", rr
    assert elapsed < BOUND


def test_deep_value_interpolated_into_an_action_is_refused_in_the_vm() -> None:
    text = ("rule:\n  metadata: {name: deep, version: 1.0.0}\n  inputs:\n"
            "    - {name: x, required: false}\n  let:\n"
            "    d: 'x.reduce([], (acc, a) => [acc])'\n  conditions:\n"
            "    - {id: c, expression: 'true'}\n  actions:\n"
            "    - {trigger: c, type: annotate, config: {annotations: {v: '${d}'}}}\n")
    compiled = arka.compile_rule(text, "deep.yaml")
    for executor in EXECUTORS:
        res = arka.RuleSet([compiled]).evaluate(V.from_json({"x": list(range(500))}),
                                                DEFAULT_CONTEXT, executor=executor)
        assert res.rule_results[0]["error"]["code"] == "E_LIMIT_VALUE_DEPTH"
        assert res.decision == "needs_review"


# ------------------------------------------------------------------ indices and numbers

@settings(max_examples=60, deadline=HOSTILE_DEADLINE)
@given(exponent=st.integers(40, 999_999), sign=st.sampled_from([1, -1]))
def test_huge_indices_are_out_of_range_without_conversion(exponent: int, sign: int) -> None:
    idx = Decimal(sign) * Decimal(10) ** exponent if exponent < 1000 else \
        Decimal(f"{'-' if sign < 0 else ''}1E+{exponent}")
    started = time.monotonic()
    assert V.index_value(list(range(10)), idx) is None
    assert V.index_value("abcdef", idx) is None
    assert time.monotonic() - started < 0.05


@pytest.mark.parametrize("executor", EXECUTORS)
def test_index_computed_to_a_huge_number_is_null_at_once(executor: str) -> None:
    """`xs[n]` with n near 1e999999 took 53 s (quadratic int conversion)."""
    expr = "x[reduce(x, 1, (acc, a) => acc * 1e60)] == null"  # 1e996000
    rr, elapsed = _run(expr, executor, Limits(), V.from_json({"x": list(range(16_600))}))
    assert rr["status"] == "fired", rr
    assert elapsed < BOUND


@pytest.mark.parametrize("expr, code", [
    ("duration('P1D') * 1e50 == null", "E_NUMERIC"),
    ("duration('P999999999D') + duration('P999999999D') == null", "E_NUMERIC"),
    ("-(duration('P999999999D') * -1 - duration('P1D')) == null", "E_NUMERIC"),
    ("add_hours(datetime('9999-12-31T00:00:00Z'), 100) == null", "E_NUMERIC"),
    ("x.reduce(1e60, (acc, a) => acc * 1e60) > 0", "E_NUMERIC"),
])
def test_numeric_overflow_is_a_clean_rule_error(expr: str, code: str) -> None:
    for executor in EXECUTORS:
        rr, elapsed = _run(expr, executor, Limits(), V.from_json({"x": list(range(20_000))}))
        assert rr["status"] == "error" and rr["error"]["code"] == code, rr
        assert elapsed < BOUND


def test_text_and_walk_costs_are_charged_to_the_meter() -> None:
    seen: list[int] = []
    V.walk([[1, 2], {"a": [3]}], seen.append)
    assert sum(seen) == 6  # the four list/object entries below the top, and [1, 2]'s two
    seen.clear()
    assert V.equals([1, [2, 3]], [1, [2, 3]], seen.append)
    assert sum(seen) == 4
    with pytest.raises(EvalError) as err:
        deep: list[Any] = []
        for _ in range(V.MAX_VALUE_DEPTH + 1):
            deep = [deep]
        V.walk(deep)
    assert err.value.code == "E_LIMIT_VALUE_DEPTH"


# ------------------------------------------------------------------ literals at compile time

def _compile_error(text: str) -> tuple[str, int, int]:
    with pytest.raises(CompileError) as err:
        arka.compile_rule(text, "lit.yaml")
    d = err.value.diagnostics[0]
    _, diags = check_source(text, "lit.yaml")  # validate reports the same
    assert [x.code for x in diags] == [x.code for x in err.value.diagnostics]
    return d.code, d.span.line, d.span.column


digits = st.text("0123456789", min_size=1, max_size=8).map(lambda s: "1" + s)


@settings(max_examples=60, deadline=HOSTILE_DEADLINE)
@given(literal=st.one_of(
    st.integers(41, 200).map(lambda n: "9" * n),  # too many significant digits
    st.tuples(digits, st.integers(61, 99_999_999)).map(lambda t: f"{t[0]}e{t[1]}"),
    st.tuples(digits, st.integers(70, 99_999_999)).map(lambda t: f"{t[0]}e-{t[1]}"),
    st.integers(41, 80).map(lambda n: "0." + "1" * n),
))
def test_out_of_range_number_literals_are_positioned_compile_errors(literal: str) -> None:
    started = time.monotonic()
    code, line, column = _compile_error(expression_rule(f"{literal} > 0"))
    assert (code, line, column) == ("E_NUMBER", EXPR_LINE, EXPR_COLUMN)
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize("expr, code, offset", [
    ("duration('P999999999999D') > duration('P1D')", "E_ARGUMENT", 9),
    ("duration('PT99999999999999999999H') > duration('P1D')", "E_ARGUMENT", 9),
    ("date('99999-01-01') > date('2024-01-01')", "E_ARGUMENT", 5),
    ("datetime('0001-01-01T00:00:00+05:00') > now()", "E_ARGUMENT", 9),
    ("regex_match('a', '" + "a" * 1001 + "')", "E_ARGUMENT", 17),
    ("round(1.5, 1e9) > 0", "E_ARGUMENT", 11),
    ("add_business_days(now(), 1000001) > now()", "E_ARGUMENT", 25),
    ("size([" + ", ".join(["1"] * 10_001) + "]) > 0", "E_LITERAL_SIZE", 5),
])
def test_literal_bounds(expr: str, code: str, offset: int) -> None:
    assert _compile_error(expression_rule(expr)) == (code, EXPR_LINE, EXPR_COLUMN + offset)


VERSIONS = st.one_of(
    st.tuples(st.integers(10**9, 10**40), st.integers(0, 9), st.integers(0, 9)),
    st.tuples(st.integers(0, 9), st.integers(10**9, 10**40), st.integers(0, 9)),
    st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(10**9, 10**40)),
).map(lambda t: ".".join(map(str, t)))


@settings(max_examples=40, deadline=HOSTILE_DEADLINE)
@given(version=st.one_of(VERSIONS, st.integers(123, 400).map(lambda n: "1.0.0-" + "a" * n)))
def test_versions_out_of_bounds_are_refused(version: str) -> None:
    text = (f"rule:\n  metadata: {{name: v, version: '{version}'}}\n  conditions:\n"
            "    - {id: c, expression: 'true'}\n")
    assert _compile_error(text) == ("E_VERSION", 2, 32)


def test_largest_version_is_accepted() -> None:
    text = ("rule:\n  metadata: {name: v, version: 999999999.999999999.999999999}\n"
            "  conditions:\n    - {id: c, expression: 'true'}\n")
    assert arka.compile_rule(text, "v.yaml").version == "999999999.999999999.999999999"


# ------------------------------------------------------------------ crafted bytecode

def _good() -> bc.Program:
    rule = arka.compile_rule(expression_rule("1 + 1"), "b.yaml")
    return bc.decode(rule.bytecode)


def _refused_bytecode(data: bytes, code: str) -> None:
    started = time.monotonic()
    with pytest.raises(BytecodeError) as err:
        load(data)
    assert err.value.code == code, err.value
    assert time.monotonic() - started < 1.0


def _header_and_metadata(meta: dict[str, Any]) -> bytes:
    blob = json.dumps(meta).encode()
    return bc.MAGIC + struct.pack("<HH", bc.FORMAT_VERSION, 0) + struct.pack("<I", len(blob)) + blob


@settings(max_examples=40, deadline=HOSTILE_DEADLINE)
@given(count=st.integers(2, 2**32 - 1))
def test_claimed_counts_cannot_run_ahead_of_the_data(count: int) -> None:
    head = _header_and_metadata(_good().metadata)
    constants = "E_BYTECODE_LIMIT" if count > bc.MAX_CONSTANTS else "E_BYTECODE_TRUNCATED"
    _refused_bytecode(head + struct.pack("<I", count), constants)
    functions = "E_BYTECODE_LIMIT" if count > bc.MAX_FUNCTIONS else "E_BYTECODE_TRUNCATED"
    _refused_bytecode(head + struct.pack("<I", 0) + struct.pack("<I", count), functions)


@settings(max_examples=30, deadline=HOSTILE_DEADLINE)
@given(size=st.integers(bc.MAX_CODE_BYTES + 1, 2**32 - 1))
def test_code_larger_than_the_bound_is_refused_before_reading(size: int) -> None:
    head = _header_and_metadata(_good().metadata)
    fn = struct.pack("<I", 4) + b"main" + struct.pack("<HHH", 0, 0, 0) + struct.pack("<I", size)
    _refused_bytecode(head + struct.pack("<I", 0) + struct.pack("<I", 1) + fn, "E_BYTECODE_LIMIT")


@settings(max_examples=40, deadline=HOSTILE_DEADLINE)
@given(text=st.sampled_from(["1E+999999999", "1E-999999999", "9" * 41, "1E+61", "NaN"]))
def test_decimal_constants_keep_the_literal_bounds(text: str) -> None:
    good = _good()
    program = bc.Program(good.metadata, (Decimal(1),) + good.constants[1:], good.functions,
                         good.lines)
    data = bytearray(bc.encode(program))
    marker = bytes([3]) + struct.pack("<I", 1) + b"1"  # the decimal tag, length, text
    at = data.index(marker)
    data[at:at + len(marker)] = bytes([3]) + struct.pack("<I", len(text)) + text.encode()
    _refused_bytecode(bytes(data), "E_BYTECODE_CONST")


def _chain_program(n: int) -> bytes:
    """main → let:1 → let:2 → … → let:n: CALL_MEMO nested n deep."""
    good = _good()
    op = bc.BY_NAME
    def fn(name: str, code: bytes, is_main: bool = False) -> bc.Function:
        return bc.Function(name, 0, 0, function_max_stack(code, 0, 1, n + 1, is_main), code)
    main = bytes([op["CALL_MEMO"].code]) + struct.pack("<H", 1) + bytes([op["POP"].code,
                                                                         op["HALT"].code])
    fns = [fn("main", main, True)]
    for i in range(1, n + 1):
        body = (bytes([op["CALL_MEMO"].code]) + struct.pack("<H", i + 1) if i < n else
                bytes([op["CONST"].code]) + struct.pack("<I", 0))
        fns.append(fn(f"let:l{i}", body + bytes([op["RET"].code])))
    meta = dict(good.metadata, conditions=[], actions=[])
    return bc.encode(bc.Program(meta, (Decimal(1),), tuple(fns), ()))


def test_a_long_call_chain_loads_and_stops_at_the_call_depth() -> None:
    program = load(_chain_program(20_000))  # the cycle check walks it without recursion
    out = Execution(program, {}, {}, _NoMeter(), Limits()).run  # type: ignore[arg-type]
    with pytest.raises(EvalError) as err:
        out()
    assert err.value.code == "E_LIMIT_CALL_DEPTH"


def test_deeply_nested_branches_run_on_the_interpreter() -> None:
    """3,000 nested forward branches: the fast path declines, the interpreter runs them."""
    good = _good()
    op = bc.BY_NAME
    n = 3000
    levels = bytearray()  # each level: CONST true (5 bytes), JUMP_IF_FALSE end (5 bytes)
    for _ in range(n):
        levels += bytes([op["CONST"].code]) + struct.pack("<I", 1)  # true
        levels += bytes([op["JUMP_IF_FALSE"].code]) + struct.pack("<I", 0)  # patched
    end = len(levels)
    for k in range(n):
        at = k * 10 + 5 + 1
        levels[at:at + 4] = struct.pack("<I", end)
    code = levels + bytes([op["CONST"].code]) + struct.pack("<I", 0) + bytes([op["RET"].code])
    main = bytes([op["CALL_MEMO"].code]) + struct.pack("<H", 1) + bytes([op["POP"].code,
                                                                         op["HALT"].code])
    fns = (bc.Function("main", 0, 0, function_max_stack(main, 0, 2, 2, True), main),
           bc.Function("let:deep", 0, 0, function_max_stack(bytes(code), 0, 2, 2, False),
                       bytes(code)))
    meta = dict(good.metadata, conditions=[], actions=[])
    program = load(bc.encode(bc.Program(meta, (Decimal(7), True), fns, ())))
    assert translate(program, Limits()) is None
    Execution(program, {}, {}, _NoMeter(), Limits()).run()  # type: ignore[arg-type]


# ------------------------------------------------------------------ the real server

LIVE_BOUND = 20.0  # seconds: the service's default limits (10M instructions, 30 s)
RSS_GROWTH = 300 * MB


def _rule(name: str, domain: str, expr: str, version: str = "1.0.0") -> str:
    return (f"rule:\n  metadata: {{name: {name}, version: '{version}', domain: {domain}}}\n"
            f"  inputs:\n    - {{name: x, required: false}}\n  conditions:\n"
            f"    - {{id: c, expression: \"{expr}\"}}\n  actions:\n"
            f"    - {{trigger: c, type: flag, config: {{severity: low, category: SEEN}}}}\n")


LIVE_RULES = {
    "QUAD": "x.map(a => x.count(b => b.a == a.a)).size() > 0",
    "DIST": "size(distinct(x)) == 30000",
    "SORT": "x.map(a => size(sort_by(x, b => b.a))).size() > 0",
}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("hostile-budgets")) as server:
        with server.client("admin", "t1") as c:
            for domain, expr in LIVE_RULES.items():
                r = c.post("/api/v1/rules", content=_rule(domain.lower(), domain, expr),
                           headers={"content-type": "application/x-yaml"})
                assert r.status_code == 201, r.text
        server.start_rss = server.rss()
        yield server
        assert server.alive()
        assert server.rss() - server.start_rss < RSS_GROWTH, \
            f"server grew {(server.rss() - server.start_rss) / MB:.0f} MB"


def _evaluate(srv: LiveServer, domain: str) -> tuple[dict[str, Any], float]:
    body = json.dumps({"context": {"jurisdiction": "US", "domain": domain},
                       "input": {"x": BIG}})
    with srv.client("service", "t1", timeout=60) as c:
        started = time.monotonic()
        r = c.post("/api/v1/evaluate", content=body,
                   headers={"content-type": "application/json"})
        elapsed = time.monotonic() - started
    assert r.status_code == 201, r.text[:500]
    return r.json(), elapsed


@pytest.mark.parametrize("domain", ["QUAD", "SORT"])
def test_server_fails_closed_on_quadratic_rules_within_bounds(srv: LiveServer,
                                                              domain: str) -> None:
    out, elapsed = _evaluate(srv, domain)
    assert elapsed < LIVE_BOUND, f"{elapsed:.1f} s"
    assert out["result"]["decision"] == "needs_review", out["result"]
    (rr,) = [r for r in out["rule_results"] if r["rule_id"] == domain.lower()]
    assert rr["status"] == "error" and rr["error"]["code"] in LIMIT_CODES, rr


def test_server_distinct_of_30k_is_quick(srv: LiveServer) -> None:
    out, elapsed = _evaluate(srv, "DIST")
    assert elapsed < 10.0, f"{elapsed:.1f} s"
    (rr,) = [r for r in out["rule_results"] if r["rule_id"] == "dist"]
    assert rr["status"] == "fired", rr


@pytest.mark.parametrize("expr, version, code", [
    ("duration('P999999999999D') > duration('P1D')", "1.0.0", "E_ARGUMENT"),
    ("1e999999 > 0", "1.0.0", "E_NUMBER"),
    ("size([" + ", ".join(["1"] * 10_001) + "]) > 0", "1.0.0", "E_LITERAL_SIZE"),
    ("true", "99999999999999999999.0.0", "E_VERSION"),
    ("true", "1.99999999999999999999.0", "E_VERSION"),
])
def test_server_refuses_out_of_bounds_literals(srv: LiveServer, expr: str, version: str,
                                               code: str) -> None:
    before = srv.rows("rules")
    for path in ("/api/v1/rules/validate", "/api/v1/rules"):
        with srv.client("admin", "t2") as c:
            started = time.monotonic()
            r = c.post(path, content=_rule("lit", "LIT", expr, version),
                       headers={"content-type": "application/x-yaml"})
            elapsed = time.monotonic() - started
        assert elapsed < 5.0
        if path.endswith("validate") and r.status_code == 200:
            body = r.json()
            assert body.get("valid") is False, body
            assert code in json.dumps(body), body
        else:
            assert r.status_code == 400, r.text[:500]
            assert code in r.text, r.text[:500]
    assert srv.rows("rules") == before


@pytest.mark.parametrize("expr, version, code", [
    ("true", "99999999999999999999.0.0", "E_VERSION"),
    ("1e999999 > 0", "1.0.0", "E_NUMBER"),
    ("duration('P999999999999D') > duration('P1D')", "1.0.0", "E_ARGUMENT"),
])
def test_cli_refuses_out_of_bounds_literals(tmp_path: Path, expr: str, version: str,
                                            code: str) -> None:
    f = tmp_path / "lit.yaml"
    f.write_text(_rule("lit", "LIT", expr, version))
    for args in (["validate", str(f)], ["compile", str(f), "-o", str(tmp_path / "o.rtvm")]):
        done = subprocess.run([CLI, "rule", *args], capture_output=True, text=True, timeout=60)
        assert done.returncode != 0
        assert code in done.stdout + done.stderr
        assert "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "o.rtvm").exists()
