"""`narvik export kueue`: the manifests validate against Kueue's own CRD schemas (v1beta2,
../shared/data/kueue-crds), the anchor's quota follows its ramp, nominal quotas never
exceed a hall's GPUs, halls come online with their phase, and names are DNS labels.

Tests that read the CRDs skip where ../shared is absent, and fail when ``CI`` is set.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from narvik.bridges.kueue_export import (
    FILES,
    KueueSet,
    export_kueue,
    kueue_set,
    render,
    timeline_dates,
)
from narvik.bridges.kueue_names import (
    dns_label,
    flavor_name,
    is_dns_label,
    is_label_value,
    label_value,
    namespace_name,
)
from narvik.scenario import ScenarioSpec, load_scenario
from narvik.sched.kueue_config import nominal_by_hall
from narvik.workload.tenancy import QuotaStep, Tenancy, Tenant, Tier

CRD_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "kueue-crds"
VERSION = "v1beta2"
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
KUEUE_KINDS = (
    "ClusterQueue",
    "Cohort",
    "LocalQueue",
    "ResourceFlavor",
    "Topology",
    "WorkloadPriorityClass",
)
PHASE_2 = dt.date(2028, 6, 1)
PHASE_2_HALLS = {"E", "F", "G", "H", "I", "J"}

Doc = dict[str, Any]


# --- the CRD schemas ---------------------------------------------------------------------


def crd_path(kind: str) -> Path:
    """The CRD file of a kind in ../shared; skip when absent, fail under CI."""
    plural = {"Topology": "topologies", "WorkloadPriorityClass": "workloadpriorityclasses"}
    path = CRD_DIR / f"kueue.x-k8s.io_{plural.get(kind, kind.lower() + 's')}.yaml"
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing and CI is set: ../shared/data/kueue-crds must be there")
        pytest.skip(f"{path} absent (../shared not laid out here)")
    return path


def int_or_string(node: Any) -> Any:
    """The schema with every ``x-kubernetes-int-or-string`` node as integer-or-string."""
    if isinstance(node, list):
        return [int_or_string(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: int_or_string(v) for k, v in node.items()}
    if out.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    return out


class Crd:
    """A kind's v1beta2 schema, scope and group, with a jsonschema validator."""

    def __init__(self, kind: str) -> None:
        import jsonschema

        crd = yaml.safe_load(crd_path(kind).read_text(encoding="utf-8"))
        assert crd["kind"] == "CustomResourceDefinition"
        assert crd["spec"]["names"]["kind"] == kind
        (version,) = [v for v in crd["spec"]["versions"] if v["name"] == VERSION]
        schema = int_or_string(version["schema"]["openAPIV3Schema"])
        jsonschema.Draft202012Validator.check_schema(schema)
        self.kind = kind
        self.api_version = f"{crd['spec']['group']}/{VERSION}"
        self.namespaced = crd["spec"]["scope"] == "Namespaced"
        self.validator = jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def crds() -> dict[str, Crd]:
    return {kind: Crd(kind) for kind in KUEUE_KINDS}


def problems(doc: Doc, crds: dict[str, Crd]) -> list[str]:
    """Why a document would be refused: its CRD schema, its metadata, the CEL rules."""
    kind = doc.get("kind")
    if kind not in crds:
        return [f"unknown kind {kind!r}"]
    crd = crds[kind]
    out = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in crd.validator.iter_errors(doc)
    ]
    if doc.get("apiVersion") != crd.api_version:
        out.append(f"apiVersion {doc.get('apiVersion')!r} is not {crd.api_version}")
    meta = doc.get("metadata", {})
    name = meta.get("name", "")
    if not (isinstance(name, str) and len(name) <= 253 and DNS_SUBDOMAIN.match(name)):
        out.append(f"metadata.name {name!r} is not a DNS-1123 subdomain")
    if crd.namespaced != ("namespace" in meta):
        out.append("metadata.namespace must be set exactly for namespaced kinds")
    if "namespace" in meta and not is_dns_label(meta["namespace"]):
        out.append(f"metadata.namespace {meta['namespace']!r} is not a DNS-1123 label")
    for key, value in meta.get("labels", {}).items():
        if not is_label_value(value):
            out.append(f"label {key}={value!r}: not a label value")
    out += CEL_RULES.get(kind, lambda d: [])(doc)
    return out


