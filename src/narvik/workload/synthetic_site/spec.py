"""What to generate: tenant profiles, the default tenants, and the site workload spec.

Default tenants (assumptions; the mission names the tiers, not the shares):
the anchor OpenAI 60 % (45 % training, 15 % inference); the national tier 15 %
(Sigma2, the Norwegian research e-infrastructure, 8 %; Norwegian start-ups 7 %);
the regional tier buying surplus 25 % (UK public sector 7 %, Nordic private
sector 6 %, Finnish/EU-north research 6 %, Danish industry 6 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from narvik.workload.synthetic_site.parameters import (
    KINDS,
    TIERS,
    TRAINING_MAX_FLEET_FRACTION,
    YEAR_S,
)


def _is_int(x: object) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool)


def _is_number_in(x: object, lo: float, hi: float) -> bool:
    """A finite int or float in [lo, hi]."""
    return isinstance(x, int | float) and math.isfinite(x) and lo <= x <= hi


@dataclass(frozen=True)
class TenantProfile:
    """One tenant's offer of work in one job-shape family.

    ``load_share`` is the share of the fleet's offered GPU time (the shares of a
    spec's profiles sum to 1). A tenant may have several profiles (one per
    ``kind``), all with the same tier and jurisdiction.
    """

    name: str
    tier: str  # "anchor" | "national" | "regional"
    jurisdiction: str  # ISO 3166 country code ("US", "NO", "GB", ...) or "EU"
    load_share: float
    kind: str  # "training" | "inference" | "research"

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"tenant name must be a non-empty string, got {self.name!r}")
        if self.tier not in TIERS:
            raise ValueError(f"tenant {self.name}: tier must be one of {TIERS}, got {self.tier!r}")
        if self.kind not in KINDS:
            raise ValueError(f"tenant {self.name}: kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.jurisdiction, str) or not self.jurisdiction:
            raise ValueError(f"tenant {self.name}: jurisdiction must be a non-empty code")
        if not _is_number_in(self.load_share, 0.0, 1.0):
            raise ValueError(
                f"tenant {self.name}: load_share must be in [0, 1], got {self.load_share!r}"
            )


DEFAULT_TENANTS: tuple[TenantProfile, ...] = (
    TenantProfile("openai", "anchor", "US", 0.45, "training"),
    TenantProfile("openai", "anchor", "US", 0.15, "inference"),
    TenantProfile("sigma2", "national", "NO", 0.08, "research"),
    TenantProfile("no-startups", "national", "NO", 0.07, "research"),
    TenantProfile("uk-public", "regional", "GB", 0.07, "research"),
    TenantProfile("nordic-private", "regional", "SE", 0.06, "research"),
    TenantProfile("eu-north-research", "regional", "FI", 0.06, "research"),
    TenantProfile("dk-industry", "regional", "DK", 0.06, "research"),
)
"""The mission's tenants and their shares of offered GPU time (assumptions, sum 1)."""


@dataclass(frozen=True)
class SiteWorkloadSpec:
    """What to generate: fleet, span, offered load, research job count, seed, tenants.

    ``n_gpus``: GPU slots of the fleet; ``span_s``: length of the arrival window,
    s; ``load``: offered GPU-seconds / (``n_gpus * span_s``), in (0, 2];
    ``research_jobs``: jobs of the research family per 365 days (scaled pro rata
    to ``span_s``); ``domain_gpus``: GPUs of an NVLink domain (72 for NVL72).
    Invalid values raise ``ValueError`` naming the field.
    """

    n_gpus: int
    span_s: float
    load: float = 0.9
    research_jobs: int = 1_000_000
    seed: int = 0
    tenants: tuple[TenantProfile, ...] = field(default=DEFAULT_TENANTS)
    domain_gpus: int = 72

    def __post_init__(self) -> None:
        object.__setattr__(self, "tenants", tuple(self.tenants))
        _check_sizes(self)
        _check_tenants(self.tenants)
        if research_share(self) > 0 and self.research_jobs == 0:
            raise ValueError("research_jobs must be > 0 when research tenants have a load_share")

    def budget_gpu_s(self, profile: TenantProfile) -> float:
        """GPU-seconds the profile offers over the span: share x load x n_gpus x span_s."""
        return profile.load_share * self.load * self.n_gpus * self.span_s


def _check_sizes(spec: SiteWorkloadSpec) -> None:
    """The scalar fields: fleet, span, load, research job count, seed."""
    if not _is_int(spec.domain_gpus) or spec.domain_gpus < 1:
        raise ValueError(f"domain_gpus must be an integer >= 1, got {spec.domain_gpus!r}")
    if not _is_int(spec.n_gpus) or spec.n_gpus < spec.domain_gpus:
        raise ValueError(
            f"n_gpus must be an integer >= domain_gpus ({spec.domain_gpus}), got {spec.n_gpus!r}"
        )
    if not (isinstance(spec.span_s, int | float) and math.isfinite(spec.span_s)):
        raise ValueError(f"span_s must be a finite number of seconds, got {spec.span_s!r}")
    if spec.span_s <= 0:
        raise ValueError(f"span_s must be > 0 s, got {spec.span_s!r}")
    if not _is_number_in(spec.load, 0.0, 2.0) or spec.load == 0:
        raise ValueError(f"load must be in (0, 2], got {spec.load!r}")
    if not _is_int(spec.research_jobs) or spec.research_jobs < 0:
        raise ValueError(f"research_jobs must be an integer >= 0, got {spec.research_jobs!r}")
    if not _is_int(spec.seed) or spec.seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {spec.seed!r}")


def _check_tenants(tenants: tuple[TenantProfile, ...]) -> None:
    """Profiles: shares summing to 1, one profile per (name, kind), one tier per name."""
    if not tenants or not all(isinstance(t, TenantProfile) for t in tenants):
        raise ValueError("tenants must be a non-empty sequence of TenantProfile")
    total = math.fsum(t.load_share for t in tenants)
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"tenants: load_share values must sum to 1, got {total:.6g}")
    seen: dict[str, TenantProfile] = {}
    kinds: set[tuple[str, str]] = set()
    for t in tenants:
        if (t.name, t.kind) in kinds:
            raise ValueError(f"tenants: {t.name!r} has two {t.kind!r} profiles")
        kinds.add((t.name, t.kind))
        first = seen.setdefault(t.name, t)
        if (first.tier, first.jurisdiction) != (t.tier, t.jurisdiction):
            raise ValueError(
                f"tenants: {t.name!r} has profiles with different tier or jurisdiction"
            )


def research_share(spec: SiteWorkloadSpec) -> float:
    """The research profiles' share of the offered GPU time."""
    return math.fsum(t.load_share for t in spec.tenants if t.kind == "research")


def research_job_count(spec: SiteWorkloadSpec) -> int:
    """Research jobs over the span: ``research_jobs`` x ``span_s`` / 365 d, rounded."""
    return int(round(spec.research_jobs * spec.span_s / YEAR_S))


def domain_cap(spec: SiteWorkloadSpec) -> int:
    """Most NVLink domains one gang may take: 25 % of the fleet, at least one domain."""
    return max(1, int(TRAINING_MAX_FLEET_FRACTION * spec.n_gpus) // spec.domain_gpus)


def domain_range(spec: SiteWorkloadSpec, lo: int, hi: int) -> tuple[int, int]:
    """``[lo, hi]`` domains, both capped by :func:`domain_cap`."""
    cap = domain_cap(spec)
    return min(lo, cap), min(hi, cap)
