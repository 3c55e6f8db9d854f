"""Per-tenant limits: a token bucket on API calls, and a cap on queued jobs.

- **Rate** (``settings.rate_limit_per_s``, ``settings.rate_limit_burst``): every call
  under ``/api/`` and ``/metrics`` made with a tenant's token takes one token from that
  tenant's bucket (all its tokens share it); an empty bucket answers ``429`` with
  ``Retry-After`` (whole seconds until a token is back) and a body naming the limit
  (``"limit": "rate_limit"``). Operators are exempt. The bucket is per process: with
  ``N`` replicas behind a balancer a tenant gets up to ``N`` times the rate. The check
  is a pure ASGI middleware that knows the caller from the token cache only: the first
  call of a token not yet seen by this process is not counted (it costs a database read
  to resolve, as before), every later one is.
- **Queue** (``settings.max_queued_jobs_per_tenant``): a submission that would take a
  tenant's queued jobs beyond the cap answers ``429`` (``"limit":
  "max_queued_jobs_per_tenant"``, ``Retry-After`` a few seconds). The submission hot
  path does no extra database read for it: a count per tenant is read from the database
  (one ``GROUP BY``) at start and refreshed in a worker thread at most every
  :data:`REFRESH_S` wall seconds, and the jobs this process accepts since are added to
  it. The cap is thus approximate by the submissions of other replicas since the last
  refresh (and those in flight during one).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import func, select

from narvik.service.api.auth import TokenCache
from narvik.service.api.schemas import LimitOut
from narvik.service.db import Database
from narvik.service.tables import JobRow

REFRESH_S = 1.0
"""Wall seconds between refreshes of the queued-job counts from the database."""
QUEUE_RETRY_S = 5
"""Retry-After of a submission refused by the queue cap, s."""
LIMITED = ("/api/", "/metrics")
"""Paths whose calls the rate limit counts."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


class LimitExceededError(Exception):
    """A per-tenant limit is reached (the app answers 429)."""

    def __init__(self, limit: str, message: str, retry_after_s: float):
        super().__init__(message)
        self.limit = limit
        self.message = message
        self.retry_after_s = max(1, math.ceil(retry_after_s))

    def body(self) -> bytes:
        out = LimitOut(
            type="about:blank",
            title="Too Many Requests",
            status=429,
            detail=f"{self.limit}: {self.message}",
            field=None,
            limit=self.limit,  # type: ignore[arg-type]
            retry_after_s=self.retry_after_s,
        )
        return out.model_dump_json(exclude_none=True).encode()

    def headers(self) -> list[tuple[bytes, bytes]]:
        return [
            (b"content-type", b"application/problem+json"),
            (b"retry-after", str(self.retry_after_s).encode()),
        ]


class TokenBuckets:
    """One token bucket per key: ``rate`` tokens a second, at most ``burst`` held."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}
        """key -> (tokens, as of this clock reading)"""

    def take(self, key: int) -> float:
        """Take a token: 0.0 if there was one, else the seconds until there is."""
        now = self.clock()
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate


class QueueCounts:
    """Queued jobs per tenant: the database's count as of the last refresh plus the jobs
    this process accepted since."""

    def __init__(self, db: Database, cap: int, clock: Callable[[], float] = time.monotonic):
        self.db = db
        self.cap = cap
        self.clock = clock
        self._base: dict[int, int] = {}
        self._added: dict[int, int] = {}
        self._at = -math.inf
        self._lock = threading.Lock()
        self._task: asyncio.Future[None] | None = None

    def refresh(self) -> None:
        """Read the counts (blocking: at start, or in a worker thread)."""
        with self._lock:
            before = dict(self._added)
        with self.db.read() as session:
            rows = session.execute(
                select(JobRow.tenant_id, func.count(JobRow.id))
                .where(JobRow.state == "queued")
                .group_by(JobRow.tenant_id)
            ).all()
        base = {int(t): int(n) for t, n in rows}
        with self._lock:
            # Jobs accepted before the read are in it; those accepted during it are not
            # (or are, and then counted twice until the next refresh: the safe side).
            self._added = {
                t: n - before.get(t, 0) for t, n in self._added.items() if n > before.get(t, 0)
            }
            self._base = base
        self._at = self.clock()

    def _refresh_soon(self) -> None:
        if self.clock() - self._at < REFRESH_S or (self._task and not self._task.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.refresh()
            return
        self._at = self.clock()  # one refresh at a time
        self._task = loop.run_in_executor(None, self._refresh_quietly)

    def _refresh_quietly(self) -> None:
        # the database is away: keep the last counts; retry later
        with contextlib.suppress(Exception):
            self.refresh()

    def queued(self, tenant_id: int) -> int:
        return self._base.get(tenant_id, 0) + self._added.get(tenant_id, 0)

    def check(self, tenant_id: int, name: str) -> None:
        """Raise :class:`LimitExceededError` if the tenant's queue is full (no database read)."""
        self._refresh_soon()
        if self.queued(tenant_id) >= self.cap:
            raise LimitExceededError(
                "max_queued_jobs_per_tenant",
                f"tenant {name!r} holds {self.cap:,} queued jobs, the most it may; "
                "wait for some to start or cancel some",
                QUEUE_RETRY_S,
            )

    def added(self, tenant_id: int) -> None:
        with self._lock:
            self._added[tenant_id] = self._added.get(tenant_id, 0) + 1


class Limits:
    def __init__(self, buckets: TokenBuckets, queue: QueueCounts, tokens: TokenCache):
        self.buckets = buckets
        self.queue = queue
        self.tokens = tokens


class RateLimitMiddleware:
    """Pure ASGI (no request object, no body buffering, streams untouched)."""

    def __init__(self, app: Asgi, limits: Limits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(LIMITED):
            refused = self._check(scope)
            if refused is not None:
                await send(
                    {"type": "http.response.start", "status": 429, "headers": refused.headers()}
                )
                await send({"type": "http.response.body", "body": refused.body()})
                return
        await self.app(scope, receive, send)

    def _check(self, scope: Scope) -> LimitExceededError | None:
        auth = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                auth = v.decode("latin-1")
                break
        if auth is None:
            return None
        try:
            who = self.limits.tokens.resolve_cached(auth)
        except Exception:  # unknown here, or malformed: the route answers
            return None
        if who.is_operator or who.tenant_id is None:
            return None
        wait = self.limits.buckets.take(who.tenant_id)
        if wait <= 0:
            return None
        b = self.limits.buckets
        return LimitExceededError(
            "rate_limit",
            f"tenant {who.tenant_name!r} may make {b.rate:g} calls a second "
            f"(bursts of {b.burst:g})",
            wait,
        )


def limits_of(app: Any) -> Limits:
    return app.state.limits  # type: ignore[no-any-return]


def install(app: FastAPI) -> None:
    """Set the limits up on ``app`` (its context must be built): the rate-limit middleware,
    the queue counts (read once now) and the 429 handler."""
    ctx = app.state.ctx
    s = ctx.settings
    queue = QueueCounts(ctx.db, s.max_queued_jobs_per_tenant)
    queue.refresh()
    limits = Limits(TokenBuckets(s.rate_limit_per_s, s.rate_limit_burst), queue, ctx.tokens)
    app.state.limits = limits
    app.add_middleware(RateLimitMiddleware, limits=limits)

    @app.exception_handler(LimitExceededError)
    async def _limit(_request: Request, exc: LimitExceededError) -> Response:
        return Response(
            exc.body(),
            status_code=429,
            headers={k.decode(): v.decode() for k, v in exc.headers()},
        )
