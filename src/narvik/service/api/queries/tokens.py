"""API tokens (operators): issue (the secret is shown once), list and revoke.

Issuing and revoking re-check the caller's own token in their write transaction
(:func:`~narvik.service.api.auth.recheck`): a token revoked on another replica, still
in this replica's cache, can never mint or revoke a token.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from narvik.service.api.auth import Principal, digest, new_token, recheck
from narvik.service.api.errors import NotFoundError
from narvik.service.api.queries.tenants import by_name
from narvik.service.api.schemas import TokenIn, TokenOut
from narvik.service.tables import TenantRow, TokenRow


def issue(session: Session, who: Principal | None, data: TokenIn, now_s: float) -> TokenOut:
    """A new token; ``who`` None is the service itself (the first operator token)."""
    if who is not None:
        who.require_operator()
        recheck(session, who)
    tenant = by_name(session, data.tenant) if data.tenant else None
    secret = new_token()
    row = TokenRow(
        token_sha256=digest(secret),
        role=data.role,
        tenant_id=tenant.id if tenant else None,
        label=data.label,
        revoked=False,
        created_at_s=now_s,
    )
    session.add(row)
    session.flush()
    return TokenOut(
        id=row.id, role=row.role, tenant=data.tenant, label=row.label, revoked=False, token=secret
    )


def ensure(session: Session, secret: str, now_s: float, label: str) -> None:
    """Register a given operator secret (from the settings) if it is not known yet."""
    key = digest(secret)
    if session.scalar(select(TokenRow.id).where(TokenRow.token_sha256 == key)) is None:
        session.add(
            TokenRow(
                token_sha256=key, role="operator", label=label, revoked=False, created_at_s=now_s
            )
        )


def listing(session: Session, who: Principal) -> list[TokenOut]:
    who.require_operator()
    rows = session.execute(
        select(TokenRow, TenantRow.name).outerjoin(TenantRow).order_by(TokenRow.id)
    ).all()
    return [
        TokenOut(id=t.id, role=t.role, tenant=name, label=t.label, revoked=t.revoked)
        for t, name in rows
    ]


def revoke(session: Session, who: Principal, token_id: int) -> TokenOut:
    who.require_operator()
    recheck(session, who)
    row = session.get(TokenRow, token_id)
    if row is None:
        raise NotFoundError(f"no token {token_id}", "token_id")
    row.revoked = True
    tenant = session.get(TenantRow, row.tenant_id) if row.tenant_id else None
    return TokenOut(
        id=row.id,
        role=row.role,
        tenant=tenant.name if tenant else None,
        label=row.label,
        revoked=True,
    )
