"""Group commit of job submissions: many requests, one transaction, one durable commit.

Each submission waits on a future; a single writer task takes everything queued
so far (up to ``max_batch``), inserts it in one transaction in a worker thread
(``INSERT ... ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING``),
commits, and only then answers every request of the batch. A request is thus
acknowledged only once its job is committed, while the cost of a commit (an
fsync on PostgreSQL) is shared by the whole batch. Keys that already exist are
answered with the job first made with them (or 409 if the request differs, whether the
first was committed earlier or sits earlier in the same batch). The same transaction
announces the new jobs in ``job_news``, whence the elected scheduler (on any replica)
takes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from narvik.service.api.errors import ConflictError
from narvik.service.db import Database
from narvik.service.news import announce
from narvik.service.tables import JobRow

AUTO_KEY = "~auto~"
"""Prefix of the keys given to submissions sent without one (never sent by clients)."""


@dataclass
class Submission:
    values: dict[str, Any]
    future: asyncio.Future[tuple[JobRow, bool]]


class SubmitBatcher:
    def __init__(self, db: Database, max_batch: int = 512):
        self._db = db
        self._max_batch = max_batch
        self._queue: asyncio.Queue[Submission] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def submit(self, values: dict[str, Any]) -> tuple[JobRow, bool]:
        """The committed job for ``values`` and whether it is new."""
        if self._queue is None:  # not started (no lifespan): write this one now
            results = self._write([values])
            if isinstance(results[0], Exception):
                raise results[0]
            return results[0]  # type: ignore[no-any-return]
        fut: asyncio.Future[tuple[JobRow, bool]] = asyncio.get_running_loop().create_future()
        await self._queue.put(Submission(values, fut))
        return await fut

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                # Inline, not in a worker thread: a batch takes a few ms of CPU, and a worker
                # would wait for the GIL at every database call while requests keep the
                # event loop busy (measured: 4x slower).
                await self._db.lock_writers()  # a pass may be writing: wait, do not block
                try:
                    results = self._write([s.values for s in batch], locked=True)
                finally:
                    self._db.unlock_writers()
            except Exception as exc:  # the batch is rolled back: every request fails
                for s in batch:
                    if not s.future.done():
                        s.future.set_exception(exc)
                continue
            for s, result in zip(batch, results, strict=True):
                if s.future.done():
                    continue
                if isinstance(result, Exception):
                    s.future.set_exception(result)
                else:
                    s.future.set_result(result)

    def _write(self, batch: list[dict[str, Any]], locked: bool = False) -> list[Any]:
        """Insert the batch; per request the (job, created) or the error."""
        if any(v.get("idempotency_key") is None for v in batch):
            batch = [
                v
                if v.get("idempotency_key")
                else {**v, "idempotency_key": AUTO_KEY + uuid.uuid4().hex}
                for v in batch
            ]
        first: dict[tuple[int, str], int] = {}
        for i, v in enumerate(batch):
            first.setdefault((v["tenant_id"], v["idempotency_key"]), i)
        unique = [batch[i] for i in sorted(first.values())]
        t = JobRow.__table__
        ins = pg_insert(t) if self._db.dialect == "postgresql" else sqlite_insert(t)
        stmt = ins.on_conflict_do_nothing(
            index_elements=["tenant_id", "idempotency_key"]
        ).returning(t.c.id, t.c.tenant_id, t.c.idempotency_key)
        with self._db.write(locked=locked) as session:
            inserted = (
                session.execute(stmt, unique).all()
                if len(unique) > 1
                else list(session.execute(stmt, unique[0]))
            )
            made = {(r.tenant_id, r.idempotency_key): r.id for r in inserted}
            announce(session, "new", sorted(made.values()))
            missing = [k for k in first if k not in made]
            existing: dict[tuple[int, str], JobRow] = {}
            if missing:
                q = select(JobRow).where(
                    tuple_(JobRow.tenant_id, JobRow.idempotency_key).in_(missing)
                )
                existing = {(r.tenant_id, r.idempotency_key or ""): r for r in session.scalars(q)}
                session.expunge_all()
        results: list[Any] = []
        new: dict[int, JobRow] = {}
        for i, v in enumerate(batch):
            key = (v["tenant_id"], v["idempotency_key"])
            if key in made:
                job = new.get(made[key])
                if job is None:
                    job = new[made[key]] = JobRow(id=made[key], **v)
                if job.request_sha256 != v["request_sha256"]:
                    results.append(_conflict())
                else:
                    results.append((job, first[key] == i))
                continue
            row = existing[key]
            if row.request_sha256 != v["request_sha256"]:
                results.append(_conflict())
            else:
                results.append((row, False))
        return results


def _conflict() -> ConflictError:
    return ConflictError(
        "this key was used for a different request; use a new key", "Idempotency-Key"
    )
