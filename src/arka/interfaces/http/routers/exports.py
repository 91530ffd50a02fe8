"""Exports of evaluation records to object storage: create, manifest, download."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from arka.app.requests import ExportRequest
from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import CoreDep, PathText, actor, datetimes, json_body, need
from arka.security.principal import Principal

router = APIRouter(prefix="/api/v1/exports", tags=["exports"])

DOWNLOAD: dict[int | str, dict[str, Any]] = {200: {
    "description": "The records as JSON lines", "content": {
    "application/x-ndjson": {"schema": {"type": "string"}}}, "headers": {
    "X-Content-SHA256": {"required": True, "schema": {"type": "string"},
                         "description": "SHA-256 (hex) of the body, as in the manifest"},
    "Content-Disposition": {"required": True, "schema": {"type": "string"}}}}}


@router.post("", status_code=201, response_model=None,
             responses={201: {"model": S.ExportManifest, "description": "Created"}},
             openapi_extra=S.body(ExportRequest))
async def create_export(request: Request, p: Annotated[Principal, need("evaluations:read")],
                        core: CoreDep) -> Response:
    body = await json_body(request, ExportRequest)
    filters = datetimes(body.filters, "from and to")
    manifest = await run_in_threadpool(core.exports.create, p.tenant, filters,
                                       actor(request, p))
    return S.reply(manifest, 201)


@router.get("/{export_id}", response_model=None, responses=S.ok(S.ExportManifest))
async def get_export(export_id: PathText,
                     p: Annotated[Principal, need("evaluations:read")],
                     core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.exports.get, p.tenant, export_id))


@router.get("/{export_id}/download", response_class=Response, responses=DOWNLOAD)
async def download_export(export_id: PathText,
                          p: Annotated[Principal, need("evaluations:read")],
                          core: CoreDep) -> Response:
    manifest, text = await run_in_threadpool(core.exports.content, p.tenant, export_id)
    return Response(text, media_type="application/x-ndjson",
                    headers={"X-Content-SHA256": manifest["sha256"],
                             "Content-Disposition":
                                 f'attachment; filename="{export_id}.jsonl"'})
