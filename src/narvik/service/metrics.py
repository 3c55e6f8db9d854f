"""Prometheus metrics of one app (its own registry: no global state)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
