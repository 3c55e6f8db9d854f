"""Every error answer is an RFC 9457 problem (application/problem+json) naming the field;
non-finite numbers and invalid Unicode are 422, never 500."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.service.conftest import Api, settings_for

from narvik.service.api.app import create_app

PROBLEM = "application/problem+json"
JSON = {"Content-Type": "application/json"}


def assert_problem(r, status: int, field: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers
    body = r.json()
    assert {"type", "title", "status", "detail"} <= set(body), body
    assert body["status"] == status
    assert body["type"] == "about:blank" or body["type"].startswith("https://"), body
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in r.text
    if field is not None:
        assert body["field"] == field, body
        assert body["detail"].startswith(f"{field}: "), body
    return body  # type: ignore[no-any-return]


def test_api_errors_are_problems(api: Api) -> None:
    c = api.client
    r = c.get("/api/v1/jobs")
    body = assert_problem(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    assert body["type"] == "https://narvik.dev/problems/unauthorized"
    r = c.get("/api/v1/jobs/999999", headers=api.op)
    assert_problem(r, 404)
    sigma = api.token_for("sigma2")
    r = c.post(
        "/api/v1/tenants", json={"name": "x", "tier": "t", "jurisdiction": "NO"}, headers=sigma
    )
    assert_problem(r, 403)


def test_validation_errors_are_problems_with_a_list(api: Api) -> None:
    sigma = api.token_for("sigma2")
    r = api.client.post("/api/v1/jobs", json={"gpus": 0, "runtime_s": -1}, headers=sigma)
    body = assert_problem(r, 422, "gpus")
    assert body["type"] == "https://narvik.dev/problems/validation"
    fields = {e["field"]: e for e in body["errors"]}
    assert set(fields) == {"gpus", "runtime_s"}
    assert fields["gpus"]["pointer"] == "#/gpus" and fields["gpus"]["message"]
    # a parameter
    r = api.client.get("/api/v1/jobs/0", headers=sigma)
    body = assert_problem(r, 422, "job_id")
    assert body["errors"][0]["in"] == "path" and "pointer" not in body["errors"][0]
    # not JSON
    r = api.client.post("/api/v1/jobs", content=b"{nope", headers={**sigma, **JSON})
    body = assert_problem(r, 422, "body")
    assert body["errors"][0]["pointer"] == "#"


def test_http_errors_are_problems(api: Api) -> None:
    c = api.client
    assert_problem(c.get("/api/v1/no-such-route"), 404)
    r = c.put("/healthz")
    assert_problem(r, 405)
    assert "allow" in {k.lower() for k in r.headers}
    sigma = api.token_for("sigma2")
    big = b'{"gpus": 1, "runtime_s": 60, "name": "' + b"x" * 200_000 + b'"}'
    r = c.post("/api/v1/jobs", content=big, headers={**sigma, **JSON})
    assert_problem(r, 413)


def test_an_unexpected_error_is_a_500_problem_without_traceback(
    db_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings_for(db_url, tmp_path))

    @app.get("/boom")
    def _boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/boom")
    body = assert_problem(r, 500)
    assert "secret internals" not in r.text
    assert body["type"] == "https://narvik.dev/problems/internal"
    assert "secret internals" in caplog.text


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400"])
def test_non_finite_numbers_are_422(api: Api, number: bytes) -> None:
    sigma = api.token_for("sigma2")
    c = api.client
    for field, body in [
        ("gpus", b'{"gpus": %s, "runtime_s": 60}' % number),
        ("runtime_s", b'{"gpus": 1, "runtime_s": %s}' % number),
        ("estimate_s", b'{"gpus": 1, "runtime_s": 60, "estimate_s": %s}' % number),
    ]:
        r = c.post("/api/v1/jobs", content=body, headers={**sigma, **JSON})
        assert_problem(r, 422, field)
    tenant = b'{"name": "t1", "tier": "t", "jurisdiction": "NO", "fair_share_weight": %s}'
    r = c.post("/api/v1/tenants", content=tenant % number, headers={**api.op, **JSON})
    assert_problem(r, 422, "fair_share_weight")
    curtail = b'{"shed_mw": %s, "end": "2027-01-02T00:00:00Z"}' % number
    r = c.post("/api/v1/curtailments", content=curtail, headers={**api.op, **JSON})
    assert_problem(r, 422, "shed_mw")


def test_lone_surrogates_are_422(api: Api) -> None:
    sigma = api.token_for("sigma2")
    c = api.client
    bad = rb'"a\ud800b"'
    r = c.post(
        "/api/v1/jobs",
        content=b'{"gpus": 1, "runtime_s": 60, "name": ' + bad + b"}",
        headers={**sigma, **JSON},
    )
    assert_problem(r, 422, "name")
    tenant = b'{"name": ' + bad + b', "tier": "t", "jurisdiction": "NO"}'
    r = c.post("/api/v1/tenants", content=tenant, headers={**api.op, **JSON})
    assert_problem(r, 422, "name")
    token = b'{"role": "tenant", "tenant": ' + bad + b"}"
    r = c.post("/api/v1/tokens", content=token, headers={**api.op, **JSON})
    assert_problem(r, 422, "tenant")
    # Query strings, path parameters and header values cannot carry a surrogate (URLs are
    # decoded as UTF-8 with U+FFFD for bad bytes, headers as Latin-1): never a 500.
    for url in (
        "/api/v1/tenants/%ED%A0%80",
        "/api/v1/jobs?tenant=%ED%A0%80",
        "/api/v1/usage?tenant=%ED%A0%80",
    ):
        r = c.get(url, headers=api.op)
        assert r.status_code < 500, (url, r.text)
        if r.status_code >= 400:
            assert_problem(r, r.status_code)
    r = c.post(
        "/api/v1/jobs",
        json={"gpus": 1, "runtime_s": 60},
        headers={**sigma, "Idempotency-Key": b"key-\xed\xa0\x80"},
    )
    assert r.status_code < 500, r.text


def test_openapi_error_answers_are_problems(api: Api) -> None:
    doc = api.client.get("/openapi.json").json()
    op = doc["paths"]["/api/v1/jobs"]["post"]
    for code in ("401", "404", "422"):
        content = op["responses"][code]["content"]
        assert list(content) == [PROBLEM], content
        assert content[PROBLEM]["schema"]["$ref"].endswith("/ProblemOut")
    props = doc["components"]["schemas"]["ProblemOut"]["properties"]
    assert {"type", "title", "status", "detail", "field", "errors"} <= set(props)


def test_sqlite_database_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "private.db"
    old = os.umask(0o022)
    try:
        app = create_app(settings_for(f"sqlite:///{path}", tmp_path))
        with TestClient(app) as client:
            assert client.get("/healthz").status_code == 200
    finally:
        os.umask(old)
    for p in tmp_path.glob("private.db*"):
        assert p.stat().st_mode & 0o777 == 0o600, (p, oct(p.stat().st_mode))
    assert path.exists()
