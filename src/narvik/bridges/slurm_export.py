"""`narvik export slurm`: the scenario's site and tenancy as Slurm 22.05 configuration.

Writes ``slurm.conf`` (slurm.conf(5)), ``gres.conf`` (gres.conf(5)), ``topology.conf``
(topology.conf(5)) and ``sacctmgr.sh`` (sacctmgr(1), scontrol(1)). The tenancy goes
through :mod:`narvik.sched.slurm_config`, the mapping the ``slurm`` emulation runs, so a
study of the emulation runs what is exported here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from narvik.atomic import write_text_atomic
from narvik.bridges.slurm_accounting import partition_accounts, sacctmgr_script, slurm_name
from narvik.bridges.slurm_files import LocalCheck, gres_conf, slurm_conf, topology_conf
from narvik.bridges.slurm_fleet import HallNodes, NodeShape, fleet
from narvik.sched.slurm_config import SlurmParams
from narvik.site import FlatPool, Site

__all__ = ["LocalCheck", "NodeShape", "SlurmExport", "build_slurm_export", "export_slurm"]


@dataclass(frozen=True)
class SlurmExport:
    """The files, by name, and what they hold."""

    files: dict[str, str]
    cluster: str
    at: dt.date
    halls: tuple[HallNodes, ...]
    shape: NodeShape = field(default_factory=NodeShape)

    def write(self, out: Path) -> list[Path]:
        """Write every file atomically into ``out``."""
        paths = []
        for name, text in self.files.items():
            write_text_atomic(out / name, text)
            paths.append(out / name)
        return paths


def build_slurm_export(
    scenario: str | Path = "stargate-norway",
    *,
    site: str | Site | None = None,
    at: dt.date | None = None,
    shape: NodeShape | None = None,
    params: SlurmParams | None = None,
    local: LocalCheck | None = None,
) -> SlurmExport:
    """The Slurm configuration of ``scenario`` (its site unless ``site`` is given) on
    ``at`` (default: the scenario's start date). ``local`` rewrites daemon paths, ports and
    auth so that ``slurmctld`` can load the files on this machine (tests only)."""
    from narvik.scenario import load_scenario, spec_site
    from narvik.site import load_site

    spec = load_scenario(scenario)
    if spec.tenancy is None:
        raise ValueError(f"tenancy: scenario {spec.name!r} has no [tenancy] table to export")
    if isinstance(site, Site):
        loaded: Site | FlatPool = site
    elif site is not None:
        loaded = load_site(site)
    else:
        loaded = spec_site(spec)
    if isinstance(loaded, FlatPool):
        raise ValueError(f"site: {loaded.name} is a flat pool; Slurm needs halls and racks")
    day = at or spec.start_date
    shape = shape or NodeShape()
    params = params or SlurmParams(priority_decay_half_life_s=spec.tenancy.fair_share_half_life_s)
    cluster = slurm_name(loaded.name, "site.name")
    halls = fleet(loaded, day, shape)
    files = {
        "slurm.conf": slurm_conf(
            cluster, halls, shape, params, local, partition_accounts(spec.tenancy, halls)
        ),
        "gres.conf": gres_conf(halls, shape),
        "topology.conf": topology_conf(halls),
        "sacctmgr.sh": sacctmgr_script(
            cluster, spec.tenancy, spec.reservations, halls, shape, params, day
        ),
    }
    return SlurmExport(files, cluster, day, halls, shape)


def export_slurm(
    out: Path,
    scenario: str | Path = "stargate-norway",
    *,
    site: str | Site | None = None,
    at: dt.date | None = None,
    local: LocalCheck | None = None,
) -> SlurmExport:
    """Build the export and write it into ``out``."""
    export = build_slurm_export(scenario, site=site, at=at, local=local)
    export.write(Path(out))
    return export
