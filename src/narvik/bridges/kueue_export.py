"""`narvik export kueue`: a scenario's tenancy as Kueue ``v1beta2`` manifests.

One set of manifests describes the site on one date: the halls online then (a hall comes
online on the start date of its phase, as in :func:`narvik.sim.tenancy_setup.site_halls`;
a scenario that names a phase has that phase's halls throughout) and every tenant's quota
of that date (:meth:`narvik.workload.tenancy.Tenant.quota_at`). Halls of a later phase
appear neither as ResourceFlavors nor in any ClusterQueue until their phase begins: Kueue
would otherwise offer borrowing on GPUs that do not exist yet. The split of quotas over
halls is :func:`narvik.sched.kueue_config.cluster_queues`, the very mapping the ``kueue``
emulation schedules with.

A timeline is one set per date on which something changes (the scenario's start, each
quota step and each phase start on or after it), written to ``DIR/<YYYY-MM-DD>/`` with an
``index.json`` listing them. Files are written atomically, one per kind.

Kueue docs: https://kueue.sigs.k8s.io/docs/concepts/cluster_queue/,
https://kueue.sigs.k8s.io/docs/concepts/resource_flavor/,
https://kueue.sigs.k8s.io/docs/concepts/topology_aware_scheduling/.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from narvik.atomic import write_json_atomic, write_text_atomic
from narvik.bridges import kueue_manifests as km
from narvik.bridges.kueue_names import dns_label, flavor_name, queue_name
from narvik.scenario import ScenarioSpec, spec_site
from narvik.sched.kueue_config import (
    COHORT,
    ClusterQueueConfig,
    QueueTerms,
    cluster_queues,
    priority_value,
)
from narvik.sched.kueue_quota import cohort_quota_by_hall
from narvik.site import FlatPool, Site
from narvik.workload.tenancy import Tenancy

#: Files of one set, by kind, in the order to apply them.
FILES = (
    ("Namespace", "namespaces.yaml"),
    ("Topology", "topology.yaml"),
    ("ResourceFlavor", "resourceflavors.yaml"),
    ("Cohort", "cohorts.yaml"),
    ("WorkloadPriorityClass", "workloadpriorityclasses.yaml"),
    ("ClusterQueue", "clusterqueues.yaml"),
    ("LocalQueue", "localqueues.yaml"),
)
INDEX = "index.json"


@dataclass(frozen=True)
class QueueRow:
    """One tenant's line of the summary."""

    tenant: str
    tier: str
    quota_gpus: int
    nominal_gpus: int
    """Nominal quota over its flavors (below ``quota_gpus`` only when its halls lack room)."""
    flavors: dict[str, int]
    """Nominal GPUs by hall online it may use."""
    borrowing_limit_gpus: int | None


@dataclass(frozen=True)
class KueueSet:
    """The manifests of one date: documents by file name, and a summary."""

    day: dt.date
    documents: dict[str, list[km.Doc]]
    rows: tuple[QueueRow, ...]
    hall_gpus: dict[str, int]
    """GPUs of each hall online on ``day``."""
    notices: tuple[str, ...] = ()

    def kind(self, kind: str) -> list[km.Doc]:
        """The documents of one kind."""
        return self.documents[dict(FILES)[kind]]


@dataclass(frozen=True)
class KueueExport:
    """What :func:`export_kueue` wrote."""

    out: Path
    sets: tuple[KueueSet, ...]
    timeline: bool
    files: tuple[Path, ...] = field(default=())


def _tenancy(spec: ScenarioSpec) -> Tenancy:
    """The scenario's tenancy; a scenario without one has nothing to export."""
    if spec.tenancy is None:
        raise ValueError(f"{spec.name}: the scenario has no [tenancy] table: nothing to export")
    return spec.tenancy


def _site(spec: ScenarioSpec) -> Site | FlatPool:
    """The scenario's site (``--site`` and ``site_overrides`` applied)."""
    return spec_site(spec)


