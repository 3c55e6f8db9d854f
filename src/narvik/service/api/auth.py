"""API tokens: random secrets shown once, stored as SHA-256 digests, mapped to a principal.

Tokens carry 256 bits of randomness, so a fast digest is enough (no password
stretching is needed). Every call but ``/healthz`` and the dashboard's static
page needs ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from narvik.service.api.errors import ForbiddenError, UnauthorizedError
from narvik.service.tables import TenantRow, TokenRow

TOKEN_PREFIX = "nvk_"


@dataclass(frozen=True)
class Principal:
    role: str
    tenant_id: int | None
    tenant_name: str | None
    token_id: int

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    def require_operator(self) -> None:
        if not self.is_operator:
            raise ForbiddenError("this call is for operators only")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenCache:
    """Digests already checked, so a hot path does not hit the database every call.

    Revoking a token through the API clears the cache of this process at once.
    """

    def __init__(self) -> None:
        self._known: dict[str, Principal] = {}
        self._generation = 0

    def clear(self) -> None:
        """Forget every token (after a revoke is committed). A lookup that read the
        database before this is not cached (the generation moved on)."""
        self._generation += 1
        self._known.clear()

    @staticmethod
    def _key(authorization: str | None) -> str:
        if not authorization or not authorization.startswith("Bearer "):
            raise UnauthorizedError("send Authorization: Bearer <token>", "Authorization")
        return digest(authorization.removeprefix("Bearer ").strip())

    def resolve_cached(self, authorization: str | None) -> Principal:
        """The principal of a token seen before; KeyError when the database must be asked."""
        return self._known[self._key(authorization)]

    def resolve(self, session: Session, authorization: str | None) -> Principal:
        key = self._key(authorization)
        hit = self._known.get(key)
        if hit is not None:
            return hit
        generation = self._generation
        row = session.execute(
            select(TokenRow, TenantRow.name)
            .outerjoin(TenantRow, TenantRow.id == TokenRow.tenant_id)
            .where(TokenRow.token_sha256 == key)
        ).first()
        if row is None or row[0].revoked:
            raise UnauthorizedError("unknown or revoked token", "Authorization")
        token, tenant_name = row
        principal = Principal(token.role, token.tenant_id, tenant_name, token.id)
        if len(self._known) > 10_000:
            self._known.clear()
        if generation == self._generation:
            self._known[key] = principal
        return principal
