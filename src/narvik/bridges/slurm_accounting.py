"""``sacctmgr.sh``: the tenancy as Slurm accounting (sacctmgr(1)) and reservations
(scontrol(1)), with the quota ramp and the build-out as dated steps.

The script sets up what holds on the export date when run; each later change is a line
``at_step DATE COMMAND...`` under a ``# DATE`` heading: run as ``sh sacctmgr.sh`` it only
lists them, run as ``sh sacctmgr.sh --schedule`` it queues each with at(1) for 00:00 UTC
on its date. Users are not written: operators add them to their tenant's account
(``sacctmgr add user NAME Account=TENANT``).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence

from narvik.bridges.slurm_fleet import HallNodes, NodeShape
from narvik.sched.slurm_config import (
    AccountTerms,
    SlurmAccount,
    SlurmParams,
    SlurmQos,
    TierTerms,
    slurm_accounts,
    slurm_qos,
)
from narvik.workload.tenancy import Reservation, Tenancy

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]*")

_HEAD = """#!/bin/sh
# Written by `narvik export slurm`: accounts, QOS and reservations of cluster {cluster}
# as on {at}. Run once as root on the Slurm controller (slurmdbd running):
#   sh sacctmgr.sh             # set up, and list the dated steps
#   sh sacctmgr.sh --schedule  # set up, and queue each dated step with at(1)
set -u
schedule=no
[ "${{1:-}}" = "--schedule" ] && schedule=yes

# at_step DATE COMMAND...: queue COMMAND for 00:00 UTC on DATE (--schedule), else list it.
at_step() {{
  day=$1; shift
  if [ "$schedule" = yes ]; then
    echo "$*" | TZ=UTC at -t "$(echo "$day" | tr -d -)0000"
  else
    echo "on $day: $*"
  fi
}}
"""


def slurm_name(name: str, what: str) -> str:
    """A tenant or tier name as Slurm stores it (sacctmgr(1) lower-cases names)."""
    low = name.lower()
    if not _NAME.fullmatch(low):
        raise ValueError(f"{what}: {name!r} is not a valid Slurm name (letters, digits, _ . -)")
    return low


def tier_terms(tenancy: Tenancy, day: dt.date) -> tuple[TierTerms, ...]:
    """Each tier's quotas on ``day``; a tier holds quota when it may and its sum is > 0."""
    out = []
    for tier in tenancy.tiers:
        gpus = sum(t.quota_at(day) for t in tenancy.tenants if t.tier == tier.name)
        name = slurm_name(tier.name, f"tiers.{tier.name}")
        out.append(TierTerms(name, tier.priority, gpus, tier.may_hold_quota and gpus > 0))
    return tuple(out)


def account_terms(tenancy: Tenancy, day: dt.date) -> tuple[AccountTerms, ...]:
    """Each tenant's terms on ``day``, named for Slurm."""
    return tuple(
        AccountTerms(
            slurm_name(t.name, f"tenants.{t.name}"),
            slurm_name(t.tier, f"tenants.{t.name}.tier"),
            t.quota_at(day),
            t.max_borrow_gpus,
            t.fair_share_weight,
        )
        for t in tenancy.tenants
    )


def partition_accounts(tenancy: Tenancy, halls: Sequence[HallNodes]) -> dict[str, str]:
    """``AllowAccounts`` of each hall some tenant may not use (slurm.conf(5),
    PARTITION CONFIGURATION): the tenants whose ``allowed_halls`` include it."""
    out = {}
    for h in halls:
        ok = [t for t in tenancy.tenants if not t.allowed_halls or h.hall in t.allowed_halls]
        if len(ok) < len(tenancy.tenants):
            out[h.partition] = ",".join(slurm_name(t.name, f"tenants.{t.name}") for t in ok)
    return out


def _tres(gpus: int | None) -> str:
    """``GrpTRES=gres/gpu=N``; -1 clears the limit (sacctmgr(1), GrpTRES)."""
    return f"GrpTRES=gres/gpu={-1 if gpus is None else gpus}"


def _qos_lines(qos: Sequence[SlurmQos], params: SlurmParams) -> list[str]:
    """sacctmgr(1) ``add qos`` then ``modify qos``: priority, preemption, GPU limit."""
    lines = [f"sacctmgr -i add qos {q.name}" for q in qos]
    for q in qos:
        preempt = f" Preempt={','.join(q.preempt)}" if q.preempt else ""
        lines.append(
            f"sacctmgr -i modify qos where name={q.name} set Priority={q.priority}{preempt} "
            f"PreemptMode={params.preempt_mode.lower()} {_tres(q.grp_gpus)}"
        )
    return lines


def _account_lines(cluster: str, accounts: Sequence[SlurmAccount]) -> list[str]:
    """sacctmgr(1) ``add account``: Fairshare, its tier's QOS as the only and default QOS."""
    lines = []
    for a in accounts:
        lines.append(
            f"sacctmgr -i add account {a.name} Cluster={cluster} Fairshare={a.fairshare} "
            f"QOS={a.qos} DefaultQOS={a.qos}"
            + (f" {_tres(a.grp_gpus)}" if a.grp_gpus is not None else "")
        )
    return lines


