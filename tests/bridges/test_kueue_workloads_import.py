"""``narvik import kueue-workloads``: Kueue Workloads as a trace
(narvik.bridges.kueue_workloads_import).

The fixture is generated here (:func:`workload`, :func:`workload_list`) and every
Workload is validated against the CRD schema of ../shared/data/kueue-crds with
jsonschema, so the importer is tested on objects the API server would accept."""

from __future__ import annotations

import json
import os
import zlib
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from narvik.bridges.import_trace import read_trace_epoch
from narvik.bridges.kueue_workloads_import import (
    REASONS,
    import_kueue_workloads,
    read_kueue_workloads,
)
from narvik.workload.job import DEFAULT_TIER, TraceError
from narvik.workload.tables import read_jobs

CRD = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "kueue-crds"
    / "kueue.x-k8s.io_workloads.yaml"
)
GPU = "nvidia.com/gpu"
T0 = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)


def ts(seconds: float) -> str:
    """RFC 3339, as the API server writes times: ``2025-06-02T08:00:00Z``."""
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def container(name: str, gpus: int | str | None, *, where: str = "requests") -> dict[str, Any]:
    res: dict[str, Any] = {"requests": {"cpu": "4", "memory": "16Gi"}}
    if gpus is not None:
        res.setdefault(where, {})["nvidia.com/gpu"] = gpus
        if where == "requests":
            res["limits"] = {"nvidia.com/gpu": gpus}
    return {"name": name, "image": "registry.example/train:1", "resources": res}


def pod_set(name: str, count: int, gpus: int | str | None, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [container("main", gpus)], "restartPolicy": "Never"}
    spec.update(extra)
    return {"name": name, "count": count, "template": {"spec": spec}}


def condition(kind: str, at_s: float, status: str = "True", reason: str | None = None) -> dict:
    return {
        "type": kind,
        "status": status,
        "reason": reason or kind,
        "message": f"{kind} by the test",
        "lastTransitionTime": ts(at_s),
    }


def workload(
    name: str,
    *,
    namespace: str = "team-a",
    created_s: float = 0,
    admitted_s: float | None = None,
    finished_s: float | None = None,
    cluster_queue: str | None = "cq-a",
    pod_sets: list[dict[str, Any]] | None = None,
    priority_class: str | None = "high",
    max_s: int | None = None,
    quota_only: bool = False,
    past_s: int | None = None,
) -> dict[str, Any]:
    """A v1beta2 Workload as ``kubectl get workloads -o json`` shows it."""
    pod_sets = pod_sets or [pod_set("main", 1, 1)]
    spec: dict[str, Any] = {"queueName": "lq", "podSets": pod_sets, "active": True}
    if priority_class:
        spec["priorityClassRef"] = {
            "group": "kueue.x-k8s.io",
            "kind": "WorkloadPriorityClass",
            "name": priority_class,
        }
        spec["priority"] = 1000
    if max_s is not None:
        spec["maximumExecutionTimeSeconds"] = max_s
    conditions = []
    status: dict[str, Any] = {}
    if admitted_s is not None:
        conditions.append(condition("QuotaReserved", admitted_s - (0 if quota_only else 2)))
        if not quota_only:
            conditions.append(condition("Admitted", admitted_s))
        if cluster_queue:
            status["admission"] = {
                "clusterQueue": cluster_queue,
                "podSetAssignments": [
                    {
                        "name": ps["name"],
                        "count": ps["count"],
                        "flavors": {"nvidia.com/gpu": "h100"},
                    }
                    for ps in pod_sets
                ],
            }
    else:
        conditions.append(condition("QuotaReserved", created_s + 1, "False", "Pending"))
    if finished_s is not None:
        conditions.append(condition("Finished", finished_s, reason="Succeeded"))
    status["conditions"] = conditions
    if past_s is not None:
        status["accumulatedPastExecutionTimeSeconds"] = past_s
    return {
        "apiVersion": "kueue.x-k8s.io/v1beta2",
        "kind": "Workload",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"00000000-0000-0000-0000-{zlib.crc32(name.encode()):012d}",
            "creationTimestamp": ts(created_s),
        },
        "spec": spec,
        "status": status,
    }


def workload_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": items}


@cache
def _schemas() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    if not CRD.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{CRD} is missing and CI is set: ../shared/data/kueue-crds must be there")
        pytest.skip(f"{CRD} absent (../shared not laid out here)")
    doc = yaml.safe_load(CRD.read_text(encoding="utf-8"))
    return {v["name"]: v["schema"]["openAPIV3Schema"] for v in doc["spec"]["versions"]}


