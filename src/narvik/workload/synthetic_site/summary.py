"""The model's figures for a spec, without generating it."""

from __future__ import annotations

import math
from typing import Any

from narvik.workload.synthetic_site.acme import SEREN_RUNTIME_MEAN_TO_MEDIAN
from narvik.workload.synthetic_site.calibration import ResearchModel, research_model
from narvik.workload.synthetic_site.inference_jobs import inference_domains
from narvik.workload.synthetic_site.parameters import INFERENCE_JOB_S, TRAINING_MEDIAN_S
from narvik.workload.synthetic_site.spec import SiteWorkloadSpec, research_job_count
from narvik.workload.synthetic_site.training_jobs import mean_gang_gpu_s, training_domains


def describe(spec: SiteWorkloadSpec) -> dict[str, Any]:
    """The model's figures for ``spec`` without generating it (times in s, work in GPU-s).

    ``research``: job count, GPU-s per job, ``beta``, ``sigma``, median and
    mean run time (after the [60 s, 14 d] clip), their ratio, the fractions
    at the limit and the floor, mean GPUs, and whether Seren's mean-to-median
    ratio could be kept. ``training`` / ``inference``: size ranges and
    expected counts. ``budgets_gpu_s``: each profile's offered GPU-seconds.
    """
    out: dict[str, Any] = {
        "n_gpus": spec.n_gpus,
        "span_s": spec.span_s,
        "load": spec.load,
        "offered_gpu_s": spec.load * spec.n_gpus * spec.span_s,
        "budgets_gpu_s": {f"{t.name}/{t.kind}": spec.budget_gpu_s(t) for t in spec.tenants},
    }
    model = research_model(spec)
    if model is not None:
        out["research"] = describe_research(spec, model)
    out["training"] = describe_training(spec)
    out["inference"] = describe_inference(spec)
    return out


def describe_research(spec: SiteWorkloadSpec, model: ResearchModel) -> dict[str, Any]:
    """The research family's fitted model and job count."""
    return {
        "jobs": research_job_count(spec),
        "gpu_s_per_job": model.gpu_s_per_job,
        "mean_gpus": model.mean_gpus,
        "max_gpus": 2 ** (len(model.probs) - 1),
        "beta": model.beta,
        "sigma": model.sigma,
        "median_runtime_s": model.median_runtime_s,
        "mean_runtime_s": model.mean_runtime_s,
        "mean_to_median": model.mean_to_median,
        "seren_mean_to_median": SEREN_RUNTIME_MEAN_TO_MEDIAN,
        "frac_at_limit": model.frac_at_limit,
        "frac_at_floor": model.frac_at_floor,
        "shape_kept": model.shape_kept,
    }


def describe_training(spec: SiteWorkloadSpec) -> dict[str, Any]:
    """Gang sizes, median run time and the expected number of gangs."""
    t_lo, t_hi = training_domains(spec)
    train = math.fsum(spec.budget_gpu_s(t) for t in spec.tenants if t.kind == "training")
    return {
        "gang_gpus": (t_lo * spec.domain_gpus, t_hi * spec.domain_gpus),
        "median_runtime_s": TRAINING_MEDIAN_S,
        "expected_jobs": train / mean_gang_gpu_s(spec),
    }


def describe_inference(spec: SiteWorkloadSpec) -> dict[str, Any]:
    """Fleet sizes, the upper bound of the GPUs held by serving, and the job length."""
    inf_share = math.fsum(t.load_share for t in spec.tenants if t.kind == "inference")
    i_lo, i_hi = inference_domains(spec)
    return {
        "fleet_gpus": (i_lo * spec.domain_gpus, i_hi * spec.domain_gpus),
        "steady_gpus_upper": inf_share * spec.load * spec.n_gpus,
        "job_s": INFERENCE_JOB_S,
    }
