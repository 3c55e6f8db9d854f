"""Concurrent writers that check the tenancy's capacity and then change it.

Regression tests for a security review's finding: on PostgreSQL, 20 bookings made at
once were checked against the same snapshot and 12 were accepted (60,000 GPUs booked
against a cap of 50,112), and three quota raises made at once were all accepted. Each
check-then-write now runs under a lock that serialises the writers it races with
(:func:`narvik.service.api.queries.tenants.lock_tenancy`; SQLite: ``BEGIN IMMEDIATE``).

The threads call the app through one TestClient (its route functions run in a thread
pool, one database transaction each) and are released at once by a barrier; then the
database's totals must respect the caps. The test site (``tests/data/small-site.toml``)
has halls A and B (64 GPUs) in 2027 and hall C (32 more) from 2028-06-01; the seeded
guarantees are openai 32 (40 from 2027-01-02), sigma2 8 (hall A only) and no-startups 8.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import select
from tests.service.conftest import Api

from narvik.service.api.queries import rules
from narvik.service.api.queries.tenants import guarantees, site_halls
from narvik.service.tables import ReservationRow, TenantRow

# In force in this window: A + B = 64 GPUs; guarantees 40 + 8 + 8 = 56.
WINDOW = {"start": "2027-01-03T00:00:00Z", "end": "2027-01-03T06:00:00Z"}


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released together; their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def booked_in_window(api: Api) -> int:
    with api.ctx.db.read() as session:
        return sum(
            r.gpus
            for r in session.scalars(select(ReservationRow).where(ReservationRow.state == "booked"))
        )


def overcommit_in_db(api: Api) -> object:
    """The first instant at which what the database promises does not fit (None: never)."""
    plant = api.ctx.plant
    with api.ctx.db.read() as session:
        tenants = list(session.scalars(select(TenantRow)))
        halls_of = {t.id: tuple(plant.hall_indices(t.allowed_halls)) for t in tenants}
        bookings = [
            rules.Claim(halls_of[r.tenant_id], r.gpus, r.start_s, r.end_s)
            for r in session.scalars(select(ReservationRow).where(ReservationRow.state == "booked"))
        ]
        return rules.first_overcommit(site_halls(plant), [*guarantees(plant, tenants), *bookings])


def book(api: Api, headers: dict[str, str], gpus: int) -> Callable[[], int]:
    return lambda: (
        api.client.post(
            "/api/v1/reservations", json={"gpus": gpus, **WINDOW}, headers=headers
        ).status_code
    )


def set_quota(api: Api, tenant: str, quota: list[dict[str, object]]) -> Callable[[], int]:
    return lambda: (
        api.client.put(
            f"/api/v1/tenants/{tenant}/quota", json={"quota": quota}, headers=api.op
        ).status_code
    )


def test_concurrent_bookings_respect_the_half_fleet_cap(api: Api) -> None:
    # Free the fleet of openai's guarantee: 48 GPUs are left, the half-fleet cap (32) binds.
    assert set_quota(api, "openai", [])() == 200
    uk = api.token_for("uk-public")
    codes = at_once([book(api, uk, 4) for _ in range(20)])
    assert booked_in_window(api) == 32, codes
    assert codes.count(201) == 8 and codes.count(409) == 12, codes  # checked one by one
    assert overcommit_in_db(api) is None


def test_concurrent_bookings_respect_the_guarantees(api: Api) -> None:
    uk = api.token_for("uk-public")
    codes = at_once([book(api, uk, 2) for _ in range(20)])
    assert booked_in_window(api) == 8, codes  # 64 - 56 guaranteed = 8 GPUs free then
    assert overcommit_in_db(api) is None
    assert codes.count(201) == 4 and codes.count(422) == 16, codes


def test_concurrent_quota_raises_respect_the_fleet_in_force(api: Api) -> None:
    # Each raise of 6 fits alone (56 + 6 <= 64 from 2027-01-02); no two fit together.
    codes = at_once(
        [
            set_quota(api, "sigma2", [{"start": "2027-01-01", "gpus": 14}]),
            set_quota(api, "no-startups", [{"start": "2027-01-01", "gpus": 14}]),
            set_quota(
                api,
                "openai",
                [{"start": "2027-01-01", "gpus": 32}, {"start": "2027-01-02", "gpus": 46}],
            ),
        ]
    )
    assert overcommit_in_db(api) is None, codes
    assert sorted(codes) == [200, 422, 422], codes


def test_concurrent_quotas_and_bookings_never_overcommit(api: Api) -> None:
    uk = api.token_for("uk-public")
    calls = [book(api, uk, 3) for _ in range(8)]
    calls += [
        set_quota(api, "sigma2", [{"start": "2027-01-01", "gpus": 12}]),
        set_quota(api, "no-startups", [{"start": "2027-01-01", "gpus": 12}]),
    ]
    calls += [
        lambda i=i: (
            api.client.post(  # type: ignore[misc]
                "/api/v1/tenants",
                json={
                    "name": f"racer-{i}",
                    "tier": "national",
                    "jurisdiction": "NO",
                    "quota": [{"start": "2027-01-01", "gpus": 5}],
                },
                headers=api.op,
            ).status_code
        )
        for i in range(4)
    ]
    codes = at_once(calls)
    assert set(codes) <= {200, 201, 422}, codes
    assert overcommit_in_db(api) is None
