"""A tiny deterministic discrete-event kernel, in the spirit of SimPy but without
processes or global state.

Events are callables kept in a heap ordered by ``(time_s, order, seq)``:
``order`` ranks kinds of event that share an instant (narvik's convention,
ARCHITECTURE.md: job ends, then arrivals, then one scheduling pass), and ``seq``
is the insertion counter, so events of one kind at one instant run in the
order they were scheduled (for arrivals: trace order). Nothing is random and
nothing depends on wall time, so a run is reproducible bit for bit.

The flat-pool replay (:mod:`narvik.sim.flat`) has a fast path that does not
allocate an event per job: it walks the same instants in the same
(ends, arrivals, scheduling) order with a heap of end times and a cursor into
the arrival-sorted trace. Its semantics are those of this kernel; the tests
check both paths against each other and against a reference implementation.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

ORDER_END = 0
"""Job ends come first at an instant."""
ORDER_ARRIVAL = 1
"""Then arrivals, in trace order."""
ORDER_SCHEDULE = 2
"""Then one scheduling pass."""
ORDER_RECORD = 3
"""Then recorders (state after the pass)."""

Action = Callable[[], None]


class Kernel:
    """An event loop over virtual time (seconds)."""

    __slots__ = ("_heap", "_seq", "_cancelled", "now_s")

    def __init__(self, start_s: float = 0.0) -> None:
        self._heap: list[tuple[float, int, int, Action]] = []
        self._seq = itertools.count()
        self._cancelled: set[int] = set()
        self.now_s = start_s

    def schedule(self, at_s: float, action: Action, order: int = ORDER_SCHEDULE) -> int:
        """Run ``action()`` at ``at_s`` (not before now), after events of lower ``order``.

        Returns the event's id, for :meth:`cancel`."""
        if at_s < self.now_s:
            raise ValueError(f"cannot schedule at {at_s} s, before now ({self.now_s} s)")
        seq = next(self._seq)
        heapq.heappush(self._heap, (at_s, order, seq, action))
        return seq

    def cancel(self, event_id: int) -> None:
        """Cancel a scheduled event (it is dropped when its time comes; no effect once run)."""
        self._cancelled.add(event_id)

    def _drop_cancelled(self) -> None:
        heap, cancelled = self._heap, self._cancelled
        while heap and heap[0][2] in cancelled:
            cancelled.discard(heapq.heappop(heap)[2])

    def peek_s(self) -> float:
        """Time of the next event (``inf`` when there is none)."""
        self._drop_cancelled()
        return self._heap[0][0] if self._heap else float("inf")

    def __len__(self) -> int:
        return len(self._heap) - len(self._cancelled)

    def step(self) -> None:
        """Pop and run the next event (cancelled ones are skipped)."""
        self._drop_cancelled()
        at_s, _order, _seq, action = heapq.heappop(self._heap)
        self.now_s = at_s
        action()

    def run(self, until_s: float | None = None) -> None:
        """Run events until none remain, or until the next one is after ``until_s``.

        With ``until_s`` the clock ends at ``until_s`` (events exactly at it run).
        """
        heap = self._heap
        while True:
            self._drop_cancelled()
            if not heap or (until_s is not None and heap[0][0] > until_s):
                break
            self.step()
        if until_s is not None and until_s > self.now_s:
            self.now_s = until_s
