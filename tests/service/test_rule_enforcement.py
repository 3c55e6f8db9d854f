"""The API enforces the tenancy's rules the scenario loader enforces (regression tests).

A security review found quotas checked against the final build-out rather than the fleet
in force or the tenant's halls, bookings that ate other tenants' guarantees, and bookings
that raised the job-size limit. Each rule now answers 422 naming the field
(:mod:`narvik.service.api.queries.rules`).

The test site (``tests/data/small-site.toml``): halls A and B (32 GPUs each) from
2026-06-01, hall C (32) from 2028-06-01. Seeded guarantees: openai 32 from 2027-01-01 and
40 from 2027-01-02, sigma2 8 (hall A only), no-startups 8: 56 of 64 GPUs from 2027-01-02.
The service clock starts at 2027-01-01 12:00 UTC.
"""

from __future__ import annotations

from typing import Any

from tests.service.conftest import Api

LATER = {"start": "2027-01-03T00:00:00Z", "end": "2027-01-03T06:00:00Z"}


def refused(r: Any, field: str, *words: str) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["field"] == field, body
    for w in words:
        assert w in body["detail"], body


def tenant(api: Api, name: str, **fields: object) -> Any:
    body = {"name": name, "tier": "national", "jurisdiction": "NO", **fields}
    return api.client.post("/api/v1/tenants", json=body, headers=api.op)


def step(start: str, gpus: int) -> dict[str, object]:
    return {"start": start, "gpus": gpus}


# --- quotas against the fleet in force ----------------------------------------------------
def test_quotas_are_checked_against_the_fleet_in_force_not_the_build_out(api: Api) -> None:
    # 56 + 16 = 72 GPUs guaranteed in 2027, when 64 are in force (96 only from 2028-06-01).
    refused(tenant(api, "big", quota=[step("2027-01-01", 16)]), "quota", "2027-01-02", "64")
    # From the phase that brings hall C, the same guarantee fits (56 + 16 <= 96).
    assert tenant(api, "later", quota=[step("2028-06-01", 16)]).status_code == 201
    # A ramp: 8 now (56 + 8 = 64), 40 with hall C (56 + 16 + 24 = 96): fits at every step.
    ramp = [step("2027-01-01", 8), step("2028-06-01", 24)]
    assert tenant(api, "ramp", quota=ramp).status_code == 201
    # One GPU more anywhere is refused, at the step where it no longer fits.
    r = api.client.put(
        "/api/v1/tenants/ramp/quota",
        json={"quota": [step("2027-01-01", 8), step("2028-06-01", 25)]},
        headers=api.op,
    )
    refused(r, "quota", "2028-06-01", "97")
    r = api.client.put(
        "/api/v1/tenants/openai/quota", json={"quota": [step("2027-01-01", 60)]}, headers=api.op
    )
    refused(r, "quota", "the fleet")
    names = [t["name"] for t in api.client.get("/api/v1/tenants", headers=api.op).json()]
    assert "big" not in names


def test_a_confined_tenant_is_guaranteed_at_most_its_halls_in_force(api: Api) -> None:
    # Hall C comes online on 2028-06-01: nothing can be guaranteed there in 2027.
    r = tenant(api, "c-only", allowed_halls=["C"], quota=[step("2027-06-01", 20)])
    refused(r, "quota", "2027-06-01", "halls C")
    r = tenant(api, "c-only", allowed_halls=["C"], quota=[step("2028-06-01", 33)])
    refused(r, "quota", "halls C", "32")
    ok = tenant(api, "c-only", allowed_halls=["C"], quota=[step("2028-06-01", 32)])
    assert ok.status_code == 201, ok.text
    # Two tenants confined to hall A: sigma2 holds 8 of its 32 GPUs already.
    r = tenant(api, "a-only", allowed_halls=["A"], quota=[step("2027-01-01", 25)])
    refused(r, "quota", "halls A", "33")


def test_a_quota_step_before_the_fleet_exists_and_bad_numbers_are_refused(api: Api) -> None:
    # The first halls come online on 2026-06-01.
    r = tenant(api, "early", quota=[step("2026-01-01", 1), step("2027-01-01", 0)])
    refused(r, "quota", "2026-01-01", "0 GPUs")
    for gpus in (-1, 10**30):
        r = tenant(api, "odd", quota=[step("2028-06-01", gpus)])
        assert r.status_code == 422, r.text
    r = tenant(api, "odd", quota=[step("2028-06-01", 10**12)])
    refused(r, "quota")
    r = tenant(api, "odd", quota=[step("0001-01-01", 1)])
    refused(r, "quota")


def test_quota_raises_respect_bookings_still_to_run(api: Api) -> None:
    uk = api.token_for("uk-public")
    r = api.client.post("/api/v1/reservations", json={"gpus": 8, **LATER}, headers=uk)
    assert r.status_code == 201, r.text
    booking = r.json()["id"]
    r = api.client.put(
        "/api/v1/tenants/sigma2/quota", json={"quota": [step("2027-01-01", 9)]}, headers=api.op
    )
    refused(r, "quota", "bookings")
    cancel = api.client.post(f"/api/v1/reservations/{booking}/cancel", headers=uk)
    assert cancel.status_code == 200, cancel.text
    r = api.client.put(
        "/api/v1/tenants/sigma2/quota", json={"quota": [step("2027-01-01", 9)]}, headers=api.op
    )
    assert r.status_code == 200, r.text


