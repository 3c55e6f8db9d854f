"""Random sequences of API calls and clock steps: after every pass the allocation holds.

Hypothesis draws submissions (any tenant, 1-32 GPUs), cancels, bookings, curtailments
and clock steps; after each pass the test reads the database directly and checks:
no hall holds more GPUs than it has; sigma2 runs only in hall A; every running job's
halls add up to its GPUs; the scheduler's mirror equals the database; no job is
both lost and listed (every submitted job is in exactly one state).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from tests.service.conftest import START, Api, settings_for

from narvik.service.api.app import context_of, create_app
from narvik.service.tables import JobRow, TenantRow

TENANTS = ["openai", "sigma2", "no-startups", "uk-public"]

ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("submit"), st.sampled_from(TENANTS), st.integers(1, 32), st.floats(60, 20_000)
        ),
        st.tuples(st.just("cancel"), st.integers(0, 40)),
        st.tuples(st.just("advance"), st.floats(1, 4000)),
        st.tuples(st.just("curtail"), st.floats(0.01, 0.16), st.floats(600, 7200)),
        st.tuples(
            st.just("book"), st.sampled_from(TENANTS[:3]), st.integers(1, 24), st.floats(600, 7200)
        ),
    ),  # fmt: skip
    min_size=5,
    max_size=30,
)


def _check(api: Api, submitted: set[int]) -> None:
    ctx = api.ctx
    cap = ctx.plant.capacity_by_hall(ctx.now_s())
    with ctx.db.read() as s:
        rows = s.execute(select(JobRow.id, JobRow.state, JobRow.gpus, JobRow.halls,
                                JobRow.domains, TenantRow.name).join(TenantRow)).all()  # fmt: skip
    assert {r.id for r in rows} == submitted
    per_hall = [0] * len(cap)
    running = {}
    for r in rows:
        if r.state == "running":
            assert sum(c for _, c in r.halls) == r.gpus
            for h, c in r.halls:
                per_hall[h] += c
                if r.name == "sigma2":
                    assert ctx.plant.hall_names[h] == "A"
            running[r.id] = tuple(tuple(x) for x in r.domains)
            halls: dict[int, int] = {}
            for h, _, c in r.domains:  # the domains are the halls' GPUs, none over full
                halls[h] = halls.get(h, 0) + c
            assert halls == {h: c for h, c in r.halls}
        else:
            assert r.halls is None and r.domains is None
    assert all(u <= c for u, c in zip(per_hall, cap, strict=True)), (per_hall, cap)
    pool = ctx.scheduler.pool
    if pool is not None:  # the engine's pool is the database's allocation
        busy = [c - f for c, f in zip(pool.capacity, pool.free_by_hall, strict=True)]
        assert busy == per_hall
        assert {j: job.placement for j, job in pool.running.items()} == running
        assert set(pool.queued) == {r.id for r in rows if r.state == "queued"}


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck),
          derandomize=True)  # fmt: skip
@given(ops)
def test_random_operations_keep_the_allocation_consistent(tmp_path_factory, steps) -> None:  # type: ignore[no-untyped-def]
    tmp: Path = tmp_path_factory.mktemp("inv")
    app = create_app(settings_for(f"sqlite:///{tmp / 'n.db'}", tmp))
    with TestClient(app) as client:
        api = Api(client, context_of(app))
        heads = {t: api.token_for(t) for t in TENANTS}
        submitted: set[int] = set()
        ids: list[int] = []
        for op in steps:
            if op[0] == "submit":
                _, t, g, rt = op
                r = client.post("/api/v1/jobs", json={"gpus": g, "runtime_s": rt},
                                headers=heads[t])  # fmt: skip
                assert r.status_code in (201, 422), r.text
                if r.status_code == 201:
                    submitted.add(r.json()["id"])
                    ids.append(r.json()["id"])
            elif op[0] == "cancel" and ids:
                r = client.post(f"/api/v1/jobs/{ids[op[1] % len(ids)]}/cancel", headers=api.op)
                assert r.status_code in (200, 409)
            elif op[0] == "curtail":
                end = dt.datetime.fromtimestamp(api.ctx.now_s() + op[2], tz=dt.UTC)
                r = client.post("/api/v1/curtailments", headers=api.op,
                                json={"shed_mw": op[1], "end": end.isoformat()})  # fmt: skip
                assert r.status_code == 201, r.text
            elif op[0] == "book":
                start = dt.datetime.fromtimestamp(api.ctx.now_s() + op[3], tz=dt.UTC)
                end = start + dt.timedelta(hours=1)
                r = client.post("/api/v1/reservations", headers=heads[op[1]],
                                json={"gpus": op[2], "start": start.isoformat(),
                                      "end": end.isoformat()})  # fmt: skip
                assert r.status_code in (201, 409, 422), r.text
            api.run_pass(advance_s=op[1] if op[0] == "advance" else 1.0)
            _check(api, submitted)
    assert api.ctx.now_s() >= START.timestamp()
