"""Property-based fuzzing of the whole API from its own OpenAPI schema (schemathesis).

Every operation gets valid (positive) and invalid (negative) requests generated
from the schema, some aimed at rows that exist and some with one value swapped
for a nasty one (NUL bytes, times at the ends of the calendar, integers beyond
64 bits), with an operator's token and with a tenant's (sigma2). No answer may
be a 5xx (nor an exception out of the app), and every answer must match the
schema: a documented status code and media type, and a body that fits its
model. On SQLite and PostgreSQL; deterministic (derandomised Hypothesis).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select, update
from tests.service.conftest import OPERATOR, settings_for

from narvik.service.api.app import context_of, create_app
from narvik.service.api.context import ServiceContext
from narvik.service.tables import TokenRow

#: Examples per operation and token; ``NARVIK_FUZZ_EXAMPLES=200`` for a longer hunt.
EXAMPLES = int(os.environ.get("NARVIK_FUZZ_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Values that broke or could break the layers under the API: NUL (PostgreSQL refuses it
#: in text), times whose UTC is outside the calendar, naive times, integers past 32/64 bits.
NASTY: list[Any] = [
    "\x00",
    "sigma2\x00",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2027-01-01T13:00:00",
    "1969-12-31T23:59:59Z",
    "2027-01-01",
    2**31,
    2**53,
    2**63,
    2**64,
    -(2**63) - 1,
    0,
    -1,
    1e308,
    "",
]


@dataclass
class Target:
    """The app under fuzzing, its in-process client and what the seeding made."""

    client: asgi.ASGIClient
    ctx: ServiceContext
    auth: str
    own_token_ids: set[int]
    rows: dict[str, list[Any]]


def _ok(r: Any, code: int = 201) -> dict[str, Any]:
    assert r.status_code == code, r.text
    return r.json()  # type: ignore[no-any-return]


def _seed(client: asgi.ASGIClient, ctx: ServiceContext) -> tuple[dict[str, Any], dict[str, Any]]:
    """A few jobs (running, queued, cancelled), a reservation and a curtailment."""
    op = {"Authorization": f"Bearer {OPERATOR}"}
    mint = {"role": "tenant", "tenant": "sigma2"}
    tok = _ok(client.post("/api/v1/tokens", json=mint, headers=op))
    sigma = {"Authorization": f"Bearer {tok['token']}"}
    jobs = [
        _ok(client.post("/api/v1/jobs", json={"gpus": g, "runtime_s": 3600}, headers=sigma))
        for g in (2, 4, 8)
    ]
    ctx.runner.run_once()
    jobs.append(_ok(client.post("/api/v1/jobs", json={"gpus": 1, "runtime_s": 60}, headers=sigma)))
    _ok(client.post(f"/api/v1/jobs/{jobs[-1]['id']}/cancel", headers=sigma), 200)
    window = {"start": "2027-02-01T00:00:00Z", "end": "2027-02-02T00:00:00Z"}
    resv = _ok(client.post("/api/v1/reservations", json={"gpus": 4, **window}, headers=sigma))
    curt = _ok(
        client.post(
            "/api/v1/curtailments", json={"shed_mw": 1.5, "end": "2027-01-02T00:00:00Z"}, headers=op
        )
    )
    rows = {
        "job_id": [j["id"] for j in jobs],
        "reservation_id": [resv["id"]],
        "curtailment_id": [curt["id"]],
        "token_id": [tok["id"]],
        "name": ["sigma2"],
    }
    auth = {"operator": op["Authorization"], "tenant": sigma["Authorization"]}
    return {"auth": auth, "tenant_token_id": tok["id"]}, rows


@pytest.fixture(params=["operator", "tenant"])
def target(request: pytest.FixtureRequest, db_url: str, tmp_path: Path) -> Iterator[Target]:
    app = create_app(settings_for(db_url, tmp_path))
    try:
        with asgi.get_client(app) as client:
            ctx = context_of(app)
            made, rows = _seed(client, ctx)
            with ctx.db.read() as session:
                ops = set(session.scalars(select(TokenRow.id).where(TokenRow.role == "operator")))
            own = ops | {made["tenant_token_id"]}
            yield Target(client, ctx, made["auth"][request.param], own, rows)
    finally:
        asgi.shutdown_lifespans()


def _restore_tokens(t: Target) -> None:
    """Un-revoke the fuzzer's own tokens, so one lucky revoke does not end the run."""
    with t.ctx.db.write() as session:
        session.execute(
            update(TokenRow).where(TokenRow.id.in_(t.own_token_ids)).values(revoked=False)
        )
    t.ctx.tokens.clear()


