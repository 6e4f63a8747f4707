"""core tables

Revision ID: 0001_core
Revises: 
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001_core'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('channel_cursor',
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'key')
    )
    op.create_table('complaint',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('schema_version', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('raw_id', sa.String(length=26), nullable=False),
    sa.Column('relation', sa.String(length=16), nullable=False),
    sa.Column('parent_id', sa.String(length=26), nullable=True),
    sa.Column('reporter_identity', sa.String(length=320), nullable=False),
    sa.Column('dedup_key', sa.String(length=64), nullable=False),
    sa.Column('tracking_id', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('agency', sa.String(length=128), nullable=True),
    sa.Column('record', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('raw_id')
    )
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_complaint_channel'), ['channel'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_dedup_key'), ['dedup_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_received_at'), ['received_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_reporter_identity'), ['reporter_identity'], unique=False)
        batch_op.create_index(batch_op.f('ix_complaint_tracking_id'), ['tracking_id'], unique=False)

    op.create_table('dispatch_job',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('complaint_id', sa.String(length=26), nullable=False),
    sa.Column('idempotency_key', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('locked_by', sa.String(length=64), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    with op.batch_alter_table('dispatch_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dispatch_job_complaint_id'), ['complaint_id'], unique=False)
        batch_op.create_index('ix_dispatch_job_state_next', ['state', 'next_attempt_at'], unique=False)

    op.create_table('raw_message',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('meta', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('flags', sa.String(length=255), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('complaint_id', sa.String(length=26), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('channel', 'external_id', name='uq_raw_message_channel_external_id')
    )
    with op.batch_alter_table('raw_message', schema=None) as batch_op:
        batch_op.create_index('ix_raw_message_state_received_at', ['state', 'received_at'], unique=False)

    op.create_table('reply',
    sa.Column('id', sa.String(length=26), nullable=False),
    sa.Column('dedup', sa.String(length=128), nullable=False),
    sa.Column('complaint_id', sa.String(length=26), nullable=True),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('sender', sa.String(length=320), nullable=True),
    sa.Column('subject', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('in_reply_to', sa.Text(), nullable=True),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('meta', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('provider_id', sa.String(length=255), nullable=True),
    sa.Column('delivery_status', sa.String(length=32), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dedup')
    )
    with op.batch_alter_table('reply', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reply_complaint_id'), ['complaint_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reply_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index('ix_reply_state_next', ['state', 'next_attempt_at'], unique=False)

    op.create_table('reporter_preference',
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('identity', sa.String(length=320), nullable=False),
    sa.Column('opted_out', sa.Boolean(), nullable=False),
    sa.Column('undeliverable', sa.Boolean(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('channel', 'identity')
    )


def downgrade() -> None:
    op.drop_table('reporter_preference')
    with op.batch_alter_table('reply', schema=None) as batch_op:
        batch_op.drop_index('ix_reply_state_next')
        batch_op.drop_index(batch_op.f('ix_reply_provider_id'))
        batch_op.drop_index(batch_op.f('ix_reply_complaint_id'))

    op.drop_table('reply')
    with op.batch_alter_table('raw_message', schema=None) as batch_op:
        batch_op.drop_index('ix_raw_message_state_received_at')

    op.drop_table('raw_message')
    with op.batch_alter_table('dispatch_job', schema=None) as batch_op:
        batch_op.drop_index('ix_dispatch_job_state_next')
        batch_op.drop_index(batch_op.f('ix_dispatch_job_complaint_id'))

    op.drop_table('dispatch_job')
    with op.batch_alter_table('complaint', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaint_tracking_id'))
        batch_op.drop_index(batch_op.f('ix_complaint_reporter_identity'))
        batch_op.drop_index(batch_op.f('ix_complaint_received_at'))
        batch_op.drop_index(batch_op.f('ix_complaint_parent_id'))
        batch_op.drop_index(batch_op.f('ix_complaint_dedup_key'))
        batch_op.drop_index(batch_op.f('ix_complaint_channel'))

    op.drop_table('complaint')
    op.drop_table('channel_cursor')
