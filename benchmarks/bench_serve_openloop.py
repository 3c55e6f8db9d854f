"""Open-loop load on `narvik serve`: a fixed arrival rate, latency from the intended send time.

A closed-loop client waits for each answer before it sends again, so a slow server
slows the load and hides its own tail (coordinated omission). Here job submissions
arrive on a fixed schedule, ``rate`` a second, whatever the server does: request i is
due at ``t0 + i / rate`` and its latency is measured from that instant, so time spent
queued in the client (a connection busy, the server slow to accept) counts. The
generator runs in its own process (aiohttp), the server in another; the scheduler
passes run as in production (every second; 0.1 s apart while a backlog is started).

Layouts (``--layout``):
- ``single``: one `narvik serve` process: API and scheduler (a thread) share one
  interpreter;
- ``split``: an API replica (``NARVIK_SCHEDULER=false``) and a second replica that holds
  the scheduler lease, each its own process on the same database: the pass runs beside the
  API, not inside it.

Prints, per rate: achieved rate, p50 / p99 / p99.9 / max latency, errors, and how late the
generator itself was (if it cannot keep the schedule, the figures say so); asserts nothing.

Run: .venv/bin/python benchmarks/bench_serve_openloop.py --db sqlite --rates 500,1000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import numpy as np

# the operator, tenants, database and helper of the closed-loop benchmark (benchmarks/ is
# on the path when a script in it runs)
from bench_serve_load import OPERATOR, bench_database, tenant_tokens
from narvik.service.launch import ServerProcess

WARMUP_S = 2.0


@dataclass
class Result:
    rate: float
    sent: int
    latencies_s: list[float]
    codes: dict[int, int]
    errors: int
    send_lag_s: list[float]
    span_s: float


async def open_loop(url: str, tokens: list[str], rate: float, seconds: float) -> Result:
    """Send ``rate`` submissions a second for ``WARMUP_S + seconds``; measure the last
    ``seconds``. Each request is its own task, started at its due time."""
    rng = random.Random(11)
    n = int((WARMUP_S + seconds) * rate)
    latencies: list[float] = []
    lags: list[float] = []
    codes: dict[int, int] = {}
    errors = 0
    connector = aiohttp.TCPConnector(limit=512, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        t0 = time.perf_counter() + 0.2

        async def one(i: int, due: float, body: dict[str, object], token: str) -> None:
            nonlocal errors
            lag = time.perf_counter() - due
            h = {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}
            try:
                async with session.post(f"{url}/api/v1/jobs", json=body, headers=h) as r:
                    await r.read()
                    status = r.status
            except (TimeoutError, aiohttp.ClientError):
                if due - t0 >= WARMUP_S:
                    errors += 1
                return
            if due - t0 >= WARMUP_S:
                latencies.append(time.perf_counter() - due)
                lags.append(lag)
                codes[status] = codes.get(status, 0) + 1

        tasks = []
        for i in range(n):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = {"gpus": rng.choice([1, 1, 2, 4, 8]), "runtime_s": rng.uniform(120, 1200)}
            tasks.append(asyncio.create_task(one(i, due, body, tokens[i % len(tokens)])))
        await asyncio.gather(*tasks)
    return Result(rate, n, latencies, codes, errors, lags, seconds)


def servers_for(layout: str, url: str, tmp: Path) -> list[ServerProcess]:
    args = ["--db", url, "--clock-start", "2027-01-02T12:00:00"]
    env = {"NARVIK_OPERATOR_TOKEN": OPERATOR}
    if layout == "single":
        return [ServerProcess(args, cwd=tmp, env=env)]
    return [
        ServerProcess(args, cwd=tmp, env={**env, "NARVIK_REPLICA_NAME": "scheduler"}),
        ServerProcess(
            args, cwd=tmp, env={**env, "NARVIK_SCHEDULER": "false", "NARVIK_REPLICA_NAME": "api"}
        ),
    ]


def run(db: str, layout: str, rate: float, seconds: float, tmp: Path) -> Result:
    with bench_database(db, tmp) as url:
        servers = servers_for(layout, url, tmp)
        try:
            for s in servers:
                s.start()
            api = servers[-1]
            return asyncio.run(open_loop(api.url, tenant_tokens(api.url), rate, seconds))
        finally:
            for s in servers:
                s.stop()


def report(db: str, layout: str, r: Result) -> None:
    a = np.array(r.latencies_s) * 1000 if r.latencies_s else np.array([np.nan])
    lag = np.array(r.send_lag_s) * 1000 if r.send_lag_s else np.array([np.nan])
    ok = r.codes.get(201, 0)
    other = sum(v for k, v in r.codes.items() if k != 201) + r.errors
    print(
        f"{db:<10} {layout:<6} offered {r.rate:>6,.0f}/s  achieved {ok / r.span_s:>6,.0f}/s  "
        f"p50 {np.percentile(a, 50):6.1f} ms  p99 {np.percentile(a, 99):6.1f} ms  "
        f"p99.9 {np.percentile(a, 99.9):6.1f} ms  max {a.max():7.1f} ms  "
        f"non-201 {other}  generator lag p99 {np.percentile(lag, 99):5.1f} ms",
        flush=True,
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--rates", default="500,1000", help="comma-separated submissions/s")
    p.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    p.add_argument("--layout", choices=["single", "split", "both"], default="both")
    args = p.parse_args()
    print(
        f"narvik serve open-loop: {args.seconds:g} s measured after {WARMUP_S:g} s warm-up; "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    layouts = ["single", "split"] if args.layout == "both" else [args.layout]
    with tempfile.TemporaryDirectory() as tmp:
        for db in dbs:
            for layout in layouts:
                for rate in (float(x) for x in args.rates.split(",")):
                    report(db, layout, run(db, layout, rate, args.seconds, Path(tmp)))


if __name__ == "__main__":
    main()