def _reservation_lines(
    reservations: Sequence[Reservation],
    tenancy: Tenancy,
    halls: Sequence[HallNodes],
    shape: NodeShape,
    at: dt.date,
) -> list[str]:
    """scontrol(1) ``create reservation``: Slurm 22.05 reserves nodes, not GPUs
    (TRES=gres/gpu is not supported there), so ``NodeCnt`` = GPUs / GPUs per node, rounded
    up, in the first hall the tenant may use that is online at the start and large enough."""
    lines = []
    day0 = dt.datetime.combine(at, dt.time())
    for i, r in enumerate(reservations):
        if r.end.replace(tzinfo=None) <= day0:
            lines.append(f"# reservations.{i} ({r.tenant}) ended before {at}: skipped")
            continue
        nodes = math.ceil(r.gpus / shape.gpus)
        hall = _hall_for(r, i, tenancy, halls, nodes)
        start = r.start.replace(tzinfo=None)
        when = "now" if start <= day0 else start.isoformat(timespec="seconds")
        name = f"{slurm_name(r.tenant, f'reservations.{i}.tenant')}-{start:%Y%m%d%H%M}"
        lines.append(
            f"scontrol create reservation ReservationName={name} StartTime={when} "
            f"EndTime={r.end.replace(tzinfo=None).isoformat(timespec='seconds')} "
            f"Accounts={r.tenant.lower()} NodeCnt={nodes} PartitionName={hall.partition}"
        )
    return lines


def _hall_for(
    r: Reservation, i: int, tenancy: Tenancy, halls: Sequence[HallNodes], nodes: int
) -> HallNodes:
    allowed = tenancy.tenant(r.tenant).allowed_halls
    day = r.start.date()
    for h in halls:
        if (not allowed or h.hall in allowed) and h.online_date <= day and h.n_nodes >= nodes:
            return h
    raise ValueError(
        f"reservations.{i}: no hall the tenant {r.tenant!r} may use holds {nodes} nodes "
        f"on {day} (a Slurm reservation lies in one partition)"
    )


def dated_steps(
    tenancy: Tenancy, halls: Sequence[HallNodes], at: dt.date
) -> list[tuple[dt.date, list[str]]]:
    """Changes after ``at``: halls that come online (scontrol(1) update) and quota ramp
    steps (sacctmgr(1) modify qos GrpTRES, modify account Fairshare), by date."""
    days = sorted(
        {q.start for t in tenancy.tenants for q in t.quota if q.start > at}
        | {h.online_date for h in halls if h.online_date > at}
    )
    out = []
    before = at
    for day in days:
        cmds = [
            c
            for h in halls
            if h.online_date == day
            for c in (
                f"scontrol update NodeName={h.nodes} State=RESUME",
                f"scontrol update PartitionName={h.partition} State=UP",
            )
        ]
        cmds += _ramp(tenancy, before, day)
        out.append((day, cmds))
        before = day
    return out


def _ramp(tenancy: Tenancy, before: dt.date, day: dt.date) -> list[str]:
    """The QOS and account changes between two dates."""
    cmds = []
    for old, new in zip(
        slurm_qos(tier_terms(tenancy, before)), slurm_qos(tier_terms(tenancy, day)), strict=True
    ):
        if old.grp_gpus != new.grp_gpus:
            cmds.append(f"sacctmgr -i modify qos where name={new.name} set {_tres(new.grp_gpus)}")
    for olda, newa in zip(
        slurm_accounts(account_terms(tenancy, before)),
        slurm_accounts(account_terms(tenancy, day)),
        strict=True,
    ):
        if olda.fairshare != newa.fairshare:
            cmds.append(
                f"sacctmgr -i modify account where name={newa.name} set Fairshare={newa.fairshare}"
            )
    return cmds


def sacctmgr_script(
    cluster: str,
    tenancy: Tenancy,
    reservations: Sequence[Reservation],
    halls: Sequence[HallNodes],
    shape: NodeShape,
    params: SlurmParams,
    at: dt.date,
) -> str:
    """The whole script: cluster, QOS per tier, account per tenant, reservations, then the
    dated steps."""
    qos = slurm_qos(tier_terms(tenancy, at))
    accounts = slurm_accounts(account_terms(tenancy, at))
    lines = [
        _HEAD.format(cluster=cluster, at=at),
        f"sacctmgr -i add cluster {cluster}",
        "",
        "# QOS per tier: priority, the tiers it preempts, its quotas as a GPU limit.",
        *_qos_lines(qos, params),
        "",
        "# Account per tenant: fair-share shares; its tier's QOS.",
        *_account_lines(cluster, accounts),
        "",
        "# Reservations (scontrol create reservation).",
        *_reservation_lines(reservations, tenancy, halls, shape, at),
        "",
        "# Dated steps: halls coming online and quota ramps.",
    ]
    for day, cmds in dated_steps(tenancy, halls, at):
        lines.append(f"# {day.isoformat()}")
        lines += [f"at_step {day.isoformat()} '{c}'" for c in cmds]
    return "\n".join(lines) + "\n"