def _hall_online_from(site: Site | FlatPool, spec: ScenarioSpec) -> list[dt.date | None]:
    """First day of each hall (None: online throughout)."""
    if isinstance(site, FlatPool):
        return [None]
    if spec.phase:
        named = {h.name for h in site.halls_online(spec.phase)}
        return [None if h.name in named else dt.date.max for h in site.halls]
    return [site.phase(h.phase).start_date for h in site.halls]


def site_hall_infos(site: Site | FlatPool, spec: ScenarioSpec, day: dt.date) -> list[km.HallInfo]:
    """Every hall of the site (index order of the simulator) and whether it is online on ``day``."""
    if isinstance(site, FlatPool):
        n = site.n_gpus
        return [km.HallInfo("pool", n, None, n, n, True)]
    out = []
    for hall, since in zip(site.halls, _hall_online_from(site, spec), strict=True):
        rack = site.rack_type(hall.rack_type)
        d = rack.nvlink_domain_gpus
        gpus = hall.racks * rack.gpus_per_rack
        block = max(1, hall.racks_per_network_block * rack.gpus_per_rack // d) * d
        online = since is None or since <= day
        out.append(km.HallInfo(hall.name, gpus, rack.gpu_model, d, block, online))
    names = [flavor_name(h.name) for h in out]
    if len(set(names)) != len(names):
        raise ValueError(f"{site.name}: hall names must differ in more than case: {names}")
    return out


def queue_terms(tenancy: Tenancy, halls: list[km.HallInfo], day: dt.date) -> list[QueueTerms]:
    """Each tenant's terms on ``day``, halls by index."""
    index = {h.name: i for i, h in enumerate(halls)}
    prio = {t.name: t.priority for t in tenancy.tiers}
    out = []
    for i, t in enumerate(tenancy.tenants):
        unknown = [h for h in t.allowed_halls if h not in index]
        if unknown:
            raise ValueError(
                f"tenancy.tenants.{i}.allowed_halls: unknown halls {', '.join(unknown)} "
                f"(known: {', '.join(index)})"
            )
        out.append(
            QueueTerms(
                name=t.name,
                tier_priority=prio[t.tier],
                quota_gpus=t.quota_at(day),
                max_borrow_gpus=t.max_borrow_gpus,
                lends=t.lends,
                weight=t.fair_share_weight,
                halls=tuple(index[h] for h in t.allowed_halls),
            )
        )
    return out


def _check_names(tenancy: Tenancy) -> None:
    """Tenants and tiers must keep distinct names once sanitised (hashes make that sure)."""
    for kind, names in (
        ("tenants", [queue_name(t.name) for t in tenancy.tenants]),
        ("tiers", [dns_label(t.name) for t in tenancy.tiers]),
    ):
        if len(set(names)) != len(names):
            raise ValueError(f"tenancy.{kind}: names collide as Kubernetes names: {names}")


def kueue_set(spec: ScenarioSpec, day: dt.date | None = None) -> KueueSet:
    """The manifests of the scenario on ``day`` (default: its start date)."""
    tenancy = _tenancy(spec)
    _check_names(tenancy)
    day = spec.start_date if day is None else day
    site = _site(spec)
    halls = site_hall_infos(site, spec, day)
    terms = queue_terms(tenancy, halls, day)
    hall_gpus = [h.gpus if h.online else 0 for h in halls]
    cqs = cluster_queues(terms, hall_gpus, len(tenancy.tiers))
    tier_of = {t.name: t.tier for t in tenancy.tenants}
    topo = dns_label(site.name if isinstance(site, Site) else "flat-pool")
    n_tiers = len(tenancy.tiers)
    docs = {
        "namespaces.yaml": [km.namespace(t.name, day) for t in tenancy.tenants],
        "topology.yaml": [km.topology(topo, day)],
        "resourceflavors.yaml": [km.resource_flavor(h, topo, day) for h in halls if h.online],
        "cohorts.yaml": [km.cohort(COHORT, day, halls, cohort_quota_by_hall(cqs, hall_gpus))],
        "workloadpriorityclasses.yaml": [
            km.priority_class(t.name, priority_value(t.priority, n_tiers), day)
            for t in tenancy.tiers
        ],
        "clusterqueues.yaml": [km.cluster_queue(cq, halls, tier_of[cq.name], day) for cq in cqs],
        "localqueues.yaml": [km.local_queue(t.name, t.tier, day) for t in tenancy.tenants],
    }
    rows = tuple(_row(cq, t, halls, tier_of[t.name]) for cq, t in zip(cqs, terms, strict=True))
    notices = tuple(
        f"{r.tenant}: quota {r.quota_gpus:,} GPUs on {day}, only {r.nominal_gpus:,} fit its "
        "halls online"
        for r in rows
        if r.nominal_gpus < r.quota_gpus
    )
    online = {h.name: h.gpus for h in halls if h.online}
    return KueueSet(day, docs, rows, online, notices)


def _row(cq: ClusterQueueConfig, t: QueueTerms, halls: list[km.HallInfo], tier: str) -> QueueRow:
    """A tenant's summary line: quota, nominal GPUs by hall online, borrowing limit."""
    online = [k for k, h in enumerate(cq.flavors) if halls[h].online]
    flavors = {halls[cq.flavors[k]].name: cq.nominal_gpus[k] for k in online}
    limits = [cq.borrowing_limit_gpus[k] for k in online]
    known = [b for b in limits if b is not None]
    borrow = max(known) if known and len(known) == len(limits) else None
    return QueueRow(t.name, tier, t.quota_gpus, sum(flavors.values()), flavors, borrow)


def timeline_dates(spec: ScenarioSpec) -> list[dt.date]:
    """The start date and every quota step and phase start on or after it, in order."""
    tenancy = _tenancy(spec)
    start = spec.start_date
    days = {start}
    days.update(q.start for t in tenancy.tenants for q in t.quota if q.start >= start)
    site = _site(spec)
    phases = (d for d in _hall_online_from(site, spec) if d is not None and d != dt.date.max)
    days.update(d for d in phases if d >= start)
    return sorted(days)


def render(docs: list[km.Doc]) -> str:
    """Multi-document YAML, keys in the order written (apiVersion, kind, metadata, spec)."""
    return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False, explicit_start=True)


