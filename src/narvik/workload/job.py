"""Jobs and tenants: a columnar ``JobTable`` for speed, ``Job`` for single records.

The canonical store of a workload is :class:`JobTable`: one numpy array per
column, in trace order, so a million-job trace costs a few tens of megabytes
and vectorised work (sorting, validation, writing Parquet) stays in C. A
:class:`Job` is one validated record, for building small tables by hand,
tests and the control-plane service.

Columns (the names and units of ``jobs.parquet`` in ARCHITECTURE.md):

``job_id`` (text), ``tenant`` (text), ``tier`` (text), ``gpus`` (int64, > 0),
``submit_s`` (float64, seconds from the start of the simulation),
``runtime_s`` (float64, > 0, the work the job needs), ``requested_s``
(float64, the user's estimate; NaN when unknown).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

DEFAULT_TIER = "default"
"""Tier given to jobs whose source (an SWF log) has no notion of tiers."""


class TraceError(ValueError):
    """A workload file (or in-memory table) is malformed.

    The message names the file and the 1-based line (or row) and the field.
    """


@dataclass(frozen=True, slots=True)
class Tenant:
    """A tenant of the site: who submits jobs, at which priority tier, from where."""

    name: str
    tier: str = DEFAULT_TIER
    jurisdiction: str = ""


@dataclass(frozen=True, slots=True)
class Job:
    """One job, validated on construction.

    ``requested_s`` is the user's runtime estimate; ``None`` (or NaN) when unknown.
    """

    job_id: str
    tenant: str
    gpus: int
    submit_s: float
    runtime_s: float
    requested_s: float | None = None
    tier: str = DEFAULT_TIER

    def __post_init__(self) -> None:
        if not self.job_id:
            raise TraceError("job_id must be a non-empty string")
        if int(self.gpus) != self.gpus or self.gpus <= 0:
            raise TraceError(f"job {self.job_id}: gpus must be a positive integer, got {self.gpus}")
        if not math.isfinite(self.submit_s):
            raise TraceError(f"job {self.job_id}: submit_s must be finite, got {self.submit_s}")
        if not (math.isfinite(self.runtime_s) and self.runtime_s > 0):
            raise TraceError(f"job {self.job_id}: runtime_s must be > 0, got {self.runtime_s}")
        if self.requested_s is not None and math.isnan(self.requested_s):
            object.__setattr__(self, "requested_s", None)

    @property
    def estimate_s(self) -> float:
        """The scheduler's estimate: ``requested_s`` if known and > 0, else ``runtime_s``."""
        req = self.requested_s
        return req if req is not None and req > 0 else self.runtime_s


def _obj_str_array(values: Iterable[object]) -> NDArray[np.object_]:
    seq = [str(v) for v in values]
    arr = np.empty(len(seq), dtype=object)
    arr[:] = seq
    return arr


