"""Derived, nameplate views of a site's fleet for a phase (counts and full-load power)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from narvik.site.model import Site


@dataclass(frozen=True)
class FleetSummary:
    phase: str
    grid_capacity_w: float
    halls: tuple[str, ...]
    racks: int
    gpus_by_model: dict[str, int]
    nvlink_domains: int
    network_blocks: int
    it_nameplate_power_w: float
    """Every rack at full load: GPUs at max power plus CPU, switch and overhead power."""

    @property
    def gpus(self) -> int:
        return sum(self.gpus_by_model.values())


def fleet_summary(site: Site, phase: str | None = None) -> FleetSummary:
    """Counts and nameplate IT power of the halls online in ``phase`` (default: the last)."""
    name = phase or site.phases[-1].name
    halls = site.halls_online(name)
    gpus: Counter[str] = Counter()
    racks = domains = blocks = 0
    power_w = 0.0
    for hall in halls:
        rack = site.rack_type(hall.rack_type)
        gpu = site.gpu_model(rack.gpu_model)
        n_gpus = hall.racks * rack.gpus_per_rack
        gpus[gpu.name] += n_gpus
        racks += hall.racks
        domains += -(-n_gpus // rack.nvlink_domain_gpus)
        blocks += -(-hall.racks // hall.racks_per_network_block)
        per_rack_w = (
            rack.gpus_per_rack * gpu.max_power_w
            + rack.cpu_power_w
            + rack.switch_power_w
            + rack.overhead_power_w
        )
        power_w += hall.racks * per_rack_w
    return FleetSummary(
        phase=name,
        grid_capacity_w=site.phase(name).grid_capacity_mw * 1e6,
        halls=tuple(h.name for h in halls),
        racks=racks,
        gpus_by_model=dict(gpus),
        nvlink_domains=domains,
        network_blocks=blocks,
        it_nameplate_power_w=power_w,
    )
