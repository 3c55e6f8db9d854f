"""Regression tests of leaks between tenants, on both databases: a tenant sees only its own.

- ``/api/v1/samples`` showed every tenant the fleet's queue: now its own.
- ``busy_gpus_by_tier`` in ``/api/v1/fleet`` gave a single-tenant tier's usage exactly:
  tenants see only tiers where at least two other tenants run work (or their own alone).
- preemption notices name the tenant GPUs are reclaimed for ("reclaimed for tenant #N"):
  another tenant reads "reclaimed for a tenant's guarantee" (in ``/events`` and in the
  event stream's rows, which share the query).
"""

from __future__ import annotations

import re
from typing import Any

from tests.service.conftest import Api

from narvik.service.api.auth import Principal
from narvik.service.api.queries.state import redact, tiers_shown

A, B = "sigma2", "no-startups"


def get(api: Api, path: str, headers: dict[str, str], **params: object) -> Any:
    r = api.client.get(path, params=params, headers=headers)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json()


def test_samples_show_a_tenant_its_own_queue(api: Api) -> None:
    ha, hb = api.token_for(A), api.token_for(B)
    api.submit(ha, gpus=2, runtime_s=7200)
    api.run_pass()  # sigma2's job runs: its queue is empty
    for _ in range(5):
        api.submit(hb, gpus=64, runtime_s=7200)  # more than the fleet has free: they wait
    api.submit(ha, gpus=32, runtime_s=7200)  # waits too (hall A is partly taken)
    api.run_pass(120)  # a sample a minute of service time
    fleet = get(api, "/api/v1/samples", api.op)
    mine = get(api, "/api/v1/samples", ha)
    theirs = get(api, "/api/v1/samples", hb)
    assert len(fleet) == len(mine) == len(theirs) >= 2
    assert fleet[-1]["queued_jobs"] == 6
    assert mine[-1]["queued_jobs"] == 1
    assert theirs[-1]["queued_jobs"] == 5
    assert mine[0]["queued_jobs"] == 0  # the first sample: its job had started
    # everything else is the fleet's, the same for all
    for f, m in zip(fleet, mine, strict=True):
        assert {k: v for k, v in f.items() if k != "queued_jobs"} == {
            k: v for k, v in m.items() if k != "queued_jobs"
        }


def test_fleet_hides_the_usage_of_small_tiers(api: Api) -> None:
    ha, hb, ho = api.token_for(A), api.token_for(B), api.token_for("openai")
    api.submit(ho, gpus=16, runtime_s=7200)  # the anchor tier has one tenant: openai
    api.submit(ha, gpus=4, runtime_s=7200)  # national: sigma2 and no-startups
    api.run_pass()
    op = get(api, "/api/v1/fleet", api.op)
    assert op["busy_gpus_by_tier"] == {"anchor": 16, "national": 4}
    seen = get(api, "/api/v1/fleet", ha)
    # anchor: one other tenant; national: one other tenant -- both hidden
    assert seen["busy_gpus_by_tier"] == {}
    assert seen["busy_gpus_by_tenant"] == {A: 4}
    # openai: anchor is its own; in national only sigma2 runs: its usage, hidden
    assert get(api, "/api/v1/fleet", ho)["busy_gpus_by_tier"] == {"anchor": 16}
    api.submit(hb, gpus=2, runtime_s=7200)
    api.run_pass()
    # two national tenants run: an aggregate for openai, still one other for sigma2
    assert get(api, "/api/v1/fleet", ho)["busy_gpus_by_tier"] == {"anchor": 16, "national": 6}
    assert get(api, "/api/v1/fleet", ha)["busy_gpus_by_tier"] == {}


def test_tiers_shown_rule() -> None:
    tiers = {1: "a", 2: "b", 3: "b", 4: "c", 5: "c", 6: "c", 7: "d"}
    everyone = set(tiers)
    assert tiers_shown(tiers, everyone, 1) == {"a", "b", "c"}  # a: its own; b: 2 others
    assert tiers_shown(tiers, everyone, 2) == {"c"}  # b: one other
    assert tiers_shown(tiers, everyone, 4) == {"b", "c"}  # c: two others
    assert tiers_shown(tiers, {2, 3, 5}, 4) == {"b"}  # c: one other runs work
    assert tiers_shown(tiers, set(), 7) == {"d"}  # nobody runs: only its own tier


def test_preemption_notices_do_not_name_another_tenant(api: Api) -> None:
    hu, ho = api.token_for("uk-public"), api.token_for("openai")
    tenants = {t["name"]: t for t in get(api, "/api/v1/tenants", api.op)}
    assert tenants
    borrowed = api.submit(hu, gpus=48, runtime_s=7200)  # uk-public holds no quota: borrows
    api.run_pass()
    assert get(api, f"/api/v1/jobs/{borrowed['id']}", hu)["state"] == "running"
    api.submit(ho, gpus=32, runtime_s=7200)  # openai's guarantee: reclaimed from uk-public
    api.run_pass()
    op_events = get(api, "/api/v1/events", api.op, limit=500)
    notices = [e for e in op_events if e["kind"] == "preemption"]
    assert notices, op_events
    assert any(re.search(r"reclaimed for tenant #\d+", e["message"]) for e in notices), notices
    own = [e for e in get(api, "/api/v1/events", hu, limit=500) if e["kind"] == "preemption"]
    assert own and len(own) == len(notices)
    for e in own:
        assert "#" not in e["message"].split("notice:")[-1], e
        assert "reclaimed for a tenant's guarantee" in e["message"], e
        assert "openai" not in e["message"]


def test_redact_names_only_the_reader() -> None:
    msg = "job 7 (8 GPUs) given notice: reclaimed for tenant #3"
    op = Principal("operator", None, None, 1)
    assert redact(msg, op) == msg
    assert redact(msg, Principal("tenant", 3, "x", 2)) == msg  # its own reclaim
    assert redact(msg, Principal("tenant", 4, "y", 3)) == (
        "job 7 (8 GPUs) given notice: reclaimed for a tenant's guarantee"
    )
    assert redact("job 7 given notice: power budget", Principal("tenant", 4, "y", 3)) == (
        "job 7 given notice: power budget"
    )
