"""One scheduling pass of `narvik serve` at full scale, on SQLite and on PostgreSQL.

Builds the control plane of the default site (100,224 GPUs, stargate-norway tenancy,
service clock at 2027-01-02 12:00 UTC) on a fresh database, commits 20,000 queued jobs
of five tenants (1-8 GPUs, 10 min to a day) through the submission batcher, then times
the first pass (it loads the mirror from the database) and the passes after it, each a
minute of service time later (each starts up to `backfill_depth` jobs per tenant, so the
fleet fills pass by pass). Prints the figures; asserts nothing.

Run: .venv/bin/python benchmarks/bench_serve_pass.py [--jobs 20000] [--passes 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import psycopg

from narvik.service.api.context import build_context
from narvik.service.api.queries.jobs import new_job
from narvik.service.api.schemas import JobIn
from narvik.service.settings import ServiceSettings

PG_ADMIN = os.environ.get("NARVIK_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
TENANTS = ["openai", "sigma2", "no-startups", "uk-public", "nordic-private"]


def run(db: str, url: str, tmp: Path, n_jobs: int, n_passes: int) -> None:
    settings = ServiceSettings(
        db_url=url,
        clock_start=dt.datetime(2027, 1, 2, 12, tzinfo=dt.UTC),
        operator_token="bench",
        scheduler=False,
        token_file=tmp / "token",
    )
    ctx = build_context(settings)
    rng = random.Random(1)
    t0 = time.perf_counter()
    for _ in range(n_jobs // 500):
        batch = []
        for _ in range(500):
            tenant = ctx.tenants.by_name(rng.choice(TENANTS))
            data = JobIn(gpus=rng.choice([1, 2, 4, 8]), runtime_s=rng.uniform(600, 86_400))
            batch.append(new_job(tenant, data, uuid.uuid4().hex, ctx.now_s()))
        ctx.batcher._write(batch)  # the jobs and their news, as the API commits them
    submit_s = time.perf_counter() - t0
    ctx.scheduler.pool = None  # the first pass loads the pool from the database
    t0 = time.perf_counter()
    first = ctx.run_pass()
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(n_passes):
        ctx.clock.origin_s += 60
        t0 = time.perf_counter()
        report = ctx.run_pass()
        times.append(time.perf_counter() - t0)
    ms = np.array(times) * 1000
    print(
        f"{db:<10} {n_jobs:,} jobs committed in {submit_s:.2f} s "
        f"({n_jobs / submit_s:,.0f}/s in batches of 500); first pass (load) "
        f"{1000 * first_s:.0f} ms, started {first.started}; next passes p50 "
        f"{np.percentile(ms, 50):.1f} ms, max {ms.max():.1f} ms, {report.started} starts "
        f"each; after: {report.busy_gpus:,} GPUs busy, {report.queued_jobs:,} queued"
    )
    ctx.db.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--jobs", type=int, default=20_000)
    p.add_argument("--passes", type=int, default=10)
    args = p.parse_args()
    print(
        f"narvik serve pass: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        run("sqlite", f"sqlite:///{tmp}/pass.db", Path(tmp), args.jobs, args.passes)
        name = f"narvik_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
            run("postgresql", url, Path(tmp), args.jobs, args.passes)
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
