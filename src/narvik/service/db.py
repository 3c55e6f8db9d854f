"""Engines, sessions and migrations for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a commit survives the
process being killed (the log is in the OS page cache), not a power cut; use
PostgreSQL (``fsync`` on) where that matters. Migrations are Alembic's, applied
at start by :func:`migrate`.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from importlib import resources
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    """An engine for ``url`` (``sqlite:///file.db`` or ``postgresql+psycopg://...``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _create_private(parsed.database)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=16,
            max_overflow=16,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(False))
    return create_engine(url, pool_size=16, max_overflow=16, pool_pre_ping=True)


def _create_private(database: str | None) -> None:
    """Create a SQLite file that does not exist yet with mode 0600 (tokens' hashes and the
    tenants' data are in it); its -wal and -shm files take the main file's mode."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError:
        pass  # a folder that does not exist: SQLite says so when it connects


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    dbapi_conn.isolation_level = None  # transactions are begun by _sqlite_begin
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    # Writers take the lock up front: a deferred transaction that read an older snapshot
    # could not upgrade to a write once another writer has committed (SQLITE_BUSY).
    readonly = conn.get_execution_options().get("narvik_readonly", False)
    conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def session_factory(engine: Engine, *, readonly: bool = False) -> sessionmaker[Session]:
    """Sessions that write (SQLite: ``BEGIN IMMEDIATE``) or only read.

    A read transaction sees one snapshot on both databases, so an answer built from
    several queries (a page of jobs and their total) is consistent: SQLite's WAL reads
    are snapshots already; PostgreSQL reads run at REPEATABLE READ (its default, READ
    COMMITTED, gives each statement its own snapshot).
    """
    if not readonly:
        return sessionmaker(engine, expire_on_commit=False)
    options: dict[str, Any] = {"narvik_readonly": True}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    return sessionmaker(engine.execution_options(**options), expire_on_commit=False)


class Database:
    """One database: sessions that write (one transaction each) and sessions that read.

    SQLite allows one writer at a time; its own busy handler waits in sleeps of up
    to 100 ms, so writers of this process queue on a lock instead and SQLite never
    sees them collide. PostgreSQL writers run concurrently.
    """

    def __init__(self, url: str):
        self.engine = make_engine(url)
        self._writer = session_factory(self.engine)
        self._reader = session_factory(self.engine, readonly=True)
        sqlite = self.engine.dialect.name == "sqlite"
        self._lock = threading.Lock() if sqlite else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def write(self, *, locked: bool = False) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any error.

        ``locked``: the caller already holds the writers' lock (:meth:`lock_writers`)."""
        with (
            nullcontext() if locked else self._lock or nullcontext(),
            self._writer() as session,
            session.begin(),
        ):
            yield session

    async def lock_writers(self) -> None:
        """Take the writers' lock without blocking the event loop (SQLite; PostgreSQL: no-op)."""
        if self._lock is None:
            return
        while not self._lock.acquire(blocking=False):
            await asyncio.sleep(0.001)

    def unlock_writers(self) -> None:
        if self._lock is not None:
            self._lock.release()

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session, session.begin():
            yield session

    def migrate(self) -> None:
        migrate(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option(
        "script_location", str(resources.files("narvik.service").joinpath("migrations"))
    )
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent)."""
    command.upgrade(alembic_config(engine), "head")
