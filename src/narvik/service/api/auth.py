"""API tokens: random secrets shown once, stored as SHA-256 digests, mapped to a principal.

Tokens carry 256 bits of randomness, so a fast digest is enough (no password
stretching is needed). Every call but ``/healthz`` and the dashboard's static
page needs ``Authorization: Bearer <token>``: an API token (``nvk_...``) or, where
``oidc_file`` is set, a person's OpenID Connect JWT (:mod:`narvik.service.api.oidc`).

Several replicas may share one database, and a token revoked on one must stop working
on all: a replica answers a token it has checked from memory for at most
:data:`CACHE_TTL_S` seconds, then reads the token table again. Calls that mint or
revoke credentials, and every other operator write (tenants, quotas, curtailments),
do not trust that memory at all: they re-read the caller's token inside their own write
transaction (:func:`recheck`), so a revoked token never mints nor writes.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from narvik.service.api.errors import ForbiddenError, UnauthorizedError
from narvik.service.tables import TenantRow, TokenRow

TOKEN_PREFIX = "nvk_"
CACHE_TTL_S = 1.5
"""Seconds a replica answers a checked token from memory: a token revoked on another
replica (sharing the database) is refused here at most this long after the revoke."""
_MAX_CACHED = 10_000


@dataclass(frozen=True)
class Principal:
    role: str
    tenant_id: int | None
    tenant_name: str | None
    token_id: int | None
    """The caller's row in the token table; None for a person signed in with OpenID
    Connect (no row: nothing to revoke, the JWT lapses at its ``exp``)."""
    subject: str | None = None
    """An OpenID Connect caller: ``<issuer>#<sub>``."""

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
    """Tokens already checked, so a hot path does not hit the database every call.

    An entry lives :data:`CACHE_TTL_S` seconds (``ttl_s``), counted from before the
    database read that made it, so a revoke committed by any replica is seen here within
    that bound. Revoking a token through this process's API clears the cache at once.
    """

    def __init__(
        self, ttl_s: float = CACHE_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._known: dict[str, tuple[Principal, float]] = {}
        self._generation = 0

    def clear(self) -> None:
        """Forget every token (after a revoke is committed). A lookup that read the
        database before this is not cached (the generation moved on)."""
        self._generation += 1
        self._known.clear()

    @staticmethod
    def bearer(authorization: str | None) -> str:
        """The secret of an ``Authorization: Bearer <secret>`` header."""
        if not authorization or not authorization.startswith("Bearer "):
            raise UnauthorizedError("send Authorization: Bearer <token>", "Authorization")
        return authorization.removeprefix("Bearer ").strip()

    @classmethod
    def _key(cls, authorization: str | None) -> str:
        return digest(cls.bearer(authorization))

    def resolve_cached(self, authorization: str | None) -> Principal:
        """The principal of a token checked less than ``ttl_s`` ago; KeyError when the
        database (or the OpenID Connect issuer's key) must be asked."""
        principal, expires = self._known[self._key(authorization)]
        if self._clock() >= expires:
            raise KeyError("expired")
        return principal

    def remember(self, authorization: str | None, principal: Principal, ttl_s: float) -> None:
        """Keep a principal checked elsewhere (an OpenID Connect JWT) for at most
        ``ttl_s`` seconds (its remaining life) and never beyond the cache's bound."""
        if ttl_s > 0:
            self._store(self._key(authorization), principal, self._clock() + min(ttl_s, self.ttl_s))

    def _store(self, key: str, principal: Principal, expires: float) -> None:
        if len(self._known) >= _MAX_CACHED:
            now = self._clock()
            self._known = {k: v for k, v in self._known.items() if v[1] > now}
            if len(self._known) >= _MAX_CACHED:
                self._known.clear()
        self._known[key] = (principal, expires)

    def resolve(self, session: Session, authorization: str | None) -> Principal:
        key = self._key(authorization)
        started = self._clock()
        hit = self._known.get(key)
        if hit is not None and started < hit[1]:
            return hit[0]
        generation = self._generation
        row = session.execute(
            select(TokenRow, TenantRow.name)
            .outerjoin(TenantRow, TenantRow.id == TokenRow.tenant_id)
            .where(TokenRow.token_sha256 == key)
        ).first()
        if row is None or row[0].revoked:
            self._known.pop(key, None)
            raise UnauthorizedError("unknown or revoked token", "Authorization")
        token, tenant_name = row
        principal = Principal(token.role, token.tenant_id, tenant_name, token.id)
        if generation == self._generation:
            self._store(key, principal, started + self.ttl_s)
        return principal


def recheck(session: Session, who: Principal) -> None:
    """Re-read the caller's API token inside a write transaction made with it (minting
    or revoking a token, any operator write).

    The cache may answer for a token revoked on another replica up to
    :data:`CACHE_TTL_S` ago; a write that makes credentials or changes the tenancy must
    not. On PostgreSQL the
    token's row is locked (``FOR UPDATE``) until the write commits, so a concurrent revoke
    of it either commits first (and is seen here) or waits for this write; SQLite runs
    one writer at a time anyway. An OpenID Connect caller (no token row) was checked
    against its issuer's key for this request and lapses at its ``exp``.
    """
    if who.token_id is None:
        return
    row = session.execute(
        select(TokenRow.revoked, TokenRow.role, TokenRow.tenant_id)
        .where(TokenRow.id == who.token_id)
        .with_for_update()
    ).first()
    if row is None or row.revoked or row.role != who.role or row.tenant_id != who.tenant_id:
        raise UnauthorizedError("unknown or revoked token", "Authorization")
