"""Who is calling: the credential's tenant, roles and the permissions they grant. Any
valid credential may ask (the dashboard shows only what these permissions allow)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import Response

from arka.interfaces.http import schemas as S
from arka.interfaces.http.deps import need
from arka.security.principal import PERMISSIONS, Principal

router = APIRouter(prefix="/api/v1", tags=["session"])


@router.get("/me", response_model=None, responses=S.ok(S.MeView))
async def whoami(p: Annotated[Principal, need(None)]) -> Response:
    return S.reply({"tenant": p.tenant, "subject": p.subject, "person": p.person,
                    "method": p.method, "roles": sorted(p.roles),
                    "permissions": [perm for perm in PERMISSIONS if p.can(perm)]})
