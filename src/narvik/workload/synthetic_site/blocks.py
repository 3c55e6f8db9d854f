"""A profile's jobs before they are merged (:class:`Block`) and its random stream."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from narvik.workload.synthetic_site.spec import TenantProfile


@dataclass
class Block:
    """One profile's jobs, in submit order."""

    gpus: NDArray[np.int64]
    submit_s: NDArray[np.float64]
    runtime_s: NDArray[np.float64]
    requested_s: NDArray[np.float64]

    @staticmethod
    def empty() -> Block:
        z = np.zeros(0)
        return Block(np.zeros(0, dtype=np.int64), z, z.copy(), z.copy())


def profile_rng(seed: int, profile: TenantProfile) -> np.random.Generator:
    """The profile's own stream: independent of the other profiles and their order."""
    key = zlib.crc32(f"{profile.name}\x00{profile.kind}".encode())
    return np.random.default_rng(np.random.SeedSequence([seed, key]))
