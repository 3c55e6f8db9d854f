"""API conventions: DELETE cancels, queued jobs say why they wait, /metrics per tenant and
facility, local Swagger UI and ReDoc (no CDN), per-tenant rate limits and queue caps.

The reasons are unit-tested on hand-built states (one case per reason) and end to end
through the API on both databases.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, Route, expect
from tests.service.conftest import OPERATOR, SCENARIO, Api, settings_for

from narvik.service.api.app import context_of, create_app
from narvik.service.api.queries.reasons import SiteState, TenantState, Waiting, reason
from narvik.service.launch import ServerProcess
from narvik.service.metrics import Metrics, SiteSeries, StateSeries, TenantSeries, exposition

A, B = "sigma2", "no-startups"


# --- DELETE /jobs/{id} --------------------------------------------------------------------
def test_delete_cancels_like_post(api: Api) -> None:
    h = api.token_for(A)
    one = api.submit(h, gpus=2, runtime_s=600)
    two = api.submit(h, gpus=2, runtime_s=600)
    by_delete = api.client.delete(f"/api/v1/jobs/{one['id']}", headers=h)
    by_post = api.client.post(f"/api/v1/jobs/{two['id']}/cancel", headers=h)
    assert by_delete.status_code == by_post.status_code == 200, (by_delete.text, by_post.text)
    d, p = by_delete.json(), by_post.json()
    assert d["state"] == p["state"] == "cancelled"
    assert d.keys() == p.keys()
    # the same answers when it cannot be done: already ended, another tenant's, no such job
    again_d = api.client.delete(f"/api/v1/jobs/{one['id']}", headers=h)
    again_p = api.client.post(f"/api/v1/jobs/{one['id']}/cancel", headers=h)
    assert again_d.status_code == again_p.status_code == 409
    assert again_d.json() == again_p.json()
    hb = api.token_for(B)
    assert api.client.delete(f"/api/v1/jobs/{two['id']}", headers=hb).status_code == 404
    assert api.client.delete("/api/v1/jobs/999999", headers=h).status_code == 404
    # a running job: cancel requested, as by POST
    run = api.submit(h, gpus=2, runtime_s=7200)
    api.run_pass()
    r = api.client.delete(f"/api/v1/jobs/{run['id']}", headers=h)
    assert r.status_code == 200 and r.json()["cancel_requested"] is True, r.text
    ops = api.client.get("/openapi.json").json()["paths"]["/api/v1/jobs/{job_id}"]
    assert "delete" in ops and "get" in ops


# --- reasons: the pure rules --------------------------------------------------------------
def tenant(tid: int, **kw: Any) -> TenantState:
    base: dict[str, Any] = {"id": tid, "tier_priority": 0, "quota_gpus": 8}
    base.update(kw)
    return TenantState(**base)


def site(*tenants: TenantState, free: tuple[int, ...] = (16, 16), **kw: Any) -> SiteState:
    base: dict[str, Any] = {
        "free_by_hall": free,
        "last_pass_s": 100.0,
        "tenants": {t.id: t for t in tenants},
        "now_s": 100.0,
        "gpu_w": 1000.0,
    }
    base.update(kw)
    return SiteState(**base)


def job(gpus: int, tid: int = 1, submit_s: float = 50.0, estimate_s: float = 3600.0) -> Waiting:
    return Waiting(id=10, tenant_id=tid, gpus=gpus, submit_s=submit_s, estimate_s=estimate_s)


def test_reason_scheduling_before_any_pass_sees_it() -> None:
    s = site(tenant(1))
    assert reason(job(4, submit_s=150.0), s) == "scheduling"
    assert reason(job(4), site(tenant(1), last_pass_s=None)) == "scheduling"


def test_reason_quota_when_it_cannot_borrow() -> None:
    # at its guarantee (8 of 8 running), borrowing limit 4 of which 2 used: 4 more is over
    t = tenant(1, max_borrow_gpus=4, used_guaranteed=8, used_borrowed=2)
    assert reason(job(4), site(t)) == "quota"
    assert reason(job(2), site(t)) != "quota"  # 2 + 2 <= 4: it may borrow that
    # no limit on borrowing: never "quota" by the limit
    assert reason(job(4), site(tenant(1, used_guaranteed=8))) != "quota"
    # within the guarantee: never "quota"
    assert reason(job(4), site(tenant(1, max_borrow_gpus=0, used_guaranteed=4))) != "quota"


def test_reason_quota_when_the_surplus_is_not_lent() -> None:
    # 16 free; a tenant that does not lend has 12 of its guarantee unused: 4 lendable
    mine = tenant(1, used_guaranteed=8)
    miser = tenant(2, quota_gpus=12, lends=False)
    s = site(mine, miser, free=(16,))
    assert reason(job(8), s) == "quota"
    # a job within the guarantee may use them
    assert reason(job(8), site(tenant(1), miser, free=(16,))) != "quota"


def test_reason_power_budget() -> None:
    t = tenant(1)
    assert reason(job(4), site(t, cap_fraction=0.8)) == "power_budget"
    # 4 GPUs at 1 kW each need 4 kW; 3 kW left in the budget
    assert reason(job(4), site(t, it_budget_w=10_000.0, it_power_w=7_000.0)) == "power_budget"
    assert reason(job(2), site(t, it_budget_w=10_000.0, it_power_w=7_000.0)) != "power_budget"


def test_reason_reservation() -> None:
    t, other = tenant(1), tenant(2)
    # 12 free; tenant 2 booked 8 from now on and runs nothing: 4 left
    s = site(t, other, free=(12,), bookings=((2, 8, 90.0, 500.0),))
    assert reason(job(8), s) == "reservation"
    # a booking that starts after the job would end (by its estimate) does not block it
    later = site(t, other, free=(12,), bookings=((2, 8, 5000.0, 9000.0),))
    assert reason(job(8, estimate_s=60.0), later) != "reservation"
    # its own booking does not block it
    own = site(t, other, free=(12,), bookings=((1, 8, 90.0, 500.0),))
    assert reason(job(8), own) != "reservation"


def test_reason_topology() -> None:
    # confined to hall 0 (2 free) while hall 1 has 14: enough in the fleet, not in its hall
    t = tenant(1, halls=(0,))
    assert reason(job(8), site(t, free=(2, 14))) == "topology"
    # enough free where it may run and nothing ahead of it: fragmented domains
    assert reason(job(8), site(tenant(1), free=(16, 16))) == "topology"


def test_reason_priority() -> None:
    t = tenant(1)
    # not enough free GPUs anywhere: behind running work
    assert reason(job(8), site(t, free=(2, 2))) == "priority"
    # enough free, but a higher tier waits (backfilling keeps GPUs for it)
    high = tenant(2, tier_priority=-1)
    s = site(t, high, free=(16, 16), first_queued={2: 80.0})
    assert reason(job(8), s) == "priority"
    # or an earlier job of its own tier
    s = site(t, tenant(2), free=(16, 16), first_queued={2: 10.0})
    assert reason(job(8), s) == "priority"
    # a later one of its tier is not ahead of it
    s = site(t, tenant(2), free=(16, 16), first_queued={2: 90.0})
    assert reason(job(8), s) == "topology"
    # GPUs held for a confined tenant's unused guarantee are not free to it
    confined = tenant(2, quota_gpus=8, halls=(0,))
    assert reason(job(12), site(t, confined, free=(8, 8))) == "priority"


# --- reasons end to end --------------------------------------------------------------------
def jobs_by_id(api: Api) -> dict[int, dict[str, Any]]:
    r = api.client.get("/api/v1/jobs", params={"limit": 1000}, headers=api.op)
    assert r.status_code == 200, r.text
    return {j["id"]: j for j in r.json()["jobs"]}


def test_reasons_through_the_api(api: Api) -> None:
    r = api.client.post(
        "/api/v1/tenants",
        headers=api.op,
        json={
            "name": "capped",
            "tier": "national",
            "jurisdiction": "NO",
            "quota": [{"start": "2027-01-01", "gpus": 4}],
            "max_borrow_gpus": 0,
        },
    )
    assert r.status_code == 201, r.text
    hc, ho, hn = api.token_for("capped"), api.token_for("openai"), api.token_for(B)
    first = api.submit(hc, gpus=4, runtime_s=7200)
    assert first["reason"] == "scheduling"  # no pass has seen it
    got = api.client.get(f"/api/v1/jobs/{first['id']}", headers=hc).json()
    assert got["reason"] == "scheduling"
    over = api.submit(hc, gpus=4, runtime_s=7200)
    big = api.submit(ho, gpus=32, runtime_s=7200)
    api.run_pass()
    fresh = api.submit(hn, gpus=8, runtime_s=7200)
    api.run_pass()
    wide = api.submit(hn, gpus=24, runtime_s=7200)  # borrows; 20 GPUs are left
    api.run_pass()
    jobs = jobs_by_id(api)
    assert jobs[first["id"]]["state"] == "running" and jobs[first["id"]]["reason"] is None
    assert jobs[big["id"]]["state"] == "running" and jobs[big["id"]]["reason"] is None
    assert jobs[fresh["id"]]["state"] == "running"
    assert jobs[over["id"]]["state"] == "queued" and jobs[over["id"]]["reason"] == "quota"
    assert jobs[wide["id"]]["state"] == "queued" and jobs[wide["id"]]["reason"] == "priority"
    # the tenant sees the same reason on its own job, in the list and alone
    mine = api.client.get("/api/v1/jobs", params={"state": "queued"}, headers=hc).json()
    assert [(j["id"], j["reason"]) for j in mine["jobs"]] == [(over["id"], "quota")]
    # a deep curtailment: the power budget binds, running work is preempted
    r = api.client.post(
        "/api/v1/curtailments",
        headers=api.op,
        json={"shed_mw": 0.15, "end": "2027-01-02T00:00:00Z", "deadline_s": 0},
    )
    assert r.status_code == 201, r.text
    api.run_pass(10)
    api.run_pass(10)
    jobs = jobs_by_id(api)
    waiting = {i: j["reason"] for i, j in jobs.items() if j["state"] == "queued"}
    assert waiting[wide["id"]] == "power_budget", waiting
    assert waiting[over["id"]] == "quota", waiting  # the first rule that holds
    ended = api.client.delete(f"/api/v1/jobs/{wide['id']}", headers=hn).json()
    assert ended["state"] == "cancelled" and ended["reason"] is None


# --- /metrics -------------------------------------------------------------------------------
def series(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_metrics_per_tenant_and_facility(api: Api) -> None:
    ha, hb = api.token_for(A), api.token_for(B)
    api.submit(ha, gpus=4, runtime_s=7200)
    api.submit(hb, gpus=8, runtime_s=7200)
    api.submit(hb, gpus=64, runtime_s=7200)  # waits
    api.run_pass()
    r = api.client.get("/metrics", headers=api.op)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    s = series(r.text)
    assert s['narvik_tenant_running_gpus{tenant="sigma2"}'] == 4
    assert s['narvik_tenant_running_gpus{tenant="no-startups"}'] == 8
    assert s['narvik_tenant_queued_jobs{tenant="no-startups"}'] == 1
    assert s['narvik_tenant_queued_gpus{tenant="no-startups"}'] == 64
    assert s['narvik_tenant_queued_jobs{tenant="openai"}'] == 0  # every tenant, even idle
    assert s['narvik_tenant_jobs_submitted_total{tenant="no-startups"}'] == 2
    assert s['narvik_tenant_jobs_submitted_total{tenant="sigma2"}'] == 1
    power = api.client.get("/api/v1/power", headers=api.op).json()
    assert s["narvik_site_it_power_watts"] > 0
    assert s["narvik_site_facility_power_watts"] >= s["narvik_site_it_power_watts"]
    assert s["narvik_site_heat_reused_watts"] >= 0
    assert s["narvik_site_grid_cap_watts"] == pytest.approx(power["grid_cap_w"])
    assert s["narvik_site_gpu_power_cap_fraction"] == 1.0
    assert "narvik_jobs_submitted_total" in s  # the process series are still there
    # tenants: 403 (documented: /metrics is the operator's scrape)
    assert api.client.get("/metrics", headers=ha).status_code == 403


def test_exposition_for_one_tenant_shows_only_its_series() -> None:
    m = Metrics()
    m.tenant_submitted.labels(tenant="a").inc(3)
    m.tenant_submitted.labels(tenant="b").inc(5)
    state = StateSeries(
        {"a": TenantSeries(1, 2, 3), "b": TenantSeries(4, 5, 6)},
        SiteSeries(1.0, 100.0, 110.0, 20.0, 200.0, 1.0),
    )
    mine = exposition(m, state, "a").decode()
    assert 'tenant="b"' not in mine and "narvik_jobs_submitted" not in mine
    assert series(mine)['narvik_tenant_jobs_submitted_total{tenant="a"}'] == 3
    assert series(mine)["narvik_site_it_power_watts"] == 100.0
    everything = exposition(m, state, None).decode()
    assert 'tenant="b"' in everything and "narvik_pass_duration_seconds" in everything


# --- /docs and /redoc from local files -------------------------------------------------
LOCAL_REF = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


def test_docs_and_redoc_load_only_local_files(tmp_path: Path) -> None:
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'n.db'}", tmp_path))
    with TestClient(app) as client:
        for page, want in (("/docs", "SwaggerUIBundle"), ("/redoc", "<redoc")):
            r = client.get(page)
            assert r.status_code == 200 and want in r.text, r.text[:500]
            assert "http://" not in r.text and "https://" not in r.text, r.text
            refs = LOCAL_REF.findall(r.text)
            scripts = [u for u in refs if u.endswith(".js")]
            assert scripts, r.text
            for url in refs:
                assert url.startswith("/"), url
                got = client.get(url)
                assert got.status_code == 200, url
            for url in scripts:
                got = client.get(url)
                assert got.headers["content-type"].startswith("text/javascript")
                assert len(got.content) > 100_000, url  # the real bundle
        assert client.get("/docs/oauth2-redirect").status_code == 200
        assert client.get("/docs/static/redoc/LICENSE").status_code == 200
        assert client.get("/docs/static/swagger-ui/LICENSE").status_code == 200
        assert client.get("/docs/static/swagger-ui/../../app.py").status_code == 404
        assert client.get("/docs/static/x/y.js").status_code == 404
        assert client.get("/openapi.json").status_code == 200


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("docs")
    args = ["--db", f"sqlite:///{tmp / 'n.db'}", "--scenario", SCENARIO]
    args += ["--clock-start", "2027-01-01T12:00:00"]
    env = {"NARVIK_OPERATOR_TOKEN": OPERATOR, "NARVIK_TOKEN_FILE": str(tmp / "op.token")}
    with ServerProcess(args, cwd=tmp, env=env) as s:
        yield s


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_render_offline_in_a_browser(
    docs_server: ServerProcess, page: Page, path: str
) -> None:
    """Chromium with every request off 127.0.0.1 refused: the pages still render."""
    refused: list[str] = []

    def gate(route: Route) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "data:", "blob:")):
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    page.route("**/*", gate)
    page.goto(docs_server.url + path)
    if path == "/docs":
        ops = page.locator(".opblock-summary-path")
        expect(ops.first).to_be_visible(timeout=20_000)
        paths = ops.all_inner_texts()
        assert any("/api/v1/jobs" in p for p in paths), paths
        assert len(paths) > 10, paths
    else:
        expect(page.get_by_text("/api/v1/jobs").first).to_be_attached(timeout=20_000)
        expect(page.locator("h1").first).to_contain_text("narvik control plane")
    assert not refused, refused


# --- rate limits and queue caps ---------------------------------------------------------
@pytest.fixture
def limited(db_url: str, tmp_path: Path) -> Iterator[Api]:
    settings = settings_for(
        db_url, tmp_path, rate_limit_per_s=0.5, rate_limit_burst=4, max_queued_jobs_per_tenant=3
    )
    app = create_app(settings)
    with TestClient(app) as client:
        yield Api(client, context_of(app))


def test_rate_limit_per_tenant(limited: Api) -> None:
    api = limited
    ha, hb = api.token_for(A), api.token_for(B)
    codes = [api.client.get("/api/v1/jobs", headers=ha).status_code for _ in range(6)]
    # the first call of a new token is resolved from the database (not counted), then 4 go
    assert codes[:5] == [200] * 5 and codes[5] == 429, codes
    r = api.client.get("/api/v1/fleet", headers=ha)
    assert r.status_code == 429
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 2, r.headers
    body = r.json()
    assert body["limit"] == "rate_limit" and body["retry_after_s"] == retry
    assert "rate_limit" in body["detail"] and A in body["detail"]
    # submissions count too
    r = api.client.post("/api/v1/jobs", json={"gpus": 1, "runtime_s": 60}, headers=ha)
    assert r.status_code == 429
    # other tenants have their own bucket; operators none
    assert api.client.get("/api/v1/jobs", headers=hb).status_code == 200
    for _ in range(10):
        assert api.client.get("/api/v1/jobs", headers=api.op).status_code == 200
    # the bucket refills at the rate (0.5/s: a token in 2 s)
    limits = api.client.app.state.limits  # type: ignore[attr-defined]
    limits.buckets.clock = lambda: math.inf  # long after: the bucket is full again
    assert api.client.get("/api/v1/jobs", headers=ha).status_code == 200


def test_queue_cap_per_tenant(limited: Api) -> None:
    api = limited
    limits = api.client.app.state.limits  # type: ignore[attr-defined]
    limits.buckets.rate = 1e9  # no rate limit in this test
    ha, hb = api.token_for(A), api.token_for(B)
    for _ in range(3):
        api.submit(ha, gpus=1, runtime_s=60)  # no pass runs here: they stay queued
    r = api.client.post("/api/v1/jobs", json={"gpus": 1, "runtime_s": 60}, headers=ha)
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["limit"] == "max_queued_jobs_per_tenant" and int(r.headers["Retry-After"]) >= 1
    # other tenants are not capped by sigma2's queue
    assert (
        api.client.post("/api/v1/jobs", json={"gpus": 1, "runtime_s": 60}, headers=hb).status_code
        == 201
    )
    # cancelling frees room once the count is refreshed from the database
    jobs = api.client.get("/api/v1/jobs", params={"state": "queued"}, headers=ha).json()["jobs"]
    assert api.client.delete(f"/api/v1/jobs/{jobs[0]['id']}", headers=ha).status_code == 200
    limits.queue.refresh()
    assert (
        api.client.post("/api/v1/jobs", json={"gpus": 1, "runtime_s": 60}, headers=ha).status_code
        == 201
    )
