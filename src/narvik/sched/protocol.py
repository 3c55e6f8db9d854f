"""The scheduling protocol: a pure snapshot in, decisions out.

A policy never reads a clock and never imports the simulator: the simulator
drives it with virtual time and the control-plane service with the wall clock,
through the same :class:`Snapshot` -> :class:`Decision` call. Jobs are named by
an opaque hashable ``key`` chosen by the caller (a row index in the simulator,
a job id in the service).

Conventions shared by all policies (ARCHITECTURE.md, "Canonical baseline policies"):

* ``queue`` is in queue order: by submit time, then trace order.
* ``estimate_s`` is the scheduler's runtime estimate: the requested time when
  known and positive, else the true run time.
* ``estimated_end_s`` of a running job is its start plus its estimate; a job
  whose estimate has passed is treated by policies as ending at ``now_s``.
* The caller processes, at one instant, all job ends, then all arrivals (in
  trace order), then calls the policy once.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class QueuedJob:
    """A waiting job as the scheduler sees it."""

    key: Hashable
    gpus: int
    estimate_s: float


@dataclass(frozen=True, slots=True)
class RunningJob:
    """A running job as the scheduler sees it."""

    key: Hashable
    gpus: int
    estimated_end_s: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a flat-pool policy may look at: time, free GPUs, queue, running jobs."""

    now_s: float
    free_gpus: int
    queue: Sequence[QueuedJob]
    running: Sequence[RunningJob]


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do now: the keys of the queued jobs to start, in the order they start."""

    start: tuple[Hashable, ...] = ()


@runtime_checkable
class Policy(Protocol):
    """A scheduling policy: a pure function of a snapshot."""

    name: str

    def decide(self, snapshot: Snapshot) -> Decision:
        """Return the jobs to start at ``snapshot.now_s``."""
        ...
