"""inbox: an index for the waiting rows of a source (the drain and the sweep read them)

Revision ID: 5d2b8e4f1a63
Revises: 3c1a5e0d9b7f
Create Date: 2026-12-02 15:45:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '5d2b8e4f1a63'
down_revision = '3c1a5e0d9b7f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('inbox_events', schema=None) as batch_op:
        batch_op.create_index('ix_inbox_events_waiting', ['status', 'source', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('inbox_events', schema=None) as batch_op:
        batch_op.drop_index('ix_inbox_events_waiting')
