"""identity statistics snapshot: identity_statistics

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty at first: a worker replays the whole log once, as before, and the next snapshot is taken
    # by whichever worker's unit of work finds the newest one far enough behind.
    op.create_table('identity_statistics',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('taken_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('seq')
    )


def downgrade() -> None:
    op.drop_table('identity_statistics')
