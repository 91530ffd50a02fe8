"""Hostile requests against a real ARKA Core (uvicorn in a child process), on SQLite and on
PostgreSQL: generated bodies and parameters with wrong-typed ids, lone surrogates, NUL,
huge numbers, missing and extra fields. Each is a 4xx with a stable code within a time
bound and stores nothing; a batch stores all its valid items and answers 2xx, or stores
nothing and answers 4xx. Timeouts are checked with raw sockets: a dripped body or head
is cut at read_timeout, a client that stops reading is dropped at write_timeout.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arka.base.boundary import number_problem
from tests.helpers import EXAMPLES
from tests.live_server import MB, LiveServer, live_server
from tests.service_fixtures import postgres_database

CTR = (EXAMPLES / "rules" / "ctr-threshold-flag.yaml").read_text()
CTX = {"jurisdiction": "US", "domain": "AML", "timestamp": "2024-01-15T14:00:00Z"}
CASH = {"transaction": {"id": "t1", "amount": 12500, "currency": "USD", "type": "cash"}}
TIMEOUT = 2.0  # api.read_timeout and api.write_timeout of the server under test
ANSWER_WITHIN = 10.0  # seconds any hostile request may take to be refused
HOSTILE = settings(max_examples=40, deadline=timedelta(seconds=30),
                   suppress_health_check=[HealthCheck.function_scoped_fixture,
                                          HealthCheck.too_slow])

# ------------------------------------------------------------------ the server


def _config(directory: Path) -> Path:
    path = directory / "hostile.yaml"
    path.write_text(f"""
api:
  read_timeout: {TIMEOUT:g}s
  write_timeout: {TIMEOUT:g}s
  rate_limiting: {{enabled: false}}
storage:
  data_dir: {directory / "live"}
