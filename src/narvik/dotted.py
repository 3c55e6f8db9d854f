"""Setting a value deep inside nested data by a dotted path, as study axes and site
overrides name their targets: ``tenancy.grace_period_s``, ``cooling.supply_temp_c``; a
list of tables is addressed by a table's ``name`` (``tenancy.tenants.openai``) or by
index (``events.1``)."""

from __future__ import annotations

import copy
from typing import Any


class PathError(ValueError):
    """A dotted path that names nothing in the data."""


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``value`` (a copy) at the dotted ``path`` of ``data``, in place."""
    parts = path.split(".")
    node: Any = data
    for depth, key in enumerate(parts):
        last = depth == len(parts) - 1
        at = ".".join(parts[: depth + 1])
        if isinstance(node, dict):
            if key not in node:
                raise PathError(f"no field {at!r} (known: {', '.join(sorted(node))})")
            if last:
                node[key] = copy.deepcopy(value)
                return
            node = node[key]
        elif isinstance(node, list):
            i = _index(node, key)
            if i is None:
                names = ", ".join(str(t.get("name")) for t in node if isinstance(t, dict))
                raise PathError(f"no entry {at!r} (names: {names or 'none'})")
            if last:
                node[i] = copy.deepcopy(value)
                return
            node = node[i]
        else:
            raise PathError(f"{'.'.join(parts[:depth])!r} is a value, not a table")


def _index(items: list[Any], key: str) -> int | None:
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get("name") == key:
            return i
    if key.isdigit() and int(key) < len(items):
        return int(key)
    return None
