"""Policies by name (the names the command line accepts).

Two protocols: on ``flat:N`` the canonical baselines run as exact reference replays
on a :class:`~narvik.sched.protocol.Snapshot`; every policy (``fcfs``, ``easy``,
``narvik``) also decides on a :class:`~narvik.sched.view.PoolView`, which is how the
engine (:mod:`narvik.engine`) drives them on physical sites, in the simulator and in
``narvik serve`` alike.
"""

from __future__ import annotations

from narvik.sched.baselines import EasyPolicy as EasyPoolPolicy
from narvik.sched.baselines import FcfsPolicy as FcfsPoolPolicy
from narvik.sched.easy import EasyPolicy
from narvik.sched.fcfs import FcfsPolicy
from narvik.sched.kueue_policy import KueuePolicy
from narvik.sched.narvik_policy import NarvikPolicy
from narvik.sched.protocol import Policy
from narvik.sched.slurm_policy import SlurmPolicy

_POLICIES: dict[str, type] = {"fcfs": FcfsPolicy, "easy": EasyPolicy}
_POOL_POLICIES: dict[str, type] = {
    "fcfs": FcfsPoolPolicy,
    "easy": EasyPoolPolicy,
    "narvik": NarvikPolicy,
    "kueue": KueuePolicy,
    "slurm": SlurmPolicy,
}

#: Policies that need a pool (tenants, halls): they have no flat-snapshot form.
TENANCY_POLICIES = (
    "narvik",
    "kueue",
    "slurm",
)


def policy_names() -> list[str]:
    """The names of every policy the command line accepts, sorted."""
    return sorted(_POOL_POLICIES)


def get_policy(name: str) -> Policy:
    """A fresh flat-pool policy by name; ``ValueError`` listing the choices when unknown."""
    try:
        return _POLICIES[name]()  # type: ignore[no-any-return]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; choose one of {policy_names()}") from None


def get_pool_policy(name: str) -> object:
    """A fresh pool-view policy by name (``decide(PoolView) -> Decision``)."""
    try:
        return _POOL_POLICIES[name]()
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; choose one of {policy_names()}") from None
