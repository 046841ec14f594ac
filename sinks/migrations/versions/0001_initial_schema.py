"""initial schema

Revision ID: 0001
Revises: 
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_token',
    sa.Column('token_id', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('token_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('organisation_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('issued_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('token_id'),
    sa.UniqueConstraint('token_sha256')
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_organisation_code'), ['organisation_code'], unique=False)

    op.create_table('audit_record',
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('audit_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('sink', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('recipient', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('policy_version', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('source_event_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('subject_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('master_person_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('delivery_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('sequence'),
    sa.UniqueConstraint('audit_id')
    )
    op.create_table('care_access',
    sa.Column('access_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('nhs_number', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('accessed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('site_json', sa.Text(), nullable=False),
    sa.Column('source_event_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.PrimaryKeyConstraint('access_id')
    )
    with op.batch_alter_table('care_access', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_care_access_nhs_number'), ['nhs_number'], unique=False)

    op.create_table('dead_letter',
    sa.Column('dead_letter_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('offset', sa.Integer(), nullable=False),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('event_type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('field_path', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('errors_json', sa.Text(), nullable=False),
    sa.Column('original', sa.LargeBinary(), nullable=False),
    sa.Column('parked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('replayed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('dead_letter_id')
    )
    with op.batch_alter_table('dead_letter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dead_letter_topic'), ['topic'], unique=False)

    op.create_table('delivery',
    sa.Column('delivery_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('sink', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('recipient', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('policy_version', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('source_event_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('source_event_type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('subject_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('master_person_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('delivered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('content_json', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('delivery_id')
    )
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_master_person_id'), ['master_person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_recipient'), ['recipient'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_sink'), ['sink'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_source_event_id'), ['source_event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_delivery_subject_key'), ['subject_key'], unique=False)

    op.create_table('intake_event',
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('event_type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('partition', sa.Integer(), nullable=False),
    sa.Column('offset', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('content_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('occurred_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('accepted_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('processed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('event_id')
    )
    with op.batch_alter_table('intake_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_intake_event_event_type'), ['event_type'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_event_status'), ['status'], unique=False)

    op.create_table('referral',
    sa.Column('referral_reference', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('referrer_agency', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('referrer_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('source_event_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('referred_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('referral_reference')
    )
    op.create_table('register_flag',
    sa.Column('child_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('nhs_number', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('local_authority_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('event_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=True),
    sa.Column('event_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('details_json', sa.Text(), nullable=False),
    sa.Column('child_json', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('child_key')
    )
    with op.batch_alter_table('register_flag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_register_flag_nhs_number'), ['nhs_number'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('register_flag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_register_flag_nhs_number'))

    op.drop_table('register_flag')
    op.drop_table('referral')
    with op.batch_alter_table('intake_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_event_status'))
        batch_op.drop_index(batch_op.f('ix_intake_event_event_type'))

    op.drop_table('intake_event')
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_subject_key'))
        batch_op.drop_index(batch_op.f('ix_delivery_source_event_id'))
        batch_op.drop_index(batch_op.f('ix_delivery_sink'))
        batch_op.drop_index(batch_op.f('ix_delivery_recipient'))
        batch_op.drop_index(batch_op.f('ix_delivery_master_person_id'))

    op.drop_table('delivery')
    with op.batch_alter_table('dead_letter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dead_letter_topic'))

    op.drop_table('dead_letter')
    with op.batch_alter_table('care_access', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_care_access_nhs_number'))

    op.drop_table('care_access')
    op.drop_table('audit_record')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_organisation_code'))

    op.drop_table('api_token')
