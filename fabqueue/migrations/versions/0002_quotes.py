"""quotes: client organisations, quotes and their lines and events, the yearly quote
number sequence, jobs made from quotes, actuals entered by operators

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:41:05.591696
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('organisation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('legal_form', sa.String(length=120), nullable=True),
    sa.Column('siret', sa.String(length=14), nullable=True),
    sa.Column('vat_number', sa.String(length=20), nullable=True),
    sa.Column('address', sa.String(length=500), nullable=False),
    sa.Column('contact_name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.Column('phone', sa.String(length=40), nullable=True),
    sa.Column('price_group', sa.String(length=40), nullable=True),
    sa.Column('adjustment_bp', sa.Integer(), nullable=True),
    sa.Column('notes', sa.String(length=2000), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('quote_sequence',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year')
    )
    op.create_table('client_account',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('user_id')
    )
    with op.batch_alter_table('client_account', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_account_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('quote',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('requested', 'draft', 'sent', 'accepted', 'refused', 'expired', 'converted', 'superseded', 'cancelled', name='quotestate', native_enum=False, length=24), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('seq', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('previous_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('request_notes', sa.String(length=4000), nullable=False),
    sa.Column('notes', sa.String(length=4000), nullable=False),
    sa.Column('lead_time', sa.String(length=200), nullable=False),
    sa.Column('payment_terms', sa.String(length=500), nullable=False),
    sa.Column('validity_days', sa.Integer(), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('vat_regime', sa.Enum('normal', 'franchise_293B', 'association_exempt', name='vatregime', native_enum=False, length=24), nullable=True),
    sa.Column('vat_mention', sa.String(length=300), nullable=True),
    sa.Column('issuer', sa.JSON(), nullable=False),
    sa.Column('client', sa.JSON(), nullable=False),
    sa.Column('total_ht_cents', sa.Integer(), nullable=True),
    sa.Column('total_vat_cents', sa.Integer(), nullable=True),
    sa.Column('total_ttc_cents', sa.Integer(), nullable=True),
    sa.Column('requested_by_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_by_id', sa.Integer(), nullable=True),
    sa.Column('accept_token_hash', sa.String(length=64), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_by_name', sa.String(length=200), nullable=True),
    sa.Column('accepted_by_user_id', sa.Integer(), nullable=True),
    sa.Column('acceptance_via', sa.Enum('account', 'link', 'staff', name='acceptancevia', native_enum=False, length=24), nullable=True),
    sa.Column('refused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refusal_reason', sa.String(length=1000), nullable=True),
    sa.Column('converted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['accepted_by_user_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['created_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], ),
    sa.ForeignKeyConstraint(['previous_id'], ['quote.id'], ),
    sa.ForeignKeyConstraint(['requested_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['sent_by_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('accept_token_hash'),
    sa.UniqueConstraint('number')
    )
    with op.batch_alter_table('quote', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quote_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quote_previous_id'), ['previous_id'], unique=False)

    op.create_table('job_actual',
    sa.Column('job_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('material', sa.JSON(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('recorded_by', sa.String(length=120), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], ),
    sa.PrimaryKeyConstraint('job_id')
    )
    op.create_table('quote_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('quote_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('from_state', sa.Enum('requested', 'draft', 'sent', 'accepted', 'refused', 'expired', 'converted', 'superseded', 'cancelled', name='quotestate', native_enum=False, length=24), nullable=True),
    sa.Column('to_state', sa.Enum('requested', 'draft', 'sent', 'accepted', 'refused', 'expired', 'converted', 'superseded', 'cancelled', name='quotestate', native_enum=False, length=24), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['quote_id'], ['quote.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('quote_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quote_event_quote_id'), ['quote_id'], unique=False)

    op.create_table('quote_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('quote_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('design', 'free', name='linekind', native_enum=False, length=24), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('quantity_milli', sa.Integer(), nullable=False),
    sa.Column('unit', sa.String(length=16), nullable=False),
    sa.Column('unit_price_cents', sa.Integer(), nullable=False),
    sa.Column('vat_rate_bp', sa.Integer(), nullable=False),
    sa.Column('price_source', sa.Enum('auto', 'manual', name='pricesource', native_enum=False, length=24), nullable=False),
    sa.Column('needs_estimate', sa.Boolean(), nullable=False),
    sa.Column('missing', sa.JSON(), nullable=False),
    sa.Column('machine_kind', sa.Enum('fdm_printer', 'vinyl_cutter', 'embroidery', name='machinekind', native_enum=False, length=24), nullable=True),
    sa.Column('material', sa.String(length=64), nullable=True),
    sa.Column('design_minutes', sa.Integer(), nullable=False),
    sa.Column('file_sha256', sa.String(length=64), nullable=True),
    sa.Column('file_name', sa.String(length=255), nullable=True),
    sa.Column('file_type', sa.String(length=16), nullable=True),
    sa.Column('file_size', sa.Integer(), nullable=True),
    sa.Column('analysis', sa.JSON(), nullable=False),
    sa.Column('price_detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['file_sha256'], ['stored_file.sha256'], ),
    sa.ForeignKeyConstraint(['quote_id'], ['quote.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('quote_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quote_line_quote_id'), ['quote_id'], unique=False)

    op.create_table('quote_job',
    sa.Column('job_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('quote_id', sa.Integer(), nullable=False),
    sa.Column('quote_line_id', sa.Integer(), nullable=False),
    sa.Column('copy_index', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], ),
    sa.ForeignKeyConstraint(['quote_id'], ['quote.id'], ),
    sa.ForeignKeyConstraint(['quote_line_id'], ['quote_line.id'], ),
    sa.PrimaryKeyConstraint('job_id'),
    sa.UniqueConstraint('quote_line_id', 'copy_index')
    )
    with op.batch_alter_table('quote_job', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quote_job_quote_id'), ['quote_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_quote_job_quote_line_id'), ['quote_line_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('quote_job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quote_job_quote_line_id'))
        batch_op.drop_index(batch_op.f('ix_quote_job_quote_id'))

    op.drop_table('quote_job')
    with op.batch_alter_table('quote_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quote_line_quote_id'))

    op.drop_table('quote_line')
    with op.batch_alter_table('quote_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quote_event_quote_id'))

    op.drop_table('quote_event')
    op.drop_table('job_actual')
    with op.batch_alter_table('quote', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quote_previous_id'))
        batch_op.drop_index(batch_op.f('ix_quote_organisation_id'))

    op.drop_table('quote')
    with op.batch_alter_table('client_account', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_account_organisation_id'))

    op.drop_table('client_account')
    op.drop_table('quote_sequence')
    op.drop_table('organisation')
