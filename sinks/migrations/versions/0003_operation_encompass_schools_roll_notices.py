"""operation encompass: schools, roll, notices

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('encompass_notice',
    sa.Column('notice_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('school_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('subject_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('police_reference', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('attended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('notify_by', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('escalate_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('email_status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('email_attempts', sa.Integer(), nullable=False),
    sa.Column('email_next_attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('email_sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('email_last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('acknowledged_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('acknowledged_by', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.PrimaryKeyConstraint('notice_id')
    )
    with op.batch_alter_table('encompass_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_encompass_notice_email_status'), ['email_status'], unique=False)
        batch_op.create_index(batch_op.f('ix_encompass_notice_school_code'), ['school_code'], unique=False)

    op.create_table('school',
    sa.Column('school_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('local_authority_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('dsl_email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
    sa.PrimaryKeyConstraint('school_code')
    )
    op.create_table('school_roll',
    sa.Column('roll_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('school_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('upn', sqlmodel.sql.sqltypes.AutoString(length=13), nullable=True),
    sa.Column('nhs_number', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True),
    sa.PrimaryKeyConstraint('roll_id')
    )
    with op.batch_alter_table('school_roll', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_roll_nhs_number'), ['nhs_number'], unique=False)
        batch_op.create_index(batch_op.f('ix_school_roll_upn'), ['upn'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('school_roll', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_roll_upn'))
        batch_op.drop_index(batch_op.f('ix_school_roll_nhs_number'))

    op.drop_table('school_roll')
    op.drop_table('school')
    with op.batch_alter_table('encompass_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_encompass_notice_school_code'))
        batch_op.drop_index(batch_op.f('ix_encompass_notice_email_status'))

    op.drop_table('encompass_notice')
