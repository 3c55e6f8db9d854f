"""The site description: models, the shipped catalogue and loading."""

from narvik.site.fleet import FleetSummary, fleet_summary
from narvik.site.loader import (
    DEFAULT_SITE,
    FlatPool,
    SiteError,
    catalogue_names,
    load_physical_site,
    load_site,
)
from narvik.site.model import Site

__all__ = [
    "DEFAULT_SITE",
    "FlatPool",
    "FleetSummary",
    "Site",
    "SiteError",
    "catalogue_names",
    "fleet_summary",
    "load_physical_site",
    "load_site",
]
