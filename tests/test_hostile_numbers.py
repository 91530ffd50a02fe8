"""Hostile JSON at the boundary, against a real server: numbers out of range, NaN and
Infinity, nesting past 64, duplicate keys, lone surrogates and NUL in keys. Each answer is
a 400 with a stable code naming the path, within a time bound, with nothing stored and
the server's memory bounded. The same bounds hold for Python callers (from_json) and the
parse_* functions never leak OverflowError."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arka.base import values as V
from arka.base.boundary import MAX_DEPTH, BoundaryError
from arka.base.errors import EvalError, InputError
from tests.helpers import HOSTILE_DEADLINE
from tests.hostile_inputs import (
    IN_RANGE_NUMBERS,
    OUT_OF_RANGE_NUMBERS,
    Hostile,
    deep_json,
    duplicate_key_inputs,
    hostile_number_inputs,
    unicode_inputs,
)
from tests.live_server import MB, LiveServer, live_server

SECONDS = 2.0  # per hostile request
RSS_GROWTH = 150 * MB  # over the module
LIVE = settings(max_examples=40, deadline=HOSTILE_DEADLINE)

ECHO_RULE = """rule:
  metadata: {name: echo, version: 1.0.0}
  inputs:
    - {name: tx, required: false}
  conditions:
    - {id: always, expression: 'true'}
  actions:
    - trigger: always
      type: annotate
      config: {annotations: {seen: 'yes'}}
"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("hostile-numbers")) as server:
        for tenant in ("t1", "t2"):  # requests alternate between the tenants
            with server.client("admin", tenant) as c:
                r = c.post("/api/v1/rules", content=ECHO_RULE,
                           headers={"content-type": "application/x-yaml"})
                assert r.status_code == 201, r.text
        server.start_rss = server.rss()
        yield server
        assert server.alive()
        assert server.rss() - server.start_rss < RSS_GROWTH, \
            f"server grew {(server.rss() - server.start_rss) / MB:.0f} MB"


_turn = [0]


def _client(srv: LiveServer, role: str) -> httpx.Client:
    """Alternate tenants so that no single key's rate-limit bucket runs dry."""
    _turn[0] += 1
    return srv.client(role, ("t1", "t2")[_turn[0] % 2])


def _refused(srv: LiveServer, path: str, body: str, code: str, where: str | None,
             role: str = "service") -> dict[str, Any]:
    before = srv.rows("evaluations")
    with _client(srv, role) as c:
        started = time.monotonic()
        r = c.post(path, content=body.encode("utf-8", "surrogatepass"),
                   headers={"content-type": "application/json"})
        elapsed = time.monotonic() - started
    assert r.status_code == 400, r.text[:500]
    assert elapsed < SECONDS, f"{elapsed:.2f} s"
    error = r.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    detail = error["details"][0]
    assert detail["code"] == code, error
    if where is not None:
        assert detail["path"] == where, error
    assert srv.rows("evaluations") == before
    return dict(detail)


def _evaluate_body(input_text: str) -> str:
    return '{"context": {"jurisdiction": "US"}, "input": ' + input_text + "}"


# ------------------------------------------------------------------ the real server

@LIVE
@given(case=hostile_number_inputs())
def test_out_of_range_numbers_are_refused_with_their_path(srv: LiveServer,
                                                          case: Hostile) -> None:
    _refused(srv, "/api/v1/evaluate", _evaluate_body(case.text), case.code, case.path)


@LIVE
@given(case=hostile_number_inputs(), index=st.integers(0, 3))
def test_batch_items_are_bounded_too(srv: LiveServer, case: Hostile, index: int) -> None:
    items = ['{"id": "ok", "input": {"tx": 1}}'] * index + [
        '{"id": "bad", "input": ' + case.text + "}"]
    body = '{"inputs": [' + ", ".join(items) + "]}"
    where = f"inputs[{index}]." + case.path
    _refused(srv, "/api/v1/evaluate/batch", body, case.code, where)


@LIVE
@given(text=deep_json())
def test_deep_json_is_refused_not_a_crash(srv: LiveServer, text: str) -> None:
    detail = _refused(srv, "/api/v1/evaluate", _evaluate_body('{"tx": ' + text + "}"),
                      "E_NESTING", None)
    assert detail["path"].startswith("input.tx")
    assert detail["line"] == 1 and detail["column"] > MAX_DEPTH


