"""A tenancy as Kueue configures it: one ClusterQueue per tenant, a ResourceFlavor per hall.

Pure numbers, no clock: the exporter (:mod:`narvik.bridges.kueue_export`) calls
:func:`cluster_queues` with each tenant's terms on a date and renders YAML; the ``kueue``
emulation (:mod:`narvik.sched.kueue_policy`) calls it with the terms the pool view holds at
the instant of the pass. Both therefore see the same ClusterQueues, so a study compares
narvik with what the exported configuration would do.

The mapping (Kueue v1beta2, https://kueue.sigs.k8s.io/docs/concepts/cluster_queue/):

- Kueue quotas are per flavor and a workload's pod set takes one flavor. narvik's
  guarantee is fleet-wide, so :func:`nominal_by_hall` splits each tenant's quota over the
  halls it may use: tenants confined to the fewest halls first, each in proportion to the
  room left in its halls (largest remainder), so that no hall's nominal quotas add up to
  more than its GPUs.
- ``borrowingLimit`` per flavor is the tenant's ``max_borrow_gpus`` capped at the hall
  (None: no limit); Kueue has no fleet-wide borrowing cap, so the cap becomes per hall.
- ``lendingLimit`` is 0 for a tenant that does not lend (None: lends everything unused).
- Preemption: ``reclaimWithinCohort: Any`` (a tenant under its nominal quota takes back
  what others borrowed), ``borrowWithinCohort: LowerPriority`` (borrowers may preempt
  lower-priority borrowers) and ``withinClusterQueue: LowerPriority``.
- WorkloadPriorityClass value per tier: higher is served first in Kueue, so tier
  priority 0 (narvik's first) gets the highest value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: The cohort every ClusterQueue joins: the one lending pool of the site.
COHORT = "stargate-norway"
#: The resource name of a GPU in Kubernetes (NVIDIA device plugin).
GPU_RESOURCE = "nvidia.com/gpu"
#: Value step between tiers' WorkloadPriorityClasses.
PRIORITY_STEP = 1000


@dataclass(frozen=True)
class QueueTerms:
    """A tenant's terms at an instant, as Kueue needs them."""

    name: str
    tier_priority: int
    """narvik's tier priority (0 is served first)."""
    quota_gpus: int
    max_borrow_gpus: int | None
    """None: no borrowing cap."""
    lends: bool
    weight: float
    halls: tuple[int, ...]
    """Hall indices it may use (every hall when empty)."""


@dataclass(frozen=True)
class Preemption:
    reclaim_within_cohort: str = "Any"
    borrow_within_cohort: str = "LowerPriority"
    within_cluster_queue: str = "LowerPriority"


@dataclass(frozen=True)
class ClusterQueueConfig:
    """One tenant's ClusterQueue: its flavors in order, with quota and limits per flavor."""

    name: str
    cohort: str
    flavors: tuple[int, ...]
    """Hall indices (the ResourceFlavors) in the order Kueue tries them."""
    nominal_gpus: tuple[int, ...]
    """Nominal quota per flavor (same order as ``flavors``)."""
    borrowing_limit_gpus: tuple[int | None, ...]
    lending_limit_gpus: tuple[int | None, ...]
    priority_value: int
    """Value of its tier's WorkloadPriorityClass."""
    weight: float
    """Fair-sharing weight."""
    preemption: Preemption = Preemption()

    @property
    def nominal_total_gpus(self) -> int:
        return sum(self.nominal_gpus)


def priority_value(tier_priority: int, n_tiers: int) -> int:
    """The WorkloadPriorityClass value of a tier: higher for tiers served first."""
    return (max(n_tiers, tier_priority + 1) - tier_priority) * PRIORITY_STEP


def nominal_by_hall(
    quotas: Sequence[int], halls_of: Sequence[tuple[int, ...]], hall_gpus: Sequence[int]
) -> list[list[int]]:
    """Each tenant's quota split over its halls: ``out[tenant][hall]`` GPUs.

    Tenants confined to the fewest halls go first (then by index); each takes its quota
    in proportion to the room its halls have left, largest remainder first, lowest hall
    index on ties. A quota larger than the room of its halls keeps what fits (the sum
    check of the scenario loader makes that a misconfiguration, not a case to hide).
    """
    n_halls = len(hall_gpus)
    room = [int(g) for g in hall_gpus]
    out = [[0] * n_halls for _ in quotas]
    order = sorted(range(len(quotas)), key=lambda i: (len(halls_of[i]) or n_halls, i))
    for i in order:
        halls = [h for h in (halls_of[i] or tuple(range(n_halls))) if room[h] > 0]
        total_room = sum(room[h] for h in halls)
        want = min(int(quotas[i]), total_room)
        if want <= 0:
            continue
        exact = [want * room[h] / total_room for h in halls]
        share = [int(x) for x in exact]
        left = want - sum(share)
        by_remainder = sorted(range(len(halls)), key=lambda k: (-(exact[k] - share[k]), halls[k]))
        for k in by_remainder[:left]:
            share[k] += 1
        for k, h in enumerate(halls):
            take = min(share[k], room[h])
            out[i][h] = take
            room[h] -= take
    return out


def cluster_queues(
    terms: Sequence[QueueTerms], hall_gpus: Sequence[int], n_tiers: int
) -> tuple[ClusterQueueConfig, ...]:
    """One ClusterQueue per tenant (same order as ``terms``) on halls of ``hall_gpus``.

    Halls with 0 GPUs (not online) get no quota; a tenant's flavors are its halls in
    index order.
    """
    n_halls = len(hall_gpus)
    nominal = nominal_by_hall([t.quota_gpus for t in terms], [t.halls for t in terms], hall_gpus)
    out = []
    for i, t in enumerate(terms):
        flavors = t.halls or tuple(range(n_halls))
        borrow = tuple(
            None if t.max_borrow_gpus is None else min(t.max_borrow_gpus, int(hall_gpus[h]))
            for h in flavors
        )
        lend = tuple(None if t.lends else 0 for _ in flavors)
        out.append(
            ClusterQueueConfig(
                name=t.name,
                cohort=COHORT,
                flavors=tuple(flavors),
                nominal_gpus=tuple(nominal[i][h] for h in flavors),
                borrowing_limit_gpus=borrow,
                lending_limit_gpus=lend,
                priority_value=priority_value(t.tier_priority, n_tiers),
                weight=t.weight,
            )
        )
    return tuple(out)
