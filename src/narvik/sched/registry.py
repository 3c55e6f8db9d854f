"""Policies by name (the names the command line accepts)."""

from __future__ import annotations

from narvik.sched.easy import EasyPolicy
from narvik.sched.fcfs import FcfsPolicy
from narvik.sched.protocol import Policy

_POLICIES: dict[str, type] = {"fcfs": FcfsPolicy, "easy": EasyPolicy}


def policy_names() -> list[str]:
    """The names of the registered policies, sorted."""
    return sorted(_POLICIES)


def get_policy(name: str) -> Policy:
    """A fresh policy instance by name; ``ValueError`` listing the choices when unknown."""
    try:
        return _POLICIES[name]()  # type: ignore[no-any-return]
    except KeyError:
        raise ValueError(f"unknown policy {name!r}; choose one of {policy_names()}") from None