@LIVE
@given(case=duplicate_key_inputs())
def test_duplicate_keys_are_refused(srv: LiveServer, case: Hostile) -> None:
    _refused(srv, "/api/v1/evaluate", _evaluate_body(case.text), case.code, case.path)


@LIVE
@given(case=unicode_inputs())
def test_lone_surrogates_and_nul_keys_are_refused(srv: LiveServer, case: Hostile) -> None:
    _refused(srv, "/api/v1/evaluate", _evaluate_body(case.text), case.code, case.path)


@settings(max_examples=15, deadline=HOSTILE_DEADLINE)
@given(text=deep_json(max_depth=3000), number=OUT_OF_RANGE_NUMBERS)
def test_every_json_body_is_bounded(srv: LiveServer, text: str, number: str) -> None:
    """Bodies of other endpoints (replay, API keys, exports) go through the same parser."""
    _refused(srv, "/api/v1/evaluate/replay", '{"evaluation_id": ' + text + "}",
             "E_NESTING", None, role="admin")
    _refused(srv, "/api/v1/apikeys", '{"name": "k", "roles": [' + number + "]}",
             "E_NUMBER", "roles[0]", role="admin")


def test_a_million_values_and_syntax_errors_are_refused(srv: LiveServer) -> None:
    _refused(srv, "/api/v1/evaluate", _evaluate_body('{"tx": [' + "0," * 1_000_001 + "0]}"),
             "E_TOO_LARGE", "body")
    detail = _refused(srv, "/api/v1/evaluate", '{"input": {"tx": [1, 2,}}', "E_JSON", "body")
    assert (detail["line"], detail["column"]) == (1, 24)


@settings(max_examples=30, deadline=HOSTILE_DEADLINE)
@given(literal=IN_RANGE_NUMBERS)
def test_numbers_within_the_bounds_are_kept_exactly(srv: LiveServer, literal: str) -> None:
    with _client(srv, "service") as c:
        r = c.post("/api/v1/evaluate", content=_evaluate_body('{"tx": ' + literal + "}"),
                   headers={"content-type": "application/json"})
    assert r.status_code == 201, r.text
    stored = r.json()["input"]["tx"]
    assert Decimal(str(stored)) == Decimal(literal)


def test_postgresql_stores_nul_in_values_and_refuses_what_it_cannot(tmp_path: Path) -> None:
    """NUL inside a value is stored (records are JSON text); lone surrogates and NUL in
    keys never reach the database, on PostgreSQL as on SQLite."""
    from tests.service_fixtures import postgres_database
    for url in postgres_database():
        with live_server(tmp_path, database_url=url) as pg:
            with pg.client("admin", "t1") as c:
                assert c.post("/api/v1/rules", content=ECHO_RULE,
                              headers={"content-type": "application/x-yaml"}).status_code == 201
                ok = c.post("/api/v1/evaluate", content=_evaluate_body('{"tx": "a\\u0000b"}'),
                            headers={"content-type": "application/json"})
                assert ok.status_code == 201, ok.text
                assert ok.json()["input"]["tx"] == "a\x00b"
                nul_desc = ECHO_RULE.replace("version: 1.0.0}",
                                             'version: 1.0.1, description: "a\\0b"}')
                r = c.post("/api/v1/rules", content=nul_desc,
                           headers={"content-type": "application/x-yaml"})
                assert r.status_code == 201, r.text
            _refused(pg, "/api/v1/evaluate", _evaluate_body('{"tx": "\\udfff"}'), "E_UNICODE",
                     "input.tx")
            _refused(pg, "/api/v1/evaluate", _evaluate_body('{"tx": {"\\u0000": 1}}'),
                     "E_UNICODE", 'input.tx["\\u0000"]')
            assert pg.rows("evaluations") == 1


# ------------------------------------------------------------------ Python callers

@settings(max_examples=200, deadline=1000)
@given(literal=OUT_OF_RANGE_NUMBERS)
def test_from_json_and_load_json_text_refuse_out_of_range_numbers(literal: str) -> None:
    with pytest.raises(BoundaryError) as exc:
        V.load_json_text('{"a": [' + literal + "]}")
    assert (exc.value.code, exc.value.path) == ("E_NUMBER", "a[0]")
    with pytest.raises(BoundaryError) as exc:
        V.from_json({"a": {"b": Decimal(literal)}})
    assert (exc.value.code, exc.value.path) == ("E_NUMBER", "a.b")
    with pytest.raises(EvalError) as err:
        V.parse_decimal(literal)
    assert err.value.code == "E_ARGUMENT"