def validate(items: list[dict[str, Any]]) -> None:
    """Every Workload against the CRD's OpenAPI v3 schema of its version."""
    import jsonschema

    schemas = _schemas()
    for obj in items:
        version = obj["apiVersion"].split("/")[1]
        jsonschema.Draft7Validator(schemas[version]).validate(obj)


def write(tmp_path: Path, items: list[dict[str, Any]], name: str = "wl.json") -> Path:
    validate(items)
    path = tmp_path / name
    path.write_text(json.dumps(workload_list(items), indent=2))
    return path


def fixture_items() -> list[dict[str, Any]]:
    """Finished workloads of two ClusterQueues, and some that must be skipped."""
    multi = [
        pod_set("launcher", 1, None),
        pod_set("workers", 4, 8),
    ]
    return [
        workload("a1", created_s=0, admitted_s=60, finished_s=3660, max_s=7200),
        workload(
            "b1",
            namespace="team-b",
            created_s=30,
            admitted_s=30,
            finished_s=630,
            cluster_queue="cq-b",
            pod_sets=multi,
            priority_class="low",
        ),
        workload("a2", created_s=100, admitted_s=500, finished_s=1500, quota_only=True),
        workload("pending", created_s=200),
        workload("running", created_s=250, admitted_s=300),
        workload(
            "cpu",
            created_s=260,
            admitted_s=300,
            finished_s=400,
            pod_sets=[pod_set("main", 2, None)],
        ),
        workload("resumed", created_s=300, admitted_s=2000, finished_s=2600, past_s=400),
    ]


def test_the_fixture_is_valid_against_the_crd_schema(tmp_path):
    import jsonschema

    items = fixture_items()
    validate(items)
    bad = json.loads(json.dumps(items[0]))
    bad["spec"]["podSets"][0]["count"] = -1
    with pytest.raises(jsonschema.ValidationError):
        validate([bad])


def test_finished_workloads_become_jobs(tmp_path):
    trace = read_kueue_workloads(write(tmp_path, fixture_items()))
    jobs = trace.jobs
    assert jobs.job_id.tolist() == ["team-a/a1", "team-b/b1", "team-a/a2", "team-a/resumed"]
    assert jobs.tenant.tolist() == ["cq-a", "cq-b", "cq-a", "cq-a"]
    assert jobs.gpus.tolist() == [1, 32, 1, 1]  # b1: a launcher without GPUs + 4 x 8
    assert jobs.submit_s.tolist() == [0.0, 30.0, 100.0, 300.0]
    # a1: Admitted 60 -> Finished 3660; a2: QuotaReserved only; resumed: + 400 s run before
    assert jobs.runtime_s.tolist() == [3600.0, 600.0, 1000.0, 1000.0]
    assert jobs.requested_s[0] == 7200.0
    assert all(x != x for x in jobs.requested_s[1:].tolist())  # NaN: no maximum given
    assert jobs.tier.tolist() == [DEFAULT_TIER] * 4
    assert trace.skipped_by_reason == {"never_admitted": 1, "not_finished": 1, "no_gpus": 1}
    assert set(trace.skipped_by_reason) <= set(REASONS)
    assert trace.epoch_utc == T0


def test_tier_from_the_priority_class_and_tenant_maps(tmp_path):
    path = write(tmp_path, fixture_items())
    trace = read_kueue_workloads(
        path, tier_map=["high=anchor", "low=research"], tenant_map={"cq-b": "openai"}
    )
    assert trace.jobs.tier.tolist() == ["anchor", "research", "anchor", "anchor"]
    assert trace.jobs.tenant.tolist() == ["cq-a", "openai", "cq-a", "cq-a"]


def test_v1beta1_priority_class_name_and_namespace_tenant(tmp_path):
    """v1beta1 names the class in spec.priorityClassName; without an admission's
    ClusterQueue the tenant is the namespace."""
    obj = workload("old", namespace="team-z", admitted_s=10, finished_s=70, cluster_queue=None)
    obj["apiVersion"] = "kueue.x-k8s.io/v1beta1"
    del obj["spec"]["priorityClassRef"]
    obj["spec"]["priorityClassName"] = "urgent"
    obj["spec"]["priorityClassSource"] = "kueue.x-k8s.io/workloadpriorityclass"
    trace = read_kueue_workloads(write(tmp_path, [obj]), tier_map=["urgent=anchor"])
    assert trace.jobs.tenant.tolist() == ["team-z"]
    assert trace.jobs.tier.tolist() == ["anchor"]


