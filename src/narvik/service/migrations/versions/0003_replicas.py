"""replicas: the scheduler lease (fencing epoch, shared clock) and the job news feed

scheduler_lease: one row; the replica that holds it schedules, every pass commits only
under its epoch. job_news: submissions and cancels not yet applied by the scheduler,
written with the change they announce.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "job_news",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("at_s", sa.Float(), nullable=True),
    )
    lease = op.create_table(
        "scheduler_lease",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("expires_wall_s", sa.Float(), nullable=False),
        sa.Column("clock_origin_s", sa.Float(), nullable=False),
        sa.Column("clock_wall0_s", sa.Float(), nullable=False),
        sa.Column("clock_speed", sa.Float(), nullable=False),
    )
    op.bulk_insert(
        lease,
        [
            {
                "id": 1,
                "holder": "",
                "epoch": 0,
                "expires_wall_s": 0.0,
                "clock_origin_s": 0.0,
                "clock_wall0_s": 0.0,
                "clock_speed": 0.0,
            }
        ],
    )
    # Queued jobs of an older database are loaded by the scheduler from the jobs table.


def downgrade() -> None:
    op.drop_table("scheduler_lease")
    op.drop_table("job_news")