def _cq_rules(doc: Doc) -> list[str]:
    """ClusterQueue CEL rules (and the webhook's lendingLimit <= nominalQuota)."""
    out = []
    spec = doc["spec"]
    for rg in spec.get("resourceGroups", []):
        for f in rg.get("flavors", []):
            if len(f.get("resources", [])) != len(rg.get("coveredResources", [])):
                out.append("flavors must have the same number of resources as coveredResources")
            for r in f.get("resources", []):
                if not isinstance(r.get("nominalQuota"), int):
                    out.append(f"{f['name']}: GPU quantities are integers")
                elif r["nominalQuota"] < 0:
                    out.append(f"{f['name']}: negative nominalQuota")
                if "lendingLimit" in r and r["lendingLimit"] > r["nominalQuota"]:
                    out.append(f"{f['name']}: lendingLimit above nominalQuota")
                if "borrowingLimit" in r and "cohortName" not in spec:
                    out.append("borrowingLimit must be nil when cohort is empty")
    p = spec.get("preemption", {})
    if (
        p.get("reclaimWithinCohort") == "Never"
        and p.get("borrowWithinCohort", {}).get("policy", "Never") != "Never"
    ):
        out.append("reclaimWithinCohort=Never and borrowWithinCohort.Policy!=Never")
    return out


def _topology_rules(doc: Doc) -> list[str]:
    labels = [lv["nodeLabel"] for lv in doc["spec"]["levels"]]
    out = []
    if len(set(labels)) != len(labels):
        out.append("levels must be unique")
    if "kubernetes.io/hostname" in labels and labels[-1] != "kubernetes.io/hostname":
        out.append("kubernetes.io/hostname can only be the lowest level")
    return out


def _flavor_rules(doc: Doc) -> list[str]:
    spec = doc["spec"]
    out = []
    if "topologyName" in spec and not spec.get("nodeLabels"):
        out.append("at least one nodeLabel is required when topology is set")
    out += [
        f"nodeLabel {v!r}" for v in spec.get("nodeLabels", {}).values() if not is_label_value(v)
    ]
    return out


CEL_RULES: dict[str, Callable[[Doc], list[str]]] = {
    "ClusterQueue": _cq_rules,
    "Topology": _topology_rules,
    "ResourceFlavor": _flavor_rules,
}


# --- the scenario's sets -----------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> ScenarioSpec:
    return load_scenario("stargate-norway")


@pytest.fixture(scope="module")
def timeline(spec: ScenarioSpec) -> list[KueueSet]:
    return [kueue_set(spec, day) for day in timeline_dates(spec)]


def kueue_docs(kset: KueueSet) -> list[Doc]:
    return [d for _, name in FILES for d in kset.documents[name] if d["kind"] in KUEUE_KINDS]


def nominal(cq: Doc) -> dict[str, int]:
    """A ClusterQueue's nominal GPUs by flavor."""
    groups = cq["spec"].get("resourceGroups", [])
    return {f["name"]: f["resources"][0]["nominalQuota"] for g in groups for f in g["flavors"]}


def test_every_document_validates_against_its_kueue_crd(timeline, crds):
    for kset in timeline:
        docs = kueue_docs(kset)
        assert {d["kind"] for d in docs} == set(KUEUE_KINDS)
        for doc in docs:
            assert problems(doc, crds) == [], (kset.day, doc["kind"], doc["metadata"]["name"])


