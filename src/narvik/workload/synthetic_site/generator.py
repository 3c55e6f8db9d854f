"""The entry point: every profile's jobs, merged into one :class:`JobTable` in submit order."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from narvik.workload.job import JobTable, Tenant
from narvik.workload.synthetic_site.blocks import Block
from narvik.workload.synthetic_site.calibration import research_model
from narvik.workload.synthetic_site.inference_jobs import inference_block
from narvik.workload.synthetic_site.research_jobs import research_blocks
from narvik.workload.synthetic_site.spec import SiteWorkloadSpec, TenantProfile
from narvik.workload.synthetic_site.training_jobs import training_block


def profile_blocks(spec: SiteWorkloadSpec) -> list[Block]:
    """Each profile's jobs, in the order of ``spec.tenants``."""
    model = research_model(spec)
    research = [t for t in spec.tenants if t.kind == "research"]
    research_jobs = research_blocks(spec, research, model) if model is not None else {}
    blocks: list[Block] = []
    for profile in spec.tenants:
        if profile.kind == "research":
            blocks.append(research_jobs.get(profile.name, Block.empty()))
        elif profile.kind == "training":
            blocks.append(training_block(spec, profile))
        else:
            blocks.append(inference_block(spec, profile))
    return blocks


def _objects(values: list[str]) -> NDArray[np.object_]:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def job_ids(profiles: tuple[TenantProfile, ...], sizes: list[int]) -> NDArray[np.object_]:
    """``f"{tenant}-{kind}-{seq}"``, seq = 1, 2, ... within each profile, profile by profile."""
    ids: list[str] = []
    for profile, s in zip(profiles, sizes, strict=True):
        prefix = f"{profile.name}-{profile.kind}-"
        ids.extend([prefix + str(i) for i in range(1, s + 1)])
    return _objects(ids)


def merge_blocks(profiles: tuple[TenantProfile, ...], blocks: list[Block]) -> JobTable:
    """One table sorted by submit time, then profile position, then seq."""
    sizes = [len(b.gpus) for b in blocks]
    group = np.repeat(np.arange(len(blocks), dtype=np.int64), sizes)
    seq = np.concatenate([np.arange(1, s + 1, dtype=np.int64) for s in sizes])
    submit = np.concatenate([b.submit_s for b in blocks])
    order = np.lexsort((seq, group, submit))
    g_sorted = group[order]
    return JobTable(
        job_id=job_ids(profiles, sizes)[order],
        tenant=_objects([p.name for p in profiles])[g_sorted],
        tier=_objects([p.tier for p in profiles])[g_sorted],
        gpus=np.concatenate([b.gpus for b in blocks])[order],
        submit_s=submit[order],
        runtime_s=np.concatenate([b.runtime_s for b in blocks])[order],
        requested_s=np.concatenate([b.requested_s for b in blocks])[order],
    )


def generate_site_jobs(spec: SiteWorkloadSpec) -> JobTable:
    """Generate the site's jobs for ``spec`` (see the package docstring for the model).

    Returns a :class:`JobTable` sorted by ``submit_s`` (whole seconds in
    ``[0, span_s)``), then profile position in ``spec.tenants``, then ``seq``.
    Runtimes and requested times are whole seconds (training requests are whole
    hours x 1.1). Same spec: the same arrays, bit for bit.
    """
    return merge_blocks(spec.tenants, profile_blocks(spec))


def site_tenants(spec: SiteWorkloadSpec) -> list[Tenant]:
    """The distinct tenants of ``spec`` (first-seen order) with tier and jurisdiction."""
    seen: dict[str, Tenant] = {}
    for t in spec.tenants:
        seen.setdefault(t.name, Tenant(name=t.name, tier=t.tier, jurisdiction=t.jurisdiction))
    return list(seen.values())
