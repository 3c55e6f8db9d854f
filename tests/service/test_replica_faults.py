"""Regressions of faults 1-3 of the control-plane review, on SQLite and on PostgreSQL.

1. Two servers on one database both scheduled; an API-only replica's jobs and cancels
   never reached the scheduler; a survivor never ended a dead scheduler's jobs.
2. Jobs committed while the scheduler reloaded its mirror were never scheduled.
3. The same Idempotency-Key with different bodies, sent at once, was "replayed" with
   another body's job instead of 409.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.service.conftest import Api, fresh_pg_database, settings_for

from narvik.service.api.app import context_of, create_app
from narvik.service.api.context import ServiceContext
from narvik.service.db import Database
from narvik.service.runtime import scheduler as scheduler_mod
from narvik.service.runtime.lease import DeposedError, Lease, SecondSchedulerError
from narvik.service.runtime.scheduler import Scheduler, read_meta
from narvik.service.runtime.standby import read_report
from narvik.service.tables import JobNewsRow, JobRow


@contextmanager
def replica(db_url: str, tmp_path: Path, **overrides: Any) -> Iterator[Api]:
    app = create_app(settings_for(db_url, tmp_path, **overrides))
    with TestClient(app) as client:
        yield Api(client, context_of(app))


def _job(ctx: ServiceContext, job_id: int) -> JobRow:
    with ctx.db.read() as session:
        row = session.get(JobRow, job_id)
        assert row is not None
        session.expunge(row)
        return row


# --- fault 1 ----------------------------------------------------------------------------
def test_one_scheduler_per_database(db_url: str, tmp_path: Path) -> None:
    """PostgreSQL: the second replica stands by; SQLite: a second scheduler is refused."""
    with replica(db_url, tmp_path, scheduler=True, pass_interval_s=60) as a:
        a.ctx.runner.tick()
        assert a.ctx.runner.role == "leader"
        assert a.client.get("/healthz").json()["scheduler"] == "leader"
        if db_url.startswith("sqlite"):
            with pytest.raises(SecondSchedulerError, match="another narvik serve"):
                create_app(settings_for(db_url, tmp_path, scheduler=True))
            return
        with replica(db_url, tmp_path, scheduler=True, pass_interval_s=60) as b:
            for _ in range(3):
                assert b.ctx.runner.tick() is None
                assert a.ctx.runner.tick() is not None
            assert b.ctx.runner.role == "standby"
            assert b.client.get("/healthz").json()["scheduler"] == "standby"


def test_api_only_replica_jobs_and_cancels_reach_the_scheduler(db_url: str, tmp_path: Path) -> None:
    with replica(db_url, tmp_path) as api_only, replica(db_url, tmp_path) as sched:
        tok = api_only.token_for("openai")
        running = api_only.submit(tok, gpus=4, runtime_s=3600)
        queued_then_cancelled = api_only.submit(tok, gpus=4, runtime_s=3600)
        r = api_only.client.post(f"/api/v1/jobs/{queued_then_cancelled['id']}/cancel", headers=tok)
        assert r.status_code == 200, r.text
        sched.run_pass()
        assert _job(sched.ctx, int(running["id"])).state == "running"
        pool = sched.ctx.scheduler.pool
        assert pool is not None and queued_then_cancelled["id"] not in pool.queued
        r = api_only.client.post(f"/api/v1/jobs/{running['id']}/cancel", headers=tok)
        assert r.status_code == 200, r.text
        sched.run_pass(advance_s=60)
        assert _job(sched.ctx, int(running["id"])).state == "cancelled"
        with sched.ctx.db.read() as session:
            assert session.scalars(select(JobNewsRow)).all() == []


def test_a_standby_shows_the_leaders_fleet(db_url: str, tmp_path: Path) -> None:
    """What a replica that does not schedule reads back (standby.read_report, from meta
    and the jobs table) is what the leader's pass reported."""
    with replica(db_url, tmp_path) as sched:
        tok = sched.token_for("openai")
        for gpus in (4, 8, 16):
            sched.submit(tok, gpus=gpus, runtime_s=3600)
        sched.run_pass()
        lead = sched.ctx.runner.last
        assert lead is not None and lead.busy_gpus == 28
        seen = read_report(sched.ctx.db)
        assert seen.busy_by_hall == lead.busy_by_hall
        assert seen.busy_gpus == lead.busy_gpus
        assert seen.busy_by_tenant == lead.busy_by_tenant
        assert seen.running_by_tenant == lead.running_by_tenant


