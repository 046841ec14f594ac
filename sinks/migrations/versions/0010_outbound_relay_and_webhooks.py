"""delivery.relayed_at, relay_topic, webhook_delivery: deliveries leave the building

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('relayed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.create_index('ix_delivery_unrelayed', 'delivery', ['delivered_at'], unique=False,
                    sqlite_where=sa.text('relayed_at IS NULL'), postgresql_where=sa.text('relayed_at IS NULL'))
    op.create_table(
        'relay_topic',
        sa.Column('topic', sqlmodel.sql.sqltypes.AutoString(length=249), nullable=False),
        sa.Column('offsets_json', sa.Text(), nullable=False),
        sa.Column('in_flight', sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint('topic'),
    )
    op.create_table(
        'webhook_delivery',
        sa.Column('delivery_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
        sa.Column('organisation_code', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('acknowledged_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.PrimaryKeyConstraint('delivery_id'),
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_delivery_organisation_code'), ['organisation_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_delivery_status'), ['status'], unique=False)


def downgrade() -> None:
    op.drop_table('webhook_delivery')
    op.drop_table('relay_topic')
    op.drop_index('ix_delivery_unrelayed', table_name='delivery')
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_column('relayed_at')
