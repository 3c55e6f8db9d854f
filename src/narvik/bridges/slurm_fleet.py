"""The site as Slurm nodes: one node per compute tray, grouped by NVL72 domain, network
block and hall (slurm.conf(5) NodeName, topology.conf(5)).

Node names are ``<hall>-r<rack>-t<tray>`` (``a-r0001-t01``), so one Slurm hostlist
expression (``a-r[0001-0348]-t[01-18]``) names a hall and ``a-r0001-t[01-18]`` an NVL72
domain. Domains and blocks follow :func:`narvik.sim.tenancy_setup.site_halls`, the
structure the engine schedules on.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from narvik.sim.tenancy_setup import site_halls
from narvik.site.model import Site


@dataclass(frozen=True)
class NodeShape:
    """One compute tray (assumptions for a GB300 NVL72 tray, NVIDIA GB300 NVL72 data sheet):
    4 GPUs, 2 Grace CPUs of 72 Arm Neoverse V2 cores, 2 x ~480 GB LPDDR5X of which
    ``real_memory_mb`` (900 GiB) is offered to jobs, the rest left to the OS."""

    gpus: int = 4
    sockets: int = 2
    cores_per_socket: int = 72
    real_memory_mb: int = 921_600

    @property
    def cpus(self) -> int:
        return self.sockets * self.cores_per_socket


@dataclass(frozen=True)
class HallNodes:
    """A hall's nodes and switches, named for Slurm."""

    hall: str
    slug: str
    """Host-name-safe hall name (``a``)."""
    gpu_model: str
    racks: int
    trays_per_rack: int
    online: bool
    """Whether the hall's phase has begun on the export date."""
    online_date: dt.date
    domains: tuple[str, ...]
    """Hostlist of each NVL72 domain's trays."""
    block_of_domain: tuple[int, ...]

    @property
    def partition(self) -> str:
        return f"hall_{self.slug.replace('-', '_')}"

    @property
    def nodes(self) -> str:
        """The hall's trays as one hostlist expression (slurm.conf(5), NodeName)."""
        return f"{self.slug}-r[{1:04d}-{self.racks:04d}]-t[{1:02d}-{self.trays_per_rack:02d}]"

    @property
    def n_nodes(self) -> int:
        return self.racks * self.trays_per_rack

    @property
    def n_blocks(self) -> int:
        return max(self.block_of_domain, default=-1) + 1


def slug(name: str) -> str:
    """``name`` made a host-name part: lower case, letters/digits/hyphens."""
    s = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not s:
        raise ValueError(f"halls: hall name {name!r} has no letter or digit for a Slurm node name")
    return s


def fleet(site: Site, at: dt.date, shape: NodeShape) -> tuple[HallNodes, ...]:
    """Every hall of ``site`` as Slurm nodes, with whether it is online on ``at``."""
    specs = {h.name: h for h in site_halls(site, at)}
    out, seen = [], set()
    for hall in site.halls:
        rack = site.rack_type(hall.rack_type)
        if rack.gpus_per_rack % shape.gpus or rack.nvlink_domain_gpus % shape.gpus:
            raise ValueError(
                f"halls.{hall.name}: rack type {rack.name} ({rack.gpus_per_rack} GPUs, "
                f"NVLink domains of {rack.nvlink_domain_gpus}) is not made of "
                f"{shape.gpus}-GPU trays"
            )
        s = slug(hall.name)
        if s in seen:
            raise ValueError(f"halls.{hall.name}: two halls have the Slurm name {s!r}")
        seen.add(s)
        tpr = rack.gpus_per_rack // shape.gpus
        tpd = rack.nvlink_domain_gpus // shape.gpus
        topo = specs[hall.name].topology
        start = site.phase(hall.phase).start_date
        out.append(
            HallNodes(
                hall=hall.name,
                slug=s,
                gpu_model=rack.gpu_model,
                racks=hall.racks,
                trays_per_rack=tpr,
                online=start <= at,
                online_date=start,
                domains=tuple(_domain(s, k, tpd, tpr) for k in range(topo.domains)),
                block_of_domain=tuple(int(b) for b in topo.block_of_domain),
            )
        )
    return tuple(out)


def _domain(hall: str, k: int, trays: int, per_rack: int) -> str:
    """Hostlist of domain ``k`` (``trays`` trays; whole racks or part of one rack)."""
    first = k * trays
    rack, tray = divmod(first, per_rack)
    if trays >= per_rack:
        last = rack + trays // per_rack
        racks = f"r{rack + 1:04d}" if last == rack + 1 else f"r[{rack + 1:04d}-{last:04d}]"
        return f"{hall}-{racks}-t[01-{per_rack:02d}]"
    return f"{hall}-r{rack + 1:04d}-t[{tray + 1:02d}-{tray + trays:02d}]"
