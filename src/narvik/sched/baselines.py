"""``fcfs`` and ``easy`` on a pool view: the canonical baselines on equal terms with narvik.

On a physical site every policy decides on the same :class:`~narvik.sched.view.PoolView`,
so the baselines respect what the site imposes on narvik too: the halls a tenant may
use, gang placement on the fewest NVLink domains (:mod:`narvik.sched.placement`) and
the power budget (the same power step: GPU power caps first, then preemption, see
:func:`narvik.sched.narvik_policy.power_step`). They know nothing of quotas, lending or
bookings.

- ``fcfs``: start jobs strictly in queue order (submit time, then trace order); stop
  at the first that does not fit.
- ``easy`` (Mu'alem and Feitelson, IEEE TPDS 12(6), 2001): the same, then the first
  waiting job gets a reservation at the earliest time enough GPUs will be free (by
  estimate); later jobs start now if they fit and either end by then or use only GPUs
  the reservation does not need. On a site the backfill scan looks at the first
  ``backfill_depth`` jobs per tenant's worth of the queue.

On ``flat:N`` the exact reference replays of :mod:`narvik.sim.flat` are used instead.
"""

from __future__ import annotations

import math
from itertools import islice

from narvik.sched.narvik_policy import PassWork, easy_shadow, place_job, power_step
from narvik.sched.view import Decision, PoolView


def _borrowed(v: PoolView, tenant: int, gpus: int, extra: dict[int, int]) -> bool:
    """Beyond the tenant's quota (for the accounts: baselines do not lend by rule)."""
    t = v.tenants[tenant]
    used = t.used_guaranteed + extra.get(tenant, 0)
    if used + gpus <= t.quota_gpus:
        extra[tenant] = extra.get(tenant, 0) + gpus
        return False
    return True


class FcfsPolicy:
    name = "fcfs"
    backfill = False

    def decide(self, v: PoolView) -> Decision:
        w = PassWork.of(v)
        power_step(v, w)
        counts = w.placer.counts
        guaranteed: dict[int, int] = {}
        shadow, extra, head = math.inf, 0, False
        depth = v.backfill_depth * max(len(v.tenants), 1)
        for key in islice(v.queue_order(), depth if self.backfill else None):
            free = sum(counts)
            power_room = w.power_room()
            if min(free, power_room) <= 0:
                break
            q = v.queued[key]
            t = v.tenants[q.tenant]
            est_end = v.now_s + q.remaining_estimate_s
            fits = q.gpus <= power_room and q.gpus <= sum(counts[h] for h in t.allowed_halls)
            if fits and head and not (est_end <= shadow or q.gpus <= extra):
                fits = False
            placed = place_job(v, w, t.allowed_halls, q.gpus, low_first=True) if fits else None
            if placed is not None:
                if head and est_end > shadow:
                    extra -= q.gpus
                borrowed = _borrowed(v, q.tenant, q.gpus, guaranteed)
                w.start(key, borrowed, placed, q.gpus, est_end)
                continue
            if not self.backfill:
                break
            if fits:
                continue  # too fragmented now: no count-based reservation would help it
            if not head:
                shadow, extra = easy_shadow(v, max(free, 0), q.gpus, w.started_ends)
                head = True
        return w.d


class EasyPolicy(FcfsPolicy):
    name = "easy"
    backfill = True
