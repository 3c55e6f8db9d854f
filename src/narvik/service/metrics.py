"""Prometheus metrics of one app (its own registry: no global state).

``/metrics`` shows this process's own series (passes, submissions, the last pass's
totals) and, read from the database at scrape time so that every replica answers the
same, series per tenant (label ``tenant``: running GPUs, queued jobs and GPUs; plus the
submissions this process accepted) and of the facility (latest sample: IT, facility and
reused-heat power, the grid cap, the GPU power cap). ``/metrics`` is for operators (a
tenant's token gets 403); :func:`exposition` can restrict the text to the series
labelled with one tenant and the facility's (which ``/api/v1/power`` shows any tenant),
never the process series or other tenants', should tenants get a scrape of their own.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.submitted = Counter("narvik_jobs_submitted", "Jobs accepted", registry=r)
        self.replayed = Counter(
            "narvik_jobs_replayed", "Submissions answered from an idempotency key", registry=r
        )
        self.started = Counter("narvik_jobs_started", "Job starts by the scheduler", registry=r)
        self.completed = Counter("narvik_jobs_completed", "Jobs that ran to the end", registry=r)
        self.preempted = Counter("narvik_jobs_preempted", "Preemptions carried out", registry=r)
        self.cancelled = Counter("narvik_jobs_cancelled", "Running jobs cancelled", registry=r)
        self.pass_errors = Counter(
            "narvik_pass_errors", "Scheduling passes that failed", registry=r
        )
        self.pass_seconds = Histogram(
            "narvik_pass_duration_seconds",
            "Wall time of one scheduling pass",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=r,
        )
        self.busy_gpus = Gauge("narvik_busy_gpus", "GPUs running jobs", registry=r)
        self.queued_jobs = Gauge("narvik_queued_jobs", "Jobs waiting", registry=r)
        self.cap_fraction = Gauge("narvik_gpu_power_cap_fraction", "GPU power cap", registry=r)
        self.it_budget_w = Gauge("narvik_it_budget_watts", "IT power budget now", registry=r)
        self.service_time = Gauge("narvik_service_time_seconds", "Service clock", registry=r)
        self.tenant_submitted = Counter(
            "narvik_tenant_jobs_submitted",
            "Jobs accepted by this process, per tenant",
            ["tenant"],
            registry=None,  # shown through exposition(), filtered for tenants
        )


@dataclass(frozen=True)
class TenantSeries:
    running_gpus: int = 0
    queued_jobs: int = 0
    queued_gpus: int = 0


@dataclass(frozen=True)
class SiteSeries:
    """The facility as of the latest sample (None: no sample yet)."""

    at_s: float | None = None
    it_power_w: float | None = None
    facility_power_w: float | None = None
    heat_reused_w: float | None = None
    grid_cap_w: float | None = None
    cap_fraction: float | None = None


@dataclass(frozen=True)
class StateSeries:
    """What ``/metrics`` shows of the state in the database, read at scrape time."""

    tenants: dict[str, TenantSeries] = field(default_factory=dict)
    site: SiteSeries = field(default_factory=SiteSeries)


class _StateCollector(Collector):
    def __init__(self, state: StateSeries, submitted: dict[str, float]):
        self.state = state
        self.submitted = submitted

    def collect(self) -> Iterator[Metric]:
        per = [
            ("narvik_tenant_running_gpus", "GPUs running the tenant's jobs", "running_gpus"),
            ("narvik_tenant_queued_jobs", "Jobs of the tenant waiting", "queued_jobs"),
            ("narvik_tenant_queued_gpus", "GPUs the tenant's waiting jobs need", "queued_gpus"),
        ]
        for name, doc, attr in per:
            g = GaugeMetricFamily(name, doc, labels=["tenant"])
            for tenant, s in sorted(self.state.tenants.items()):
                g.add_metric([tenant], getattr(s, attr))
            yield g
        c = CounterMetricFamily(
            "narvik_tenant_jobs_submitted",
            "Jobs accepted by this process, per tenant",
            labels=["tenant"],
        )
        for tenant, n in sorted(self.submitted.items()):
            c.add_metric([tenant], n)
        yield c
        site = self.state.site
        for name, doc, value in (
            ("narvik_site_it_power_watts", "IT power (latest sample)", site.it_power_w),
            (
                "narvik_site_facility_power_watts",
                "Facility power (latest sample)",
                site.facility_power_w,
            ),
            ("narvik_site_heat_reused_watts", "Heat reused (latest sample)", site.heat_reused_w),
            ("narvik_site_grid_cap_watts", "Grid cap in force (latest sample)", site.grid_cap_w),
            ("narvik_site_gpu_power_cap_fraction", "GPU power cap in force", site.cap_fraction),
            (
                "narvik_site_sample_timestamp_seconds",
                "Service time of the latest sample",
                site.at_s,
            ),
        ):
            if value is not None:
                yield GaugeMetricFamily(name, doc, value=value)


def exposition(metrics: Metrics, state: StateSeries, tenant: str | None) -> bytes:
    """The text of ``/metrics``: for operators (``tenant`` None) this process's series and
    every tenant's; for a tenant only the series labelled with its name, and the facility.
    """
    submitted: dict[str, float] = {}
    for family in metrics.tenant_submitted.collect():
        for s in family.samples:
            if s.name.endswith("_total") and (tenant is None or s.labels["tenant"] == tenant):
                submitted[s.labels["tenant"]] = s.value
    if tenant is not None:
        state = StateSeries({k: v for k, v in state.tenants.items() if k == tenant}, state.site)
    registry = CollectorRegistry()
    registry.register(_StateCollector(state, submitted))
    text = generate_latest(registry)
    if tenant is not None:
        return text
    return generate_latest(metrics.registry) + text
