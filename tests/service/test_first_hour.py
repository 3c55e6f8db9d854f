"""A new user's first hour with ``narvik serve`` on the shipped scenario.

The default clock starts at the scenario's start when the wall clock precedes it (so
the tenants' quotas are in force, not 0), and says so; the grid cap reported and drawn
during a curtailment is the cap in force (the connection less the power shed). The
wall clock is injected: nothing here depends on today's date.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.service.conftest import OPERATOR, Api
from typer.testing import CliRunner

import narvik.service.api.app as app_module
from narvik.cli import serve_cmd
from narvik.scenario import load_scenario
from narvik.service.api.app import context_of, create_app
from narvik.service.clock import clock_start
from narvik.service.settings import ServiceSettings

SHIPPED = load_scenario("stargate-norway")
assert SHIPPED.tenancy is not None
ANCHOR = next(t for t in SHIPPED.tenancy.tenants if t.tier == "anchor")
SCENARIO_START = dt.datetime.combine(SHIPPED.start_date, dt.time(), tzinfo=dt.UTC)
BEFORE = dt.datetime(2026, 12, 4, 9, 30, tzinfo=dt.UTC)
"""A wall clock before the scenario's quotas (the day the issue was written)."""
AFTER = dt.datetime(2027, 5, 2, 9, 30, tzinfo=dt.UTC)
"""A wall clock inside the scenario's year, after the anchor's second step."""
CURTAILMENT = SHIPPED.events[0]
"""The shipped scenario's first grid curtailment (60 MW, 2027-01-20 16:00-20:00 UTC)."""


def quota_on(day: dt.date) -> int:
    return max((q.gpus for q in ANCHOR.quota if q.start <= day), default=0)


def shipped_settings(tmp_path: Path, **overrides: object) -> ServiceSettings:
    """The settings ``narvik serve`` builds with no options but a database (and a token)."""
    given: dict[str, Any] = {
        "db_url": f"sqlite:///{tmp_path / 'narvik.db'}",
        "operator_token": OPERATOR,
        "token_file": tmp_path / "operator.token",
        "scheduler": False,
        **overrides,
    }
    return ServiceSettings(**given)


@pytest.fixture
def shipped(tmp_path: Path) -> Iterator[Callable[..., Api]]:
    """Apps on the shipped scenario; ``wall`` is the wall clock they start from."""
    clients: list[TestClient] = []

    def make(wall: dt.datetime, **overrides: object) -> Api:
        app = create_app(shipped_settings(tmp_path, **overrides), wall_s=wall.timestamp)
        client = TestClient(app).__enter__()
        clients.append(client)
        return Api(client, context_of(app))

    yield make
    for c in clients:
        c.__exit__(None, None, None)


# --- 1. the default clock ----------------------------------------------------------------


def test_the_default_clock_starts_at_the_scenario_start_when_today_precedes_it() -> None:
    assert ANCHOR.quota[0].start == SHIPPED.start_date  # the quotas begin with the scenario
    settings = ServiceSettings()  # what serve builds without --clock-start
    assert settings.clock_start is None
    assert SHIPPED.name == load_scenario(settings.scenario).name

    start = clock_start(settings.clock_start, SHIPPED.start_date, BEFORE.timestamp())
    assert (
        start.origin_s
        == SCENARIO_START.timestamp()
        == dt.datetime(2027, 1, 1, tzinfo=dt.UTC).timestamp()
    )
    assert start.notice == (
        "clock starts at 2027-01-01T00:00Z, the scenario's start (today precedes its quotas); "
        "--clock-start to choose"
    )

    # on or after the start: today, and nothing to say
    for wall in (SCENARIO_START, AFTER):
        start = clock_start(None, SHIPPED.start_date, wall.timestamp())
        assert (start.origin_s, start.notice) == (wall.timestamp(), None)

    # an explicit start is kept, even before the scenario's
    given = ServiceSettings(clock_start=dt.datetime(2026, 6, 1, 12))
    assert given.clock_start == dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)  # no zone: UTC
    start = clock_start(given.clock_start, SHIPPED.start_date, BEFORE.timestamp())
    assert (start.origin_s, start.notice) == (given.clock_start.timestamp(), None)


def test_with_the_default_clock_the_anchor_holds_its_2027_quota(
    shipped: Callable[..., Api],
) -> None:
    api = shipped(BEFORE)
    assert api.ctx.clock_notice is not None
    assert "2027-01-01T00:00Z" in api.ctx.clock_notice
    assert SCENARIO_START.timestamp() <= api.ctx.now_s() < SCENARIO_START.timestamp() + 60

    anchor = api.client.get(f"/api/v1/tenants/{ANCHOR.name}", headers=api.op).json()
    assert anchor["quota_gpus_now"] == quota_on(SHIPPED.start_date) == 50_000
    fleet = api.client.get("/api/v1/fleet", headers=api.op).json()
    assert fleet["now"].startswith("2027-01-01T00:0")
    assert fleet["gpus"] > 0  # phase 1 is online at the start
    tenants = api.client.get("/api/v1/tenants", headers=api.op).json()
    assert sum(t["quota_gpus_now"] for t in tenants) == 69_000


def test_on_a_day_inside_the_scenario_the_clock_is_today(shipped: Callable[..., Api]) -> None:
    api = shipped(AFTER)
    assert api.ctx.clock_notice is None
    assert AFTER.timestamp() <= api.ctx.now_s() < AFTER.timestamp() + 60
    anchor = api.client.get(f"/api/v1/tenants/{ANCHOR.name}", headers=api.op).json()
    assert anchor["quota_gpus_now"] == quota_on(AFTER.date()) == 55_000


