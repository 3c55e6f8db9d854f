"""Kueue Workloads (``kubectl get workloads -A -o json``) as a narvik trace.

``narvik import kueue-workloads FILE.json --out TRACE.parquet``. The input is a ``List``
(or ``WorkloadList``) whose ``items`` are ``kueue.x-k8s.io`` Workload objects (v1beta2,
and v1beta1 where it differs), as described in the Kueue docs
(https://kueue.sigs.k8s.io/docs/concepts/workload/ and the API reference
https://kueue.sigs.k8s.io/docs/reference/kueue.v1beta2/#kueue-x-k8s-io-v1beta2-Workload).
A single Workload object is read too.

Each finished, admitted Workload becomes a row of the trace:

- ``job_id``: ``namespace/name`` (names are unique only within a namespace);
- ``tenant``: ``status.admission.clusterQueue`` (the ClusterQueue holds the quota, so it
  is the tenant in narvik's sense), else ``metadata.namespace``; renamed by
  ``tenant_map`` (``"*"``: any other);
- ``tier``: the priority class (``spec.priorityClassRef.name``, v1beta2; else
  ``spec.priorityClassName``, v1beta1) through ``tier_map``, else ``default``;
- ``gpus``: the sum over ``spec.podSets`` of ``count`` (default 1) x the GPUs of one pod:
  the sum of its containers' ``resources.requests`` (else ``limits``) of the GPU
  resources (default ``nvidia.com/gpu``); init containers follow the Kubernetes
  effective-request rule: sidecars (``restartPolicy: Always``) add to the sum, and the
  pod needs at least the largest other init container plus the sidecars;
- ``submit_s``: ``metadata.creationTimestamp``, in seconds from the earliest kept one;
- ``runtime_s``: from the start (``lastTransitionTime`` of the condition ``Admitted``
  with status True, else ``QuotaReserved`` True) to the end (``Finished`` True), plus
  ``status.accumulatedPastExecutionTimeSeconds`` (time run before an eviction);
- ``requested_s``: ``spec.maximumExecutionTimeSeconds`` (absent: unknown).

Workloads left out, each counted by reason (:data:`REASONS`): ``not_finished`` (admitted,
no ``Finished`` True: still running), ``never_admitted`` (never admitted: pending,
inadmissible, or finished/deactivated before admission), ``runtime_not_positive``,
``no_gpus``. A malformed object (not a Workload, a missing or unreadable field)
raises :class:`~narvik.workload.job.TraceError` naming the file, the item and the field.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from narvik.bridges.import_trace import (
    ImportedTrace,
    Row,
    SkipCounter,
    build_trace,
    map_name,
    map_tier,
    parse_mapping,
    write_trace,
)
from narvik.workload.job import TraceError

DEFAULT_GPU_RESOURCES = ("nvidia.com/gpu",)
REASONS = ("not_finished", "never_admitted", "runtime_not_positive", "no_gpus")
_LIST_KINDS = frozenset({"List", "WorkloadList"})


@dataclass(frozen=True)
class _Options:
    """How Workload fields become trace columns (see the module docstring)."""

    gpu_resources: tuple[str, ...]
    tier_map: Mapping[str, str]
    tenant_map: Mapping[str, str]


class _Item:
    """One Workload of the file, with errors naming the file, the item and the field."""

    def __init__(self, path: Path, index: int, obj: object) -> None:
        self.path, self.index = path, index
        if not isinstance(obj, dict):
            raise TraceError(f"{path}: items[{index}]: expected a Workload object")
        self.obj: dict[str, Any] = obj
        self.name = str(self.get("metadata.name", ""))
        self.namespace = str(self.get("metadata.namespace", ""))

    def error(self, field: str, message: str) -> TraceError:
        """A :class:`TraceError` naming the file, the item (and its name) and the field."""
        who = f" ({self.namespace}/{self.name})" if self.name else ""
        return TraceError(f"{self.path}: items[{self.index}]{who}, field {field}: {message}")

    def get(self, dotted: str, default: object = None) -> Any:
        """The value at a dotted path (``status.admission.clusterQueue``), or ``default``."""
        node: Any = self.obj
        for key in dotted.split("."):
            if not isinstance(node, dict) or key not in node:
                return default
            node = node[key]
        return node

    def time(self, value: object, field: str) -> float:
        """An RFC 3339 timestamp (``2024-01-02T03:04:05Z``) as POSIX seconds."""
        if not isinstance(value, str):
            raise self.error(field, f"expected an RFC 3339 time, got {value!r}")
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise self.error(field, f"cannot read {value!r} as an RFC 3339 time") from None
        if dt.tzinfo is None:
            raise self.error(field, f"{value!r} has no time zone (RFC 3339 needs one)")
        return dt.timestamp()


def _condition_time(item: _Item, kind: str) -> float | None:
    """``lastTransitionTime`` of the condition ``kind`` when its status is True, else None."""
    conditions = item.get("status.conditions", [])
    if not isinstance(conditions, list):
        raise item.error("status.conditions", "expected a list")
    for i, cond in enumerate(conditions):
        if isinstance(cond, dict) and cond.get("type") == kind and cond.get("status") == "True":
            where = f"status.conditions[{i}].lastTransitionTime"
            return item.time(cond.get("lastTransitionTime"), where)
    return None


def _quantity(item: _Item, value: object, field: str) -> int:
    """A whole-number resource quantity (``4`` or ``"4"``): GPUs are not divisible."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise item.error(field, f"cannot read {value!r} as a whole number of GPUs")


