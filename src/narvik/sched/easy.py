"""EASY backfilling (Mu'alem and Feitelson, "Utilization, predictability, workloads, and
user runtime estimates in scheduling the IBM SP2 with backfilling", IEEE TPDS 12(6),
2001, pp. 529-543; after Lifka's EASY scheduler for the Argonne SP, 1995).

Exact semantics (ARCHITECTURE.md, "Canonical baseline policies"):

1. Start jobs in queue order while they fit.
2. The first job that does not fit (the head) gets a reservation at the
   *shadow time*: the earliest instant at which, by the estimates of the running
   jobs, enough GPUs are free for it. A running job whose estimated end has
   passed counts as ending now, so the shadow time is never before now.
   The *extra* GPUs are those free at the shadow time beyond what the head needs;
   every running job whose (clamped) estimated end is at or before the shadow time
   counts, including all jobs whose estimate ends exactly then.
3. Every later job, in queue order, starts now if it fits in the free GPUs and
   either ends (now + its estimate) at or before the shadow time, or needs no more
   than the extra GPUs; only a job started by the second rule reduces the extra.

The estimate is the requested time where known and positive, else the run time;
jobs are not killed at their estimate (that is the simulator's business: a job
always runs exactly its run time).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from narvik.sched.protocol import Decision, RunningJob, Snapshot


def easy_reservation(
    now_s: float, need: int, free_gpus: int, running: Sequence[RunningJob]
) -> tuple[float, int]:
    """Shadow time and extra GPUs for a head job that needs ``need`` GPUs.

    Requires ``need <= free_gpus + sum(running gpus)``. Returns ``(shadow_s, extra)``.
    """
    if need <= free_gpus:
        return now_s, free_gpus - need
    by_end = sorted((max(r.estimated_end_s, now_s), r.gpus) for r in running)
    avail = free_gpus
    shadow_s = now_s
    for end_s, gpus in by_end:
        if avail >= need and end_s > shadow_s:
            break
        avail += gpus
        shadow_s = end_s
    if avail < need:
        raise ValueError(f"head job needs {need} GPUs, only {avail} exist")
    return shadow_s, avail - need


class EasyPolicy:
    """EASY backfilling on a pool of interchangeable GPU slots."""

    name = "easy"

    def decide(self, snapshot: Snapshot) -> Decision:
        """Queue-order starts, one reservation for the head, then backfill."""
        now = snapshot.now_s
        free = snapshot.free_gpus
        queue = snapshot.queue
        start: list[Hashable] = []
        k = 0
        while k < len(queue) and queue[k].gpus <= free:
            free -= queue[k].gpus
            start.append(queue[k].key)
            k += 1
        if k == len(queue) or free == 0:
            return Decision(start=tuple(start))
        started = {*start}
        running = [*snapshot.running]
        # Jobs started in step 1 are running too when the reservation is computed.
        by_key = {q.key: q for q in queue[:k]}
        running += [
            RunningJob(key, by_key[key].gpus, now + by_key[key].estimate_s) for key in started
        ]
        shadow_s, extra = easy_reservation(now, queue[k].gpus, free, running)
        for job in queue[k + 1 :]:
            if job.gpus > free:
                continue
            if now + job.estimate_s <= shadow_s:
                pass
            elif job.gpus <= extra:
                extra -= job.gpus
            else:
                continue
            free -= job.gpus
            start.append(job.key)
            if free == 0:
                break
        return Decision(start=tuple(start))
