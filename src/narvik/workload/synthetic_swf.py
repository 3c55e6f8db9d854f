"""Seeded synthetic parallel-job traces, for benchmarks and tests.

A deliberately simple generator in the spirit of the statistical workload
models of the Parallel Workloads Archive (e.g. Lublin and Feitelson, JPDC 63(11),
2003): job sizes are mostly small powers of two with a heavy tail of large
jobs, run times are lognormal, users overestimate their run time by a random
factor (requested = runtime x factor >= 1, as in Mu'alem and Feitelson 2001),
and arrivals are a Poisson process whose rate is set so that the offered load,
``sum(gpus * runtime) / (n_slots * span)``, matches ``load``. All times are
whole seconds, as in SWF. Same arguments and seed: the same trace, bit for bit.
"""

from __future__ import annotations

import os

import numpy as np

from narvik.workload.job import DEFAULT_TIER, JobTable
from narvik.workload.swf import write_swf


def synthetic_jobs(
    n_jobs: int,
    n_slots: int,
    *,
    load: float = 0.9,
    seed: int = 0,
    max_gpus: int | None = None,
    median_runtime_s: float = 600.0,
    runtime_sigma: float = 1.6,
    max_runtime_s: float = 7 * 86400.0,
    n_users: int = 100,
) -> JobTable:
    """Generate ``n_jobs`` jobs for a pool of ``n_slots`` GPU slots at offered ``load``.

    Sizes: half the jobs use 1 GPU; the rest ``2**k`` GPUs with ``P(k) ~ 0.55**k``,
    ``1 <= 2**k <= max_gpus`` (default ``n_slots // 4``), and one in ten of those
    a uniform size up to ``2**k`` ("power-of-two-ish"). Run times: lognormal
    (median ``median_runtime_s``, log-sigma ``runtime_sigma``), 1 s to
    ``max_runtime_s``. Requested time: ``ceil(runtime * (1 + Exp(1.5)))``.
    """
    if n_jobs < 0 or n_slots <= 0 or not load > 0:
        raise ValueError("need n_jobs >= 0, n_slots > 0 and load > 0")
    rng = np.random.default_rng(seed)
    top = max(1, min(n_slots, max_gpus if max_gpus is not None else max(1, n_slots // 4)))
    kmax = int(np.floor(np.log2(top)))
    ks = np.arange(1, kmax + 1)
    big = rng.random(n_jobs) >= 0.5
    gpus = np.ones(n_jobs, dtype=np.int64)
    if kmax >= 1:
        p = 0.55**ks
        k = rng.choice(ks, size=n_jobs, p=p / p.sum())
        size = 2**k
        odd = rng.random(n_jobs) < 0.1
        size = np.where(odd, 1 + np.floor(rng.random(n_jobs) * size).astype(np.int64), size)
        gpus = np.where(big, size, 1).astype(np.int64)
    runtime = np.ceil(rng.lognormal(np.log(median_runtime_s), runtime_sigma, n_jobs))
    runtime = np.clip(runtime, 1.0, max_runtime_s)
    requested = np.ceil(runtime * (1.0 + rng.exponential(1.5, n_jobs)))
    work = float(np.sum(gpus * runtime))
    span_s = work / (load * n_slots)
    gaps = rng.exponential(span_s / max(n_jobs, 1), n_jobs)
    submit = np.floor(np.cumsum(gaps))
    users = np.minimum(rng.zipf(1.5, n_jobs), n_users)
    job_id = np.empty(n_jobs, dtype=object)
    job_id[:] = [str(i) for i in range(1, n_jobs + 1)]
    names = np.array([f"user-{u}" for u in range(n_users + 1)], dtype=object)
    tier = np.empty(n_jobs, dtype=object)
    tier[:] = DEFAULT_TIER
    return JobTable(
        job_id=job_id,
        tenant=names[users],
        tier=tier,
        gpus=gpus,
        submit_s=submit,
        runtime_s=runtime,
        requested_s=requested,
    )


def write_synthetic_swf(
    path: str | os.PathLike[str], n_jobs: int, n_slots: int, *, load: float = 0.9, seed: int = 0
) -> JobTable:
    """Generate a trace with :func:`synthetic_jobs` and write it as SWF (atomically)."""
    jobs = synthetic_jobs(n_jobs, n_slots, load=load, seed=seed)
    write_swf(
        jobs,
        path,
        header={
            "MaxJobs": n_jobs,
            "MaxProcs": n_slots,
            "Note": f"narvik synthetic trace, load {load}, seed {seed}",
        },
    )
    return jobs