def test_documents_read_back_from_yaml_still_validate(spec, crds, tmp_path):
    export_kueue(spec, tmp_path)
    kinds = set()
    for kind, name in FILES:
        for doc in yaml.safe_load_all((tmp_path / name).read_text(encoding="utf-8")):
            assert doc["kind"] == kind
            kinds.add(kind)
            if kind in crds:
                assert problems(doc, crds) == [], doc["metadata"]["name"]
    assert kinds == {k for k, _ in FILES}


def _set(path: str, value: Any) -> Callable[[Doc], None]:
    """A mutation setting a dotted path (list indices as numbers)."""

    def mutate(doc: Doc) -> None:
        keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split(".")]
        node: Any = doc
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value

    return mutate


def _drop(path: str) -> Callable[[Doc], None]:
    def mutate(doc: Doc) -> None:
        *head, last = path.split(".")
        node: Any = doc
        for k in head:
            node = node[int(k) if k.isdigit() else k]
        del node[last]

    return mutate


FLAVOR0 = "spec.resourceGroups.0.flavors.0"
BREAKS = {
    "ClusterQueue": [
        _set("spec.queueingStrategy", "Whatever"),
        _set(f"{FLAVOR0}.resources.0.nominalQuota", 1.5),
        _set(f"{FLAVOR0}.resources.0.nominalQuota", "lots"),
        _set(f"{FLAVOR0}.name", "Hall_A"),
        _drop("spec.resourceGroups.0.coveredResources"),
        _set("spec.resourceGroups.0.coveredResources", ["nvidia.com/gpu", "cpu"]),
        _set("spec.preemption.reclaimWithinCohort", "Never"),
        _set("spec.preemption.borrowWithinCohort.policy", "Sometimes"),
        _set("apiVersion", "kueue.x-k8s.io/v1alpha1"),
        _set("metadata.name", "Open AI"),
        _set("metadata.namespace", "tenant-openai"),
        _drop("spec.cohortName"),
    ],
    "ResourceFlavor": [
        _set("spec.topologyName", "Stargate Norway"),
        _set("spec.nodeLabels", {}),
        _set("spec.nodeLabels", {f"k{i}": "v" for i in range(9)}),
    ],
    "Topology": [
        _set("spec.levels", []),
        _set("spec.levels.0.nodeLabel", "kubernetes.io/hostname"),
        _set("spec.levels.1.nodeLabel", "narvik.io/hall"),
    ],
    "WorkloadPriorityClass": [_drop("value"), _set("value", "high")],
    "LocalQueue": [_drop("metadata.namespace"), _set("spec.clusterQueue", "Open_AI")],
    "Cohort": [_set("spec.parentName", "-pool-"), _set("kind", "Cohorts")],
}


@pytest.mark.parametrize(
    ("kind", "i"), [(k, i) for k, muts in BREAKS.items() for i in range(len(muts))]
)
def test_the_validator_rejects_a_broken_document(timeline, crds, kind, i):
    doc = [d for d in kueue_docs(timeline[0]) if d["kind"] == kind][-1]
    assert problems(doc, crds) == []
    broken = copy.deepcopy(doc)
    BREAKS[kind][i](broken)
    assert problems(broken, crds), f"{kind} mutation {i} was not caught"


def test_the_anchors_quota_follows_its_ramp(spec):
    anchor = spec.tenancy.tenant("openai")
    for step in anchor.quota:
        kset = kueue_set(spec, step.start)
        (cq,) = [d for d in kset.kind("ClusterQueue") if d["metadata"]["name"] == "openai"]
        assert sum(nominal(cq).values()) == anchor.quota_at(step.start) == step.gpus
    before = kueue_set(spec, dt.date(2027, 3, 31))
    (cq,) = [d for d in before.kind("ClusterQueue") if d["metadata"]["name"] == "openai"]
    assert sum(nominal(cq).values()) == 50_000


