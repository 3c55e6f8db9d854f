"""The DES kernel: ordering by (time, order, seq), until, and no scheduling into the past."""

from __future__ import annotations

import pytest

from narvik.sim.kernel import ORDER_ARRIVAL, ORDER_END, ORDER_SCHEDULE, Kernel


def test_order_at_one_instant_and_fifo() -> None:
    k = Kernel()
    log: list[str] = []
    k.schedule(5, lambda: log.append("pass"), ORDER_SCHEDULE)
    k.schedule(5, lambda: log.append("arrive-a"), ORDER_ARRIVAL)
    k.schedule(5, lambda: log.append("arrive-b"), ORDER_ARRIVAL)
    k.schedule(5, lambda: log.append("end"), ORDER_END)
    k.schedule(1, lambda: log.append("early"), ORDER_SCHEDULE)
    k.run()
    assert log == ["early", "end", "arrive-a", "arrive-b", "pass"]
    assert k.now_s == 5 and len(k) == 0


def test_until_and_past() -> None:
    k = Kernel()
    log: list[float] = []

    def tick() -> None:
        log.append(k.now_s)
        k.schedule(k.now_s + 10, tick)

    k.schedule(0, tick)
    k.run(until_s=25)
    assert log == [0, 10, 20] and k.now_s == 25 and k.peek_s() == 30
    with pytest.raises(ValueError, match="before now"):
        k.schedule(3, tick)
