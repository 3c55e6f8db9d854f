"""First-come first-served: start jobs strictly in queue order, stop at the first that does
not fit (no backfilling). The baseline against which EASY (Mu'alem and Feitelson,
IEEE TPDS 12(6), 2001) is usually compared.
"""

from __future__ import annotations

from collections.abc import Hashable

from narvik.sched.protocol import Decision, Snapshot


class FcfsPolicy:
    """Strict FCFS on a pool of interchangeable GPU slots."""

    name = "fcfs"

    def decide(self, snapshot: Snapshot) -> Decision:
        """Start the longest queue prefix that fits in the free GPUs."""
        free = snapshot.free_gpus
        start: list[Hashable] = []
        for job in snapshot.queue:
            if job.gpus > free:
                break
            free -= job.gpus
            start.append(job.key)
        return Decision(start=tuple(start))
