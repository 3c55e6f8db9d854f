"""What a simulated pool run produced (:func:`narvik.sim.tenancy_sim.simulate_tenancy`):
per job, per segment of a job on a hall, per pass, and per curtailment and booking."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from narvik.sim.flat import JobStates
from narvik.workload.job import JobTable


@dataclass(frozen=True, eq=False)
class TenancyResult(JobStates):
    jobs: JobTable
    n_gpus: int
    policy: str
    start_s: NDArray[np.float64]
    """First start (NaN: never started)."""
    end_s: NDArray[np.float64]
    state: NDArray[np.int8]
    preemptions: NDArray[np.int64]
    lost_gpu_s: NDArray[np.float64]
    fits_guarantee: NDArray[np.bool_]
    """The job fit its tenant's unused guarantee when it was submitted."""
    fit_since_s: NDArray[np.float64]
    """First instant the job fit its tenant's unused guarantee at a pass (NaN: never)."""
    tenant_index: NDArray[np.int64]
    nvlink_domains: NDArray[np.int64]
    """NVLink domains of the job's first placement (0: never started)."""
    network_blocks: NDArray[np.int64]
    seg_job: NDArray[np.int64]
    seg_start_s: NDArray[np.float64]
    seg_end_s: NDArray[np.float64]
    seg_gpus: NDArray[np.int64]
    seg_hall: NDArray[np.int64]
    seg_borrowed: NDArray[np.bool_]
    t_s: NDArray[np.float64]
    """Instant of every pass; the other series hold the state after it."""
    gpus_busy: NDArray[np.int64]
    it_power_w: NDArray[np.float64]
    """IT power after each pass (idle fleet plus busy GPUs at the power cap)."""
    it_budget_w: NDArray[np.float64]
    cap_fraction: NDArray[np.float64]
    shed_w: NDArray[np.float64]
    """Power the active curtailments shed from the grid cap."""
    gpus_online: NDArray[np.int64]
    frag_t_s: NDArray[np.float64]
    """Hourly samples of the free GPUs (``frag_free_gpus``) and of those in wholly free
    NVLink domains (``frag_whole_free_gpus``)."""
    frag_free_gpus: NDArray[np.int64]
    frag_whole_free_gpus: NDArray[np.int64]
    curtailments: list[dict[str, float | bool | int]]
    reservations: list[dict[str, float | bool | int]]
    until_s: float | None = None