def _container_gpus(item: _Item, container: object, field: str, names: Sequence[str]) -> int:
    """GPUs one container asks for: ``requests`` (else ``limits``) of the GPU resources."""
    if not isinstance(container, dict):
        raise item.error(field, "expected a container object")
    res = container.get("resources") or {}
    total = 0
    for name in names:
        for kind in ("requests", "limits"):
            values = res.get(kind) or {}
            if name in values:
                total += _quantity(item, values[name], f"{field}.resources.{kind}.{name}")
                break
    return total


def _pod_gpus(item: _Item, spec: dict[str, Any], field: str, names: Sequence[str]) -> int:
    """GPUs of one pod: containers and sidecars summed, at least the largest init container
    plus the sidecars started before it (Kubernetes effective request of a pod)."""
    total = sum(
        _container_gpus(item, c, f"{field}.containers[{i}]", names)
        for i, c in enumerate(spec.get("containers") or [])
    )
    sidecars, peak = 0, 0
    for i, c in enumerate(spec.get("initContainers") or []):
        gpus = _container_gpus(item, c, f"{field}.initContainers[{i}]", names)
        if isinstance(c, dict) and c.get("restartPolicy") == "Always":
            sidecars += gpus
        else:
            peak = max(peak, sidecars + gpus)
    return max(total + sidecars, peak)


def _gpus(item: _Item, names: Sequence[str]) -> int:
    """Sum over pod sets of ``count`` x GPUs per pod."""
    pod_sets = item.get("spec.podSets")
    if not isinstance(pod_sets, list) or not pod_sets:
        raise item.error("spec.podSets", "expected a non-empty list of pod sets")
    total = 0
    for i, ps in enumerate(pod_sets):
        field = f"spec.podSets[{i}]"
        if not isinstance(ps, dict):
            raise item.error(field, "expected a pod set object")
        count = ps.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise item.error(f"{field}.count", f"expected a whole number, got {count!r}")
        spec = (ps.get("template") or {}).get("spec")
        if not isinstance(spec, dict):
            raise item.error(f"{field}.template.spec", "expected a pod spec")
        total += count * _pod_gpus(item, spec, f"{field}.template.spec", names)
    return total


def _priority_class(item: _Item) -> str:
    """``spec.priorityClassRef.name`` (v1beta2), else ``spec.priorityClassName`` (v1beta1)."""
    name = item.get("spec.priorityClassRef.name") or item.get("spec.priorityClassName") or ""
    return str(name)


def _requested_s(item: _Item) -> float | None:
    value = item.get("spec.maximumExecutionTimeSeconds")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise item.error("spec.maximumExecutionTimeSeconds", f"expected seconds >= 1: {value!r}")
    return float(value)


def _runtime_s(item: _Item, start_s: float, end_s: float) -> float:
    past = item.get("status.accumulatedPastExecutionTimeSeconds") or 0
    if not isinstance(past, int) or isinstance(past, bool) or past < 0:
        field = "status.accumulatedPastExecutionTimeSeconds"
        raise item.error(field, f"expected seconds >= 0, got {past!r}")
    return end_s - start_s + past


