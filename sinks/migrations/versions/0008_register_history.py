"""register_history: every register change, for event-time questions

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'register_history',
        sa.Column('change_id', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column('child_key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('local_authority_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column('effective_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('occurred_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('sequence', sa.Integer(), nullable=True),
        sa.Column('details_json', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('change_id'),
    )
    with op.batch_alter_table('register_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_register_history_child_key'), ['child_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('register_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_register_history_child_key'))
    op.drop_table('register_history')
