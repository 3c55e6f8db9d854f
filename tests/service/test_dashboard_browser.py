"""The web dashboard end to end: a real ``narvik serve``, real jobs, Chromium (Playwright).

The server runs its clock x60 with scheduling passes every 0.1 s; the test makes
tenants' tokens, submits jobs for two tenants (some run, some queue), declares a
curtailment, then signs in to ``/dashboard`` with the operator's token and reads
what the page shows. Chromium is Debian's (/usr/bin/chromium); if it is missing
the test fails. A full-page screenshot goes to ``test-artifacts/dashboard.png``.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from tests.service.conftest import SCENARIO

from narvik.service.launch import ServerProcess

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
OPERATOR = "operator-browser-secret"
CLOCK_START = "2027-01-01T12:00:00"
# the page refreshes every 2 s: a few refreshes is the most any check waits
WAIT_MS = 8000


def call(server: ServerProcess, method: str, path: str, token: str, body: object = None) -> Any:
    """One API call; returns the decoded JSON and fails the test on an error status."""
    req = urllib.request.Request(
        f"{server.url}/api/v1/{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as exc:
        pytest.fail(f"{method} /api/v1/{path}: HTTP {exc.code}: {exc.read().decode()[:500]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("dashboard")
    args = [
        "--db",
        f"sqlite:///{tmp / 'n.db'}",
        "--scenario",
        SCENARIO,
        "--clock-speed",
        "60",
        "--clock-start",
        CLOCK_START,
        "--pass-interval-s",
        "0.1",
    ]
    env = {"NARVIK_OPERATOR_TOKEN": OPERATOR, "NARVIK_TOKEN_FILE": str(tmp / "operator.token")}
    with ServerProcess(args, cwd=tmp, env=env) as s:
        yield s


def sign_in(page: Page, server: ServerProcess, token: str) -> None:
    page.goto(f"{server.url}/dashboard")
    expect(page.locator("#login")).to_be_visible()
    page.fill("#token", token)
    page.click("#connect")


def busy_workload(server: ServerProcess) -> dict[str, Any]:
    """Jobs for sigma2 and openai, a curtailment; returns /fleet once scheduling has settled.

    sigma2 may use hall A only: five 8-GPU jobs fill A and one waits. openai's 16-GPU
    job then runs in B and its 48-GPU job cannot fit in the 16 GPUs left: it waits.
    """
    sigma2 = call(server, "POST", "tokens", OPERATOR, {"role": "tenant", "tenant": "sigma2"})
    openai = call(server, "POST", "tokens", OPERATOR, {"role": "tenant", "tenant": "openai"})
    for i in range(5):
        job = {"gpus": 8, "runtime_s": 36000, "name": f"sigma2-{i}"}
        call(server, "POST", "jobs", sigma2["token"], job)
    deadline = time.monotonic() + 10
    while call(server, "GET", "fleet", OPERATOR)["busy_gpus"] < 32:
        assert time.monotonic() < deadline, "sigma2's jobs did not start"
        time.sleep(0.1)
    for gpus in (16, 48):
        job = {"gpus": gpus, "runtime_s": 36000, "name": f"openai-{gpus}"}
        call(server, "POST", "jobs", openai["token"], job)
    call(server, "POST", "curtailments", OPERATOR, {"shed_mw": 0.05, "end": "2027-01-01T13:30:00Z"})
    deadline = time.monotonic() + 10
    while True:
        fleet = call(server, "GET", "fleet", OPERATOR)
        if fleet["busy_gpus"] == 48 and fleet["queued_jobs"] == 2:
            return fleet  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"the fleet did not settle: {fleet}"
        time.sleep(0.1)


def test_a_wrong_token_is_refused(server: ServerProcess, page: Page) -> None:
    sign_in(page, server, "nvk_not-a-real-token")
    error = page.locator("#login-error")
    expect(error).to_be_visible(timeout=WAIT_MS)
    expect(error).to_contain_text("401")
    expect(error).to_contain_text("refused")
    expect(page.locator("#dashboard")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('narvik.token')") is None


def test_the_dashboard_shows_the_site_live(server: ServerProcess, page: Page) -> None:
    fleet = busy_workload(server)
    queued = call(server, "GET", "jobs?state=queued&limit=20", OPERATOR)["jobs"]
    assert len(queued) == 2

    sign_in(page, server, OPERATOR)
    expect(page.locator("#dashboard")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#login")).to_be_hidden()

    # fleet occupancy: the numbers and a plotly bar chart
    expect(page.locator("#fleet-total")).to_have_text(f"{fleet['busy_gpus']} / {fleet['gpus']}")
    expect(page.locator("#occupancy-chart svg.main-svg").first).to_be_visible()
    expect(page.locator("#occupancy-chart .barlayer .trace").first).to_be_attached()
    by_tenant = page.locator("#by-tenant")
    expect(by_tenant).to_contain_text("sigma2")
    expect(by_tenant).to_contain_text("32 GPUs")
    expect(by_tenant).to_contain_text("openai")
    expect(page.locator("#by-tier")).to_contain_text("national")

    # the queue: every queued job, with its tenant and GPUs
    expect(page.locator("#queue-jobs")).to_have_text("2")
    expect(page.locator("#queue-gpus")).to_contain_text(f"{fleet['queued_gpus']} GPUs")
    rows = page.locator("#queue-table tbody tr")
    expect(rows).to_have_count(len(queued))
    for job in queued:
        row = page.locator(f"#queue-table tbody tr[data-job-id='{job['id']}']")
        expect(row).to_contain_text(job["tenant"])
        expect(row.locator("td").nth(2)).to_have_text(str(job["gpus"]))

    # power, PUE and heat
    expect(page.locator("#pue")).to_have_text(re.compile(r"^\d\.\d{3}$"))
    expect(page.locator("#heat-mw")).to_have_text(re.compile(r"^\d+\.\d+ MW$"))
    expect(page.locator("#facility-mw")).to_have_text(re.compile(r"^\d+\.\d+ MW$"))
    expect(page.locator("#offtakers tbody tr").first).to_contain_text("MW")
    expect(page.locator("#power-chart svg.main-svg").first).to_be_visible()
    expect(page.locator("#power-chart .scatterlayer .trace")).to_have_count(4)
    expect(page.locator("#power-chart .g-ytitle")).to_contain_text("MW")
    expect(page.locator("#curtailed-mw")).to_have_text("0.050 MW", timeout=WAIT_MS)

    # recent events include the curtailment
    expect(page.locator("#events")).to_contain_text("curtailment")

    # it refreshes by itself
    stamp = page.locator("#updated-at").inner_text()
    assert stamp.startswith("updated ")
    expect(page.locator("#updated-at")).not_to_have_text(stamp, timeout=WAIT_MS)

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    # the API going away keeps the last data on screen and says so
    page.route("**/api/v1/**", lambda route: route.abort())
    status = page.locator("#status")
    expect(status).to_be_visible(timeout=WAIT_MS)
    expect(status).to_contain_text("Cannot reach the API")
    expect(page.locator("#fleet-total")).to_have_text(f"{fleet['busy_gpus']} / {fleet['gpus']}")
    expect(rows).to_have_count(len(queued))
    page.unroute("**/api/v1/**")
    expect(status).to_be_hidden(timeout=WAIT_MS)

    # a token revoked mid-session, or any 401, sends the page back to the login box
    page.evaluate("sessionStorage.setItem('narvik.token', 'nvk_revoked')")
    page.reload()
    expect(page.locator("#login-error")).to_contain_text("401", timeout=WAIT_MS)
    expect(page.locator("#dashboard")).to_be_hidden()
