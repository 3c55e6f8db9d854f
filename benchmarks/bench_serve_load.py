"""Sustained job submissions against `narvik serve` on loopback, on SQLite and on PostgreSQL.

Starts a real server (uvicorn, one process) on the default site (100,224 GPUs, the
stargate-norway tenancy, clock at 2027-01-02 so the quotas are in force), makes
tenant tokens, then runs an aiohttp load generator in this process for a fixed
time: ``--concurrency`` clients in a closed loop, each POST /api/v1/jobs with a
fresh Idempotency-Key (1-8 GPUs, 2-20 minutes). The scheduler passes run as in
production (every second) and start the jobs meanwhile. Prints sustained
submissions per second, latency percentiles and the error count; asserts nothing.

Run: .venv/bin/python benchmarks/bench_serve_load.py [--seconds 20] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp
import numpy as np
import psycopg

from narvik.service.launch import ServerProcess

OPERATOR = "bench-operator-secret"
PG_ADMIN = os.environ.get("NARVIK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
EXTRA_ENV: dict[str, str] = {}
TENANTS = ["openai", "sigma2", "no-startups", "uk-public", "nordic-private"]


def _post(url: str, body: dict[str, object], token: str) -> dict[str, object]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def _get(url: str, token: str) -> str:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read().decode()


async def _load(
    url: str, tokens: list[str], seconds: float, concurrency: int, warmup_s: float
) -> tuple[list[float], dict[int, int], float]:
    latencies: list[float] = []
    codes: dict[int, int] = {}
    rng = random.Random(7)
    t_start = time.perf_counter()
    t_measure = t_start + warmup_s
    t_end = t_measure + seconds
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client(k: int) -> None:
            token = tokens[k % len(tokens)]
            headers = {"Authorization": f"Bearer {token}"}
            while True:
                now = time.perf_counter()
                if now >= t_end:
                    return
                body = {"gpus": rng.choice([1, 1, 2, 4, 8]), "runtime_s": rng.uniform(120, 1200)}
                h = {**headers, "Idempotency-Key": uuid.uuid4().hex}
                t0 = time.perf_counter()
                async with session.post(f"{url}/api/v1/jobs", json=body, headers=h) as r:
                    await r.read()
                    status = r.status
                t1 = time.perf_counter()
                if t0 >= t_measure:
                    latencies.append(t1 - t0)
                    codes[status] = codes.get(status, 0) + 1

        await asyncio.gather(*(client(k) for k in range(concurrency)))
    return latencies, codes, seconds


@contextmanager
def bench_database(db: str, tmp: Path) -> Iterator[str]:
    """A fresh database's URL: a new SQLite file in ``tmp``, or a new PostgreSQL database
    dropped afterwards."""
    if db == "sqlite":
        yield f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        return
    pg_name = f"narvik_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{pg_name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{pg_name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')


def tenant_tokens(url: str) -> list[str]:
    """A token for each of :data:`TENANTS`, made by the operator."""
    return [
        str(_post(f"{url}/api/v1/tokens", {"role": "tenant", "tenant": t}, OPERATOR)["token"])
        for t in TENANTS
    ]


def run(db: str, seconds: float, concurrency: int, tmp: Path) -> None:
    with bench_database(db, tmp) as url:
        server = ServerProcess(
            ["--db", url, "--clock-start", "2027-01-02T12:00:00"],
            cwd=tmp,
            env={"NARVIK_OPERATOR_TOKEN": OPERATOR, **EXTRA_ENV},
        )
        with server:
            tokens = tenant_tokens(server.url)
            lat, codes, span = asyncio.run(_load(server.url, tokens, seconds, concurrency, 2.0))
            fleet = json.loads(_get(f"{server.url}/api/v1/fleet", OPERATOR))
            metrics = _get(f"{server.url}/metrics", OPERATOR)
    ok = codes.get(201, 0)
    a = np.array(lat) * 1000
    passes = [ln for ln in metrics.splitlines() if ln.startswith("narvik_pass_duration_seconds_")]
    count = next(float(x.split()[-1]) for x in passes if "_count" in x)
    total = next(float(x.split()[-1]) for x in passes if "_sum" in x)
    print(
        f"{db:<10} {ok / span:>9,.0f} submissions/s   p50 {np.percentile(a, 50):5.1f} ms   "
        f"p99 {np.percentile(a, 99):5.1f} ms   max {a.max():6.1f} ms   "
        f"non-201: {sum(v for k, v in codes.items() if k != 201)}   "
        f"running after: {fleet['running_jobs']:,} jobs, {fleet['busy_gpus']:,} GPUs   "
        f"passes: {count:.0f}, mean {1000 * total / max(count, 1):.0f} ms"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    args = p.parse_args()
    print(
        f"narvik serve load: {args.concurrency} closed-loop clients, {args.seconds:g} s measured "
        f"after 2 s warm-up; {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    with tempfile.TemporaryDirectory() as tmp:
        for db in dbs:
            run(db, args.seconds, args.concurrency, Path(tmp))


if __name__ == "__main__":
    main()
