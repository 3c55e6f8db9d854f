"""A tenancy as Slurm configures it: an account per tenant, a QOS per tier, a partition per hall.

Pure numbers, no clock: the exporter (:mod:`narvik.bridges.slurm_export`) calls
:func:`slurm_qos` / :func:`slurm_accounts` with the tenancy on a date and writes
``slurm.conf`` and a ``sacctmgr`` script; the ``slurm`` emulation
(:mod:`narvik.sched.slurm_policy`) calls them with the terms the pool view holds at the
instant of the pass, and takes its scheduler parameters from :class:`SlurmParams`, which
the exporter writes into ``slurm.conf`` (``PriorityWeight*``, ``PriorityDecayHalfLife``,
``SchedulerParameters=bf_window,bf_max_job_test,bf_resolution``). Both see the same
configuration.

The mapping (Slurm 22.05: https://slurm.schedmd.com/qos.html, preempt.html,
priority_multifactor.html, resource_limits.html):

- QOS per tier: ``Priority`` higher for tiers served first; ``Preempt`` lists every tier
  after it (``PreemptType=preempt/qos``, ``PreemptMode=REQUEUE``); ``GrpTRES=gres/gpu=N``
  with N the tier's quotas added up, for tiers that hold quota (None for borrow-only
  tiers). Slurm has no guarantee, only limits, so a quota becomes a cap: what the export
  loses is borrowing of idle guaranteed GPUs by quota holders.
- Account per tenant: ``Fairshare`` = its quota (1 for borrow-only tenants) times its
  weight, rounded; ``GrpTRES=gres/gpu=max_borrow_gpus`` for borrow-only tenants with a cap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Value step between tiers' QOS priorities.
QOS_PRIORITY_STEP = 1000


@dataclass(frozen=True)
class SlurmParams:
    """Scheduler parameters shared by the export and the emulation (Slurm's defaults
    where narvik has no reason to differ; slurm.conf(5))."""

    priority_weight_age: int = 1000
    priority_weight_fairshare: int = 10000
    priority_weight_qos: int = 10000
    priority_max_age_s: float = 7 * 86400.0
    """``PriorityMaxAge`` (default 7-0): age at which the age factor reaches 1."""
    priority_decay_half_life_s: float = 7 * 86400.0
    """``PriorityDecayHalfLife`` (default 7-0; the export uses the tenancy's half-life)."""
    bf_window_s: float = 86400.0
    """``bf_window`` (default 1440 minutes): how far ahead backfill plans."""
    bf_max_job_test: int = 500
    """``bf_max_job_test`` (default 500): pending jobs backfill looks at in one pass."""
    bf_resolution_s: float = 60.0
    """``bf_resolution`` (default 60 s)."""
    preempt_mode: str = "REQUEUE"


@dataclass(frozen=True)
class TierTerms:
    name: str
    priority: int
    """narvik's tier priority (0 is served first)."""
    quota_gpus: int
    """The tier's quotas at the instant, added up."""
    holds_quota: bool


@dataclass(frozen=True)
class AccountTerms:
    name: str
    tier: str
    quota_gpus: int
    max_borrow_gpus: int | None
    weight: float


@dataclass(frozen=True)
class SlurmQos:
    name: str
    priority: int
    preempt: tuple[str, ...]
    """QOS names whose jobs this QOS may preempt."""
    grp_gpus: int | None
    """``GrpTRES=gres/gpu=N`` (None: no limit)."""


@dataclass(frozen=True)
class SlurmAccount:
    name: str
    qos: str
    fairshare: int
    grp_gpus: int | None


def slurm_qos(tiers: Sequence[TierTerms]) -> tuple[SlurmQos, ...]:
    """One QOS per tier (same order): priority, the tiers it preempts, its GPU limit."""
    n = max((t.priority for t in tiers), default=0) + 1
    out = []
    for t in tiers:
        lower = tuple(o.name for o in tiers if o.priority > t.priority)
        out.append(
            SlurmQos(
                name=t.name,
                priority=(n - t.priority) * QOS_PRIORITY_STEP,
                preempt=lower,
                grp_gpus=t.quota_gpus if t.holds_quota else None,
            )
        )
    return tuple(out)


def slurm_accounts(tenants: Sequence[AccountTerms]) -> tuple[SlurmAccount, ...]:
    """One account per tenant (same order): its QOS, fair-share shares and GPU limit."""
    out = []
    for t in tenants:
        shares = max(1, round(max(t.quota_gpus, 1) * t.weight))
        grp = t.max_borrow_gpus if t.quota_gpus == 0 else None
        out.append(SlurmAccount(name=t.name, qos=t.tier, fairshare=shares, grp_gpus=grp))
    return tuple(out)
