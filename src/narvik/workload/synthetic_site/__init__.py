"""A seeded synthetic year (or any span) of work for a whole site and its tenants.

:func:`generate_site_jobs` turns a :class:`SiteWorkloadSpec` (fleet size, span,
offered load, research job count, seed, tenants) into a :class:`JobTable` in
submit order. Each tenant profile offers ``load_share`` of the fleet's GPU time;
the offered load is ``sum(gpus * runtime_s) / (n_gpus * span_s)`` over the jobs
submitted in ``[0, span_s)`` (full runtimes, including what runs past the end).
Each tenant's GPU time is met to a small fraction of one job (see below).

Three job-shape families (``TenantProfile.kind``):

``research`` - many small jobs, calibrated to the Seren cluster of the Acme trace
  (Hu et al., "Characterization of Large Language Model Development in the
  Datacenter", NSDI 2024; Shanghai AI Lab, 2023; figures in
  ``../shared/data/traces/acme_cluster_summary.csv``, embedded below as ``SEREN_*``).

  * Size in GPUs: ``P(1) = 0.6``; otherwise ``2**k`` GPUs, ``k = 1..10``, with
    ``P(k) ~ q**k`` and ``q`` (~0.533) solved so the mean is Seren's
    ``avg_gpu_num`` = 5.68; the cap is 1,024 GPUs (Seren's ``max_gpu``), or the
    largest power of two <= ``n_gpus`` on a smaller site.
  * Run time: ``log R = mu + beta * k * ln 2 + sigma * Z`` - lognormal within a
    size class, longer for bigger jobs. ``beta`` (~0.37) reproduces Seren's
    coupling of size and run time: its GPU time per GPU job (sum of the
    ``*_gpu_time`` columns / ``gpu_job_num`` = 32,400 GPU-s) is 4.03 times
    ``avg_gpu_num * avg_run_time_gpu``. Run times are clipped to [60 s, 14 d]
    (14 d = Seren's ``max_run_time_gpu`` of 1,209,604 s, i.e. the partition's
    time limit; jobs at the limit are jobs killed by it).
  * Scale: the median is scaled by one factor (``exp(mu)``) so the family's GPU
    time meets its tenants' shares at ``research_jobs`` jobs per 365 days.
    Acme's jobs are tiny next to a 100,000-GPU site (Seren's 664,000 GPU jobs
    of about six months kept ~1,400 GPUs busy), so the factor is large: at the default year (100,224
    GPUs, load 0.9, 40 % research share, 1,000,000 jobs) each job must carry
    ~1.14e6 GPU-s, and the scaled median is ~8,300 s (2.3 h), the mean
    ~96,000 s (27 h). The 14-day limit then cuts the lognormal tail, which would
    shrink the mean-to-median ratio from Seren's 11.6 to ~7, so ``sigma`` is
    widened (2.21 for Seren itself, ~2.6 at the default year) to keep the
    ratio of the *clipped* run times at Seren's ``avg/med`` = 1414.3 / 122 =
    11.6; about 3 % of jobs then hit the 14-day limit and 3 % the 60-s floor.
    The budget per job depends only on ``load * share * n_gpus / research_jobs``;
    :func:`describe` reports the fitted ``sigma``, median, mean and the
    clipped fractions for any spec (``research_model`` the whole fit).
  * Sampling: the family is one stratified sample (size-class counts are
    ``n * p_k`` rounded at random; within a class the normal scores are one
    draw per equiprobable stratum, a Latin hypercube), its scale is fitted to
    the family's GPU time on the sample, the heaviest jobs are dealt, heaviest
    first, to the tenant furthest below its budget and the rest at random
    (each tenant gets ``research_jobs`` split by share), and a last per-tenant
    scale (within a few % of 1) makes each tenant's GPU time exact. Without
    this a tenant's GPU time would hinge on the one or two 1,024-GPU, 14-day
    jobs it happened to draw on a small or short spec.
  * Requested time: runtime x ``U(1, 5)`` (the "f-model" of user overestimates
    of Mu'alem and Feitelson, IEEE TPDS 12(6), 2001, with f = 5), rounded up to
    a whole 15 minutes (estimates are round values: Tsafrir, Etsion and
    Feitelson, "Backfilling using system-generated predictions rather than
    user runtime estimates", IEEE TPDS 18(6), 2007), at most the 14-day limit.
  * Arrivals: a Poisson process with a daily cycle, rate ~ ``1 + 0.5 cos(2 pi
    (t - 13 h) / 1 d)``, peaking at 13:00 UTC = 14:00 Central European time
    with ``t = 0`` at 00:00 UTC (amplitude and peak are assumptions, in the
    spirit of the daily cycle of Lublin and Feitelson, JPDC 63(11), 2003).

``training`` - the anchor's pre-training and large fine-tuning runs: gangs of
  ``domain_gpus`` x a log-uniform number of NVLink domains in [16, 256]
  (1,152..18,432 GPUs on NVL72), at most 25 % of the fleet (at least one
  domain); run time lognormal, median 2 days, log-sigma 1.0 (assumption),
  clipped to [6 h, 21 d]; requested = runtime rounded up to whole hours + 10 %;
  arrivals homogeneous Poisson. Jobs are drawn until the tenant's GPU time is
  reached and the run times are then scaled by a factor close to 1 to meet it
  exactly (a Poisson process conditioned on its total work).

``inference`` - steady serving fleets: a few fleets of ``domain_gpus`` x
  U{8..32} domains (at most 25 % of the fleet). Each fleet is one job per week,
  resubmitted back to back; its first job starts at 0 and lasts a random phase
  in (0, 7 d] so the weekly renewals of the fleets are staggered; the last job
  submitted before ``span_s`` runs its full week. The fleets' sizes are chosen
  so their GPU-seconds meet the share (to half a domain); requested = runtime.
  On a site too small for a whole domain of serving the one fleet is smaller
  than a domain.

Job ids are ``f"{tenant}-{kind}-{seq}"`` with ``seq`` = 1, 2, ... in submit
order within the tenant profile. Output is sorted by ``submit_s`` (whole
seconds), then by the profile's position in ``spec.tenants``, then ``seq``.
Training and inference profiles, and each research tenant's arrivals and
estimates, draw from their own random streams (seeded by ``seed`` and the
profile's name and kind); the research sizes and run times come from one family
stream dealt to the tenants in name order. So the order of ``spec.tenants``
changes only the order of ties. Same spec: the same table, bit for bit.

Default tenants (assumptions; the mission names the tiers, not the shares):
the anchor OpenAI 60 % (45 % training, 15 % inference); the national tier 15 %
(Sigma2, the Norwegian research e-infrastructure, 8 %; Norwegian start-ups 7 %);
the regional tier buying surplus 25 % (UK public sector 7 %, Nordic private
sector 6 %, Finnish/EU-north research 6 %, Danish industry 6 %).

Modules: ``parameters`` (the model's constants), ``acme`` (Seren's figures and the
CSV reader), ``spec`` (tenant profiles, the spec), ``numerics`` (normal CDF and
quantiles, root finding on scipy, the clipped-lognormal mean, the scale that meets
a budget), ``calibration`` (the research family's size and run-time model fitted
to a spec), ``arrivals``, ``blocks`` (a profile's jobs, its random stream),
``research_jobs`` / ``training_jobs`` / ``inference_jobs`` (each family's jobs),
``generator`` (:func:`generate_site_jobs`), ``summary`` (:func:`describe`). The
names below are re-exported here; import them from ``narvik.workload.synthetic_site``.
"""

