"""Policies by name (the names the command line accepts)."""

from __future__ import annotations

from narvik.sched.easy import EasyPolicy
from narvik.sched.fcfs import FcfsPolicy
from narvik.sched.protocol import Policy

_POLICIES: dict[str, type] = {"fcfs": FcfsPolicy, "easy": EasyPolicy}


#: Policies with their own simulator (:mod:`narvik.sim.tenancy_sim`) and snapshot protocol.
TENANCY_POLICIES = ("narvik",)


def policy_names() -> list[str]:
    """The names of every policy the command line accepts, sorted."""
    return sorted([*_POLICIES, *TENANCY_POLICIES])


def get_policy(name: str) -> Policy:
    """A fresh policy instance by name; ``ValueError`` listing the choices when unknown."""
    try:
        return _POLICIES[name]()  # type: ignore[no-any-return]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; choose one of {policy_names()}") from None
