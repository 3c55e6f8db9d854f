"""The news feed from the API to the scheduler: ``job_news`` rows written with the change.

Every replica's API writes a row for each job it commits and each cancel, in the same
transaction; the elected scheduler reads them at its next pass and deletes them in the
pass's own (fenced) transaction. So the scheduler learns of every acknowledged job from
the database, whichever replica acknowledged it, and a crash between the two loses
nothing: an unapplied piece of news stays until a pass that applied it commits.
"""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from narvik.service.tables import JobNewsRow


def announce(session: Session, kind: str, job_ids: list[int], at_s: float | None = None) -> None:
    """Tell the scheduler of committed jobs (``new``) or a cancel (``cancel`` at ``at_s``);
    call in the transaction that makes the change."""
    if job_ids:
        session.execute(
            insert(JobNewsRow), [{"job_id": j, "kind": kind, "at_s": at_s} for j in job_ids]
        )
