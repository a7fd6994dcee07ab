"""inbox: one delivery per dedupe key

Revision ID: 9adc8dc5baf8
Revises: 6dd149855763
Create Date: 2026-11-21 19:22:49.924254

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9adc8dc5baf8'
down_revision = '6dd149855763'
branch_labels = None
depends_on = None


def upgrade():
    # Card clicks used to carry a repeating key; only workflow callbacks name one delivery each.
    op.execute("UPDATE inbox_events SET dedupe_key = NULL WHERE source <> 'hubspot_workflow'")
    with op.batch_alter_table('inbox_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbox_events_dedupe'))
        batch_op.create_unique_constraint(batch_op.f('uq_inbox_events_source_dedupe_key'), ['source', 'dedupe_key'])



def downgrade():
    with op.batch_alter_table('inbox_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_inbox_events_source_dedupe_key'), type_='unique')
        batch_op.create_index(batch_op.f('ix_inbox_events_dedupe'), ['source', 'dedupe_key'], unique=False)

