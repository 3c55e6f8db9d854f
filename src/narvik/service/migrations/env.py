"""Alembic environment: runs online against the engine handed over in the config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from narvik.service.tables import Base

engine = context.config.attributes["engine"]
#: Key of the PostgreSQL advisory lock that serialises replicas migrating at once.
MIGRATION_LOCK = 0x6E61_7276_0001

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
