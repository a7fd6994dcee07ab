"""used v3 signatures (single-use without Redis)

Revision ID: 4f1c2e9a7b30
Revises: 3c1e5d0a9b47
Create Date: 2026-12-02 12:40:00.000000

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '4f1c2e9a7b30'
down_revision = '3c1e5d0a9b47'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('used_signatures',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_used_signatures'))
    )
    with op.batch_alter_table('used_signatures', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_used_signatures_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('used_signatures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_used_signatures_expires_at'))
    op.drop_table('used_signatures')