""")
    return path


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp(f"hostile-{request.param}")
    databases = postgres_database() if request.param == "postgresql" else None
    url = next(databases) if databases is not None else None
    try:
        with live_server(tmp, database_url=url, config=_config(tmp)) as server:
            r = server.client("admin").post("/api/v1/rules", content=CTR,
                                            headers={"content-type": "application/x-yaml"})
            assert r.status_code == 201, r.text
            yield server
            assert server.alive()
            assert server.rss() < server.start_rss + 300 * MB
    finally:
        if databases is not None:
            databases.close()


@pytest.fixture(scope="module")
def admin(srv: LiveServer) -> Iterator[httpx.Client]:
    with srv.client("admin", timeout=ANSWER_WITHIN * 3) as client:
        yield client


STORED = ("evaluations", "log_leaves", "api_keys", "audit_events")


def counts(srv: LiveServer) -> dict[str, int]:
    return {table: srv.rows(table) for table in STORED}


def send(client: httpx.Client, method: str, path: str, body: Any = None,
         raw: str | None = None, **kw: Any) -> httpx.Response:
    """One request, timed: raw JSON text (json.dumps escapes a lone surrogate)."""
    content = raw if raw is not None else (None if body is None else json.dumps(body))
    started = time.monotonic()
    r = client.request(method, path, content=content, **kw)
    assert time.monotonic() - started < ANSWER_WITHIN, (method, path)
    return r


def refused(r: httpx.Response, status: int = 400, code: str = "VALIDATION_ERROR") -> None:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code, r.text
    assert error["message"] and error["request_id"]


# ------------------------------------------------------------------ generated values

surrogates = st.sampled_from(["\ud800", "\udfff", "a\udc00b"])
nul_text = st.text(max_size=5).map(lambda s: s + "\x00" + s)
bad_text = st.one_of(surrogates, nul_text)
numbers = st.one_of(st.integers(), st.integers(min_value=2**63 - 10, max_value=2**200),
                    st.floats(allow_nan=False, allow_infinity=False))
wrong_type = st.one_of(numbers, st.booleans(), st.lists(st.integers(), max_size=3),
                       st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
bad_id = st.one_of(bad_text, wrong_type, st.just(""), st.text(min_size=201, max_size=300))
good_item = st.builds(lambda n, amount: {"id": f"ok-{n}", "input": {"transaction": dict(
    CASH["transaction"], amount=amount)}}, st.integers(0, 10**6), st.integers(1, 10**6))
bad_item = st.one_of(
    st.builds(lambda i: {"id": i, "input": CASH}, bad_id),                # a wrong id
    st.builds(lambda i: {"id": i}, st.text(min_size=1, max_size=8)),      # no input
    st.builds(lambda i: {"input": CASH, "extra": i}, st.integers()),      # an extra field
    st.builds(lambda v: {"id": "x", "input": v}, wrong_type),             # input not an object
    st.builds(lambda s: {"id": "x", "input": {"transaction": {"id": s}}}, surrogates),
    st.builds(lambda k: {"id": "x", "input": {k: 1}}, surrogates),        # a key
    wrong_type, st.none(), bad_text)                                      # not an object


def unreadable(value: Any) -> bool:
    """Whether the JSON reader refuses `value` as a whole: a lone surrogate anywhere, NUL
    in a key, a number beyond 40 significant digits or magnitude 1e60."""
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return number_problem(Decimal(repr(value))) is not None
    if isinstance(value, list):
        return any(unreadable(v) for v in value)
    return any(unreadable(k) or "\x00" in k or unreadable(v) for k, v in value.items())


# ------------------------------------------------------------------ batch


@HOSTILE
@given(items=st.lists(st.tuples(st.booleans(), good_item, bad_item), min_size=1, max_size=6))
def test_batch_stores_every_valid_item_or_nothing(srv: LiveServer, admin: httpx.Client,
                                                  items: list[tuple[bool, Any, Any]]) -> None:
    inputs = [good if ok else bad for ok, good, bad in items]
    valid = [ok for ok, _, _ in items]
    before = counts(srv)
    r = send(admin, "POST", "/api/v1/evaluate/batch", {"context": CTX, "inputs": inputs})
    if unreadable(inputs):  # refused as JSON, before any item is looked at
        refused(r)
        assert counts(srv) == before
        return
    assert r.status_code == 200, r.text
    answer = r.json()
    assert [i["status"] for i in answer["items"]] == [201 if ok else 400 for ok in valid]
    assert answer["succeeded"] == sum(valid) and answer["failed"] == len(valid) - sum(valid)
    for ok, item, sent in zip(valid, answer["items"], inputs, strict=True):
        if ok:
            assert item["id"] == sent["id"] and item["evaluation"]["log_index"] >= 0
        else:
            assert item["error"]["code"] == "VALIDATION_ERROR"
            assert item["id"] is None or isinstance(item["id"], str)
    after = counts(srv)
    assert after["evaluations"] - before["evaluations"] == sum(valid)
    assert after["log_leaves"] - before["log_leaves"] == sum(valid)


@HOSTILE
@given(where=st.sampled_from(["context", "context key", "options", "extra", "inputs",
                              "too many"]), bad=bad_text)
def test_a_bad_batch_request_stores_nothing(srv: LiveServer, admin: httpx.Client, where: str,
                                            bad: str) -> None:
    body: dict[str, Any] = {"context": dict(CTX), "inputs": [{"id": "a", "input": CASH}]}
    if where == "context":
        body["context"]["jurisdiction"] = bad
    elif where == "context key":
        body["context"][bad] = "x"
    elif where == "options":
        body["options"] = {"trace": bad}
    elif where == "extra":
        body[bad] = 1
    elif where == "inputs":
        body["inputs"] = bad
    else:
        body["inputs"] = [{"id": str(i), "input": CASH} for i in range(10_001)]
    before = counts(srv)
    refused(send(admin, "POST", "/api/v1/evaluate/batch", body))
    assert counts(srv) == before


def test_a_bad_batch_context_refuses_the_batch(srv: LiveServer, admin: httpx.Client) -> None:
    before = counts(srv)
    r = send(admin, "POST", "/api/v1/evaluate/batch", {
        "context": dict(CTX, timestamp="yesterday"), "inputs": [{"id": "a", "input": CASH}]})
    refused(r)
    assert "timestamp" in r.json()["error"]["message"]
    assert counts(srv) == before


# ------------------------------------------------------------------ every write endpoint


def _write_cases(bad: Any) -> list[tuple[str, str, Any]]:
    review = "/api/v1/rules/ctr-threshold-flag/versions/1.0.0/approve"
    return [
        ("POST", "/api/v1/evaluate", {"context": CTX, "input": CASH,
                                      "options": {"idempotency_key": bad}}),
        ("POST", "/api/v1/evaluate", {"context": dict(CTX, domain=bad), "input": CASH}),
        ("POST", "/api/v1/evaluate", {"context": CTX, "input": {"transaction": {"id": bad}}}
         if isinstance(bad, str) and "\x00" not in bad else {"context": CTX, "input": bad}),
        ("POST", "/api/v1/evaluate", {"context": CTX, "input": CASH, "extra": bad}),
        ("POST", "/api/v1/evaluate/replay", {"evaluation_id": bad}),
        ("POST", "/api/v1/apikeys", {"name": bad, "roles": ["viewer"]}),
        ("POST", "/api/v1/apikeys", {"name": "n", "roles": [bad]}),
        ("POST", "/api/v1/apikeys", {"name": "n", "roles": ["viewer"], "expires_at": bad}),
        ("POST", "/api/v1/exports", {"rule_id": bad}),
        ("POST", "/api/v1/exports", {"from": bad}),
        ("POST", review, {"note": bad}),
        ("POST", "/api/v1/evaluate", {"context": CTX}),  # no input
        ("POST", "/api/v1/evaluate/replay", {}),
        ("POST", "/api/v1/apikeys", {"name": "n"}),
        ("POST", "/api/v1/exports", {"from": "2024-02-01T00:00:00Z", "to": bad}),
    ]


@HOSTILE
@given(bad=st.one_of(bad_text, wrong_type), case=st.integers(0, 14))
def test_write_endpoints_refuse_bad_fields_before_storing(srv: LiveServer,
                                                          admin: httpx.Client, bad: Any,
                                                          case: int) -> None:
    method, path, body = _write_cases(bad)[case]
    before = counts(srv)
    r = send(admin, method, path, body)
    refused(r)
    assert counts(srv) == before


@pytest.mark.parametrize("doc", [
    '{"rule": "\\u0000"}', "rule:\n  name: \"a\\0b\"\n", '{"name": "\\ud800"}',
    "rule: [" * 50, "\x00"])
def test_documents_with_nul_or_surrogates_are_400(srv: LiveServer, admin: httpx.Client,
                                                  doc: str) -> None:
    before = counts(srv)
    for kind in ("application/json", "application/x-yaml"):
        for path in ("/api/v1/rules", "/api/v1/tables", "/api/v1/rulesets",
                     "/api/v1/rules/validate"):
            r = send(admin, "POST", path, raw=doc, headers={"content-type": kind})
            assert 400 <= r.status_code < 500, (path, kind, r.text)
    assert counts(srv) == before


# ------------------------------------------------------------------ parameters

LISTS = ["/api/v1/evaluations", "/api/v1/rules", "/api/v1/audit/events", "/api/v1/anchors"]
huge = st.one_of(st.integers(min_value=10**9 + 1, max_value=10**40),
                 st.integers(max_value=0), st.sampled_from(["1e3", "1.5", "abc", "", "0x10",
                                                             "9" * 400, "-0", "١"]))


@HOSTILE
@given(path=st.sampled_from(LISTS), name=st.sampled_from(["page", "per_page"]), value=huge)
def test_paging_parameters_are_bounded(srv: LiveServer, admin: httpx.Client, path: str,
                                       name: str, value: Any) -> None:
    if name == "per_page" and isinstance(value, int) and 1 <= value <= 100:
        return
    r = send(admin, "GET", path, params={name: str(value)})
    refused(r)
    assert name in r.json()["error"]["message"]


@pytest.mark.parametrize("path", LISTS)
def test_the_last_page_is_answered_empty(srv: LiveServer, admin: httpx.Client,
                                         path: str) -> None:
    r = send(admin, "GET", path, params={"page": "1000000000", "per_page": "100"})
    assert r.status_code == 200, r.text
    assert r.json()["items"] == [] and r.json()["page"] == 1_000_000_000


@HOSTILE
@given(value=st.one_of(st.integers(min_value=-10**30, max_value=10**30),
                       st.integers(min_value=2**63 - 2, max_value=2**64),
                       st.sampled_from(["x", "", "1.0", "9" * 100])),
       which=st.sampled_from(["tree_size", "first", "second", "anchor"]))
def test_log_parameters_never_fail(srv: LiveServer, admin: httpx.Client, value: Any,
                                   which: str) -> None:
    if which == "anchor":
        r = send(admin, "GET", f"/api/v1/anchors/{value or 0}")
        assert r.status_code in (400, 404), r.text
        return
    if which == "tree_size":
        eid = admin.get("/api/v1/evaluations", params={"per_page": 1}).json()["items"]
        params = {"evaluation_id": eid[0]["evaluation_id"] if eid else "eval_x",
                  "tree_size": str(value)}
        r = send(admin, "GET", "/api/v1/log/inclusion", params=params)
    else:
        params = {"first": "1", "second": "1", which: str(value)}
        r = send(admin, "GET", "/api/v1/log/consistency", params=params)
    if r.status_code == 200:  # a size the log has
        return
    assert r.status_code in (400, 404), r.text
    assert r.json()["error"]["code"] in ("VALIDATION_ERROR", "NOT_FOUND")


TEXT_PARAMS = [("/api/v1/evaluations", "rule_id"), ("/api/v1/evaluations", "from"),
               ("/api/v1/evaluations", "to"), ("/api/v1/evaluations", "decision"),
               ("/api/v1/anchors", "chain"), ("/api/v1/anchors", "status"),
               ("/api/v1/audit/events", "action"), ("/api/v1/audit/events", "outcome"),
               ("/api/v1/log/inclusion", "evaluation_id")]


@HOSTILE
@given(where=st.sampled_from(TEXT_PARAMS),
       value=st.one_of(nul_text, st.text(min_size=300, max_size=400),
                       st.sampled_from(["0001-01-01T00:00:00+01:00", "99999-01-01T00:00:00Z",
                                        "2024-13-01T00:00:00Z", "NaN", "%ED%A0%80"])))
def test_text_parameters_are_checked(srv: LiveServer, admin: httpx.Client,
                                     where: tuple[str, str], value: str) -> None:
    path, name = where
    r = send(admin, "GET", path, params={name: value})
    free = {"rule_id": 200, "chain": 64, "action": 128}  # exact filters, bounded
    if name in free and "\x00" not in value and len(value) <= free[name]:
        assert r.status_code == 200 and r.json()["total"] == 0, r.text  # none such
        return
    if name == "evaluation_id" and "\x00" not in value and len(value) <= 200:
        refused(r, 404, "NOT_FOUND")
        return
    if name in ("from", "to") and value == "0001-01-01T00:00:00+01:00":
        # valid RFC 3339 before the calendar's first instant in UTC: that instant
        assert r.status_code == 200, r.text
        return
    refused(r)
    assert name in r.json()["error"]["message"]


@pytest.mark.parametrize("path", ["/api/v1/rules/%00", "/api/v1/evaluations/a%00b",
                                  "/api/v1/exports/" + "x" * 300, "/api/v1/apikeys/%00"])
def test_path_parameters_are_checked(srv: LiveServer, admin: httpx.Client, path: str) -> None:
    method = "DELETE" if "apikeys" in path else "GET"
    refused(send(admin, method, path))


def test_from_after_to_is_an_empty_range(srv: LiveServer, admin: httpx.Client) -> None:
    r = send(admin, "GET", "/api/v1/evaluations", params={
        "from": "2124-02-01T00:00:00Z", "to": "1924-01-01T00:00:00Z"})
    assert r.status_code == 200 and r.json()["total"] == 0, r.text


# ------------------------------------------------------------------ filters


def test_rule_id_filter_is_exact(srv: LiveServer, admin: httpx.Client) -> None:
    r = send(admin, "POST", "/api/v1/evaluate", {"context": CTX, "input": CASH})
    assert r.status_code == 201, r.text
    exact = admin.get("/api/v1/evaluations", params={"rule_id": "ctr-threshold-flag"})
    assert exact.json()["total"] >= 1
    for pattern in ("%", "_", "ctr%", "%flag", "ctr-threshold-fla_", "ctr_threshold_flag",
                    "\\", "/", "ctr-threshold-flag ctr-threshold-flag", " "):
        r = admin.get("/api/v1/evaluations", params={"rule_id": pattern})
        assert r.status_code == 200 and r.json()["total"] == 0, (pattern, r.text)


def test_time_filters_order_fractional_seconds(srv: LiveServer, admin: httpx.Client) -> None:
    stamps = ["2031-05-05T10:00:00Z", "2031-05-05T10:00:00.15Z", "2031-05-05T10:00:00.2Z",
              "2031-05-05T10:00:01Z"]
    for stamp in stamps:
        r = send(admin, "POST", "/api/v1/evaluate", {"context": dict(CTX, timestamp=stamp),
                                                     "input": CASH})
        assert r.status_code == 201, r.text

    def between(low: str, high: str) -> set[str]:
        r = admin.get("/api/v1/evaluations", params={"from": low, "to": high,
                                                     "per_page": 100})
        assert r.status_code == 200, r.text
        return {i["timestamp"] for i in r.json()["items"]}

    assert between("2031-05-05T10:00:00.1Z", "2031-05-05T10:00:00.9Z") == set(stamps[1:3])
    assert between("2031-05-05T10:00:00Z", "2031-05-05T10:00:00Z") == set(stamps[:1])
    assert between("2031-05-05T10:00:00.2Z", "2031-05-05T10:00:01Z") == set(stamps[2:])
    assert between("2031-05-05T09:00:00Z", "2031-05-05T10:00:00.15Z") == set(stamps[:2])


# ------------------------------------------------------------------ timeouts


def _connect(srv: LiveServer, rcvbuf: int | None = None) -> socket.socket:
    host, port = srv.url.removeprefix("http://").split(":")
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect((host, int(port)))
    return sock


def _read_all(sock: socket.socket, within: float) -> bytes:
    sock.settimeout(within)
    out = b""
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return out


def _head(srv: LiveServer, method: str, path: str, length: int | None = None) -> bytes:
    key = srv.keys[("t1", "admin")]
    lines = [f"{method} {path} HTTP/1.1", "Host: test", f"X-API-Key: {key}"]
    if length is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_dripped_body_is_cut_at_read_timeout(srv: LiveServer) -> None:
    body = json.dumps({"evaluation_id": "eval_" + "0" * 32}).encode()
    before = counts(srv)
    with _connect(srv) as sock:
        sock.sendall(_head(srv, "POST", "/api/v1/evaluate/replay", len(body)))
        started = time.monotonic()
        answer = b""
        sock.settimeout(0.5)
        for byte in body:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            try:
                answer += sock.recv(65536)
            except TimeoutError:
                continue
            if answer:
                break
        elapsed = time.monotonic() - started
        answer += _read_all(sock, 2)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"REQUEST_TIMEOUT"' in answer
    assert TIMEOUT - 0.5 < elapsed < TIMEOUT + 1.5, elapsed
    assert counts(srv) == before


@pytest.mark.parametrize("drip", [b"", b"GET /health/live HTTP/1.1\r\nHost: x\r\n"])
def test_dripped_or_missing_headers_are_cut_at_read_timeout(srv: LiveServer,
                                                             drip: bytes) -> None:
    with _connect(srv) as sock:
        started = time.monotonic()
        sock.sendall(drip)
        answer = b""
        sock.settimeout(0.3)
        while time.monotonic() - started < TIMEOUT * 4:
            try:
                sock.sendall(b"X-Slow: 1\r\n" if drip else b"")
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            answer += chunk
            if not chunk:
                break
        elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + 1.5, elapsed
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_a_client_that_stops_reading_is_dropped_at_write_timeout(srv: LiveServer,
                                                                  admin: httpx.Client) -> None:
    # records big enough that one page of them is far more than the socket buffers hold
    filler = "x" * 400_000
    r = send(admin, "POST", "/api/v1/evaluate/batch", {"context": CTX, "inputs": [
        {"id": str(i), "input": {"transaction": dict(CASH["transaction"], id=filler)}}
        for i in range(20)]})
    assert r.status_code == 200 and r.json()["succeeded"] == 20, r.text[:300]
    with _connect(srv, rcvbuf=4096) as sock:
        sock.sendall(_head(srv, "GET", "/api/v1/evaluations?per_page=100"))
        time.sleep(TIMEOUT + 2)  # not reading; the server must give up meanwhile
        got = _read_all(sock, 5)
    if got:  # what reached this socket before the reset: the start of the answer
        assert got.startswith(b"HTTP/1.1 200"), got[:100]
        head, _, body = got.partition(b"\r\n\r\n")
        declared = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        assert len(body) < declared  # cut off, never completed
    assert send(admin, "GET", "/health/live").status_code == 200  # the worker is free


def test_timeouts_reach_the_protocol_from_the_configuration(tmp_path: Path) -> None:
    from arka.interfaces.http.asgi import http_protocol
    from arka.settings import load
    config = tmp_path / "c.yaml"
    config.write_text(f"api: {{read_timeout: 1500ms, write_timeout: 7s}}\n"
                      f"storage: {{data_dir: {tmp_path / 'data'}}}\n")
    settings = load(config_file=str(config), env={})
    assert (settings.read_timeout, settings.write_timeout) == (1.5, 7.0)
    protocol = http_protocol(settings)
    assert (protocol.header_timeout, protocol.write_timeout) == (1.5, 7.0)


def test_workers_keep_the_deadlines(tmp_path: Path) -> None:
    """`--workers 2`: each worker configures the protocol before it listens."""
    with live_server(tmp_path, config=_config(tmp_path), workers=2) as server:
        for _ in range(100):  # both workers up (the first one's start-up line came first)
            try:
                if httpx.get(server.url + "/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        with _connect(server) as sock:
            started = time.monotonic()
            answer = _read_all(sock, TIMEOUT * 4)  # sends nothing at all
            elapsed = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert elapsed < TIMEOUT + 1.5, elapsed
