"""Everything one running service holds: settings, engine, sessions, site, clock, metrics.

Built by :func:`build_context` inside the app factory (never on import), so two
apps in one process (tests) share nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from narvik.scenario import ScenarioError, load_scenario
from narvik.service.api.auth import TokenCache
from narvik.service.api.batcher import SubmitBatcher
from narvik.service.api.directory import TenantDirectory
from narvik.service.api.oidc import OidcVerifier
from narvik.service.api.oidc import load as load_oidc
from narvik.service.api.queries import tenants, tokens
from narvik.service.api.schemas import TokenIn
from narvik.service.clock import Clock, clock_start
from narvik.service.db import Database
from narvik.service.metrics import Metrics
from narvik.service.plant import Plant, utc
from narvik.service.runtime.lease import (
    Lease,
    db_wall_s,
    default_replica_name,
    lock_row,
    sqlite_scheduler_lock,
)
from narvik.service.runtime.runner import PassRunner
from narvik.service.runtime.scheduler import PassReport, Scheduler, read_meta
from narvik.service.runtime.standby import read_report
from narvik.service.settings import ServiceSettings
from narvik.service.tables import EventRow, TokenRow

log = logging.getLogger("narvik.service")


@dataclass
class ServiceContext:
    settings: ServiceSettings
    db: Database
    plant: Plant
    clock: Clock
    tokens: TokenCache
    metrics: Metrics
    runner: PassRunner
    scheduler: Scheduler
    tenants: TenantDirectory
    batcher: SubmitBatcher
    lease: Lease | None = None
    scheduler_lock: IO[bytes] | None = None
    """SQLite: the file lock that makes this process the database's only scheduler."""
    oidc: OidcVerifier | None = None
    """The OpenID Connect issuers of ``oidc_file`` (None: API tokens only)."""
    clock_notice: str | None = None
    """Why the clock starts where it does, when that is not the time given or now
    (``narvik serve`` prints it)."""

    def now_s(self) -> float:
        return self.clock.now_s()

    def run_pass(self) -> PassReport:
        return self.scheduler.run_pass(self.clock.now_s())

    def refresh_tenants(self) -> None:
        with self.db.read() as session:
            self.tenants.refresh(session)

    @property
    def role(self) -> str:
        """``leader`` (this replica schedules) or ``standby``."""
        return self.runner.role


def build_context(
    settings: ServiceSettings, wall_s: Callable[[], float] = time.time
) -> ServiceContext:
    """``wall_s``: the wall clock (tests give a fixed one)."""
    spec = load_scenario(settings.scenario)
    if spec.tenancy is None:
        raise ScenarioError(f"{settings.scenario}: the service needs a scenario with [tenancy]")
    site = settings.site or (spec.resolve(spec.site) if spec.site.endswith(".toml") else spec.site)
    plant = Plant.load(str(site), spec.tenancy, spec.busy_gpu_utilization)
    oidc = load_oidc(settings.oidc_file) if settings.oidc_file is not None else None
    lock = sqlite_scheduler_lock(settings.db_url) if settings.scheduler else None
    db = Database(settings.db_url)
    db.migrate()
    clock, notice = _shared_clock(db, settings, spec.start_date, wall_s(), alone=lock is not None)
    if notice:
        log.info(notice)
    metrics = Metrics()
    lease = Lease(
        db,
        settings.replica_name or default_replica_name(),
        settings.lease_ttl_s,
        steal=lock is not None,
    )
    scheduler = Scheduler(db, plant, fence=lease.fence if settings.scheduler else None)
    ctx: ServiceContext = ServiceContext(
        settings=settings,
        db=db,
        plant=plant,
        clock=clock,
        tokens=TokenCache(),
        metrics=metrics,
        runner=PassRunner(
            lambda: ctx.run_pass(),
            settings.pass_interval_s,
            metrics,
            lease=lease,
            eligible=settings.scheduler,
            on_elected=scheduler.drop,
            standby_report=lambda: read_report(db),
        ),
        scheduler=scheduler,
        tenants=TenantDirectory(),
        batcher=SubmitBatcher(db),
        lease=lease,
        scheduler_lock=lock,
        oidc=oidc,
        clock_notice=notice,
    )
    _bootstrap(ctx)
    ctx.refresh_tenants()
    return ctx


def _shared_clock(
    db: Database, settings: ServiceSettings, start_date: dt.date, wall_s: float, alone: bool
) -> tuple[Clock, str | None]:
    """The service clock: the running cluster's (a live scheduler lease holds its anchor),
    else a new time line from ``--clock-start`` or now, never before the last pass; the
    anchor is kept with the lease for the replicas that join later. ``alone``: this process
    is the only scheduler (SQLite), so a lease left by a killed predecessor is not live."""
    with db.write() as session:
        row = lock_row(session)
        live = row.expires_wall_s > db_wall_s(session) and row.clock_speed > 0
        if live and not alone:
            clock = Clock()
            clock.adopt(row.clock_origin_s, row.clock_wall0_s, row.clock_speed)
            notice = None
            if row.clock_speed != settings.clock_speed:
                notice = f"clock speed x{row.clock_speed:g}, the running cluster's"
            return clock, notice
        start = clock_start(settings.clock_start, start_date, wall_s)
        clock = Clock(speed=settings.clock_speed, origin_s=start.origin_s)
        notice = start.notice
        if clock.resume_after(read_meta(session).get("last_pass_s", 0.0)):
            notice = f"clock resumes at {utc(clock.origin_s):%Y-%m-%dT%H:%M:%SZ}, where the "
            notice += "scheduler left off (it never runs backwards)"
        row.clock_origin_s, row.clock_wall0_s = clock.origin_s, clock.wall0_s
        row.clock_speed = clock.speed
    return clock, notice


def _bootstrap(ctx: ServiceContext) -> None:
    """Seed the scenario's tenants and make sure an operator can log in."""
    now = ctx.now_s()
    with ctx.db.write() as session:
        lock_row(session)  # replicas starting at once seed one after the other
        if tenants.seed(session, ctx.plant, now):
            log.info("seeded the tenants of scenario %s", ctx.settings.scenario)
        session.add(
            EventRow(
                t_s=now,
                kind="service",
                message=f"control plane started on {ctx.db.dialect} (clock x{ctx.clock.speed:g})",
            )
        )
        secret = ctx.settings.operator_token
        if secret is not None:
            tokens.ensure(session, secret.get_secret_value(), now, "from settings")
            return
        has_operator = session.query(TokenRow.id).filter(TokenRow.role == "operator").first()
        if has_operator is None:
            made = tokens.issue(session, None, TokenIn(role="operator", label="first start"), now)
            path = ctx.settings.token_file
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{made.token}\n")
            log.warning("first operator token written to %s", path)
