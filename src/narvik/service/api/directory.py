"""The tenants as the hot path sees them: an in-memory copy, refreshed after every change.

Submissions check the caller's tenant and its eligibility against this copy, so
they need no database read. It is refreshed at start, after every scheduling
pass, and at once after a tenant, quota or booking is changed through the API.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from narvik.service.api.auth import Principal
from narvik.service.api.errors import ForbiddenError, InvalidError, NotFoundError
from narvik.service.tables import ReservationRow, TenantRow


@dataclass(frozen=True)
class TenantInfo:
    id: int
    name: str
    tier: str
    active: bool
    quota: list[Any]
    max_borrow_gpus: int | None
    allowed_halls: list[str]
    booked_gpus: int
    """Largest booking it holds (a booking lets it run beyond its quota)."""


class TenantDirectory:
    def __init__(self) -> None:
        self._by_id: dict[int, TenantInfo] = {}
        self._by_name: dict[str, TenantInfo] = {}
        self._lock = threading.Lock()

    def refresh(self, session: Session) -> None:
        booked = dict(
            session.execute(
                select(ReservationRow.tenant_id, func.max(ReservationRow.gpus))
                .where(ReservationRow.state == "booked")
                .group_by(ReservationRow.tenant_id)
            ).all()
        )
        infos = [
            TenantInfo(
                id=r.id,
                name=r.name,
                tier=r.tier,
                active=r.active,
                quota=list(r.quota),
                max_borrow_gpus=r.max_borrow_gpus,
                allowed_halls=list(r.allowed_halls),
                booked_gpus=int(booked.get(r.id, 0)),
            )
            for r in session.scalars(select(TenantRow))
        ]
        with self._lock:
            self._by_id = {t.id: t for t in infos}
            self._by_name = {t.name: t for t in infos}

    def by_id(self, tenant_id: int) -> TenantInfo:
        return self._by_id[tenant_id]

    def by_name(self, name: str) -> TenantInfo:
        return self._by_name[name]

    def target(self, who: Principal, requested: str | None) -> TenantInfo:
        """The tenant a call acts for: a tenant's own, or the one an operator names."""
        if who.is_operator:
            if not requested:
                raise InvalidError("operators name the tenant they act for", "tenant")
            found = self._by_name.get(requested)
            if found is None:
                raise NotFoundError(f"no tenant {requested!r}", "tenant")
            return found
        if requested and requested != who.tenant_name:
            raise ForbiddenError("a tenant acts for itself only", "tenant")
        assert who.tenant_id is not None
        return self._by_id[who.tenant_id]
