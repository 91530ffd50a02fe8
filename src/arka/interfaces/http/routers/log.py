"""The transparency log: signed tree head, inclusion and consistency proofs, and the
log as C2SP serves it: checkpoint, verifier key, hash tiles and entry bundles."""

from __future__ import annotations

import gzip
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from arka.app.core import Core
from arka.base.errors import NotFound
from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import CoreDep, QueryText, need
from arka.security.principal import Principal
from arka.trust.tiles import parse_path

router = APIRouter(prefix="/api/v1/log", tags=["log"])

MAX_SIZE = 2**63 - 1  # tree sizes are BIGINT


@router.get("/sth", response_model=None, responses=S.ok(S.TreeHead))
async def log_sth(p: Annotated[Principal, need("log:read")], core: CoreDep) -> Response:
    return S.reply(await run_in_threadpool(core.transparency.sth))


def _inclusion(core: Core, tenant: str, evaluation_id: str, tree_size: int | None
               ) -> dict[str, Any]:
    core.evaluations.store.get(tenant, evaluation_id)  # another tenant's: NOT_FOUND
    return core.transparency.inclusion(evaluation_id, tree_size)


@router.get("/inclusion", response_model=None, responses=S.ok(S.Inclusion))
async def log_inclusion(
        p: Annotated[Principal, need("proofs:read")], core: CoreDep,
        evaluation_id: Annotated[str, QueryText(min_length=1)],
        tree_size: Annotated[int | None, Query(ge=0, le=MAX_SIZE, description="A published "
                                               "head's size; default: the latest")] = None,
) -> Response:
    return S.reply(await run_in_threadpool(_inclusion, core, p.tenant, evaluation_id,
                                           tree_size))


@router.get("/consistency", response_model=None, responses=S.ok(S.Consistency))
async def log_consistency(p: Annotated[Principal, need("log:read")], core: CoreDep,
                          first: Annotated[int, Query(ge=1, le=MAX_SIZE)],
                          second: Annotated[int, Query(ge=1, le=MAX_SIZE)]) -> Response:
    return S.reply(await run_in_threadpool(core.transparency.consistency, first, second))


TEXT = "text/plain; charset=utf-8"
IMMUTABLE = "private, max-age=31536000, immutable"
TILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {}}, "description": "The tile's bytes"}}


@router.get("/checkpoint", response_model=None,
            responses={200: {"content": {"text/plain": {}}, "description": "The log's "
                             "checkpoint (a C2SP signed note) with its witness cosignatures"}})
async def log_checkpoint(p: Annotated[Principal, need("log:read")], core: CoreDep
                         ) -> Response:
    note, witnessed = await run_in_threadpool(core.transparency.checkpoint)
    return Response(note.render(), media_type=TEXT,
                    headers={"Cache-Control": "private, max-age=2",
                             "X-Checkpoint-Witnessed": "true" if witnessed else "false"})


@router.get("/key", response_model=None,
            responses={200: {"content": {"text/plain": {}}, "description": "The log's "
                             "verifier keys, one per line, the active one first"}})
async def log_key(p: Annotated[Principal, need("log:read")], core: CoreDep) -> Response:
    return Response("".join(k + "\n" for k in core.transparency.log_keys()), media_type=TEXT)


@router.get("/witnesses", response_model=None, responses=S.ok(S.WitnessList))
async def log_witnesses(p: Annotated[Principal, need("log:read")], core: CoreDep
                        ) -> Response:
    witnessing = core.witnessing
    items = await run_in_threadpool(witnessing.status) if witnessing is not None else []
    return S.reply({"quorum": core.transparency.quorum, "witnesses": items})


def _tile_reply(data: bytes, full: bool, request: Request | None = None) -> Response:
    headers = {"Cache-Control": IMMUTABLE if full else "private, max-age=3600"}
    if request is not None and "gzip" in request.headers.get("accept-encoding", ""):
        data = gzip.compress(data, mtime=0)
        headers.update({"Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
    return Response(data, media_type="application/octet-stream", headers=headers)


@router.get("/tile/entries/{path:path}", response_model=None, responses=TILE_RESPONSES)
async def log_entries(path: str, request: Request,
                      p: Annotated[Principal, need("log:entries")], core: CoreDep
                      ) -> Response:
    """An entry bundle: up to 256 leaves (each a trust proof's canonical bytes), each
    prefixed by its length as a big-endian uint16."""
    tile = parse_path("entries/" + path)
    data = await run_in_threadpool(core.transparency.entry_bundle, tile)
    return _tile_reply(data, tile.full, request)


@router.get("/tile/{path:path}", response_model=None, responses=TILE_RESPONSES)
async def log_tile(path: str, p: Annotated[Principal, need("log:read")], core: CoreDep
                   ) -> Response:
    """A hash tile: `<L>/<N>[.p/<W>]`, up to 256 subtree hashes of 32 bytes."""
    tile = parse_path(path)
    if tile.level is None:  # only "entries/" without an index gets here
        raise NotFound("an entry bundle is /api/v1/log/tile/entries/<N>[.p/<W>]")
    data = await run_in_threadpool(core.transparency.tile, tile)
    return _tile_reply(data, tile.full)
