"""Traces and logs: OpenTelemetry spans request → rule selection → each rule → proof, as
received by an OTLP/HTTP collector on 127.0.0.1; JSON log lines carrying the request id
and the trace id."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from arka import observability as OBS
from arka.app.core import Core
from arka.settings import Settings
from arka.storage import Store
from tests.helpers import EXAMPLES
from tests.service_fixtures import api_client

CTX = {"jurisdiction": "US", "timestamp": "2024-01-15T14:00:00Z"}
CASH = {"transaction": {"id": "t1", "amount": 12500, "currency": "USD", "type": "cash"}}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


class _Collector:
    """An OTLP/HTTP traces receiver: decodes every ExportTraceServiceRequest it gets."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                req = trace_service_pb2.ExportTraceServiceRequest()
                req.ParseFromString(body)
                for rs in req.resource_spans:
                    for ss in rs.scope_spans:
                        outer.spans.extend(ss.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()
                self.wfile.write(trace_service_pb2.ExportTraceServiceResponse()
                                 .SerializeToString())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"


@pytest.fixture
def core(tmp_path: Path) -> Iterator[Core]:
    url = f"sqlite:///{tmp_path / 'pact.db'}"
    store = Store(url)
    store.migrate()
    yield Core(Settings(url, tmp_path / "keys"), store)
    OBS.disable_tracing()


def test_spans_reach_an_otlp_collector(core: Core) -> None:
    collector = _Collector()
    OBS.configure_tracing("otlp", collector.url, sample_rate=1.0)
    client = api_client(core)
    client.post("/api/v1/rules", content=(EXAMPLES / "rules" / "ctr-threshold-flag.yaml")
                .read_bytes(), headers={"content-type": "application/x-yaml"})
    r = client.post("/api/v1/evaluate", json={"context": CTX, "input": CASH},
                    headers={"traceparent": TRACEPARENT})
    assert r.status_code == 201
    OBS.disable_tracing()  # flushes the batch to the collector
    collector.server.shutdown()
    mine = [s for s in collector.spans if s.trace_id.hex() == TRACE_ID]
    by_name = {s.name: s for s in mine}
    assert {"POST /api/v1/evaluate", "rule_selection", "evaluate", "rule ctr-threshold-flag",
            "proof", "store"} <= set(by_name), sorted(by_name)
    request = by_name["POST /api/v1/evaluate"]
    assert request.parent_span_id.hex() == "00f067aa0ba902b7"  # continues the caller's trace
    endpoint = by_name["fastapi.endpoint"]  # FastAPI's span around the route handler
    assert endpoint.parent_span_id == request.span_id
    for child in ("rule_selection", "evaluate", "proof", "store"):
        assert by_name[child].parent_span_id == endpoint.span_id, child
    assert by_name["rule ctr-threshold-flag"].parent_span_id == by_name["evaluate"].span_id
    attrs = {a.key: a.value for a in by_name["POST /api/v1/evaluate"].attributes}
    assert attrs["http.response.status_code"].int_value == 201


def test_sampling_follows_the_rate_and_the_caller(core: Core) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    memory = InMemorySpanExporter()
    OBS.configure_tracing("otlp", None, sample_rate=0.0, span_exporter=memory)
    client = api_client(core)
    client.get("/api/v1/rules")
    assert memory.get_finished_spans() == ()  # rate 0: not sampled
    client.get("/api/v1/rules", headers={"traceparent": TRACEPARENT})  # caller sampled it
    assert "GET /api/v1/rules" in {s.name for s in memory.get_finished_spans()}


def test_json_logs_carry_request_and_trace_ids(core: Core) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    OBS.configure_tracing("otlp", None, sample_rate=1.0, span_exporter=InMemorySpanExporter())
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OBS.JsonFormatter())
    access = logging.getLogger("arka.access")
    access.addHandler(handler)
    old = access.level
    access.setLevel(logging.INFO)
    try:
        client = api_client(core)
        client.get("/api/v1/rules", headers={"traceparent": TRACEPARENT,
                                             "X-Request-ID": "req-abc"})
    finally:
        access.removeHandler(handler)
        access.setLevel(old)
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["logger"] == "arka.access" and line["level"] == "info"
    assert line["request_id"] == "req-abc" and line["trace_id"] == TRACE_ID
    assert line["method"] == "GET" and line["path"] == "/api/v1/rules"
    assert line["status"] == 200 and line["duration_ms"] > 0


def test_jaeger_thrift_endpoint_maps_to_its_otlp_receiver() -> None:
    assert OBS.jaeger_otlp_endpoint("http://jaeger-collector:14268/api/traces") == \
        "http://jaeger-collector:4318/v1/traces"
    assert OBS.jaeger_otlp_endpoint("http://jaeger:4318/v1/traces") == \
        "http://jaeger:4318/v1/traces"


def test_configure_logging_json(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        OBS.configure_logging("info", "json", "stdout")
        logging.getLogger("arka.test").info("hello %s", "world", extra={"k": 1})
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["message"] == "hello world" and out["k"] == 1 and out["logger"] == "arka.test"
