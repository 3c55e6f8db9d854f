"""Typed settings of ``narvik serve``, from ``NARVIK_*`` environment variables or options."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NARVIK_", extra="forbid")

    db_url: str = Field(
        default="sqlite:///narvik.db",
        description="SQLAlchemy URL: sqlite:///file.db (default, in the working folder) or "
        "postgresql://user@host:5432/db",
    )
    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = Field(default=8080, ge=0, le=65535, description="TCP port")
    scenario: str = Field(
        default="stargate-norway", description="scenario name or file: tenancy policy and site"
    )
    site: str | None = Field(default=None, description="site override (catalogue name, flat:N)")
    clock_speed: float = Field(
        default=1.0, gt=0, le=1e6, description="service seconds per wall second (demos, tests)"
    )
    clock_start: dt.datetime | None = Field(
        default=None,
        description="service time at start, UTC (default: now, or the scenario's start_date "
        "at 00:00 UTC if now precedes it)",
    )
    pass_interval_s: float = Field(
        default=1.0, gt=0, le=60, description="wall seconds between scheduling passes"
    )
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="largest request body")
    operator_token: SecretStr | None = Field(
        default=None, description="an operator token to accept (default: one is made)"
    )
    token_file: Path = Field(
        default=Path("narvik-operator.token"),
        description="where a token made at first start is written (mode 600)",
    )
    scheduler: bool = Field(
        default=True,
        description="stand for the scheduler lease (one replica schedules; the others stand by)",
    )
    lease_ttl_s: float = Field(
        default=5.0,
        gt=0.5,
        le=60,
        description="wall seconds a scheduler lease lasts unrenewed (takeover after a crash)",
    )
    replica_name: str | None = Field(
        default=None, description="this replica's name in the lease (default: host:pid)"
    )
    max_header_bytes: int = Field(
        default=16 * 1024, ge=1024, le=1024 * 1024, description="largest request header block"
    )
    max_headers: int = Field(default=100, ge=8, le=1000, description="most request headers")
    rate_limit_per_s: float = Field(
        default=2000.0, gt=0, description="requests a second per tenant (token bucket)"
    )
    rate_limit_burst: int = Field(
        default=4000, ge=1, description="requests a tenant may send at once (bucket size)"
    )
    max_queued_jobs_per_tenant: int = Field(
        default=200_000, ge=1, description="queued jobs a tenant may hold (429 beyond)"
    )
    oidc_file: Path | None = Field(
        default=None,
        description="OpenID Connect issuers (TOML): issuer, audience, JWKS, claim mapping per "
        "tenant",
    )

    @field_validator("clock_start")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        """A time without a zone is UTC (never the machine's local time)."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value