def test_the_timeline_files_follow_the_ramp_and_list_the_dates(spec, tmp_path):
    result = export_kueue(spec, tmp_path, timeline=True)
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    dates = ["2027-01-01", "2027-04-01", "2027-07-01", "2027-10-01", "2028-06-01"]
    assert index["dates"] == dates == [s.day.isoformat() for s in result.sets]
    anchor = spec.tenancy.tenant("openai")
    for day in dates:
        text = (tmp_path / day / "clusterqueues.yaml").read_text(encoding="utf-8")
        (cq,) = [d for d in yaml.safe_load_all(text) if d["metadata"]["name"] == "openai"]
        assert sum(nominal(cq).values()) == anchor.quota_at(dt.date.fromisoformat(day))
        assert {k for k, _ in FILES} == {
            next(yaml.safe_load_all((tmp_path / day / f).read_text(encoding="utf-8")))["kind"]
            for _, f in FILES
        }


def test_nominal_quotas_never_exceed_a_halls_gpus(timeline):
    for kset in timeline:
        gpus = {flavor_name(h): n for h, n in kset.hall_gpus.items()}
        flavors = {d["metadata"]["name"] for d in kset.kind("ResourceFlavor")}
        assert flavors == set(gpus)
        used = dict.fromkeys(gpus, 0)
        for cq in kset.kind("ClusterQueue"):
            for f, n in nominal(cq).items():
                assert f in flavors, f"{cq['metadata']['name']} names a flavor not online: {f}"
                used[f] += n
        assert all(used[f] <= gpus[f] for f in gpus), (kset.day, used)


def test_halls_of_a_later_phase_come_online_with_it(timeline):
    for kset in timeline:
        online = set(kset.hall_gpus)
        assert (online >= PHASE_2_HALLS) == (kset.day >= PHASE_2)
        assert online >= {"A", "B", "C", "D"}
    first = timeline[0]
    assert first.hall_gpus == dict.fromkeys("ABCD", 348 * 72)


def test_a_confined_tenant_gets_only_its_halls(timeline):
    for kset in timeline:
        (cq,) = [d for d in kset.kind("ClusterQueue") if d["metadata"]["name"] == "sigma2"]
        assert set(nominal(cq)) == {"hall-a", "hall-b"}
        assert sum(nominal(cq).values()) == 10_000


def test_limits_priorities_and_queues(timeline, spec):
    kset = timeline[0]
    cqs = {d["metadata"]["name"]: d for d in kset.kind("ClusterQueue")}
    for t in spec.tenancy.tenants:
        cq = cqs[t.name]
        assert cq["spec"]["cohortName"] == "stargate-norway"
        assert cq["spec"]["queueingStrategy"] == "BestEffortFIFO"
        assert cq["spec"]["preemption"]["borrowWithinCohort"]["policy"] == "LowerPriority"
        for f in cq["spec"]["resourceGroups"][0]["flavors"]:
            r = f["resources"][0]
            if t.max_borrow_gpus is None:
                assert "borrowingLimit" not in r
            else:
                assert r["borrowingLimit"] == min(t.max_borrow_gpus, 348 * 72)
            assert ("lendingLimit" in r) == (not t.lends)
    values = {d["metadata"]["name"]: d["value"] for d in kset.kind("WorkloadPriorityClass")}
    assert values["tier-national"] > values["tier-anchor"] > values["tier-regional"] > 0
    lqs = {d["metadata"]["namespace"]: d for d in kset.kind("LocalQueue")}
    namespaces = {d["metadata"]["name"] for d in kset.kind("Namespace")}
    assert set(lqs) == namespaces == {f"tenant-{t.name}" for t in spec.tenancy.tenants}
    assert {d["spec"]["clusterQueue"] for d in lqs.values()} == set(cqs)
    assert [d["metadata"]["name"] for d in kset.kind("Cohort")] == ["stargate-norway"]
    topo = kset.kind("Topology")[0]["metadata"]["name"]
    assert {d["spec"]["topologyName"] for d in kset.kind("ResourceFlavor")} == {topo}


