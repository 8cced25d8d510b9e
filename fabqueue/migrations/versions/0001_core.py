"""core schema: jobs, events, files, machines, users

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 12:24:40.146609
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('role', sa.Enum('admin', 'facilitator', 'member', 'client', name='role', native_enum=False, length=24), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('machine',
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('node', sa.String(length=120), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.Enum('fdm_printer', 'vinyl_cutter', 'embroidery', name='machinekind', native_enum=False, length=24), nullable=False),
    sa.Column('driver', sa.String(length=40), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('runner_state', sa.Enum('accepting', 'awaiting_operator', 'stopped', name='runnerstate', native_enum=False, length=24), nullable=False),
    sa.Column('loaded_material', sa.String(length=64), nullable=True),
    sa.Column('status', sa.JSON(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('slug')
    )
    with op.batch_alter_table('machine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_machine_node'), ['node'], unique=False)

    op.create_table('stored_file',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_user_id'), ['user_id'], unique=False)

    op.create_table('job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('fdm_printer', 'vinyl_cutter', 'embroidery', name='machinekind', native_enum=False, length=24), nullable=False),
    sa.Column('target_machine', sa.String(length=64), nullable=True),
    sa.Column('machine', sa.String(length=64), nullable=True),
    sa.Column('material', sa.String(length=64), nullable=True),
    sa.Column('copies', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('file_type', sa.String(length=16), nullable=False),
    sa.Column('file_size', sa.Integer(), nullable=False),
    sa.Column('analysis', sa.JSON(), nullable=False),
    sa.Column('state', sa.Enum('draft', 'queued', 'held', 'starting', 'running', 'paused', 'awaiting_operator', 'succeeded', 'failed', 'cancelled', 'interrupted', name='jobstate', native_enum=False, length=24), nullable=False),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('pause_requested', sa.Boolean(), nullable=False),
    sa.Column('progress', sa.Float(), nullable=True),
    sa.Column('eta_s', sa.Float(), nullable=True),
    sa.Column('message', sa.String(length=500), nullable=True),
    sa.Column('driver_ref', sa.String(length=255), nullable=True),
    sa.Column('checkpoint', sa.JSON(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.Enum('good', 'bad', name='outcome', native_enum=False, length=24), nullable=True),
    sa.Column('actual_duration_s', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['file_sha256'], ['stored_file.sha256'], ),
    sa.ForeignKeyConstraint(['owner_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_job_queue', ['state', 'kind', 'priority', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_target_machine'), ['target_machine'], unique=False)
        batch_op.create_index('uq_job_machine_occupied', ['machine'], unique=True, sqlite_where=sa.text("state IN ('awaiting_operator', 'paused', 'running', 'starting')"), postgresql_where=sa.text("state IN ('awaiting_operator', 'paused', 'running', 'starting')"))

    op.create_table('job_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sa.Enum('draft', 'queued', 'held', 'starting', 'running', 'paused', 'awaiting_operator', 'succeeded', 'failed', 'cancelled', 'interrupted', name='jobstate', native_enum=False, length=24), nullable=True),
    sa.Column('to_state', sa.Enum('draft', 'queued', 'held', 'starting', 'running', 'paused', 'awaiting_operator', 'succeeded', 'failed', 'cancelled', 'interrupted', name='jobstate', native_enum=False, length=24), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('job_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_event_job_id'), ['job_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('job_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_event_job_id'))

    op.drop_table('job_event')
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('uq_job_machine_occupied', sqlite_where=sa.text("state IN ('awaiting_operator', 'paused', 'running', 'starting')"), postgresql_where=sa.text("state IN ('awaiting_operator', 'paused', 'running', 'starting')"))
        batch_op.drop_index(batch_op.f('ix_job_target_machine'))
        batch_op.drop_index('ix_job_queue')
        batch_op.drop_index(batch_op.f('ix_job_owner_id'))

    op.drop_table('job')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_user_id'))

    op.drop_table('api_token')
    op.drop_table('stored_file')
    with op.batch_alter_table('machine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_machine_node'))

    op.drop_table('machine')
    op.drop_table('app_user')
