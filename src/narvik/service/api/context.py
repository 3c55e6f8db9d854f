"""Everything one running service holds: settings, engine, sessions, site, clock, metrics.

Built by :func:`build_context` inside the app factory (never on import), so two
apps in one process (tests) share nothing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from narvik.scenario import ScenarioError, load_scenario
from narvik.service.api.auth import TokenCache
from narvik.service.api.batcher import SubmitBatcher
from narvik.service.api.directory import TenantDirectory
from narvik.service.api.queries import tenants, tokens
from narvik.service.api.schemas import TokenIn
from narvik.service.clock import Clock, clock_start
from narvik.service.db import Database
from narvik.service.metrics import Metrics
from narvik.service.plant import Plant, utc
from narvik.service.runtime.runner import PassRunner
from narvik.service.runtime.scheduler import PassReport, Scheduler, read_meta
from narvik.service.settings import ServiceSettings
from narvik.service.tables import EventRow, JobRow, TokenRow

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

    def jobs_committed(self, rows: list[JobRow]) -> None:
        """New jobs are committed: hand them to the scheduler."""
        self.scheduler.submitted(rows)


def build_context(
    settings: ServiceSettings, wall_s: Callable[[], float] = time.time
) -> ServiceContext:
    """``wall_s``: the wall clock (tests give a fixed one)."""
    spec = load_scenario(settings.scenario)
    if spec.tenancy is None:
        raise ScenarioError(f"{settings.scenario}: the service needs a scenario with [tenancy]")
    site = settings.site or (spec.resolve(spec.site) if spec.site.endswith(".toml") else spec.site)
    plant = Plant.load(str(site), spec.tenancy, spec.busy_gpu_utilization)
    db = Database(settings.db_url)
    db.migrate()
    start = clock_start(settings.clock_start, spec.start_date, wall_s())
    clock = Clock(speed=settings.clock_speed, origin_s=start.origin_s)
    notice = start.notice
    with db.read() as session:
        if clock.resume_after(read_meta(session).get("last_pass_s", 0.0)):
            notice = f"clock resumes at {utc(clock.origin_s):%Y-%m-%dT%H:%M:%SZ}, where the "
            notice += "scheduler left off (it never runs backwards)"
    if notice:
        log.info(notice)
    metrics = Metrics()
    ctx: ServiceContext = ServiceContext(
        settings=settings,
        db=db,
        plant=plant,
        clock=clock,
        tokens=TokenCache(),
        metrics=metrics,
        runner=PassRunner(lambda: ctx.run_pass(), settings.pass_interval_s, metrics),
        scheduler=Scheduler(db, plant),
        tenants=TenantDirectory(),
        batcher=SubmitBatcher(db, lambda rows: ctx.jobs_committed(rows)),
        clock_notice=notice,
    )
    _bootstrap(ctx)
    ctx.refresh_tenants()
    return ctx


def _bootstrap(ctx: ServiceContext) -> None:
    """Seed the scenario's tenants and make sure an operator can log in."""
    now = ctx.now_s()
    with ctx.db.write() as session:
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
