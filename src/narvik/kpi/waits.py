"""Waits in ``summary.json``, rounded to the millisecond.

Waits are differences of instants in seconds; their means and percentiles carry float
noise (``614535.2500000001``) that says nothing and makes the file hard to read and to
diff. :func:`round_waits` rounds every wait figure of a finished summary to
:data:`WAIT_DECIMALS` decimals of a second, wherever the summary builders put it:

- every number under a key that names a wait in seconds: it contains ``wait`` and ends
  in ``_s`` (``wait_s`` with its ``by_tier`` block, ``wait_p95_s``, ``max_wait_s``);
- every number under a key ending in ``_s`` inside a block whose key contains ``wait``
  (``wait_slo_by_tier.national.slo_s``, ``waits_by_tenant.openai.p95_s``).

Only floats are rounded (counts stay integers); ``None`` stays ``None``.
"""

from __future__ import annotations

from typing import Any

WAIT_DECIMALS = 3
"""Decimals of a second kept in a wait: milliseconds."""


def names_wait_s(key: str) -> bool:
    """Whether ``key`` names a wait in seconds (``wait_s``, ``wait_p95_s``, ``max_wait_s``)."""
    return "wait" in key and key.endswith("_s")


def round_waits(summary: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``summary`` with every wait figure (module docstring) rounded to ms."""
    return {k: _rounded(v, k, names_wait_s(k), "wait" in k) for k, v in summary.items()}


def _rounded(value: Any, key: str, is_wait: bool, in_wait_block: bool) -> Any:
    if isinstance(value, dict):
        return {
            k: _rounded(
                v,
                k,
                is_wait or names_wait_s(k),
                in_wait_block or "wait" in k,
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rounded(v, key, is_wait, in_wait_block) for v in value]
    if type(value) is float and (is_wait or (in_wait_block and key.endswith("_s"))):
        return round(value, WAIT_DECIMALS)
    return value
