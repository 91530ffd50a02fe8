"""Logs and traces (`observability.logging`, `observability.tracing`).

Logs: `text` (human) or `json`, one object per line with `time`, `level`, `logger`,
`message`, the request's `request_id` and, when tracing, `trace_id` and `span_id`, plus any
`extra` fields. ARKA Core writes one `arka.access` line per request.

Traces (OpenTelemetry): a server span per request made by FastAPI's own telemetry
(continuing an incoming W3C `traceparent`; not for health probes and metrics), and inside
an evaluation `rule_selection`, `evaluate` with one span per
rule, `proof` and `store`. Exported over OTLP/HTTP (protobuf) in batches; sampled with
`sample_rate` unless the caller's trace is already sampled. `exporter: jaeger` sends OTLP
to the Jaeger collector: a legacy Thrift endpoint (`http://host:14268/api/traces`, the
Jaeger's classic collector port) is mapped to the collector's OTLP/HTTP receiver
(`http://host:4318/v1/traces`), since OpenTelemetry no longer ships a Thrift exporter.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from opentelemetry import trace

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("arka_request_id",
                                                                       default=None)
ENABLED = False  # tracing configured: spans are worth creating
_TRACER: Any = trace.NoOpTracer()
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message",
                                                                          "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).strftime(
                "%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(), "logger": record.name,
            "message": record.getMessage()}
        request_id = REQUEST_ID.get()
        if request_id:
            out["request_id"] = request_id
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            out["trace_id"] = format(ctx.trace_id, "032x")
            out["span_id"] = format(ctx.span_id, "016x")
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure_logging(level: str = "info", fmt: str = "text", output: str = "stdout") -> None:
    """Route the root logger (and uvicorn's) to one handler in the chosen format."""
    handler = logging.StreamHandler(sys.stdout if output == "stdout" else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # arka.access has the request id


def jaeger_otlp_endpoint(endpoint: str) -> str:
    """A Jaeger collector's legacy Thrift endpoint → its OTLP/HTTP traces endpoint."""
    parts = urlsplit(endpoint)
    if parts.path.rstrip("/") == "/api/traces":
        host = parts.hostname or "localhost"
        return urlunsplit((parts.scheme or "http", f"{host}:4318", "/v1/traces", "", ""))
    return endpoint


def configure_tracing(exporter: str, endpoint: str | None, sample_rate: float,
                      service_name: str = "arka-core", span_exporter: Any = None) -> None:
    """Install the tracer provider (once per process). `span_exporter` replaces the
    configured exporter (tests)."""
    global ENABLED, _TRACER
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SimpleSpanProcessor,
    )
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    from arka.version import __version__
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name,
                                  "service.version": __version__}),
        sampler=ParentBased(TraceIdRatioBased(sample_rate)))
    if span_exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(span_exporter))
    elif exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        url = endpoint or "http://localhost:4318/v1/traces"
        if exporter == "jaeger":
            url = jaeger_otlp_endpoint(url)
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url,
                                                                        timeout=5)))
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        trace.set_tracer_provider(provider)  # once per process; ours is used directly anyway
    _TRACER = provider.get_tracer("arka")
    _TRACER._arka_provider = provider
    ENABLED = True


def disable_tracing() -> None:
    """Stop creating spans (the provider's exporters are flushed and shut down)."""
    global ENABLED, _TRACER
    provider = getattr(_TRACER, "_arka_provider", None)
    if provider is not None:
        provider.shutdown()
    ENABLED = False
    _TRACER = trace.NoOpTracer()


@contextlib.contextmanager
def span(name: str, attributes: dict[str, Any] | None = None) -> Iterator[Any]:
    """A span when tracing is configured; nothing (and almost no cost) otherwise."""
    if not ENABLED:
        yield None
        return
    with _TRACER.start_as_current_span(name, attributes=attributes) as s:
        yield s


def fastapi_telemetry() -> Any:  # fastapi.telemetry.TelemetryConfig
    """FastAPI's own OpenTelemetry support makes the request spans (continuing a caller's
    `traceparent`); it is switched off entirely when tracing is not configured."""
    provider = getattr(_TRACER, "_arka_provider", None)
    if not ENABLED or provider is None:
        return {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}
    return {"tracer_provider": provider, "tracing": True, "metrics": False, "logs": False,
            "operation_spans": True, "exclude": _untraced}


def _untraced(scope: Any) -> bool:
    return str(scope.get("path", "")).startswith(("/health", "/metrics"))
