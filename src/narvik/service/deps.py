"""FastAPI dependencies: the service context, sessions and the calling principal."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from narvik.service.auth import Principal
from narvik.service.context import ServiceContext


async def get_ctx(request: Request) -> ServiceContext:
    return request.app.state.ctx  # type: ignore[no-any-return]


Ctx = Annotated[ServiceContext, Depends(get_ctx)]


def write_session(ctx: Ctx) -> Iterator[Session]:
    """A session whose changes commit when the route returns (and roll back on error)."""
    with ctx.db.write() as session:
        yield session


def read_session(ctx: Ctx) -> Iterator[Session]:
    with ctx.db.read() as session:
        yield session


async def get_principal(
    ctx: Ctx,
    authorization: Annotated[str | None, Header(description="Bearer <token>")] = None,
) -> Principal:
    """The caller. Known tokens are answered from memory; others cost one short read."""
    try:
        return ctx.tokens.resolve_cached(authorization)
    except KeyError:
        with ctx.db.read() as session:
            return ctx.tokens.resolve(session, authorization)


Writer = Annotated[Session, Depends(write_session)]
Reader = Annotated[Session, Depends(read_session)]
Who = Annotated[Principal, Depends(get_principal)]
