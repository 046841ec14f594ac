"""identity log, merges and review queue

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_change',
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('survivor_person_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('absorbed_person_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('record_keys_json', sa.Text(), nullable=False),
    sa.Column('cause', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('undone_by_seq', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('seq')
    )
    with op.batch_alter_table('identity_change', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_change_absorbed_person_id'), ['absorbed_person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_change_survivor_person_id'), ['survivor_person_id'], unique=False)

    op.create_table('identity_record',
    sa.Column('record_key', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('person_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('source_event_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('subject_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('given_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('family_name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('date_of_birth', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('sex', sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
    sa.Column('nhs_number', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.Column('postcode', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('address_line', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('town', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('resolved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('record_key'),
    sa.UniqueConstraint('seq')
    )
    with op.batch_alter_table('identity_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_record_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_record_source_event_id'), ['source_event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_record_subject_key'), ['subject_key'], unique=False)

    op.create_table('identity_review',
    sa.Column('review_id', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('record_key', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('person_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('candidate_person_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.PrimaryKeyConstraint('review_id'),
    sa.UniqueConstraint('record_key')
    )
    with op.batch_alter_table('identity_review', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_review_status'), ['status'], unique=False)

    op.create_table('identity_sequence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # ### end Alembic commands ###


def downgrade() -> None:
    op.drop_table('identity_sequence')
    with op.batch_alter_table('identity_review', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_review_status'))

    op.drop_table('identity_review')
    with op.batch_alter_table('identity_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_record_subject_key'))
        batch_op.drop_index(batch_op.f('ix_identity_record_source_event_id'))
        batch_op.drop_index(batch_op.f('ix_identity_record_person_id'))

    op.drop_table('identity_record')
    with op.batch_alter_table('identity_change', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_change_survivor_person_id'))
        batch_op.drop_index(batch_op.f('ix_identity_change_absorbed_person_id'))

    op.drop_table('identity_change')
    # ### end Alembic commands ###
