"""raw_message: the primary key alone is the dedup key; drop the unique index on (channel, external_id)

The id is a hash of (channel, external_id) (gateway.records.raw_id), so the unique constraint duplicated the
primary key's guarantee while costing a second random-order B-tree on every acknowledged message: on SQLite
about a third of the pages each group commit writes. Lookups by external id compute the id instead.

On SQLite the table is rebuilt (alembic batch mode), which copies raw_message once.

Revision ID: 0004_raw_dedup_by_id
Revises: 0003_lifecycle
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0004_raw_dedup_by_id"
down_revision = "0003_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("raw_message", schema=None) as batch_op:
        batch_op.drop_constraint("uq_raw_message_channel_external_id", type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("raw_message", schema=None) as batch_op:
        batch_op.create_unique_constraint("uq_raw_message_channel_external_id", ["channel", "external_id"])
