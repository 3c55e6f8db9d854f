"""The live scheduler through the API: reclaim by preemption, power caps and preemption
under grid curtailments, advance reservations, and a restart that reloads the same state.

Passes are driven by the test (``Api.run_pass``) on the small test site: halls A and B
of 32 GPUs online, 200 kW grid connection; openai (anchor, quota 32), sigma2 (national,
quota 8, hall A only), no-startups (national, quota 8), uk-public (regional, borrows).
"""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from tests.service.conftest import Api, settings_for

from narvik.service.api.app import context_of, create_app


def _jobs(api: Api, headers: dict[str, str], state: str | None = None) -> list[dict]:
    q = f"?state={state}&limit=1000" if state else "?limit=1000"
    return api.client.get(f"/api/v1/jobs{q}", headers=headers).json()["jobs"]


def _fleet(api: Api) -> dict:
    return api.client.get("/api/v1/fleet", headers=api.op).json()


def test_borrowed_work_is_reclaimed_after_the_grace_period(api: Api) -> None:
    uk, sigma = api.token_for("uk-public"), api.token_for("sigma2")
    borrowed = [api.submit(uk, gpus=8, runtime_s=86_400) for _ in range(8)]
    api.run_pass()
    assert _fleet(api)["busy_gpus"] == 64
    assert all(j["borrowed"] for j in _jobs(api, uk, "running"))
    want = api.submit(sigma, gpus=8, runtime_s=600)
    api.run_pass(advance_s=5)
    noticed = [j for j in _jobs(api, uk, "running") if j["preempting_at"]]
    assert len(noticed) == 1 and sum(noticed[0]["halls"].get("A", 0) for _ in [0]) == 8
    events = api.client.get("/api/v1/events", headers=api.op).json()
    assert any(e["kind"] == "preemption" for e in events)
    api.run_pass(advance_s=100)  # within the 300 s grace period: nothing moves yet
    assert api.client.get(f"/api/v1/jobs/{want['id']}", headers=sigma).json()["state"] == "queued"
    api.run_pass(advance_s=300)
    got = api.client.get(f"/api/v1/jobs/{want['id']}", headers=sigma).json()
    assert got["state"] == "running" and got["halls"] == {"A": 8} and not got["borrowed"]
    victim = api.client.get(f"/api/v1/jobs/{noticed[0]['id']}", headers=uk).json()
    assert victim["state"] == "queued" and victim["preemptions"] == 1
    assert victim["lost_gpu_s"] > 0  # the work since its last checkpoint is lost
    assert {j["id"] for j in borrowed} >= {victim["id"]}
    fleet = _fleet(api)
    assert fleet["busy_gpus"] == 64 and all(h["busy_gpus"] <= h["gpus"] for h in fleet["halls"])


def test_a_curtailment_caps_gpu_power_then_preempts(api: Api) -> None:
    uk, oa = api.token_for("uk-public"), api.token_for("openai")
    for _ in range(4):
        api.submit(oa, gpus=8, runtime_s=86_400)
        api.submit(uk, gpus=8, runtime_s=86_400)
    api.run_pass()
    power = api.client.get("/api/v1/power", headers=api.op).json()
    assert power["busy_gpus"] == 64 and power["gpu_power_cap_fraction"] == 1.0
    r = api.client.post(
        "/api/v1/curtailments",
        json={"shed_mw": 0.1, "end": "2027-01-01T20:00:00Z", "deadline_s": 600},
        headers=api.op,
    )
    assert r.status_code == 201, r.text
    api.run_pass(advance_s=1)
    power = api.client.get("/api/v1/power", headers=api.op).json()
    assert power["curtailed_w"] == 100_000
    assert 0.6 <= power["gpu_power_cap_fraction"] < 1.0  # met by capping alone
    assert power["it_power_w"] <= power["it_budget_w"] + 1e-6
    assert _fleet(api)["busy_gpus"] == 64
    job = _jobs(api, oa, "running")[0]
    api.run_pass(advance_s=600)
    later = api.client.get(f"/api/v1/jobs/{job['id']}", headers=oa).json()
    assert later["work_done_s"] - job["work_done_s"] < 600  # capped GPUs run slower
    deeper = api.client.post(
        "/api/v1/curtailments",
        json={"shed_mw": 0.13, "end": "2027-01-01T20:00:00Z", "deadline_s": 300},
        headers=api.op,
    )
    assert deeper.status_code == 201
    api.run_pass(advance_s=1)
    noticed = [j for j in _jobs(api, uk, "running") if j["preempting_at"]]
    assert noticed, "capping to the floor is not enough: borrowed low-tier work must go"
    assert not [j for j in _jobs(api, oa, "running") if j["preempting_at"]]
    api.run_pass(advance_s=301)
    power = api.client.get("/api/v1/power", headers=api.op).json()
    assert power["it_power_w"] <= power["it_budget_w"] + 1e-6
    assert power["curtailed_w"] == 130_000


