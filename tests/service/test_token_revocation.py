"""Revocation across replicas: two apps (two ``narvik serve``) on one database, on both databases.

A token revoked on replica A is refused by replica B within ``CACHE_TTL_S`` (B answers
known tokens from memory until then), and can never mint or revoke a token on B, not
even within that bound: those writes re-read the caller's token in their transaction.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, update
from tests.service.conftest import OPERATOR, settings_for

from narvik.service.api.app import context_of, create_app
from narvik.service.api.auth import CACHE_TTL_S, Principal, TokenCache
from narvik.service.api.context import ServiceContext
from narvik.service.api.deps import get_principal
from narvik.service.tables import TokenRow

OP = {"Authorization": f"Bearer {OPERATOR}"}
TENANT = "sigma2"


def ok(r: Any, status: int = 200) -> Any:
    assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
    return r.json()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


class Replicas:
    def __init__(self, a: TestClient, b: TestClient, ctx_a: ServiceContext, ctx_b: ServiceContext):
        self.a, self.b, self.ctx_a, self.ctx_b = a, b, ctx_a, ctx_b

    def mint(self, role: str, tenant: str | None = None) -> tuple[int, dict[str, str]]:
        """A new token, issued on replica A by the settings' operator."""
        body = {"role": role, "tenant": tenant, "label": f"{role} for the test"}
        made = ok(self.a.post("/api/v1/tokens", json=body, headers=OP), 201)
        return made["id"], bearer(made["token"])

    def token_count(self) -> int:
        with self.ctx_a.db.read() as session:
            return int(session.scalar(select(func.count()).select_from(TokenRow)) or 0)


@pytest.fixture
def replicas(db_url: str, tmp_path: Path) -> Iterator[Replicas]:
    """Two replicas on the same database (for SQLite, the same file), neither scheduling."""
    app_a = create_app(settings_for(db_url, tmp_path, scheduler=False, replica_name="a"))
    app_b = create_app(settings_for(db_url, tmp_path, scheduler=False, replica_name="b"))
    with TestClient(app_a) as a, TestClient(app_b) as b:
        yield Replicas(a, b, context_of(app_a), context_of(app_b))


def test_revoked_on_a_is_refused_on_b_within_the_bound(replicas: Replicas) -> None:
    r = replicas
    op_id, op_token = r.mint("operator")
    tenant_id, tenant_token = r.mint("tenant", TENANT)
    # B learns both tokens: from now on it answers them from memory.
    ok(r.b.get("/api/v1/tokens", headers=op_token))
    ok(r.b.get("/api/v1/jobs", headers=tenant_token))
    ok(r.b.post("/api/v1/jobs", json={"gpus": 1, "runtime_s": 60}, headers=tenant_token), 201)

    ok(r.a.post(f"/api/v1/tokens/{op_id}/revoke", headers=OP))
    ok(r.a.post(f"/api/v1/tokens/{tenant_id}/revoke", headers=OP))
    revoked_at = time.monotonic()
    # On A (where the revoke ran) at once; on B within the bound.
    assert r.a.get("/api/v1/tokens", headers=op_token).status_code == 401
    # A probe B accepts must have started within the bound: B checked the token after the
    # probe started, from an entry read before the revoke and kept for CACHE_TTL_S at most.
    refused: dict[str, float] = {}
    late: dict[str, float] = {}
    while len(refused) < 3 and time.monotonic() - revoked_at < CACHE_TTL_S + 10:
        probes = {
            "operator read": lambda: r.b.get("/api/v1/tokens", headers=op_token),
            "tenant read": lambda: r.b.get("/api/v1/jobs", headers=tenant_token),
            "tenant submit": lambda: r.b.post(
                "/api/v1/jobs", json={"gpus": 1, "runtime_s": 60}, headers=tenant_token
            ),
        }
        for name, probe in probes.items():
            if name in refused:
                continue
            started = time.monotonic() - revoked_at
            resp = probe()
            assert resp.status_code in (200, 201, 401), resp.text
            if resp.status_code == 401:
                refused[name] = started
                assert "revoked" in resp.json()["detail"]
            elif started >= CACHE_TTL_S:
                late[name] = started
        time.sleep(0.05)
    assert not late, f"B accepted a revoked token beyond the bound of {CACHE_TTL_S} s: {late}"
    assert len(refused) == 3, f"still accepted on B long after the bound: {refused}"
    # And ever after.
    time.sleep(0.1)
    assert r.b.get("/api/v1/tokens", headers=op_token).status_code == 401
    assert r.b.get("/api/v1/jobs", headers=tenant_token).status_code == 401


