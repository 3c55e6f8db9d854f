"""Loading sites: the shipped catalogue, ``flat:N`` pools and TOML files.

A bad file gives one :class:`SiteError` whose message names the file and the
field (or the TOML line), e.g. ``my-site.toml: halls.0.racks: Input should be
greater than 0``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from narvik.dotted import PathError, set_path
from narvik.site.model import Site

CATALOGUE_PACKAGE = "narvik.site.catalogue"
DEFAULT_SITE = "stargate-norway"


class SiteError(ValueError):
    """A site that cannot be loaded; the message names the file and field."""


@dataclass(frozen=True)
class FlatPool:
    """``flat:N``: a bare pool of N GPU slots, no topology, no power cap, no physics."""

    n_gpus: int

    @property
    def name(self) -> str:
        return f"flat:{self.n_gpus}"


def catalogue_names() -> list[str]:
    """Names of the sites shipped with narvik (plus the ``flat:N`` family)."""
    files = resources.files(CATALOGUE_PACKAGE).iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


def load_site(spec: str | Path = DEFAULT_SITE) -> Site | FlatPool:
    """Load a site by catalogue name, ``flat:N`` or path to a TOML file."""
    text = str(spec)
    if text.startswith("flat:"):
        return _flat(text)
    path = Path(text)
    if path.suffix == ".toml" or path.exists():
        return load_site_file(path)
    if text in catalogue_names():
        ref = resources.files(CATALOGUE_PACKAGE).joinpath(f"{text}.toml")
        return _parse(ref.read_text(encoding="utf-8"), f"{text} (catalogue)")
    known = ", ".join([*catalogue_names(), "flat:N"])
    raise SiteError(f"{text}: no such site file or catalogue name (known: {known})")


def load_physical_site(spec: str | Path = DEFAULT_SITE) -> Site:
    """Like :func:`load_site`, but a ``flat:N`` pool (which has no physics) is an error."""
    site = load_site(spec)
    if isinstance(site, FlatPool):
        raise SiteError(f"{spec}: a flat pool has no facility; name a physical site")
    return site


def load_site_file(path: Path) -> Site:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SiteError(f"{path}: cannot read site file: {exc.strerror or exc}") from exc
    return _parse(text, str(path))


def _parse(text: str, origin: str) -> Site:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SiteError(f"{origin}: not valid TOML: {exc}") from exc
    try:
        return Site.model_validate(data)
    except ValidationError as exc:
        raise SiteError(f"{origin}: {format_validation_error(exc)}") from exc


_OWN_FIELD = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*: ")


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``field.path: message (got value)``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        shown = (
            "" if isinstance(got, dict | list) or err["type"] == "missing" else f" (got {got!r})"
        )
        # Whole-model checks name their own field first ("quota.1.start: ..."): join the paths.
        own = _OWN_FIELD.match(msg)
        if loc and own:
            lines.append(f"{loc}.{msg}{shown}")
        else:
            lines.append(f"{loc}: {msg}{shown}" if loc else msg)
    return "; ".join(lines)


def _flat(text: str) -> FlatPool:
    count = text.removeprefix("flat:")
    if not count.isdigit() or int(count) <= 0:
        raise SiteError(f"{text}: flat:N needs a positive whole number of GPU slots")
    return FlatPool(int(count))


def override_site(site: Site, overrides: Mapping[str, Any], origin: str = "site") -> Site:
    """The site with fields set by dotted path (``cooling.supply_temp_c``: 30), validated
    as a site file is; errors name the path."""
    if not overrides:
        return site
    data = site.model_dump(mode="json")
    for path, value in overrides.items():
        try:
            set_path(data, path, value)
        except PathError as exc:
            raise SiteError(f"{origin}.{path}: {exc} in the site") from exc
    try:
        return Site.model_validate(data)
    except ValidationError as exc:
        raise SiteError(f"{origin}: {format_validation_error(exc)}") from exc
