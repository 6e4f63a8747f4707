"""lifecycle: status polling, deadlines and escalation per complaint; contact keys for duplicates

Revision ID: 0003_lifecycle
Revises: 0002_admin
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_lifecycle"
down_revision = "0002_admin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "complaint_lifecycle",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("finished", sa.Boolean(), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("poll_failures", sa.Integer(), nullable=False),
        sa.Column("poll_error", sa.Text(), nullable=True),
        sa.Column("seen_response_ids", sa.Text(), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_reporter_reply_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_state", sa.String(length=16), nullable=True),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("complaint_lifecycle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_complaint_lifecycle_deadline_at"), ["deadline_at"], unique=False)
        batch_op.create_index("ix_complaint_lifecycle_escalation", ["escalation_state"], unique=False)
        batch_op.create_index("ix_complaint_lifecycle_poll", ["finished", "next_poll_at"], unique=False)

    op.create_table(
        "complaint_contact",
        sa.Column("complaint_id", sa.String(length=26), nullable=False),
        sa.Column("key", sa.String(length=330), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("complaint_id", "key"),
    )
    with op.batch_alter_table("complaint_contact", schema=None) as batch_op:
        batch_op.create_index("ix_complaint_contact_key_received", ["key", "received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("complaint_contact", schema=None) as batch_op:
        batch_op.drop_index("ix_complaint_contact_key_received")
    op.drop_table("complaint_contact")
    with op.batch_alter_table("complaint_lifecycle", schema=None) as batch_op:
        batch_op.drop_index("ix_complaint_lifecycle_poll")
        batch_op.drop_index("ix_complaint_lifecycle_escalation")
        batch_op.drop_index(batch_op.f("ix_complaint_lifecycle_deadline_at"))
    op.drop_table("complaint_lifecycle")
