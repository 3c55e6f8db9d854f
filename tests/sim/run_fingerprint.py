"""Run a short default scenario and print, as JSON, a hash of every result array and
where the engine's modules were loaded from (a script: run by the compiled-build test)."""

from __future__ import annotations

import hashlib
import json
import sys

import numpy as np

import narvik.engine.pool
import narvik.sched.narvik_policy
import narvik.sim.tenancy_sim
from narvik.engine import build_kind
from narvik.scenario import load_scenario, run_scenario


def main(days: float, policy: str) -> None:
    spec = load_scenario().with_overrides(days=days, policy=policy)
    res = run_scenario(spec)
    out: dict[str, object] = {}
    for name in sorted(vars(res.schedule)):
        a = getattr(res.schedule, name)
        if isinstance(a, np.ndarray):
            out[name] = hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
    out["curtailments"] = repr(res.schedule.curtailments)
    out["reservations"] = repr(res.schedule.reservations)
    out["build"] = build_kind()
    out["modules"] = [
        m.__file__ for m in (narvik.engine.pool, narvik.sched.narvik_policy, narvik.sim.tenancy_sim)
    ]
    print(json.dumps(out))


if __name__ == "__main__":
    main(float(sys.argv[1]), sys.argv[2])
