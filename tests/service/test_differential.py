"""One engine, two clocks: the same workload through the simulator's driver and through
the control plane's runtime gives the same decisions, job for job.

The simulator (:class:`narvik.sim.tenancy_sim._Driver`) runs a few hundred jobs of four
tenants (one confined to hall A, gangs of up to four NVL72 domains, a booking, a quota
step and more work than the guarantees: reclaims) on a site of two halls of eight NVL72
domains. The service runs the same site and tenancy on SQLite with its clock stepped
by hand: every job is submitted through the API at its submit time and a pass runs at
each instant the simulator ran one. Both pools get the same power model (no limit) and
the service's time line starts at the simulator's t = 0. Every decision (starts with
their placements, preemptions, guarantee fits), every stint on a hall, and each job's
first start, preemptions and end must agree.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.service.conftest import DATA, Api, settings_for

from narvik.engine import NoPowerLimit
from narvik.scenario import load_scenario
from narvik.sched.narvik_policy import NarvikPolicy
from narvik.sched.view import Decision, PoolView
from narvik.service.api.app import context_of, create_app
from narvik.service.tables import JobRow, SegmentRow
from narvik.sim.tenancy_setup import build_setup, site_halls
from narvik.sim.tenancy_sim import _Driver, _Recorder, _result
from narvik.site.loader import load_site
from narvik.workload.job import JobTable
from narvik.workload.tenancy import Reservation

T0 = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
"""The simulator's t = 0 on the service's time line (a whole second: times add exactly)."""
ORIGIN_S = T0.timestamp()
TENANTS = ("openai", "sigma2", "no-startups", "uk-public")

SCENARIO = """
name = "differential"
site = "nvl72-site.toml"
policy = "narvik"
seed = 1
start_date = 2027-01-01
days = 3

[workload]
kind = "synthetic"
load = 0.5

[tenancy]
grace_period_s = 300
checkpoint_interval_s = 1800
quota_jurisdictions = ["NO", "US"]

[[tenancy.tiers]]
name = "national"
priority = 0
start_slo_s = 3600

[[tenancy.tiers]]
name = "anchor"
priority = 1

[[tenancy.tiers]]
name = "regional"
priority = 2
may_hold_quota = false

[[tenancy.tenants]]
name = "openai"
tier = "anchor"
jurisdiction = "US"
price_eur_per_gpu_hour = 2.0
quota = [{ start = 2027-01-01, gpus = 432 }, { start = 2027-01-02, gpus = 576 }]

[[tenancy.tenants]]
name = "sigma2"
tier = "national"
jurisdiction = "NO"
allowed_halls = ["A"]
price_eur_per_gpu_hour = 1.2
quota = [{ start = 2027-01-01, gpus = 144 }]

[[tenancy.tenants]]
name = "no-startups"
tier = "national"
jurisdiction = "NO"
price_eur_per_gpu_hour = 1.5
quota = [{ start = 2027-01-01, gpus = 144 }]

