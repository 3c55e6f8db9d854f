"""Alembic environment: runs online against the engine handed over in the config."""

from __future__ import annotations

from alembic import context

from narvik.service.tables import Base

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
