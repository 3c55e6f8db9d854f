"""The service clock: wall time, optionally accelerated, that never runs backwards.

``now_s()`` is seconds since the Unix epoch on the service's time line:
``origin_s + (monotonic - m0) * speed``. With ``speed`` 1 it follows the wall
clock; demos and tests set a larger speed so that hours pass in seconds. On a
restart the origin is never before the last instant the scheduler saw, so job
times stay ordered across crashes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Clock:
    speed: float = 1.0
    origin_s: float = field(default_factory=time.time)
    _m0: float = field(default_factory=time.monotonic)

    def now_s(self) -> float:
        return self.origin_s + (time.monotonic() - self._m0) * self.speed

    def resume_after(self, last_seen_s: float) -> None:
        """Restart the time line no earlier than ``last_seen_s``."""
        now = self.now_s()
        if now < last_seen_s:
            self.origin_s = last_seen_s
            self._m0 = time.monotonic()
