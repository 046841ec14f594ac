"""school.language and school.deputy_dsl_email; encompass_notice.email_sent_to (which address took it)

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('school', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sqlmodel.sql.sqltypes.AutoString(length=5), nullable=True))
        batch_op.add_column(sa.Column('deputy_dsl_email', sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True))
    with op.batch_alter_table('encompass_notice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email_sent_to', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('encompass_notice', schema=None) as batch_op:
        batch_op.drop_column('email_sent_to')
    with op.batch_alter_table('school', schema=None) as batch_op:
        batch_op.drop_column('deputy_dsl_email')
        batch_op.drop_column('language')