# --- bookings against guarantees ----------------------------------------------------------
def test_a_booking_may_not_take_gpus_guarantees_need(api: Api) -> None:
    uk = api.token_for("uk-public")  # borrow-only: no quota of its own
    r = api.client.post("/api/v1/reservations", json={"gpus": 32, **LATER}, headers=uk)
    refused(r, "gpus", "guarantees", "64")
    r = api.client.post("/api/v1/reservations", json={"gpus": 8, **LATER}, headers=uk)
    assert r.status_code == 201, r.text
    r = api.client.post("/api/v1/reservations", json={"gpus": 1, **LATER}, headers=uk)
    refused(r, "gpus")
    # Another window overlapping this one only in part is checked at every instant.
    overlap = {"start": "2027-01-03T05:00:00Z", "end": "2027-01-03T09:00:00Z"}
    r = api.client.post("/api/v1/reservations", json={"gpus": 1, **overlap}, headers=uk)
    refused(r, "gpus", "2027-01-03 05:00")
    after = {"start": "2027-01-03T06:00:00Z", "end": "2027-01-03T09:00:00Z"}
    r = api.client.post("/api/v1/reservations", json={"gpus": 8, **after}, headers=uk)
    assert r.status_code == 201, r.text


def test_a_booking_counts_its_tenants_own_guarantee(api: Api) -> None:
    # The engine adds a booking on top of the quota: no-startups' 8 + 8 booked fill the 64.
    ns = api.token_for("no-startups")
    r = api.client.post("/api/v1/reservations", json={"gpus": 9, **LATER}, headers=ns)
    refused(r, "gpus")
    r = api.client.post("/api/v1/reservations", json={"gpus": 8, **LATER}, headers=ns)
    assert r.status_code == 201, r.text


def test_a_booking_before_hall_c_cannot_use_it(api: Api) -> None:
    assert tenant(api, "c-only", allowed_halls=["C"], max_borrow_gpus=0).status_code == 201
    c_only = api.token_for("c-only")
    r = api.client.post("/api/v1/reservations", json={"gpus": 8, **LATER}, headers=c_only)
    refused(r, "gpus", "halls C", "0 GPUs")
    window = {"start": "2028-06-02T00:00:00Z", "end": "2028-06-02T06:00:00Z"}
    r = api.client.post("/api/v1/reservations", json={"gpus": 8, **window}, headers=c_only)
    assert r.status_code == 201, r.text


# --- job sizes -------------------------------------------------------------------------------
def test_a_job_larger_than_its_tenant_can_ever_hold_is_refused(api: Api) -> None:
    capped = tenant(api, "capped", quota=[step("2027-01-01", 8)], max_borrow_gpus=4)
    assert capped.status_code == 201, capped.text
    h = api.token_for("capped")
    assert api.client.post("/api/v1/jobs", json={"gpus": 8, "runtime_s": 60}, headers=h).is_success
    r = api.client.post("/api/v1/jobs", json={"gpus": 9, "runtime_s": 60}, headers=h)
    refused(r, "gpus", "can ever hold (8)")
    r = api.client.post("/api/v1/jobs", json={"gpus": 200_000, "runtime_s": 60}, headers=h)
    refused(r, "gpus", "96")
    # Confined to hall C, from its phase on: at most its 32 GPUs, whatever it may borrow.
    assert tenant(api, "c-only", allowed_halls=["C"], max_borrow_gpus=100).status_code == 201
    hc = api.token_for("c-only")
    r = api.client.post("/api/v1/jobs", json={"gpus": 33, "runtime_s": 60}, headers=hc)
    refused(r, "gpus", "halls C")
    assert api.client.post(
        "/api/v1/jobs", json={"gpus": 32, "runtime_s": 60}, headers=hc
    ).is_success


def test_a_booking_far_ahead_does_not_raise_the_job_size_limit(api: Api) -> None:
    assert (
        tenant(api, "capped", quota=[step("2027-01-01", 8)], max_borrow_gpus=8).status_code == 201
    )
    h = api.token_for("capped")
    # In 2199 the guarantees hold 64 of 96 GPUs: the booking fits, and is kept.
    far = {"start": "2199-01-01T00:00:00Z", "end": "2199-01-02T00:00:00Z"}
    r = api.client.post("/api/v1/reservations", json={"gpus": 24, **far}, headers=h)
    assert r.status_code == 201, r.text
    r = api.client.post("/api/v1/jobs", json={"gpus": 16, "runtime_s": 60}, headers=h)
    refused(r, "gpus", "bookings do not raise")
    assert api.client.post("/api/v1/jobs", json={"gpus": 8, "runtime_s": 60}, headers=h).is_success


def test_a_tenant_that_only_books_runs_up_to_its_booking(api: Api) -> None:
    body = {"name": "booker", "tier": "regional", "jurisdiction": "GB", "max_borrow_gpus": 0}
    assert api.client.post("/api/v1/tenants", json=body, headers=api.op).status_code == 201
    h = api.token_for("booker")
    r = api.client.post("/api/v1/jobs", json={"gpus": 1, "runtime_s": 60}, headers=h)
    assert r.status_code == 403, r.text
    r = api.client.post("/api/v1/reservations", json={"gpus": 8, **LATER}, headers=h)
    assert r.status_code == 201, r.text
    assert api.client.post("/api/v1/jobs", json={"gpus": 8, "runtime_s": 60}, headers=h).is_success
    r = api.client.post("/api/v1/jobs", json={"gpus": 9, "runtime_s": 60}, headers=h)
    refused(r, "gpus")


def test_who_may_hold_quota_is_the_scenario_files_rule(api: Api) -> None:
    r = api.client.post(
        "/api/v1/tenants",
        json={
            "name": "r",
            "tier": "regional",
            "jurisdiction": "GB",
            "quota": [step("2028-06-01", 1)],
        },
        headers=api.op,
    )
    refused(r, "quota", "may only borrow")
    r = tenant(api, "gb", jurisdiction="GB", quota=[step("2028-06-01", 1)])
    refused(r, "quota", "jurisdiction 'GB'")
