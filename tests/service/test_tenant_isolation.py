"""Tenants see and touch only their own: jobs, counts, bills, bookings, events; on both databases.

Tenant A is sigma2 (national, hall A only), tenant B is no-startups (national).
Another tenant's rows answer 404 exactly as a row that does not exist (their
existence is not revealed); naming another tenant answers 403; operator calls
answer 403 to tenants; no or a revoked token answers 401. All through the in-process
client, but for tokens over a real socket, where an answer sent before its commit shows.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from tests.service.conftest import OPERATOR, SCENARIO, Api

from narvik.service.launch import ServerProcess

A, B = "sigma2", "no-startups"
MISSING = 10**9  # an id no row has
ROUNDS = 150  # tokens issued and revoked over a real socket
WINDOW = {"start": "2027-01-03T00:00:00Z", "end": "2027-01-03T06:00:00Z"}


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
    return r.json()


def jobs_of(api: Api, headers: dict[str, str], **params: object) -> dict[str, Any]:
    r = api.client.get("/api/v1/jobs", params={"limit": 1000, **params}, headers=headers)
    return ok(r)  # type: ignore[no-any-return]


def fleet_from(jobs: list[dict[str, Any]]) -> dict[str, object]:
    """What /fleet should count for someone who sees exactly these jobs."""
    running = [j for j in jobs if j["state"] == "running"]
    queued = [j for j in jobs if j["state"] == "queued"]
    by_tenant: dict[str, int] = {}
    for j in running:
        by_tenant[j["tenant"]] = by_tenant.get(j["tenant"], 0) + j["gpus"]
    return {
        "busy_gpus_by_tenant": by_tenant,
        "queued_jobs": len(queued),
        "queued_gpus": sum(j["gpus"] for j in queued),
        "running_jobs": len(running),
    }


def seen_in(fleet: dict[str, Any]) -> dict[str, object]:
    return {
        k: fleet[k] for k in ("busy_gpus_by_tenant", "queued_jobs", "queued_gpus", "running_jobs")
    }


def assert_hidden(r: Any, missing: Any) -> None:
    """``r`` (another tenant's row) answers like ``missing`` (no such row): 404, same words."""
    assert r.status_code == 404, (r.request.url, r.status_code, r.text)
    assert missing.status_code == 404, missing.text
    body, none = r.json(), missing.json()
    assert body["field"] == none["field"]
    assert body["detail"].split()[:-1] == none["detail"].split()[:-1], (body, none)


def test_tenants_cannot_reach_each_others_jobs(api: Api) -> None:
    ha, hb = api.token_for(A), api.token_for(B)
    a_jobs = [
        api.submit(ha, gpus=4, runtime_s=7200, name="a-train"),
        api.submit(ha, gpus=2, runtime_s=600),
    ]
    b_jobs = [api.submit(hb, gpus=16, runtime_s=7200, name=f"b-{i}") for i in range(5)]
    api.run_pass()

    everything = jobs_of(api, api.op)
    assert everything["total"] == 7 == len(everything["jobs"])
    states = {(j["tenant"], j["state"]) for j in everything["jobs"]}
    assert (A, "running") in states and (B, "running") in states and (B, "queued") in states, states

    for viewer, mine, theirs, other in ((ha, a_jobs, b_jobs, B), (hb, b_jobs, a_jobs, A)):
        me = A if other == B else B
        missing_get = api.client.get(f"/api/v1/jobs/{MISSING}", headers=viewer)
        missing_cancel = api.client.post(f"/api/v1/jobs/{MISSING}/cancel", headers=viewer)
        for job in theirs:
            assert_hidden(api.client.get(f"/api/v1/jobs/{job['id']}", headers=viewer), missing_get)
            assert_hidden(
                api.client.post(f"/api/v1/jobs/{job['id']}/cancel", headers=viewer), missing_cancel
            )
        for job in mine:
            assert ok(api.client.get(f"/api/v1/jobs/{job['id']}", headers=viewer))["tenant"] == me

        r = api.client.get("/api/v1/jobs", params={"tenant": other}, headers=viewer)
        assert r.status_code == 403, r.text
        r = api.client.get(
            "/api/v1/jobs", params={"tenant": other, "state": "running"}, headers=viewer
        )
        assert r.status_code == 403, r.text
        own = jobs_of(api, viewer)
        assert {j["id"] for j in own["jobs"]} == {j["id"] for j in mine}
        assert own["total"] == len(mine)
        assert jobs_of(api, viewer, tenant=me)["total"] == len(mine)
        for state in ("queued", "running"):
            page = jobs_of(api, viewer, state=state)
            assert {j["tenant"] for j in page["jobs"]} <= {me}
            assert page["total"] == sum(
                1 for j in everything["jobs"] if j["tenant"] == me and j["state"] == state
            )
        paged = jobs_of(api, viewer, limit=1, offset=1)
        assert paged["total"] == len(mine) and len(paged["jobs"]) == 1

        # counts of the other's jobs are not in the fleet view either
        fleet = ok(api.client.get("/api/v1/fleet", headers=viewer))
        assert seen_in(fleet) == fleet_from(own["jobs"])
        assert set(fleet["busy_gpus_by_tenant"]) == {me}

        # a job in another tenant's name is refused
        r = api.client.post(
            "/api/v1/jobs", json={"gpus": 1, "runtime_s": 60, "tenant": other}, headers=viewer
        )
        assert r.status_code == 403, r.text

    # the other's cancels changed nothing
    after = jobs_of(api, api.op)
    assert {j["id"]: (j["state"], j["cancel_requested"]) for j in after["jobs"]} == {
        j["id"]: (j["state"], j["cancel_requested"]) for j in everything["jobs"]
    }

    # operators see both tenants, and their totals
    assert jobs_of(api, api.op, tenant=B)["total"] == len(b_jobs)
    assert jobs_of(api, api.op, tenant=A)["total"] == len(a_jobs)
    for job in a_jobs + b_jobs:
        assert ok(api.client.get(f"/api/v1/jobs/{job['id']}", headers=api.op))["id"] == job["id"]
    fleet = ok(api.client.get("/api/v1/fleet", headers=api.op))
    assert seen_in(fleet) == fleet_from(after["jobs"])
    assert set(fleet["busy_gpus_by_tenant"]) == {A, B}
    for j in after["jobs"]:
        assert j["submitted_at"].endswith("Z"), j
        assert j["started_at"] is None or j["started_at"].endswith("Z"), j


def test_idempotency_keys_are_per_tenant(api: Api) -> None:
    ha, hb = api.token_for(A), api.token_for(B)
    b = ok(
        api.client.post(
            "/api/v1/jobs",
            json={"gpus": 2, "runtime_s": 60},
            headers={**hb, "Idempotency-Key": "shared-key"},
        ),
        201,
    )
    # the same key from A, with another body: A's own new job, neither B's nor a conflict
    a = ok(
        api.client.post(
            "/api/v1/jobs",
            json={"gpus": 3, "runtime_s": 120},
            headers={**ha, "Idempotency-Key": "shared-key"},
        ),
        201,
    )
    assert a["id"] != b["id"] and a["tenant"] == A and a["gpus"] == 3
    # the same key and the same body as B's: still A's own job (replayed from A's first)
    again = api.client.post(
        "/api/v1/jobs",
        json={"gpus": 3, "runtime_s": 120},
        headers={**ha, "Idempotency-Key": "shared-key"},
    )
    assert again.status_code == 200 and again.json()["id"] == a["id"]
    same_as_b = ok(
        api.client.post(
            "/api/v1/jobs",
            json={"gpus": 2, "runtime_s": 60},
            headers={**ha, "Idempotency-Key": "other-key"},
        ),
        201,
    )
    assert same_as_b["id"] not in (a["id"], b["id"])
    assert jobs_of(api, ha)["total"] == 2 and jobs_of(api, hb)["total"] == 1


def test_usage_reservations_and_events_are_private(api: Api) -> None:
    ha, hb = api.token_for(A), api.token_for(B)
    api.submit(ha, gpus=4, runtime_s=600)
    api.submit(hb, gpus=8, runtime_s=600)
    api.run_pass()
    api.run_pass(advance_s=601)

    # bills
    for viewer, me, other in ((ha, A, B), (hb, B, A)):
        r = api.client.get("/api/v1/usage", params={"tenant": other}, headers=viewer)
        assert r.status_code == 403, r.text
        own = ok(api.client.get("/api/v1/usage", headers=viewer))
        assert own["tenant"] == me and own["jobs_completed"] == 1
        named = ok(api.client.get("/api/v1/usage", params={"tenant": me}, headers=viewer))
        assert {**named, "end": None} == {**own, "end": None}  # the clock runs (x60)
    bill_b = ok(api.client.get("/api/v1/usage", params={"tenant": B}, headers=api.op))
    assert bill_b["tenant"] == B and abs(bill_b["guaranteed_gpu_hours"] - 8 * 600 / 3600) < 1e-6

    # bookings
    booking = {"gpus": 4, **WINDOW}
    r = api.client.post("/api/v1/reservations", json={**booking, "tenant": B}, headers=ha)
    assert r.status_code == 403, r.text
    b_res = ok(api.client.post("/api/v1/reservations", json=booking, headers=hb), 201)
    assert (
        b_res["tenant"] == B and b_res["start"] == WINDOW["start"] and b_res["end"] == WINDOW["end"]
    )
    a_res = ok(
        api.client.post("/api/v1/reservations", json={**booking, "tenant": A}, headers=ha), 201
    )
    assert a_res["tenant"] == A
    assert_hidden(
        api.client.post(f"/api/v1/reservations/{b_res['id']}/cancel", headers=ha),
        api.client.post(f"/api/v1/reservations/{MISSING}/cancel", headers=ha),
    )
    assert_hidden(
        api.client.post(f"/api/v1/reservations/{a_res['id']}/cancel", headers=hb),
        api.client.post(f"/api/v1/reservations/{MISSING}/cancel", headers=hb),
    )
    assert [r["id"] for r in ok(api.client.get("/api/v1/reservations", headers=ha))] == [
        a_res["id"]
    ]
    assert [r["id"] for r in ok(api.client.get("/api/v1/reservations", headers=hb))] == [
        b_res["id"]
    ]
    everyone = ok(api.client.get("/api/v1/reservations", headers=api.op))
    assert {(r["id"], r["tenant"], r["state"]) for r in everyone} >= {
        (a_res["id"], A, "booked"),
        (b_res["id"], B, "booked"),
    }
    cancelled = ok(api.client.post(f"/api/v1/reservations/{a_res['id']}/cancel", headers=ha))
    assert cancelled["state"] == "cancelled"

    # events
    op_events = ok(api.client.get("/api/v1/events", params={"limit": 500}, headers=api.op))
    assert any(e["tenant"] == B for e in op_events) and any(e["tenant"] == A for e in op_events)
    for viewer, me, other in ((ha, A, B), (hb, B, A)):
        events = ok(api.client.get("/api/v1/events", params={"limit": 500}, headers=viewer))
        assert events and all(e["tenant"] in (None, me) for e in events), events
        assert not any(other in e["message"] for e in events if e["tenant"] is None)
        assert all(e["at"].endswith("Z") for e in events)


def test_operator_calls_are_refused_to_tenants(api: Api) -> None:
    ha = api.token_for(A)
    curtailment = ok(
        api.client.post(
            "/api/v1/curtailments",
            json={"shed_mw": 0.01, "end": "2027-01-02T00:00:00Z"},
            headers=api.op,
        ),
        201,
    )
    tokens_before = ok(api.client.get("/api/v1/tokens", headers=api.op))
    tenants_before = ok(api.client.get("/api/v1/tenants", headers=api.op))
    calls = [
        (
            "POST",
            "/api/v1/tenants",
            {"name": "intruder", "tier": "regional", "jurisdiction": "GB"},
        ),
        ("PUT", f"/api/v1/tenants/{B}/quota", {"quota": [{"start": "2027-01-01", "gpus": 16}]}),
        ("PUT", f"/api/v1/tenants/{A}/quota", {"quota": [{"start": "2027-01-01", "gpus": 16}]}),
        ("POST", "/api/v1/tokens", {"role": "tenant", "tenant": A}),
        ("POST", "/api/v1/tokens", {"role": "operator"}),
        ("GET", "/api/v1/tokens", None),
        ("POST", f"/api/v1/tokens/{tokens_before[0]['id']}/revoke", None),
        ("POST", "/api/v1/curtailments", {"shed_mw": 1.0, "end": "2027-01-02T00:00:00Z"}),
        ("POST", f"/api/v1/curtailments/{curtailment['id']}/lift", None),
        ("GET", "/metrics", None),
    ]
    for method, path, body in calls:
        r = api.client.request(method, path, json=body, headers=ha)
        assert r.status_code == 403, (method, path, r.status_code, r.text)
    # nothing changed
    assert ok(api.client.get("/api/v1/tokens", headers=api.op)) == tokens_before
    assert ok(api.client.get("/api/v1/tenants", headers=api.op)) == tenants_before
    curtailments = ok(api.client.get("/api/v1/curtailments", headers=api.op))
    assert [(c["id"], c["state"]) for c in curtailments] == [(curtailment["id"], "active")]
    # tenants see only their own tenant record
    assert [t["name"] for t in ok(api.client.get("/api/v1/tenants", headers=ha))] == [A]
    assert api.client.get(f"/api/v1/tenants/{B}", headers=ha).status_code in (403, 404)
    # and the operator may do all of it
    assert api.client.get("/metrics", headers=api.op).status_code == 200


def test_no_unknown_or_revoked_token_is_401(api: Api) -> None:
    paths = ["/api/v1/jobs", "/api/v1/fleet", "/api/v1/events", "/api/v1/usage", "/metrics"]
    for headers in (
        {},
        {"Authorization": "Basic b3BlcmF0b3I6c2VjcmV0"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer nvk_not-a-token"},
    ):
        for path in paths:
            r = api.client.get(path, headers=headers)
            assert r.status_code == 401, (path, headers, r.status_code, r.text)
            assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers
        r = api.client.post("/api/v1/jobs", json={"gpus": 1, "runtime_s": 60}, headers=headers)
        assert r.status_code == 401, r.text

    made = ok(
        api.client.post(
            "/api/v1/tokens", json={"role": "tenant", "tenant": A, "label": "ci"}, headers=api.op
        ),
        201,
    )
    assert made["token"] and made["tenant"] == A and made["revoked"] is False
    mine = {"Authorization": f"Bearer {made['token']}"}
    job = api.submit(mine, gpus=1, runtime_s=60)
    assert ok(api.client.get("/api/v1/jobs", headers=mine))["total"] == 1

    revoked = ok(api.client.post(f"/api/v1/tokens/{made['id']}/revoke", headers=api.op))
    assert revoked["revoked"] is True and revoked["id"] == made["id"]
    assert revoked.get("token") is None
    listed = {t["id"]: t for t in ok(api.client.get("/api/v1/tokens", headers=api.op))}
    assert listed[made["id"]]["revoked"] is True
    assert all(t.get("token") is None for t in listed.values())
    for method, path, body in (
        ("GET", "/api/v1/jobs", None),
        ("GET", f"/api/v1/jobs/{job['id']}", None),
        ("POST", f"/api/v1/jobs/{job['id']}/cancel", None),
        ("POST", "/api/v1/jobs", {"gpus": 1, "runtime_s": 60}),
        ("GET", "/api/v1/fleet", None),
    ):
        r = api.client.request(method, path, json=body, headers=mine)
        assert r.status_code == 401, (method, path, r.status_code, r.text)
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer")
    # the job outlives the token; another token of the tenant still works
    other = api.token_for(A)
    got = ok(api.client.get(f"/api/v1/jobs/{job['id']}", headers=other))
    assert got["state"] == "queued" and got["cancel_requested"] is False
    assert ok(api.client.get("/api/v1/jobs", headers=api.op))["total"] == 1


def test_tokens_take_effect_before_the_answer_on_a_real_server(db_url: str, tmp_path: Path) -> None:
    """Over a real socket the answer must not come before the commit: a token issued is
    usable, and a token revoked is refused, by the very next request (and ever after)."""
    args = ["--db", db_url, "--scenario", SCENARIO, "--clock-speed", "60"]
    args += ["--clock-start", "2027-01-01T12:00:00", "--pass-interval-s", "0.05"]
    op = {"Authorization": f"Bearer {OPERATOR}"}
    unusable: list[int] = []
    not_found: list[int] = []
    accepted: list[int] = []
    stuck: list[int] = []
    with (
        ServerProcess(args, cwd=tmp_path, env={"NARVIK_OPERATOR_TOKEN": OPERATOR}) as server,
        httpx.Client(base_url=server.url, timeout=10) as admin,
        httpx.Client(base_url=server.url, timeout=10) as user,
    ):
        for _ in range(ROUNDS):
            body = {"role": "tenant", "tenant": A}
            made = ok(admin.post("/api/v1/tokens", json=body, headers=op), 201)
            mine = {"Authorization": f"Bearer {made['token']}"}
            if user.get("/api/v1/fleet", headers=mine).status_code != 200:
                unusable.append(made["id"])
            revoke = f"/api/v1/tokens/{made['id']}/revoke"
            if admin.post(revoke, headers=op).status_code != 200:
                not_found.append(made["id"])  # the token of the 201 is not there yet
                time.sleep(0.2)
                ok(admin.post(revoke, headers=op))
            if user.get("/api/v1/fleet", headers=mine).status_code != 401:
                accepted.append(made["id"])
                time.sleep(0.5)  # a moment later, with the revocation surely committed
                listed = {t["id"]: t for t in ok(admin.get("/api/v1/tokens", headers=op))}
                assert listed[made["id"]]["revoked"] is True
                if user.get("/api/v1/fleet", headers=mine).status_code != 401:
                    stuck.append(made["id"])
            if len(unusable) + len(not_found) + len(accepted) >= 6:
                break  # evidence enough
    assert not unusable and not not_found and not accepted, (
        f"of up to {ROUNDS} tokens, refused right after their 201: {unusable}; "
        f"404 to the operator's revoke right after their 201: {not_found}; "
        f"accepted right after their revocation: {accepted}; "
        f"still accepted 0.5 s later, though listed as revoked: {stuck}"
    )
