"""deadline watch: missing episodes, child incidents, deadlines

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('child_incident',
    sa.Column('incident_key', sqlmodel.sql.sqltypes.AutoString(length=260), nullable=False),
    sa.Column('child_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('source_event_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('category', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('grade', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('occurred_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('incident_key')
    )
    with op.batch_alter_table('child_incident', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_child_incident_child_key'), ['child_key'], unique=False)

    op.create_table('deadline',
    sa.Column('deadline_id', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('rule', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('subject_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('due_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('opened_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('recipients_json', sa.Text(), nullable=False),
    sa.Column('evidence_json', sa.Text(), nullable=False),
    sa.Column('met_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('breached_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('deadline_id')
    )
    with op.batch_alter_table('deadline', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_deadline_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deadline_reference'), ['reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_deadline_rule'), ['rule'], unique=False)
        batch_op.create_index(batch_op.f('ix_deadline_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_deadline_subject_key'), ['subject_key'], unique=False)

    op.create_table('missing_episode',
    sa.Column('episode_key', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=False),
    sa.Column('child_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('episode_reference', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('reported_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('returned_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('looked_after', sa.Boolean(), nullable=False),
    sa.Column('profile_reference', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('ppn_reference', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.PrimaryKeyConstraint('episode_key')
    )
    with op.batch_alter_table('missing_episode', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_missing_episode_child_key'), ['child_key'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('missing_episode', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_missing_episode_child_key'))

    op.drop_table('missing_episode')
    with op.batch_alter_table('deadline', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deadline_subject_key'))
        batch_op.drop_index(batch_op.f('ix_deadline_status'))
        batch_op.drop_index(batch_op.f('ix_deadline_rule'))
        batch_op.drop_index(batch_op.f('ix_deadline_reference'))
        batch_op.drop_index(batch_op.f('ix_deadline_due_at'))

    op.drop_table('deadline')
    with op.batch_alter_table('child_incident', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_child_incident_child_key'))

    op.drop_table('child_incident')
