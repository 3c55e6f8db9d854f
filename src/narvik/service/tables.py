"""Database rows (SQLAlchemy 2 declarative models). Times are seconds since the Unix epoch
on the service clock (``*_s``); the API shows them as UTC datetimes.

The schema is created and changed only by the Alembic migrations in
:mod:`narvik.service.migrations`; a test checks that these models and the migrations agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    if TYPE_CHECKING:
        # Every model here is mapped to a table by ``__tablename__``, so its ``__table__`` is a
        # Table (DeclarativeBase types it as the more general FromClause).
        __table__: ClassVar[Table]


class TenantRow(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    tier: Mapped[str] = mapped_column(String(64))
    jurisdiction: Mapped[str] = mapped_column(String(8))
    quota: Mapped[list[Any]] = mapped_column(JSON)
    """[[first day (ISO date), guaranteed GPUs], ...] in date order."""
    max_borrow_gpus: Mapped[int | None] = mapped_column(Integer, nullable=True)
    lends: Mapped[bool] = mapped_column(Boolean)
    fair_share_weight: Mapped[float] = mapped_column(Float)
    allowed_halls: Mapped[list[Any]] = mapped_column(JSON)
    price_eur_per_gpu_hour: Mapped[float] = mapped_column(Float)
    borrowed_price_eur_per_gpu_hour: Mapped[float | None] = mapped_column(Float, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    usage_gpu_s: Mapped[float] = mapped_column(Float, default=0.0)
    """Decayed past GPU usage (fair share), GPU-s, as of ``usage_at_s``."""
    usage_at_s: Mapped[float] = mapped_column(Float, default=0.0)
    earmarked_gpus: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """GPUs freed by preemptions made for it: its own while it still waits (the engine's)."""
    created_at_s: Mapped[float] = mapped_column(Float)


class TokenRow(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"), nullable=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at_s: Mapped[float] = mapped_column(Float)


class JobRow(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_jobs_tenant_idempotency"),
        Index("ix_jobs_state", "state"),
        Index("ix_jobs_tenant_state", "tenant_id", "state"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(200), default="")
    gpus: Mapped[int] = mapped_column(Integer)
    runtime_s: Mapped[float] = mapped_column(Float)
    estimate_s: Mapped[float] = mapped_column(Float)
    submit_s: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    request_sha256: Mapped[str] = mapped_column(String(64))
    start_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    """First start."""
    end_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    stint_start_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    borrowed: Mapped[bool] = mapped_column(Boolean, default=False)
    halls: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    """[[hall index, GPUs], ...] while running."""
    domains: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    """[[hall index, NVLink domain, GPUs], ...] while running: the engine's placement."""
    start_order: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Its place among the starts of the pass that started it (with ``stint_start_s``:
    the engine's order of running jobs, latest first when it preempts)."""
    done_s: Mapped[float] = mapped_column(Float, default=0.0)
    """Work done (s at full speed) as of ``updated_s``."""
    updated_s: Mapped[float] = mapped_column(Float, default=0.0)
    rate: Mapped[float] = mapped_column(Float, default=1.0)
    saved_s: Mapped[float] = mapped_column(Float, default=0.0)
    """Work kept by the last checkpoint."""
    preempt_at_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    preempt_for: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """Tenant id the GPUs are reclaimed for; -1 for power."""
    preemptions: Mapped[int] = mapped_column(Integer, default=0)
    lost_gpu_s: Mapped[float] = mapped_column(Float, default=0.0)
    fit_since_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    cancel_requested_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    """Set by a cancel of a running job; the next pass stops it at this instant."""


class SegmentRow(Base):
    """One stint of a job on one hall: the ledger that usage and bills are computed from."""

    __tablename__ = "segments"
    __table_args__ = (Index("ix_segments_tenant_end", "tenant_id", "end_s"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id"))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    hall: Mapped[int] = mapped_column(Integer)
    gpus: Mapped[int] = mapped_column(Integer)
    borrowed: Mapped[bool] = mapped_column(Boolean)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)


class ReservationRow(Base):
    __tablename__ = "reservations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    gpus: Mapped[int] = mapped_column(Integer)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    created_at_s: Mapped[float] = mapped_column(Float)


class CurtailmentRow(Base):
    __tablename__ = "curtailments"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    shed_w: Mapped[float] = mapped_column(Float)
    deadline_s: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16))
    created_at_s: Mapped[float] = mapped_column(Float)


class EventRow(Base):
    """Something the control room should see: bookings, curtailments, preemptions, changes."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    t_s: Mapped[float] = mapped_column(Float, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"), nullable=True)
    message: Mapped[str] = mapped_column(Text)


class SampleRow(Base):
    """The state after a scheduling pass (at most one a minute of service time)."""

    __tablename__ = "samples"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    t_s: Mapped[float] = mapped_column(Float, index=True)
    busy_gpus: Mapped[int] = mapped_column(Integer)
    queued_jobs: Mapped[int] = mapped_column(Integer)
    it_power_w: Mapped[float] = mapped_column(Float)
    facility_power_w: Mapped[float] = mapped_column(Float)
    it_budget_w: Mapped[float] = mapped_column(Float)
    grid_cap_w: Mapped[float] = mapped_column(Float)
    heat_reused_w: Mapped[float] = mapped_column(Float)
    cap_fraction: Mapped[float] = mapped_column(Float)


class MetaRow(Base):
    """Key-value state of the scheduler (the clock it last saw, the GPU power cap, energy)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class JobNewsRow(Base):
    """What the scheduler has not yet seen: a submission or a cancel, written in the same
    transaction as the change itself, deleted by the pass that applies it (under its fence).

    Every replica's API writes here, so the elected scheduler learns of every committed job
    and cancel from the database, whichever replica acknowledged it."""

    __tablename__ = "job_news"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    job_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(8))
    """``new`` or ``cancel``."""
    at_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    """A cancel's instant (service time)."""


class LeaseRow(Base):
    """The scheduler lease (one row): who schedules, its fencing epoch, until when, and the
    service clock every replica shares."""

    __tablename__ = "scheduler_lease"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    holder: Mapped[str] = mapped_column(String(200), default="")
    epoch: Mapped[int] = mapped_column(BigInteger, default=0)
    """Raised at every takeover; a pass commits only under the epoch it was elected with."""
    expires_wall_s: Mapped[float] = mapped_column(Float, default=0.0)
    """Wall time (the database's clock) when the lease lapses unless renewed."""
    clock_origin_s: Mapped[float] = mapped_column(Float, default=0.0)
    """Service time at ``clock_wall0_s`` (the shared clock's anchor)."""
    clock_wall0_s: Mapped[float] = mapped_column(Float, default=0.0)
    clock_speed: Mapped[float] = mapped_column(Float, default=0.0)
    """0: no clock anchored yet."""
