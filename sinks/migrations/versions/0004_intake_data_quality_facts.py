"""intake data-quality facts

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('intake_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_agency', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column('voice_recorded', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('persons', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('persons_with_language', sa.Integer(), nullable=False, server_default='0'))



def downgrade() -> None:
    with op.batch_alter_table('intake_event', schema=None) as batch_op:
        batch_op.drop_column('persons_with_language')
        batch_op.drop_column('persons')
        batch_op.drop_column('voice_recorded')
        batch_op.drop_column('source_agency')

