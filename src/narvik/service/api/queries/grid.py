"""Grid curtailment events (operators): the site must shed power by a deadline."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from narvik.service.api.auth import Principal, recheck
from narvik.service.api.errors import ConflictError, NotFoundError
from narvik.service.api.schemas import CurtailmentIn, CurtailmentOut
from narvik.service.plant import utc
from narvik.service.tables import CurtailmentRow, EventRow


def declare(session: Session, who: Principal, data: CurtailmentIn, now_s: float) -> CurtailmentRow:
    who.require_operator()
    recheck(session, who)  # a token revoked on another replica writes nothing
    start_s = now_s if data.start is None else data.start.timestamp()
    end_s = data.end.timestamp()
    if end_s <= max(start_s, now_s):
        raise ConflictError("the curtailment would be over before it starts", "end")
    row = CurtailmentRow(
        start_s=start_s,
        end_s=end_s,
        shed_w=data.shed_mw * 1e6,
        deadline_s=data.deadline_s,
        state="active",
        created_at_s=now_s,
    )
    session.add(row)
    session.flush()
    session.add(
        EventRow(
            t_s=now_s,
            kind="curtailment",
            message=f"grid curtailment {row.id}: shed {data.shed_mw:g} MW "
            f"within {data.deadline_s:g} s, "
            f"{utc(start_s):%Y-%m-%d %H:%M} to {utc(end_s):%Y-%m-%d %H:%M} UTC",
        )
    )
    return row


def listing(session: Session, who: Principal) -> list[CurtailmentRow]:
    return list(
        session.scalars(select(CurtailmentRow).order_by(CurtailmentRow.start_s.desc()).limit(200))
    )


def lift(session: Session, who: Principal, cid: int, now_s: float) -> CurtailmentRow:
    who.require_operator()
    recheck(session, who)  # a token revoked on another replica writes nothing
    row = session.get(CurtailmentRow, cid)
    if row is None:
        raise NotFoundError(f"no curtailment {cid}", "curtailment_id")
    if row.state != "active" or row.end_s <= now_s:
        raise ConflictError(f"curtailment {cid} is over", "curtailment_id")
    row.end_s = max(now_s, row.start_s)
    row.state = "lifted"
    session.add(EventRow(t_s=now_s, kind="curtailment", message=f"grid curtailment {cid} lifted"))
    return row


def to_out(row: CurtailmentRow) -> CurtailmentOut:
    return CurtailmentOut(
        id=row.id,
        shed_mw=row.shed_w / 1e6,
        start=utc(row.start_s),
        end=utc(row.end_s),
        deadline_s=row.deadline_s,
        state=row.state,
    )
