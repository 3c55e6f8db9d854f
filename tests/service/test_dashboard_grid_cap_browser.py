"""The dashboard during a grid curtailment of the shipped scenario, in Chromium.

A real ``narvik serve`` on the shipped scenario (stargate-norway, 230 MW connection),
its clock inside the scenario's first curtailment (60 MW, 2027-01-20 16:00-20:00 UTC),
declared through the API as the grid operator would. The "Grid cap" card and the
power plot's grid-cap line must show the cap in force, 170 MW, not the connection.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from tests.service.test_dashboard_browser import WAIT_MS, call, sign_in

from narvik.scenario import load_scenario
from narvik.service.launch import ServerProcess

pytestmark = pytest.mark.slow

OPERATOR = "operator-grid-cap-secret"
CURTAILMENT = load_scenario("stargate-norway").events[0]
INSIDE = CURTAILMENT.start + dt.timedelta(hours=1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("grid-cap")
    args = ["--db", f"sqlite:///{tmp / 'n.db'}", "--clock-speed", "60"]
    args += ["--clock-start", INSIDE.isoformat(), "--pass-interval-s", "0.1"]
    env = {"NARVIK_OPERATOR_TOKEN": OPERATOR, "NARVIK_TOKEN_FILE": str(tmp / "operator.token")}
    with ServerProcess(args, cwd=tmp, env=env) as s:
        yield s


LAST_GRID_CAP_MW = """() => {
  const d = document.getElementById("power-chart").data;
  const cap = d && d.find((t) => t.name === "grid cap");
  return cap && cap.y.length ? cap.y[cap.y.length - 1] : null;
}"""


def test_the_grid_cap_card_shows_the_cap_in_force(server: ServerProcess, page: Page) -> None:
    power = call(server, "GET", "power", OPERATOR)
    assert (power["grid_cap_w"], power["curtailed_w"]) == (230e6, 0)
    sign_in(page, server, OPERATOR)
    expect(page.locator("#dashboard")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#fig-grid-cap")).to_have_text("230.0 MW", timeout=WAIT_MS)
    expect(page.locator("#grid-cap-mw")).to_have_text("grid cap 230.0 MW")

    end = CURTAILMENT.end.replace(tzinfo=dt.UTC).isoformat()
    body = {"shed_mw": CURTAILMENT.shed_mw, "end": end, "deadline_s": CURTAILMENT.deadline_s}
    call(server, "POST", "curtailments", OPERATOR, body)
    power = call(server, "GET", "power", OPERATOR)
    assert (power["grid_cap_w"], power["grid_capacity_w"]) == (170e6, 230e6)

    expect(page.locator("#fig-grid-cap")).to_have_text(
        "170.0 MW (230.0 MW less a 60.00 MW curtailment)", timeout=WAIT_MS
    )
    expect(page.locator("#grid-cap-mw")).to_have_text("grid cap 170.0 MW (curtailed)")
    expect(page.locator("#fig-curtailed")).to_have_text("60.00 MW")
    # the plot of power against the cap draws the cap in force
    page.wait_for_function(f"() => ({LAST_GRID_CAP_MW})() === 170", timeout=WAIT_MS)
    caps = page.evaluate(
        """() => document.getElementById("power-chart").data
                 .find((t) => t.name === "grid cap").y"""
    )
    assert caps[0] == 230 and caps[-1] == 170

    out = Path(__file__).resolve().parents[2] / "test-artifacts"
    out.mkdir(exist_ok=True)
    page.screenshot(path=str(out / "dashboard-curtailed.png"), full_page=True)
