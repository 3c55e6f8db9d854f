"""the engine's state that a reload needs: placements, start order, earmarks

jobs.domains: the placement of a running job on NVLink domains; jobs.start_order: its
place among the starts of its pass; tenants.earmarked_gpus: GPUs freed by preemptions
made for the tenant, its own while it still waits.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("domains", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("start_order", sa.Integer(), nullable=True))
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column("earmarked_gpus", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("earmarked_gpus")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("start_order")
        batch.drop_column("domains")
