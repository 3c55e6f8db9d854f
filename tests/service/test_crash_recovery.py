"""A real ``narvik serve`` killed with SIGKILL under load, restarted on the same database.

Eight threads submit jobs with unique Idempotency-Keys while the server is killed.
After a restart every key is retried: a job the client saw acknowledged must be
replayed (never made twice), a request lost in flight may be made now, and the
jobs, the fleet and the database rows must agree (no duplicate key, no hall over
its GPUs, sigma2 only in hall A) while scheduling goes on. On SQLite and on PostgreSQL
(the ``db_url`` fixture: a fresh PostgreSQL database each run).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from tests.service.conftest import SCENARIO

from narvik.service.launch import ServerProcess

SECRET = "crash-test-operator-secret"
OP = {"Authorization": f"Bearer {SECRET}"}
TENANTS = ("openai", "sigma2", "no-startups", "uk-public")
HALL_GPUS = {"A": 32, "B": 32}
THREADS = 8
LOAD_S = 1.5


def server(db_url: str, cwd: Path) -> ServerProcess:
    args = [
        "--db",
        db_url,
        "--scenario",
        SCENARIO,
        "--clock-speed",
        "60",
        "--clock-start",
        "2027-01-01T12:00:00",
        "--pass-interval-s",
        "0.05",
    ]
    return ServerProcess(args, cwd=cwd, env={"NARVIK_OPERATOR_TOKEN": SECRET})


@dataclass
class Attempt:
    """One job a submitter sent: its key, who sent it, the body and what came back."""

    key: str
    tenant: str
    body: dict[str, Any]
    sent_at: float  # time.monotonic() when the request was started
    ended_at: float | None = None
    status: int | None = None  # None: no answer (connection error, reset, timeout)
    job_id: int | None = None
    error: str = ""

    @property
    def acknowledged(self) -> bool:
        return self.status in (200, 201) and self.job_id is not None


@dataclass
class Load:
    url: str
    headers: dict[str, dict[str, str]]
    stop: threading.Event = field(default_factory=threading.Event)
    attempts: list[Attempt] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def submitter(self, n: int) -> None:
        rng = random.Random(1000 + n)
        with httpx.Client(base_url=self.url, timeout=httpx.Timeout(2.0, connect=0.5)) as client:
            i = 0
            while not self.stop.is_set():
                tenant = TENANTS[(n + i) % len(TENANTS)]
                key = f"crash-{n}-{i}"
                body = {
                    "gpus": rng.randint(1, 8),
                    "runtime_s": float(rng.randint(60, 3600)),
                    "name": key,
                }
                a = Attempt(key, tenant, body, time.monotonic())
                with self.lock:
                    self.attempts.append(a)
                try:
                    r = client.post(
                        "/api/v1/jobs",
                        json=body,
                        headers={**self.headers[tenant], "Idempotency-Key": key},
                    )
                except httpx.HTTPError as exc:
                    a.error = type(exc).__name__
                    time.sleep(0.01)  # the server is down: do not spin
                else:
                    a.status = r.status_code
                    if r.status_code in (200, 201):
                        a.job_id = int(r.json()["id"])
                    else:
                        a.error = r.text[:300]
                a.ended_at = time.monotonic()
                i += 1


def all_jobs(client: httpx.Client) -> list[dict[str, Any]]:
    """Every job, as an operator, page by page; checks that ``total`` counts them."""
    jobs: list[dict[str, Any]] = []
    total = None
    while True:
        r = client.get("/api/v1/jobs", params={"limit": 1000, "offset": len(jobs)}, headers=OP)
        assert r.status_code == 200, r.text
        page = r.json()
        total = page["total"] if total is None else total
        assert page["total"] == total, "total changed while paging"
        jobs.extend(page["jobs"])
        if not page["jobs"] or len(jobs) >= total:
            break
    assert len(jobs) == total, (len(jobs), total)
    return jobs


def check_running(running: list[dict[str, Any]]) -> dict[str, int]:
    """Invariants of one list of running jobs; returns the GPUs busy per hall."""
    busy = dict.fromkeys(HALL_GPUS, 0)
    for job in running:
        assert job["state"] == "running"
        assert sum(job["halls"].values()) == job["gpus"], job
        for hall, gpus in job["halls"].items():
            assert gpus > 0, job
            busy[hall] += gpus
        if job["tenant"] == "sigma2":
            assert set(job["halls"]) == {"A"}, f"sigma2 ran outside hall A: {job}"
    for hall, gpus in busy.items():
        assert gpus <= HALL_GPUS[hall], f"hall {hall} holds {gpus} GPUs: {busy}"
    return busy


def check_fleet_against_jobs(client: httpx.Client) -> dict[str, Any]:
    """The fleet agrees with the running jobs (on a pair of reads no pass came between)."""
    last = ""
    for _ in range(40):
        before = client.get("/api/v1/fleet", headers=OP).json()
        r = client.get("/api/v1/jobs", params={"state": "running", "limit": 1000}, headers=OP)
        after = client.get("/api/v1/fleet", headers=OP).json()
        running = r.json()["jobs"]
        assert r.json()["total"] == len(running)
        busy = check_running(running)
        for f in (before, after):
            assert [h["name"] for h in f["halls"]] == list(HALL_GPUS)
            for h in f["halls"]:
                assert 0 <= h["busy_gpus"] <= h["gpus"] == HALL_GPUS[h["name"]], f
            assert f["busy_gpus"] == sum(h["busy_gpus"] for h in f["halls"]), f
            assert f["busy_gpus"] <= f["gpus"], f
        stable = {k: v for k, v in before.items() if k != "now"} == {
            k: v for k, v in after.items() if k != "now"
        }
        if not stable:
            continue
        by_tenant: dict[str, int] = {}
        for job in running:
            by_tenant[job["tenant"]] = by_tenant.get(job["tenant"], 0) + job["gpus"]
        seen = {
            "busy": {h["name"]: h["busy_gpus"] for h in after["halls"]},
            "busy_gpus": after["busy_gpus"],
            "by_tenant": after["busy_gpus_by_tenant"],
            "running_jobs": after["running_jobs"],
        }
        want = {
            "busy": busy,
            "busy_gpus": sum(busy.values()),
            "by_tenant": by_tenant,
            "running_jobs": len(running),
        }
        if seen == want:
            return after
        last = f"fleet {seen} but running jobs give {want}"
        time.sleep(0.02)
    pytest.fail(f"the fleet never agreed with the running jobs: {last or 'never stable'}")


def check_database(db_url: str, keys: set[str], *, all_made: bool) -> None:
    """The rows themselves: one job per (tenant, key), no hall over its GPUs."""
    if db_url.startswith("sqlite:///"):
        conn: Any = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    else:
        conn = psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://", 1))
    try:
        cur = conn.cursor()
        cur.execute(
            "SELECT idempotency_key, count(*) FROM jobs "
            "GROUP BY tenant_id, idempotency_key HAVING count(*) > 1"
        )
        assert cur.fetchall() == []
        cur.execute("SELECT idempotency_key FROM jobs")
        stored = [k for (k,) in cur.fetchall()]
        assert len(set(stored)) == len(stored), "a key is stored twice"
        assert set(stored) <= keys, f"jobs never sent: {sorted(set(stored) - keys)[:5]}"
        if all_made:
            assert len(stored) == len(keys), f"{len(stored)} job rows for {len(keys)} keys"
        cur.execute(
            "SELECT j.id, j.gpus, j.halls, t.name FROM jobs j JOIN tenants t ON t.id = j.tenant_id "
            "WHERE j.state = 'running'"
        )
        busy = [0, 0]
        for job_id, gpus, halls, tenant in cur.fetchall():
            halls = json.loads(halls) if isinstance(halls, str) else halls
            assert halls and sum(int(c) for _, c in halls) == gpus, (job_id, gpus, halls)
            for h, c in halls:
                busy[int(h)] += int(c)
            if tenant == "sigma2":
                assert {int(h) for h, _ in halls} == {0}, (job_id, halls)
        assert all(b <= 32 for b in busy), f"GPUs busy per hall in the database: {busy}"
    finally:
        conn.close()


def test_sigkill_under_load_loses_no_acknowledged_job_and_makes_none_twice(
    db_url: str, tmp_path: Path
) -> None:
    t0 = time.monotonic()
    first = server(db_url, tmp_path).start()
    try:
        with httpx.Client(base_url=first.url, timeout=10) as client:
            headers = {}
            for tenant in TENANTS:
                r = client.post(
                    "/api/v1/tokens", json={"role": "tenant", "tenant": tenant}, headers=OP
                )
                assert r.status_code == 201, r.text
                headers[tenant] = {"Authorization": f"Bearer {r.json()['token']}"}
        load = Load(first.url, headers)
        threads = [threading.Thread(target=load.submitter, args=(n,)) for n in range(THREADS)]
        for t in threads:
            t.start()
        time.sleep(LOAD_S)
        killed_at = time.monotonic()
        first.kill()  # SIGKILL while the submitters are sending; returns once it is dead
        dead_at = time.monotonic()
        load.stop.set()
        for t in threads:
            t.join(timeout=10)
        assert not any(t.is_alive() for t in threads)
    finally:
        first.kill()
    assert first.proc is not None and first.proc.returncode == -signal.SIGKILL

    attempts = load.attempts
    acked = [a for a in attempts if a.acknowledged]
    lost = [a for a in attempts if not a.acknowledged]
    in_flight = [a for a in lost if a.sent_at < killed_at and a.status is None]
    bad = [a for a in attempts if a.status is not None and not a.acknowledged]
    assert not bad, f"answers other than 201 under load: {[(a.status, a.error) for a in bad[:5]]}"
    assert all(a.status == 201 for a in acked), "a first request with a new key was replayed"
    assert len(acked) >= THREADS, f"only {len(acked)} jobs were acknowledged before the kill"
    assert lost, "the kill did not interrupt the load"
    last_before = max(a.sent_at for a in attempts if a.sent_at < killed_at)
    assert killed_at - last_before < 0.5, "the submitters had stopped before the kill"
    assert all(a.sent_at < dead_at for a in acked)
    assert len({a.key for a in attempts}) == len(attempts)
    assert len({a.job_id for a in acked}) == len(acked), "two keys acknowledged with one job"
    print(
        f"{db_url.split(':')[0]}: {len(attempts)} sent, {len(acked)} acknowledged, "
        f"{len(in_flight)} in flight at the kill, {len(lost) - len(in_flight)} sent after"
    )

    check_database(db_url, {a.key for a in attempts}, all_made=False)  # the state the crash left

    t_crash = time.monotonic()
    second = server(db_url, tmp_path).start()
    t_restart = time.monotonic()
    try:
        with httpx.Client(base_url=second.url, timeout=10) as client:
            restarted_at = dt.datetime.fromisoformat(
                client.get("/api/v1/fleet", headers=OP).json()["now"]
            )

            # (a) every key again, with the same body, from 8 threads; the keys without
            # an answer twice at once (a client and its retry racing)
            def resend(a: Attempt) -> tuple[Attempt, httpx.Response]:
                headers = {**load.headers[a.tenant], "Idempotency-Key": a.key}
                return a, client.post("/api/v1/jobs", json=a.body, headers=headers)

            sends = [a for a in attempts for _ in range(1 if a.acknowledged else 2)]
            with ThreadPoolExecutor(THREADS) as pool:
                answers = list(pool.map(resend, sends))
            ids: dict[str, int] = {}
            made: dict[str, int] = {}
            for a, r in answers:
                if a.acknowledged:
                    assert r.status_code == 200, (a.key, r.status_code, r.text)
                    assert r.headers.get("Idempotent-Replayed") == "true"
                    assert r.json()["id"] == a.job_id, f"{a.key}: a second job was made"
                else:
                    assert r.status_code in (200, 201), (a.key, r.status_code, r.text)
                    if r.status_code == 200:
                        assert r.headers.get("Idempotent-Replayed") == "true"
                    else:
                        made[a.key] = made.get(a.key, 0) + 1
                got = r.json()
                assert got["tenant"] == a.tenant and got["name"] == a.key
                assert got["gpus"] == a.body["gpus"] and got["runtime_s"] == a.body["runtime_s"]
                assert ids.setdefault(a.key, got["id"]) == got["id"], f"{a.key}: two jobs"
            assert len(ids) == len(attempts)
            assert len(set(ids.values())) == len(attempts), "two keys share one job"
            assert all(n == 1 for n in made.values()), "a key answered 201 twice"

            t_retried = time.monotonic()

            # (b) the listing: each key's job exactly once, nothing never sent
            jobs = all_jobs(client)
            by_id = {j["id"]: j for j in jobs}
            assert len(by_id) == len(jobs), "a job is listed twice"
            assert len(jobs) == len(attempts), f"{len(jobs)} jobs for {len(attempts)} keys"
            assert set(by_id) == set(ids.values())
            assert sorted(j["name"] for j in jobs) == sorted(a.key for a in attempts)
            for a in acked:
                assert by_id[a.job_id]["name"] == a.key

            # (c) allocations agree with the fleet, halls within their GPUs, sigma2 in A
            time.sleep(0.3)
            for _ in range(3):
                check_fleet_against_jobs(client)
                time.sleep(0.2)
            for job in jobs:
                if job["tenant"] == "sigma2":
                    assert set(job["halls"]) <= {"A"}, job

            t_checked = time.monotonic()

            # (d) scheduling goes on after the restart
            deadline = time.monotonic() + 15
            while True:
                jobs = all_jobs(client)
                started = [
                    j
                    for j in jobs
                    if j["started_at"]
                    and dt.datetime.fromisoformat(j["started_at"]) >= restarted_at
                    and j["state"] in ("running", "completed")
                ]
                completed = [
                    j
                    for j in jobs
                    if j["state"] == "completed"
                    and dt.datetime.fromisoformat(j["ended_at"]) >= restarted_at
                ]
                if started and completed:
                    break
                assert time.monotonic() < deadline, "no job started or ended after the restart"
                time.sleep(0.2)
            for j in jobs:
                for name in ("submitted_at", "started_at", "ended_at"):
                    assert j[name] is None or j[name].endswith("Z"), j
            check_fleet_against_jobs(client)
    finally:
        second.stop()
    assert second.proc is not None and second.proc.returncode is not None

    check_database(db_url, {a.key for a in attempts}, all_made=True)
    print(
        f"{len(made)} of {len(lost)} unanswered keys made on retry, the rest replayed; "
        f"took {time.monotonic() - t0:.1f} s: to the crash {t_crash - t0:.1f}, "
        f"restart {t_restart - t_crash:.1f}, retries {t_retried - t_restart:.1f}, "
        f"checks {t_checked - t_retried:.1f}, rest {time.monotonic() - t_checked:.1f}"
    )