def test_an_advance_reservation_is_kept_free_and_honoured(api: Api) -> None:
    uk, ns = api.token_for("uk-public"), api.token_for("no-startups")
    # A booking may not take GPUs that guarantees need (api/queries/rules.py): without
    # openai's 32 the guarantees leave room for it.
    r = api.client.put("/api/v1/tenants/openai/quota", json={"quota": []}, headers=api.op)
    assert r.status_code == 200, r.text
    r = api.client.post(
        "/api/v1/reservations",
        json={"gpus": 24, "start": "2027-01-01T14:00:00Z", "end": "2027-01-01T16:00:00Z"},
        headers=ns,
    )
    assert r.status_code == 201, r.text
    for _ in range(8):  # long borrowed work that would run through the booking
        api.submit(uk, gpus=8, runtime_s=86_400)
    api.run_pass()
    assert _fleet(api)["busy_gpus"] <= 64 - 24
    api.run_pass(advance_s=2 * 3600)  # 14:00, the window opens
    assert _fleet(api)["busy_gpus"] == 64 - 24  # the booked GPUs wait for their owner
    # The booking serves work beyond the tenant's quota (16 of 24 GPUs); its quota part (8)
    # is reclaimed from borrowed work within the grace period.
    booked = api.submit(ns, gpus=24, runtime_s=1800)
    api.run_pass(advance_s=1)
    api.run_pass(advance_s=301)
    got = api.client.get(f"/api/v1/jobs/{booked['id']}", headers=ns).json()
    assert got["state"] == "running" and not got["borrowed"]


def test_a_restart_reloads_the_same_allocation(db_url: str, tmp_path: Path) -> None:
    settings = settings_for(db_url, tmp_path)
    app = create_app(settings)
    with TestClient(app) as client:
        api = Api(client, context_of(app))
        uk, sigma = api.token_for("uk-public"), api.token_for("sigma2")
        for g in (8, 4, 2, 1):
            api.submit(uk, gpus=g, runtime_s=7200)
            api.submit(sigma, gpus=g, runtime_s=7200)
        api.run_pass()
        before = _fleet(api)
        running = {j["id"]: j["halls"] for j in _jobs(api, api.op, "running")}
    app = create_app(settings)
    with TestClient(app) as client:
        api = Api(client, context_of(app))
        api.run_pass()
        after = _fleet(api)
        again = {j["id"]: j["halls"] for j in _jobs(api, api.op, "running")}
    assert again == running
    assert after["halls"] == before["halls"]
    assert after["busy_gpus_by_tenant"] == before["busy_gpus_by_tenant"]


def test_energy_is_integrated_over_passes(api: Api) -> None:
    oa = api.token_for("openai")
    api.submit(oa, gpus=8, runtime_s=86_400)
    api.run_pass()
    before = api.client.get("/api/v1/power", headers=api.op).json()
    api.run_pass(advance_s=3600)
    after = api.client.get("/api/v1/power", headers=api.op).json()
    idle_w, busy_w = api.ctx.plant.gpu_power_w(api.ctx.now_s())
    # Hand calculation: the idle fleet plus 8 busy GPUs at full cap for one hour, in MWh
    # (plus the seconds the service clock ran on between the calls at x60).
    it_mwh = after["it_energy_mwh"] - before["it_energy_mwh"]
    assert after["it_power_w"] == idle_w + 8 * busy_w
    assert abs(it_mwh - (idle_w + 8 * busy_w) * 3600 / 3.6e9) / it_mwh < 0.02
    fac_mwh = after["facility_energy_mwh"] - before["facility_energy_mwh"]
    assert 1.0 < fac_mwh / it_mwh < 1.5  # the facility's overhead (PUE) at this hour
    assert after["heat_reused_mwh"] > before["heat_reused_mwh"]


def test_work_that_overran_onto_booked_gpus_is_stopped_when_the_window_opens(api: Api) -> None:
    uk, ns = api.token_for("uk-public"), api.token_for("no-startups")
    # A booking may not take GPUs that guarantees need (api/queries/rules.py): without
    # openai's 32 the guarantees leave room for it.
    r = api.client.put("/api/v1/tenants/openai/quota", json={"quota": []}, headers=api.op)
    assert r.status_code == 200, r.text
    r = api.client.post(
        "/api/v1/reservations",
        json={"gpus": 32, "start": "2027-01-01T13:00:00Z", "end": "2027-01-01T15:00:00Z"},
        headers=ns,
    )
    assert r.status_code == 201, r.text
    # Estimates end before the window (so the policy lets them onto the booked GPUs), but
    # the jobs run for a day: they overrun.
    for _ in range(8):
        api.submit(uk, gpus=8, runtime_s=86_400, estimate_s=1800)
    api.run_pass()
    assert _fleet(api)["busy_gpus"] == 64
    api.run_pass(advance_s=3600)  # the window opens
    fleet = _fleet(api)
    assert fleet["gpus"] - fleet["busy_gpus"] >= 32, fleet
    stopped = [j for j in _jobs(api, uk) if j["preemptions"] == 1 and j["state"] == "queued"]
    assert sum(j["gpus"] for j in stopped) == 32
    booked = api.submit(ns, gpus=32, runtime_s=1800)
    api.run_pass(advance_s=1)  # 24 GPUs from the booking; its quota's 8 are reclaimed
    api.run_pass(advance_s=301)
    got = api.client.get(f"/api/v1/jobs/{booked['id']}", headers=ns).json()
    assert got["state"] == "running"