from __future__ import annotations

from narvik.workload.synthetic_site.acme import (
    SEREN_AVG_GPU_NUM,
    SEREN_AVG_RUN_TIME_GPU_S,
    SEREN_GPU_JOB_NUM,
    SEREN_GPU_TIME_S,
    SEREN_MAX_GPU,
    SEREN_MAX_RUN_TIME_GPU_S,
    SEREN_MED_GPU_NUM,
    SEREN_MED_RUN_TIME_GPU_S,
    SEREN_RUNTIME_MEAN_TO_MEDIAN,
    SEREN_SIZE_RUNTIME_COUPLING,
    acme_statistics,
)
from narvik.workload.synthetic_site.calibration import (
    RESEARCH_SIZE_RATIO,
    ResearchModel,
    research_model,
)
from narvik.workload.synthetic_site.generator import generate_site_jobs, site_tenants
from narvik.workload.synthetic_site.parameters import (
    DAY_S,
    DIURNAL_AMPLITUDE,
    DIURNAL_PEAK_UTC_S,
    INFERENCE_JOB_S,
    INFERENCE_MAX_DOMAINS,
    INFERENCE_MIN_DOMAINS,
    KINDS,
    RESEARCH_GREEDY_MAX_JOBS,
    RESEARCH_MAX_LOG2_GPUS,
    RESEARCH_MAX_RUNTIME_S,
    RESEARCH_MIN_RUNTIME_S,
    RESEARCH_OVERESTIMATE_MAX,
    RESEARCH_P_ONE_GPU,
    RESEARCH_REQUEST_ROUND_S,
    TIERS,
    TRAINING_MAX_DOMAINS,
    TRAINING_MAX_FLEET_FRACTION,
    TRAINING_MAX_RUNTIME_S,
    TRAINING_MEDIAN_S,
    TRAINING_MIN_DOMAINS,
    TRAINING_MIN_RUNTIME_S,
    TRAINING_REQUEST_MARGIN,
    TRAINING_SIGMA,
    WEEK_S,
    YEAR_S,
)
from narvik.workload.synthetic_site.spec import (
    DEFAULT_TENANTS,
    SiteWorkloadSpec,
    TenantProfile,
    research_job_count,
)
from narvik.workload.synthetic_site.summary import describe