def _cases(operation: Any, t: Target) -> st.SearchStrategy[schemathesis.Case]:
    """Positive and negative cases, and positive ones naming rows that exist."""
    options = [
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    ]
    for name, values in t.rows.items():
        if f"{{{name}}}" in operation.path:
            options += [
                operation.as_strategy(GenerationMode.POSITIVE, path_parameters={name: v})
                for v in values
            ]
    return st.one_of(options)


def _leaves(case: schemathesis.Case) -> list[tuple[Any, Any]]:
    """(container, key) of every scalar the case sends, but the token."""
    out: list[tuple[Any, Any]] = []

    def walk(node: Any, headers: bool = False) -> None:
        items = node.items() if isinstance(node, MutableMapping) else enumerate(node)
        for key, value in list(items):
            if isinstance(value, MutableMapping | list):
                walk(value)
            elif not headers or str(key).lower() != "authorization":
                out.append((node, key))

    for part in (case.path_parameters, case.query):
        if part:
            walk(part)
    if case.headers:
        walk(case.headers, headers=True)
    if isinstance(case.body, MutableMapping | list):
        walk(case.body)
    return out


def _spoil(case: schemathesis.Case, pick: int, value: Any) -> None:
    """Swap one scalar of the case for a nasty value (headers take strings only)."""
    leaves = _leaves(case)
    if not leaves:
        return
    node, key = leaves[pick % len(leaves)]
    if case.headers is not None and node is case.headers:
        value = str(value)
    node[key] = value


def _plausible(case: schemathesis.Case, gpus: int) -> None:
    """Make a body likelier to be accepted: sigma2's own work, a few GPUs."""
    body = case.body
    if isinstance(body, MutableMapping) and ("gpus" in body or "tenant" in body):
        body["tenant"] = "sigma2"
        if "gpus" in body:
            body["gpus"] = gpus


def _fuzz(operation: Any, t: Target) -> Callable[[], None]:
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],  # no shrinking: a failure prints its request as curl
    )
    @given(
        case=_cases(operation, t),
        plausible=st.none() | st.integers(1, 8),
        spoil=st.none() | st.tuples(st.integers(0, 63), st.sampled_from(NASTY)),
    )
    def run(case: schemathesis.Case, plausible: int | None, spoil: tuple[int, Any] | None) -> None:
        if plausible is not None:
            _plausible(case, plausible)
        if spoil is not None:
            _spoil(case, *spoil)
        # An empty path segment names another resource (/tenants/ is the list of tenants).
        assume(all(v != "" for v in (case.path_parameters or {}).values()))
        try:
            case.call_and_validate(
                session=t.client, headers={"authorization": t.auth}, checks=CHECKS
            )
        finally:
            if "{token_id}" in operation.path:
                _restore_tokens(t)

    return run  # type: ignore[no-any-return]


def test_no_operation_answers_5xx_or_off_schema(target: Target) -> None:
    schema = schemathesis.openapi.from_dict(target.client.get("/openapi.json").json())
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzz(operation, target)()
        except (Exception, BaseExceptionGroup) as exc:  # all operations, then report
            text = "".join(traceback.format_exception_only(exc))
            failures.append(f"{operation.label}:\n{text}")
    assert not failures, "\n\n".join(failures)
