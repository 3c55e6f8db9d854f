"""One pool-state engine under both clocks (see :mod:`narvik.engine.pool`)."""

from narvik.engine.config import (
    CurtailmentSpec,
    HallSpec,
    NoPowerLimit,
    PowerModel,
    ReservationSpec,
    Rules,
    TenantSpec,
)
from narvik.engine.jobs import RunningJob, Stop
from narvik.engine.pool import PassOutcome, Pool

__all__ = [
    "CurtailmentSpec",
    "HallSpec",
    "NoPowerLimit",
    "PassOutcome",
    "Pool",
    "PowerModel",
    "ReservationSpec",
    "Rules",
    "RunningJob",
    "Stop",
    "TenantSpec",
]