__all__ = [
    "DAY_S",
    "DEFAULT_TENANTS",
    "DIURNAL_AMPLITUDE",
    "DIURNAL_PEAK_UTC_S",
    "INFERENCE_JOB_S",
    "INFERENCE_MAX_DOMAINS",
    "INFERENCE_MIN_DOMAINS",
    "KINDS",
    "RESEARCH_GREEDY_MAX_JOBS",
    "RESEARCH_MAX_LOG2_GPUS",
    "RESEARCH_MAX_RUNTIME_S",
    "RESEARCH_MIN_RUNTIME_S",
    "RESEARCH_OVERESTIMATE_MAX",
    "RESEARCH_P_ONE_GPU",
    "RESEARCH_REQUEST_ROUND_S",
    "RESEARCH_SIZE_RATIO",
    "SEREN_AVG_GPU_NUM",
    "SEREN_AVG_RUN_TIME_GPU_S",
    "SEREN_GPU_JOB_NUM",
    "SEREN_GPU_TIME_S",
    "SEREN_MAX_GPU",
    "SEREN_MAX_RUN_TIME_GPU_S",
    "SEREN_MED_GPU_NUM",
    "SEREN_MED_RUN_TIME_GPU_S",
    "SEREN_RUNTIME_MEAN_TO_MEDIAN",
    "SEREN_SIZE_RUNTIME_COUPLING",
    "TIERS",
    "TRAINING_MAX_DOMAINS",
    "TRAINING_MAX_FLEET_FRACTION",
    "TRAINING_MAX_RUNTIME_S",
    "TRAINING_MEDIAN_S",
    "TRAINING_MIN_DOMAINS",
    "TRAINING_MIN_RUNTIME_S",
    "TRAINING_REQUEST_MARGIN",
    "TRAINING_SIGMA",
    "WEEK_S",
    "YEAR_S",
    "ResearchModel",
    "SiteWorkloadSpec",
    "TenantProfile",
    "acme_statistics",
    "describe",
    "generate_site_jobs",
    "research_job_count",
    "research_model",
    "site_tenants",
]
