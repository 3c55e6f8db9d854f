"""The synthetic site workload: invariants, offered load and shares, Acme calibration."""

from __future__ import annotations

import builtins
import dataclasses
import math
import re
from pathlib import Path

import numpy as np
import pytest

from narvik.workload import synthetic_site as ss
from narvik.workload.job import JobTable
from narvik.workload.synthetic_site import (
    DAY_S,
    DEFAULT_TENANTS,
    SEREN_AVG_GPU_NUM,
    SEREN_RUNTIME_MEAN_TO_MEDIAN,
    YEAR_S,
    SiteWorkloadSpec,
    TenantProfile,
    acme_statistics,
    describe,
    generate_site_jobs,
    research_model,
    site_tenants,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
ACME_CSV = REPO_ROOT.parent / "shared" / "data" / "traces" / "acme_cluster_summary.csv"

# A small site and 60 days keep the tests fast. research_jobs=100,000 per year on
# 10,080 GPUs gives each research job the same GPU-time budget as the default
# year (1,000,000 jobs on 100,224 GPUs); 50,000 doubles it.
SMALL = SiteWorkloadSpec(n_gpus=10_080, span_s=60 * DAY_S, research_jobs=100_000, seed=3)
SMALL_HEAVY = dataclasses.replace(SMALL, research_jobs=50_000)
YEAR = SiteWorkloadSpec(n_gpus=100_224, span_s=YEAR_S)


@pytest.fixture(scope="module")
def small() -> JobTable:
    return generate_site_jobs(SMALL)


@pytest.fixture(scope="module")
def year() -> JobTable:
    return generate_site_jobs(YEAR)


_CACHE: dict[SiteWorkloadSpec, JobTable] = {}


def small_or_generate(spec: SiteWorkloadSpec) -> JobTable:
    """Generate once per spec for the whole module."""
    if spec not in _CACHE:
        _CACHE[spec] = generate_site_jobs(spec)
    return _CACHE[spec]


def kinds(jobs: JobTable) -> np.ndarray:
    return np.array([s.rsplit("-", 2)[1] for s in jobs.job_id.tolist()])


def work(jobs: JobTable) -> np.ndarray:
    return jobs.gpus * jobs.runtime_s


COLUMNS = ("job_id", "tenant", "tier", "gpus", "submit_s", "runtime_s", "requested_s")


# --- tenants and spec ----------------------------------------------------------------


def test_default_tenants_follow_the_mission() -> None:
    assert math.isclose(math.fsum(t.load_share for t in DEFAULT_TENANTS), 1.0)
    by = {(t.name, t.kind): t for t in DEFAULT_TENANTS}
    assert by[("openai", "training")].tier == "anchor"
    assert by[("openai", "inference")].jurisdiction == "US"
    national = {t.name: t.jurisdiction for t in DEFAULT_TENANTS if t.tier == "national"}
    assert national and set(national.values()) == {"NO"}
    regional = {t.jurisdiction for t in DEFAULT_TENANTS if t.tier == "regional"}
    assert {"GB", "SE", "FI", "DK"} <= regional
    assert [t.name for t in site_tenants(SMALL)][0] == "openai"
    assert {t.name: t.jurisdiction for t in site_tenants(SMALL)}["uk-public"] == "GB"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"load": 0.0}, "load"),
        ({"load": -0.5}, "load"),
        ({"load": 2.01}, "load"),
        ({"load": math.nan}, "load"),
        ({"n_gpus": 71}, "n_gpus"),
        ({"n_gpus": 0}, "n_gpus"),
        ({"span_s": -1.0}, "span_s"),
        ({"span_s": 0.0}, "span_s"),
        ({"span_s": math.inf}, "span_s"),
        ({"research_jobs": -1}, "research_jobs"),
        ({"research_jobs": 0}, "research_jobs"),
        ({"seed": -1}, "seed"),
        ({"domain_gpus": 0}, "domain_gpus"),
        ({"tenants": DEFAULT_TENANTS[:-1]}, "load_share"),
        ({"tenants": ()}, "tenants"),
        ({"tenants": (*DEFAULT_TENANTS[:-1], DEFAULT_TENANTS[-2])}, "tenants"),
    ],
)
def test_bad_spec_names_the_field(change: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        dataclasses.replace(SMALL, **change)


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("x", "gold", "NO", 0.5, "research"), "tier"),
        (("x", "anchor", "NO", 0.5, "batch"), "kind"),
        (("x", "anchor", "NO", 1.5, "research"), "load_share"),
        (("x", "anchor", "", 0.5, "research"), "jurisdiction"),
        (("", "anchor", "NO", 0.5, "research"), "name"),
    ],
)
def test_bad_tenant_profile_names_the_field(args: tuple, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        TenantProfile(*args)


def test_tenant_with_two_tiers_is_rejected() -> None:
    tenants = (
        TenantProfile("a", "anchor", "US", 0.5, "training"),
        TenantProfile("a", "national", "US", 0.5, "inference"),
    )
    with pytest.raises(ValueError, match="tier"):
        SiteWorkloadSpec(n_gpus=720, span_s=DAY_S, tenants=tenants)


def test_too_few_research_jobs_for_the_share_is_an_error() -> None:
    with pytest.raises(ValueError, match="research_jobs"):
        generate_site_jobs(dataclasses.replace(YEAR, research_jobs=1_000))


# --- determinism, order, invariants ------------------------------------------------


def test_same_spec_same_table_bit_for_bit(small: JobTable) -> None:
    again = generate_site_jobs(SMALL)
    for col in COLUMNS:
        a, b = getattr(small, col), getattr(again, col)
        if a.dtype == object:
            assert a.tolist() == b.tolist(), col
        else:
            assert a.tobytes() == b.tobytes(), col


def test_another_seed_another_table(small: JobTable) -> None:
    other = generate_site_jobs(dataclasses.replace(SMALL, seed=4))
    assert len(other) != len(small) or not np.array_equal(other.submit_s, small.submit_s)
    assert not np.array_equal(other.runtime_s[:100], small.runtime_s[:100])


def test_profiles_have_their_own_streams(small: JobTable) -> None:
    """Reordering the tenants changes the order of ties only, not anyone's jobs."""
    shuffled = dataclasses.replace(SMALL, tenants=tuple(reversed(SMALL.tenants)))
    other = generate_site_jobs(shuffled)
    a = np.argsort(small.job_id.astype(str))
    b = np.argsort(other.job_id.astype(str))
    for col in COLUMNS:
        assert getattr(small, col)[a].tolist() == getattr(other, col)[b].tolist(), col


def test_sorted_by_submit_then_profile_then_seq(small: JobTable) -> None:
    assert np.all(np.diff(small.submit_s) >= 0)
    pos = {(t.name, t.kind): i for i, t in enumerate(SMALL.tenants)}
    group = np.array([pos[(t, k)] for t, k in zip(small.tenant, kinds(small), strict=True)])
    seq = np.array([int(s.rsplit("-", 1)[1]) for s in small.job_id.tolist()])
    key = np.lexsort((seq, group, small.submit_s))
    assert np.array_equal(key, np.arange(len(small)))
    for g in np.unique(group):  # seq counts 1, 2, ... in submit order within a profile
        assert np.array_equal(seq[group == g], np.arange(1, np.sum(group == g) + 1))


@pytest.mark.parametrize("spec", [SMALL, SMALL_HEAVY], ids=["small", "heavy"])
def test_invariants(spec: SiteWorkloadSpec) -> None:
    jobs = small_or_generate(spec)
    n = len(jobs)
    assert n > 0
    assert len(set(jobs.job_id.tolist())) == n
    pattern = re.compile(r"^(.+)-(training|inference|research)-([1-9][0-9]*)$")
    tier = {t.name: t.tier for t in spec.tenants}
    for jid, ten, tr in zip(jobs.job_id.tolist(), jobs.tenant, jobs.tier, strict=True):
        m = pattern.match(jid)
        assert m and m.group(1) == ten and tier[ten] == tr, jid
    assert jobs.gpus.min() >= 1 and jobs.gpus.max() <= spec.n_gpus
    assert np.all(jobs.runtime_s > 0)
    assert jobs.submit_s.min() >= 0 and jobs.submit_s.max() < spec.span_s
    assert np.all(jobs.requested_s >= jobs.runtime_s)
    for col in ("submit_s", "runtime_s"):
        arr = getattr(jobs, col)
        assert np.array_equal(arr, np.floor(arr)), f"{col} in whole seconds"


def test_each_tenant_present_with_its_tier(small: JobTable) -> None:
    present = dict(zip(small.tenant.tolist(), small.tier.tolist(), strict=True))
    assert present == {t.name: t.tier for t in DEFAULT_TENANTS}
    assert set(zip(small.tenant.tolist(), kinds(small).tolist(), strict=True)) == {
        (t.name, t.kind) for t in DEFAULT_TENANTS
    }


# --- offered load and shares -------------------------------------------------------


@pytest.mark.parametrize("spec", [SMALL, SMALL_HEAVY, YEAR], ids=["small", "heavy", "year"])
def test_offered_load_and_tenant_shares(spec: SiteWorkloadSpec, year: JobTable) -> None:
    jobs = year if spec is YEAR else small_or_generate(spec)
    w = work(jobs)
    load = w.sum() / (spec.n_gpus * spec.span_s)
    assert abs(load / spec.load - 1) < 0.05
    total = w.sum()
    kind = kinds(jobs)
    for t in spec.tenants:
        mine = (jobs.tenant == t.name) & (kind == t.kind)
        assert abs(w[mine].sum() / total - t.load_share) < 0.015, (t.name, t.kind)


def test_other_load_and_custom_tenants() -> None:
    tenants = (
        TenantProfile("a", "anchor", "US", 0.7, "training"),
        TenantProfile("b", "regional", "EU", 0.3, "research"),
    )
    spec = SiteWorkloadSpec(n_gpus=20_160, span_s=30 * DAY_S, load=1.5, tenants=tenants)
    jobs = generate_site_jobs(spec)
    load = work(jobs).sum() / (spec.n_gpus * spec.span_s)
    assert abs(load / 1.5 - 1) < 0.05
    assert set(jobs.tenant.tolist()) == {"a", "b"}


# --- family shapes ------------------------------------------------------------------


def research_mask(jobs: JobTable) -> np.ndarray:
    return kinds(jobs) == "research"


def check_acme_shape(jobs: JobTable, avg_gpu_num: float, mean_to_median: float) -> None:
    r = research_mask(jobs)
    gpus, rt = jobs.gpus[r], jobs.runtime_s[r]
    assert np.median(gpus) == 1
    assert abs(gpus.mean() / avg_gpu_num - 1) < 0.20
    assert gpus.max() <= 1024
    assert np.all((gpus & (gpus - 1)) == 0), "powers of two"
    ratio = rt.mean() / np.median(rt)
    assert abs(ratio / mean_to_median - 1) < 0.25, ratio


@pytest.mark.parametrize("spec", [SMALL, SMALL_HEAVY, YEAR], ids=["small", "heavy", "year"])
def test_research_family_keeps_seren_shape_from_embedded_constants(
    spec: SiteWorkloadSpec, year: JobTable
) -> None:
    jobs = year if spec is YEAR else small_or_generate(spec)
    check_acme_shape(jobs, SEREN_AVG_GPU_NUM, SEREN_RUNTIME_MEAN_TO_MEDIAN)


@pytest.mark.parametrize("seed", [0, 1, 2, 7])
def test_seren_shape_holds_across_seeds(seed: int) -> None:
    jobs = generate_site_jobs(dataclasses.replace(SMALL, seed=seed))
    check_acme_shape(jobs, SEREN_AVG_GPU_NUM, SEREN_RUNTIME_MEAN_TO_MEDIAN)


def test_research_family_matches_the_acme_csv(small: JobTable) -> None:
    if not ACME_CSV.exists():
        pytest.skip("../shared absent")
    seren = acme_statistics(ACME_CSV)["Seren"]
    assert seren["avg_gpu_num"] == ss.SEREN_AVG_GPU_NUM
    assert seren["med_gpu_num"] == ss.SEREN_MED_GPU_NUM
    assert seren["max_gpu"] == ss.SEREN_MAX_GPU
    assert seren["avg_run_time_gpu"] == ss.SEREN_AVG_RUN_TIME_GPU_S
    assert seren["med_run_time_gpu"] == ss.SEREN_MED_RUN_TIME_GPU_S
    assert seren["max_run_time_gpu"] == ss.SEREN_MAX_RUN_TIME_GPU_S
    assert seren["gpu_job_num"] == ss.SEREN_GPU_JOB_NUM
    gpu_time = seren["complete_gpu_time"] + seren["cancel_gpu_time"] + seren["fail_gpu_time"]
    assert gpu_time == ss.SEREN_GPU_TIME_S
    ratio = seren["avg_run_time_gpu"] / seren["med_run_time_gpu"]
    check_acme_shape(small, seren["avg_gpu_num"], ratio)


def test_generator_does_not_read_files(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"generator opened {args[:1]}")

    monkeypatch.setattr(builtins, "open", no_open)
    assert len(generate_site_jobs(dataclasses.replace(SMALL, span_s=DAY_S))) > 0


def test_research_runtimes_and_requests(small: JobTable) -> None:
    r = research_mask(small)
    rt, req = small.runtime_s[r], small.requested_s[r]
    assert rt.min() >= 60 and rt.max() <= 14 * DAY_S
    assert np.all(req % 900 == 0) and req.max() <= 14 * DAY_S
    over = req / rt
    assert 1.5 < np.median(over) < 4.5, "users overestimate"


def test_research_arrivals_follow_the_daily_cycle(small: JobTable) -> None:
    hour = (small.submit_s[research_mask(small)] % DAY_S) / 3600
    day = np.sum((hour >= 9) & (hour < 17))  # around 13:00 UTC = 14:00 CET
    night = np.sum((hour >= 21) | (hour < 5))
    assert day > 1.8 * night  # 1 + 0.5 cos: expected ratio 2.4


def test_few_big_jobs_take_most_gpu_time(year: JobTable, small: JobTable) -> None:
    for jobs in (year, small):
        big = jobs.gpus >= 256
        assert big.mean() < 0.05
        assert work(jobs)[big].sum() > 0.5 * work(jobs).sum()


@pytest.mark.parametrize("spec", [SMALL, YEAR], ids=["small", "year"])
def test_training_gangs(spec: SiteWorkloadSpec, year: JobTable) -> None:
    jobs = year if spec is YEAR else small_or_generate(spec)
    t = kinds(jobs) == "training"
    g = jobs.gpus[t]
    assert t.sum() > 10
    assert np.all(g % 72 == 0)
    assert g.min() >= 16 * 72 and g.max() <= min(256 * 72, spec.n_gpus // 4)
    rt = jobs.runtime_s[t]
    assert rt.min() >= 6 * 3600 and rt.max() <= 21 * DAY_S
    assert 1 * DAY_S < np.median(rt) < 3 * DAY_S
    np.testing.assert_allclose(jobs.requested_s[t], np.ceil(rt / 3600) * 3600 * 1.1)


@pytest.mark.parametrize("spec", [SMALL, YEAR], ids=["small", "year"])
def test_inference_fleets_are_steady_and_back_to_back(
    spec: SiteWorkloadSpec, year: JobTable
) -> None:
    jobs = year if spec is YEAR else small_or_generate(spec)
    i = kinds(jobs) == "inference"
    g, sub, rt = jobs.gpus[i], jobs.submit_s[i], jobs.runtime_s[i]
    assert np.all(g % 72 == 0)
    assert np.array_equal(jobs.requested_s[i], rt)
    held = {int(g[(sub <= t) & (t < sub + rt)].sum()) for t in np.linspace(0, spec.span_s - 1, 97)}
    assert len(held) == 1, "a steady set of fleets"
    steady = held.pop()
    share = sum(t.load_share for t in spec.tenants if t.kind == "inference")
    assert 0.85 < steady / (share * spec.load * spec.n_gpus) <= 1.01
    ends = set((sub + rt).tolist())
    later = sub > 0
    assert all(s in ends for s in sub[later].tolist()), "each renewal starts as one ends"
    assert np.all(rt[later] == 7 * DAY_S)


def test_tiny_site_still_valid() -> None:
    spec = SiteWorkloadSpec(n_gpus=72, span_s=30 * DAY_S, research_jobs=1_000)
    jobs = generate_site_jobs(spec)
    assert jobs.gpus.max() <= 72 and np.all(jobs.runtime_s > 0)
    assert abs(work(jobs).sum() / (72 * 30 * DAY_S) / 0.9 - 1) < 0.05


# --- describe / the model ----------------------------------------------------------


def test_describe_the_default_year() -> None:
    """The figures quoted in the module docstring."""
    d = describe(YEAR)["research"]
    assert d["jobs"] == 1_000_000
    assert d["gpu_s_per_job"] == pytest.approx(1.14e6, rel=0.01)
    assert d["median_runtime_s"] == pytest.approx(8_300, rel=0.03)
    assert d["mean_runtime_s"] == pytest.approx(96_000, rel=0.03)
    assert d["mean_to_median"] == pytest.approx(SEREN_RUNTIME_MEAN_TO_MEDIAN, rel=1e-6)
    assert d["sigma"] == pytest.approx(2.6, abs=0.05)
    assert d["frac_at_limit"] == pytest.approx(0.03, abs=0.005)
    assert d["shape_kept"] and d["mean_gpus"] == pytest.approx(SEREN_AVG_GPU_NUM)


def test_model_reproduces_seren_at_seren_scale() -> None:
    """At Seren's own budget per job the fitted model is Seren: median ~122 s, sigma ~2.2."""
    budget = ss.SEREN_GPU_TIME_S / ss.SEREN_GPU_JOB_NUM  # 32,400 GPU-s per job
    n_gpus = 100_224
    jobs_per_year = round(0.4 * 0.9 * n_gpus * YEAR_S / budget)
    m = research_model(SiteWorkloadSpec(n_gpus=n_gpus, span_s=DAY_S, research_jobs=jobs_per_year))
    assert m is not None
    assert m.mean_to_median == pytest.approx(SEREN_RUNTIME_MEAN_TO_MEDIAN, rel=1e-6)
    assert m.median_runtime_s == pytest.approx(ss.SEREN_MED_RUN_TIME_GPU_S, rel=0.4)
    assert 2.0 < m.sigma < 2.4


# --- acme_statistics -----------------------------------------------------------------


def test_acme_statistics_reads_the_real_csv() -> None:
    if not ACME_CSV.exists():
        pytest.skip("../shared absent")
    stats = acme_statistics(ACME_CSV)
    assert {"Seren", "Kalos"} <= set(stats)
    assert stats["Seren"]["avg_gpu_num"] == 5.68
    assert stats["Kalos"]["max_gpu"] == 1024
    assert math.isnan(stats["Philly"]["avg_run_time_cpu"])


HEADER = (
    "id,job_num,avg_run_time_gpu,avg_gpu_num,med_run_time_gpu,med_gpu_num,"
    "max_run_time_gpu,max_gpu\n"
)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (HEADER + "A,1,2,3,4,5,6,7\nB,1,2,three,4,5,6,7\n", 3),
        (HEADER + "A,1,2,3,4,5,6\n", 2),
        (HEADER + "A,1,2,3,4,5,6,7\nA,1,2,3,4,5,6,7\n", 3),
        (HEADER + ",1,2,3,4,5,6,7\n", 2),
        ("id,job_num,avg_gpu_num\nA,1,2\n", 1),
        ("name,avg_run_time_gpu\n", 1),
        ("", 1),
    ],
)
def test_acme_statistics_bad_rows_name_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    p = tmp_path / "bad_acme.csv"
    p.write_text(text)
    with pytest.raises(ValueError, match=rf"bad_acme\.csv:{line}:"):
        acme_statistics(p)


def test_acme_statistics_good_hand_written(tmp_path: Path) -> None:
    p = tmp_path / "acme.csv"
    p.write_text(HEADER + "X,10,100.5,2,50,1,1000,8\nY,1,,1,1,1,1,1\n")
    stats = acme_statistics(p)
    assert stats["X"]["avg_run_time_gpu"] == 100.5 and math.isnan(stats["Y"]["avg_run_time_gpu"])