def test_a_restart_resumes_where_the_scheduler_left_off(
    shipped: Callable[..., Api],
) -> None:
    first = shipped(BEFORE)
    first.run_pass(advance_s=3 * 86400)  # the service ran three days of its time
    assert first.ctx.runner.last is not None
    left_off = first.ctx.runner.last.now_s  # the last instant the scheduler saw
    again = shipped(BEFORE)  # same database, the wall clock still before 2027
    assert again.ctx.now_s() >= left_off
    assert again.ctx.clock_notice is not None
    assert again.ctx.clock_notice.startswith("clock resumes at 2027-01-04T00:0")


def test_serve_prints_where_the_clock_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``narvik serve`` with no clock option, today before the scenario: one line says so."""
    made: list[FastAPI] = []
    real = app_module.create_app

    def create_at(settings: ServiceSettings, *, wall: dt.datetime) -> FastAPI:
        made.append(real(settings, wall_s=wall.timestamp))
        return made[-1]

    served: list[FastAPI] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))
    monkeypatch.setattr(sys, "setswitchinterval", lambda _s: None)
    monkeypatch.setenv("NARVIK_OPERATOR_TOKEN", OPERATOR)
    monkeypatch.setenv("NARVIK_TOKEN_FILE", str(tmp_path / "operator.token"))
    cli = typer.Typer()
    cli.command("serve")(serve_cmd.serve)
    cli.command("version")(lambda: None)  # two commands: "serve" is named, as in narvik's
    runner = CliRunner()
    try:
        for wall, db in ((BEFORE, "before.db"), (AFTER, "after.db")):
            monkeypatch.setattr(app_module, "create_app", lambda s, w=wall: create_at(s, wall=w))
            result = runner.invoke(cli, ["serve", "--db", f"sqlite:///{tmp_path / db}"])
            assert result.exit_code == 0, result.output
            lines = [ln for ln in result.stderr.splitlines() if "clock" in ln]
            if wall is BEFORE:
                assert lines == [
                    "narvik serve: clock starts at 2027-01-01T00:00Z, the scenario's start "
                    "(today precedes its quotas); --clock-start to choose"
                ]
            else:
                assert lines == []
        assert served == made and len(made) == 2
        # an explicit --clock-start is kept as given, before the scenario or not
        monkeypatch.setattr(app_module, "create_app", lambda s: create_at(s, wall=BEFORE))
        args = ["serve", "--db", f"sqlite:///{tmp_path / 'given.db'}"]
        result = runner.invoke(cli, [*args, "--clock-start", "2026-12-24T18:00:00"])
        assert result.exit_code == 0, result.output
        assert "clock" not in result.stderr
        given = context_of(made[-1]).now_s()
        assert dt.datetime(2026, 12, 24, 18, tzinfo=dt.UTC).timestamp() <= given
        assert given < dt.datetime(2026, 12, 24, 18, 1, tzinfo=dt.UTC).timestamp()
    finally:
        for app in made:
            context_of(app).db.dispose()


# --- 2. the grid cap during a curtailment ------------------------------------------------


def test_the_grid_cap_in_force_is_the_connection_less_the_curtailment(
    shipped: Callable[..., Api],
) -> None:
    """Inside the shipped scenario's first curtailment (declared as the grid operator
    would: the service takes curtailments from the API)."""
    inside = CURTAILMENT.start.replace(tzinfo=dt.UTC) + dt.timedelta(hours=1)
    api = shipped(BEFORE, clock_start=inside)
    before = api.client.get("/api/v1/power", headers=api.op).json()
    assert before["curtailed_w"] == 0
    assert before["grid_cap_w"] == before["grid_capacity_w"] == 230e6

    r = api.client.post(
        "/api/v1/curtailments",
        json={
            "shed_mw": CURTAILMENT.shed_mw,
            "end": CURTAILMENT.end.replace(tzinfo=dt.UTC).isoformat(),
            "deadline_s": CURTAILMENT.deadline_s,
        },
        headers=api.op,
    )
    assert r.status_code == 201, r.text
    power = api.client.get("/api/v1/power", headers=api.op).json()
    assert power["curtailed_w"] == CURTAILMENT.shed_mw * 1e6 == 60e6
    assert power["grid_capacity_w"] == 230e6
    assert power["grid_cap_w"] == 170e6
    # the IT budget is the one the engine uses at the cap in force
    assert power["it_budget_w"] == api.ctx.plant.it_budget_w(
        dt.datetime.fromisoformat(power["now"]).timestamp(), 60e6
    )
    assert power["it_budget_w"] < before["it_budget_w"]

    # the samples the power plot draws carry the cap in force too
    api.run_pass()
    samples = api.client.get("/api/v1/samples", headers=api.op).json()
    assert samples[-1]["grid_cap_w"] == 170e6

    # lifted: the connection is the cap again, in /power and in the next sample
    cid = r.json()["id"]
    assert api.client.post(f"/api/v1/curtailments/{cid}/lift", headers=api.op).status_code == 200
    after = api.client.get("/api/v1/power", headers=api.op).json()
    assert (after["grid_cap_w"], after["curtailed_w"]) == (230e6, 0)
    api.run_pass(advance_s=61)
    samples = api.client.get("/api/v1/samples", headers=api.op).json()
    assert [s["grid_cap_w"] for s in samples] == [170e6, 230e6]


def test_a_flat_pool_has_no_grid_cap(shipped: Callable[..., Api]) -> None:
    api = shipped(AFTER, site="flat:64")
    power = api.client.get("/api/v1/power", headers=api.op).json()
    assert power["grid_cap_w"] is None and power["grid_capacity_w"] is None
