"""identity index in the store: identity_member, identity_block, identity_nhs; identity_sequence.indexed_seq

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('identity_member',
    sa.Column('record_key', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('person_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.Column('duplicate_of_seq', sa.Integer(), nullable=True),
    sa.Column('fingerprint', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('record_key'),
    sa.UniqueConstraint('seq')
    )
    with op.batch_alter_table('identity_member', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_member_person_id'), ['person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_member_duplicate_of_seq'), ['duplicate_of_seq'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_member_fingerprint'), ['fingerprint'], unique=False)
    op.create_table('identity_block',
    sa.Column('key_hash', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key_hash', 'seq')
    )
    op.create_table('identity_nhs',
    sa.Column('nhs_number', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('person_id', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=False),
    sa.PrimaryKeyConstraint('nhs_number')
    )
    # An existing log is indexed by the first worker that starts (``IdentityIndex``): indexed_seq 0.
    with op.batch_alter_table('identity_sequence', schema=None) as batch_op:
        batch_op.add_column(sa.Column('indexed_seq', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('identity_sequence', schema=None) as batch_op:
        batch_op.drop_column('indexed_seq')
    op.drop_table('identity_nhs')
    op.drop_table('identity_block')
    with op.batch_alter_table('identity_member', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_member_fingerprint'))
        batch_op.drop_index(batch_op.f('ix_identity_member_duplicate_of_seq'))
        batch_op.drop_index(batch_op.f('ix_identity_member_person_id'))
    op.drop_table('identity_member')