[[tenancy.tenants]]
name = "uk-public"
tier = "regional"
jurisdiction = "GB"
price_eur_per_gpu_hour = 3.0
"""

BOOKING = ("no-startups", 288, 20 * 3600, 26 * 3600)
"""(tenant, GPUs, start, end in s from t = 0)."""


def _write_inputs(tmp: Path) -> Path:
    """The small test site with NVL72 racks: halls A and B of 8 domains (2 blocks of 4)
    online, hall C in a later phase; and the scenario above."""
    site = (DATA / "small-site.toml").read_text()
    site = re.sub(r"(?m)^gpus_per_rack = 8$", "gpus_per_rack = 72", site)
    site = re.sub(r"(?m)^nvlink_domain_gpus = 8$", "nvlink_domain_gpus = 72", site)
    site = re.sub(r"(?m)^racks = 4$", "racks = 8", site)
    site = re.sub(r"(?m)^racks_per_network_block = 2$", "racks_per_network_block = 4", site)
    site = re.sub(r"(?m)^grid_capacity_mw = 0\.2$", "grid_capacity_mw = 2.0", site)
    site = re.sub(r"(?m)^grid_capacity_mw = 0\.3$", "grid_capacity_mw = 3.0", site)
    (tmp / "nvl72-site.toml").write_text(site)
    path = tmp / "differential.toml"
    path.write_text(SCENARIO)
    return path


def _workload(n: int = 300, seed: int = 7) -> tuple[JobTable, np.ndarray]:
    """Whole seconds throughout (so both time lines add exactly); more work than the
    guarantees, gangs beyond one domain, estimates above and below the run time."""
    rng = np.random.default_rng(seed)
    submit = np.sort(rng.integers(0, 40 * 3600, n)).astype(float)
    submit[5:9] = submit[4]  # a few jobs at one instant
    tenant = rng.choice(4, n, p=[0.35, 0.2, 0.2, 0.25])
    sizes = np.array([1, 2, 4, 8, 16, 36, 72, 96, 144, 216, 288])
    gpus = rng.choice(sizes, n, p=[0.1, 0.1, 0.1, 0.15, 0.1, 0.1, 0.12, 0.08, 0.07, 0.05, 0.03])
    gpus = np.where(tenant == 1, np.minimum(gpus, 144), gpus)  # sigma2: hall A, quota 144
    gpus = np.where(tenant == 2, np.minimum(gpus, 288), gpus)
    runtime = rng.integers(600, 12 * 3600, n).astype(float)
    factor = rng.choice([0.8, 1.0, 1.5, 2.0], n)
    requested = np.round(runtime * factor)
    jobs = JobTable(
        job_id=[str(i) for i in range(n)],
        tenant=[TENANTS[t] for t in tenant],
        tier=["-"] * n,
        gpus=gpus,
        submit_s=submit,
        runtime_s=runtime,
        requested_s=requested,
    )
    return jobs, tenant.astype(np.int64)


@dataclass
class Recording:
    """Every decision of a policy, with the instant it was made."""

    policy: NarvikPolicy = field(default_factory=NarvikPolicy)
    decisions: list[tuple[float, Decision]] = field(default_factory=list)

    def decide(self, v: PoolView) -> Decision:
        d = self.policy.decide(v)
        self.decisions.append((v.now_s, d))
        return d


def _canon(decisions: list[tuple[float, Decision]], key: Any, origin: float) -> list[Any]:
    return [
        (
            now - origin,
            [(key(j), b, p) for j, b, p in d.starts],
            [(key(j), o) for j, o in d.preempt],
            sorted((key(j), t - origin) for j, t in d.stop_by_s.items()),
            d.cap_fraction,
            sorted(key(j) for j in d.fitting),
        )
        for now, d in decisions
    ]


def _simulate(scenario: Path, jobs: JobTable, tenant: np.ndarray) -> tuple[Any, Recording]:
    spec = load_scenario(str(scenario))
    site = load_site(str(scenario.parent / "nvl72-site.toml"))
    owner, gpus, start, end = BOOKING
    setup = build_setup(
        tenancy=spec.tenancy,
        halls=site_halls(site, T0.date()),
        start_date=T0.date(),
        hours=24 * 30,
        reservations=(
            Reservation(
                tenant=owner,
                gpus=gpus,
                start=(T0 + dt.timedelta(seconds=start)).replace(tzinfo=None),
                end=(T0 + dt.timedelta(seconds=end)).replace(tzinfo=None),
            ),
        ),
    )
    assert not setup.hour_ticks
    pool = setup.pool()
    policy = Recording()
    rec = _Recorder(len(jobs), setup)
    _Driver(pool, policy, jobs, tenant, rec, None).run(setup, None)
    return _result(jobs, tenant, rec, pool, "narvik", None), policy


@pytest.mark.parametrize("reload_every", [0, 3], ids=["kept", "reloaded"])
def test_simulator_and_service_decide_alike(tmp_path: Path, reload_every: int) -> None:
    """``reload_every``: drop the runtime's pool every so many passes (as after a failed
    pass): it is loaded again from the database and decides as if it had been kept."""
    scenario = _write_inputs(tmp_path)
    jobs, tenant = _workload()
    sim, sim_policy = _simulate(scenario, jobs, tenant)
    # One pass per instant, and a second one at an instant where a notice ran out at once
    # (a job to stop now for power or a reclaim whose deadline has passed).
    instants = [now for now, _ in sim_policy.decisions]
    assert sim.preemptions.sum() > 0, "the workload should make the policy reclaim"
    assert (jobs.gpus > 72).any() and np.isfinite(sim.start_s).all()

    settings = settings_for(
        f"sqlite:///{tmp_path / 'narvik.db'}", tmp_path, scenario=str(scenario),
        clock_start=T0, clock_speed=1.0,
    )  # fmt: skip
    app = create_app(settings)
    svc_policy = Recording()
    with TestClient(app) as client:
        api = Api(client, context_of(app))
        ctx = api.ctx
        ctx.clock.speed = 0.0  # the test moves the clock
        ctx.clock.origin_s = ORIGIN_S
        ctx.scheduler.power = NoPowerLimit()
        ctx.scheduler.policy = svc_policy
        owner, gpus, start, end = BOOKING
        r = client.post(
            "/api/v1/reservations",
            json={
                "tenant": owner,
                "gpus": gpus,
                "start": (T0 + dt.timedelta(seconds=start)).isoformat(),
                "end": (T0 + dt.timedelta(seconds=end)).isoformat(),
            },
            headers=api.op,
        )
        assert r.status_code == 201, r.text
        ids: list[int] = []
        sub = jobs.submit_s.tolist()
        est = jobs.estimate_s().tolist()
        nxt = 0
        for n_pass, t in enumerate(instants, start=1):
            ctx.clock.origin_s = ORIGIN_S + t
            while nxt < len(jobs) and sub[nxt] <= t:
                assert sub[nxt] == t
                made = api.submit(
                    api.op,
                    tenant=TENANTS[int(tenant[nxt])],
                    gpus=int(jobs.gpus[nxt]),
                    runtime_s=float(jobs.runtime_s[nxt]),
                    estimate_s=est[nxt],
                )
                ids.append(int(made["id"]))  # type: ignore[arg-type]
                nxt += 1
            if reload_every and not n_pass % reload_every:
                ctx.scheduler.pool = None
            report = ctx.runner.run_once()
            assert report.now_s == ORIGIN_S + t
        assert nxt == len(jobs)
        with ctx.db.read() as s:
            rows = {r.id: r for r in s.scalars(select(JobRow))}
            segs = [
                (r.job_id, r.start_s, r.end_s, r.gpus, r.hall)
                for r in s.scalars(select(SegmentRow))
            ]
            s.expunge_all()

    key_of = {svc: j for j, svc in enumerate(ids)}
    got = _canon(svc_policy.decisions, key_of.__getitem__, ORIGIN_S)
    want = _canon(sim_policy.decisions, int, 0.0)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g == w, f"first difference at t = {w[0]} s"

    for j, svc in enumerate(ids):
        row = rows[svc]
        assert row.state == "completed", (j, row.state)
        assert row.start_s - ORIGIN_S == sim.start_s[j], j
        assert row.end_s - ORIGIN_S == sim.end_s[j], j
        assert row.preemptions == sim.preemptions[j], j
        assert math.isclose(row.lost_gpu_s, sim.lost_gpu_s[j], abs_tol=1e-6), j
    want_segs = sorted(
        (int(j), float(a), float(b), int(g), int(h))
        for j, a, b, g, h in zip(
            sim.seg_job, sim.seg_start_s, sim.seg_end_s, sim.seg_gpus, sim.seg_hall, strict=True
        )
    )
    got_segs = sorted((key_of[j], a - ORIGIN_S, b - ORIGIN_S, g, h) for j, a, b, g, h in segs)
    assert got_segs == want_segs
