"""The public signing keys (JWKS): everything needed to verify a proof offline."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import CoreDep, public

router = APIRouter(prefix="/api/v1", tags=["keys"])


@router.get("/keys", dependencies=[Depends(public)], response_model=None,
            responses=S.ok(S.Jwks))
async def keys(core: CoreDep) -> Response:
    return S.reply(core.keys.jwks())
