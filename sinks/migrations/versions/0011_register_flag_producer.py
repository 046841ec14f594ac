"""register_flag.producer_code: the organisation that holds a flag, by its credentials

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('register_flag', schema=None) as batch_op:
        batch_op.add_column(sa.Column('producer_code', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('register_flag', schema=None) as batch_op:
        batch_op.drop_column('producer_code')