def _row(item: _Item, opts: _Options, skipped: SkipCounter) -> Row | None:
    """The trace row of one Workload, or None (counted in ``skipped``) when left out."""
    kind = item.get("kind", "Workload")
    if kind != "Workload":
        raise item.error("kind", f"expected a Workload, got {kind!r}")
    start_s = _condition_time(item, "Admitted")
    if start_s is None:
        start_s = _condition_time(item, "QuotaReserved")
    end_s = _condition_time(item, "Finished")
    if start_s is None:
        skipped.add("never_admitted")
        return None
    if end_s is None:
        skipped.add("not_finished")
        return None
    runtime_s = _runtime_s(item, start_s, end_s)
    if runtime_s <= 0:
        skipped.add("runtime_not_positive")
        return None
    gpus = _gpus(item, opts.gpu_resources)
    if gpus <= 0:
        skipped.add("no_gpus")
        return None
    submit_s = item.time(item.get("metadata.creationTimestamp"), "metadata.creationTimestamp")
    queue = item.get("status.admission.clusterQueue") or item.namespace
    if not queue:
        raise item.error("metadata.namespace", "no ClusterQueue and no namespace for the tenant")
    return Row(
        job_id=f"{item.namespace}/{item.name}" if item.namespace else item.name,
        tenant=map_name(opts.tenant_map, str(queue), str(queue)),
        tier=map_tier(opts.tier_map, _priority_class(item)),
        gpus=gpus,
        submit_utc_s=submit_s,
        runtime_s=runtime_s,
        requested_s=_requested_s(item),
    )


def _items(path: Path) -> list[object]:
    """The Workload objects of the file: a List's ``items``, or the one object."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(f"{path}: cannot read the workloads file: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise TraceError(f"{path}: line {exc.lineno}: not JSON: {exc.msg}") from exc
    if not isinstance(doc, dict):
        raise TraceError(f"{path}: expected a List of Workloads (kubectl get workloads -o json)")
    if doc.get("kind") in _LIST_KINDS or "items" in doc:
        items = doc.get("items")
        if not isinstance(items, list):
            raise TraceError(f"{path}: field items: expected a list of Workloads")
        return items
    return [doc]


def _check_unique(path: Path, rows: list[Row]) -> None:
    seen: set[str] = set()
    for r in rows:
        if r.job_id in seen:
            raise TraceError(f"{path}: Workload {r.job_id} appears twice")
        seen.add(r.job_id)


def read_kueue_workloads(
    path: str | os.PathLike[str],
    *,
    gpu_resources: Sequence[str] = DEFAULT_GPU_RESOURCES,
    tier_map: Iterable[str] | Mapping[str, str] | None = None,
    tenant_map: Iterable[str] | Mapping[str, str] | None = None,
) -> ImportedTrace:
    """Read Workloads (``kubectl get workloads -A -o json``) as an :class:`ImportedTrace`.

    See the module docstring for the mapping; ``tier_map``: priority class -> tier,
    ``tenant_map``: ClusterQueue (or namespace) -> tenant."""
    p = Path(path)
    opts = _Options(
        tuple(gpu_resources) or DEFAULT_GPU_RESOURCES,
        parse_mapping(tier_map, "--tier-map"),
        parse_mapping(tenant_map, "--tenant-map"),
    )
    skipped = SkipCounter()
    rows = [r for i, obj in enumerate(_items(p)) if (r := _row(_Item(p, i, obj), opts, skipped))]
    _check_unique(p, rows)
    return build_trace(rows, skipped, str(p), what="workload")


def import_kueue_workloads(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    gpu_resources: Sequence[str] = DEFAULT_GPU_RESOURCES,
    tier_map: Iterable[str] | Mapping[str, str] | None = None,
    tenant_map: Iterable[str] | Mapping[str, str] | None = None,
) -> ImportedTrace:
    """:func:`read_kueue_workloads`, then write the trace to ``out`` (Parquet, atomically).

    Nothing is written when the input has an error."""
    trace = read_kueue_workloads(
        path, gpu_resources=gpu_resources, tier_map=tier_map, tenant_map=tenant_map
    )
    write_trace(trace, out)
    return trace
