"""Kueue ``v1beta2`` manifests as plain dicts, from halls and ClusterQueue configurations.

Pure builders, no scenario and no files: :mod:`narvik.bridges.kueue_export` gathers the
inputs and writes YAML. The quota mapping itself (which hall gets how much of a tenant's
guarantee, limits, priorities) is :mod:`narvik.sched.kueue_config`, shared with the
``kueue`` emulation policy.

Kinds (https://kueue.sigs.k8s.io/docs/concepts/):

- ``ResourceFlavor`` per hall (https://kueue.sigs.k8s.io/docs/concepts/resource_flavor/):
  node labels naming the hall and the GPU product; ``topologyName`` ties it to the
  ``Topology`` for topology-aware scheduling.
- ``Topology`` (https://kueue.sigs.k8s.io/docs/concepts/topology_aware_scheduling/): hall,
  network block, NVLink domain (``nvidia.com/gpu.clique``, the label NVIDIA's GPU feature
  discovery puts on the nodes of one NVL72), node.
- ``Cohort`` (https://kueue.sigs.k8s.io/docs/concepts/cohort/): the site's lending pool.
- ``ClusterQueue`` per tenant (https://kueue.sigs.k8s.io/docs/concepts/cluster_queue/).
- ``WorkloadPriorityClass`` per tier
  (https://kueue.sigs.k8s.io/docs/concepts/workload_priority_class/): a tenant's jobs carry
  the label ``kueue.x-k8s.io/priority-class: tier-<tier>``.
- ``LocalQueue`` per tenant (https://kueue.sigs.k8s.io/docs/concepts/local_queue/) in the
  tenant's namespace, and that ``Namespace``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from narvik.bridges.kueue_names import (
    flavor_name,
    label_value,
    namespace_name,
    priority_class_name,
    queue_name,
)
from narvik.sched.kueue_config import GPU_RESOURCE, ClusterQueueConfig

API_VERSION = "kueue.x-k8s.io/v1beta2"

#: Node labels of the topology levels, top to bottom (kubernetes.io/hostname must be last).
HALL_LABEL = "narvik.io/hall"
BLOCK_LABEL = "narvik.io/block"
CLIQUE_LABEL = "nvidia.com/gpu.clique"
HOST_LABEL = "kubernetes.io/hostname"
TOPOLOGY_LEVELS = (HALL_LABEL, BLOCK_LABEL, CLIQUE_LABEL, HOST_LABEL)
#: Node label of the GPU product (NVIDIA GPU feature discovery).
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"
#: Label a workload sets to pick its WorkloadPriorityClass.
PRIORITY_CLASS_LABEL = "kueue.x-k8s.io/priority-class"
MANAGED_BY = {"app.kubernetes.io/managed-by": "narvik"}

Doc = dict[str, Any]


@dataclass(frozen=True)
class HallInfo:
    """A hall as the manifests need it."""

    name: str
    gpus: int
    gpu_model: str | None
    """GPU product of its racks (None: a flat pool)."""
    domain_gpus: int
    """GPUs of one NVLink domain."""
    block_gpus: int
    """GPUs under one network block."""
    online: bool
    """Whether it is online at the manifests' date."""


def quantity(value: float) -> int | str:
    """A Kubernetes quantity: an int when whole, else a plain decimal string."""
    if float(value).is_integer():
        return int(value)
    return format(Decimal(repr(float(value))).normalize(), "f")


def _meta(name: str, day: dt.date, **extra: Any) -> Doc:
    """metadata with narvik's labels and the date the set is in force."""
    meta: Doc = {"name": name, **extra}
    meta["labels"] = dict(MANAGED_BY)
    meta["annotations"] = {"narvik.io/effective-date": day.isoformat()}
    return meta


def resource_flavor(hall: HallInfo, topology: str, day: dt.date) -> Doc:
    """The ResourceFlavor of a hall, tied to the Topology."""
    labels = {HALL_LABEL: label_value(hall.name)}
    if hall.gpu_model:
        labels[GPU_PRODUCT_LABEL] = label_value(hall.gpu_model)
    meta = _meta(flavor_name(hall.name), day)
    meta["annotations"].update(
        {
            "narvik.io/gpus": str(hall.gpus),
            "narvik.io/nvlink-domain-gpus": str(hall.domain_gpus),
            "narvik.io/network-block-gpus": str(hall.block_gpus),
        }
    )
    return {
        "apiVersion": API_VERSION,
        "kind": "ResourceFlavor",
        "metadata": meta,
        "spec": {"nodeLabels": labels, "topologyName": topology},
    }


