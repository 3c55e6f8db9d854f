"""FastAPI dependencies: the service context, read sessions and the calling principal.

Routes that write open ``ctx.db.write()`` themselves: the exit code of a dependency with
``yield`` may run after the answer is sent, and a change must be committed first.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from narvik.service.api.auth import Principal
from narvik.service.api.context import ServiceContext


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
    """The caller. Known tokens are answered from memory; others cost one short read."""
    try:
        return ctx.tokens.resolve_cached(authorization)
    except KeyError:
        with ctx.db.read() as session:
            return ctx.tokens.resolve(session, authorization)


Reader = Annotated[Session, Depends(read_session)]
Who = Annotated[Principal, Depends(get_principal)]
