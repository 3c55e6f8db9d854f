"""A server started without --clock-start on the shipped scenario starts at the
scenario's start, so its tenants have their quotas (start-up errors:
tests/cli/test_cli_serve_errors.py)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from pathlib import Path

import pytest
from tests.service.conftest import OPERATOR, fresh_pg_database

from narvik.service.launch import ServerProcess


def _get(url: str) -> object:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {OPERATOR}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_default_clock_starts_at_the_scenario_start(tmp_path: Path, db: str) -> None:
    """Today (2026-12) precedes stargate-norway's start_date (2027-01-01): the service
    clock starts there, and openai has its quota in force."""
    if dt.datetime.now(dt.UTC).date() >= dt.date(2027, 1, 1):
        pytest.skip("the wall clock has passed the scenario's start")
    with fresh_pg_database() as pg:
        url = f"sqlite:///{tmp_path / 'narvik.db'}" if db == "sqlite" else pg
        env = {"NARVIK_OPERATOR_TOKEN": OPERATOR, "NARVIK_TOKEN_FILE": str(tmp_path / "t")}
        with ServerProcess(["--db", url], cwd=tmp_path, env=env) as srv:
            tenants = _get(f"{srv.url}/api/v1/tenants")
            fleet = _get(f"{srv.url}/api/v1/fleet")
    assert isinstance(tenants, list) and isinstance(fleet, dict)
    openai = next(t for t in tenants if t["name"] == "openai")
    assert openai["quota_gpus_now"] > 0, openai
    now = dt.datetime.fromisoformat(fleet["now"])
    assert now.date() == dt.date(2027, 1, 1), fleet["now"]
