"""``slurm.conf``, ``gres.conf`` and ``topology.conf`` of the site (slurm.conf(5),
gres.conf(5), topology.conf(5); Slurm 22.05).

Halls whose phase has not begun on the export date are written with their nodes in
``State=FUTURE`` and their partition ``State=INACTIVE``: one file serves the whole
build-out, and the dated steps of ``sacctmgr.sh`` bring them up (``scontrol update
NodeName=... State=RESUME``, ``PartitionName=... State=UP``) on the phase's date.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from narvik.bridges.slurm_fleet import HallNodes, NodeShape
from narvik.sched.slurm_config import SlurmParams


@dataclass(frozen=True)
class LocalCheck:
    """Settings that let ``slurmctld -D -c -f slurm.conf`` load the files on one machine
    without root paths, slurmdbd or real nodes (the acceptance test; never production)."""

    folder: Path
    munge_socket: Path
    slurmctld_port: int
    slurmd_port: int


def _minutes(seconds: float) -> int:
    return max(1, round(seconds / 60))


def _duration(seconds: float) -> str:
    """Slurm's ``days-hours:minutes:seconds`` (slurm.conf(5), PriorityDecayHalfLife)."""
    s = round(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return f"{d}-{h:02d}:{m:02d}:{s:02d}"


def _paths(local: LocalCheck | None) -> list[str]:
    """Daemon paths, auth and accounting: production defaults, or a local check's."""
    if local is None:
        return [
            "SlurmUser=slurm",
            "AuthType=auth/munge",
            "StateSaveLocation=/var/spool/slurmctld",
            "SlurmdSpoolDir=/var/spool/slurmd",
            "SlurmctldPidFile=/run/slurmctld.pid",
            "SlurmdPidFile=/run/slurmd.pid",
            "SlurmctldLogFile=/var/log/slurm/slurmctld.log",
            "SlurmdLogFile=/var/log/slurm/slurmd.log",
            "SlurmctldPort=6817",
            "SlurmdPort=6818",
            "AccountingStorageType=accounting_storage/slurmdbd",
            "AccountingStorageTRES=gres/gpu",
        ]
    d = local.folder
    return [
        "SlurmUser=root",
        "AuthType=auth/munge",
        f"AuthInfo=socket={local.munge_socket}",
        f"StateSaveLocation={d / 'state'}",
        f"SlurmdSpoolDir={d / 'spool'}",
        f"SlurmctldPidFile={d / 'slurmctld.pid'}",
        f"SlurmdPidFile={d / 'slurmd.pid'}",
        f"SlurmctldLogFile={d / 'slurmctld.log'}",
        f"SlurmctldPort={local.slurmctld_port}",
        f"SlurmdPort={local.slurmd_port}",
        "AccountingStorageType=accounting_storage/none",
        "MailProg=/bin/true",
    ]


def slurm_conf(
    cluster: str,
    halls: tuple[HallNodes, ...],
    shape: NodeShape,
    params: SlurmParams,
    local: LocalCheck | None = None,
    allow_accounts: dict[str, str] | None = None,
) -> str:
    """slurm.conf(5): cluster settings, scheduling (``SchedulerParameters``, multifactor
    priority weights, QOS preemption) and a NodeName and PartitionName line per hall."""
    lines = [
        "# Written by `narvik export slurm`: the scenario's site as Slurm 22.05 nodes.",
        f"ClusterName={cluster}",
        "SlurmctldHost=localhost" if local else f"SlurmctldHost={cluster}-ctl",
        *_paths(local),
        "ProctrackType=proctrack/cgroup" if local is None else "ProctrackType=proctrack/linuxproc",
        "ReturnToService=2",
        "GresTypes=gpu",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "TopologyPlugin=topology/tree",
        "SchedulerType=sched/backfill",
        "SchedulerParameters="
        f"bf_window={_minutes(params.bf_window_s)},"
        f"bf_max_job_test={params.bf_max_job_test},"
        f"bf_resolution={round(params.bf_resolution_s)}",
        "PriorityType=priority/multifactor",
        f"PriorityDecayHalfLife={_duration(params.priority_decay_half_life_s)}",
        f"PriorityMaxAge={_duration(params.priority_max_age_s)}",
        f"PriorityWeightAge={params.priority_weight_age}",
        f"PriorityWeightFairshare={params.priority_weight_fairshare}",
        f"PriorityWeightQOS={params.priority_weight_qos}",
        "PreemptType=preempt/qos",
        f"PreemptMode={params.preempt_mode}",
        "AccountingStorageEnforce=associations,limits,qos",
        "",
        "# Nodes: one per compute tray; halls not online yet are FUTURE.",
    ]
    lines += [_node_line(h, shape, local) for h in halls]
    lines += ["", "# Partitions: one per hall; halls not online yet are INACTIVE."]
    default = next((h.hall for h in halls if h.online), None)
    allow = allow_accounts or {}
    lines += [_partition_line(h, h.hall == default, allow.get(h.partition)) for h in halls]
    return "\n".join(lines) + "\n"


def _node_line(h: HallNodes, shape: NodeShape, local: LocalCheck | None) -> str:
    """A hall's NodeName line (slurm.conf(5), NODE CONFIGURATION)."""
    addr = " NodeAddr=127.0.0.1" if local else ""
    state = "UNKNOWN" if h.online else "FUTURE"
    return (
        f"NodeName={h.nodes}{addr} Sockets={shape.sockets} "
        f"CoresPerSocket={shape.cores_per_socket} ThreadsPerCore=1 "
        f"RealMemory={shape.real_memory_mb} Gres=gpu:{shape.gpus} "
        f"Feature={h.partition},{h.gpu_model.lower()} State={state}"
    )


def _partition_line(h: HallNodes, default: bool, accounts: str | None) -> str:
    """A hall's PartitionName line (slurm.conf(5), PARTITION CONFIGURATION); ``accounts``
    (``AllowAccounts``) when some tenant may not use the hall ("" : none may)."""
    state = "UP" if h.online else "INACTIVE"
    flag = " Default=YES" if default else ""
    allow = "" if accounts is None else f" AllowAccounts={accounts or 'root'}"
    return f"PartitionName={h.partition} Nodes={h.nodes} State={state}{flag}{allow}"


def gres_conf(halls: tuple[HallNodes, ...], shape: NodeShape) -> str:
    """gres.conf(5): each tray's GPUs as device files (no auto-detection)."""
    last = shape.gpus - 1
    lines = ["# Written by `narvik export slurm`.", "AutoDetect=off"]
    lines += [f"NodeName={h.nodes} Name=gpu File=/dev/nvidia[0-{last}]" for h in halls]
    return "\n".join(lines) + "\n"


def topology_conf(halls: tuple[HallNodes, ...]) -> str:
    """topology.conf(5): a switch per NVL72 domain (its trays), per network block (its
    domains), per hall (its blocks) and a root switch over the halls."""
    lines = ["# Written by `narvik export slurm`: NVL72 domain < network block < hall < root."]
    for h in halls:
        for k, nodes in enumerate(h.domains):
            lines.append(f"SwitchName=nvl-{h.slug}-{k + 1:04d} Nodes={nodes}")
        for b in range(h.n_blocks):
            ks = [k for k, blk in enumerate(h.block_of_domain) if blk == b]
            lines.append(
                f"SwitchName=blk-{h.slug}-{b + 1:03d} "
                f"Switches=nvl-{h.slug}-[{ks[0] + 1:04d}-{ks[-1] + 1:04d}]"
            )
        lines.append(f"SwitchName=hall-{h.slug} Switches=blk-{h.slug}-[001-{h.n_blocks:03d}]")
    lines.append("SwitchName=root Switches=" + ",".join(f"hall-{h.slug}" for h in halls))
    return "\n".join(lines) + "\n"