def test_pod_gpus_sum_containers_and_follow_the_init_container_rule(tmp_path):
    two = pod_set("main", 3, 2)
    two["template"]["spec"]["containers"].append(container("side", 1))  # 3 per pod
    limits_only = pod_set("lim", 2, None)
    limits_only["template"]["spec"]["containers"] = [container("m", "4", where="limits")]
    init_big = pod_set("init", 1, 1)
    init_big["template"]["spec"]["initContainers"] = [container("warm", 4)]  # max(1, 4)
    sidecar = pod_set("side", 1, 2)
    sc = container("proxy", 1)
    sc["restartPolicy"] = "Always"
    sidecar["template"]["spec"]["initContainers"] = [sc]  # 2 + 1
    items = [
        workload(f"w{i}", created_s=i, admitted_s=10, finished_s=20, pod_sets=[ps])
        for i, ps in enumerate([two, limits_only, init_big, sidecar])
    ]
    trace = read_kueue_workloads(write(tmp_path, items))
    assert trace.jobs.gpus.tolist() == [9, 8, 4, 3]


def test_other_gpu_resource_names(tmp_path):
    ps = pod_set("main", 2, None)
    ps["template"]["spec"]["containers"][0]["resources"]["requests"]["amd.com/gpu"] = 8
    path = write(tmp_path, [workload("mi300", admitted_s=5, finished_s=50, pod_sets=[ps])])
    with pytest.raises(TraceError, match=r"no job to import \(workloads skipped: no_gpus 1\)"):
        read_kueue_workloads(path)
    assert read_kueue_workloads(path, gpu_resources=["amd.com/gpu"]).jobs.gpus.tolist() == [16]


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (
            lambda o: o["metadata"].update(creationTimestamp="yesterday"),
            r"items\[1\] \(team-a/w1\), field metadata.creationTimestamp: cannot read 'yesterday'",
        ),
        (
            lambda o: o["status"]["conditions"][1].update(lastTransitionTime="2025-06-02"),
            r"items\[1\] \(team-a/w1\), field status.conditions\[1\].lastTransitionTime: "
            r"'2025-06-02' has no time zone",
        ),
        (
            lambda o: o["spec"]["podSets"][0]["template"]["spec"]["containers"][0]["resources"][
                "requests"
            ].update({"nvidia.com/gpu": "500m"}),
            r"field spec.podSets\[0\].template.spec.containers\[0\].resources.requests."
            r"nvidia.com/gpu: cannot read '500m' as a whole number of GPUs",
        ),
        (
            lambda o: o.update(kind="Pod"),
            r"items\[1\] \(team-a/w1\), field kind: expected a Workload",
        ),
    ],
)
def test_bad_workloads_name_the_item_and_field_and_write_nothing(tmp_path, edit, match):
    items = [workload(f"w{i}", created_s=i, admitted_s=10, finished_s=20) for i in range(3)]
    edit(items[1])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(workload_list(items)))
    out = tmp_path / "out.parquet"
    with pytest.raises(TraceError, match=match):
        import_kueue_workloads(path, out)
    assert not out.exists()


def test_not_json_names_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{\n  "kind": "List",\n  "items": [,]\n}\n')
    with pytest.raises(TraceError, match=r"broken\.json: line 3: not JSON"):
        read_kueue_workloads(path)


def test_a_single_workload_object_and_duplicates(tmp_path):
    obj = workload("solo", admitted_s=5, finished_s=65)
    validate([obj])
    path = tmp_path / "solo.json"
    path.write_text(json.dumps(obj))
    assert read_kueue_workloads(path).jobs.job_id.tolist() == ["team-a/solo"]
    path2 = write(tmp_path, [obj, obj], "dup.json")
    with pytest.raises(TraceError, match="team-a/solo appears twice"):
        read_kueue_workloads(path2)


def test_the_parquet_is_a_narvik_trace(tmp_path):
    path = write(tmp_path, fixture_items())
    out = tmp_path / "kueue.parquet"
    trace = import_kueue_workloads(path, out)
    back = read_jobs(out)
    assert back.job_id.tolist() == trace.jobs.job_id.tolist()
    assert back.gpus.tolist() == trace.jobs.gpus.tolist()
    assert read_trace_epoch(out) == T0
