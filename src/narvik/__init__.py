"""narvik: Stargate Norway in software, a digital twin and power-aware GPU scheduler."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("narvik")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"
