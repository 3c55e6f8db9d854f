"""The scheduler lease: one replica schedules, the others stand by; a deposed one cannot commit.

Any number of ``narvik serve`` replicas share one database. Each serves the API; the
one holding the lease row (``scheduler_lease``, id 1) also runs the scheduling passes.
The lease lapses ``ttl_s`` wall seconds after its last renewal (on the database's
clock, so replicas on different machines agree), and a standby takes it over by raising
its **epoch**. Every pass writes under :meth:`Lease.fence`: it locks the row
(``SELECT ... FOR UPDATE``), checks that this replica still holds it with the epoch it was
elected with, and renews it — in the same transaction as the pass's writes. A leader
that was paused or cut off past its lease is thus deposed at its next write, never
committing over its successor (the fencing token of Kleppmann, *Designing Data-Intensive
Applications*, ch. 8, "The leader and the lock"; the lease of Gray & Cheriton, 1989).

SQLite is the single-process default: a file lock beside the database refuses a second
scheduler (:func:`sqlite_scheduler_lock`), and the process that holds it takes the lease
at once, even from a predecessor that was killed.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from narvik.service.db import Database
from narvik.service.tables import LeaseRow

LEASE_ID = 1


class DeposedError(RuntimeError):
    """This replica no longer holds the scheduler lease: its pass is rolled back."""


class SecondSchedulerError(RuntimeError):
    """Another process already schedules this SQLite database."""


def default_replica_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def db_wall_s(session: Session) -> float:
    """Wall time on the database's clock (PostgreSQL), or this machine's (SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return float(
            session.execute(text("SELECT extract(epoch from clock_timestamp())")).scalar_one()
        )
    return time.time()


def lock_row(session: Session) -> LeaseRow:
    return session.execute(
        select(LeaseRow).where(LeaseRow.id == LEASE_ID).with_for_update()
    ).scalar_one()


@dataclass
class Lease:
    """This replica's view of the lease; ``epoch`` is set while it leads."""

    db: Database
    name: str
    ttl_s: float
    steal: bool = False
    """Take the lease even when unexpired (SQLite, where the file lock proves no other
    scheduler lives)."""
    epoch: int | None = None

    @property
    def leading(self) -> bool:
        return self.epoch is not None

    def acquire(self) -> bool:
        """Renew the lease if held, else take it if it lapsed; True while leading."""
        with self.db.write() as session:
            row = lock_row(session)
            now = db_wall_s(session)
            mine = row.holder == self.name and row.epoch == self.epoch
            if mine or row.expires_wall_s <= now or (self.steal and not self.leading):
                if not mine:
                    row.epoch += 1
                    row.holder = self.name
                row.expires_wall_s = now + self.ttl_s
                self.epoch = row.epoch
                return True
        self.epoch = None
        return False

    def fence(self, session: Session) -> None:
        """Inside a pass's write transaction: still the leader (or raise), lease renewed."""
        row = lock_row(session)
        if self.epoch is None or row.holder != self.name or row.epoch != self.epoch:
            held_by = f"{row.holder} (epoch {row.epoch})"
            self.epoch = None
            raise DeposedError(f"the scheduler lease is held by {held_by}")
        row.expires_wall_s = db_wall_s(session) + self.ttl_s

    def release(self) -> None:
        """Let a standby take over at once (a clean stop)."""
        if self.epoch is None:
            return
        with self.db.write() as session:
            row = lock_row(session)
            if row.holder == self.name and row.epoch == self.epoch:
                row.expires_wall_s = 0.0
        self.epoch = None


def sqlite_scheduler_lock(db_url: str) -> IO[bytes] | None:
    """Hold ``<file>.scheduler.lock`` while this process schedules a SQLite database.

    Returns the open lock file (keep it open; the OS releases it when the process dies),
    or None for other databases and in-memory SQLite."""
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    path = Path(url.database + ".scheduler.lock")
    fh = open(path, "a+b")  # noqa: SIM115 - held open for the life of the process
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise SecondSchedulerError(
            f"{url.database}: another narvik serve already schedules this SQLite database "
            "(SQLite allows one scheduler; run more replicas on PostgreSQL, or this one with "
            "NARVIK_SCHEDULER=false)"
        ) from None
    return fh
