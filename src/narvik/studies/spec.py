"""The study file: which scenario, what to override, which seeds, which axes.

```toml
name = "anchor-ramp"
scenario = "stargate-norway"      # shipped name or path (relative to this file)
days = 120                        # any top-level scenario field may be set here
seeds = [1, 2, 3]
mode = "grid"                     # or "zip": the axes move together
[[axes]]
path = "tenancy.grace_period_s"   # a dotted path into the scenario
values = [300, 600, 1800]
[[axes]]
path = "tenancy.tenants.openai.quota"   # tables with names are addressed by name
values = [[...], [...]]
```
Errors name the file and the field.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from narvik.site.loader import format_validation_error


class StudyError(ValueError):
    """A study that cannot be loaded or expanded; the message names the file and field."""


class Axis(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(min_length=1, description="dotted path into the scenario")
    values: tuple[Any, ...] = Field(min_length=1, description="the values it takes")
    labels: tuple[str, ...] = Field(
        default=(), description="short names of the values, for the report (as many)"
    )

    @model_validator(mode="after")
    def _labels_match(self) -> Axis:
        if self.labels and len(self.labels) != len(self.values):
            raise ValueError(f"labels: {len(self.labels)} labels for {len(self.values)} values")
        return self


class ReportSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kpis: tuple[str, ...] = Field(
        default=(), description="KPI columns shown per axis (default: a standard set)"
    )
    pareto: tuple[str, str] | None = Field(
        default=None, description="two KPI columns for the Pareto view (x, y)"
    )
    minimize: tuple[str, ...] = Field(
        default=(), description="KPIs where lower is better (the Pareto view and the ranking)"
    )
    maximize: tuple[str, ...] = Field(
        default=(), description="KPIs where higher is better (when the name misleads)"
    )
    rank_by: str | None = Field(default=None, description="KPI the ranked table sorts by")


class StudySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="study name")
    scenario: str = Field(default="stargate-norway", description="shipped name or TOML path")
    seeds: tuple[int, ...] = Field(default=(0,), min_length=1, description="seeds of every run")
    mode: Literal["grid", "zip"] = Field(default="grid", description="how the axes combine")
    axes: tuple[Axis, ...] = Field(default=(), description="what varies from run to run")
    report: ReportSpec = Field(default=ReportSpec(), description="what study.html shows")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="scenario fields set for every run"
    )
    base_dir: Path | None = Field(default=None, exclude=True, description="the file's folder")

    @model_validator(mode="after")
    def _check(self) -> StudySpec:
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("seeds: a seed is listed twice")
        if any(s < 0 for s in self.seeds):
            raise ValueError("seeds: seeds are non-negative")
        paths = [a.path for a in self.axes]
        if len(set(paths)) != len(paths):
            raise ValueError("axes: two axes vary the same path")
        if "seed" in paths or "seed" in self.overrides:
            raise ValueError("axes: the seed is varied by `seeds`, not by an axis")
        if self.mode == "zip" and len({len(a.values) for a in self.axes}) > 1:
            raise ValueError("axes: in zip mode every axis needs as many values")
        return self


STUDY_KEYS = {"name", "scenario", "seeds", "mode", "axes", "report"}


def load_study(path: str | Path) -> StudySpec:
    """Read and validate a study file; any key that is not a study key overrides the
    scenario field of that name for every run."""
    p = Path(path)
    try:
        raw = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise StudyError(f"{p}: cannot read study: {exc.strerror or exc}") from exc
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"{p}: not valid TOML: {exc}") from exc
    return parse_study(data, str(p), p.resolve().parent)


def parse_study(data: dict[str, Any], origin: str, base_dir: Path | None) -> StudySpec:
    study = {k: v for k, v in data.items() if k in STUDY_KEYS}
    study["overrides"] = {k: v for k, v in data.items() if k not in STUDY_KEYS}
    try:
        return StudySpec.model_validate({**study, "base_dir": base_dir})
    except ValidationError as exc:
        raise StudyError(f"{origin}: {format_validation_error(exc)}") from exc
