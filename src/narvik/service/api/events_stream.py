"""``GET /api/v1/events/stream``: server-sent events (``text/event-stream``) of jobs and fleet.

Messages (each ``data:`` is one JSON object):

- ``event: job`` -- a state transition of a job the caller may see (a tenant: its own;
  operators: all): ``{"job", "tenant", "from", "to", "at", "gpus"}``, ``from`` null for
  a submission. Transitions are derived from the job's row (submitted, first started,
  latest stint started, preempted back to the queue, ended), so one that happened
  between two polls is not lost; a job preempted twice between polls shows its latest.
- ``event: event`` -- a row of the events table the caller may see (as
  ``GET /api/v1/events``: the fleet's and its own, other tenants never named).
- ``event: fleet`` -- every :data:`FLEET_EVERY_S` wall seconds (and first at once): GPUs,
  busy GPUs, the caller's (operators: all) queued jobs and GPUs and running jobs, the
  GPU power cap.
- ``: keep-alive`` comments when nothing was sent for :data:`KEEPALIVE_S` seconds.

Every batch of job and event messages ends with an ``id:`` line, a cursor
``<service time>:<event id>``; a client that reconnects with ``Last-Event-ID`` gets every
job transition after that time and every event after that id (at least once: the
transitions of the last :data:`LAG_WALL_S` wall seconds before the cursor may come
again; clients deduplicate on ``job``, ``to`` and ``at``). Without it the stream starts
at the connection (less that lag).

The route is left out of the OpenAPI document (an endless response that schema-driven
clients would wait on forever); this docstring is its documentation. Clients send
``Authorization: Bearer <token>`` like any call (a browser's ``EventSource`` cannot: use
``fetch`` with a reader).

There is no in-process bus (replicas share the database): each stream polls the
database every :data:`POLL_S` seconds in a worker thread (a few small queries; the job
query scans the rows changed since the cursor). It ends when the client disconnects or
the server shuts down (uvicorn's exit flag: it waits for open responses before it ends
the app's lifespan).
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from narvik.service.api.auth import Principal
from narvik.service.api.context import ServiceContext
from narvik.service.api.deps import Ctx, Who
from narvik.service.api.queries import state
from narvik.service.plant import utc
from narvik.service.tables import EventRow, JobRow, MetaRow, TenantRow

POLL_S = 0.5
"""Wall seconds between polls of the database."""
FLEET_EVERY_S = 5.0
"""Wall seconds between fleet summaries."""
KEEPALIVE_S = 10.0
"""Wall seconds of silence after which a keep-alive comment is sent."""
LAG_WALL_S = 2.0
"""Wall seconds a change may take from its service time to its commit (a pass, a batch of
submissions): the cursor stays that far behind (in service time at the clock's speed)."""
RETRY_MS = 2000

router = APIRouter(tags=["state"])


@dataclass
class Cursor:
    t_s: float
    """Every job transition at or before this service time has been sent."""
    event_id: int
    """Every event with this id or a smaller one has been sent."""

    def text(self) -> str:
        return f"{self.t_s:.6f}:{self.event_id}"

    @classmethod
    def parse(cls, value: str | None) -> Cursor | None:
        if not value:
            return None
        try:
            t, e = value.strip().split(":", 1)
            c = cls(float(t), int(e))
        except ValueError:
            return None
        return c if c.t_s == c.t_s and abs(c.t_s) < 1e13 and c.event_id >= 0 else None


@dataclass
class Batch:
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    cursor: Cursor | None = None


def _transitions(job: JobRow, tenant: str) -> list[tuple[float, str | None, str]]:
    """(service time, from, to) of the transitions a job's row tells."""
    out: list[tuple[float, str | None, str]] = [(job.submit_s, None, "queued")]
    if job.start_s is not None:
        out.append((job.start_s, "queued", "running"))
        if job.stint_start_s is not None and job.stint_start_s != job.start_s:
            out.append((job.stint_start_s, "queued", "running"))
    if job.state == "queued" and job.preemptions and job.start_s is not None:
        out.append((job.updated_s, "running", "queued"))
    if job.state in ("completed", "cancelled") and job.end_s is not None:
        out.append((job.end_s, "running" if job.start_s is not None else "queued", job.state))
    return out


def initial_cursor(session: Session, now_s: float) -> Cursor:
    last = session.scalar(select(func.max(EventRow.id)))
    return Cursor(now_s, int(last or 0))


def poll(
    session: Session,
    who: Principal,
    since: Cursor,
    upto_s: float,
    sent: set[tuple[int, str, float]],
) -> Batch:
    """Job transitions in (``since.t_s``, now] and events after ``since.event_id``; the new
    cursor is ``upto_s`` (now less the commit lag). ``sent``: transitions already sent
    (updated; those at or before the new cursor are forgotten)."""
    t0 = since.t_s
    q = select(JobRow, TenantRow.name).join(TenantRow)
    if not who.is_operator:
        q = q.where(JobRow.tenant_id == who.tenant_id)
    q = q.where(
        or_(
            JobRow.submit_s > t0,
            JobRow.start_s > t0,
            JobRow.stint_start_s > t0,
            JobRow.end_s > t0,
            and_(JobRow.state == "queued", JobRow.preemptions > 0, JobRow.updated_s > t0),
        )
    )
    found: list[tuple[float, int, dict[str, Any]]] = []
    for job, name in session.execute(q).all():
        for at, frm, to in _transitions(job, name):
            key = (job.id, to, at)
            if at <= t0 or key in sent:
                continue
            sent.add(key)
            msg = {
                "job": job.id,
                "tenant": name,
                "from": frm,
                "to": to,
                "at": utc(at).isoformat(),
                "gpus": job.gpus,
            }
            found.append((at, job.id, msg))
    found.sort(key=lambda f: (f[0], f[1]))
    batch = Batch([("job", m) for _, _, m in found])
    ev = state.visible_events(who).where(EventRow.id > since.event_id)
    rows = session.execute(ev.order_by(None).order_by(EventRow.id).limit(500)).all()
    last_event = since.event_id
    for e, name in rows:
        batch.messages.append(("event", state.event_out(e, name, who).model_dump(mode="json")))
        last_event = e.id
    new_t = max(t0, upto_s)
    for key in [k for k in sent if k[2] <= new_t]:
        sent.discard(key)
    batch.cursor = Cursor(new_t, last_event)
    return batch


def fleet_summary(
    ctx: ServiceContext, session: Session, who: Principal, now_s: float
) -> dict[str, Any]:
    """The fleet for the caller: totals of the site, and its own queue (operators: all)."""
    busy = int(
        session.scalar(
            select(func.coalesce(func.sum(JobRow.gpus), 0)).where(JobRow.state == "running")
        )
        or 0
    )
    q = select(JobRow.state, func.count(JobRow.id), func.coalesce(func.sum(JobRow.gpus), 0))
    q = q.where(JobRow.state.in_(("queued", "running")))
    if not who.is_operator:
        q = q.where(JobRow.tenant_id == who.tenant_id)
    counts = {s: (int(n), int(g)) for s, n, g in session.execute(q.group_by(JobRow.state))}
    cap = session.scalar(select(MetaRow.value).where(MetaRow.key == "cap_fraction"))
    return {
        "at": utc(now_s).isoformat(),
        "gpus": sum(ctx.plant.capacity_by_hall(now_s)),
        "busy_gpus": busy,
        "queued_jobs": counts.get("queued", (0, 0))[0],
        "queued_gpus": counts.get("queued", (0, 0))[1],
        "running_jobs": counts.get("running", (0, 0))[0],
        "gpu_power_cap_fraction": 1.0 if cap is None else float(cap),
    }


def server_exiting() -> bool:
    """True once uvicorn has been told to stop (it waits for open responses before it
    ends the app's lifespan, so a stream must notice by itself): uvicorn's signal handler
    is a method of its server, whose ``should_exit`` is then set."""
    handler = signal.getsignal(signal.SIGTERM)
    server = getattr(handler, "__self__", None)
    return bool(getattr(server, "should_exit", False))


def _frame(kind: str, data: dict[str, Any], cursor: Cursor | None = None) -> str:
    head = f"id: {cursor.text()}\n" if cursor is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def stream(
    request: Request, ctx: ServiceContext, who: Principal, last: str | None
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    lag_s = LAG_WALL_S * ctx.clock.speed
    cursor = Cursor.parse(last)
    if cursor is None:

        def first() -> Cursor:
            with ctx.db.read() as session:
                return initial_cursor(session, ctx.now_s() - lag_s)

        cursor = await asyncio.to_thread(first)
    sent: set[tuple[int, str, float]] = set()
    yield f"retry: {RETRY_MS}\n\n"
    last_fleet = -float("inf")
    last_out = loop.time()
    while True:
        if await request.is_disconnected() or server_exiting():
            return
        now = ctx.now_s()

        def work(
            c: Cursor = cursor, now: float = now, fleet: bool = False
        ) -> tuple[Batch, dict[str, Any] | None]:
            with ctx.db.read() as session:
                b = poll(session, who, c, now - lag_s, sent)
                f = fleet_summary(ctx, session, who, now) if fleet else None
            return b, f

        fleet_due = loop.time() - last_fleet >= FLEET_EVERY_S
        batch, summary = await asyncio.to_thread(work, cursor, now, fleet_due)
        out: list[str] = []
        for i, (kind, data) in enumerate(batch.messages):
            end = i == len(batch.messages) - 1
            out.append(_frame(kind, data, batch.cursor if end else None))
        if batch.cursor is not None:
            cursor = batch.cursor
        if summary is not None:
            out.append(_frame("fleet", summary))
            last_fleet = loop.time()
        if not out and loop.time() - last_out >= KEEPALIVE_S:
            out.append(": keep-alive\n\n")
        if out:
            last_out = loop.time()
            yield "".join(out)
        await asyncio.sleep(POLL_S)


@router.get(
    "/events/stream",
    response_class=StreamingResponse,
    # Not in the OpenAPI document: an endless response, which schema-driven clients and
    # fuzzers (tests/service/test_api_fuzz.py) cannot consume; documented here instead.
    include_in_schema=False,
)
async def events_stream(
    request: Request,
    ctx: Ctx,
    who: Who,
    last_event_id: str | None = Header(default=None, max_length=100, description="resume"),
) -> StreamingResponse:
    """Server-sent events: the caller's job transitions, its events and the fleet."""
    return StreamingResponse(
        stream(request, ctx, who, last_event_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
