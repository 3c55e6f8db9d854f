"""FastAPI dependencies: the service context, read sessions and the calling principal.

Routes that write open ``ctx.db.write()`` themselves: the exit code of a dependency with
``yield`` may run after the answer is sent, and a change must be committed first.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from narvik.service.api.auth import TOKEN_PREFIX, Principal
from narvik.service.api.context import ServiceContext
from narvik.service.api.errors import UnauthorizedError
from narvik.service.api.oidc import looks_like_jwt
from narvik.service.tables import TenantRow


async def get_ctx(request: Request) -> ServiceContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


Ctx = Annotated[ServiceContext, Depends(get_ctx)]


def read_session(ctx: Ctx) -> Iterator[Session]:
    with ctx.db.read() as session:
        yield session


async def get_principal(
    ctx: Ctx,
    authorization: Annotated[str | None, Header(description="Bearer <token>")] = None,
) -> Principal:
    """The caller. Tokens checked in the last ``CACHE_TTL_S`` seconds are answered from
    memory; others cost one short read (an API token) or one signature check (an OpenID
    Connect JWT, ``oidc_file``)."""
    try:
        return ctx.tokens.resolve_cached(authorization)
    except KeyError:
        pass
    bearer = ctx.tokens.bearer(authorization)
    jwt_like = not bearer.startswith(TOKEN_PREFIX) and looks_like_jwt(bearer)
    if jwt_like and ctx.oidc is not None:
        # In a worker thread: the issuer's keys may have to be fetched over HTTP.
        who, lapses_s = await run_in_threadpool(
            ctx.oidc.authenticate, bearer, lambda name: _tenant_id(ctx, name)
        )
        ctx.tokens.remember(authorization, who, lapses_s - time.time())
        return who
    try:
        with ctx.db.read() as session:
            return ctx.tokens.resolve(session, authorization)
    except UnauthorizedError as exc:
        if jwt_like:
            exc.message += " (a JWT was sent, but no OpenID Connect issuer is set: oidc_file)"
        raise


def _tenant_id(ctx: ServiceContext, name: str) -> int | None:
    """A tenant's id by name: from the directory, else the database (made on a replica
    whose directory is not refreshed yet)."""
    try:
        return ctx.tenants.by_name(name).id
    except KeyError:
        with ctx.db.read() as session:
            return session.scalar(select(TenantRow.id).where(TenantRow.name == name))


Reader = Annotated[Session, Depends(read_session)]
Who = Annotated[Principal, Depends(get_principal)]
