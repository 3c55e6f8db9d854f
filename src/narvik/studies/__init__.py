"""Studies: many scenarios at once (axes times seeds), run on Ray, one row of KPIs per run.

A study file (TOML) names a scenario, overrides any of its fields, lists seeds and the
axes to vary (:mod:`narvik.studies.spec`); the axes expand into runs, each a resolved
scenario with an id that hashes it (:mod:`narvik.studies.points`); the runner executes
them on Ray (or in this process), writes every run's folder and ``study.parquet``, and
skips runs already done (:mod:`narvik.studies.runner`).
"""

from narvik.studies.points import Run, expand
from narvik.studies.runner import StudyOutcome, run_study
from narvik.studies.spec import StudyError, StudySpec, load_study

__all__ = ["Run", "StudyError", "StudyOutcome", "StudySpec", "expand", "load_study", "run_study"]