@dataclass(frozen=True, eq=False)
class JobTable:
    """A workload as columns (numpy arrays of equal length, in trace order).

    ``job_id``, ``tenant`` and ``tier`` are object arrays of ``str``; ``gpus`` is
    int64; ``submit_s``, ``runtime_s`` and ``requested_s`` are float64 with NaN
    in ``requested_s`` where the estimate is unknown. Construction checks
    shapes, dtypes and the value rules of :class:`Job` (vectorised).
    """

    job_id: NDArray[np.object_]
    tenant: NDArray[np.object_]
    tier: NDArray[np.object_]
    gpus: NDArray[np.int64]
    submit_s: NDArray[np.float64]
    runtime_s: NDArray[np.float64]
    requested_s: NDArray[np.float64]

    def __post_init__(self) -> None:
        n = len(self.job_id)
        for name in ("job_id", "tenant", "tier"):
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.dtype != object:
                object.__setattr__(self, name, _obj_str_array(arr))
        casts = {
            "gpus": np.int64,
            "submit_s": np.float64,
            "runtime_s": np.float64,
            "requested_s": np.float64,
        }
        for name, dtype in casts.items():
            arr = getattr(self, name)
            if not isinstance(arr, np.ndarray) or arr.dtype != dtype:
                object.__setattr__(self, name, np.asarray(arr, dtype=dtype))
        for name in ("job_id", "tenant", "tier", *casts):
            arr = getattr(self, name)
            if arr.ndim != 1 or len(arr) != n:
                raise TraceError(f"column {name!r} has length {len(arr)}, expected {n}")
        self._check_values()

    def _check_values(self) -> None:
        def first_bad(mask: NDArray[np.bool_], what: str) -> None:
            if mask.any():
                i = int(np.flatnonzero(mask)[0])
                raise TraceError(f"row {i + 1} (job {self.job_id[i]}): {what}")

        first_bad(self.gpus <= 0, f"gpus must be > 0, got {self.gpus[self.gpus <= 0][:1]}")
        first_bad(~np.isfinite(self.submit_s), "submit_s must be finite")
        first_bad(~(self.runtime_s > 0) | ~np.isfinite(self.runtime_s), "runtime_s must be > 0")
        first_bad(np.isinf(self.requested_s), "requested_s must be finite or NaN (unknown)")

    def __len__(self) -> int:
        return len(self.job_id)

    def __getitem__(self, i: int) -> Job:
        req = float(self.requested_s[i])
        return Job(
            job_id=str(self.job_id[i]),
            tenant=str(self.tenant[i]),
            gpus=int(self.gpus[i]),
            submit_s=float(self.submit_s[i]),
            runtime_s=float(self.runtime_s[i]),
            requested_s=None if math.isnan(req) else req,
            tier=str(self.tier[i]),
        )

    def __iter__(self):  # type: ignore[no-untyped-def]
        return (self[i] for i in range(len(self)))

    @classmethod
    def from_jobs(cls, jobs: Sequence[Job]) -> JobTable:
        """Build a table from validated :class:`Job` records (kept in the given order)."""
        return cls(
            job_id=_obj_str_array(j.job_id for j in jobs),
            tenant=_obj_str_array(j.tenant for j in jobs),
            tier=_obj_str_array(j.tier for j in jobs),
            gpus=np.array([j.gpus for j in jobs], dtype=np.int64),
            submit_s=np.array([j.submit_s for j in jobs], dtype=np.float64),
            runtime_s=np.array([j.runtime_s for j in jobs], dtype=np.float64),
            requested_s=np.array(
                [np.nan if j.requested_s is None else j.requested_s for j in jobs],
                dtype=np.float64,
            ),
        )

    @classmethod
    def from_arrays(
        cls,
        gpus: Sequence[int] | NDArray[np.int64],
        submit_s: Sequence[float] | NDArray[np.float64],
        runtime_s: Sequence[float] | NDArray[np.float64],
        requested_s: Sequence[float] | NDArray[np.float64] | None = None,
        job_id: Sequence[str] | NDArray[np.object_] | None = None,
        tenant: str | Sequence[str] = "user-0",
        tier: str | Sequence[str] = DEFAULT_TIER,
    ) -> JobTable:
        """Convenience constructor; ids default to ``"1".."n"``, requested_s to unknown."""
        n = len(gpus)
        if job_id is None:
            job_id = [str(i + 1) for i in range(n)]
        if requested_s is None:
            requested_s = np.full(n, np.nan)
        ten = np.empty(n, dtype=object)
        ten[:] = [tenant] * n if isinstance(tenant, str) else [str(x) for x in tenant]
        tie = np.empty(n, dtype=object)
        tie[:] = [tier] * n if isinstance(tier, str) else [str(x) for x in tier]
        return cls(
            job_id=_obj_str_array(job_id),
            tenant=ten,
            tier=tie,
            gpus=np.asarray(gpus, dtype=np.int64),
            submit_s=np.asarray(submit_s, dtype=float),
            runtime_s=np.asarray(runtime_s, dtype=float),
            requested_s=np.asarray(requested_s, dtype=float),
        )

    def estimate_s(self) -> NDArray[np.float64]:
        """Scheduler estimates: ``requested_s`` where known and > 0, else ``runtime_s``."""
        req = self.requested_s
        return np.where(np.isfinite(req) & (req > 0), req, self.runtime_s)

    def take(self, index: NDArray[np.intp] | NDArray[np.bool_]) -> JobTable:
        """A new table holding the rows selected by an index or mask (in that order)."""
        return JobTable(
            job_id=self.job_id[index],
            tenant=self.tenant[index],
            tier=self.tier[index],
            gpus=self.gpus[index],
            submit_s=self.submit_s[index],
            runtime_s=self.runtime_s[index],
            requested_s=self.requested_s[index],
        )

    def tenants(self) -> list[Tenant]:
        """The distinct tenants (sorted by name), each with the first tier seen for it."""
        seen: dict[str, str] = {}
        for name, tier in zip(self.tenant.tolist(), self.tier.tolist(), strict=True):
            seen.setdefault(name, tier)
        return [Tenant(name=k, tier=seen[k]) for k in sorted(seen)]
