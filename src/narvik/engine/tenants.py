"""A tenant's state inside the pool: what it uses, what waits, what it is owed.

The policy's :class:`~narvik.sched.view.TenantView` of the tenant is kept up to date
in place as the pool changes (``view``), so a pass does not rebuild it.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field

from narvik.engine.config import TenantSpec
from narvik.sched.view import TenantView


@dataclass
class TenantState:
    index: int
    spec: TenantSpec
    halls: tuple[int, ...]
    """Hall indices it may use (resolved: every hall when the spec lists none)."""
    reach_gpus: int
    """GPUs of those halls once every phase is online: a bigger job is rejected."""
    view: TenantView = field(init=False)
    queue: list[tuple[float, int]] = field(default_factory=list)
    """(submit_s, key) of its queued jobs, in queue order (``view.queue``: the keys)."""
    promised: list[tuple[float, int]] = field(default_factory=list)
    """(fit since, key) of queued jobs that have fit its guarantee (``view.promised``)."""
    usage_gpu_s: float = 0.0
    """Decayed GPU-seconds used (fair share)."""
    pending_fit: int = 0
    """GPUs of queued jobs that fit its guarantee on arrival and have not started yet."""
    fit_pending: set[int] = field(default_factory=set)
    waits_for_reclaim: bool = True
    """Whether the last pass left guaranteed work of it waiting for a reclaim: only then do
    GPUs freed by the jobs noticed for it become its earmark (True until a first pass,
    so that a pool restored from storage keeps the earmarks it had)."""
    queued_gpus: int = 0
    running_jobs: int = 0
    sizes: dict[int, int] = field(default_factory=dict)
    """Queued jobs by GPUs asked (for ``view.min_queued_gpus``)."""

    def __post_init__(self) -> None:
        s = self.spec
        self.view = TenantView(
            self.index, s.tier_priority, 0, 0, 0, 0, 0, s.lends, 0.0, self.halls, [], 0, 0, []
        )

    def respec(self, spec: TenantSpec, halls: tuple[int, ...], reach: int) -> None:
        self.spec, self.halls, self.reach_gpus = spec, halls, reach
        self.view.tier_priority, self.view.lends = spec.tier_priority, spec.lends
        self.view.allowed_halls = halls

    def use(self, borrowed: bool, gpus: int) -> None:
        """``gpus`` more (or fewer, when negative) GPUs running, guaranteed or borrowed."""
        if borrowed:
            self.view.used_borrowed += gpus
        else:
            self.view.used_guaranteed += gpus

    @property
    def used_gpus(self) -> int:
        return self.view.used_guaranteed + self.view.used_borrowed

    def add_queued(self, submit_s: float, key: int, gpus: int) -> None:
        _insert(self.queue, self.view.queue, (submit_s, key))
        self.sizes[gpus] = self.sizes.get(gpus, 0) + 1
        v = self.view
        if not v.min_queued_gpus or gpus < v.min_queued_gpus:
            v.min_queued_gpus = gpus

    def drop_queued(self, submit_s: float, key: int, gpus: int) -> None:
        _remove(self.queue, self.view.queue, (submit_s, key))
        left = self.sizes[gpus] - 1
        if left:
            self.sizes[gpus] = left
        else:
            del self.sizes[gpus]
            if gpus == self.view.min_queued_gpus:
                self.view.min_queued_gpus = min(self.sizes, default=0)

    def add_promised(self, since_s: float, key: int) -> None:
        _insert(self.promised, self.view.promised, (since_s, key))

    def drop_promised(self, since_s: float, key: int) -> None:
        _remove(self.promised, self.view.promised, (since_s, key))


def _insert(order: list[tuple[float, int]], keys: list[int], item: tuple[float, int]) -> None:
    i = bisect_left(order, item)
    order.insert(i, item)
    keys.insert(i, item[1])


def _remove(order: list[tuple[float, int]], keys: list[int], item: tuple[float, int]) -> None:
    i = bisect_left(order, item)
    del order[i]
    del keys[i]