def test_an_export_is_the_same_bytes_twice(spec, tmp_path):
    export_kueue(spec, tmp_path / "a", at=dt.date(2027, 5, 2))
    export_kueue(spec, tmp_path / "b", at=dt.date(2027, 5, 2))
    for _, name in FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert "2027-05-02" in (tmp_path / "a" / "clusterqueues.yaml").read_text(encoding="utf-8")


def test_bad_input_is_a_value_error_and_writes_nothing(spec, tmp_path):
    with pytest.raises(ValueError, match="--at and --timeline"):
        export_kueue(spec, tmp_path / "x", at=dt.date(2027, 1, 1), timeline=True)
    with pytest.raises(ValueError, match="no \\[tenancy\\]"):
        export_kueue(spec.model_copy(update={"tenancy": None}), tmp_path / "x")
    assert not (tmp_path / "x").exists()


# --- names -------------------------------------------------------------------------------


def _odd_tenancy() -> Tenancy:
    """Tenants and tiers whose names are not Kubernetes names."""
    tiers = (Tier(name="Tier One", priority=0), Tier(name="tier_two", priority=1))
    names = ["Sigma 2", "sigma-2", "ÆØÅ Forskning", "x" * 80, "-edge-", "A_b", "a-b"]
    tenants = tuple(
        Tenant(
            name=n,
            tier=tiers[i % 2].name,
            jurisdiction="NO",
            quota=(QuotaStep(start=dt.date(2027, 1, 1), gpus=1000 * i),),
            fair_share_weight=0.5 + i,
        )
        for i, n in enumerate(names)
    )
    return Tenancy(tiers=tiers, tenants=tenants)


def test_odd_tenant_names_become_valid_distinct_names(spec, crds, tmp_path):
    odd = spec.model_copy(update={"tenancy": _odd_tenancy()})
    kset = kueue_set(odd)
    for doc in kueue_docs(kset):
        assert problems(doc, crds) == [], doc["metadata"]
    namespaces = [d["metadata"]["name"] for d in kset.kind("Namespace")]
    assert all(is_dns_label(n) for n in namespaces)
    assert len(set(namespaces)) == len(namespaces) == 7
    assert "tenant-sigma-2" in namespaces  # a valid name is kept as it is
    weights = [d["spec"]["fairSharing"]["weight"] for d in kset.kind("ClusterQueue")]
    assert weights[0] == "0.5" and weights[1] == "1.5"
    assert render(kset.kind("Namespace")).count("kind: Namespace") == 7


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=100), prefix=st.sampled_from(["", "tenant-", "tier-"]))
def test_dns_label_always_gives_a_dns_label(name, prefix):
    label = dns_label(name, prefix)
    assert is_dns_label(label)
    if is_dns_label(prefix + name):
        assert label == prefix + name
    assert is_label_value(label_value(name))
    assert is_dns_label(namespace_name(name))


@settings(max_examples=200, deadline=None)
@given(a=st.text(max_size=70), b=st.text(max_size=70))
def test_distinct_names_stay_distinct(a, b):
    if a != b:
        assert dns_label(a) != dns_label(b)


# --- nominal_by_hall ---------------------------------------------------------------------


@st.composite
def fleets(draw: st.DrawFn) -> tuple[list[int], list[tuple[int, ...]], list[int]]:
    """Random hall sizes (some offline: 0), quotas and hall confinements."""
    halls = draw(st.lists(st.integers(0, 30_000), min_size=1, max_size=8))
    n = len(halls)
    tenants = draw(st.integers(1, 10))
    quotas = draw(st.lists(st.integers(0, 80_000), min_size=tenants, max_size=tenants))
    confined = st.lists(st.integers(0, n - 1), unique=True, max_size=n).map(
        lambda x: tuple(sorted(x))
    )
    halls_of = draw(st.lists(confined, min_size=tenants, max_size=tenants))
    return quotas, halls_of, halls


