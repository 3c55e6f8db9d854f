"""Fixtures of the service tests: one app per test, on SQLite and on the PostgreSQL server.

PostgreSQL is the server on this machine (``NARVIK_TEST_PG``, default
``postgresql://postgres@127.0.0.1:5432/postgres``); each test gets a fresh
database, dropped afterwards. If the server cannot be reached the PostgreSQL
tests fail (they are not skipped): ``.ci/run`` starts it.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page

from narvik.service.api.app import context_of, create_app
from narvik.service.api.context import ServiceContext
from narvik.service.settings import ServiceSettings

DATA = Path(__file__).resolve().parents[1] / "data"
SCENARIO = str(DATA / "small-scenario.toml")
OPERATOR = "operator-test-secret"
START = dt.datetime(2027, 1, 1, 12, 0, tzinfo=dt.UTC)
# Debian's Chromium, for the dashboard tests (they fail, not skip, without it).
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PG_ADMIN = os.environ.get("NARVIK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'narvik.db'}"
        return
    with fresh_pg_database() as url:
        yield url


def pg_admin() -> psycopg.Connection:
    try:
        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN} is not reachable ({exc}); .ci/run starts it")


class fresh_pg_database:  # noqa: N801 - a context manager used like a function
    """A new, empty PostgreSQL database; dropped on exit."""

    def __enter__(self) -> str:
        self.name = f"narvik_test_{uuid.uuid4().hex[:12]}"
        with pg_admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        return f"{base}/{self.name}"

    def __exit__(self, *exc: object) -> None:
        with pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def settings_for(url: str, tmp_path: Path, **overrides: object) -> ServiceSettings:
    base: dict[str, object] = {
        "db_url": url,
        "scenario": SCENARIO,
        "clock_speed": 60.0,
        "clock_start": START,
        "pass_interval_s": 0.05,
        "operator_token": OPERATOR,
        "token_file": tmp_path / "operator.token",
        "scheduler": False,
    }
    base.update(overrides)
    return ServiceSettings(**base)  # type: ignore[arg-type]


@dataclass
class Api:
    """A test client with the operator's headers and helpers to make tenants' tokens."""

    client: TestClient
    ctx: ServiceContext

    op = {"Authorization": f"Bearer {OPERATOR}"}

    def token_for(self, tenant: str) -> dict[str, str]:
        r = self.client.post(
            "/api/v1/tokens", json={"role": "tenant", "tenant": tenant}, headers=self.op
        )
        assert r.status_code == 201, r.text
        return {"Authorization": f"Bearer {r.json()['token']}"}

    def submit(self, headers: dict[str, str], **job: object) -> dict[str, object]:
        r = self.client.post("/api/v1/jobs", json=job, headers=headers)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    def run_pass(self, advance_s: float = 0.0) -> None:
        """One scheduling pass, after moving the service clock on by ``advance_s``."""
        self.ctx.clock.origin_s += advance_s
        self.ctx.runner.run_once()


@pytest.fixture
def api(db_url: str, tmp_path: Path) -> Iterator[Api]:
    """An app whose passes the test drives (no background thread), clock x60."""
    app = create_app(settings_for(db_url, tmp_path))
    with TestClient(app) as client:
        yield Api(client, context_of(app))


# --- a real browser (the dashboard tests) ------------------------------------------------
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: the dashboard test needs it "
            "(Debian: apt-get install chromium)"
        )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def context(browser: Browser) -> Iterator[BrowserContext]:
    """One context for the module: plotly.js (4.8 MB) is fetched once, then cached."""
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A fresh tab (its own sessionStorage); the test fails on any script error."""
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    yield p
    p.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
