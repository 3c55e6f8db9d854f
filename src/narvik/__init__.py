"""narvik: Stargate Norway in software, a digital twin and power-aware GPU scheduler."""

from __future__ import annotations

from typing import Any

__all__ = ["__version__", "simulate", "study"]


def __getattr__(name: str) -> Any:
    # ``__version__`` is looked up on first use: importlib.metadata costs tens of
    # milliseconds, which `narvik --help` should not pay.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("narvik")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            value = "0.0.0+unknown"
        globals()["__version__"] = value
        return value
    if name in ("simulate", "study"):  # the Python API (narvik.api), imported on first use
        import importlib

        return getattr(importlib.import_module("narvik.api"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