@settings(max_examples=400, deadline=None)
@given(fleet=fleets())
def test_nominal_by_hall_never_exceeds_a_hall_nor_a_quota(fleet):
    quotas, halls_of, hall_gpus = fleet
    out = nominal_by_hall(quotas, halls_of, hall_gpus)
    n = len(hall_gpus)
    for h in range(n):
        assert sum(row[h] for row in out) <= hall_gpus[h]
    used = [sum(row[h] for row in out) for h in range(n)]
    for i, row in enumerate(out):
        allowed = set(halls_of[i]) or set(range(n))
        assert all(g >= 0 for g in row)
        assert all(row[h] == 0 for h in range(n) if h not in allowed)
        assert sum(row) <= quotas[i]
        if sum(row) < quotas[i]:  # short only when every hall it may use is full
            assert all(used[h] == hall_gpus[h] for h in allowed), (i, row, used)


@settings(max_examples=200, deadline=None)
@given(fleet=fleets())
def test_nominal_by_hall_gives_every_quota_that_fits(fleet):
    quotas, _, hall_gpus = fleet
    if sum(quotas) > sum(hall_gpus):
        quotas = [q * sum(hall_gpus) // max(1, sum(quotas)) for q in quotas]
    out = nominal_by_hall(quotas, [() for _ in quotas], hall_gpus)
    assert [sum(row) for row in out] == quotas


def test_a_scenario_that_names_a_phase_has_its_halls_throughout(spec):
    phase_2 = spec.model_copy(update={"phase": "phase-2"})
    assert set(kueue_set(phase_2).hall_gpus) == set("ABCDEFGHIJ")
    assert dt.date(2028, 6, 1) not in timeline_dates(phase_2)
    phase_1 = spec.model_copy(update={"phase": "phase-1"})
    assert set(kueue_set(phase_1, dt.date(2029, 1, 1)).hall_gpus) == set("ABCD")


def test_a_flat_pool_is_one_flavor_and_hall_confinement_is_refused(spec):
    flat = spec.with_overrides(site="flat:5000")
    with pytest.raises(ValueError, match="allowed_halls: unknown halls A, B"):
        kueue_set(flat)
    tenancy = spec.tenancy.model_copy(
        update={
            "tenants": tuple(
                t.model_copy(update={"allowed_halls": ()}) for t in spec.tenancy.tenants
            )
        }
    )
    kset = kueue_set(flat.model_copy(update={"tenancy": tenancy}))
    assert kset.hall_gpus == {"pool": 5000}
    (flavor,) = kset.kind("ResourceFlavor")
    assert flavor["metadata"]["name"] == "hall-pool"
    assert "nvidia.com/gpu.product" not in flavor["spec"]["nodeLabels"]
    assert kset.notices and "only 5,000 fit" in " ".join(kset.notices)


def test_absent_crds_skip_here_but_fail_under_ci(monkeypatch, tmp_path):
    monkeypatch.setitem(globals(), "CRD_DIR", tmp_path / "absent")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="../shared"):
        crd_path("ClusterQueue")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        crd_path("ClusterQueue")


def test_the_cohort_holds_exactly_the_gpus_no_queue_covers(timeline):
    """Queues' nominal quotas plus the cohort's own quota are each hall's GPUs: the whole
    online fleet is admissible, as in the ``kueue`` emulation (cohort_quota_by_hall)."""
    for kset in timeline:
        gpus = {flavor_name(h): n for h, n in kset.hall_gpus.items()}
        (cohort,) = kset.kind("Cohort")
        covered = dict.fromkeys(gpus, 0)
        for f in cohort["spec"]["resourceGroups"][0]["flavors"]:
            covered[f["name"]] += f["resources"][0]["nominalQuota"]
        for cq in kset.kind("ClusterQueue"):
            for f, n in nominal(cq).items():
                covered[f] += n
        assert covered == gpus, kset.day
