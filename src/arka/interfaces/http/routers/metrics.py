"""Prometheus metrics on the API port (when no separate metrics port is configured)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from arka.observability import metrics as M


def router(path: str) -> APIRouter:
    out = APIRouter(tags=["metrics"])

    @out.get(path, include_in_schema=False)
    async def metrics() -> Response:
        return Response(M.exposition(), media_type=M.CONTENT_TYPE)

    return out