def test_revoked_token_never_mints_on_b_even_while_cached(replicas: Replicas) -> None:
    r = replicas
    # B trusts its memory for an hour: the writes below must not rely on it.
    r.ctx_b.tokens.ttl_s = 3600
    op_id, op_token = r.mint("operator")
    victim_id, _ = r.mint("tenant", TENANT)
    ok(r.b.get("/api/v1/tokens", headers=op_token))  # B caches the operator token
    ok(r.a.post(f"/api/v1/tokens/{op_id}/revoke", headers=OP))
    before = r.token_count()

    # Reads on B may still be answered from memory (within its bound) ...
    ok(r.b.get("/api/v1/tokens", headers=op_token))
    # ... but minting and revoking re-check the token in their transaction.
    for body in ({"role": "operator"}, {"role": "tenant", "tenant": TENANT}):
        resp = r.b.post("/api/v1/tokens", json=body, headers=op_token)
        assert resp.status_code == 401, resp.text
        assert "revoked" in resp.json()["detail"]
    resp = r.b.post(f"/api/v1/tokens/{victim_id}/revoke", headers=op_token)
    assert resp.status_code == 401, resp.text
    assert r.token_count() == before
    # Nor any other operator write: tenants, quotas, curtailments.
    writes = [
        ("post", "/api/v1/tenants", {"name": "rogue", "tier": "commercial", "jurisdiction": "NO"}),
        ("put", f"/api/v1/tenants/{TENANT}/quota", {"quota": []}),
        ("post", "/api/v1/curtailments", {"shed_mw": 1, "end": "2099-01-01T00:00:00Z"}),
        ("post", "/api/v1/curtailments/1/lift", None),
    ]
    for method, path, body in writes:
        resp = getattr(r.b, method)(path, json=body, headers=op_token)
        assert resp.status_code == 401, (path, resp.text)
    names = {t["name"] for t in ok(r.a.get("/api/v1/tenants", headers=OP))}
    assert "rogue" not in names
    assert ok(r.a.get("/api/v1/curtailments", headers=OP)) == []
    listed = {t["id"]: t for t in ok(r.a.get("/api/v1/tokens", headers=OP))}
    assert listed[victim_id]["revoked"] is False
    # A live operator token still mints on B.
    ok(r.b.post("/api/v1/tokens", json={"role": "operator"}, headers=OP), 201)


def test_a_revoke_racing_a_mint_wins_or_waits(replicas: Replicas) -> None:
    """A mint on B while A's revoke of the caller's token is uncommitted waits for it
    (PostgreSQL: the row lock; SQLite: the one writer), then sees it and refuses."""
    r = replicas
    r.ctx_b.tokens.ttl_s = 3600
    op_id, op_token = r.mint("operator")
    ok(r.b.get("/api/v1/tokens", headers=op_token))
    before = r.token_count()
    answers: list[Any] = []
    minting = threading.Thread(
        target=lambda: answers.append(
            r.b.post("/api/v1/tokens", json={"role": "operator"}, headers=op_token)
        )
    )
    with r.ctx_a.db.write() as session:
        session.execute(update(TokenRow).where(TokenRow.id == op_id).values(revoked=True))
        session.flush()
        minting.start()
        time.sleep(0.5)
        assert minting.is_alive(), f"the mint did not wait for the revoke: {answers}"
    minting.join(timeout=60)
    assert answers and answers[0].status_code == 401, answers and answers[0].text
    assert r.token_count() == before


def test_known_tokens_are_answered_from_memory(replicas: Replicas) -> None:
    """The hot path: a token checked within the bound costs no database statement."""
    r = replicas
    _, tenant_token = r.mint("tenant", TENANT)
    ctx = r.ctx_b
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    who = asyncio.run(get_principal(ctx, tenant_token["Authorization"]))
    assert who.tenant_name == TENANT and who.token_id is not None
    event.listen(ctx.db.engine, "before_cursor_execute", count)
    try:
        for _ in range(100):
            assert asyncio.run(get_principal(ctx, tenant_token["Authorization"])) == who
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", count)
    assert statements == []


def test_cache_entries_expire_after_the_bound() -> None:
    """An entry is dropped ``ttl_s`` after the read that made it (a fake clock)."""
    now = [100.0]
    cache = TokenCache(ttl_s=1.5, clock=lambda: now[0])
    who = Principal("tenant", 1, TENANT, None)
    cache.remember("Bearer x.y.z", who, 60)
    assert cache.resolve_cached("Bearer x.y.z") == who
    now[0] += 1.4
    assert cache.resolve_cached("Bearer x.y.z") == who
    now[0] += 0.2
    with pytest.raises(KeyError):
        cache.resolve_cached("Bearer x.y.z")
    cache.remember("Bearer a.b.c", who, 0.5)  # a JWT that lapses sooner than the bound
    now[0] += 0.6
    with pytest.raises(KeyError):
        cache.resolve_cached("Bearer a.b.c")
