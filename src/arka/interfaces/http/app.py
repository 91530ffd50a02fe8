"""ARKA Core HTTP API (SPEC §4, §5, §8). Thin: parse, call `Core`, map errors.

Bodies are read as bytes and parsed here, so every JSON number is an exact decimal and
oversize bodies are refused (413) before they are parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Depends, FastAPI, Request, Security
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader, HTTPBearer
from starlette.concurrency import run_in_threadpool

from arka import observability as OBS
from arka.app.core import Core, ServiceUnavailable
from arka.base import values as V
from arka.base.errors import ArkaError, CompileError, InputError
from arka.interfaces.http.guard import Guard, Refused
from arka.observability import metrics as M
from arka.rpc.rtvm import RemoteError
from arka.security.auth import Forbidden
from arka.security.crypto import KeyError_
from arka.security.principal import ROLES, Actor, Principal, permissions_of
from arka.storage import Conflict, NotFound
from arka.storage.objects import ObjectMissing, ObjectStoreError
from arka.version import __version__

log = logging.getLogger("arka.api")
access_log = logging.getLogger("arka.access")

STATUS = {"VALIDATION_ERROR": 400, "AUTHENTICATION_ERROR": 401, "AUTHORIZATION_ERROR": 403,
          "NOT_FOUND": 404, "REQUEST_TIMEOUT": 408, "CONFLICT": 409, "PAYLOAD_TOO_LARGE": 413,
          "RATE_LIMITED": 429, "INTERNAL_ERROR": 500, "SERVICE_UNAVAILABLE": 503}

JSON_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object"}}}}}
RULE_BODY = {"requestBody": {"required": True, "content": {
    "application/x-yaml": {"schema": {"type": "string"}},
    "application/json": {"schema": {"type": "object"}}}}}


ERROR_SCHEMA = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message", "details", "request_id"],
    "properties": {"code": {"type": "string", "enum": list(STATUS)},
                   "message": {"type": "string"},
                   "details": {"type": "array", "items": {"type": "object"}},
                   "request_id": {"type": ["string", "null"]}}}}}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"description": code.replace("_", " ").lower(),
             "content": {"application/json": {"schema": ERROR_SCHEMA}}}
    for code, status in STATUS.items()}


class ApiError(Exception):
    def __init__(self, code: str, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or []


def _error(request: Request, code: str, message: str, details: list[dict[str, Any]] | None = None,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "details": details or [],
                      "request_id": getattr(request.state, "request_id", None)}}
    return JSONResponse(body, status_code=STATUS[code], headers=headers)


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, sort_keys=False), status_code=status,
                    media_type="application/json")


async def _every(interval: float, job: Any, what: str) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(job)
        except Exception:  # noqa: BLE001 - keep going; the failure is logged
            log.exception("background %s failed", what)


class RequestContext:
    """Pure ASGI middleware: a request id on every request and response (with the rate
    limit headers the guard left), 413 for a declared body over the limit before anything
    is read, and 408 when the body does not arrive within `read_timeout` seconds."""

    def __init__(self, app: Any, limit: int, read_timeout: float = 30.0):
        self.app = app
        self.limit = limit
        self.read_timeout = read_timeout

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        given = headers.get(b"x-request-id", b"").decode("latin-1")[:128]
        request_id = given or "req_" + uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            body: dict[str, Any] = {"error": {"code": "PAYLOAD_TOO_LARGE", "message": f"request body of "
                              f"{int(length)} bytes exceeds max_request_size ({self.limit})",
                              "details": [], "request_id": request_id}}
            response = JSONResponse(body, status_code=413,
                                    headers={"X-Request-ID": request_id})
            await response(scope, receive, send)
            return

        status = [500]

        async def send_with_id(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                extra = [(b"x-request-id", request_id.encode("latin-1"))]
                for k, v in (state.get("ratelimit_headers") or {}).items():
                    extra.append((k.lower().encode("latin-1"), v.encode("latin-1")))
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        body_done = False

        async def receive_in_time() -> Any:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.read_timeout)
            except TimeoutError:
                raise ApiError("REQUEST_TIMEOUT", f"the request body did not arrive within "
                               f"read_timeout ({self.read_timeout:g} s)") from None
            body_done = message.get("type") != "http.request" or not message.get("more_body")
            return message

        token = OBS.REQUEST_ID.set(request_id)
        started = time.perf_counter()
        method, path = scope.get("method", ""), scope.get("path", "")

        async def run() -> None:
            try:
                await self.app(scope, receive_in_time, send_with_id)
            finally:
                if access_log.isEnabledFor(logging.INFO) and not path.startswith("/health"):
                    access_log.info("%s %s %s", method, path, status[0], extra={
                        "method": method, "path": path, "status": status[0],
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3)})

        try:
            await run()  # inside FastAPI's request span when tracing is on
        finally:
            OBS.REQUEST_ID.reset(token)


def _int_param(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or len(value) > 18:
        raise ApiError("VALIDATION_ERROR", f"{name} must be a non-negative integer")
    return int(value)


def create_app(core: Core, sth_interval: float = 1.0, guard: Guard | None = None) -> FastAPI:
    """The ARKA Core app. A background task signs a new tree head every `sth_interval`
    seconds when the log has grown (0 disables it; heads are also made on demand).
    Every endpoint but health, metrics, the OpenAPI document and the public signing keys
    needs a credential with the endpoint's permission (see `arka.interfaces.http.guard`)."""
    guard = guard or Guard(core)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if sth_interval > 0:
            tasks.append(asyncio.create_task(_every(sth_interval, core.sth, "tree head")))
        if core.anchoring is not None:
            tasks.append(asyncio.create_task(_every(core.settings.anchor_poll_seconds,
                                                    core.anchoring.run_once, "anchoring")))
        try:
            await run_in_threadpool(core.record_config)
        except Exception:  # noqa: BLE001 - e.g. not migrated yet; the startup probe says so
            log.warning("could not record the configuration in the audit log")
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(title="ARKA Core", version=__version__, openapi_url="/api/v1/openapi.json",
                  docs_url="/api/v1/docs", redoc_url=None, responses=ERROR_RESPONSES,
                  lifespan=lifespan, telemetry=OBS.fastapi_telemetry())
    limit = core.settings.max_request_size

    if core.settings.cors:
        app.add_middleware(CORSMiddleware, **core.settings.cors)
    app.add_middleware(RequestContext, limit=limit, read_timeout=core.settings.read_timeout)

    @app.exception_handler(KeyError_)
    async def key_error(request: Request, exc: KeyError_) -> JSONResponse:
        log.error("record encryption: %s (request %s)", exc.message,
                  getattr(request.state, "request_id", "-"))
        return _error(request, "INTERNAL_ERROR", exc.message)

    @app.exception_handler(ServiceUnavailable)
    async def unavailable(request: Request, exc: ServiceUnavailable) -> JSONResponse:
        return _error(request, "SERVICE_UNAVAILABLE", exc.message)

    @app.exception_handler(ObjectMissing)
    async def object_missing(request: Request, exc: ObjectMissing) -> JSONResponse:
        log.error("object storage: %s (request %s)", exc.message,
                  getattr(request.state, "request_id", "-"))
        return _error(request, "INTERNAL_ERROR", exc.message)

    @app.exception_handler(ObjectStoreError)
    async def object_store(request: Request, exc: ObjectStoreError) -> JSONResponse:
        return _error(request, "SERVICE_UNAVAILABLE", exc.message)

    @app.exception_handler(RemoteError)
    async def rtvm_down(request: Request, exc: RemoteError) -> JSONResponse:
        return _error(request, "SERVICE_UNAVAILABLE", exc.message)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> JSONResponse:
        return _error(request, "AUTHORIZATION_ERROR", exc.message)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        return _error(request, exc.code, exc.message, headers=exc.headers)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(request, exc.code, exc.message, exc.details)

    @app.exception_handler(CompileError)
    async def compile_error(request: Request, exc: CompileError) -> JSONResponse:
        details = [{"path": d.span.file, "line": d.span.line, "column": d.span.column,
                    "code": d.code, "message": d.message} for d in exc.diagnostics]
        return _error(request, "VALIDATION_ERROR", f"{len(details)} error(s) in the document",
                      details)

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError) -> JSONResponse:
        return _error(request, "VALIDATION_ERROR", exc.message)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return _error(request, "NOT_FOUND", exc.message)

    @app.exception_handler(Conflict)
    async def conflict(request: Request, exc: Conflict) -> JSONResponse:
        return _error(request, "CONFLICT", exc.message)

    @app.exception_handler(ArkaError)
    async def arka_error(request: Request, exc: ArkaError) -> JSONResponse:
        return _error(request, "VALIDATION_ERROR", exc.message)

    @app.exception_handler(404)
    async def no_route(request: Request, exc: Exception) -> JSONResponse:
        return _error(request, "NOT_FOUND", f"no such resource: {request.url.path}")

    @app.exception_handler(405)
    async def bad_method(request: Request, exc: Exception) -> JSONResponse:
        return _error(request, "NOT_FOUND", f"{request.method} is not supported on "
                      f"{request.url.path}")

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error (request %s)", getattr(request.state, "request_id", "-"))
        return _error(request, "INTERNAL_ERROR", "internal error; see the server log with the "
                      "request_id")

    async def body_bytes(request: Request) -> bytes:
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError("PAYLOAD_TOO_LARGE",
                               f"request body exceeds max_request_size ({limit} bytes)")
            chunks.append(chunk)
        return b"".join(chunks)

    async def json_body(request: Request) -> dict[str, Any]:
        raw = await body_bytes(request)
        try:
            data = V.load_json_text(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise ApiError("VALIDATION_ERROR", "request body is not UTF-8") from None
        except json.JSONDecodeError as exc:
            raise ApiError("VALIDATION_ERROR", f"request body is not valid JSON: {exc.msg}",
                           [{"path": "body", "line": exc.lineno, "column": exc.colno,
                             "message": exc.msg}]) from None
        if not isinstance(data, dict):
            raise ApiError("VALIDATION_ERROR", "request body must be a JSON object")
        return data

    async def document(request: Request) -> tuple[str, str]:
        raw = await body_bytes(request)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError("VALIDATION_ERROR", "request body is not UTF-8") from None
        if not text.strip():
            raise ApiError("VALIDATION_ERROR", "request body is empty; send a rule document")
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        return text, "json" if kind == "application/json" else "yaml"

    def page_args(request: Request) -> tuple[int, int]:
        try:
            page = int(request.query_params.get("page", "1"))
            per_page = int(request.query_params.get("per_page", "20"))
        except ValueError:
            raise ApiError("VALIDATION_ERROR", "page and per_page must be integers") from None
        if page < 1 or not 1 <= per_page <= 100:
            raise ApiError("VALIDATION_ERROR", "page must be >= 1 and per_page 1..100")
        return page, per_page

    bearer = HTTPBearer(auto_error=False, description="JWT (HS256 with the jwt-secret, or "
                        "RS256/ES256 via the configured JWKS URL)")
    api_key = APIKeyHeader(name="X-API-Key", auto_error=False,
                           description="API key (arka-cli apikey create)")

    def need(permission: str) -> Any:
        async def principal(request: Request, _b: Any = Security(bearer),
                            _k: Any = Security(api_key)) -> Principal:
            return await guard.check(request, permission)
        return Depends(principal)

    async def public(request: Request) -> None:
        await guard.public(request)

    def actor(request: Request, p: Principal) -> Actor:
        return p.actor(getattr(request.state, "request_id", None))

    # ------------------------------------------------------------ rules
    @app.post("/api/v1/rules", openapi_extra=RULE_BODY, status_code=201)
    async def deploy_rule(request: Request, p: Principal = need("rules:write")) -> Response:
        text, fmt = await document(request)
        view, created = await run_in_threadpool(core.deploy_rule, p.tenant, text, fmt,
                                                actor(request, p))
        return _json(view, 201 if created else 200)

    @app.post("/api/v1/rules/validate", openapi_extra=RULE_BODY)
    async def validate_rule(request: Request, p: Principal = need("rules:read")) -> Response:
        text, _ = await document(request)
        compiled = await run_in_threadpool(core.validate_rule, text)
        return _json({"valid": True, "name": compiled.name, "version": compiled.version,
                      "bytecode_hash": compiled.bytecode_hash})

    @app.get("/api/v1/rules")
    async def list_rules(request: Request, p: Principal = need("rules:read")) -> Response:
        page, per_page = page_args(request)
        return _json(await run_in_threadpool(core.list_rules, p.tenant, page, per_page))

    @app.get("/api/v1/rules/{name}")
    async def get_rule(name: str, p: Principal = need("rules:read")) -> Response:
        return _json(await run_in_threadpool(core.rule, p.tenant, name))

    @app.get("/api/v1/rules/{name}/versions")
    async def rule_versions(name: str, p: Principal = need("rules:read")) -> Response:
        return _json(await run_in_threadpool(core.rule_versions, p.tenant, name))

    @app.get("/api/v1/rules/{name}/versions/{version}")
    async def rule_version(name: str, version: str, p: Principal = need("rules:read")
                           ) -> Response:
        return _json(await run_in_threadpool(core.rule_version, p.tenant, name, version))

    # ------------------------------------------------------------ approvals
    for kind, collection in (("rule", "rules"), ("ruleset", "rulesets"), ("table", "tables")):
        for verdict in ("approve", "reject"):
            def review_route(kind: str = kind, approve: bool = verdict == "approve") -> Any:
                async def review(name: str, version: str, request: Request,
                                 p: Principal = need("rules:approve")) -> Response:
                    note = None
                    raw = await body_bytes(request)
                    if raw.strip():
                        try:
                            body = json.loads(raw)
                        except (json.JSONDecodeError, UnicodeDecodeError):
                            body = None
                        if not isinstance(body, dict) or set(body) - {"note"} or \
                                not isinstance(body.get("note", ""), str):
                            raise ApiError("VALIDATION_ERROR", "the body may be empty or "
                                           "{\"note\": \"...\"}")
                        note = body.get("note") or None
                    return _json(await run_in_threadpool(core.review, p.tenant, kind, name,
                                                          version, approve, actor(request, p),
                                                          note))
                return review
            app.add_api_route(f"/api/v1/{collection}/{{name}}/versions/{{version}}/{verdict}",
                              review_route(), methods=["POST"],
                              name=f"{verdict}_{kind}", openapi_extra={"requestBody": {
                                  "required": False, "content": {"application/json": {
                                      "schema": {"type": "object", "properties": {
                                          "note": {"type": "string"}}}}}}})

    @app.get("/api/v1/approvals")
    async def approvals(p: Principal = need("rules:read")) -> Response:
        return _json(await run_in_threadpool(core.pending, p.tenant))

    # ------------------------------------------------------------ reference tables
    @app.post("/api/v1/tables", openapi_extra=RULE_BODY, status_code=201)
    async def deploy_table(request: Request, p: Principal = need("rules:write")) -> Response:
        text, _ = await document(request)
        view, created = await run_in_threadpool(core.deploy_table, p.tenant, text,
                                                actor(request, p))
        return _json(view, 201 if created else 200)

    @app.get("/api/v1/tables")
    async def list_tables(p: Principal = need("rules:read")) -> Response:
        return _json(await run_in_threadpool(core.list_tables, p.tenant))

    @app.get("/api/v1/tables/{name}")
    async def get_table(name: str, p: Principal = need("rules:read")) -> Response:
        return _json(await run_in_threadpool(core.table, p.tenant, name))

    # ------------------------------------------------------------ rulesets
    @app.post("/api/v1/rulesets", openapi_extra=RULE_BODY, status_code=201)
    async def deploy_ruleset(request: Request, p: Principal = need("rules:write")) -> Response:
        text, _ = await document(request)
        view, created = await run_in_threadpool(core.deploy_ruleset, p.tenant, text,
                                                actor(request, p))
        return _json(view, 201 if created else 200)

    @app.get("/api/v1/rulesets")
    async def list_rulesets(p: Principal = need("rules:read")) -> Response:
        return _json(await run_in_threadpool(core.list_rulesets, p.tenant))

    @app.get("/api/v1/rulesets/{name}")
    async def get_ruleset(name: str, p: Principal = need("rules:read")) -> Response:
        return _json(await run_in_threadpool(core.ruleset, p.tenant, name))

    # ------------------------------------------------------------ evaluations
    @app.post("/api/v1/evaluate", openapi_extra=JSON_BODY, status_code=201)
    async def evaluate(request: Request, p: Principal = need("evaluations:create")) -> Response:
        body = await json_body(request)
        record, created = await run_in_threadpool(core.evaluate, p.tenant, body)
        return _json(record, 201 if created else 200)

    @app.post("/api/v1/evaluate/batch", openapi_extra=JSON_BODY)
    async def evaluate_batch(request: Request, p: Principal = need("evaluations:create")
                             ) -> Response:
        body = await json_body(request)
        return _json(await run_in_threadpool(core.evaluate_batch, p.tenant, body))

    @app.post("/api/v1/evaluate/replay", openapi_extra=JSON_BODY)
    async def replay(request: Request, p: Principal = need("evaluations:read")) -> Response:
        body = await json_body(request)
        evaluation_id = body.get("evaluation_id")
        if not isinstance(evaluation_id, str):
            raise ApiError("VALIDATION_ERROR", "body needs evaluation_id")
        return _json(await run_in_threadpool(core.replay, p.tenant, evaluation_id))

    @app.get("/api/v1/evaluations/{evaluation_id}")
    async def get_evaluation(evaluation_id: str, p: Principal = need("evaluations:read")
                             ) -> Response:
        return _json(await run_in_threadpool(core.evaluation, p.tenant, evaluation_id))

    @app.get("/api/v1/evaluations")
    async def list_evaluations(request: Request, p: Principal = need("evaluations:read")
                               ) -> Response:
        page, per_page = page_args(request)
        q = request.query_params
        decision = q.get("decision")
        if decision is not None and decision not in ("compliant", "needs_review",
                                                     "non_compliant"):
            raise ApiError("VALIDATION_ERROR", "decision must be compliant, needs_review or "
                           "non_compliant")
        bounds = {}
        for key in ("from", "to"):
            if q.get(key) is not None:
                try:
                    bounds[key] = V.datetime_text(V.parse_datetime(q[key]))
                except ArkaError:
                    raise ApiError("VALIDATION_ERROR", f"{key} must be an RFC 3339 datetime"
                                   ) from None
        items, total = await run_in_threadpool(
            core.store.list_evaluations, p.tenant, decision=decision,
            rule_id=q.get("rule_id"), start=bounds.get("from"), end=bounds.get("to"),
            page=page, per_page=per_page)
        return _json({"items": items, "page": page, "per_page": per_page, "total": total})

    @app.get("/api/v1/evaluations/{evaluation_id}/trace")
    async def evaluation_trace(evaluation_id: str, p: Principal = need("evaluations:read")
                               ) -> Response:
        return _json(await run_in_threadpool(core.full_trace, p.tenant, evaluation_id))

    # ------------------------------------------------------------ exports
    @app.post("/api/v1/exports", openapi_extra=JSON_BODY, status_code=201)
    async def create_export(request: Request, p: Principal = need("evaluations:read")
                            ) -> Response:
        body = await json_body(request)
        unknown = sorted(set(body) - {"from", "to", "decision", "rule_id"})
        if unknown:
            raise ApiError("VALIDATION_ERROR", f"unknown field {unknown[0]!r}; filters are "
                           "from, to, decision and rule_id")
        filters: dict[str, Any] = {}
        for key in ("from", "to"):
            if body.get(key) is not None:
                try:
                    filters[key] = V.datetime_text(V.parse_datetime(str(body[key])))
                except ArkaError:
                    raise ApiError("VALIDATION_ERROR", f"{key} must be an RFC 3339 datetime"
                                   ) from None
        if body.get("decision") is not None:
            if body["decision"] not in ("compliant", "needs_review", "non_compliant"):
                raise ApiError("VALIDATION_ERROR", "decision must be compliant, needs_review "
                               "or non_compliant")
            filters["decision"] = body["decision"]
        if body.get("rule_id") is not None:
            if not isinstance(body["rule_id"], str):
                raise ApiError("VALIDATION_ERROR", "rule_id must be a string")
            filters["rule_id"] = body["rule_id"]
        manifest = await run_in_threadpool(core.create_export, p.tenant, filters,
                                           actor(request, p))
        return _json(manifest, 201)

    @app.get("/api/v1/exports/{export_id}")
    async def get_export(export_id: str, p: Principal = need("evaluations:read")) -> Response:
        return _json(await run_in_threadpool(core.export, p.tenant, export_id))

    @app.get("/api/v1/exports/{export_id}/download")
    async def download_export(export_id: str, p: Principal = need("evaluations:read")
                              ) -> Response:
        manifest, text = await run_in_threadpool(core.export_content, p.tenant, export_id)
        return Response(text, media_type="application/x-ndjson",
                        headers={"X-Content-SHA256": manifest["sha256"],
                                 "Content-Disposition":
                                     f'attachment; filename="{export_id}.jsonl"'})

    @app.post("/api/v1/proofs/{evaluation_id}/verify")
    async def verify(evaluation_id: str, p: Principal = need("proofs:read")) -> Response:
        return _json(await run_in_threadpool(core.verify, p.tenant, evaluation_id))

    # ------------------------------------------------------------ transparency log
    @app.get("/api/v1/log/sth")
    async def log_sth(p: Principal = need("log:read")) -> Response:
        return _json(await run_in_threadpool(core.sth))

    @app.get("/api/v1/log/inclusion")
    async def log_inclusion(request: Request, p: Principal = need("proofs:read")) -> Response:
        q = request.query_params
        evaluation_id = q.get("evaluation_id")
        if not evaluation_id:
            raise ApiError("VALIDATION_ERROR", "evaluation_id is required")
        size = _int_param(q.get("tree_size"), "tree_size")
        return _json(await run_in_threadpool(core.inclusion, p.tenant, evaluation_id, size))

    @app.get("/api/v1/log/consistency")
    async def log_consistency(request: Request, p: Principal = need("log:read")) -> Response:
        q = request.query_params
        first = _int_param(q.get("first"), "first")
        second = _int_param(q.get("second"), "second")
        if first is None or second is None:
            raise ApiError("VALIDATION_ERROR", "first and second are required")
        return _json(await run_in_threadpool(core.consistency, first, second))

    # ------------------------------------------------------------ anchors
    @app.get("/api/v1/anchors")
    async def anchors(request: Request, p: Principal = need("log:read")) -> Response:
        page, per_page = page_args(request)
        status = request.query_params.get("status")
        if status is not None and status not in ("pending", "submitted", "confirmed", "failed"):
            raise ApiError("VALIDATION_ERROR", "status must be pending, submitted, confirmed "
                           "or failed")
        return _json(await run_in_threadpool(core.anchors, page, per_page,
                                              request.query_params.get("chain"), status))

    @app.get("/api/v1/anchors/{anchor_id}")
    async def anchor(anchor_id: str, p: Principal = need("log:read")) -> Response:
        if not anchor_id.isdigit() or len(anchor_id) > 18:
            raise ApiError("NOT_FOUND", f"anchor {anchor_id} not found")
        return _json(await run_in_threadpool(core.anchor, int(anchor_id)))

    @app.get("/api/v1/keys", dependencies=[Depends(public)])
    async def keys() -> Response:
        return _json(core.keys.jwks())

    # ------------------------------------------------------------ API keys
    @app.post("/api/v1/apikeys", openapi_extra=JSON_BODY, status_code=201)
    async def create_api_key(request: Request, p: Principal = need("keys:manage")) -> Response:
        body = await json_body(request)
        unknown = sorted(set(body) - {"name", "roles", "expires_at"})
        if unknown:
            raise ApiError("VALIDATION_ERROR", f"unknown field {unknown[0]!r}; send name, "
                           "roles and optionally expires_at")
        name, roles, expires = body.get("name"), body.get("roles"), body.get("expires_at")
        if not isinstance(name, str):
            raise ApiError("VALIDATION_ERROR", "name must be a string")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise ApiError("VALIDATION_ERROR", f"roles must be a list of role names: "
                           f"{', '.join(ROLES)}")
        if not permissions_of(set(roles)) <= p.permissions:  # no one hands out more
            raise ApiError("AUTHORIZATION_ERROR", "a key cannot have permissions its creator "
                           "does not have")
        expires_at = None
        if expires is not None:
            try:
                expires_at = V.parse_datetime(str(expires))
            except ArkaError:
                raise ApiError("VALIDATION_ERROR", "expires_at must be an RFC 3339 datetime"
                               ) from None
        view = await run_in_threadpool(core.create_api_key, p.tenant, name, roles, expires_at,
                                       actor(request, p))
        return _json(view, 201)

    @app.get("/api/v1/apikeys")
    async def list_api_keys(p: Principal = need("keys:manage")) -> Response:
        return _json(await run_in_threadpool(core.list_api_keys, p.tenant))

    @app.delete("/api/v1/apikeys/{key_id}")
    async def revoke_api_key(key_id: str, request: Request, p: Principal = need("keys:manage")
                             ) -> Response:
        view = await run_in_threadpool(core.revoke_api_key, p.tenant, key_id, actor(request, p))
        return _json(view)

    # ------------------------------------------------------------ audit log
    @app.get("/api/v1/audit/events")
    async def audit_events(request: Request, p: Principal = need("audit:read")) -> Response:
        page, per_page = page_args(request)
        q = request.query_params
        outcome = q.get("outcome")
        if outcome is not None and outcome not in ("success", "denied"):
            raise ApiError("VALIDATION_ERROR", "outcome must be success or denied")
        return _json(await run_in_threadpool(core.audit_events, p.tenant, page, per_page,
                                              q.get("action"), outcome))

    @app.get("/api/v1/audit/verify")
    async def audit_verify(p: Principal = need("audit:read")) -> Response:
        return _json(await run_in_threadpool(core.verify_audit, p.tenant))

    if core.settings.metrics_enabled and core.settings.metrics_port is None:
        @app.get(core.settings.metrics_path, include_in_schema=False)
        async def metrics() -> Response:
            return Response(M.exposition(), media_type=M.CONTENT_TYPE)

    # ------------------------------------------------------------ health
    @app.get("/health/live")
    async def live() -> Response:
        return _json({"status": "ok"})

    @app.get("/health/ready")
    async def ready(request: Request) -> Response:
        store_ok = await run_in_threadpool(core.store.ping)
        rtvm_ok = True if core.rtvm is None else await run_in_threadpool(core.rtvm.ping)
        checks = {"store": store_ok, "rtvm": rtvm_ok}
        if core.objects is not None:
            checks["object_storage"] = await run_in_threadpool(core.objects.ping)
        status = 200 if all(checks.values()) else 503
        return _json({"status": "ok" if status == 200 else "unavailable", "checks": checks},
                     status)

    @app.get("/health/startup")
    async def startup(request: Request) -> Response:
        try:
            st = await run_in_threadpool(core.store.status)
            migrated = bool(st["up_to_date"])
            if migrated and not core.rules_loaded:
                await run_in_threadpool(core.warm)
        except Exception:  # noqa: BLE001 - a probe reports
            migrated = False
        checks = {"migrations": migrated, "rules_loaded": core.rules_loaded}
        status = 200 if all(checks.values()) else 503
        return _json({"status": "ok" if status == 200 else "starting", "checks": checks},
                     status)

    return app