def write_set(kset: KueueSet, out: Path) -> list[Path]:
    """Write one set's files into ``out`` (atomically, one file per kind)."""
    paths = []
    for _, name in FILES:
        path = out / name
        write_text_atomic(path, render(kset.documents[name]))
        paths.append(path)
    return paths


def _index_entry(kset: KueueSet) -> dict[str, object]:
    """One date of ``index.json``: halls online, quotas and nominal GPUs by hall."""
    return {
        "date": kset.day.isoformat(),
        "dir": kset.day.isoformat(),
        "halls_online": kset.hall_gpus,
        "quota_gpus": {r.tenant: r.quota_gpus for r in kset.rows},
        "nominal_gpus": {r.tenant: r.flavors for r in kset.rows},
    }


def export_kueue(
    spec: ScenarioSpec, out: Path, at: dt.date | None = None, timeline: bool = False
) -> KueueExport:
    """Write the scenario's Kueue manifests: one set on ``at`` into ``out``, or a timeline.

    Every set is built before the first file is written, so bad input writes nothing.
    """
    if timeline and at is not None:
        raise ValueError("--at and --timeline exclude one another: give one of them")
    out = Path(out)
    if not timeline:
        kset = kueue_set(spec, at)
        return KueueExport(out, (kset,), False, tuple(write_set(kset, out)))
    sets = tuple(kueue_set(spec, day) for day in timeline_dates(spec))
    files: list[Path] = []
    for kset in sets:
        files += write_set(kset, out / kset.day.isoformat())
    index = {
        "scenario": spec.name,
        "site": spec.site,
        "cohort": COHORT,
        "dates": [s.day.isoformat() for s in sets],
        "sets": [_index_entry(s) for s in sets],
    }
    write_json_atomic(out / INDEX, index)
    files.append(out / INDEX)
    return KueueExport(out, sets, True, tuple(files))


__all__ = [
    "FILES",
    "KueueExport",
    "KueueSet",
    "QueueRow",
    "export_kueue",
    "kueue_set",
    "queue_terms",
    "render",
    "site_hall_infos",
    "timeline_dates",
    "write_set",
]