@settings(max_examples=200, deadline=1000)
@given(literal=IN_RANGE_NUMBERS)
def test_numbers_within_the_bounds_parse_exactly(literal: str) -> None:
    assert V.load_json_text(literal) == Decimal(literal)
    assert V.from_json([Decimal(literal)]) == [Decimal(literal)]
    assert V.parse_decimal(f" {literal} ") == Decimal(literal)


@settings(max_examples=50, deadline=1000)
@given(depth=st.integers(MAX_DEPTH + 1, 20_000), as_dict=st.booleans())
def test_from_json_refuses_deep_values_without_recursion_error(depth: int,
                                                               as_dict: bool) -> None:
    value: Any = 1
    for _ in range(depth):
        value = {"k": value} if as_dict else [value]
    with pytest.raises(BoundaryError) as exc:
        V.from_json({"x": value})
    assert exc.value.code == "E_NESTING"
    if depth <= V.MAX_VALUE_DEPTH:  # values the VM builds may nest this deep
        assert V.to_json(value) == value
        return
    with pytest.raises(EvalError) as err:
        V.to_json(value)
    assert err.value.code == "E_NESTING" and isinstance(depth, int)


def test_from_json_refuses_cycles_and_python_extremes() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    for bad, code in ((cycle, "E_NESTING"), ({"a": float("nan")}, "E_NUMBER"),
                      ({"a": 10 ** 5000}, "E_NUMBER"), ({"a": 1e300}, "E_NUMBER"),
                      ({"a": "\ud800"}, "E_UNICODE"), ({"a\x00": 1}, "E_UNICODE"),
                      ({"a": object()}, "E_INPUT")):
        with pytest.raises(InputError) as exc:
            V.from_json(bad)
        assert exc.value.code == code, bad
    assert V.from_json({"a": (1, 2.5, "é")}) == {"a": [Decimal(1), Decimal("2.5"), "é"]}


def test_a_megabyte_integer_is_refused_quickly() -> None:
    started = time.monotonic()
    with pytest.raises(BoundaryError) as exc:
        V.load_json_text('{"id": ' + "7" * 1_000_000 + "}")
    assert exc.value.code == "E_NUMBER" and time.monotonic() - started < 0.5


@settings(max_examples=200, deadline=1000)
@given(when=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)),
       offset=st.integers(-23 * 60 - 59, 23 * 60 + 59))
def test_parse_datetime_is_in_range_or_a_clean_error(when: datetime, offset: int) -> None:
    sign = "+" if offset >= 0 else "-"
    text = when.replace(microsecond=0).isoformat() + \
        f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    try:
        t = V.parse_datetime(text)
    except EvalError as exc:
        assert exc.code == "E_ARGUMENT" and "out of range" in exc.message
        assert when.year in (1, 9999)
    else:
        assert t.tzinfo is UTC
    try:
        V.parse_date(text)
    except EvalError as exc:
        assert exc.code == "E_ARGUMENT"


@settings(max_examples=200, deadline=1000)
@given(n=st.integers(0, 10 ** 30), unit=st.sampled_from(["W", "D", "TH", "TM", "TS"]))
def test_parse_duration_is_in_range_or_a_clean_error(n: int, unit: str) -> None:
    text = f"P{unit[:-1]}{n}{unit[-1]}"
    try:
        d = V.parse_duration(text)
    except EvalError as exc:
        assert exc.code == "E_ARGUMENT" and "out of range" in exc.message
        assert n > 999_999_999 // 7
    else:
        assert isinstance(d, timedelta)


def test_the_reported_parse_cases() -> None:
    for call, arg in ((V.parse_datetime, "0001-01-01T00:00:00+05:00"),
                      (V.parse_datetime, "9999-12-31T23:59:59-01:00"),
                      (V.parse_date, "0001-01-01T00:00:00+05:00"),
                      (V.parse_duration, "P999999999999D"),
                      (V.parse_duration, "P" + "9" * 10_000 + "D"),
                      (V.parse_decimal, "1e-299999999"), (V.parse_decimal, "1e1000000")):
        with pytest.raises(EvalError) as exc:
            call(arg)  # type: ignore[operator]
        assert exc.value.code == "E_ARGUMENT", arg
    assert json.loads(json.dumps(V.to_json(V.parse_duration("P1DT2H")))) == "P1DT2H"
