"""Jobs through the API end to end: submit, schedule, run to the end, bill; on both databases."""

from __future__ import annotations

from tests.service.conftest import Api


def test_a_job_is_admitted_runs_and_is_billed(api: Api) -> None:
    sigma = api.token_for("sigma2")
    job = api.submit(sigma, gpus=4, runtime_s=600, name="train")
    assert job["state"] == "queued" and job["tenant"] == "sigma2"
    api.run_pass()
    got = api.client.get(f"/api/v1/jobs/{job['id']}", headers=sigma).json()
    assert got["state"] == "running"
    assert got["halls"] == {"A": 4}  # sigma2 may use hall A only
    assert got["borrowed"] is False
    api.run_pass(advance_s=601)
    got = api.client.get(f"/api/v1/jobs/{job['id']}", headers=sigma).json()
    assert got["state"] == "completed"
    assert got["work_done_s"] == 600
    bill = api.client.get("/api/v1/usage", headers=sigma).json()
    assert abs(bill["guaranteed_gpu_hours"] - 4 * 600 / 3600) < 1e-6
    assert abs(bill["cost_eur"] - 4 * 600 / 3600 * 1.2) < 1e-6
    assert bill["jobs_completed"] == 1


def test_idempotent_retry_returns_the_first_job(api: Api) -> None:
    sigma = api.token_for("sigma2")
    h = {**sigma, "Idempotency-Key": "retry-1"}
    first = api.client.post("/api/v1/jobs", json={"gpus": 2, "runtime_s": 60}, headers=h)
    again = api.client.post("/api/v1/jobs", json={"gpus": 2, "runtime_s": 60}, headers=h)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    other = api.client.post("/api/v1/jobs", json={"gpus": 3, "runtime_s": 60}, headers=h)
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["detail"]
    listed = api.client.get("/api/v1/jobs", headers=sigma).json()
    assert listed["total"] == 1


def test_cancel_queued_and_running(api: Api) -> None:
    sigma = api.token_for("sigma2")
    a = api.submit(sigma, gpus=8, runtime_s=3600)
    api.run_pass()
    b = api.submit(sigma, gpus=8, runtime_s=3600)  # beyond the 8-GPU quota: borrows or waits
    r = api.client.post(f"/api/v1/jobs/{a['id']}/cancel", headers=sigma)
    assert r.status_code == 200 and r.json()["cancel_requested"] is True
    api.run_pass(advance_s=10)
    got = api.client.get(f"/api/v1/jobs/{a['id']}", headers=sigma).json()
    assert got["state"] == "cancelled"
    r = api.client.post(f"/api/v1/jobs/{b['id']}/cancel", headers=sigma)
    assert r.json()["state"] in ("cancelled", "running")
    again = api.client.post(f"/api/v1/jobs/{a['id']}/cancel", headers=sigma)
    assert again.status_code == 409


def test_eligibility_is_enforced_with_a_reason(api: Api) -> None:
    sigma = api.token_for("sigma2")
    r = api.client.post("/api/v1/jobs", json={"gpus": 33, "runtime_s": 60}, headers=sigma)
    assert r.status_code == 422
    assert r.json()["field"] == "gpus" and "halls A" in r.json()["detail"]
    r = api.client.post(
        "/api/v1/jobs", json={"gpus": 1, "runtime_s": 60, "tenant": "openai"}, headers=sigma
    )
    assert r.status_code == 403


def test_bad_input_names_the_field(api: Api) -> None:
    sigma = api.token_for("sigma2")
    cases = [
        ({"gpus": "many", "runtime_s": 60}, "gpus"),
        ({"gpus": 1, "runtime_s": -5}, "runtime_s"),
        ({"gpus": 1, "runtime_s": 60, "colour": "red"}, "colour"),
        ({"gpus": 0, "runtime_s": 60}, "gpus"),
        ({"runtime_s": 60}, "gpus"),
    ]
    for body, field in cases:
        r = api.client.post("/api/v1/jobs", json=body, headers=sigma)
        assert r.status_code == 422, body
        assert any(field in err["loc"] for err in r.json()["errors"]), r.json()
    big = api.client.post(
        "/api/v1/jobs",
        content=b'{"gpus": 1, "runtime_s": 60, "name": "' + b"x" * 100_000 + b'"}',
        headers={**sigma, "Content-Type": "application/json"},
    )
    assert big.status_code == 413
    assert api.client.get("/api/v1/jobs", headers=sigma).json()["total"] == 0