def topology(name: str, day: dt.date) -> Doc:
    """The Topology: hall, network block, NVLink domain, node."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Topology",
        "metadata": _meta(name, day),
        "spec": {"levels": [{"nodeLabel": label} for label in TOPOLOGY_LEVELS]},
    }


def cohort(
    name: str, day: dt.date, halls: Sequence[HallInfo] = (), own_gpus: Sequence[int] = ()
) -> Doc:
    """The Cohort every ClusterQueue lends to and borrows from.

    ``own_gpus[h]``: the GPUs of hall ``h`` that no ClusterQueue's nominal quota covers,
    given to the cohort itself as its own quota (Kueue v1beta2 Cohort ``resourceGroups``,
    https://kueue.sigs.k8s.io/docs/concepts/cohort/), so that every queue may borrow them:
    without it Kueue could never admit work on them. The ``kueue`` emulation does the same
    (:func:`narvik.sched.kueue_quota.cohort_quota_by_hall`).
    """
    spec: Doc = {}
    flavors = [
        {"name": flavor_name(h.name), "resources": [{"name": GPU_RESOURCE, "nominalQuota": int(g)}]}
        for h, g in zip(halls, own_gpus, strict=True)
        if h.online
    ]
    if flavors:
        spec["resourceGroups"] = [{"coveredResources": [GPU_RESOURCE], "flavors": flavors}]
    return {"apiVersion": API_VERSION, "kind": "Cohort", "metadata": _meta(name, day), "spec": spec}


def priority_class(tier: str, value: int, day: dt.date) -> Doc:
    """The WorkloadPriorityClass of a tier (higher value: admitted and kept first)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "WorkloadPriorityClass",
        "metadata": _meta(priority_class_name(tier), day),
        "value": int(value),
        "description": f"narvik tier {tier}",
    }


def _flavor_quota(hall: HallInfo, nominal: int, borrowing: int | None, lending: int | None) -> Doc:
    """One flavor of a ClusterQueue's resource group: quota and limits of nvidia.com/gpu."""
    resource: Doc = {"name": GPU_RESOURCE, "nominalQuota": int(nominal)}
    if borrowing is not None:
        resource["borrowingLimit"] = int(borrowing)
    if lending is not None:
        resource["lendingLimit"] = int(min(lending, nominal))
    return {"name": flavor_name(hall.name), "resources": [resource]}


def cluster_queue(cq: ClusterQueueConfig, halls: list[HallInfo], tier: str, day: dt.date) -> Doc:
    """A tenant's ClusterQueue: GPU quota on its halls online, cohort, preemption, fair share.

    Flavors of halls not online are left out (Kueue tries flavors in order; a hall that is
    not built has nothing to offer); a tenant with no hall online gets no resource group.
    """
    flavors = [
        _flavor_quota(halls[h], n, b, lend)
        for h, n, b, lend in zip(
            cq.flavors,
            cq.nominal_gpus,
            cq.borrowing_limit_gpus,
            cq.lending_limit_gpus,
            strict=True,
        )
        if halls[h].online
    ]
    meta = _meta(queue_name(cq.name), day)
    meta["annotations"].update({"narvik.io/tenant": cq.name, "narvik.io/tier": tier})
    spec: Doc = {
        "cohortName": cq.cohort,
        "namespaceSelector": {
            "matchLabels": {"kubernetes.io/metadata.name": namespace_name(cq.name)}
        },
        "queueingStrategy": "BestEffortFIFO",
    }
    if flavors:
        spec["resourceGroups"] = [{"coveredResources": [GPU_RESOURCE], "flavors": flavors}]
    spec["preemption"] = {
        "reclaimWithinCohort": cq.preemption.reclaim_within_cohort,
        "borrowWithinCohort": {"policy": cq.preemption.borrow_within_cohort},
        "withinClusterQueue": cq.preemption.within_cluster_queue,
    }
    spec["fairSharing"] = {"weight": quantity(cq.weight)}
    return {"apiVersion": API_VERSION, "kind": "ClusterQueue", "metadata": meta, "spec": spec}


def namespace(tenant: str, day: dt.date) -> Doc:
    """The namespace of a tenant's jobs and LocalQueue."""
    meta = _meta(namespace_name(tenant), day)
    meta["labels"]["narvik.io/tenant"] = label_value(tenant)
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def local_queue(tenant: str, tier: str, day: dt.date) -> Doc:
    """A tenant's LocalQueue in its namespace, pointing to its ClusterQueue."""
    meta = _meta(queue_name(tenant), day, namespace=namespace_name(tenant))
    meta["annotations"].update(
        {"narvik.io/tenant": tenant, "narvik.io/priority-class": priority_class_name(tier)}
    )
    return {
        "apiVersion": API_VERSION,
        "kind": "LocalQueue",
        "metadata": meta,
        "spec": {"clusterQueue": queue_name(tenant)},
    }
