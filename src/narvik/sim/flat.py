"""Trace replay on ``flat:N``: a bare pool of N interchangeable GPU slots.

Rules (ARCHITECTURE.md): at one instant all job ends are processed first, then
all arrivals in trace order, then one scheduling pass; a job runs exactly its
``runtime_s`` (never killed at its estimate); a job asking for more than N GPUs
is rejected on arrival. Policies: ``fcfs`` and ``easy`` (Mu'alem and Feitelson,
IEEE TPDS 12(6), 2001), see :mod:`narvik.sched.fcfs` and :mod:`narvik.sched.easy`.

Two implementations with identical results:

* :func:`simulate_flat` with a policy *name* runs the fast path: tight loops
  over Python lists, a heap of distinct end times, no per-job or per-event
  objects. EASY keeps the running jobs' estimated ends in a sorted list of
  distinct times (with the GPUs ending at each), so the shadow time is a short
  walk from the front, and it reuses the reservation between passes when no job
  ended and the shadow time is not yet reached: then nothing that waited can
  start, and only the jobs that just arrived are tried (the proof is in
  :func:`_run_easy`).
* :func:`simulate_flat` with a :class:`~narvik.sched.protocol.Policy` *object* runs
  the generic path: the DES kernel (:mod:`narvik.sim.kernel`) and a full
  :class:`~narvik.sched.protocol.Snapshot` per pass. Slow; for new policies and
  for checking the fast path.

The time series has one row per event instant (and one at ``until_s``), giving
the GPUs busy after that instant's scheduling pass; busy GPUs are constant
until the next row.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from heapq import heappop, heappush

import numpy as np
from numpy.typing import NDArray

from narvik.sched.protocol import Policy, QueuedJob, RunningJob, Snapshot
from narvik.sched.registry import TENANCY_POLICIES, get_policy
from narvik.sim.kernel import ORDER_ARRIVAL, ORDER_END, ORDER_SCHEDULE, Kernel
from narvik.workload.job import JobTable

STATES = ("completed", "running", "pending", "cancelled", "rejected")
COMPLETED, RUNNING, PENDING, CANCELLED, REJECTED = range(5)


class JobStates:
    """Shared by every schedule result: ``state`` codes into :data:`STATES`, as text and counts."""

    state: NDArray[np.int8]

    def state_names(self) -> NDArray[np.object_]:
        """``state`` as text (``completed``, ``running``, ``pending``, ``cancelled``, ...)."""
        return np.array(STATES, dtype=object)[self.state]

    def state_counts(self) -> dict[str, int]:
        """Number of jobs in each state (every state listed, zeros included)."""
        counts = np.bincount(self.state, minlength=len(STATES))
        return {name: int(c) for name, c in zip(STATES, counts, strict=True)}


@dataclass(frozen=True, eq=False)
class FlatResult(JobStates):
    """Outcome of a flat-pool replay: per-job arrays aligned with ``jobs``, and a time series.

    ``start_s``/``end_s`` are NaN when the job never started / had not ended at
    ``until_s``. ``state`` holds codes into :data:`STATES`.
    """

    jobs: JobTable
    n_gpus: int
    policy: str
    start_s: NDArray[np.float64]
    end_s: NDArray[np.float64]
    state: NDArray[np.int8]
    preemptions: NDArray[np.int64]
    t_s: NDArray[np.float64]
    gpus_busy: NDArray[np.int64]
    until_s: float | None = None


def simulate_flat(
    jobs: JobTable,
    n_gpus: int,
    policy: str | Policy = "fcfs",
    *,
    until_s: float | None = None,
    progress: Callable[[float], None] | None = None,
) -> FlatResult:
    """Replay ``jobs`` on ``n_gpus`` slots under ``policy`` (``"fcfs"``, ``"easy"`` or a Policy).

    With ``until_s`` the replay stops after the instant ``until_s``: jobs
    submitted later are dropped from the result, jobs still running are
    ``running`` (no ``end_s``), jobs still waiting are ``pending``.
    ``progress(t_s)``, when given, is called with the simulated time every
    65,536 event instants (fast paths only).
    """
    if n_gpus <= 0:
        raise ValueError(f"n_gpus must be positive, got {n_gpus}")
    if until_s is not None:
        jobs = jobs.take(jobs.submit_s <= until_s)
    order = np.argsort(jobs.submit_s, kind="stable")
    sub = jobs.submit_s[order].tolist()
    g = jobs.gpus[order].tolist()
    rt = jobs.runtime_s[order].tolist()
    est = jobs.estimate_s()[order].tolist()
    horizon = math.inf if until_s is None else float(until_s)
    if isinstance(policy, str):
        name = policy
        if name == "fcfs":
            start, ts, busy = _run_fcfs(sub, g, rt, n_gpus, horizon, progress)
        elif name == "easy":
            start, ts, busy = _run_easy(sub, g, rt, est, n_gpus, horizon, progress)
        elif name in TENANCY_POLICIES:
            raise ValueError(f"policy {name!r} runs in narvik.sim.tenancy_sim, not on a flat pool")
        else:
            name, pol = policy, get_policy(policy)  # raises on unknown names
            start, ts, busy = _run_generic(sub, g, rt, est, n_gpus, horizon, pol)
    else:
        name = policy.name
        start, ts, busy = _run_generic(sub, g, rt, est, n_gpus, horizon, policy)
    return _result(jobs, order, n_gpus, name, start, ts, busy, until_s)


def _result(jobs, order, n_gpus, name, start, ts, busy, until_s) -> FlatResult:  # type: ignore[no-untyped-def]
    n = len(jobs)
    start_s = np.empty(n)
    start_s[order] = np.asarray(start, dtype=np.float64)
    end_s = start_s + jobs.runtime_s
    state = np.full(n, COMPLETED, dtype=np.int8)
    not_started = np.isnan(start_s)
    state[not_started] = PENDING
    state[not_started & (jobs.gpus > n_gpus)] = REJECTED
    if until_s is not None:
        running = ~not_started & (end_s > until_s)
        state[running] = RUNNING
        end_s[running] = np.nan
        if not ts or ts[-1] < until_s:
            ts.append(float(until_s))
            busy.append(busy[-1] if busy else 0)
    return FlatResult(
        jobs=jobs,
        n_gpus=n_gpus,
        policy=name,
        start_s=start_s,
        end_s=end_s,
        state=state,
        preemptions=np.zeros(n, dtype=np.int64),
        t_s=np.asarray(ts, dtype=np.float64),
        gpus_busy=np.asarray(busy, dtype=np.int64),
        until_s=until_s,
    )


def _run_fcfs(  # type: ignore[no-untyped-def]
    sub: list[float],
    g: list[int],
    rt: list[float],
    n_gpus: int,
    horizon: float,
    progress: Callable[[float], None] | None = None,
):
    """Strict FCFS. Inputs are in queue (submit, trace) order; returns starts and the series."""
    n = len(sub)
    inf = math.inf
    start = [math.nan] * n
    ends: list[float] = []  # heap of distinct end times
    freeing: dict[float, int] = {}  # end time -> GPUs released then
    queue: deque[int] = deque()
    append, popleft = queue.append, queue.popleft
    ts: list[float] = []
    busy: list[int] = []
    ts_append, busy_append = ts.append, busy.append
    free = n_gpus
    i = 0
    tick = 0
    next_sub = sub[0] if n else inf
    while True:
        if ends:
            t = ends[0]
            if next_sub < t:
                t = next_sub
        elif next_sub < inf:
            t = next_sub
        else:
            break
        if t > horizon:
            break
        tick += 1
        if not tick & 0xFFFF and progress is not None:
            progress(t)
        if ends and ends[0] == t:
            heappop(ends)
            free += freeing.pop(t)
        while next_sub == t:
            if g[i] <= n_gpus:
                append(i)
            i += 1
            next_sub = sub[i] if i < n else inf
        while queue:
            j = queue[0]
            gj = g[j]
            if gj > free:
                break
            popleft()
            free -= gj
            start[j] = t
            e = t + rt[j]
            if e in freeing:
                freeing[e] += gj
            else:
                freeing[e] = gj
                heappush(ends, e)
        ts_append(t)
        busy_append(n_gpus - free)
    return start, ts, busy


def _run_easy(  # type: ignore[no-untyped-def]
    sub: list[float],
    g: list[int],
    rt: list[float],
    est: list[float],
    n_gpus: int,
    horizon: float,
    progress: Callable[[float], None] | None = None,
):
    """EASY backfilling (see :mod:`narvik.sched.easy` for the rules).

    Reuse of the reservation: suppose the last pass left head ``h`` waiting with
    shadow time S and extra X (after its backfills), and since then only
    arrivals happened (no end), and now t <= S. Then free GPUs F are unchanged,
    the running set is the one the last pass left, and recomputing gives the
    same S and X: jobs started by the last pass ended (by estimate) by S or were
    paid from X. Any job that waited through the last pass failed because it
    did not fit in F, or because it ended after S and needed more than X; with
    t later, both still hold. So only the new arrivals need to be tried, in
    order, against (F, S, X). If an end happened, or t > S (estimates overran),
    a full pass is made.
    """
    n = len(sub)
    inf = math.inf
    start = [math.nan] * n
    est_end = [0.0] * n
    ends: list[float] = []  # heap of distinct actual end times
    ending: dict[float, list[int]] = {}  # actual end time -> jobs
    est_keys: list[float] = []  # sorted distinct estimated ends of running jobs
    est_gpus: dict[float, int] = {}  # estimated end -> GPUs of running jobs
    queue: list[int] = []
    ts: list[float] = []
    busy: list[int] = []
    ts_append, busy_append = ts.append, busy.append
    free = n_gpus
    i = 0
    tick = 0
    next_sub = sub[0] if n else inf
    valid = False  # reservation (shadow, extra) valid for the current head
    shadow = 0.0
    extra = 0

    def launch(j: int, t: float) -> None:
        start[j] = t
        e = t + rt[j]
        if e in ending:
            ending[e].append(j)
        else:
            ending[e] = [j]
            heappush(ends, e)
        e = t + est[j]
        est_end[j] = e
        if e in est_gpus:
            est_gpus[e] += g[j]
        else:
            est_gpus[e] = g[j]
            insort(est_keys, e)

    while True:
        if ends:
            t = ends[0]
            if next_sub < t:
                t = next_sub
        elif next_sub < inf:
            t = next_sub
        else:
            break
        if t > horizon:
            break
        tick += 1
        if not tick & 0xFFFF and progress is not None:
            progress(t)
        if ends and ends[0] == t:
            heappop(ends)
            for j in ending.pop(t):
                gj = g[j]
                free += gj
                k = est_end[j]
                c = est_gpus[k] - gj
                if c:
                    est_gpus[k] = c
                else:
                    del est_gpus[k]
                    del est_keys[bisect_left(est_keys, k)]
            valid = False
        first_new = len(queue)
        while next_sub == t:
            if g[i] <= n_gpus:
                queue.append(i)
            i += 1
            next_sub = sub[i] if i < n else inf

        if valid and first_new > 0 and t <= shadow:
            # Reservation still holds: try only the new arrivals (see docstring).
            first = first_new
        elif queue:
            # Full pass. 1: queue order while jobs fit.
            k = 0
            nq = len(queue)
            while k < nq and g[queue[k]] <= free:
                j = queue[k]
                free -= g[j]
                launch(j, t)
                k += 1
            if k:
                del queue[:k]
            valid = False
            first = 1
            if queue and free > 0:
                # 2: reservation for the head: the shadow time and the extra GPUs.
                need = g[queue[0]]
                avail = free
                p = 0
                while True:
                    key = est_keys[p]
                    avail += est_gpus[key]
                    p += 1
                    if avail >= need:
                        break
                if key <= t:  # estimates overran: they count as ending now
                    shadow = t
                    nk = len(est_keys)
                    while p < nk and est_keys[p] <= t:
                        avail += est_gpus[est_keys[p]]
                        p += 1
                else:
                    shadow = key
                extra = avail - need
                valid = True
        else:
            first = 0
        if valid and free > 0:
            # 3: backfill later jobs (from ``first``) in queue order.
            drop = []
            for pos in range(first, len(queue)):
                j = queue[pos]
                gj = g[j]
                if gj <= free:
                    if t + est[j] <= shadow:
                        pass
                    elif gj <= extra:
                        extra -= gj
                    else:
                        continue
                    free -= gj
                    launch(j, t)
                    drop.append(pos)
                    if free == 0:
                        break
            for pos in reversed(drop):
                del queue[pos]
        ts_append(t)
        busy_append(n_gpus - free)
    return start, ts, busy


def _run_generic(
    sub: list[float],
    g: list[int],
    rt: list[float],
    est: list[float],
    n_gpus: int,
    horizon: float,
    policy: Policy,
) -> tuple[list[float], list[float], list[int]]:
    """Replay through the DES kernel and the pure Snapshot/Decision protocol."""
    kernel = Kernel(start_s=sub[0] if sub else 0.0)
    n = len(sub)
    start = [math.nan] * n
    queue: list[int] = []
    running: dict[int, float] = {}  # job -> estimated end
    ts: list[float] = []
    busy: list[int] = []
    free = n_gpus
    pass_at = -math.inf

    def request_pass() -> None:
        nonlocal pass_at
        if pass_at != kernel.now_s:
            pass_at = kernel.now_s
            kernel.schedule(kernel.now_s, schedule_pass, ORDER_SCHEDULE)

    def end(j: int) -> None:
        nonlocal free
        free += g[j]
        del running[j]
        request_pass()

    def arrive(j: int) -> None:
        if g[j] <= n_gpus:
            queue.append(j)
        request_pass()

    def schedule_pass() -> None:
        nonlocal free
        now = kernel.now_s
        snap = Snapshot(
            now_s=now,
            free_gpus=free,
            queue=tuple(QueuedJob(j, g[j], est[j]) for j in queue),
            running=tuple(RunningJob(j, g[j], e) for j, e in running.items()),
        )
        decision = policy.decide(snap)
        waiting = set(queue)
        for key in decision.start:
            j = int(key)  # type: ignore[call-overload]
            if key not in waiting or g[j] > free:
                raise RuntimeError(f"policy {policy.name!r} made an invalid start: {key!r}")
            waiting.discard(j)
            free -= g[j]
            start[j] = now
            running[j] = now + est[j]
            kernel.schedule(now + rt[j], partial(end, j), ORDER_END)
        if decision.start:
            queue[:] = [j for j in queue if j in waiting]
        ts.append(now)
        busy.append(n_gpus - free)

    for j in range(n):
        kernel.schedule(sub[j], partial(arrive, j), ORDER_ARRIVAL)
    kernel.run(until_s=None if horizon == math.inf else horizon)
    return start, ts, busy
