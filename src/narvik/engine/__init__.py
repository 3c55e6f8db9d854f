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


def build_kind() -> str:
    """How the engine runs here: ``"compiled (mypyc)"`` after a regular install, else
    ``"plain Python"`` (an editable install, or ``NARVIK_COMPILE=0``)."""
    from narvik.engine import pool

    return "plain Python" if str(pool.__file__).endswith(".py") else "compiled (mypyc)"
