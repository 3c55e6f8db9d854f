"""``/api/v1/tenants`` and ``/api/v1/tokens``: who may use the site (operators manage)."""

from __future__ import annotations

from fastapi import APIRouter, status

from narvik.service.api.deps import Ctx, Reader, Who
from narvik.service.api.queries import tenants, tokens
from narvik.service.api.schemas import (
    QuotaIn,
    RowId,
    TenantIn,
    TenantName,
    TenantOut,
    TokenIn,
    TokenOut,
)

router = APIRouter(tags=["tenants"])


@router.get("/tenants")
def list_tenants(ctx: Ctx, who: Who, session: Reader) -> list[TenantOut]:
    now = ctx.now_s()
    return [tenants.to_out(t, now) for t in tenants.visible(session, who)]


@router.post("/tenants", status_code=status.HTTP_201_CREATED)
def create_tenant(data: TenantIn, ctx: Ctx, who: Who) -> TenantOut:
    now = ctx.now_s()
    with ctx.db.write() as session:
        out = tenants.to_out(tenants.create(session, who, data, ctx.plant, now), now)
    ctx.refresh_tenants()
    return out


@router.get("/tenants/{name}")
def get_tenant(name: TenantName, ctx: Ctx, who: Who, session: Reader) -> TenantOut:
    row = tenants.target(session, who, name)
    return tenants.to_out(row, ctx.now_s())


@router.put("/tenants/{name}/quota")
def set_quota(name: TenantName, data: QuotaIn, ctx: Ctx, who: Who) -> TenantOut:
    now = ctx.now_s()
    with ctx.db.write() as session:
        row = tenants.set_quota(session, who, name, data.quota, ctx.plant, now)
        out = tenants.to_out(row, now)
    ctx.refresh_tenants()
    return out


@router.post("/tokens", status_code=status.HTTP_201_CREATED)
def issue_token(data: TokenIn, ctx: Ctx, who: Who) -> TokenOut:
    with ctx.db.write() as session:
        return tokens.issue(session, who, data, ctx.now_s())


@router.get("/tokens")
def list_tokens(who: Who, session: Reader) -> list[TokenOut]:
    return tokens.listing(session, who)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(token_id: RowId, ctx: Ctx, who: Who) -> TokenOut:
    with ctx.db.write() as session:
        out = tokens.revoke(session, who, token_id)
    ctx.tokens.clear()  # after the commit: no request can cache the token again
    return out