def test_deposed_leader_cannot_commit(db_url: str, tmp_path: Path) -> None:
    with replica(db_url, tmp_path) as a:
        db = Database(db_url)
        try:
            old = Lease(db, "old", ttl_s=0.6)
            new = Lease(db, "new", ttl_s=0.6)
            assert old.acquire()
            assert not new.acquire()
            time.sleep(0.7)  # the old leader stalls past its lease
            assert new.acquire()
            sched = Scheduler(db, a.ctx.plant, fence=old.fence)
            a.submit(a.token_for("openai"), gpus=1, runtime_s=600)
            with db.read() as session:
                before = read_meta(session)
            with pytest.raises(DeposedError, match="held by new"):
                sched.run_pass(a.ctx.now_s() + 60)
            with db.read() as session:
                assert read_meta(session) == before
                assert len(session.scalars(select(JobNewsRow)).all()) == 1
            assert not old.leading and new.leading
        finally:
            db.dispose()


def test_survivor_ends_the_dead_leaders_jobs_at_their_due_time(tmp_path: Path) -> None:
    """PostgreSQL only: SQLite has one scheduler (refused above); its restart after a kill
    is tests/service/test_crash_recovery.py."""
    opts = {"scheduler": True, "pass_interval_s": 60, "lease_ttl_s": 0.6}
    with (
        fresh_pg_database() as url,
        replica(url, tmp_path, **opts) as a,
        replica(url, tmp_path, **opts) as b,
    ):
        a.ctx.runner.tick()
        job = a.submit(a.token_for("openai"), gpus=2, runtime_s=120)
        a.ctx.runner.tick()
        started = _job(a.ctx, int(job["id"]))
        assert started.state == "running" and started.start_s is not None
        # a dies (it stops passing); b takes over once the lease has lapsed
        time.sleep(0.7)
        b.ctx.clock.origin_s += 600
        assert b.ctx.runner.tick() is not None
        assert b.ctx.runner.role == "leader"
        done = _job(b.ctx, int(job["id"]))
        assert done.state == "completed"
        assert done.end_s == pytest.approx(started.start_s + 120, abs=1e-6)
        with pytest.raises(DeposedError):
            a.ctx.scheduler.run_pass(a.ctx.now_s())


# --- fault 2 ----------------------------------------------------------------------------
def test_job_committed_during_a_reload_is_scheduled(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A submission committed after the reload's snapshot began is not lost."""
    tok = api.token_for("openai")
    api.submit(tok, gpus=1, runtime_s=600)
    api.run_pass()
    real_load = scheduler_mod.load_pool
    late: list[dict[str, object]] = []

    def load_with_a_commit_in_between(*args: Any, **kwargs: Any) -> Any:
        out = real_load(*args, **kwargs)  # the snapshot is taken; now a job commits
        with ThreadPoolExecutor(1) as pool:
            late.append(pool.submit(api.submit, tok, gpus=1, runtime_s=600).result())
        return out

    monkeypatch.setattr(scheduler_mod, "load_pool", load_with_a_commit_in_between)
    api.ctx.scheduler.drop()
    api.run_pass(advance_s=1)
    monkeypatch.setattr(scheduler_mod, "load_pool", real_load)
    assert late
    assert _job(api.ctx, int(late[0]["id"])).state == "running"


# --- fault 3 ----------------------------------------------------------------------------
def test_same_key_different_bodies_in_one_batch_conflict(api: Api) -> None:
    tenant = api.ctx.tenants.by_name("openai")
    from narvik.service.api.queries.jobs import new_job
    from narvik.service.api.schemas import JobIn

    now = api.ctx.now_s()
    a = new_job(tenant, JobIn(gpus=1, runtime_s=600), "k", now)
    b = new_job(tenant, JobIn(gpus=2, runtime_s=600), "k", now)
    results = api.ctx.batcher._write([a, b, a])
    assert results[0][1] is True
    assert isinstance(results[1], Exception) and "different request" in str(results[1])
    assert results[2][0].id == results[0][0].id and results[2][1] is False


def test_concurrent_same_key_different_bodies_get_409(api: Api) -> None:
    tok = {**api.token_for("openai"), "Idempotency-Key": "shared-key"}

    def send(gpus: int) -> tuple[int, int, dict[str, Any]]:
        r = api.client.post("/api/v1/jobs", json={"gpus": gpus, "runtime_s": 600}, headers=tok)
        return gpus, r.status_code, r.json()

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(send, [1 + i % 6 for i in range(90)]))
    made = [a for a in answers if a[1] == 201]
    assert len(made) == 1
    winner = made[0][0]
    for gpus, status, body in answers:
        if gpus == winner:
            assert status in (200, 201) and body["gpus"] == gpus
        else:
            assert status == 409, (gpus, status, body)
